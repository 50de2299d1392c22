"""Top-down crop and augmentation in core TF ops (runs inside ``tf.data``).

The crop is the evaluation protocol's (see ``zoo.preprocess``); training adds a random scale
(+-25 %), rotation (+-30 deg), horizontal flip with left/right joint swap and colour jitter, as in
Newell et al. 2016 (Sec. 5). The warp is ``ImageProjectiveTransformV3`` (bilinear, zero fill).
"""

from __future__ import annotations

import dataclasses
import math

import tensorflow as tf

from zoo.preprocess import BOX_PADDING


@dataclasses.dataclass(frozen=True)
class AugmentConfig:
    """Random augmentation ranges.

    Args:
        scale: the crop side is multiplied by a factor in ``[1 - scale, 1 + scale]``.
        rotation_deg: rotation drawn in ``[-rotation_deg, rotation_deg]``.
        flip_prob: probability of a horizontal flip (joints swapped left/right).
        colour: strength of brightness / contrast / saturation jitter (0 disables).
    """

    scale: float = 0.25
    rotation_deg: float = 30.0
    flip_prob: float = 0.5
    colour: float = 0.2


def joints_box_tf(keypoints, visible):
    """TF version of ``zoo.preprocess.joints_box``: centre ``(2,)`` and side."""
    labelled = visible > 0
    pts = tf.boolean_mask(keypoints, labelled)
    lo, hi = tf.reduce_min(pts, 0), tf.reduce_max(pts, 0)
    side = BOX_PADDING * tf.maximum(tf.reduce_max(hi - lo), 1.0)
    return (lo + hi) / 2.0, side


def detector_box_tf(box):
    """TF version of ``zoo.people``'s crop of a detector box ``x1, y1, x2, y2`` (edge convention):
    centre (in pixel-centre coordinates) and side ``BOX_PADDING`` x its longer side."""
    box = tf.cast(box, tf.float32)
    side = BOX_PADDING * tf.maximum(tf.reduce_max(box[2:] - box[:2]), 1.0)
    return (box[:2] + box[2:]) / 2.0 - 0.5, side


def crop_matrix_tf(center, side, size: int, rotation_deg=0.0, flip=False):
    """TF version of ``zoo.preprocess.crop_matrix`` (image -> crop, 3x3)."""
    s = tf.cast(size, tf.float32) / side
    a = tf.cast(rotation_deg, tf.float32) * (math.pi / 180.0)
    c, sn = tf.cos(a) * s, tf.sin(a) * s
    tx = -(c * center[0] - sn * center[1]) + (size - 1) / 2.0
    ty = -(sn * center[0] + c * center[1]) + (size - 1) / 2.0
    m = tf.stack([tf.stack([c, -sn, tx]), tf.stack([sn, c, ty]), tf.constant([0.0, 0.0, 1.0])])
    flip_m = tf.constant([[-1.0, 0.0, size - 1.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
    return tf.cond(tf.cast(flip, tf.bool), lambda: flip_m @ m, lambda: m)


def warp_tf(image, matrix, size: int, fill_value: float = 0.0):
    """Warps a float ``(H, W, C)`` image with ``matrix`` (image -> crop) to ``(size, size, C)``,
    ``fill_value`` outside the image."""
    inv = tf.linalg.inv(matrix)
    transform = tf.reshape(inv, [9])[:8] / inv[2, 2]
    out = tf.raw_ops.ImageProjectiveTransformV3(
        images=image[None], transforms=transform[None], output_shape=tf.constant([size, size]),
        fill_value=fill_value, interpolation="BILINEAR", fill_mode="CONSTANT")
    return tf.reshape(out[0], [size, size, image.shape[-1]])


def transform_points_tf(points, matrix):
    return points @ tf.transpose(matrix[:2, :2]) + matrix[:2, 2]


def colour_jitter(image, strength: float):
    """Brightness, contrast and saturation jitter on a ``[0, 255]`` float image."""
    x = image / 255.0
    x = x * tf.random.uniform([], 1.0 - strength, 1.0 + strength)
    mean = tf.reduce_mean(x)
    x = (x - mean) * tf.random.uniform([], 1.0 - strength, 1.0 + strength) + mean
    grey = tf.reduce_mean(x, axis=-1, keepdims=True)
    x = (x - grey) * tf.random.uniform([], 1.0 - strength, 1.0 + strength) + grey
    return tf.clip_by_value(x, 0.0, 1.0) * 255.0


def crop_sample(image, keypoints, visible, size: int, flip_index, augment: AugmentConfig = None, box=None):
    """Crops one sample (and augments it when ``augment`` is given): around ``box`` (x1, y1, x2,
    y2, ``detector_box_tf``) when it is given and not empty, else around the labelled joints.

    Returns ``(crop float32 (size, size, 3), keypoints in crop pixels (K, 2), visible (K,),
    matrix (3, 3) image -> crop)``.
    """
    image = tf.cast(image, tf.float32)
    keypoints = tf.cast(keypoints, tf.float32)
    visible = tf.cast(visible, tf.float32)
    if box is None:
        center, side = joints_box_tf(keypoints, visible)
    else:
        # Both are computed; a sample without a labelled joint has no joints box (inf), but its
        # crop box is never empty (training.box_people), so the inf is never selected.
        use_box = tf.reduce_all(box[2:] > box[:2])
        box_center, box_side = detector_box_tf(box)
        joints_center, joints_side = joints_box_tf(keypoints, visible)
        center = tf.where(use_box, box_center, joints_center)
        side = tf.where(use_box, box_side, joints_side)
    rotation, flip = 0.0, False
    if augment is not None:
        side = side * tf.random.uniform([], 1.0 - augment.scale, 1.0 + augment.scale)
        rotation = tf.random.uniform([], -augment.rotation_deg, augment.rotation_deg)
        flip = tf.random.uniform([]) < augment.flip_prob
    matrix = crop_matrix_tf(center, side, size, rotation, flip)
    crop = warp_tf(image, matrix, size)
    points = transform_points_tf(keypoints, matrix)
    if augment is not None:
        index = tf.constant(flip_index, tf.int32)
        points = tf.cond(flip, lambda: tf.gather(points, index), lambda: points)
        visible = tf.cond(flip, lambda: tf.gather(visible, index), lambda: visible)
        if augment.colour > 0:
            crop = colour_jitter(crop, augment.colour)
    return crop, points, visible, matrix
