"""Iterative Error Feedback (Carreira, Agrawal, Fragkiadaki, Malik, CVPR 2016),
https://arxiv.org/abs/1507.06550

A self-correcting regressor: the current pose estimate ``y_t`` is rendered as one Gaussian map
per joint and stacked with the image as extra input channels; a network ``f`` predicts a
correction ``eps_t = f(I, g(y_t))`` (K x 2), bounded per joint, and ``y_{t+1} = y_t + eps_t``,
starting from the mean pose of the training data and applied ``T`` times (Sec. 3; T = 4).
Training follows the paper's Fixed Path Consolidation (Sec. 3.1, Algorithm 1): the targets are
the bounded ideal corrections ``e(y* - y_t)`` along the fixed path from the mean pose to the
truth (``y_{t+1} = y_t + e(y* - y_t)``, ``e(u) = min(L, ||u||) u / ||u||`` per joint), with an
L2 loss on the correction; ``train_step`` builds that path in the graph from each batch's truth.

Changes from the paper, and why:
- ``f`` is ImageNet EfficientNet-Lite0 (``zoo.backbones``) instead of ImageNet GoogLeNet, its stem
  convolution widened from 3 to 3 + K input channels. ``zoo.backbones.load_imagenet_weights``
  gives the RGB filters their ImageNet values and the pose channels zero filters, so training
  starts from the ImageNet network (the paper initialises the new filters randomly). The head
  is a 1x1 reduction of the stride-32 features, then the paper's fully connected regressor to
  2K outputs, whose output layer starts at zero (the first corrections are none).
- Input 128 or 160 px instead of 224 (2 CPU cores train it; each iteration is a full pass). The
  bound ``L`` and the maps' sigma are fractions of the input side (the paper's 20 px at 224 px).
- The bound is also applied to the network's own corrections at inference (clipping each joint's
  correction to norm <= L), so no iteration can move a joint further than the training targets
  ever did.
- Unlabelled joints carry no loss and stay at the mean pose along the training path.
- Coordinates are box-normalised (``zoo.codecs.RegressionCodec``), as DeepPose's.
- Scores: the paper has none. Each joint's score is ``1 - ||eps_T|| / L`` for the last correction
  applied: the network's own estimate of how far that joint still was from where it belongs. A
  joint that has converged is moved little (score near 1); one still corrected by the full bound
  had not arrived (score 0).
- The consolidation with the network's own iterates is an option (``own_iterate_share``): a share
  of the samples is trained from the points the network itself reaches instead of the fixed
  path; the paper's schedule of growing the path one step at a time is ``path_points``. Both are
  set by the training phase (``training.experiments.ief_mpii.FixedPathConsolidation``).

Everything at inference (rendering the maps, the ``T`` unrolled iterations, the clipping) is made
of TFLite builtin ops (EXP, MUL, SQRT, MINIMUM, CONCATENATION, ...), inside every export's graph.
"""

from __future__ import annotations

import keras
import numpy as np
from keras import layers, ops

from zoo.architectures.base import TopDownPoseModel
from zoo.backbones.efficientnet_lite import EfficientNetLite, optional_backbone
from zoo.codecs.regression import RegressionCodec
from zoo.layers.blocks import ConvBNReLU

#: The paper's correction bound, 20 px at its 224 px input, as a fraction of the input side.
PAPER_MAX_CORRECTION = 20.0 / 224.0


def bound_corrections(corrections, max_norm: float):
    """Each joint's 2-vector scaled to norm ``<= max_norm`` (direction kept): ``corrections *
    min(1, max_norm / ||corrections||)``. On ``truth - estimate`` it is the paper's ideal bounded
    correction ``e(y* - y_t)``; on the network's output, the clipping at inference."""
    norm = ops.sqrt(ops.sum(ops.square(corrections), axis=-1, keepdims=True) + 1e-12)
    return corrections * ops.minimum(1.0, max_norm / norm)


