"""The model contract every zoo architecture implements, and the shared top-down bases.

``PoseModel`` says what a model is, so no code elsewhere has to probe it: its ``task``
(``zoo.tasks``: single-person top-down or multi-person bottom-up), its ``codec`` (built from the
model's own configuration; training encodes its targets with this same object, so targets and
decoding cannot drift), its serving contract (``export_outputs``: the graph every exporter
traces, with decoding or as the network alone; ``float_layers``: what stays float in int8 files),
its compiled prediction functions (``graph_function``) and the parts that can be switched off to
measure their cost (``components`` / ``bypassing``).

``TopDownPoseModel`` adds what every single-person model shares (``keypoints`` /
``stage_keypoints`` / ``predict_keypoints``); ``HeatmapPoseModel`` adds heatmap outputs decoded by
``HeatmapDecoder``. Regression models (DeepPose) derive from ``TopDownPoseModel`` directly,
bottom-up models (OpenPose) from ``PoseModel``.
"""

from __future__ import annotations

import contextlib
from typing import Callable, Dict, Sequence, Tuple

import keras
import numpy as np
from keras import ops

from zoo.codecs.heatmap import HeatmapCodec
from zoo.skeletons import get_skeleton
from zoo.tasks import TOP_DOWN, Task

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


@contextlib.contextmanager
def edge_formulation(model):
    """Inside this block, layers that compute something two ways (an ``edge_ops`` attribute, e.g.
    the spatial model's FFT convolution in TensorFlow vs. its depthwise convolution) use the one
    made of TFLite / ONNX builtin ops. The exporters trace their graphs inside it."""
    found = [layer for layer in model._flatten_layers() if hasattr(layer, "edge_ops")]
    for layer in found:
        layer.edge_ops = True
    try:
        yield model
    finally:
        for layer in found:
            layer.edge_ops = False


def square_image_signature(model):
    """A ``tf.function`` calling ``model`` on float32 images ``(N, S, S, 3)``, ``S = model.input_size``:
    the SavedModel default signature of the zoo's models (Keras would use the shape passed to
    ``build``, which may be ``None``)."""
    import tensorflow as tf

    s = model.input_size

    @tf.function(input_signature=[tf.TensorSpec((None, s, s, 3), tf.float32)])
    def serving_default(inputs):
        return model(inputs)

    return serving_default


