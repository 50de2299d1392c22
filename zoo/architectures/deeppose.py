"""DeepPose: human pose estimation via deep neural networks (Toshev & Szegedy, CVPR 2014),
https://arxiv.org/abs/1312.4659

Holistic regression: a convolutional network sees the whole person crop and regresses every joint
in box-normalised coordinates ``(y - b_c) / b_size`` (Sec. 3, Eq. 1), trained with an L2 loss in
that frame (Eq. 3). A cascade of regressors then refines each joint (Sec. 3.2): stage ``s >= 2``
cuts, for every joint ``i``, a sub-image of side ``sigma * diam(y^{s-1})`` centred on the previous
estimate ``y_i^{s-1}`` (``diam``: distance between opposite torso joints, here left shoulder -
right hip), and regresses the joint's displacement in that sub-image's normalised frame:
``y_i^s = y_i^{s-1} + b_size * psi_i(N(x; b_i))``. Each stage is trained with the earlier ones
frozen, on their real predictions plus simulated ones ``y + delta``, ``delta`` drawn per joint from
the mean and variance of the previous stage's errors on the training split (Sec. 3.2, Eq. 7).
The model freezes stages and keeps those statistics; the phases that measure them and train
one stage after another are ``training.experiments.deeppose_phases``.

Backbone: the paper uses AlexNet (5 conv + 2 fully connected layers, 220 px, ImageNet-free
training on 10^4-10^5 images with heavy compute). Here the same layout is kept (5 convolutional
blocks, then 2 fully connected layers) but with 3x3 kernels, BatchNorm and 128 px input, so it
trains from scratch on 2 CPU cores in about an hour and the weights stay a few MB; AlexNet's
4096-wide layers alone would hold ~60 M parameters.

With ``backbone="lite0"`` the holistic regressor reads ImageNet EfficientNet-Lite features
(``zoo.backbones``, stride 32) instead of convolving the image from scratch: the paper's regressor
is an ImageNet-style classifier network (AlexNet), and small pose datasets need that start. The
cascade's per-joint regressors stay small and trained from scratch.

The cascade crops (``zoo.layers.crops.JointPatches``) are bilinear sampling written as two
batched matrix products: TFLite builtin ``BATCH_MATMUL`` ops, no ``CropAndResize`` (a Flex op).
"""

from __future__ import annotations

import keras
import numpy as np
from keras import layers, ops

from zoo.architectures.base import TopDownPoseModel
from zoo.backbones.efficientnet_lite import EfficientNetLite, optional_backbone
from zoo.codecs.regression import RegressionCodec
from zoo.layers.blocks import ConvBNReLU
from zoo.layers.crops import JointPatches, bilinear_weights  # noqa: F401  (bilinear_weights: re-exported)


@keras.saving.register_keras_serializable(package="zoo")
class ConvRegressor(layers.Layer):
    """Conv blocks (each: 3x3 conv-BN-ReLU, then a stride-2 conv-BN-ReLU), flatten, two fully
    connected layers (ReLU + dropout, then linear) -> ``(N, K, 2)``.

    The output layer starts at zero (the first estimate is the crop centre / no displacement).

    Args:
        filters: channels of each block (one halving of resolution per block).
        units: width of the hidden fully connected layer.
        num_joints: K.
        dropout: dropout rate before the output layer.
    """

    def __init__(self, filters, units: int, num_joints: int, dropout: float = 0.3, **kwargs):
        super().__init__(**kwargs)
        self.filters, self.units = tuple(int(f) for f in filters), int(units)
        self.num_joints, self.dropout_rate = int(num_joints), float(dropout)
        self.blocks = []
        for i, f in enumerate(self.filters):
            self.blocks += [ConvBNReLU(f, 3, name=f"conv{i + 1}a"), ConvBNReLU(f, 3, strides=2, name=f"conv{i + 1}b")]
        self.flatten = layers.Flatten()
        self.hidden = layers.Dense(self.units, activation="relu", name="fc1")
        self.dropout = layers.Dropout(self.dropout_rate)
        self.out = layers.Dense(2 * self.num_joints, kernel_initializer="zeros", name="fc2")

    def call(self, x, training=None):
        for block in self.blocks:
            x = block(x, training=training)
        x = self.dropout(self.hidden(self.flatten(x)), training=training)
        return ops.reshape(self.out(x), (-1, self.num_joints, 2))

    def get_config(self):
        return {**super().get_config(), "filters": list(self.filters), "units": self.units,
                "num_joints": self.num_joints, "dropout": self.dropout_rate}


