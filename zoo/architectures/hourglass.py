"""Stacked Hourglass Networks (Newell, Yang, Deng, ECCV 2016), https://arxiv.org/abs/1603.06937

Stem (7x7/2 conv, residual, max-pool, residuals) to 1/4 resolution; then ``num_stacks``
hourglasses, each a symmetric encoder-decoder of residual modules with skip branches at every
resolution, followed by a 1x1 head predicting one heatmap per joint. Between stacks the heatmaps
are mapped back to features and added to the stack's input (Fig. 4, right). Every stack's
heatmaps are returned for intermediate supervision.
"""

from __future__ import annotations

import keras
import numpy as np
from keras import layers, ops

from zoo.architectures.base import HeatmapPoseModel
from zoo.layers.blocks import ConvBNReLU, ResidualModule
from zoo.skeletons import joint_mapping


@keras.saving.register_keras_serializable(package="zoo")
class Hourglass(layers.Layer):
    """One hourglass of ``depth`` levels (recursive, Newell et al. Fig. 3).

    Args:
        depth: number of down-sampling steps (4 in the paper).
        filters: channels of every residual module.
    """

    def __init__(self, depth: int, filters: int, **kwargs):
        super().__init__(**kwargs)
        if int(depth) < 1:
            raise ValueError(f"depth must be >= 1, got {depth!r}")
        self.depth, self.filters = int(depth), int(filters)
        self.up1 = ResidualModule(filters, name="skip")
        self.pool = layers.MaxPooling2D(2)
        self.low1 = ResidualModule(filters, name="down")
        self.low2 = (Hourglass(depth - 1, filters, name=f"hourglass_{depth - 1}") if depth > 1
                     else ResidualModule(filters, name="bottom"))
        self.low3 = ResidualModule(filters, name="up")
        self.upsample = layers.UpSampling2D(2, interpolation="nearest")

    def call(self, x, training=None):
        up1 = self.up1(x, training=training)
        low = self.low1(self.pool(x), training=training)
        low = self.low2(low, training=training)
        low = self.low3(low, training=training)
        return up1 + self.upsample(low)

    def get_config(self):
        return {**super().get_config(), "depth": self.depth, "filters": self.filters}