class PoseModel(keras.Model):
    """The contract of a zoo model: raw-pixel input, a task, a codec and a serving graph.

    Images enter as float RGB in ``[0, 255]`` (or uint8) at ``input_size`` x ``input_size``; the
    model normalises them itself, so every exported graph takes raw pixels.

    Subclasses set ``self.codec`` in ``__init__`` (from their own build arguments) and define
    ``raw_outputs(images)`` and the task's ``graph_method`` (``keypoints`` or ``people``).

    Args:
        skeleton: skeleton name (``lsp14``, ``mpii16``, ...), fixes the number of joints.
        input_size: side of the square input.
        mean, std: per-channel normalisation of ``pixels / 255``.
    """

    #: What the model does (``zoo.tasks``); decides evaluation, calibration, parity and training.
    task: Task = TOP_DOWN
    #: Name fragments of layers whose ops stay float32 in the int8 TFLite file (decoding and
    #: coordinate arithmetic, which an 8-bit grid would ruin).
    float_layers: Tuple[str, ...] = ("decoder",)
    #: Output names of the network alone (``export_outputs(images, decode=False)``).
    raw_output_names: Tuple[str, ...] = ("heatmaps",)
    #: Parts that ``bypassing`` can switch off (to measure what they cost).
    components: Tuple[str, ...] = ()
    #: The published spec of a model loaded with ``zoo.load`` (set by ``zoo.registry.build``);
    #: None for a model built directly.
    spec = None

    def __init__(self, skeleton: str = "lsp14", input_size: int = 128,
                 mean: Sequence[float] = IMAGENET_MEAN, std: Sequence[float] = IMAGENET_STD,
                 **kwargs):
        super().__init__(**kwargs)
        self.skeleton = get_skeleton(skeleton)
        if int(input_size) <= 0:
            raise ValueError(f"input_size must be a positive integer, got {input_size!r}")
        if len(mean) != 3 or len(std) != 3:
            raise ValueError(f"mean and std need 3 values (RGB), got mean={mean!r}, std={std!r}")
        self.input_size = int(input_size)
        self.mean = tuple(float(m) for m in mean)
        self.std = tuple(float(s) for s in std)
        self.num_joints = self.skeleton.num_joints

    def build(self, input_shape=None):
        """Creates every weight by running the network once on a zero image."""
        if not self.built:
            self.built = True  # set first: call() below would otherwise recurse into build()
            self.call(ops.zeros((1, self.input_size, self.input_size, 3), "float32"), training=False)

    @property
    def _default_save_signature(self):
        """SavedModel default signature with the input shape of the config (Keras would use the
        shape passed to ``build``, which may be ``None``)."""
        return square_image_signature(self)

    def normalise(self, images):
        x = ops.cast(images, "float32") / 255.0
        mean = ops.convert_to_tensor(np.array(self.mean, "float32"))
        std = ops.convert_to_tensor(np.array(self.std, "float32"))
        return (x - mean) / std

    # -- serving contract ------------------------------------------------------------------
    def export_output_names(self, decode: bool = True) -> Tuple[str, ...]:
        """Names of the exported graph's outputs: the task's (decoded) or ``raw_output_names``."""
        return self.task.output_names if decode else self.raw_output_names

    def raw_outputs(self, images) -> Tuple:
        """The network alone, without decoding: the last stage's outputs, ``raw_output_names``."""
        raise TypeError(f"{type(self).__name__} must define raw_outputs(images)")

    def export_outputs(self, images, decode: bool = True) -> Dict:
        """The exported graph for float32 RGB ``images (N, S, S, 3)`` in ``[0, 255]``: with
        ``decode``, the task's outputs (``{"keypoints", "scores"}`` or ``{"people", "scores"}``,
        decoding and grouping inside); without, the network's own maps (for timing what the
        decoding costs, or for an app that decodes itself). The SavedModel, TFLite and ONNX
        exporters all trace this function, so their graphs are the same."""
        values = getattr(self, self.task.graph_method)(images) if decode else self.raw_outputs(images)
        return dict(zip(self.export_output_names(decode), values))

    def codec_config(self) -> Dict:
        """The codec's parameters (recorded in the spec, the card and every export's metadata)."""
        return self.codec.to_dict()

    # -- prediction ------------------------------------------------------------------------
    def graph_function(self, method: str):
        """``tf.function`` of ``self.<method>`` (e.g. ``keypoints``, ``stage_keypoints``,
        ``people``), traced once per model and reused: graph-mode prediction on float32 batches."""
        cache = self.__dict__.setdefault("_compiled_fns", {})
        if method not in cache:
            import tensorflow as tf

            cache[method] = tf.function(getattr(self, method), reduce_retracing=True)
        return cache[method]

    # -- components ------------------------------------------------------------------------
    @contextlib.contextmanager
    def bypassing(self, component: str):
        """Inside this block the model runs without ``component`` (one of ``components``, e.g.
        Tompson's ``spatial_model``); for measuring what that part costs and gives."""
        if component not in self.components:
            raise ValueError(f"{type(self).__name__} has no component {component!r} to bypass; "
                             f"it has {list(self.components) or 'none'}")
        self._set_bypassed(component, True)
        try:
            yield self
        finally:
            self._set_bypassed(component, False)

    def _set_bypassed(self, component: str, bypassed: bool) -> None:
        raise TypeError(f"{type(self).__name__} lists components but does not define _set_bypassed")

    # -- initialisation --------------------------------------------------------------------
    def initialise_from(self, source: "PoseModel") -> None:
        """Starts this model from ``source``'s weights (a published version a recipe continues).
        Here: the same architecture and weight shapes, copied as they are. Architectures that can
        start from a differently sized model (SimpleBaseline's narrower head) override it."""
        mine, theirs = self.get_weights(), source.get_weights()
        shapes = [w.shape for w in mine], [w.shape for w in theirs]
        if type(source) is not type(self) or shapes[0] != shapes[1]:
            raise ValueError(f"cannot start a {type(self).__name__} from a {type(source).__name__} with other "
                             "weight shapes; use the same build arguments as the model it continues")
        self.set_weights(theirs)

    def get_config(self):
        return {"skeleton": self.skeleton.name, "input_size": self.input_size,
                "mean": list(self.mean), "std": list(self.std), "name": self.name}


