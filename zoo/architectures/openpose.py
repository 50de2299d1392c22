"""OpenPose: bottom-up multi-person pose with part affinity fields.

Cao, Hidalgo, Simon, Wei, Sheikh. OpenPose: Realtime Multi-Person 2D Pose Estimation using Part
Affinity Fields. TPAMI 2019 (https://arxiv.org/abs/1812.08008); CVPR 2017
(https://arxiv.org/abs/1611.08050).

A backbone gives features F at stride 8; then ``paf_stages`` stages predict the part affinity
fields, each from F and the previous fields, and ``heatmap_stages`` stages predict the part
confidence maps from F, the last fields and the previous maps (the 2019 order: PAFs first,
Sec. 3.1). Every stage is stacked 3x3 convolutions and gets a loss. The people are parsed from the
last stage's outputs by ``zoo.codecs.paf_grouping.PafGrouping``, in TF ops with static shapes, so
the exported model takes an image and returns people.

Backbone: by default a small VGG-style stack of conv-BN-ReLU trained from scratch. The paper
starts from the first 10 layers of ImageNet-pretrained VGG-19 (stride 8) and two more
convolutions; with ``backbone="lite0"`` that role is taken by an ImageNet EfficientNet-Lite
(``zoo.backbones``): its stride-8 features and its stride-16 features upsampled x2, concatenated,
then one 3x3 convolution to ``backbone_filters[-1]`` channels (as CPM's feature stage).
"""

from __future__ import annotations

from typing import Sequence, Tuple

import keras
import numpy as np
from keras import layers, ops

from zoo.architectures.base import PoseModel
from zoo.backbones.efficientnet_lite import INT8_FLOAT_LAYERS, EfficientNetLite, optional_backbone
from zoo.codecs.paf import PafCodec
from zoo.layers.blocks import ConvBNReLU
from zoo.skeletons import joint_mapping
from zoo.tasks import BOTTOM_UP


