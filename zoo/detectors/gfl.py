"""Decoding of Generalized Focal Loss (GFL) box distributions, and in-graph non-maximum suppression.

GFL (Li et al., "Generalized Focal Loss: Learning Qualified and Distributed Bounding Boxes for
Dense Object Detection", NeurIPS 2020, https://arxiv.org/abs/2006.04388) predicts, at every anchor
point of a feature level, a discrete distribution over ``reg_max + 1`` distances for each side
of the box (left, top, right, bottom, in that order). The distance of a side is the expectation
of its distribution, ``sum_i softmax(logits)_i * i``, in units of the level's stride; the box is
``(cx - left, cy - top, cx + right, cy + bottom)`` around the anchor point ``(cx, cy)``. NanoDet
v0.x (``nanodet/model/head/gfl_head.py``: ``Integral``, ``distance2bbox``,
``get_single_level_center_point``) puts the anchor points at the cell centres, ``((j + 0.5) *
stride, (i + 0.5) * stride)``, in continuous input coordinates (pixel ``k`` covers ``[k, k + 1)``)
and clips the boxes to the input.

Everything here is TFLite builtin ops: SOFTMAX, MUL, SUM, ADD/SUB, CONCATENATION, MINIMUM/MAXIMUM
and NON_MAX_SUPPRESSION_V5 (``tf.raw_ops.NonMaxSuppressionV5`` with ``pad_to_max_output_size``;
``tf.image.non_max_suppression_padded`` and ``combined_non_max_suppression`` need Flex ops).
This is decoding only: the detector is not trained here, so there is no encoder.
"""

from __future__ import annotations

from typing import Sequence, Tuple

import keras
import numpy as np
from keras import ops


def anchor_points(input_size: int, strides: Sequence[int]) -> Tuple[np.ndarray, np.ndarray]:
    """``(centres (A, 2) x, y, strides (A,))`` of every anchor point, levels in ``strides`` order,
    each level row-major (``y`` outer, ``x`` inner): the order of the head's flattened outputs."""
    centres, level_strides = [], []
    for stride in strides:
        if input_size % stride:
            raise ValueError(f"input_size {input_size} is not a multiple of the stride {stride}")
        n = input_size // stride
        ys, xs = np.meshgrid((np.arange(n) + 0.5) * stride, (np.arange(n) + 0.5) * stride, indexing="ij")
        centres.append(np.stack([xs.ravel(), ys.ravel()], 1))
        level_strides.append(np.full(n * n, stride))
    return np.concatenate(centres).astype(np.float32), np.concatenate(level_strides).astype(np.float32)


def expected_distances(logits, reg_max: int):
    """``(..., 4)`` expected side distances in bins of ``(..., 4 * (reg_max + 1))`` logits
    (sides left, top, right, bottom; softmax over each side's ``reg_max + 1`` bins)."""
    shape = ops.shape(logits)
    bins = reg_max + 1
    grouped = ops.reshape(logits, (-1, 4, bins))
    probabilities = ops.softmax(grouped, axis=-1)
    project = ops.convert_to_tensor(np.arange(bins, dtype=np.float32))
    distances = ops.sum(probabilities * project, axis=-1)
    return ops.reshape(distances, (*shape[:-1], 4))