class TopDownPoseModel(PoseModel):
    """A single-person model: an RGB crop of the person in, one keypoint per joint out.

    Subclasses define ``stage_keypoints(images)`` (the estimate after every stage, for per-stage
    evaluation). Args: see ``PoseModel``.
    """

    task = TOP_DOWN
    #: Stages whose outputs are each supervised and evaluated (cascades, stacks); set by
    #: multi-stage subclasses.
    num_stages: int = 1

    def keypoints(self, images):
        """Graph-friendly prediction: ``(keypoints (N, K, 2) input pixels, scores (N, K))``."""
        keypoints, scores = self.stage_keypoints(images)
        return keypoints[:, -1], scores[:, -1]

    def stage_keypoints(self, images):
        """The estimate after every stage: ``(keypoints (N, S, K, 2), scores (N, S, K))``."""
        raise TypeError(f"{type(self).__name__} must define stage_keypoints(images)")

    def own_stage_errors(self) -> Dict[int, Callable]:
        """The stages whose loss the model defines itself (its ``compute_loss``), as ``{stage index
        (0 = stage 1): fn(y_true, y_pred) -> per-joint error (B, K)}``. Training reports these as
        the stage's loss metric in place of the codec's stage error, which would compare that
        stage's output with targets it is not trained on. Default: none."""
        return {}

    def predict_keypoints(self, images, batch_size: int = 32) -> Tuple[np.ndarray, np.ndarray]:
        """Predicts keypoints on a uint8 RGB batch ``(N, S, S, 3)`` at the model's input size.

        Returns ``(keypoints (N, K, 2), scores (N, K))`` as NumPy arrays, keypoints in input
        pixels, joints in the order of ``self.skeleton``.
        """
        images = np.asarray(images)
        if images.ndim == 3:
            raise ValueError(
                f"predict_keypoints expects a batch (N, {self.input_size}, {self.input_size}, 3); "
                f"got one image of shape {images.shape}: use images[None]"
            )
        if images.ndim != 4 or images.shape[1:] != (self.input_size, self.input_size, 3):
            raise ValueError(
                f"predict_keypoints expects RGB images of shape (N, {self.input_size}, "
                f"{self.input_size}, 3); got {images.shape}. Crop/resize the person first "
                "(zoo.preprocess.crop_person)."
            )
        predict = self.graph_function("keypoints")
        kps, scs = [], []
        for start in range(0, len(images), batch_size):
            k, s = predict(ops.convert_to_tensor(images[start:start + batch_size], "float32"))
            kps.append(ops.convert_to_numpy(k))
            scs.append(ops.convert_to_numpy(s))
        if not kps:
            return (np.zeros((0, self.num_joints, 2), "float32"), np.zeros((0, self.num_joints), "float32"))
        return np.concatenate(kps), np.concatenate(scs)


    def predict_people(self, image, detector=None, refine: bool = True, min_box_score=None
                       ) -> Tuple[np.ndarray, np.ndarray]:
        """Every person in one uint8 RGB image ``(H, W, 3)`` of any size, top-down: the person
        detector's boxes (``zoo.detectors.person_boxes``; ``detector`` a loaded one, default the
        published ``person-detector``), then this model on each box's crop, in one batch
        (``zoo.people.top_down_people``). Returns ``(people (P, K, 3) x, y image pixels and joint
        score, person scores (P,))``, best first, as the bottom-up models' ``predict_people``;
        ``P = 0`` when nobody is found."""
        from zoo.detectors import person_boxes
        from zoo.people import top_down_people

        image = np.asarray(image)
        if image.ndim != 3 or image.shape[-1] != 3 or min(image.shape[:2]) < 1:
            raise ValueError(f"predict_people expects one RGB image (H, W, 3), got shape {image.shape}")
        boxes, box_scores = person_boxes(image, detector, min_score=min_box_score)
        people, scores = top_down_people(image, boxes, box_scores, self.predict_keypoints, self.input_size, refine)
        if len(people) == 0:
            return np.zeros((0, self.num_joints, 3), np.float32), scores
        return people, scores