def fixed_path(start, truth, labelled, max_norm: float, steps: int):
    """The paper's fixed path from ``start`` to ``truth`` (both ``(N, K, 2)``): ``steps`` points
    ``y_0 = start``, ``y_{t+1} = y_t + e(y* - y_t)``, and the bounded ideal correction at each.
    ``labelled (N, K)``: a joint without a label keeps a zero correction (it stays at the start).
    Returns ``(points, corrections)``, lists of ``steps`` tensors ``(N, K, 2)``."""
    mask = ops.cast(labelled > 0, "float32")[..., None]
    points, corrections = [], []
    y = start
    for _ in range(steps):
        ideal = bound_corrections(truth - y, max_norm) * mask
        points.append(y)
        corrections.append(ideal)
        y = y + ideal
    return points, corrections


@keras.saving.register_keras_serializable(package="zoo")
class GaussianPoseMaps(layers.Layer):
    """Renders a pose as one Gaussian map per joint at the input resolution (builtin TFLite ops).

    Args:
        input_size: side S of the square maps (the image's).
        sigma: standard deviation of each Gaussian, in pixels.

    Call: box-normalised joints ``(N, K, 2)`` (``zoo.codecs.RegressionCodec``) -> maps
    ``(N, S, S, K)``, ``exp(-d^2 / (2 sigma^2))`` with ``d`` the distance from pixel centre to the
    joint (peak 1 at the joint, separable: a column profile times a row profile).
    """

    def __init__(self, input_size: int, sigma: float, **kwargs):
        super().__init__(**kwargs)
        if int(input_size) <= 0:
            raise ValueError(f"input_size must be a positive integer, got {input_size!r}")
        if not float(sigma) > 0:
            raise ValueError(f"sigma must be > 0 pixels, got {sigma!r}")
        self.input_size, self.sigma = int(input_size), float(sigma)

    def call(self, estimates):
        s = self.input_size
        pixels = ops.cast(estimates, "float32") * float(s) + (s - 1) / 2.0  # (N, K, 2) input pixels
        grid = ops.cast(ops.arange(s), "float32")[None, None, :]  # (1, 1, S) pixel centres
        inv = -0.5 / (self.sigma * self.sigma)
        across = ops.exp(ops.square(grid - pixels[..., 0:1]) * inv)  # (N, K, S) along x
        down = ops.exp(ops.square(grid - pixels[..., 1:2]) * inv)  # (N, K, S) along y
        across = ops.transpose(across, (0, 2, 1))[:, None, :, :]  # (N, 1, S, K)
        down = ops.transpose(down, (0, 2, 1))[:, :, None, :]  # (N, S, 1, K)
        return down * across

    def get_config(self):
        return {**super().get_config(), "input_size": self.input_size, "sigma": self.sigma}


@keras.saving.register_keras_serializable(package="zoo")
class CorrectionHead(layers.Layer):
    """Stride-32 features -> one correction per joint: a 1x1 conv-BN-ReLU reduction, flatten, a
    fully connected ReLU layer with dropout, and a linear layer to ``2K`` that starts at zero.

    Args:
        filters: channels of the 1x1 reduction.
        units: width of the hidden fully connected layer.
        num_joints: K.
        dropout: dropout rate before the output layer.
    """

    def __init__(self, filters: int, units: int, num_joints: int, dropout: float = 0.3, **kwargs):
        super().__init__(**kwargs)
        self.filters, self.units = int(filters), int(units)
        self.num_joints, self.dropout_rate = int(num_joints), float(dropout)
        self.reduce = ConvBNReLU(self.filters, 1, name="reduce")
        self.flatten = layers.Flatten()
        self.hidden = layers.Dense(self.units, activation="relu", name="fc1")
        self.dropout = layers.Dropout(self.dropout_rate)
        self.out = layers.Dense(2 * self.num_joints, kernel_initializer="zeros", name="fc2")

    def call(self, features, training=None):
        x = self.flatten(self.reduce(features, training=training))
        x = self.dropout(self.hidden(x), training=training)
        return ops.reshape(self.out(x), (-1, self.num_joints, 2))

    def get_config(self):
        return {**super().get_config(), "filters": self.filters, "units": self.units,
                "num_joints": self.num_joints, "dropout": self.dropout_rate}


