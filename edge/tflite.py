"""TFLite conversion (float32, float16, dynamic-range, full-integer int8) with decoding inside.

Every ``.tflite`` takes one uint8 RGB image ``images (1, S, S, 3)`` and returns ``keypoints
(1, K, 2)`` in input pixels and ``scores (1, K)`` as separate outputs (so int8 scales of the
two never mix). Only TFLite builtin ops are allowed (no Flex / select TF ops): the file runs on
a phone's stock LiteRT runtime. It is run here with ``ai_edge_litert`` (``tf.lite.Interpreter``
is deprecated).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from typing import Iterable, List, Optional

import numpy as np

PRECISIONS = ("float32", "float16", "dynamic", "int8")
INPUT_NAME = "images"
OUTPUT_NAMES = ("keypoints", "scores")


def _saved_model_for_conversion(model, float_input: bool, folder: str):
    """Writes a batch-1 SavedModel whose ``serving_default`` includes the decoding."""
    import tensorflow as tf

    s = model.input_size
    dtype = tf.float32 if float_input else tf.uint8

    from edge.exporter import write_saved_model
    from zoo.architectures.base import edge_formulation

    with edge_formulation(model):
        write_saved_model(model, folder, tf.TensorSpec((1, s, s, 3), dtype, name=INPUT_NAME))


def convert(model, precision: str = "float32", calibration: Optional[Iterable[np.ndarray]] = None,
            int8_io: bool = False, float_decoder: bool = True) -> bytes:
    """Converts a zoo model to TFLite bytes.

    Args:
        model: a ``HeatmapPoseModel``.
        precision: ``float32``, ``float16`` (weights in fp16), ``dynamic`` (int8 weights, float
            activations) or ``int8`` (full-integer, calibrated on ``calibration``).
        calibration: uint8 RGB crops ``(S, S, 3)`` from the training pipeline (int8 only).
        int8_io: int8 only: the input tensor is ``int8`` (pixel - 128) instead of ``uint8`` and the
            two outputs are ``int8`` with their own scales (dequantise with the tensors'
            quantisation parameters; ``TFLiteRunner`` does). The decoder is then quantised too.
        float_decoder: int8 only: keep the decoding ops (argmax mask, quarter shift, pixel
            mapping) in float32 while every convolution runs in int8. A fully int8 decoder puts
            keypoint coordinates on an 8-bit grid and breaks ties of quantised heatmap maxima.
    """
    import tensorflow as tf

    if precision not in PRECISIONS:
        raise ValueError(f"unknown precision {precision!r}; choose from {list(PRECISIONS)}")
    if precision != "int8" and int8_io:
        raise ValueError("int8_io applies to precision='int8' only")
    full_int = precision == "int8"
    if full_int:
        calibration = list(calibration) if calibration is not None else []
        if not calibration:
            raise ValueError("precision='int8' needs calibration images (real crops)")
    if full_int and float_decoder and not int8_io:
        return _convert_int8_float_decoder(model, calibration)
    folder = tempfile.mkdtemp(prefix="posezoo_tflite_")
    try:
        _saved_model_for_conversion(model, float_input=full_int, folder=folder)
        conv = tf.lite.TFLiteConverter.from_saved_model(folder, signature_keys=["serving_default"])
        conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
        if precision == "float16":
            conv.optimizations = [tf.lite.Optimize.DEFAULT]
            conv.target_spec.supported_types = [tf.float16]
        elif precision == "dynamic":
            conv.optimizations = [tf.lite.Optimize.DEFAULT]
        elif full_int:
            conv.optimizations = [tf.lite.Optimize.DEFAULT]
            conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]

            def representative():
                for image in calibration:
                    yield {INPUT_NAME: np.asarray(image, np.float32)[None]}

            conv.representative_dataset = representative
            conv.inference_input_type = tf.int8 if int8_io else tf.uint8
            # int8_io: int8 input *and* outputs (quantised keypoints/scores, each with its own scale)
            conv.inference_output_type = tf.int8 if int8_io else tf.float32
        return conv.convert()
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _tensor_names(tflite: bytes, contains: str) -> List[str]:
    from ai_edge_litert.interpreter import Interpreter

    it = Interpreter(model_content=tflite, experimental_op_resolver_type=_no_delegate())
    names = []
    for op in it._get_ops_details():
        for i in op["outputs"]:
            name = it._get_tensor_details(i, 0)["name"]
            if contains in name:
                names.append(name)
    return names


def _output_tensor_names(tflite: bytes) -> List[str]:
    from ai_edge_litert.interpreter import Interpreter

    it = Interpreter(model_content=tflite, experimental_op_resolver_type=_no_delegate())
    return [d["name"] for d in it.get_output_details()]


def _convert_int8_float_decoder(model, calibration) -> bytes:
    """Full-integer convolutions with the decoder kept in float (selective quantisation through
    ``tf.lite.experimental.QuantizationDebugger`` with the tensors of the model's
    ``float_layers`` denylisted: the decoder, and DeepPose's cascade crops and updates). The
    graph input is uint8 and is cast in the graph; outputs are float32."""
    import tensorflow as tf

    float_model = convert(model, "float32")
    fragments = getattr(model, "float_layers", ("decoder",))
    decoder_tensors = sorted({n for f in fragments for n in _tensor_names(float_model, f)})
    if not decoder_tensors:
        raise RuntimeError(f"no tensors named like {fragments} found in the converted graph: "
                           "cannot keep them in float")
    # The ops that produce the graph outputs carry the signature's names (not the layer's): keep
    # them float too. Otherwise the scores' REDUCE_MAX runs in int8 and the decoder compares
    # the float maps with a rounded maximum (no cell or several cells match: wrong keypoints).
    decoder_tensors += _output_tensor_names(float_model)
    folder = tempfile.mkdtemp(prefix="posezoo_tflite_")
    try:
        _saved_model_for_conversion(model, float_input=False, folder=folder)
        conv = tf.lite.TFLiteConverter.from_saved_model(folder, signature_keys=["serving_default"])
        conv.optimizations = [tf.lite.Optimize.DEFAULT]
        conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8, tf.lite.OpsSet.TFLITE_BUILTINS]

        def representative():
            for image in calibration:
                yield {INPUT_NAME: np.asarray(image, np.uint8)[None]}

        conv.representative_dataset = representative
        options = tf.lite.experimental.QuantizationDebugOptions(denylisted_nodes=decoder_tensors)
        debugger = tf.lite.experimental.QuantizationDebugger(
            converter=conv, debug_dataset=representative, debug_options=options)
        return debugger.get_nondebug_quantized_model()
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def operators(tflite: bytes) -> List[str]:
    """Names of the operators a TFLite model uses (custom / Flex ops appear by their name)."""
    from ai_edge_litert.interpreter import Interpreter

    it = Interpreter(model_content=tflite, experimental_op_resolver_type=_no_delegate())
    return sorted({d["op_name"] for d in it._get_ops_details()})


def _no_delegate():
    from ai_edge_litert.interpreter import OpResolverType

    return OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES


def check_builtin_only(tflite: bytes) -> List[str]:
    """Raises when the model needs Flex (select TF) or custom ops; returns its operator names."""
    ops = operators(tflite)
    bad = [o for o in ops if o.startswith("Flex") or o in ("CUSTOM", "DELEGATE")]
    if bad:
        raise ValueError(f"the TFLite model uses non-builtin ops {bad}; it would not run on stock LiteRT")
    return ops


class TFLiteRunner:
    """Runs an exported ``.tflite`` with the stock LiteRT interpreter (XNNPACK by default).

    ``predict(images)``: uint8 RGB ``(N, S, S, 3)`` -> ``(keypoints (N, K, 2), scores (N, K))``.
    """

    def __init__(self, path_or_bytes, num_threads: int = 2, xnnpack: bool = True):
        from ai_edge_litert.interpreter import Interpreter, OpResolverType

        kwargs = {"num_threads": num_threads}
        if not xnnpack:
            kwargs["experimental_op_resolver_type"] = OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES
        if isinstance(path_or_bytes, (bytes, bytearray)):
            self.interpreter = Interpreter(model_content=bytes(path_or_bytes), **kwargs)
        else:
            if not os.path.isfile(path_or_bytes):
                raise FileNotFoundError(f"TFLite file not found: {path_or_bytes}")
            self.interpreter = Interpreter(model_path=str(path_or_bytes), **kwargs)
        self.runner = self.interpreter.get_signature_runner("serving_default")
        details = self.runner.get_input_details()[INPUT_NAME]
        self.input_shape = tuple(details["shape"])
        self.input_dtype = details["dtype"]

    def _dequantise(self, name: str, value: np.ndarray) -> np.ndarray:
        """Float values of an output (int8 outputs are mapped back with their scale/zero point)."""
        if value.dtype != np.int8:
            return value
        scale, zero = self.runner.get_output_details()[name]["quantization"]
        return (value.astype(np.float32) - zero) * scale

    def predict(self, images: np.ndarray):
        images = np.asarray(images)
        if images.ndim != 4 or images.shape[1:] != self.input_shape[1:]:
            raise ValueError(f"expected uint8 images (N, {self.input_shape[1]}, {self.input_shape[2]}, 3), "
                             f"got {images.shape}")
        kps, scs = [], []
        for image in images:
            x = image[None]
            if self.input_dtype == np.int8:
                x = (x.astype(np.int16) - 128).astype(np.int8)
            else:
                x = x.astype(self.input_dtype)
            out = self.runner(**{INPUT_NAME: x})
            kps.append(self._dequantise("keypoints", out["keypoints"])[0])
            scs.append(self._dequantise("scores", out["scores"])[0])
        return np.stack(kps).astype(np.float32), np.stack(scs).astype(np.float32)
