"""The steps every TFLite conversion shares, the pose models' (``edge.tflite.convert``) and the
person detector's (``edge.detector_convert``): the precisions, the check that a file holds only
builtin ops, the batch-1 SavedModel a pose model is converted from, and selective int8
quantisation: every convolution in int8 around a region of ops kept float32 (a decoder, a
grouping, box decoding and NMS), found in the float file (``float_region``), quantised around
(``quantise_around_float_region``) and checked after (``quantised_ops_in``).
"""

from __future__ import annotations

import shutil
import tempfile
from typing import List, Tuple

import numpy as np

from zoo.tasks import INPUT_NAME

#: TFLite precisions, the one list (exports, benchmarks, CLIs).
PRECISIONS = ("float32", "float16", "dynamic", "int8")


def saved_model_for_conversion(model, float_input: bool, folder: str, decode: bool = True):
    """Writes a batch-1 SavedModel whose ``serving_default`` is ``model.export_outputs(images, decode)``."""
    import tensorflow as tf

    from edge.saved_model import write_saved_model
    from zoo.architectures.base import edge_formulation

    s = model.input_size
    dtype = tf.float32 if float_input else tf.uint8
    with edge_formulation(model):
        write_saved_model(model, folder, tf.TensorSpec((1, s, s, 3), dtype, name=INPUT_NAME), decode)


def float_region(tflite: bytes, fragments) -> Tuple[List[str], List[str], List[str]]:
    """The ops of a float TFLite model to keep in float: output tensor names of the ops with an
    output named like one of ``fragments`` or producing a graph output; those of them used only
    inside that region (not by an int8 op after it, e.g. DeepPose's crops feeding the next
    stage's convolution: their range is what quantises that input); and the operator types among
    the region's ops with several outputs.

    Why the types: the quantiser matches ``denylisted_nodes`` against an op's location only when
    that is a single ``NameLoc`` (``QuantizationPattern::matchAndRewrite`` in TensorFlow's
    ``compiler/mlir/lite/quantization/quantization_utils.h``: ``getLoc().dyn_cast<NameLoc>()``).
    An op with several outputs (``TOPK_V2``, ``UNPACK``) has a ``FusedLoc`` of its output names
    (its tensors read ``a;b`` in the quantised file), so no node name matches it and it was
    quantised: 132 ``TOPK_V2`` and 14 ``UNPACK`` of OpenPose's grouping ran in int8 between
    QUANTIZE / DEQUANTIZE pairs (int8 candidate ranking, 8-bit PAF samples). Such ops can only be
    kept float by type (``denylisted_ops``), which keeps every op of that type float (for
    OpenPose, only the grouping has them)."""
    from ai_edge_litert.interpreter import Interpreter

    it = Interpreter(model_content=tflite, experimental_op_resolver_type=_no_delegate())
    graph_outputs = {d["index"] for d in it.get_output_details()}
    ops = it._get_ops_details()
    region, multi = set(), set()
    for op in ops:
        outs = [i for i in op["outputs"] if i >= 0]
        out_names = [it._get_tensor_details(i, 0)["name"] for i in outs]
        if any(f in n for f in fragments for n in out_names) or graph_outputs & set(outs):
            region.add(op["index"])
            if len(outs) > 1:
                multi.add(op["op_name"])
    consumers = {}
    for op in ops:
        for i in op["inputs"]:
            consumers.setdefault(i, set()).add(op["index"])
    names, internal = set(), set()
    for op in ops:
        if op["index"] in region:
            for i in op["outputs"]:
                if i >= 0:
                    name = it._get_tensor_details(i, 0)["name"]
                    names.add(name)
                    if consumers.get(i, set()) <= region:
                        internal.add(name)
    return sorted(names), sorted(internal), sorted(multi)


