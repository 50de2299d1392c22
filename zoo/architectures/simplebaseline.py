"""SimpleBaseline: a pretrained backbone and a deconvolution head to stride-4 heatmaps.

Xiao, Wu, Wei. Simple Baselines for Human Pose Estimation and Tracking. ECCV 2018,
https://arxiv.org/abs/1804.06208. The paper's backbone is an ImageNet ResNet; here it is
EfficientNet-Lite (``zoo.backbones``, Tan & Le, ICML 2019), made for integer phone accelerators.
The head is ``deconv_layers`` x (4x4 transposed convolution, stride 2, BatchNorm, ReLU) then a
1x1 convolution to one heatmap per joint (Sec. 2); the output stride is the backbone feature
stride divided by ``2 ** deconv_layers``. The Gaussian targets, MSE loss, flip test and
quarter-offset decoding are the paper's; DARK decoding (Zhang et al. CVPR 2020) is an option of
``HeatmapPoseModel``.
"""

from __future__ import annotations

import keras
import numpy as np
from keras import layers, ops

from zoo.architectures.base import HeatmapPoseModel
from zoo.backbones.efficientnet_lite import IMAGENET_MEAN, IMAGENET_STD, EfficientNetLite
from zoo.skeletons import joint_mapping


@keras.saving.register_keras_serializable(package="zoo")
class SimpleBaseline(HeatmapPoseModel):
    """SimpleBaseline pose network on an EfficientNet-Lite backbone.

    Args:
        backbone: EfficientNet-Lite variant (``lite0`` ... ``lite4``).
        backbone_stride: stride of the backbone features the head reads (16 or 32).
        deconv_layers: number of stride-2 transposed convolutions (3 in the paper).
        head_filters: channels of each of them (256 in the paper).
        skeleton, input_size, sigma, decoder_blur, decoder, flip_test: see ``HeatmapPoseModel``;
            mean / std default to the backbone's ImageNet normalisation.

    Call returns ``(N, 1, S / stride, S / stride, K)`` heatmaps (one stage).

    Example:
        >>> model = SimpleBaseline(input_size=128, backbone_stride=32, deconv_layers=3)
        >>> from zoo.backbones import load_imagenet_weights
        >>> load_imagenet_weights(model.backbone)   # training starts from ImageNet
    """

    def __init__(self, backbone: str = "lite0", backbone_stride: int = 32, deconv_layers: int = 3,
                 head_filters: int = 256, **kwargs):
        if backbone_stride not in (8, 16, 32):
            raise ValueError(f"backbone_stride must be 8, 16 or 32, got {backbone_stride!r}")
        if int(deconv_layers) < 0 or backbone_stride % (2 ** int(deconv_layers)):
            raise ValueError(f"deconv_layers={deconv_layers!r} does not divide backbone_stride={backbone_stride}")
        kwargs.setdefault("mean", IMAGENET_MEAN)
        kwargs.setdefault("std", IMAGENET_STD)
        stride = backbone_stride // (2 ** int(deconv_layers))
        given = kwargs.pop("stride", stride)
        if given != stride:
            raise ValueError(f"the output stride is backbone_stride / 2**deconv_layers = {stride}, "
                             f"got stride={given!r}")
        super().__init__(stride=stride, **kwargs)
        if self.input_size % backbone_stride:
            raise ValueError(f"input_size={self.input_size} must be a multiple of backbone_stride={backbone_stride}")
        self.backbone_name, self.backbone_stride = backbone, int(backbone_stride)
        self.deconv_layers, self.head_filters = int(deconv_layers), int(head_filters)
        self.backbone = EfficientNetLite(backbone, feature_strides=(self.backbone_stride,), name="backbone")
        self.deconvs = []
        for i in range(self.deconv_layers):
            self.deconvs += [
                layers.Conv2DTranspose(self.head_filters, 4, strides=2, padding="same", use_bias=False,
                                       name=f"deconv{i + 1}"),
                layers.BatchNormalization(momentum=0.9, epsilon=1e-5, name=f"deconv{i + 1}_bn"),
            ]
        # The paper initialises the output layer with N(0, 0.001): small maps at the start.
        self.final = layers.Conv2D(self.num_joints, 1, name="heatmaps",
                                   kernel_initializer=keras.initializers.RandomNormal(stddev=0.001))

    def forward(self, x, training=None):
        (y,) = self.backbone(x, training=training)
        for deconv, bn in zip(self.deconvs[::2], self.deconvs[1::2]):
            y = ops.relu(bn(deconv(y), training=training))
        return self.final(y)[:, None]

    def initialise_from(self, source: "SimpleBaseline") -> None:
        """Starts from ``source``, a trained SimpleBaseline with the same backbone and number of
        deconvolutions; the head may be narrower. Each deconvolution keeps the ``head_filters``
        output channels with the largest BatchNorm scale |gamma| (the channel-importance
        criterion of Liu et al., "Learning Efficient Convolutional Networks through Network
        Slimming", ICCV 2017), and the next layer keeps the matching input channels. The input
        size may differ (the weights do not depend on it), and so may the skeleton: a joint of this
        model's skeleton takes the output channel of the source's joint of the same name
        (``zoo.skeletons.joint_mapping``, e.g. LSP-14 -> COCO-17's 12 limb joints); a joint the
        source lacks (COCO's face points) keeps its fresh initialisation."""
        if not isinstance(source, SimpleBaseline):
            raise ValueError(f"cannot start a SimpleBaseline from a {type(source).__name__}")
        same = ("backbone_name", "backbone_stride", "deconv_layers")
        differ = [a for a in same if getattr(source, a) != getattr(self, a)]
        if source.head_filters < self.head_filters:
            differ.append("head_filters")  # a head can be narrowed, not widened
        if differ:
            raise ValueError(f"cannot start from a SimpleBaseline with other {differ}: "
                             f"{[getattr(source, a) for a in differ]} vs {[getattr(self, a) for a in differ]}")
        self.backbone.set_weights(source.backbone.get_weights())
        keep = None  # input channels kept of the current layer (None: all, the backbone's features)
        for (deconv, bn), (src_deconv, src_bn) in zip(zip(self.deconvs[::2], self.deconvs[1::2]),
                                                      zip(source.deconvs[::2], source.deconvs[1::2])):
            gamma, beta, mean, var = (np.asarray(w) for w in src_bn.get_weights())
            out = np.sort(np.argsort(-np.abs(gamma), kind="stable")[:self.head_filters])
            kernel = np.asarray(src_deconv.kernel)  # (kh, kw, out, in) for a transposed convolution
            kernel = kernel[:, :, out] if keep is None else kernel[:, :, out][:, :, :, keep]
            deconv.kernel.assign(kernel)
            bn.set_weights([gamma[out], beta[out], mean[out], var[out]])
            keep = out
        kernel, bias = (np.asarray(w) for w in source.final.get_weights())
        kernel = kernel if keep is None else kernel[:, :, keep]
        mapping = np.asarray(joint_mapping(source.skeleton, self.skeleton))
        own_kernel, own_bias = (np.asarray(w) for w in self.final.get_weights())
        shared = mapping >= 0
        own_kernel[..., shared] = kernel[..., mapping[shared]]
        own_bias[shared] = bias[mapping[shared]]
        self.final.set_weights([own_kernel, own_bias])

    def get_config(self):
        config = {**super().get_config(), "backbone": self.backbone_name, "backbone_stride": self.backbone_stride,
                  "deconv_layers": self.deconv_layers, "head_filters": self.head_filters}
        config.pop("stride")  # follows from backbone_stride and deconv_layers
        return config