@keras.saving.register_keras_serializable(package="zoo")
class RegressionDecoder(layers.Layer):
    """Box-normalised joints -> input pixels (inverse of ``zoo.codecs.RegressionCodec``); the
    score of a regressed joint is 1 (DeepPose has no confidence output).

    Call: ``(N, K, 2)`` -> ``(keypoints (N, K, 2), scores (N, K))``.
    """

    def __init__(self, input_size: int, **kwargs):
        super().__init__(**kwargs)
        self.input_size = int(input_size)

    def call(self, normalised):
        keypoints = normalised * float(self.input_size) + (self.input_size - 1) / 2.0
        return keypoints, ops.ones_like(normalised[..., 0])

    def get_config(self):
        return {**super().get_config(), "input_size": self.input_size}


@keras.saving.register_keras_serializable(package="zoo")
class DeepPose(TopDownPoseModel):
    """DeepPose cascade of joint regressors.

    Args:
        num_stages: 1 holistic stage + ``num_stages - 1`` refinement stages (3 in the paper).
        filters: channels of the holistic regressor's conv blocks (each halves the resolution);
            with a backbone, blocks on its stride-32 features (may be empty).
        units: width of its hidden fully connected layer (4096 in the paper).
        patch_size: side of the per-joint sub-images of stages >= 2, in samples.
        patch_filters, patch_units: the refinement regressors' conv blocks and hidden width.
        sigma: sub-image side as a multiple of the torso diameter (the paper's sigma).
        min_patch: smallest sub-image side, as a fraction of the input side (guards against an
            estimate whose torso has collapsed, e.g. early in training).
        dropout: dropout before each output layer.
        backbone: empty: the holistic regressor convolves the image from scratch; ``lite0`` ...
            ``lite4``: it reads EfficientNet-Lite's stride-32 features (ImageNet weights through
            ``zoo.backbones.load_imagenet_weights``); mean / std then default to its ImageNet
            normalisation.
        skeleton, input_size, mean, std: see ``TopDownPoseModel``.

    Call returns every stage's estimate ``(N, num_stages, K, 2)`` in box-normalised coordinates
    (``zoo.codecs.RegressionCodec``); ``keypoints`` maps the last one to input pixels.

    Example:
    >>> model = DeepPose(num_stages=2, filters=(8, 8, 8), units=16, patch_size=8,
    ...                  patch_filters=(8,), patch_units=16, input_size=32)
    >>> model(np.zeros((1, 32, 32, 3), "uint8")).shape
    (1, 2, 14, 2)
    """

    float_layers = ("decoder", "cascade")
    #: The network alone: the last stage's box-normalised coordinates (``RegressionCodec``).
    raw_output_names = ("coordinates",)

    def __init__(self, num_stages: int = 2, filters=(32, 64, 96, 128, 128), units: int = 256,
                 patch_size: int = 32, patch_filters=(32, 64, 96), patch_units: int = 256,
                 sigma: float = 1.0, min_patch: float = 0.08, dropout: float = 0.3, backbone: str = "",
                 **kwargs):
        backbone = optional_backbone(backbone, kwargs)
        super().__init__(**kwargs)
        if int(num_stages) < 1:
            raise ValueError(f"num_stages must be >= 1, got {num_stages!r}")
        if not float(sigma) > 0:
            raise ValueError(f"sigma must be > 0, got {sigma!r}")
        reduction = (32 if backbone else 1) * 2 ** len(filters)
        if self.input_size % reduction:
            raise ValueError(f"input_size={self.input_size} must be divisible by "
                             f"{'32 * ' if backbone else ''}2**len(filters)={reduction}")
        if int(patch_size) % (2 ** len(patch_filters)):
            raise ValueError(f"patch_size={patch_size} must be divisible by 2**len(patch_filters)")
        self.num_stages, self.filters, self.units = int(num_stages), tuple(int(f) for f in filters), int(units)
        self.patch_size, self.patch_filters = int(patch_size), tuple(int(f) for f in patch_filters)
        self.patch_units, self.sigma, self.dropout = int(patch_units), float(sigma), float(dropout)
        if not 0 < float(min_patch) <= 1:
            raise ValueError(f"min_patch must be in (0, 1], got {min_patch!r}")
        self.min_patch = float(min_patch)
        k = self.num_joints
        a, b = self.skeleton.torso[0]
        torso = (self.skeleton.index(a), self.skeleton.index(b))
        self.backbone_name = backbone
        if backbone:
            self.backbone = EfficientNetLite(backbone, feature_strides=(32,), name="stage1_backbone")
        self.initial = ConvRegressor(self.filters, self.units, k, self.dropout, name="stage1_regressor")
        self.crops, self.refiners = [], []
        for s in range(2, self.num_stages + 1):
            # float32 under mixed precision too: patch geometry in bfloat16 would be off by pixels.
            self.crops.append(JointPatches(self.patch_size, self.sigma, torso, min_side=self.min_patch,
                                           dtype="float32", name=f"stage{s}_cascade_crop"))
            self.refiners.append(ConvRegressor(self.patch_filters, self.patch_units, k, self.dropout,
                                               name=f"stage{s}_regressor"))
        self.codec = RegressionCodec(input_size=self.input_size)
        self.decoder = RegressionDecoder(self.input_size, name="decoder")
        # Mean and standard deviation of stage s's errors (prediction - truth, normalised) on the
        # training split, per joint: the distribution stage s + 1 draws its simulated errors from.
        n = max(self.num_stages - 1, 1)
        self.error_mean = self.add_weight(shape=(n, k, 2), initializer="zeros", trainable=False, name="error_mean")
        self.error_std = self.add_weight(shape=(n, k, 2), initializer="zeros", trainable=False, name="error_std")
        self.active_stage = 0  # 0: inference / all stages; s >= 1 while training stage s

    # -- forward ---------------------------------------------------------------------------
    def _refine(self, s, x, estimate, training=None):
        """Stage ``s`` (>= 2): ``estimate (N, K, 2)`` -> refined estimate."""
        k = self.num_joints
        patches, sides = self.crops[s - 2](x, estimate)
        raw = self.refiners[s - 2](patches, training=training)  # (N*K, K, 2): every joint's output
        # psi_i: keep joint i's output for joint i's patch (a diagonal mask, no Gather).
        raw = ops.cast(ops.reshape(raw, (-1, k, k, 2)), "float32")
        eye = ops.convert_to_tensor(np.eye(k, dtype="float32")[None, :, :, None])
        displacement = ops.sum(raw * eye, axis=2)
        return self._update(estimate, displacement, sides)

    @staticmethod
    def _update(estimate, displacement, sides):
        with keras.name_scope("cascade_update"):
            return estimate + displacement * sides

    def forward(self, x, training=None, upto=None):
        """Normalised images -> ``(N, stages, K, 2)`` estimates of stages ``1..upto``."""
        upto = self.num_stages if upto is None else upto
        features = self.backbone(x, training=training)[0] if self.backbone_name else x
        # Estimates are float32 coordinates whatever the compute precision (the cascade's geometry).
        estimate = ops.cast(self.initial(features, training=training), "float32")
        outputs = [estimate]
        for s in range(2, upto + 1):
            estimate = self._refine(s, x, estimate, training=training)
            outputs.append(estimate)
        return ops.stack(outputs, axis=1)

    def call(self, images, training=None):
        upto = self.active_stage or self.num_stages
        return self.forward(self.normalise(images), training=training, upto=upto)

    def stage_keypoints(self, images):
        stages = self.forward(self.normalise(images), training=False)
        decoded = [self.decoder(stages[:, i]) for i in range(stages.shape[1])]
        return ops.stack([d[0] for d in decoded], axis=1), ops.stack([d[1] for d in decoded], axis=1)

    def keypoints(self, images):
        stages = self.forward(self.normalise(images), training=False)
        return self.decoder(stages[:, -1])

    def raw_outputs(self, images):
        return (self.forward(self.normalise(images), training=False)[:, -1],)

    # -- stage-wise training (Sec. 3.2) ----------------------------------------------------
    def stage_modules(self, stage: int):
        """The layers trained in ``stage``."""
        if stage == 1:
            return [self.backbone, self.initial] if self.backbone_name else [self.initial]
        return [self.crops[stage - 2], self.refiners[stage - 2]]

    def freeze_all_but(self, stage: int) -> None:
        """Makes ``stage`` (1..num_stages) the trained one: every other stage is frozen, and call /
        ``train_step`` run stages ``1..stage`` (stage-wise training, Sec. 3.2)."""
        if not 1 <= int(stage) <= self.num_stages:
            raise ValueError(f"stage must be in 1..{self.num_stages}, got {stage!r}")
        stage = int(stage)
        for s in range(1, self.num_stages + 1):
            for layer in self.stage_modules(s):
                layer.trainable = s == stage
        self.active_stage = stage

    def end_phases(self) -> None:
        """After stage-wise training: call runs every stage again (inference); the trainable flags
        stay as the last stage left them."""
        self.active_stage = 0

    def set_error_statistics(self, stage: int, mean, std) -> None:
        """Stores the per-joint mean and standard deviation ``(K, 2)`` of stage ``stage``'s errors
        (prediction - truth, box-normalised) on the training split: the distribution stage
        ``stage + 1`` draws its simulated errors from (Eq. 7)."""
        if not 1 <= int(stage) < self.num_stages:
            raise ValueError(f"error statistics are kept for stages 1..{self.num_stages - 1}, got {stage!r}")
        em, es = ops.convert_to_numpy(self.error_mean), ops.convert_to_numpy(self.error_std)
        em[int(stage) - 1], es[int(stage) - 1] = mean, std
        self.error_mean.assign(em)
        self.error_std.assign(es)

    def train_step(self, data):
        """Stage 1: the default step. Stage ``s >= 2``: the frozen stages run in inference mode;
        for half of the samples each labelled joint's estimate is replaced by a simulated one
        ``truth + delta``, ``delta ~ N(mean, std^2)`` of the previous stage's errors (Eq. 7), then
        stage ``s`` refines it and only stage ``s`` learns."""
        if self.active_stage < 2:
            return super().train_step(data)
        import tensorflow as tf
        from keras.src.losses.loss import unscale_loss_for_distribution

        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        if sample_weight is None:  # fit(x, y) without joint weights: every joint labelled
            sample_weight = tf.ones(tf.shape(y)[:2], "float32")
        s = self.active_stage
        with tf.GradientTape() as tape:
            xn = self.normalise(x)
            frozen = ops.stop_gradient(self.forward(xn, training=False, upto=s - 1))
            previous = frozen[:, -1]
            delta = (self.error_mean[s - 2] + self.error_std[s - 2]
                     * tf.random.normal(tf.shape(previous)))
            simulate = tf.random.uniform(tf.shape(previous)[:1]) < 0.5
            use_sim = simulate[:, None] & (sample_weight > 0)
            start = tf.where(use_sim[..., None], tf.cast(y, "float32") + delta, previous)
            refined = self._refine(s, xn, start, training=True)
            y_pred = ops.concatenate([frozen, refined[:, None]], axis=1)
            loss = self._compute_loss(x=x, y=y, y_pred=y_pred, sample_weight=sample_weight, training=True)
            self._loss_tracker.update_state(unscale_loss_for_distribution(loss),
                                            sample_weight=tf.shape(x)[0])
            loss = self.optimizer.scale_loss(loss)
        variables = self.trainable_weights
        grads = tape.gradient(loss, variables)
        self.optimizer.apply_gradients(zip(grads, variables))
        return self.compute_metrics(x, y, y_pred, sample_weight=sample_weight)

    def get_config(self):
        return {**super().get_config(), "num_stages": self.num_stages, "filters": list(self.filters),
                "units": self.units, "patch_size": self.patch_size,
                "patch_filters": list(self.patch_filters), "patch_units": self.patch_units,
                "sigma": self.sigma, "min_patch": self.min_patch, "dropout": self.dropout,
                "backbone": self.backbone_name}