def quantised_ops_in(tflite: bytes, fragments, outputs: bool = True) -> List[str]:
    """``OP: output name`` of the ops of ``tflite`` that should be float32 but touch an int8 /
    uint8 / int16 tensor: ops with an output named like one of ``fragments`` or (``outputs``)
    producing a graph output. DEQUANTIZE (the way into the float region) is allowed, and so is a QUANTIZE taking a
    float-region value to int8 ops outside the region (e.g. DeepPose's stage stack); a QUANTIZE
    whose value only reaches a DEQUANTIZE (through requantizing QUANTIZEs) is not: that round trip
    between two float ops rounds the values to 8 bits."""
    from ai_edge_litert.interpreter import Interpreter

    it = Interpreter(model_content=tflite, experimental_op_resolver_type=_no_delegate())
    graph_outputs = {d["index"] for d in it.get_output_details()} if outputs else set()
    tensors = {d["index"]: d for d in it.get_tensor_details()}
    ops = it._get_ops_details()
    consumers = {}
    for op in ops:
        for i in op["inputs"]:
            consumers.setdefault(i, []).append(op)

    def round_trip(tensor) -> bool:  # only (re)quantize ops until a dequantize
        users = consumers.get(tensor, [])
        return bool(users) and all(u["op_name"] == "DEQUANTIZE" or
                                   (u["op_name"] == "QUANTIZE" and round_trip(u["outputs"][0])) for u in users)

    quantised = (np.int8, np.uint8, np.int16)
    found = []
    for op in ops:
        outs = [i for i in op["outputs"] if i >= 0]
        names = [tensors[i]["name"] for i in outs]
        if not (any(f in n for f in fragments for n in names) or graph_outputs & set(outs)):
            continue
        if graph_outputs & set(outs) and op["op_name"] in ("QUANTIZE", "DEQUANTIZE"):
            found.append(f"{op['op_name']}: {names[0]}")
        elif op["op_name"] == "DEQUANTIZE":
            continue
        elif op["op_name"] == "QUANTIZE":
            if tensors[op["inputs"][0]]["dtype"] == np.float32 and round_trip(outs[0]):
                found.append(f"{op['op_name']}: {names[0]}")
        elif any(tensors[i]["dtype"] in quantised for i in list(op["inputs"]) + outs if i >= 0):
            found.append(f"{op['op_name']}: {names[0]}")
    return found


def _without_statistics(calibrated: bytes, names) -> bytes:
    """``calibrated`` (a float model with the calibration min / max of every tensor) without the
    statistics of the tensors ``names``: the quantiser gets no range to quantise them with."""
    from tensorflow.lite.tools import flatbuffer_utils

    names = set(names)
    model = flatbuffer_utils.convert_bytearray_to_object(calibrated)
    for subgraph in model.subgraphs:
        for tensor in subgraph.tensors:
            name = tensor.name.decode() if isinstance(tensor.name, bytes) else tensor.name
            if name in names:
                tensor.quantization = None
    return flatbuffer_utils.convert_object_to_bytearray(model)


def selective_int8_converter(model, calibration, folder: str, decode: bool = True):
    """A TFLite converter of ``model`` (uint8 input, its SavedModel written to ``folder``) set up
    for int8 with float fallback, calibrated on ``calibration`` (uint8 images ``(S, S, 3)``): what
    selective quantisation (``quantise_around_float_region``) and the QuantizationDebugger
    (``edge.quant_debug``) start from."""
    import tensorflow as tf

    saved_model_for_conversion(model, float_input=False, folder=folder, decode=decode)
    conv = tf.lite.TFLiteConverter.from_saved_model(folder, signature_keys=["serving_default"])
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8, tf.lite.OpsSet.TFLITE_BUILTINS]

    def representative():
        for image in calibration:
            yield {INPUT_NAME: np.asarray(image, np.uint8)[None]}

    conv.representative_dataset = representative
    return conv


def quantise_around_float_region(model, calibration, denylisted, internal, op_types, decode: bool = True) -> bytes:
    """Calibrates ``model`` (``selective_int8_converter``), drops the calibration statistics of
    the float region's ``internal`` tensors and quantises with the region (``float_region``'s
    ``denylisted`` nodes and ``op_types``) kept float: the step every selective int8 conversion
    shares (pose models' decoders, the person detector's box decoding and NMS)."""
    from tensorflow.lite.python import convert as lite_convert

    folder = tempfile.mkdtemp(prefix="posezoo_tflite_")
    try:
        conv = selective_int8_converter(model, calibration, folder, decode)
        conv._experimental_calibrate_only = True  # what QuantizationDebugger sets (tf.lite debugger.py)
        calibrated = _without_statistics(conv.convert(), internal)
        return lite_convert.mlir_quantize(
            calibrated, disable_per_channel=conv._experimental_disable_per_channel, fully_quantize=False,
            enable_numeric_verify=False, denylisted_ops=op_types or None, denylisted_nodes=denylisted)
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
