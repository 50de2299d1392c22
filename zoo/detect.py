"""Finding the person to crop in a photo, for single-person (top-down) models.

Candidates are OpenCV's HOG pedestrian detections (Dalal & Triggs, CVPR 2005; ships inside
OpenCV, no download) plus a coarse grid of square windows at several scales. The pose model
itself scores every candidate (mean joint confidence), and the best one is refined twice with the
protocol box of its own confident keypoints (1.25 x their extent), the way top-down pipelines
re-centre on a previous pose. With one person in the photo this finds them without a separate
detector network.
"""

from __future__ import annotations

import dataclasses
from typing import List, Optional

import numpy as np

from zoo.preprocess import BOX_PADDING, crop_matrix, transform_points, warp


@dataclasses.dataclass(frozen=True)
class PersonBox:
    """A square crop around a person: centre (x, y) and side in image pixels, and a score."""

    center: tuple
    side: float
    score: float
    source: str  # "hog", "grid" or "refined"


def hog_boxes(image: np.ndarray, max_side: int = 640) -> List[PersonBox]:
    """HOG pedestrian detections as squares (the 64x128 window's height holds the person with
    margins, about the protocol's 1.25 x the person's extent)."""
    import cv2

    h, w = image.shape[:2]
    scale = min(1.0, max_side / max(h, w))
    small = cv2.resize(image, (int(round(w * scale)), int(round(h * scale)))) if scale < 1 else image
    hog = cv2.HOGDescriptor()
    hog.setSVMDetector(cv2.HOGDescriptor_getDefaultPeopleDetector())
    rects, weights = hog.detectMultiScale(cv2.cvtColor(small, cv2.COLOR_RGB2GRAY), winStride=(8, 8),
                                          padding=(16, 16), scale=1.05)
    out = []
    for (x, y, bw, bh), wt in zip(rects, np.asarray(weights).reshape(-1)):
        x, y, bw, bh = (float(v) / scale for v in (x, y, bw, bh))
        out.append(PersonBox((x + bw / 2, y + bh / 2), max(bw, bh), float(wt), "hog"))
    return out


def grid_boxes(image: np.ndarray, fractions=(1.0, 0.75, 0.5, 0.35)) -> List[PersonBox]:
    """Square windows whose side is a fraction of the image height, on a grid with a step of a quarter side."""
    h, w = image.shape[:2]
    out = []
    for f in fractions:
        side = f * max(h, w) if f == 1.0 else f * h
        step = side / 4
        ys = np.arange(side / 2, max(h - side / 2, side / 2) + 1, step)
        xs = np.arange(side / 2, max(w - side / 2, side / 2) + 1, step)
        for cy in ys:
            for cx in xs:
                out.append(PersonBox((float(cx), float(cy)), float(side), 0.0, "grid"))
    return out


def _crops(image, boxes, size):
    mats = [crop_matrix(b.center, b.side, size) for b in boxes]
    return np.stack([warp(image, m, size) for m in mats]), mats


def pose_box(points: np.ndarray, scores: np.ndarray, min_score: float, source: str) -> Optional[PersonBox]:
    """The protocol box (``BOX_PADDING`` x the longer side) of a pose's confident joints, in
    the pose's own coordinates; None with fewer than 4 joints at ``min_score``."""
    ok = scores >= min_score
    if ok.sum() < 4:
        return None
    lo, hi = points[ok].min(0), points[ok].max(0)
    return PersonBox(tuple(float(v) for v in (lo + hi) / 2), float(BOX_PADDING * max((hi - lo).max(), 1.0)),
                     float(scores.mean()), source)


def find_person(image: np.ndarray, model, min_score: float = 0.2, refinements: int = 2) -> PersonBox:
    """The square box of the most confident person in an RGB image, scored by ``model``."""
    size = model.input_size
    candidates = hog_boxes(image) + grid_boxes(image)
    crops, _ = _crops(image, candidates, size)
    _, scores = model.predict_keypoints(crops)
    best = int(np.argmax(scores.mean(1)))
    box = dataclasses.replace(candidates[best], score=float(scores[best].mean()))
    for _ in range(refinements):
        crop, mats = _crops(image, [box], size)
        kps, sc = model.predict_keypoints(crop)
        refined = pose_box(transform_points(kps[0], np.linalg.inv(mats[0])), sc[0], min_score, "refined")
        if refined is None:
            break
        box = refined
    return box
