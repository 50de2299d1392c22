"""Losses with intermediate supervision (every stage of a multi-stage model gets the loss)."""

from __future__ import annotations

from typing import Callable, Mapping, Optional

import keras
from keras import ops

from zoo.codecs.heatmap import HeatmapCodec
from zoo.codecs.regression import RegressionCodec


def _heatmap_errors(y_true, y_pred):
    """Per-stage squared errors ``(B, stages, K)``: mean over pixels.

    With one extra predicted channel (CPM's background belief map), its target is
    ``1 - max over joints`` (Wei et al. 2016, as in the authors' code) and its error is added to
    every joint's column, so the batch mean over labelled joints carries it once per sample.
    """
    y_pred = ops.cast(y_pred, "float32")
    y_true = ops.cast(y_true, "float32")
    k = y_true.shape[-1]
    if y_pred.shape[-1] not in (k, k + 1):
        raise ValueError(f"predicted maps have {y_pred.shape[-1]} channels for {k} joints")
    err = ops.mean(ops.square(y_pred[..., :k] - ops.expand_dims(y_true, 1)), axis=(2, 3))
    if y_pred.shape[-1] == k + 1:
        background = 1.0 - ops.max(y_true, axis=-1)
        bg = ops.mean(ops.square(y_pred[..., k] - ops.expand_dims(background, 1)), axis=(2, 3))
        err = err + bg[..., None]
    return err


@keras.saving.register_keras_serializable(package="training")
def intermediate_heatmap_mse(y_true, y_pred):
    """MSE between target heatmaps and *every* stage's prediction, per sample and joint.

    ``y_true (B, H, W, K)``, ``y_pred (B, stages, H, W, K[+1])`` -> ``(B, K)``: mean over pixels,
    summed over stages (Newell et al. 2016, Sec. 3.4; Wei et al. 2016, Sec. 3.3). Passed with
    ``sample_weight (B, K)`` (0 for unlabelled joints), Keras averages over the batch and joints.
    """
    return ops.sum(_heatmap_errors(y_true, y_pred), axis=1)


@keras.saving.register_keras_serializable(package="training")
def intermediate_regression_mse(y_true, y_pred):
    """Squared L2 error of box-normalised joints for every stage (Toshev & Szegedy 2014, Eq. 3).

    ``y_true (B, K, 2)``, ``y_pred (B, stages, K, 2)`` -> ``(B, K)`` summed over stages; with
    ``sample_weight (B, K)`` Keras averages over labelled joints.
    """
    y_pred = ops.cast(y_pred, "float32")
    err = ops.sum(ops.square(y_pred - ops.expand_dims(ops.cast(y_true, "float32"), 1)), axis=-1)
    return ops.sum(err, axis=1)


@keras.saving.register_keras_serializable(package="training")
def intermediate_regression_l1(y_true, y_pred):
    """Absolute (L1) error of box-normalised joints for every stage, summed over x and y.

    The L1 alternative to DeepPose's L2 (Eq. 3): its minimiser is the conditional median rather
    than the mean, so ambiguous examples pull the regressor less toward the mean pose, and its
    gradient does not fade near the target (Sun et al., Compositional Human Pose Regression,
    ICCV 2017). Shapes as ``intermediate_regression_mse``.
    """
    y_pred = ops.cast(y_pred, "float32")
    err = ops.sum(ops.abs(y_pred - ops.expand_dims(ops.cast(y_true, "float32"), 1)), axis=-1)
    return ops.sum(err, axis=1)


@keras.saving.register_keras_serializable(package="training")
def marginal_nll(y_true, y_pred):
    """Negative log-likelihood of the true joint position under the last stage's maps read as a
    distribution over cells (normalised to sum 1), the target heatmap normalised likewise: the
    objective of a spatial model whose output is a normalised marginal (Tompson et al. 2014).

    ``y_pred (B, stages, H, W, K)`` (maps >= 0, e.g. marginals rescaled to peak 1) -> ``(B, K)``.
    Maximum likelihood rewards mass at the truth and punishes confident mistakes; MSE on maps
    rescaled to peak 1 rewards sharp maps wherever they are.
    """
    y_pred = ops.cast(y_pred[:, -1], "float32")
    y_true = ops.cast(y_true, "float32")
    log_q = ops.log(ops.maximum(y_pred, 1e-30))
    log_q = log_q - ops.logsumexp(log_q, axis=(1, 2), keepdims=True)
    target = y_true / ops.maximum(ops.sum(y_true, axis=(1, 2), keepdims=True), 1e-12)
    return -ops.sum(target * log_q, axis=(1, 2))