@keras.saving.register_keras_serializable(package="zoo")
class StackedHourglass(HeatmapPoseModel):
    """Stacked Hourglass pose network.

    Args:
        num_stacks: number of hourglasses (8 in the paper; 2 for the CPU-trained zoo model).
        filters: channels inside the hourglasses (256 in the paper).
        depth: down-sampling steps per hourglass (4 in the paper).
        skeleton, input_size, mean, std: see ``HeatmapPoseModel``; the output stride is 4.

    Example:
    >>> model = StackedHourglass(num_stacks=2, filters=64, depth=3, input_size=64)
    >>> model(np.zeros((1, 64, 64, 3), "uint8")).shape  # (N, stacks, H, W, joints)
    (1, 2, 16, 16, 14)

    Call returns ``(N, num_stacks, input_size/4, input_size/4, num_joints)`` heatmaps.
    """

    def __init__(self, num_stacks: int = 2, filters: int = 128, depth: int = 4, **kwargs):
        kwargs.setdefault("stride", 4)
        if kwargs["stride"] != 4:
            raise ValueError(f"StackedHourglass has output stride 4, got stride={kwargs['stride']!r}")
        super().__init__(**kwargs)
        if int(num_stacks) < 1:
            raise ValueError(f"num_stacks must be >= 1, got {num_stacks!r}")
        if int(filters) < 8 or int(filters) % 2:
            raise ValueError(f"filters must be an even number >= 8, got {filters!r}")
        if self.heatmap_size % (2 ** int(depth)):
            raise ValueError(
                f"depth={depth} halves the {self.heatmap_size}x{self.heatmap_size} heatmap "
                f"{depth} times; input_size={self.input_size} must be a multiple of {4 * 2 ** int(depth)}"
            )
        self.num_stacks, self.filters, self.depth = int(num_stacks), int(filters), int(depth)
        f = self.filters
        self.stem_conv = ConvBNReLU(64, 7, strides=2, name="stem_conv")
        self.stem_res1 = ResidualModule(128, name="stem_res1")
        self.stem_pool = layers.MaxPooling2D(2, name="stem_pool")
        self.stem_res2 = ResidualModule(128, name="stem_res2")
        self.stem_res3 = ResidualModule(f, name="stem_res3")
        self.hourglasses, self.features, self.heads = [], [], []
        self.merge_features, self.merge_heatmaps = [], []
        for i in range(self.num_stacks):
            self.hourglasses.append(Hourglass(self.depth, f, name=f"hourglass{i}"))
            self.features.append([ResidualModule(f, name=f"stack{i}_res"),
                                  ConvBNReLU(f, 1, name=f"stack{i}_lin")])
            # Heads start near zero (N(0, 0.001), as in Xiao et al. 2018 / mmpose): with the default
            # Glorot init the first outputs are ~+-1 and the network spends thousands of steps
            # pushing them down (with this init it fits a batch many times faster).
            self.heads.append(layers.Conv2D(
                self.num_joints, 1, name=f"stack{i}_heatmaps",
                kernel_initializer=keras.initializers.RandomNormal(stddev=0.001)))
            if i < self.num_stacks - 1:
                self.merge_features.append(layers.Conv2D(f, 1, name=f"stack{i}_merge_features"))
                self.merge_heatmaps.append(layers.Conv2D(f, 1, name=f"stack{i}_merge_heatmaps"))

    @property
    def num_stages(self) -> int:
        return self.num_stacks

    def forward(self, x, training=None):
        x = self.stem_conv(x, training=training)
        x = self.stem_res1(x, training=training)
        x = self.stem_pool(x)
        x = self.stem_res2(x, training=training)
        x = self.stem_res3(x, training=training)
        outputs = []
        for i in range(self.num_stacks):
            y = self.hourglasses[i](x, training=training)
            res, lin = self.features[i]
            y = lin(res(y, training=training), training=training)
            heatmaps = self.heads[i](y)
            outputs.append(heatmaps)
            if i < self.num_stacks - 1:
                x = x + self.merge_features[i](y) + self.merge_heatmaps[i](heatmaps)
        return ops.stack(outputs, axis=1)

    def initialise_from(self, source: "StackedHourglass") -> None:
        """Starts from ``source``, a trained StackedHourglass of the same size that may have another
        skeleton (hourglass-lsp's LSP-14 continuing as an MPII-16 model). Everything but the joint
        channels is copied; a joint of this skeleton takes the channel of the source's joint of the
        same name (``zoo.skeletons.joint_mapping``) in each stack's head and in the 1x1 convolution
        that feeds the heatmaps back into the next stack; a joint the source lacks keeps its fresh
        initialisation and feeds nothing forward until trained, and a source joint this skeleton
        lacks (LSP's neck) is dropped with its feedback."""
        if not isinstance(source, StackedHourglass):
            raise ValueError(f"cannot start a StackedHourglass from a {type(source).__name__}")
        same = ("num_stacks", "filters", "depth")
        differ = [a for a in same if getattr(source, a) != getattr(self, a)]
        if differ:
            raise ValueError(f"cannot start from a StackedHourglass with other {differ}: "
                             f"{[getattr(source, a) for a in differ]} vs {[getattr(self, a) for a in differ]}")
        if source.skeleton.name == self.skeleton.name:
            return super().initialise_from(source)
        mapping = np.asarray(joint_mapping(source.skeleton, self.skeleton))
        shared = mapping >= 0
        joint_layers = {id(layer) for layer in self.heads + self.merge_heatmaps}
        for mine, theirs in zip(self._flat_layers(), source._flat_layers()):
            if id(mine) not in joint_layers:
                mine.set_weights(theirs.get_weights())
        for head, src in zip(self.heads, source.heads):  # output channels are joints
            kernel, bias = (np.asarray(w) for w in head.get_weights())
            src_kernel, src_bias = (np.asarray(w) for w in src.get_weights())
            kernel[..., shared], bias[shared] = src_kernel[..., mapping[shared]], src_bias[mapping[shared]]
            head.set_weights([kernel, bias])
        for merge, src in zip(self.merge_heatmaps, source.merge_heatmaps):  # input channels are joints
            kernel, bias = (np.asarray(w) for w in merge.get_weights())
            src_kernel = np.asarray(src.get_weights()[0])
            kernel[:, :, shared] = src_kernel[:, :, mapping[shared]]
            kernel[:, :, ~shared] = 0.0  # a fresh joint's maps feed nothing forward until trained
            merge.set_weights([kernel, np.asarray(src.get_weights()[1])])

    def _flat_layers(self):
        """This model's weight-carrying layers in build order (the stem, then stack by stack)."""
        stem = [self.stem_conv, self.stem_res1, self.stem_res2, self.stem_res3]
        stacks = [layer for i in range(self.num_stacks)
                  for layer in [self.hourglasses[i], *self.features[i], self.heads[i]]
                  + ([self.merge_features[i], self.merge_heatmaps[i]] if i < self.num_stacks - 1 else [])]
        return stem + stacks

    def get_config(self):
        return {**super().get_config(), "num_stacks": self.num_stacks, "filters": self.filters,
                "depth": self.depth}
