"""Drawing skeletons and heatmaps, for the main job, the predict command, TensorBoard's images
(``training.tensorboard_images``) and the failure reports (``training.failures``)."""

from __future__ import annotations

import numpy as np

from zoo.skeletons import Skeleton

#: One base colour per person (RGB; Trubetskoy's "20 distinct colours", the ten most distinct):
#: person ``i`` of a multi-person drawing gets ``PERSON_COLOURS[i % 10]``.
PERSON_COLOURS = ((230, 25, 75), (60, 180, 75), (0, 130, 200), (245, 130, 48), (145, 30, 180),
                  (70, 240, 240), (240, 50, 230), (210, 245, 60), (0, 128, 128), (170, 110, 40))


def person_colours(person: int) -> dict:
    """The colours of person ``person`` (0-based): ``{"left", "right", "centre"}``, RGB. The
    person's hue for all three, so whose limbs are whose stays clear where people overlap; left
    limbs a light shade of it, right limbs a dark one, the centre line the hue itself."""
    base = np.asarray(PERSON_COLOURS[int(person) % len(PERSON_COLOURS)], np.float64)
    shade = lambda c: tuple(int(round(v)) for v in c)  # noqa: E731
    return {"left": shade(base + 0.55 * (255 - base)), "right": shade(0.5 * base), "centre": shade(base)}


def _side(limb) -> str:
    a, b = limb
    if a.startswith("left_") or b.startswith("left_"):
        return "left"
    if a.startswith("right_") or b.startswith("right_"):
        return "right"
    return "centre"


def draw_skeleton(image: np.ndarray, keypoints: np.ndarray, skeleton: Skeleton, scores=None,
                  threshold: float = 0.0, colour=None, thickness: int = 2, person=None) -> np.ndarray:
    """Returns a copy of the RGB ``image`` with limbs and joints drawn.

    ``keypoints (K, 2)`` in image pixels; joints with ``scores < threshold`` (or NaN) are not drawn.
    Colours: ``colour`` forces one RGB colour; ``person`` (an index: one of several people) draws in
    that person's colours (``person_colours``: their own hue, left light, right dark, joints the
    hue ringed in white); default: left orange, right blue, centre green, white joints.
    """
    import cv2

    out = np.ascontiguousarray(image.copy())
    ok = np.ones(len(keypoints), bool) if scores is None else np.asarray(scores) >= threshold
    ok &= np.all(np.isfinite(keypoints), axis=-1)
    own = person_colours(person) if person is not None and colour is None else None
    for (a, b), limb in zip(skeleton.limb_index, skeleton.limbs):
        if ok[a] and ok[b]:
            c = colour or (own[_side(limb)] if own else skeleton.limb_colour(limb))
            pa = tuple(int(round(v)) for v in keypoints[a])
            pb = tuple(int(round(v)) for v in keypoints[b])
            cv2.line(out, pa, pb, c, thickness, cv2.LINE_AA)
    for j, p in enumerate(keypoints):
        if ok[j]:
            centre = tuple(int(round(v)) for v in p)
            if own:
                cv2.circle(out, centre, thickness + 2, (255, 255, 255), -1, cv2.LINE_AA)
                cv2.circle(out, centre, thickness + 1, own["centre"], -1, cv2.LINE_AA)
            else:
                cv2.circle(out, centre, thickness + 1, colour or (255, 255, 255), -1, cv2.LINE_AA)
    return out


def draw_truth_and_prediction(image: np.ndarray, truth, prediction, skeleton: Skeleton, truth_colour=(0, 255, 0),
                              prediction_colour=(255, 0, 0), truth_thickness: int = 3, prediction_thickness: int = 2,
                              scale: float = 1.0) -> np.ndarray:
    """A copy of the RGB ``image`` with the ground truth drawn first, then the prediction over it.

    ``truth``, ``prediction``: ``(K, 2)`` or ``(M, K, 2)`` in the pixels of the image before it was
    scaled by ``scale`` (``upscale``), NaN where a joint is not labelled or not found.
    ``prediction_colour=None``: the skeleton's own colours."""
    out = np.array(image)
    for people, colour, thickness in ((truth, truth_colour, truth_thickness),
                                      (prediction, prediction_colour, prediction_thickness)):
        people = np.asarray(people, np.float64)
        for person in people.reshape(-1, *people.shape[-2:]):
            if np.isfinite(person).any():
                points = person if scale == 1 else scale_points(person, scale)
                out = draw_skeleton(out, points, skeleton, colour=colour, thickness=thickness)
    return out


def scale_points(points, factor: float) -> np.ndarray:
    """Pixel coordinates of an image scaled by ``factor`` (pixel centres kept)."""
    return (np.asarray(points, np.float64) + 0.5) * factor - 0.5


def upscale(image, size: int) -> tuple:
    """``(image scaled to size pixels wide (at least its own width), the factor)``; uint8 RGB."""
    import cv2

    image = np.clip(np.asarray(image), 0, 255).astype(np.uint8)
    factor = max(size, image.shape[1]) / image.shape[1]
    if factor == 1:
        return image, 1.0
    out = cv2.resize(image, (int(round(image.shape[1] * factor)), int(round(image.shape[0] * factor))),
                     interpolation=cv2.INTER_LINEAR)
    return out, factor


def heatmap_overlay(image: np.ndarray, heatmaps: np.ndarray) -> np.ndarray:
    """Overlays the per-pixel maximum over joints of ``heatmaps (h, w, K)`` on the RGB image."""
    import cv2

    m = np.clip(np.max(heatmaps, axis=-1), 0, 1)
    m = cv2.resize(m.astype(np.float32), (image.shape[1], image.shape[0]), interpolation=cv2.INTER_LINEAR)
    colour = cv2.applyColorMap((m * 255).astype(np.uint8), cv2.COLORMAP_JET)[..., ::-1]
    return (0.5 * image.astype(np.float32) + 0.5 * colour).astype(np.uint8)


def colour_map(values: np.ndarray, size: int = 128, label: str = "", cross: bool = True) -> np.ndarray:
    """A 2D array as an RGB image (JET, scaled to its own maximum), ``size`` pixels wide, with
    an optional caption and a cross at the centre (e.g. a pairwise kernel's zero displacement)."""
    import cv2

    v = np.asarray(values, np.float32)
    v = v / max(float(v.max()), 1e-12)
    img = cv2.applyColorMap((np.clip(v, 0, 1) * 255).astype(np.uint8), cv2.COLORMAP_JET)[..., ::-1]
    img = np.ascontiguousarray(cv2.resize(img, (size, size), interpolation=cv2.INTER_NEAREST))
    if cross:
        c = size // 2
        cv2.line(img, (c - 4, c), (c + 4, c), (255, 255, 255), 1)
        cv2.line(img, (c, c - 4), (c, c + 4), (255, 255, 255), 1)
    if label:
        cv2.putText(img, label, (3, 11), cv2.FONT_HERSHEY_SIMPLEX, 0.33, (255, 255, 255), 1, cv2.LINE_AA)
    return img
