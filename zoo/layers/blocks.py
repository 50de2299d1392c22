"""Building blocks shared by the architectures."""

from __future__ import annotations

import keras
from keras import layers


@keras.saving.register_keras_serializable(package="zoo")
class ConvBNReLU(layers.Layer):
    """Convolution -> BatchNorm -> ReLU.

    Args:
        filters: output channels.
        kernel_size: square kernel side.
        strides: convolution stride.
    """

    def __init__(self, filters: int, kernel_size: int = 3, strides: int = 1, **kwargs):
        super().__init__(**kwargs)
        self.filters, self.kernel_size, self.strides = int(filters), int(kernel_size), int(strides)
        self.conv = layers.Conv2D(filters, kernel_size, strides=strides, padding="same", use_bias=False)
        self.bn = layers.BatchNormalization(momentum=0.9, epsilon=1e-5)

    def call(self, x, training=None):
        return keras.ops.relu(self.bn(self.conv(x), training=training))

    def get_config(self):
        return {**super().get_config(), "filters": self.filters, "kernel_size": self.kernel_size,
                "strides": self.strides}


@keras.saving.register_keras_serializable(package="zoo")
class ResidualModule(layers.Layer):
    """Pre-activation bottleneck residual module of the Stacked Hourglass paper (Fig. 4, left).

    BN-ReLU-1x1(C/2), BN-ReLU-3x3(C/2), BN-ReLU-1x1(C), plus the input (through a 1x1 projection
    when the channel count changes). Newell, Yang, Deng, ECCV 2016, https://arxiv.org/abs/1603.06937

    Args:
        filters: output channels C.
    """

    def __init__(self, filters: int, **kwargs):
        super().__init__(**kwargs)
        if int(filters) < 2:
            raise ValueError(f"filters must be >= 2, got {filters!r}")
        self.filters = int(filters)
        half = self.filters // 2
        self.bn1 = layers.BatchNormalization(momentum=0.9, epsilon=1e-5)
        self.conv1 = layers.Conv2D(half, 1, use_bias=False)
        self.bn2 = layers.BatchNormalization(momentum=0.9, epsilon=1e-5)
        self.conv2 = layers.Conv2D(half, 3, padding="same", use_bias=False)
        self.bn3 = layers.BatchNormalization(momentum=0.9, epsilon=1e-5)
        self.conv3 = layers.Conv2D(self.filters, 1)
        self.skip = None

    def build(self, input_shape):
        if input_shape[-1] != self.filters:
            self.skip = layers.Conv2D(self.filters, 1)

    def call(self, x, training=None):
        y = self.conv1(keras.ops.relu(self.bn1(x, training=training)))
        y = self.conv2(keras.ops.relu(self.bn2(y, training=training)))
        y = self.conv3(keras.ops.relu(self.bn3(y, training=training)))
        return y + (self.skip(x) if self.skip is not None else x)

    def get_config(self):
        return {**super().get_config(), "filters": self.filters}
