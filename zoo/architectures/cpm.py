"""Convolutional Pose Machines (Wei, Ramakrishna, Kanade, Sheikh, CVPR 2016),
https://arxiv.org/abs/1602.00134

A sequence of predictors, each producing belief maps for the ``K`` joints plus a background map.
Stage 1 sees only image evidence (a small receptive field). Every later stage sees the shared
image features, the previous stage's beliefs and a Gaussian centre map (the person to parse is
the one in the middle of the crop), through large kernels, so its receptive field covers the
whole person and it can learn the spatial context between parts. Each stage's beliefs are
supervised (intermediate supervision, Sec. 3.3 of the paper), which fights vanishing gradients.

Scaled for CPU training from the paper's LSP model (368 px input, stride 8, 46x46 maps, 11x11
kernels, 6 stages, 128 channels, no normalisation): 128 px input, stride 4, 32x32 maps, 7x7
kernels (the same fraction of the map), 3 stages, BatchNorm after each convolution, and a
VGG-style feature extractor of 3x3 convolutions as in the authors' later MPII/COCO models.

The released CPM models start their image features from ImageNet VGG-19 layers (stride 8). With
``backbone="lite0"`` the feature stage is instead an ImageNet EfficientNet-Lite
(``zoo.backbones``): its stride-8 features and its stride-16 features upsampled x2, concatenated,
then one 3x3 convolution; the belief maps are then at the paper's stride 8.
"""

from __future__ import annotations

import keras
import numpy as np
from keras import layers, ops

from zoo.architectures.base import HeatmapPoseModel
from zoo.backbones.efficientnet_lite import EfficientNetLite, optional_backbone
from zoo.layers.blocks import ConvBNReLU

# Centre-map sigma of the paper's code: 21 px on a 368 px input.
CENTRE_SIGMA_FRACTION = 21.0 / 368.0


def centre_map(heatmap_size: int, sigma: float) -> np.ndarray:
    """Gaussian of ``sigma`` cells at the middle of a ``heatmap_size`` square map, ``(1, H, W, 1)``."""
    c = (heatmap_size - 1) / 2.0
    g = np.arange(heatmap_size, dtype=np.float64) - c
    m = np.exp(-(g[:, None] ** 2 + g[None, :] ** 2) / (2.0 * sigma**2))
    return m[None, :, :, None].astype("float32")