@keras.saving.register_keras_serializable(package="zoo")
class IterativeErrorFeedback(TopDownPoseModel):
    """Iterative Error Feedback: ``T`` bounded corrections from the mean pose (see the module).

    Args:
        num_iterations: T, corrections applied at inference (4 in the paper); also the points of
            the training path. ``num_stages = T``: the estimate after each iteration is evaluated.
        max_correction: L, the bound on each joint's correction, as a fraction of the input side
            (the paper's 20 px at 224 px: ``PAPER_MAX_CORRECTION``).
        map_sigma: standard deviation of the rendered Gaussian maps, as a fraction of the input side.
        backbone: ``lite0`` ... ``lite4``, the network ``f`` (EfficientNet-Lite, ImageNet weights
            through ``zoo.backbones.load_imagenet_weights``); mean / std default to its ImageNet
            normalisation.
        head_filters: channels of the 1x1 reduction of the stride-32 features.
        units: width of the hidden fully connected layer.
        dropout: dropout rate before the correction output.
        skeleton, input_size, mean, std: see ``TopDownPoseModel``; ``input_size`` must be a
            multiple of 32.

    Call returns every iteration's estimate ``(N, T, K, 2)`` in box-normalised coordinates
    (``zoo.codecs.RegressionCodec``); ``stage_keypoints`` maps them to input pixels.

    The mean pose ``y_0`` is the non-trainable weight ``mean_pose`` (``(K, 2)`` box-normalised),
    zero (every joint at the crop centre) until ``set_mean_pose`` stores the training data's; the
    training phase measures it on the training batches before the first step.

    Example:
    >>> model = IterativeErrorFeedback(num_iterations=2, head_filters=8, units=16, input_size=32,
    ...                                skeleton="mpii16")
    >>> model(np.zeros((1, 32, 32, 3), "uint8")).shape
    (1, 2, 16, 2)
    """

    float_layers = ("decoder", "feedback")
    #: The network alone: the final box-normalised estimate (``RegressionCodec``).
    raw_output_names = ("coordinates",)

    def __init__(self, num_iterations: int = 4, max_correction: float = PAPER_MAX_CORRECTION,
                 map_sigma: float = 0.025, backbone: str = "lite0", head_filters: int = 64, units: int = 256,
                 dropout: float = 0.3, **kwargs):
        backbone = optional_backbone(backbone, kwargs)
        super().__init__(**kwargs)
        if not backbone:
            raise ValueError(f"IterativeErrorFeedback needs a backbone (lite0 ... lite4), got {backbone!r}")
        if isinstance(num_iterations, bool) or int(num_iterations) != num_iterations or int(num_iterations) < 1:
            raise ValueError(f"num_iterations must be an integer >= 1, got {num_iterations!r}")
        if not 0 < float(max_correction) <= 1:
            raise ValueError(f"max_correction must be in (0, 1] (a fraction of the input side), "
                             f"got {max_correction!r}")
        if not 0 < float(map_sigma) <= 0.5:
            raise ValueError(f"map_sigma must be in (0, 0.5] (a fraction of the input side), got {map_sigma!r}")
        if self.input_size % 32:
            raise ValueError(f"input_size must be a multiple of 32 (the backbone's stride), got {self.input_size!r}")
        if int(head_filters) < 1 or int(units) < 1:
            raise ValueError(f"head_filters and units must be >= 1, got {head_filters!r} and {units!r}")
        if not 0 <= float(dropout) < 1:
            raise ValueError(f"dropout must be in [0, 1), got {dropout!r}")
        self.num_iterations = int(num_iterations)
        self.max_correction, self.map_sigma = float(max_correction), float(map_sigma)
        self.backbone_name, self.head_filters = backbone, int(head_filters)
        self.units, self.dropout = int(units), float(dropout)
        k = self.num_joints
        # float32 under mixed precision too: map geometry in bfloat16 would be off by pixels.
        self.render = GaussianPoseMaps(self.input_size, self.map_sigma * self.input_size, dtype="float32",
                                       name="feedback_maps")
        self.backbone = EfficientNetLite(backbone, feature_strides=(32,), input_channels=3 + k, name="backbone")
        self.head = CorrectionHead(self.head_filters, self.units, k, self.dropout, name="correction_head")
        self.codec = RegressionCodec(input_size=self.input_size)
        self.mean_pose = self.add_weight(shape=(k, 2), initializer="zeros", trainable=False, name="mean_pose")
        #: Training only (set by the training phase, not part of the config): the first
        #: ``path_points`` points of the fixed path are trained on (0: all ``num_iterations``), and
        #: this share of the samples starts from the network's own iterates instead.
        self.path_points = 0
        self.own_iterate_share = 0.0

    @property
    def num_stages(self) -> int:
        return self.num_iterations

    # -- forward ---------------------------------------------------------------------------
    def predict_correction(self, x, estimates, training=None):
        """``f``: normalised images ``(N, S, S, 3)`` and estimates ``(N, K, 2)`` -> the network's
        correction ``(N, K, 2)``, float32, not yet bounded."""
        maps = self.render(estimates)
        inputs = ops.concatenate([ops.cast(x, maps.dtype), maps], axis=-1)
        features = self.backbone(inputs, training=training)[0]
        return ops.cast(self.head(features, training=training), "float32")

    def _step(self, estimate, correction):
        """One feedback step: the correction bounded per joint, added to the estimate."""
        with keras.name_scope("feedback_update"):
            bounded = bound_corrections(correction, self.max_correction)
            return estimate + bounded, bounded

    def initial_estimate(self, x):
        """``y_0``: the mean pose for every image of the batch, ``(N, K, 2)``."""
        return ops.broadcast_to(ops.cast(self.mean_pose, "float32")[None],
                                (ops.shape(x)[0], self.num_joints, 2))

    def iterate(self, x, training=None):
        """Normalised images -> ``(estimates, corrections)``, each ``(N, T, K, 2)``: the estimate
        after each of the ``T`` iterations and the bounded correction that produced it."""
        estimate = self.initial_estimate(x)
        estimates, corrections = [], []
        for _ in range(self.num_iterations):
            estimate, bounded = self._step(estimate, self.predict_correction(x, estimate, training=training))
            estimates.append(estimate)
            corrections.append(bounded)
        return ops.stack(estimates, axis=1), ops.stack(corrections, axis=1)

    def call(self, images, training=None):
        return self.iterate(self.normalise(images), training=training)[0]

    def _decode(self, estimates, corrections):
        """Box-normalised estimates -> input pixels; scores ``1 - ||eps|| / L`` (module docstring)."""
        with keras.name_scope("decoder"):
            keypoints = estimates * float(self.input_size) + (self.input_size - 1) / 2.0
            length = ops.sqrt(ops.sum(ops.square(corrections), axis=-1))  # no gradient flows here
            scores = ops.clip(1.0 - length / self.max_correction, 0.0, 1.0)
            return keypoints, scores

    def stage_keypoints(self, images):
        return self._decode(*self.iterate(self.normalise(images), training=False))

    def keypoints(self, images):
        estimates, corrections = self.iterate(self.normalise(images), training=False)
        return self._decode(estimates[:, -1], corrections[:, -1])

    def raw_outputs(self, images):
        return (self.iterate(self.normalise(images), training=False)[0][:, -1],)

    # -- the mean pose ---------------------------------------------------------------------
    def set_mean_pose(self, mean_pose) -> None:
        """Stores ``y_0``, the training data's mean pose ``(K, 2)`` box-normalised."""
        mean_pose = np.asarray(mean_pose, "float32")
        if mean_pose.shape != (self.num_joints, 2) or not np.all(np.isfinite(mean_pose)):
            raise ValueError(f"mean_pose must be finite with shape ({self.num_joints}, 2), got shape "
                             f"{mean_pose.shape}")
        self.mean_pose.assign(mean_pose)

    # -- Fixed Path Consolidation (Sec. 3.1) -----------------------------------------------
    def training_points(self, x, truth, labelled):
        """The points trained on and their targets, lists of ``(N, K, 2)``: the fixed path's first
        ``path_points`` points from the mean pose; with ``own_iterate_share``, that share of the
        samples (drawn per sample) takes the network's own iterates instead (inference mode, no
        gradient), each with the bounded ideal correction from there as its target."""
        steps = self.path_points or self.num_iterations
        start = self.initial_estimate(x)
        points, targets = fixed_path(start, truth, labelled, self.max_correction, steps)
        if not self.own_iterate_share:
            return points, targets
        import tensorflow as tf

        mask = ops.cast(labelled > 0, "float32")[..., None]
        own = tf.random.uniform(tf.shape(x)[:1]) < self.own_iterate_share
        mixed, mixed_targets = [], []
        estimate = start
        for t in range(steps):
            if t:
                correction = ops.stop_gradient(self.predict_correction(x, estimate, training=False))
                estimate = self._step(estimate, correction)[0]
            point = tf.where(own[:, None, None], estimate, points[t])
            mixed.append(point)
            mixed_targets.append(bound_corrections(truth - point, self.max_correction) * mask)
        return mixed, mixed_targets

    def train_step(self, data):
        """One step of Fixed Path Consolidation: every path point of every sample is a training
        example (one batch of ``points x N`` images with their pose maps); the loss is the squared
        error of the network's correction against the bounded ideal one, summed over x, y and the
        path points, averaged over labelled joints. The metrics see the estimates one corrected
        step from each point, ``(N, points, K, 2)``, against the truth."""
        import tensorflow as tf
        from keras.src.losses.loss import scale_loss_for_distribution, unscale_loss_for_distribution

        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        truth = tf.cast(y, "float32")
        if sample_weight is None:  # fit(x, y) without joint weights: every joint labelled
            sample_weight = tf.ones(tf.shape(truth)[:2], "float32")
        labelled = tf.cast(sample_weight, "float32")
        with tf.GradientTape() as tape:
            xn = self.normalise(x)
            points, targets = self.training_points(xn, truth, labelled)
            n_points = len(points)
            raw = self.predict_correction(ops.concatenate([xn] * n_points, axis=0),
                                          ops.stop_gradient(ops.concatenate(points, axis=0)), training=True)
            raw = ops.stack(ops.split(raw, n_points, axis=0), axis=1)  # (N, points, K, 2)
            target = ops.stop_gradient(ops.stack(targets, axis=1))
            squared = ops.sum(ops.square(raw - target), axis=-1)  # (N, points, K)
            weighted = ops.sum(ops.sum(squared, axis=1) * labelled)
            loss = weighted / ops.maximum(ops.sum(labelled), 1.0)
            if self.losses:
                loss = loss + ops.sum(self.losses)
            loss = scale_loss_for_distribution(loss)
            self._loss_tracker.update_state(unscale_loss_for_distribution(loss), sample_weight=tf.shape(x)[0])
            loss = self.optimizer.scale_loss(loss)
        variables = self.trainable_weights
        grads = tape.gradient(loss, variables)
        self.optimizer.apply_gradients(zip(grads, variables))
        corrected = ops.stack(points, axis=1) + bound_corrections(raw, self.max_correction)
        return self.compute_metrics(x, y, corrected, sample_weight=sample_weight)

    def get_config(self):
        return {**super().get_config(), "num_iterations": self.num_iterations, "max_correction": self.max_correction,
                "map_sigma": self.map_sigma, "backbone": self.backbone_name, "head_filters": self.head_filters,
                "units": self.units, "dropout": self.dropout}
