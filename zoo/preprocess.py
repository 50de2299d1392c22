"""The top-down crop of the evaluation protocol (docs/evaluation.md), in NumPy/OpenCV for inference.

Box = bounding box of the labelled joints; a square of side ``1.25 x max(width, height)`` centred
on the box centre; cropped with an affine warp (bilinear, zero padding) to the model input size.
Pixel ``i`` has its centre at coordinate ``i``; the square ``[c - side/2, c + side/2]`` maps onto
``[-0.5, size - 0.5]``. ``training.augment`` builds the same matrix in TF ops (a test checks they
agree).
"""

from __future__ import annotations

from typing import Tuple

import numpy as np

BOX_PADDING = 1.25


def joints_box(keypoints: np.ndarray, visible: np.ndarray) -> Tuple[np.ndarray, float]:
    """Centre ``(2,)`` and side of the padded square box around the labelled joints."""
    keypoints = np.asarray(keypoints, np.float64)
    labelled = np.asarray(visible) > 0
    if not labelled.any():
        raise ValueError("no labelled joint: the person box is undefined")
    pts = keypoints[labelled]
    lo, hi = pts.min(0), pts.max(0)
    side = BOX_PADDING * max(float((hi - lo).max()), 1.0)
    return (lo + hi) / 2.0, side


def crop_matrix(center, side: float, size: int, rotation_deg: float = 0.0, flip: bool = False) -> np.ndarray:
    """3x3 matrix mapping image pixels to crop pixels."""
    if side <= 0:
        raise ValueError(f"crop side must be > 0, got {side}")
    s = size / side
    a = np.deg2rad(rotation_deg)
    rot = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]]) * s
    m = np.eye(3)
    m[:2, :2] = rot
    m[:2, 2] = -rot @ np.asarray(center, np.float64) + (size - 1) / 2.0
    if flip:
        m = np.array([[-1.0, 0, size - 1], [0, 1, 0], [0, 0, 1]]) @ m
    return m


def warp(image: np.ndarray, matrix: np.ndarray, size: int) -> np.ndarray:
    """Applies ``matrix`` (image -> crop) with bilinear sampling and zero padding."""
    import cv2

    return cv2.warpAffine(np.ascontiguousarray(image), matrix[:2].astype(np.float64), (size, size),
                          flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0)


def transform_points(points: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """Applies a 3x3 affine matrix to ``(..., 2)`` points."""
    points = np.asarray(points, np.float64)
    return points @ matrix[:2, :2].T + matrix[:2, 2]


def crop_person(image: np.ndarray, center, side: float, size: int) -> Tuple[np.ndarray, np.ndarray]:
    """Crops the square ``(center, side)`` to ``size``; returns ``(crop, matrix image->crop)``."""
    m = crop_matrix(center, side, size)
    return warp(image, m, size), m


def to_image_coords(keypoints: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """Maps crop-pixel keypoints back to image pixels with the inverse of ``matrix``."""
    return transform_points(keypoints, np.linalg.inv(matrix))


def letterbox(image: np.ndarray, size: int) -> Tuple[np.ndarray, np.ndarray]:
    """Fits a whole image into a ``size`` square: the longer side scaled to ``size`` (area
    resampling when shrinking), centred, zero padding. The input of bottom-up models.

    Returns ``(boxed uint8 (size, size, 3), to_image (3, 3))``; ``to_image`` maps model-input
    pixels back to image pixels (pixel centres at integer coordinates on both sides).
    """
    import cv2

    image = np.asarray(image)
    h, w = image.shape[:2]
    scale = size / max(h, w)
    nw, nh = max(1, min(size, int(round(w * scale)))), max(1, min(size, int(round(h * scale))))
    interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    resized = cv2.resize(np.ascontiguousarray(image), (nw, nh), interpolation=interpolation)
    left, top = (size - nw) // 2, (size - nh) // 2
    boxed = np.zeros((size, size, 3), np.uint8)
    boxed[top:top + nh, left:left + nw] = resized
    sx, sy = nw / w, nh / h
    # input x_in = sx * (x + 0.5) - 0.5 + left  <=>  x = (x_in - left + 0.5) / sx - 0.5
    to_image = np.array([[1 / sx, 0, (0.5 - left) / sx - 0.5],
                         [0, 1 / sy, (0.5 - top) / sy - 0.5],
                         [0, 0, 1]], np.float64)
    return boxed, to_image


def people_to_image(people: np.ndarray, scores: np.ndarray, to_image: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """The people a bottom-up model found in one letterboxed input, in image pixels.

    ``people (P, K, 3)`` (x, y in input pixels, joint score), ``scores (P,)`` (0: empty slot),
    ``to_image``: ``letterbox``'s matrix. Returns only the slots with a person, ``(people (P', K,
    3), scores (P',))``; a joint a person lacks (score 0) gets x = y = 0.
    """
    keep = scores > 0
    people, scores = people[keep], scores[keep]
    xy = people[..., :2] @ to_image[:2, :2].T + to_image[:2, 2]
    people = np.concatenate([np.where(people[..., 2:] > 0, xy, 0.0), people[..., 2:]], -1)
    return people.astype(np.float32), scores.astype(np.float32)
