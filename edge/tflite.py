"""TFLite conversion (float32, float16, dynamic-range, full-integer int8) with decoding inside.

Every ``.tflite`` takes one uint8 RGB image ``images (1, S, S, 3)`` and returns ``keypoints
(1, K, 2)`` in input pixels and ``scores (1, K)`` as separate outputs (so int8 scales of the
two never mix). Only TFLite builtin ops are allowed (no Flex / select TF ops): the file runs on
a phone's stock LiteRT runtime. It is run here with ``ai_edge_litert`` (``tf.lite.Interpreter``
is deprecated).

A bottom-up model (OpenPose) takes one letterboxed image ``images (1, S, S, 3)`` and returns
``people (1, P, K, 3)`` and ``scores (1, P)``; its decoder (map upsampling) and grouping
(``zoo.codecs.paf_grouping.PafGrouping``) are inside the graph and stay float32 in the int8 file.
The batch dimension of every ``.tflite`` is 1. The graph is the model's ``export_outputs``
(``edge.saved_model``); with ``decode=False``, the network alone. The steps shared with the
person detector's conversion (precisions, the builtin-op check, selective int8 quantisation) are
in ``edge.tflite_conversion``.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from typing import Iterable, List, Optional

import numpy as np

from edge.tflite_conversion import (
    PRECISIONS,
    float_region,
    quantise_around_float_region,
    quantised_ops_in,
    saved_model_for_conversion,
)
from zoo.tasks import INPUT_NAME, KEYPOINT_OUTPUTS, PEOPLE_OUTPUTS

#: Threads of the runners (``TFLiteRunner``, ``edge.parity.runner_for``) and of the latency
#: measurements unless told otherwise.
DEFAULT_THREADS = 2


def convert(model, precision: str = "float32", calibration: Optional[Iterable[np.ndarray]] = None,
            int8_io: bool = False, float_decoder: bool = True, decode: bool = True) -> bytes:
    """Converts a zoo model to TFLite bytes.

    Args:
        model: a zoo model (``zoo.architectures.base.PoseModel``), top-down or bottom-up.
        precision: ``float32``, ``float16`` (weights in fp16), ``dynamic`` (int8 weights, float
            activations) or ``int8`` (full-integer, calibrated on ``calibration``).
        calibration: uint8 RGB crops ``(S, S, 3)`` from the training pipeline (int8 only).
        int8_io: int8 only: the input tensor is ``int8`` (pixel - 128) instead of ``uint8`` and the
            two outputs are ``int8`` with their own scales (dequantise with the tensors'
            quantisation parameters; ``TFLiteRunner`` does). The decoder is then quantised too.
        float_decoder: int8 only: keep the decoding ops (argmax mask, quarter shift, pixel
            mapping) in float32 while every convolution runs in int8. A fully int8 decoder puts
            keypoint coordinates on an 8-bit grid and breaks ties of quantised heatmap maxima.
            Bottom-up models need it (and no ``int8_io``): their grouping must stay float
            (``edge.tasks``: ``int8_io``).
        decode: the task's outputs (``model.export_output_names()``); False: the network alone
            (``model.raw_output_names``), e.g. to time what the decoding costs.
    """
    import tensorflow as tf

    from edge.tasks import edge_task

    if precision not in PRECISIONS:
        raise ValueError(f"unknown precision {precision!r}; choose from {list(PRECISIONS)}")
    if precision != "int8" and int8_io:
        raise ValueError("int8_io applies to precision='int8' only")
    full_int = precision == "int8"
    refusal = edge_task(model.task).int8_io
    if full_int and (int8_io or not float_decoder) and refusal:
        raise ValueError(f"{type(model).__name__}: {refusal}")
    if full_int:
        calibration = list(calibration) if calibration is not None else []
        if not calibration:
            raise ValueError("precision='int8' needs calibration images (real crops)")
    if full_int and float_decoder and not int8_io:
        return _convert_int8_float_decoder(model, calibration, decode)
    folder = tempfile.mkdtemp(prefix="posezoo_tflite_")
    try:
        saved_model_for_conversion(model, float_input=full_int, folder=folder, decode=decode)
        conv = tf.lite.TFLiteConverter.from_saved_model(folder, signature_keys=["serving_default"])
        _set_precision(conv, precision, calibration, int8_io)
        return conv.convert()
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _set_precision(conv, precision: str, calibration: Optional[List[np.ndarray]], int8_io: bool) -> None:
    """The options of ``convert``'s converter: builtin ops only, and each precision's quantisation."""
    import tensorflow as tf

    conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    if precision == "float16":
        conv.optimizations = [tf.lite.Optimize.DEFAULT]
        conv.target_spec.supported_types = [tf.float16]
    elif precision == "dynamic":
        conv.optimizations = [tf.lite.Optimize.DEFAULT]
    elif precision == "int8":
        conv.optimizations = [tf.lite.Optimize.DEFAULT]
        conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]

        def representative():
            for image in calibration:
                yield {INPUT_NAME: np.asarray(image, np.float32)[None]}

        conv.representative_dataset = representative
        conv.inference_input_type = tf.int8 if int8_io else tf.uint8
        # int8_io: int8 input *and* outputs (quantised keypoints/scores, each with its own scale)
        conv.inference_output_type = tf.int8 if int8_io else tf.float32


def _convert_int8_float_decoder(model, calibration, decode: bool = True) -> bytes:
    """Full-integer convolutions with the decoder kept in float32: the tensors of the model's
    ``float_layers`` (the decoder, DeepPose's cascade crops and updates, OpenPose's upsampling and
    grouping) and the ops producing the graph outputs stay float. The graph input is uint8 and is
    cast in the graph; outputs are float32.

    Selective quantisation as ``tf.lite.experimental.QuantizationDebugger`` does it (calibrate
    only, then ``mlir_quantize`` with ``denylisted_nodes``), plus two things the debugger lacks:

    * the calibration statistics of the float region's tensors are removed before quantising
      (except where an int8 op outside the region reads them). With them, the quantiser left
      QUANTIZE -> (requantize) -> DEQUANTIZE round trips between denylisted float ops (e.g.
      OpenPose's limb-pair scores before each greedy-matching ``SELECT_V2``, which needs one
      scale on its inputs and output), rounding float values to 8 bits; without a range there
      is nothing to quantise them with;
    * multi-output ops of the float region are denylisted by type (``edge.tflite_conversion.float_region``).

    The result is checked: no op of the float region touches an 8-bit tensor (``quantised_ops_in``).
    Without ``decode`` (the network alone) there is no decoder to keep float."""

    float_model = convert(model, "float32", decode=decode)
    fragments = tuple(model.float_layers)
    # The ops that produce the graph outputs carry the signature's names (not the layer's): keep
    # them float too. Otherwise the scores' REDUCE_MAX runs in int8 and the decoder compares
    # the float maps with a rounded maximum (no cell or several cells match: wrong keypoints).
    denylisted, internal, op_types = float_region(float_model, fragments)
    if decode and not any(f in n for n in denylisted for f in fragments):
        raise RuntimeError(f"no tensors named like {fragments} found in the converted graph: "
                           "cannot keep them in float")
    data = quantise_around_float_region(model, calibration, denylisted, internal, op_types, decode)
    # The network alone outputs the maps its last convolutions compute: dequantised int8 is right there.
    leaked = quantised_ops_in(data, fragments, outputs=decode)
    if leaked:
        raise RuntimeError(f"{len(leaked)} ops that should stay float32 were quantised anyway, e.g. "
                           f"{leaked[:5]}; the int8 file would decode on an 8-bit grid")
    return data


def convert_grouping(model) -> bytes:
    """The grouping of a bottom-up model alone, float32 TFLite: ``heatmaps (1, h, w, K)`` and
    ``pafs (1, h, w, 2L)`` (the decoder's output size, ``map_size * upsample``) -> ``people``,
    ``scores``; for timing what the in-graph grouping costs (``edge.component_cost.grouping_cost``)."""
    import tensorflow as tf

    layer = model.grouping
    size = model.map_size * model.upsample
    spec = [tf.TensorSpec((1, size, size, model.num_joints), tf.float32, name="heatmaps"),
            tf.TensorSpec((1, size, size, 2 * model.num_limbs), tf.float32, name="pafs")]

    @tf.function(input_signature=spec)
    def group(heatmaps, pafs):
        people, scores = layer(heatmaps, pafs)
        return {"people": people, "scores": scores}

    conv = tf.lite.TFLiteConverter.from_concrete_functions([group.get_concrete_function()], layer)
    conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    return conv.convert()


class TFLiteRunner:
    """Runs an exported ``.tflite`` with the stock LiteRT interpreter (XNNPACK by default).

    ``predict(images)``: uint8 RGB ``(N, S, S, 3)`` -> ``(keypoints (N, K, 2), scores (N, K))``,
    or for a bottom-up file the letterboxed images -> ``(people (N, P, K, 3), scores (N, P))``. The
    file's batch is 1: one call per image. Which of the two a file is, the file itself says: its
    output names (``zoo.tasks.KEYPOINT_OUTPUTS`` or ``PEOPLE_OUTPUTS``; ``bottom_up`` is True for
    people), not the model it came from.
    """

    def __init__(self, path_or_bytes, num_threads: int = DEFAULT_THREADS, xnnpack: bool = True):
        from ai_edge_litert.interpreter import Interpreter, OpResolverType

        kwargs = {"num_threads": num_threads}
        if not xnnpack:
            kwargs["experimental_op_resolver_type"] = OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES
        if isinstance(path_or_bytes, (bytes, bytearray)):
            self.interpreter = Interpreter(model_content=bytes(path_or_bytes), **kwargs)
            self.source = f"TFLite model ({len(path_or_bytes)} bytes)"
        else:
            if not os.path.isfile(path_or_bytes):
                raise FileNotFoundError(f"TFLite file not found: {path_or_bytes}")
            self.interpreter = Interpreter(model_path=str(path_or_bytes), **kwargs)
            self.source = str(path_or_bytes)
        self.runner = self.interpreter.get_signature_runner("serving_default")
        inputs = self.runner.get_input_details()
        if INPUT_NAME not in inputs:
            raise ValueError(f"{self.source}: expected an input named {INPUT_NAME!r}, found {sorted(inputs)}")
        details = inputs[INPUT_NAME]
        self.input_shape = tuple(details["shape"])
        self.input_dtype = details["dtype"]
        self.output_names = tuple(sorted(self.runner.get_output_details()))
        self.bottom_up = PEOPLE_OUTPUTS[0] in self.output_names

    def _dequantise(self, name: str, value: np.ndarray) -> np.ndarray:
        """Float values of an output (int8 outputs are mapped back with their scale/zero point)."""
        if value.dtype != np.int8:
            return value
        scale, zero = self.runner.get_output_details()[name]["quantization"]
        return (value.astype(np.float32) - zero) * scale

    def predict(self, images: np.ndarray):
        """``(keypoints, scores)`` or, for a bottom-up file, ``(people, scores)`` of uint8 images."""
        images = np.asarray(images)
        if images.ndim != 4 or images.shape[1:] != self.input_shape[1:]:
            raise ValueError(f"expected uint8 images (N, {self.input_shape[1]}, {self.input_shape[2]}, 3), "
                             f"got {images.shape}")
        main = PEOPLE_OUTPUTS[0] if self.bottom_up else KEYPOINT_OUTPUTS[0]
        if main not in self.output_names or "scores" not in self.output_names:
            raise ValueError(f"{self.source}: outputs {list(self.output_names)} are neither (keypoints, scores) "
                             "nor (people, scores); not a zoo model export")
        values, scs = [], []
        for image in images:
            x = image[None]
            if self.input_dtype == np.int8:
                x = (x.astype(np.int16) - 128).astype(np.int8)
            else:
                x = x.astype(self.input_dtype)
            out = self.runner(**{INPUT_NAME: x})
            values.append(self._dequantise(main, out[main])[0])
            scs.append(self._dequantise("scores", out["scores"])[0])
        return np.stack(values).astype(np.float32), np.stack(scs).astype(np.float32)