class HeatmapPoseModel(TopDownPoseModel):
    """A single-person model that maps an RGB crop to one heatmap per joint.

    Subclasses implement ``forward(normalised_images, training)`` returning the maps of every
    stage stacked as ``(N, stages, H, W, C)``; the last stage is the prediction, all stages are
    supervised. The first ``K`` channels are the joints; a model may add more (CPM's background
    map), which the decoder ignores.

    Args:
        stride: input pixels per heatmap cell.
        sigma: Gaussian sigma of the heatmap targets, in cells (the codec's; training encodes
            its targets with ``self.codec``).
        decoder_blur: Gaussian smoothing (cells) of the maps before decoding (``HeatmapDecoder``'s
            ``blur_sigma``; 0: none).
        subpixel: sub-pixel refinement of the maximum, ``quarter`` (Newell et al.) or ``dark``
            (Zhang et al. CVPR 2020's Taylor step; ``HeatmapDecoder``).
        flip_test: average the heatmaps with those of the mirrored image, flipped back and with
            left/right joints swapped (Newell et al. 2016 Sec. 5; Xiao et al. 2018 Sec. 4), one
            forward pass on a batch of both; inside every exported graph.
        skeleton, input_size, mean, std: see ``TopDownPoseModel``.
    """

    def __init__(self, stride: int = 4, sigma: float = 1.5, decoder_blur: float = 0.0, subpixel: str = "quarter",
                 flip_test: bool = False, **kwargs):
        super().__init__(**kwargs)
        if int(stride) <= 0 or self.input_size % int(stride):
            raise ValueError(f"input_size must be a positive multiple of stride={stride}, got {self.input_size!r}")
        self.stride = int(stride)
        self.decoder_blur = float(decoder_blur)
        self.codec = HeatmapCodec(input_size=self.input_size, heatmap_size=self.input_size // self.stride,
                                  sigma=float(sigma))
        self.flip_test = bool(flip_test)
        self.decoder = self.codec.decoder(blur_sigma=self.decoder_blur, subpixel=subpixel, name="decoder")

    @property
    def heatmap_size(self) -> int:
        return self.input_size // self.stride

    def forward(self, x, training=None):
        """Normalised images -> heatmaps of every stage ``(N, stages, H, W, C)``; subclasses define it."""
        raise TypeError(f"{type(self).__name__} must define forward(x, training)")

    def call(self, images, training=None):
        return self.forward(self.normalise(images), training=training)

    def heatmaps(self, images, training=False):
        """Joint heatmaps of the last stage, ``(N, H, W, K)``."""
        return self(images, training=training)[:, -1, :, :, :self.num_joints]

    def raw_outputs(self, images):
        return (self.heatmaps(images, training=False),)

    def _flip_averaged(self, predict, images):
        """``predict(images)`` (maps with joints on the last axis, columns on the one before),
        averaged with ``predict`` of the mirrored images flipped back, joints swapped; one
        forward pass on both. Inside the ``decoder`` name scope (float32 in int8 files)."""
        if not self.flip_test:
            return predict(images)
        n = ops.shape(images)[0]
        both = predict(ops.concatenate([images, ops.flip(images, axis=2)], axis=0))
        direct, mirrored = both[:n], both[n:]
        with keras.name_scope("decoder"):
            mirrored = ops.take(ops.flip(mirrored, axis=-2), list(self.skeleton.flip_index), axis=-1)
            return 0.5 * (direct + mirrored)

    def keypoints(self, images):
        return self.decoder(self._flip_averaged(lambda x: self.heatmaps(x, training=False), images))

    def stage_keypoints(self, images):
        maps = self._flip_averaged(lambda x: self(x, training=False)[..., :self.num_joints], images)
        n_stages = maps.shape[1]
        decoded = [self.decoder(maps[:, i]) for i in range(n_stages)]
        return (ops.stack([d[0] for d in decoded], axis=1), ops.stack([d[1] for d in decoded], axis=1))

    def get_config(self):
        config = {**super().get_config(), "stride": self.stride, "sigma": self.codec.sigma}
        if self.decoder_blur:
            config["decoder_blur"] = self.decoder_blur
        if self.decoder.subpixel != "quarter":
            config["subpixel"] = self.decoder.subpixel
        if self.flip_test:
            config["flip_test"] = True
        return config
