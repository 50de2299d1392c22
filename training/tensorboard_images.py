"""The TensorBoard image toolkit: captioned grids of tiles scaled up to be readable, skeleton and
heatmap tiles (drawn by ``zoo.visualize``), and the validation crops they are made of."""

from __future__ import annotations

from typing import Optional, Sequence, Tuple

import numpy as np

from training.datasets.base import PoseSamples
from zoo.visualize import draw_truth_and_prediction, heatmap_overlay, upscale

#: Side of one tile of the TensorBoard image grids (crops are scaled up to it: TensorBoard shows
#: images at their own size, and a 32-128 px crop is too small to read).
TILE = 256
#: Height of the caption bar above each tile (at least: a wide grid has larger captions).
CAPTION = 26
#: Captions' text height as a share of the grid's width: TensorBoard fits an image into a card of
#: about 400 pixels, so a grid several tiles wide is shown at a third of its size or less.
CAPTION_SHARE = 1 / 40
#: Colours of the images: ground truth green, prediction red (RGB).
TRUTH, PREDICTION = (0, 255, 0), (255, 0, 0)


def _caption_lines(text: str, width: int, text_height: float):
    """``text`` wrapped into lines that fit ``width`` pixels at ``text_height``; ``(lines, font
    scale, thickness)`` (the scale shrinks only if one word is wider than the tile)."""
    import cv2

    font = cv2.FONT_HERSHEY_SIMPLEX
    scale = text_height / cv2.getTextSize("0", font, 1.0, 1)[0][1]
    thickness = max(1, int(round(scale * 1.5)))
    fits = lambda t, s: cv2.getTextSize(t, font, s, thickness)[0][0] <= width - 8  # noqa: E731
    words = text.split() or [""]
    while scale > 0.3 and not all(fits(w, scale) for w in words):
        scale *= 0.9
    lines = [words[0]]
    for word in words[1:]:
        if fits(f"{lines[-1]} {word}", scale):
            lines[-1] += f" {word}"
        else:
            lines.append(word)
    return lines, scale, thickness


def caption(image: np.ndarray, text: str, text_height: float = 12.0, bar: int = CAPTION) -> np.ndarray:
    """``image`` with ``text`` on a dark bar above it: ``text_height`` pixels tall letters,
    wrapped to the image's width, the bar ``bar`` pixels tall or more."""
    import cv2

    h, w = image.shape[:2]
    lines, scale, thickness = _caption_lines(text, w, text_height)
    line = int(round(1.6 * text_height))
    out = np.full((max(bar, caption_height(len(lines), text_height)), w, 3), 32, np.uint8)
    for i, t in enumerate(lines):
        cv2.putText(out, t, (4, int(round(4 + text_height + i * line))), cv2.FONT_HERSHEY_SIMPLEX, scale,
                    (255, 255, 255), thickness, cv2.LINE_AA)
    return np.concatenate([out, np.asarray(image, np.uint8)], axis=0)


def caption_height(lines: int, text_height: float) -> int:
    """Height of a caption bar of ``lines`` lines of ``text_height`` pixels."""
    return max(CAPTION, int(round(1.6 * text_height * lines + 0.6 * text_height + 4)))


def image_grid(rows: Sequence[Sequence[Tuple[str, np.ndarray]]], gap: int = 4) -> np.ndarray:
    """One image ``(1, H, W, 3)`` uint8 of captioned tiles: ``rows`` of ``(caption, RGB image)``,
    every image scaled to ``TILE`` pixels wide (shorter rows padded), grey gaps between tiles.
    The captions' letters are ``CAPTION_SHARE`` of the grid's width tall (12 px at least), so
    they stay readable where TensorBoard shrinks a wide grid to its card."""
    rows = [[(text, upscale(img, TILE)[0]) for text, img in row] for row in rows]
    cols = max(len(row) for row in rows)
    w = max(t.shape[1] for row in rows for _, t in row)
    text_height = max(12.0, CAPTION_SHARE * (cols * (w + gap) - gap))
    lines = max(len(_caption_lines(text, t.shape[1], text_height)[0]) for row in rows for text, t in row)
    bar = caption_height(lines, text_height)
    rows = [[caption(t, text, text_height, bar) for text, t in row] for row in rows]
    h = max(t.shape[0] for row in rows for t in row)
    grid = np.full((len(rows) * (h + gap) - gap, cols * (w + gap) - gap, 3), 128, np.uint8)
    for r, row in enumerate(rows):
        for c, t in enumerate(row):
            grid[r * (h + gap):r * (h + gap) + t.shape[0], c * (w + gap):c * (w + gap) + t.shape[1]] = t
    return grid[None]


def skeletons_tile(image, truth, prediction, skeleton) -> np.ndarray:
    """The image scaled up to a tile, ground truth (``(M, K, 2)`` or ``(K, 2)``, NaN where not
    labelled) in green and the prediction (same, NaN where not found) in red, in its pixels."""
    tile, factor = upscale(image, TILE)
    return draw_truth_and_prediction(tile, truth, prediction, skeleton, TRUTH, PREDICTION, scale=factor)


def overlay_tile(image, maps) -> np.ndarray:
    """The image scaled up to a tile with the maximum of ``maps (h, w, C)`` over channels as a
    colour overlay."""
    return heatmap_overlay(upscale(image, TILE)[0], np.asarray(maps))


def first_crops(samples: PoseSamples, input_size: int, count: int):
    """The first ``count`` validation samples and their protocol-crop batch (images shown in
    TensorBoard)."""
    from training.pipeline import evaluation_dataset

    sub = samples.subset(np.arange(min(count, len(samples))))
    return sub, next(iter(evaluation_dataset(sub, input_size, count)))


def stage_overlays(images, maps, channels, labels: Optional[Sequence[str]] = None) -> list:
    """Per crop, the crop then every stage's ``maps[..., channels]`` (max over them) overlaid, as
    captioned tiles ``(caption, image)`` (``labels``: one caption per stage, default "stage s").

    ``images (N, S, S, 3)``, ``maps (N, stages, H, W, C)``; returns one list of tiles per crop."""
    labels = labels or [f"stage {s + 1}" for s in range(maps.shape[1])]
    rows = []
    for i in range(len(maps)):
        crop = np.clip(np.asarray(images[i]), 0, 255).astype(np.uint8)
        rows.append([("crop", crop)] + [(labels[s], overlay_tile(crop, maps[i, s][..., channels]))
                                         for s in range(maps.shape[1])])
    return rows
