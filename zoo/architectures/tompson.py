"""Joint training of a convolutional network and a graphical model (Tompson, Jain, LeCun, Bregler,
NIPS 2014), https://arxiv.org/abs/1406.2984 -- with BatchNorm in the part detector.

Part detector (Sec. 3.1): the same convolutional bank runs on the image at full, 1/2 and 1/4
resolution; the three outputs are upsampled to the finest one and summed, then further
convolutions give one heatmap per joint (the unary potentials). Each convolution is followed by
its ReLU and then BatchNorm (as in the public re-implementation that reports a ~10x faster
convergence). Spatial model (Sec. 3.2): ``zoo.layers.spatial_model.SpatialModel``, one round of
sum-product message passing over all ordered joint pairs.

Training follows the paper's phases (``freeze_for_phase``): the part detector alone, the spatial
model on the frozen detector, then both jointly; stage 3 alone trains end to end from the start.
The phases themselves (the displacement histograms measured on the training crops, each phase's
loss) are ``training.experiments.tompson_phases``.
"""

from __future__ import annotations

import keras
import numpy as np
from keras import layers, ops

from zoo.architectures.base import HeatmapPoseModel
from zoo.layers.spatial_model import SpatialModel


@keras.saving.register_keras_serializable(package="zoo")
class ConvReLUBN(layers.Layer):
    """Convolution -> ReLU -> BatchNorm (the order of Tompson et al.'s BatchNorm variant)."""

    def __init__(self, filters: int, kernel_size: int, **kwargs):
        super().__init__(**kwargs)
        self.filters, self.kernel_size = int(filters), int(kernel_size)
        self.conv = layers.Conv2D(self.filters, self.kernel_size, padding="same")
        self.bn = layers.BatchNormalization(momentum=0.9, epsilon=1e-5)

    def call(self, x, training=None):
        return self.bn(ops.relu(self.conv(x)), training=training)

    def get_config(self):
        return {**super().get_config(), "filters": self.filters, "kernel_size": self.kernel_size}


@keras.saving.register_keras_serializable(package="zoo")
class MultiResolutionBank(layers.Layer):
    """The shared convolutional bank (5x5 conv-ReLU-BN, pool, 5x5, pool, 5x5), applied to the
    input at ``num_scales`` resolutions (1, 1/2, 1/4); outputs upsampled to the finest and summed.

    Args:
        filters: channels of the three convolutions.
        num_scales: 1 to 3.
    """

    def __init__(self, filters=(32, 32, 64), num_scales: int = 3, **kwargs):
        super().__init__(**kwargs)
        if not 1 <= int(num_scales) <= 3:
            raise ValueError(f"num_scales must be 1, 2 or 3, got {num_scales!r}")
        self.filters, self.num_scales = tuple(int(f) for f in filters), int(num_scales)
        f1, f2, f3 = self.filters
        self.conv1, self.conv2, self.conv3 = ConvReLUBN(f1, 5, name="conv1"), ConvReLUBN(f2, 5, name="conv2"), \
            ConvReLUBN(f3, 5, name="conv3")
        self.pool = layers.MaxPooling2D(2)
        self.downsample = [layers.AveragePooling2D(2 ** s, name=f"downsample{2 ** s}")
                           for s in range(1, self.num_scales)]
        self.upsample = [layers.UpSampling2D(2 ** s, interpolation="bilinear", name=f"upsample{2 ** s}")
                         for s in range(1, self.num_scales)]

    def _bank(self, x, training):
        x = self.pool(self.conv1(x, training=training))
        x = self.pool(self.conv2(x, training=training))
        return self.conv3(x, training=training)

    def call(self, x, training=None):
        out = self._bank(x, training)
        for down, up in zip(self.downsample, self.upsample):
            out = out + up(self._bank(down(x), training))
        return out

    def get_config(self):
        return {**super().get_config(), "filters": list(self.filters), "num_scales": self.num_scales}