def _masked_stage_errors(y_true, y_pred):
    """Per-stage masked squared errors ``(B, stages)``: mean over cells and channels.

    ``y_true (B, H, W, C + 1)`` holds the targets and, as its last channel, the loss mask (0 on
    regions with unlabelled people, e.g. COCO crowds); or ``(B, H, W, 2C)``: the targets and one
    mask per channel (also 0 for a part the dataset does not label, e.g. COCO's missing head
    top). ``y_pred (B, stages, H, W, C)``.
    """
    y_pred = ops.cast(y_pred, "float32")
    y_true = ops.cast(y_true, "float32")
    c = y_pred.shape[-1]
    if y_true.shape[-1] not in (c + 1, 2 * c):
        raise ValueError(f"targets need {c} channels plus one mask channel or {c} mask channels, "
                         f"got {y_true.shape[-1]} for {c} predicted")
    target, mask = y_true[..., :c], y_true[..., c:]
    err = ops.square(y_pred - ops.expand_dims(target, 1)) * ops.expand_dims(mask, 1)
    return ops.mean(err, axis=(2, 3, 4))


@keras.saving.register_keras_serializable(package="training")
def masked_stage_mse(y_true, y_pred):
    """Masked L2 loss of every stage's confidence maps or part affinity fields, summed over stages
    (Cao et al. 2019, Eq. 3-5: the mask W(p) removes unlabelled people). ``(B,)``."""
    return ops.sum(_masked_stage_errors(y_true, y_pred), axis=1)


def masked_stage_metrics(output: str, num_stages: int):
    """One loss metric per stage of one output (Keras names it ``pafs_stage1_loss``, ...)."""
    def make(stage):
        def fn(y_true, y_pred):
            return _masked_stage_errors(y_true, y_pred)[:, stage]
        fn.__name__ = f"stage{stage + 1}_loss"
        return fn
    return [make(s) for s in range(num_stages)]


LOSSES = {"heatmap_mse": intermediate_heatmap_mse, "regression_mse": intermediate_regression_mse,
          "regression_l1": intermediate_regression_l1,
          "marginal_nll": marginal_nll, "masked_stage_mse": masked_stage_mse}


def _regression_stage_error(y_true, y_pred, stage):
    return intermediate_regression_mse(y_true, y_pred[:, stage:stage + 1])


def _heatmap_stage_error(y_true, y_pred, stage):
    return _heatmap_errors(y_true, y_pred)[:, stage]


#: Per codec of a top-down model: the ``LOSSES`` name of its targets' loss (every stage's error,
#: summed) and one stage's error ``(B, K)`` (the stage metrics).
CODEC_LOSSES = {HeatmapCodec: ("heatmap_mse", _heatmap_stage_error),
                RegressionCodec: ("regression_mse", _regression_stage_error)}


def _codec_losses(codec):
    if type(codec) not in CODEC_LOSSES:
        raise ValueError(f"no top-down loss for codec {codec!r}; known: {[c.__name__ for c in CODEC_LOSSES]}")
    return CODEC_LOSSES[type(codec)]


def stage_metrics(codec, num_stages: int, own_errors: Optional[Mapping[int, Callable]] = None):
    """One loss metric per stage (``stage1_loss``, ...) for TensorBoard: which stage learns what.
    ``codec``: the model's (``model.codec``), which says what the targets are. ``own_errors``: the
    stages whose loss the model defines itself (``TopDownPoseModel.own_stage_errors()``, e.g.
    Tompson 2015's fine heatmaps); those stages report the model's error, not the codec's."""
    stage_error = _codec_losses(codec)[1]
    own_errors = dict(own_errors or {})
    if any(not isinstance(s, int) or s < 0 or not callable(fn) for s, fn in own_errors.items()):
        raise ValueError(f"own_errors maps stage indices >= 0 to functions fn(y_true, y_pred), got {own_errors!r}")

    def make(stage):
        own = own_errors.get(stage)

        def fn(y_true, y_pred):
            return own(y_true, y_pred) if own is not None else stage_error(y_true, y_pred, stage)
        fn.__name__ = f"stage{stage + 1}_loss"
        return fn
    return [make(s) for s in range(num_stages)]


def loss_and_stage_metrics(codec, num_stages: int, name: Optional[str] = None,
                           own_errors: Optional[Mapping[int, Callable]] = None):
    """The training loss (``name`` from ``LOSSES``, by default the codec's: every stage's error
    summed) and one weighted loss metric per stage, for ``model.compile`` (``own_errors``: see
    ``stage_metrics``)."""
    return LOSSES[name or _codec_losses(codec)[0]], stage_metrics(codec, num_stages, own_errors)