@keras.saving.register_keras_serializable(package="zoo")
class OpenPose(PoseModel):
    """Multi-person pose: confidence maps + part affinity fields, grouped into people.

    Args:
        skeleton: skeleton name; its ``tree`` gives the limbs (one field each).
        input_size: side of the square input image.
        backbone_filters: filters of the three resolutions of the backbone (strides 2, 4, 8); with
            an ImageNet ``backbone`` only the last, the width of the features the stages read.
        backbone: empty: the small backbone above, trained from scratch; ``lite0`` (or another
            ``zoo.backbones`` variant): EfficientNet-Lite features (ImageNet weights loaded by
            ``zoo.backbones.load_imagenet_weights``); mean / std then default to its normalisation.
        stage_filters: filters of the stage convolutions.
        stage_convs: 3x3 convolutions per stage (then a 1x1 to the outputs).
        paf_stages, heatmap_stages: number of PAF and confidence-map stages.
        upsample: the last maps are resized by this factor before grouping (peaks at stride
            ``8 / upsample``, as the authors' code upsamples before parsing).
        max_people, max_candidates: static maxima of the grouping (people per image, peaks per
            part).
        peak_threshold, min_parts, min_mean_score: grouping thresholds (see ``PafGrouping``).
        sigma, limb_width: the targets' confidence-map sigma and limb half-width, in cells (the
            codec's, ``PafCodec``; training encodes its targets with ``self.codec``).
        mean, std: per-channel normalisation of ``pixels / 255``.

    Call: uint8 / float RGB ``(N, S, S, 3)`` -> ``{"pafs": (N, paf_stages, S/8, S/8, 2L),
    "heatmaps": (N, heatmap_stages, S/8, S/8, K)}``.

    Example:
        >>> model = zoo.load("openpose-lsp")
        >>> people, scores = model.predict_people(image)  # uint8 (H, W, 3), any size
    """

    task = BOTTOM_UP
    stride = 8
    #: The grouping (coordinate arithmetic, matching) stays float32 in int8 TFLite files.
    float_layers: Tuple[str, ...] = ("grouping", "decoder")
    #: The network alone: the last stage's maps at stride 8 (``export_outputs(decode=False)``).
    raw_output_names: Tuple[str, ...] = ("heatmaps", "pafs")

    def __init__(self, skeleton: str = "lsp14", input_size: int = 256,
                 backbone_filters: Sequence[int] = (24, 48, 96), stage_filters: int = 64,
                 stage_convs: int = 4, paf_stages: int = 2, heatmap_stages: int = 1, upsample: int = 2,
                 max_people: int = 10, max_candidates: int = 10, peak_threshold: float = 0.15,
                 min_parts: int = 3, min_mean_score: float = 0.25, sigma: float = 1.0, limb_width: float = 1.0,
                 backbone: str = "", **kwargs):
        backbone = optional_backbone(backbone, kwargs)
        super().__init__(skeleton=skeleton, input_size=input_size, **kwargs)
        if not self.skeleton.tree:
            raise ValueError(f"skeleton {skeleton!r} has no tree of limbs; OpenPose needs one")
        if self.input_size % (16 if backbone else self.stride):
            raise ValueError(f"input_size must be a positive multiple of {16 if backbone else self.stride}"
                             f"{' with a backbone' if backbone else ''}, got {input_size!r}")
        if len(backbone_filters) != 3 or min(backbone_filters) < 1:
            raise ValueError(f"backbone_filters needs 3 positive values (strides 2, 4, 8), got {backbone_filters!r}")
        for name, value in (("stage_filters", stage_filters), ("stage_convs", stage_convs),
                            ("paf_stages", paf_stages), ("heatmap_stages", heatmap_stages),
                            ("upsample", upsample), ("max_people", max_people),
                            ("max_candidates", max_candidates)):
            if int(value) < 1:
                raise ValueError(f"{name} must be >= 1, got {value!r}")
        if backbone:  # the ImageNet backbone's op that int8 handles worst stays float32 too
            self.float_layers = type(self).float_layers + INT8_FLOAT_LAYERS
        self.backbone_filters = tuple(int(f) for f in backbone_filters)
        self.stage_filters, self.stage_convs = int(stage_filters), int(stage_convs)
        self.paf_stages, self.heatmap_stages = int(paf_stages), int(heatmap_stages)
        self.upsample = int(upsample)
        self.max_people, self.max_candidates = int(max_people), int(max_candidates)
        self.peak_threshold, self.min_parts = float(peak_threshold), int(min_parts)
        self.min_mean_score = float(min_mean_score)
        self.codec = PafCodec(skeleton=self.skeleton.name, input_size=self.input_size, stride=self.stride,
                              sigma=float(sigma), limb_width=float(limb_width))
        self.limbs = self.skeleton.tree_index
        self.num_limbs = len(self.limbs)

        self.backbone_name = backbone
        f1, f2, f3 = self.backbone_filters
        if backbone:
            self.backbone = EfficientNetLite(backbone, feature_strides=(8, 16), name="backbone")
            self.backbone_up16 = layers.UpSampling2D(2, interpolation="bilinear", name="backbone_up16")
            self.backbone_reduce = ConvBNReLU(f3, 3, name="backbone_reduce")
        else:
            self.backbone = [
                ConvBNReLU(f1, 3, strides=2, name="backbone_s2"),
                ConvBNReLU(f2, 3, strides=2, name="backbone_s4a"), ConvBNReLU(f2, 3, name="backbone_s4b"),
                ConvBNReLU(f3, 3, strides=2, name="backbone_s8a"), ConvBNReLU(f3, 3, name="backbone_s8b"),
                ConvBNReLU(f3, 3, name="backbone_s8c"),
            ]
        self.paf_blocks = [self._stage(f"paf_stage{i + 1}", 2 * self.num_limbs) for i in range(self.paf_stages)]
        self.heatmap_blocks = [self._stage(f"heatmap_stage{i + 1}", self.num_joints)
                               for i in range(self.heatmap_stages)]

    def _stage(self, name, outputs):
        convs = [ConvBNReLU(self.stage_filters, 3, name=f"{name}_conv{j + 1}") for j in range(self.stage_convs)]
        # Small output weights: with the default Glorot init the first outputs are O(1) on every
        # cell, the loss then drives them to zero and training stalls at the all-zero prediction
        # (with this init a batch is fit quickly).
        init = keras.initializers.RandomNormal(stddev=0.01)
        return convs + [layers.Conv2D(outputs, 1, kernel_initializer=init, name=f"{name}_out")]

    @staticmethod
    def _run(block, x, training):
        for layer in block[:-1]:
            x = layer(x, training=training)
        return block[-1](x)

    def call(self, images, training=None):
        x = self.normalise(images)
        if self.backbone_name:
            f8, f16 = self.backbone(x, training=training)
            x = self.backbone_reduce(ops.concatenate([f8, self.backbone_up16(f16)], axis=-1), training=training)
        else:
            for layer in self.backbone:
                x = layer(x, training=training)
        features = x
        pafs = []
        for block in self.paf_blocks:
            inputs = features if not pafs else ops.concatenate([features, pafs[-1]], axis=-1)
            pafs.append(self._run(block, inputs, training))
        maps = []
        for block in self.heatmap_blocks:
            parts = [features, pafs[-1]] + maps[-1:]
            maps.append(self._run(block, ops.concatenate(parts, axis=-1), training))
        return {"pafs": ops.stack(pafs, axis=1), "heatmaps": ops.stack(maps, axis=1)}

    @property
    def map_size(self) -> int:
        return self.input_size // self.stride

    @property
    def grouping(self):
        """The ``PafGrouping`` layer (no weights; made on first use)."""
        if "_grouping" not in self.__dict__:
            from zoo.codecs.paf_grouping import PafGrouping

            self.__dict__["_grouping"] = PafGrouping(
                tree=self.limbs, stride=self.stride / self.upsample, max_people=self.max_people,
                max_candidates=self.max_candidates, peak_threshold=self.peak_threshold,
                min_parts=self.min_parts, min_mean_score=self.min_mean_score, name="grouping")
        return self.__dict__["_grouping"]

    def grouping_maps(self, outputs):
        """The last stage's maps resized by ``upsample`` (bilinear, half-pixel centres), the
        grouping's input: ``(heatmaps (N, h, w, K), pafs (N, h, w, 2L))``."""
        import tensorflow as tf

        size = self.map_size * self.upsample
        heatmaps = outputs["heatmaps"][:, -1]
        pafs = outputs["pafs"][:, -1]
        with tf.name_scope("decoder"):  # float32 in int8 files (float_layers)
            if self.upsample > 1:
                heatmaps = tf.image.resize(heatmaps, [size, size], method="bilinear")
                pafs = tf.image.resize(pafs, [size, size], method="bilinear")
        return heatmaps, pafs

    def people(self, images):
        """Graph-friendly prediction: ``(people (N, P, K, 3): x, y input pixels and score;
        scores (N, P))``, empty slots all zero, people sorted by score."""
        heatmaps, pafs = self.grouping_maps(self(images, training=False))
        return self.grouping(heatmaps, pafs)

    def raw_outputs(self, images):
        maps = self(images, training=False)
        return maps["heatmaps"][:, -1], maps["pafs"][:, -1]

    def predict_people(self, image) -> Tuple[np.ndarray, np.ndarray]:
        """People in one uint8 RGB image ``(H, W, 3)`` of any size.

        The image is letterboxed to ``input_size`` (longer side scaled, centred, zero padding);
        returns ``(people (P, K, 3), scores (P,))`` with x, y in *image* pixels, only the people
        found (P <= ``max_people``), best first; a joint a person lacks has score 0.
        """
        from zoo.preprocess import letterbox, people_to_image

        image = np.asarray(image)
        if image.ndim != 3 or image.shape[-1] != 3 or min(image.shape[:2]) < 1:
            raise ValueError(f"predict_people expects one RGB image (H, W, 3), got shape {image.shape}"
                             + ("; for a batch call it once per image" if image.ndim == 4 else ""))
        if image.dtype != np.uint8:
            raise ValueError(f"predict_people expects uint8 pixels, got {image.dtype}")
        boxed, to_image = letterbox(image, self.input_size)
        people, scores = self.graph_function("people")(ops.convert_to_tensor(boxed[None], "float32"))
        return people_to_image(ops.convert_to_numpy(people)[0], ops.convert_to_numpy(scores)[0], to_image)

    def initialise_from(self, source: "OpenPose") -> None:
        """Starts from ``source``, a trained OpenPose of the same size that may have another
        skeleton (openpose-lsp@2's LSP-14 continuing as a COCO-17 model), as
        ``StackedHourglass.initialise_from`` does for joints. The backbone and every stage's
        convolutions are copied; a confidence-map channel takes the source's joint of the same
        name (``zoo.skeletons.joint_mapping``), and a field's x, y channels those of the source's
        limb joining the same two joints, negated where the source's limb points the other way
        (a field runs parent -> child). Where a stage reads the previous fields or maps, its first
        convolution's input channels are mapped alike. An output without a source keeps its
        fresh initialisation, and reads nothing forward (zero kernel) until trained."""
        if not isinstance(source, OpenPose):
            raise ValueError(f"cannot start an OpenPose from a {type(source).__name__}")
        same = ("backbone_name", "backbone_filters", "stage_filters", "stage_convs", "paf_stages", "heatmap_stages")
        differ = [a for a in same if getattr(source, a) != getattr(self, a)]
        if differ:
            raise ValueError(f"cannot start from an OpenPose with other {differ}: "
                             f"{[getattr(source, a) for a in differ]} vs {[getattr(self, a) for a in differ]}")
        if source.skeleton.name == self.skeleton.name:
            return super().initialise_from(source)
        joints, limbs, signs = self._channel_sources(source)
        f = self.backbone_filters[-1]
        features = (np.arange(f), np.ones(f))
        fields = (np.where(limbs >= 0, limbs + f, -1), signs)
        maps = (np.where(joints >= 0, joints + f + 2 * source.num_limbs, -1), (joints >= 0).astype(float))
        for mine, src in zip(self._backbone_layers(), source._backbone_layers()):
            mine.set_weights(src.get_weights())
        for i, (block, src) in enumerate(zip(self.paf_blocks, source.paf_blocks)):
            inputs = features if i == 0 else _joined(features, fields)
            _copy_stage(block, src, inputs, (limbs, signs))
        for i, (block, src) in enumerate(zip(self.heatmap_blocks, source.heatmap_blocks)):
            inputs = _joined(features, fields) if i == 0 else _joined(features, fields, maps)
            _copy_stage(block, src, inputs, (joints, (joints >= 0).astype(float)))

    def _backbone_layers(self):
        return [self.backbone, self.backbone_reduce] if self.backbone_name else list(self.backbone)

    def _channel_sources(self, source: "OpenPose"):
        """For this model's joints, the source's joint of the same name (-1: none); for each of its
        ``2L`` field channels, the source's channel of the same limb (-1: none) and the sign."""
        joints = np.asarray(joint_mapping(source.skeleton, self.skeleton))
        theirs = list(source.skeleton.tree)
        limbs, signs = [], []
        for a, b in self.skeleton.tree:
            if (a, b) in theirs or (b, a) in theirs:
                forward = (a, b) in theirs
                limb = theirs.index((a, b) if forward else (b, a))
                limbs += [2 * limb, 2 * limb + 1]
                signs += [1.0 if forward else -1.0] * 2
            else:
                limbs += [-1, -1]
                signs += [0.0, 0.0]
        return joints, np.asarray(limbs), np.asarray(signs)

    def get_config(self):
        return {"skeleton": self.skeleton.name, "input_size": self.input_size,
                "backbone_filters": list(self.backbone_filters), "stage_filters": self.stage_filters,
                "stage_convs": self.stage_convs, "paf_stages": self.paf_stages,
                "heatmap_stages": self.heatmap_stages, "upsample": self.upsample,
                "max_people": self.max_people, "max_candidates": self.max_candidates,
                "peak_threshold": self.peak_threshold, "min_parts": self.min_parts,
                "min_mean_score": self.min_mean_score, "sigma": self.codec.sigma,
                "limb_width": self.codec.limb_width, "mean": list(self.mean), "std": list(self.std),
                "backbone": self.backbone_name, "name": self.name}


