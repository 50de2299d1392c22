"""Losses with intermediate supervision."""

from __future__ import annotations

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="training")
def intermediate_heatmap_mse(y_true, y_pred):
    """MSE between target heatmaps and *every* stage's prediction, per sample and joint.

    ``y_true (B, H, W, K)``, ``y_pred (B, stages, H, W, K)`` -> ``(B, K)``: mean over pixels,
    summed over stages (Newell et al. 2016, Sec. 3.4: the same loss on every stack). Passed with
    ``sample_weight (B, K)`` (0 for unlabelled joints), Keras averages over the batch and joints.
    """
    y_pred = ops.cast(y_pred, "float32")
    err = ops.square(y_pred - ops.expand_dims(ops.cast(y_true, "float32"), 1))
    return ops.sum(ops.mean(err, axis=(2, 3)), axis=1)
