"""Several people in a photo with a single-person model: detect, crop, pose (top-down).

The approach of Mask R-CNN / SimpleBaseline / MMPose's top-down models: a person detector
(``zoo.detectors``) finds the boxes; each box becomes a square crop (``BOX_PADDING`` x its
longer side, centred, the padding the evaluation protocol gives a joint box); all crops go
through the pose model in one batch; keypoints go back to image pixels. With ``refine``, a
person whose confident joints reach outside its box (a box that cut off the legs) is cropped
again around the box and those joints together and predicted once more. The box is never shrunk
to the joints: a model that found only the head of a half-visible person would zoom onto it.

The same function serves the Keras model and the phone's path (the detector's and the pose
model's exported files, run one after the other): it only needs the boxes and a
``predict(crops) -> (keypoints in crop pixels, scores)``.
"""

from __future__ import annotations

from typing import Callable, Tuple

import numpy as np

from zoo.preprocess import BOX_PADDING, crop_matrix, to_image_coords, warp

#: Joints scored at least this high define the refined crop.
REFINE_MIN_SCORE = 0.3
#: A person is cropped again only when the box around its box and joints is this much larger.
REFINE_GROWTH = 1.1


def box_crops(image: np.ndarray, centres: np.ndarray, sides: np.ndarray, size: int):
    """uint8 crops ``(P, size, size, 3)`` of the squares ``(centre, side)`` and their matrices."""
    matrices = np.stack([crop_matrix(c, s, size) for c, s in zip(centres, sides)]) if len(centres) else \
        np.zeros((0, 3, 3))
    crops = np.stack([warp(image, m, size) for m in matrices]) if len(matrices) else \
        np.zeros((0, size, size, 3), np.uint8)
    return np.clip(np.round(crops), 0, 255).astype(np.uint8), matrices


def _pose(image, centres, sides, predict, size):
    crops, matrices = box_crops(image, centres, sides, size)
    keypoints, scores = predict(crops)
    keypoints = np.stack([to_image_coords(k, m) for k, m in zip(np.asarray(keypoints), matrices)])
    return keypoints.astype(np.float32), np.asarray(scores, np.float32)


def top_down_people(image: np.ndarray, boxes: np.ndarray, box_scores: np.ndarray,
                    predict: Callable[[np.ndarray], Tuple[np.ndarray, np.ndarray]], input_size: int,
                    refine: bool = True) -> Tuple[np.ndarray, np.ndarray]:
    """Poses of the people in ``boxes`` (``(P, 4)`` x1, y1, x2, y2 image pixels, edge convention,
    as ``zoo.detectors.person_boxes`` returns them).

    Returns ``(people (P, K, 3) x, y in image pixels and joint score, person scores (P,))``, best
    first; a person's score is its box score times its mean joint score (MMPose's rescoring).
    """
    boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
    box_scores = np.asarray(box_scores, np.float64).reshape(-1)
    if len(boxes) == 0:
        return np.zeros((0, 0, 3), np.float32), np.zeros((0,), np.float32)
    # Edge convention -> pixel centres at integer coordinates (crop_matrix's convention).
    centres = (boxes[:, :2] + boxes[:, 2:]) / 2.0 - 0.5
    sides = BOX_PADDING * np.maximum((boxes[:, 2:] - boxes[:, :2]).max(1), 1.0)
    keypoints, scores = _pose(image, centres, sides, predict, input_size)
    if refine:
        grown = []
        for i in range(len(boxes)):
            pts = keypoints[i][scores[i] >= REFINE_MIN_SCORE]
            lo = np.minimum(boxes[i, :2] - 0.5, pts.min(0) if len(pts) else np.inf)
            hi = np.maximum(boxes[i, 2:] - 0.5, pts.max(0) if len(pts) else -np.inf)
            side = BOX_PADDING * max(float((hi - lo).max()), 1.0)
            if side > REFINE_GROWTH * sides[i]:
                centres[i], sides[i] = (lo + hi) / 2.0, side
                grown.append(i)
        if grown:
            keypoints[grown], scores[grown] = _pose(image, centres[grown], sides[grown], predict, input_size)
    people = np.concatenate([keypoints, scores[..., None]], axis=-1)
    person_scores = (box_scores * scores.mean(1)).astype(np.float32)
    order = np.argsort(-person_scores, kind="stable")
    return people[order], person_scores[order]