@keras.saving.register_keras_serializable(package="zoo")
class TompsonPoseModel(HeatmapPoseModel):
    """Part detector + fully connected spatial model.

    Args:
        bank_filters: channels of the shared multi-resolution bank.
        num_scales: resolutions the bank sees (1, 1/2, 1/4).
        head_filters: channels of the convolutions after the merge (a 9x9, then a 1x1).
        head_kernel: kernel of the first convolution after the merge (9 in the paper).
        spatial: ``"full"`` (every ordered joint pair), ``"star"`` (every joint with the root
            ``spatial_root``) or ``"none"``.
        spatial_root: root joint of the star model (index).
        message_stride: grid of the spatial model's messages (1: the heatmaps', 2: half of it;
            see ``SpatialModel``).
        initial_message_bias: ``SoftPlus(b)`` when the kernels are initialised from histograms.
            It sets how strongly the messages first weigh against the unaries: small values let
            13 broad priors overrule the detector's evidence.
        positive: ``"relu"`` or ``"softplus"``: how the spatial model makes the unaries
            non-negative (``SpatialModel``); SoftPlus keeps joint training stable.
        skeleton, input_size, mean, std: see ``HeatmapPoseModel``; the output stride is 4.

    Call returns ``(N, 2, H, W, K)``: the part detector's heatmaps and the spatial model's
    normalised marginals scaled to the heatmaps' peak (stage 2; a copy of stage 1 until the
    spatial model is trained, ``spatial="none"``).
    """

    # Kept in float32 in full-integer exports: the decoder, and the spatial model, whose log-space
    # products and normalisation would lose their meaning on an 8-bit grid.
    float_layers = ("decoder", "spatial_model")
    #: ``bypassing("spatial_model")``: the part detector's maps are decoded directly.
    components = ("spatial_model",)

    def __init__(self, bank_filters=(32, 32, 64), num_scales: int = 3, head_filters: int = 128,
                 head_kernel: int = 9, spatial: str = "full", spatial_root: int = 12, message_stride: int = 1,
                 initial_message_bias: float = 1e-3, positive: str = "relu", **kwargs):
        kwargs.setdefault("stride", 4)
        if kwargs["stride"] != 4:
            raise ValueError(f"TompsonPoseModel has output stride 4, got stride={kwargs['stride']!r}")
        super().__init__(**kwargs)
        if spatial not in ("full", "star", "none"):
            raise ValueError(f"spatial must be 'full', 'star' or 'none', got {spatial!r}")
        self.bank_filters, self.num_scales = tuple(int(f) for f in bank_filters), int(num_scales)
        self.head_filters, self.head_kernel = int(head_filters), int(head_kernel)
        self.spatial, self.spatial_root, self.message_stride = spatial, int(spatial_root), int(message_stride)
        self.initial_message_bias, self.positive = float(initial_message_bias), positive
        self.bank = MultiResolutionBank(self.bank_filters, self.num_scales, name="bank")
        self.head = [ConvReLUBN(self.head_filters, self.head_kernel, name="head_conv1"),
                     ConvReLUBN(self.head_filters, 1, name="head_conv2")]
        self.unary = layers.Conv2D(self.num_joints, 1, name="unary_heatmaps",
                                   kernel_initializer=keras.initializers.RandomNormal(stddev=0.001))
        pairs = None
        if spatial == "star":
            from zoo.layers.spatial_model import star_pairs

            pairs = star_pairs(self.num_joints, self.spatial_root)
        # float32 under any dtype policy: its log-space messages and normalisation need the range
        # and precision (as full-integer exports keep it float32, ``float_layers``).
        self.spatial_model = (SpatialModel(self.num_joints, self.heatmap_size, pairs=pairs,
                                           message_stride=self.message_stride, positive=positive,
                                           name="spatial_model", dtype="float32")
                              if spatial != "none" else None)
        self.active_stage = 0

    @property
    def num_stages(self) -> int:
        return 2

    def part_detector(self, x, training=None):
        y = self.bank(x, training=training)
        for layer in self.head:
            y = layer(y, training=training)
        return self.unary(y)

    def refine(self, unary, training=None):
        """The spatial model's marginals rescaled so each map's maximum matches the target
        heatmaps' peak (1); the unaries themselves while the spatial model is bypassed."""
        if self.spatial_model is None or self.active_stage == 1:
            return unary
        # One name scope for every op after the unaries, so full-integer exports keep them in
        # float32 (``float_layers``).
        with keras.name_scope("spatial_model_output"):
            log_p = self.spatial_model(unary, training=training)
            return ops.exp(log_p - ops.max(log_p, axis=(1, 2), keepdims=True))

    def forward(self, x, training=None):
        unary = self.part_detector(x, training=training)
        # The refined maps come from the float32 spatial model; under mixed precision the stack
        # takes the detector's compute dtype.
        return ops.stack([unary, ops.cast(self.refine(unary, training=training), unary.dtype)], axis=1)

    def heatmaps(self, images, training=False):
        """The refined heatmaps ``(N, H, W, K)`` (what the decoder reads)."""
        return self.refine(self.part_detector(self.normalise(images), training=training), training=training)

    def _set_bypassed(self, component: str, bypassed: bool) -> None:
        if self.spatial_model is None:
            raise ValueError("this model has spatial='none': there is no spatial model to bypass")
        if bypassed:
            self.__dict__["_stage_before_bypass"] = self.active_stage
            self.active_stage = 1
        else:
            self.active_stage = self.__dict__.pop("_stage_before_bypass", 0)

    def detector_layers(self):
        return [self.bank, *self.head, self.unary]

    @property
    def spatial_initialised(self) -> bool:
        """True once the pairwise kernels hold more than their zero construction value."""
        return self.spatial_model is not None and bool(
            np.any(ops.convert_to_numpy(self.spatial_model.kernel) != 0))

    def initialise_spatial_model(self, histograms) -> None:
        """Sets the pairwise kernels to smoothed histograms of joint displacements ``(2M - 1, 2M - 1,
        K, K)`` on the message grid (Tompson et al. 2014, Sec. 3.2; ``displacement_histograms``),
        with the messages' initial bias ``initial_message_bias``."""
        self.spatial_model.initialise_from_histograms(histograms, bias=self.initial_message_bias)

    def freeze_for_phase(self, stage: int) -> None:
        """The paper's training phases (Sec. 4): 1, the part detector alone (spatial model
        bypassed and frozen); 2, the spatial model alone on the frozen detector (its BatchNorm in
        inference mode); 3, both jointly, end to end."""
        if stage not in (1, 2, 3):
            raise ValueError(f"stage must be 1 (detector), 2 (spatial model) or 3 (joint), got {stage!r}")
        if stage >= 2 and self.spatial_model is None:
            raise ValueError(f"stage {stage} trains the spatial model, and this model has spatial='none'")
        for layer in self.detector_layers():
            layer.trainable = stage != 2
        if self.spatial_model is not None:
            self.spatial_model.trainable = stage >= 2
        self.active_stage = stage

    def end_phases(self) -> None:
        """After phased training: the spatial model runs again (inference); the trainable flags
        stay as the last phase left them."""
        self.active_stage = 0

    def get_config(self):
        return {**super().get_config(), "bank_filters": list(self.bank_filters), "num_scales": self.num_scales,
                "head_filters": self.head_filters, "head_kernel": self.head_kernel, "spatial": self.spatial,
                "spatial_root": self.spatial_root, "message_stride": self.message_stride,
                "initial_message_bias": self.initial_message_bias, "positive": self.positive}