@keras.saving.register_keras_serializable(package="zoo")
class ConvolutionalPoseMachine(HeatmapPoseModel):
    """Convolutional Pose Machine with a background belief map and a centre map.

    Args:
        num_stages: number of stages (6 in the paper for LSP; 3 here for CPU training).
        feature_filters: channels of the three resolutions of the VGG-style feature extractor
            (input, 1/2, 1/4); the shared features are then reduced to ``feature_filters[-1] // 2``
            (with a backbone, only that last reduction is built).
        stage_filters: channels inside each stage (128 in the paper).
        kernel_size: kernel of the large convolutions of stages >= 2 (11 on 46x46 maps in the
            paper; 7 on 32x32 maps covers the same fraction of the map).
        backbone: empty: the VGG-style extractor above, trained from scratch, output stride 4;
            ``lite0`` ... ``lite4``: an EfficientNet-Lite feature stage (ImageNet weights through
            ``zoo.backbones.load_imagenet_weights``), output stride 8; mean / std then default
            to its ImageNet normalisation.
        skeleton, input_size, mean, std: see ``HeatmapPoseModel``.

    Call returns ``(N, num_stages, input_size/4, input_size/4, K + 1)`` belief maps, joints first
    and the background last (its target is ``1 - max over joints``).

    Example:
    >>> model = ConvolutionalPoseMachine(num_stages=2, input_size=64)
    >>> model(np.zeros((1, 64, 64, 3), "uint8")).shape
    (1, 2, 16, 16, 15)
    """

    def __init__(self, num_stages: int = 3, feature_filters=(32, 64, 128), stage_filters: int = 64,
                 kernel_size: int = 7, backbone: str = "", **kwargs):
        backbone = optional_backbone(backbone, kwargs)
        stride = 8 if backbone else 4
        kwargs.setdefault("stride", stride)
        if kwargs["stride"] != stride:
            raise ValueError(f"ConvolutionalPoseMachine{' with a backbone' if backbone else ''} has output "
                             f"stride {stride}, got stride={kwargs['stride']!r}")
        super().__init__(**kwargs)
        if backbone and self.input_size % 16:
            raise ValueError(f"input_size={self.input_size} must be a multiple of 16 with a backbone")
        if int(num_stages) < 1:
            raise ValueError(f"num_stages must be >= 1, got {num_stages!r}")
        feature_filters = tuple(int(f) for f in feature_filters)
        if len(feature_filters) != 3 or min(feature_filters) < 2:
            raise ValueError(f"feature_filters needs 3 channel counts >= 2, got {feature_filters!r}")
        if int(kernel_size) < 1 or int(kernel_size) % 2 == 0:
            raise ValueError(f"kernel_size must be a positive odd number, got {kernel_size!r}")
        self.num_stages, self.feature_filters = int(num_stages), feature_filters
        self.stage_filters, self.kernel_size = int(stage_filters), int(kernel_size)
        self.backbone_name = backbone
        f0, f1, f2 = feature_filters
        c = self.stage_filters
        if backbone:
            # VGG-19's first ten layers in the paper: here ImageNet EfficientNet-Lite at strides 8 and 16.
            self.backbone = EfficientNetLite(backbone, feature_strides=(8, 16), name="backbone")
            self.upsample = layers.UpSampling2D(2, interpolation="bilinear", name="features_up16")
            self.features = [ConvBNReLU(f2 // 2, 3, name="features_cpm")]
        else:
            self.features = [
                ConvBNReLU(f0, 3, name="features_conv1_1"), layers.MaxPooling2D(2, name="features_pool1"),
                ConvBNReLU(f1, 3, name="features_conv2_1"), ConvBNReLU(f1, 3, name="features_conv2_2"),
                layers.MaxPooling2D(2, name="features_pool2"),
                ConvBNReLU(f2, 3, name="features_conv3_1"), ConvBNReLU(f2, 3, name="features_conv3_2"),
                ConvBNReLU(f2 // 2, 3, name="features_cpm"),
            ]
        out = self.num_joints + 1

        def head(name):
            # Belief heads start near zero (N(0, 0.001)), see StackedHourglass.
            return layers.Conv2D(out, 1, name=name, kernel_initializer=keras.initializers.RandomNormal(stddev=0.001))

        # Stage 1: image evidence only, small receptive field (3x3 convolutions).
        self.stage1 = [ConvBNReLU(c, 3, name="stage1_conv1"), ConvBNReLU(c, 3, name="stage1_conv2"),
                       ConvBNReLU(2 * c, 1, name="stage1_conv3"), head("stage1_beliefs")]
        # Stages >= 2: features + previous beliefs + centre map, large kernels.
        self.stages = []
        for t in range(2, self.num_stages + 1):
            k = self.kernel_size
            self.stages.append([ConvBNReLU(c, k, name=f"stage{t}_conv1"), ConvBNReLU(c, k, name=f"stage{t}_conv2"),
                                ConvBNReLU(c, k, name=f"stage{t}_conv3"), ConvBNReLU(c, 1, name=f"stage{t}_conv4"),
                                head(f"stage{t}_beliefs")])
        self._centre = centre_map(self.heatmap_size, CENTRE_SIGMA_FRACTION * self.input_size / self.stride)

    def forward(self, x, training=None):
        if self.backbone_name:
            f8, f16 = self.backbone(x, training=training)
            x = ops.concatenate([f8, self.upsample(f16)], axis=-1)
        for layer in self.features:
            x = layer(x, training=training) if isinstance(layer, ConvBNReLU) else layer(x)
        features = x
        beliefs = features
        for layer in self.stage1:
            beliefs = layer(beliefs, training=training) if isinstance(layer, ConvBNReLU) else layer(beliefs)
        outputs = [beliefs]
        # Broadcast add (not tile): a constant map with the batch size of the features.
        centre = ops.zeros_like(features[..., :1]) + ops.convert_to_tensor(self._centre, dtype=features.dtype)
        for stage in self.stages:
            y = ops.concatenate([features, beliefs, centre], axis=-1)
            for layer in stage:
                y = layer(y, training=training) if isinstance(layer, ConvBNReLU) else layer(y)
            beliefs = y
            outputs.append(beliefs)
        return ops.stack(outputs, axis=1)

    def get_config(self):
        return {**super().get_config(), "num_stages": self.num_stages,
                "feature_filters": list(self.feature_filters), "stage_filters": self.stage_filters,
                "kernel_size": self.kernel_size, "backbone": self.backbone_name}