def _joined(*parts):
    """The channel sources ``(index, sign)`` of a concatenation of inputs."""
    return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])


def _mapped(mine, theirs, index, sign, axis: int):
    """``mine`` with its slices along ``axis`` taken from ``theirs`` at ``index`` times ``sign``,
    where ``index >= 0``; elsewhere left as they are."""
    mine, theirs = np.array(mine), np.asarray(theirs)
    known = index >= 0
    taken = np.take(theirs, index[known], axis=axis)
    shape = [1] * theirs.ndim
    shape[axis] = int(known.sum())
    slicer = [slice(None)] * mine.ndim
    slicer[axis] = known
    mine[tuple(slicer)] = taken * sign[known].reshape(shape)
    return mine


def _copy_stage(block, source_block, inputs, outputs) -> None:
    """One stage from the source's: its first convolution's input channels by ``inputs``
    ``(index, sign)`` (unmapped inputs read nothing), the hidden convolutions as they are, its
    output convolution's channels by ``outputs``."""
    first, src_first = block[0], source_block[0]
    kernel = np.zeros_like(np.asarray(first.conv.kernel))
    first.conv.kernel.assign(_mapped(kernel, np.asarray(src_first.conv.kernel), *inputs, axis=2))
    first.bn.set_weights(src_first.bn.get_weights())
    for mine, theirs in zip(block[1:-1], source_block[1:-1]):
        mine.set_weights(theirs.get_weights())
    kernel, bias = (np.asarray(w) for w in block[-1].get_weights())
    src_kernel, src_bias = (np.asarray(w) for w in source_block[-1].get_weights())
    block[-1].set_weights([_mapped(kernel, src_kernel, *outputs, axis=3), _mapped(bias, src_bias, *outputs, axis=0)])