@keras.saving.register_keras_serializable(package="zoo")
class GFLBoxDecoder(keras.layers.Layer):
    """Box distributions ``(N, A, 4 * (reg_max + 1))`` -> boxes ``(N, A, 4)`` x1, y1, x2, y2 in
    continuous input pixels (the input's edges are 0 and ``input_size``), clipped to the input.

    Args:
        input_size: side of the square input.
        strides: the feature levels' strides, in the order the anchors are concatenated.
        reg_max: the largest distance bin (NanoDet-g: 10, NanoDet-m: 7).

    Example:
        >>> decoder = GFLBoxDecoder(416, (8, 16, 32), reg_max=10)
        >>> boxes = decoder(distributions)   # (1, 3549, 44) -> (1, 3549, 4)
    """

    def __init__(self, input_size: int, strides: Sequence[int] = (8, 16, 32), reg_max: int = 10, **kwargs):
        super().__init__(**kwargs)
        if int(reg_max) < 1:
            raise ValueError(f"reg_max must be >= 1, got {reg_max!r}")
        self.input_size, self.strides, self.reg_max = int(input_size), tuple(int(s) for s in strides), int(reg_max)
        self.centres, self.anchor_strides = anchor_points(self.input_size, self.strides)

    @property
    def num_anchors(self) -> int:
        return len(self.centres)

    def call(self, distributions):
        distances = expected_distances(distributions, self.reg_max) * self.anchor_strides[:, None]
        centres = ops.convert_to_tensor(self.centres)
        boxes = ops.concatenate([centres - distances[..., :2], centres + distances[..., 2:]], axis=-1)
        return ops.clip(boxes, 0.0, float(self.input_size))

    def get_config(self):
        return {**super().get_config(), "input_size": self.input_size, "strides": list(self.strides),
                "reg_max": self.reg_max}


@keras.saving.register_keras_serializable(package="zoo")
class BoxSelection(keras.layers.Layer):
    """Non-maximum suppression of one class inside the graph, a fixed number of slots out.

    ``(boxes (N, A, 4) x1, y1, x2, y2, scores (N, A))`` -> ``(boxes (N, M, 4), scores (N, M))``,
    ``M = max_boxes``, best first; a slot without a box has score 0 and box 0. Boxes whose score
    is below ``score_threshold`` are dropped; a box overlapping a better kept one by IoU above
    ``iou_threshold`` is suppressed (greedy, hard NMS: NanoDet's ``multiclass_nms`` with
    ``iou_threshold=0.6``). A batch of one (every TFLite export) is one NMS op; larger batches map
    it over the images.
    """

    def __init__(self, max_boxes: int = 32, iou_threshold: float = 0.6, score_threshold: float = 0.2, **kwargs):
        super().__init__(**kwargs)
        if int(max_boxes) < 1:
            raise ValueError(f"max_boxes must be >= 1, got {max_boxes!r}")
        if not 0.0 < float(iou_threshold) <= 1.0:
            raise ValueError(f"iou_threshold must be in (0, 1], got {iou_threshold!r}")
        if not 0.0 <= float(score_threshold) < 1.0:
            raise ValueError(f"score_threshold must be in [0, 1), got {score_threshold!r}")
        self.max_boxes, self.iou_threshold = int(max_boxes), float(iou_threshold)
        self.score_threshold = float(score_threshold)

    def _one(self, boxes, scores):
        import tensorflow as tf

        index, kept, count = tf.raw_ops.NonMaxSuppressionV5(
            boxes=boxes, scores=scores, max_output_size=self.max_boxes, iou_threshold=self.iou_threshold,
            score_threshold=self.score_threshold, soft_nms_sigma=0.0, pad_to_max_output_size=True)
        valid = tf.cast(tf.range(self.max_boxes) < count, boxes.dtype)
        return tf.gather(boxes, index) * valid[:, None], kept * valid

    def call(self, boxes, scores):
        import tensorflow as tf

        boxes, scores = tf.cast(boxes, tf.float32), tf.cast(scores, tf.float32)
        if boxes.shape[0] == 1:
            b, s = self._one(boxes[0], scores[0])
            return b[None], s[None]
        return tf.map_fn(lambda x: self._one(x[0], x[1]), (boxes, scores),
                         fn_output_signature=(tf.TensorSpec((self.max_boxes, 4), tf.float32),
                                              tf.TensorSpec((self.max_boxes,), tf.float32)))

    def get_config(self):
        return {**super().get_config(), "max_boxes": self.max_boxes, "iou_threshold": self.iou_threshold,
                "score_threshold": self.score_threshold}
