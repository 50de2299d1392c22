"""TF.js graph models (``model.json`` + ``.bin`` shards) to a TensorFlow ``GraphDef``, with plain
TensorFlow (the ``tensorflowjs`` package is not needed).

A TF.js graph model (format ``graph-model``, as written by ``tensorflowjs_converter``) holds:

- ``modelTopology``: a ``GraphDef`` in protobuf's JSON form (``node``: name, op, input, attr);
  ``Const`` nodes carry only dtype and shape, their values live in the weights;
- ``weightsManifest``: groups ``{"paths": [shards], "weights": [{name, shape, dtype,
  quantization?}]}``; each group's shards are concatenated and its weights follow one another
  in that buffer, little-endian. ``quantization`` is ``{"dtype": "uint8" | "uint16", "scale",
  "min"}`` (value = q x scale + min, rounded for int32) or ``{"dtype": "float16",
  "original_dtype": "float32"}``; TF.js has no int64, so int64 constants are stored as int32 and
  the node's own dtype is restored here (the ``SparseToDense`` indices of exported ONNX graphs such
  as NanoDet's);
- ``signature``: input and output tensor names, dtypes and shapes.

The TF.js converter fuses ops that TFLite and stock TF graphs do not take as they are; they are
split back into builtin ops: ``_FusedConv2D`` -> ``Conv2D`` + ``BiasAdd`` + activation,
``FusedDepthwiseConv2dNative`` -> ``DepthwiseConv2dNative`` + ``BiasAdd`` + activation,
``_FusedMatMul`` -> ``MatMul`` + ``BiasAdd`` + activation, and TF.js's ``Prelu`` -> ``Relu``,
``Sub``, ``Mul``, ``AddV2``. The formats follow the TF.js sources (``tfjs-core/src/io/io_utils.ts``
``decodeWeights``, ``tfjs-converter/python/tensorflowjs/read_weights.py`` and its graph
rewrites ``fuse_depthwise_conv2d.py``, ``fuse_prelu.py``).

Use: ``graph = read_tfjs_graph("model.json")``, ``fn = load_graph(graph, ["input:0"],
["Identity:0"])``, ``fn(tf.constant(...))``. Every malformed input raises ``TfjsGraphError``
naming the file and the node or weight.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Dict, Iterable, List, Optional, Sequence, Tuple

import numpy as np

# Weight dtypes of the manifest and their little-endian storage.
_DTYPES = {"float32": np.dtype("<f4"), "int32": np.dtype("<i4"), "bool": np.dtype("u1"),
           "uint8": np.dtype("u1"), "complex64": np.dtype("<c8")}
_QUANT_DTYPES = {"uint8": np.dtype("u1"), "uint16": np.dtype("<u2"), "float16": np.dtype("<f2")}
# GraphDef dtype enum names (DataType) of Const nodes and the numpy dtype of their values.
_GRAPH_DTYPES = {"DT_FLOAT": np.float32, "DT_INT32": np.int32, "DT_INT64": np.int64,
                 "DT_BOOL": np.bool_, "DT_UINT8": np.uint8, "DT_INT8": np.int8,
                 "DT_INT16": np.int16, "DT_UINT16": np.uint16, "DT_HALF": np.float16,
                 "DT_DOUBLE": np.float64, "DT_COMPLEX64": np.complex64}
# Activations a fused op may end with (``fused_ops`` after ``BiasAdd``), as plain unary TF ops.
_UNARY_ACTIVATIONS = ("Relu", "Relu6", "Elu", "Selu", "Sigmoid", "Tanh", "LeakyRelu")
# Fused op -> (base op, attributes the base op takes).
_FUSED = {
    "_FusedConv2D": ("Conv2D", ("T", "strides", "padding", "explicit_paddings", "data_format",
                                "dilations", "use_cudnn_on_gpu")),
    "FusedDepthwiseConv2dNative": ("DepthwiseConv2dNative", ("T", "strides", "padding",
                                                             "explicit_paddings", "data_format",
                                                             "dilations")),
    "_FusedMatMul": ("MatMul", ("T", "transpose_a", "transpose_b")),
}

GraphFix = Callable[["object"], "object"]  # GraphDef -> GraphDef


class TfjsGraphError(ValueError):
    """A TF.js model file is malformed or uses what the converter does not handle; the message
    names the file and the node or weight."""


def read_model_json(json_path) -> dict:
    """The parsed ``model.json`` of a TF.js graph model, its top-level keys checked."""
    from zoo.io import read_json

    model = read_json(json_path, dict, "TF.js model", TfjsGraphError, ("modelTopology", "weightsManifest"))
    if model.get("format", "graph-model") != "graph-model":
        raise TfjsGraphError(f"{json_path}: format {model['format']!r} is not a TF.js graph model "
                             "(a layers-model is a Keras model: load it with Keras instead)")
    topology = model["modelTopology"]
    if not isinstance(topology, dict) or not isinstance(topology.get("node"), list):
        raise TfjsGraphError(f"{json_path}: modelTopology must be an object with a 'node' list")
    if not isinstance(model["weightsManifest"], list):
        raise TfjsGraphError(f"{json_path}: weightsManifest must be a list of weight groups")
    return model


def signature(json_path) -> Dict[str, Dict[str, dict]]:
    """``{"inputs": {key: {"name", "dtype", "shape"}}, "outputs": {...}}`` from the model's
    ``signature`` (``name`` is a tensor name such as ``"input:0"``; ``shape`` uses -1 for an
    unknown size)."""
    json_path = Path(json_path)
    model = read_model_json(json_path)
    sig = model.get("signature")
    if not isinstance(sig, dict) or not sig.get("inputs") or not sig.get("outputs"):
        raise TfjsGraphError(f"{json_path}: no 'signature' with inputs and outputs")
    out = {}
    for side in ("inputs", "outputs"):
        out[side] = {}
        for key, spec in sig[side].items():
            if not isinstance(spec, dict) or "name" not in spec:
                raise TfjsGraphError(f"{json_path}: signature {side} {key!r} has no tensor name")
            dims = spec.get("tensorShape", {}).get("dim", [])
            out[side][key] = {"name": spec["name"], "dtype": spec.get("dtype"),
                              "shape": [int(d.get("size", -1)) for d in dims]}
    return out


def _dequantize(raw: np.ndarray, quant: dict, dtype: str, where: str) -> np.ndarray:
    if quant["dtype"] == "float16":
        if dtype != "float32":
            raise TfjsGraphError(f"{where}: float16 quantization of a {dtype} weight")
        return raw.astype(np.float32)
    for key in ("scale", "min"):
        if not isinstance(quant.get(key), (int, float)):
            raise TfjsGraphError(f"{where}: {quant['dtype']} quantization needs a number {key!r}, "
                                 f"got {quant.get(key)!r}")
    values = raw.astype(np.float64) * quant["scale"] + quant["min"]
    if dtype == "float32":
        return values.astype(np.float32)
    if dtype == "int32":
        return np.round(values).astype(np.int32)
    raise TfjsGraphError(f"{where}: {quant['dtype']} quantization of a {dtype} weight")


def read_weights(manifest: list, base_dir, where: str = "") -> Dict[str, np.ndarray]:
    """Weight name -> value (dequantized) of a TF.js weights manifest whose shards lie in
    ``base_dir``. ``where`` prefixes error messages (the model file)."""
    base_dir = Path(base_dir)
    weights = {}
    for g, group in enumerate(manifest):
        if not isinstance(group, dict) or not isinstance(group.get("paths"), list) \
                or not isinstance(group.get("weights"), list):
            raise TfjsGraphError(f"{where}: weightsManifest[{g}] needs 'paths' and 'weights' lists")
        chunks = []
        for shard in group["paths"]:
            try:
                chunks.append((base_dir / shard).read_bytes())
            except FileNotFoundError:
                raise TfjsGraphError(f"{where}: weight shard {base_dir / shard} is missing") from None
        buffer = b"".join(chunks)
        offset = 0
        for w, entry in enumerate(group["weights"]):
            name = entry.get("name") if isinstance(entry, dict) else None
            at = f"{where}: weight {name!r} (weightsManifest[{g}].weights[{w}])"
            if not isinstance(name, str):
                raise TfjsGraphError(f"{at}: no name")
            dtype, shape = entry.get("dtype"), entry.get("shape")
            if not isinstance(shape, list) or not all(isinstance(d, int) and d >= 0 for d in shape):
                raise TfjsGraphError(f"{at}: shape must be a list of sizes >= 0, got {shape!r}")
            if dtype not in _DTYPES:
                raise TfjsGraphError(f"{at}: dtype {dtype!r} is not handled (known: {sorted(_DTYPES)})")
            quant = entry.get("quantization")
            if quant is not None and (not isinstance(quant, dict) or quant.get("dtype") not in _QUANT_DTYPES):
                raise TfjsGraphError(f"{at}: quantization {quant!r} is not handled "
                                     f"(dtype one of {sorted(_QUANT_DTYPES)})")
            stored = _QUANT_DTYPES[quant["dtype"]] if quant else _DTYPES[dtype]
            count = int(np.prod(shape, dtype=np.int64))
            size = count * stored.itemsize
            if offset + size > len(buffer):
                raise TfjsGraphError(f"{at}: needs bytes {offset}..{offset + size} but the shards "
                                     f"{group['paths']} hold {len(buffer)}")
            raw = np.frombuffer(buffer, stored, count, offset).reshape(shape)
            offset += size
            value = _dequantize(raw, quant, dtype, at) if quant else raw.copy()
            if dtype == "bool":
                value = value.astype(np.bool_)
            if name in weights:
                raise TfjsGraphError(f"{at}: a second weight of that name")
            weights[name] = value
    return weights


def _attr_list_strings(node, key: str) -> List[str]:
    return [s.decode() for s in node.attr[key].list.s] if key in node.attr else []


def _split_fused(node, names: set, where: str) -> list:
    """The builtin nodes replacing one fused node; the last one keeps the fused node's name."""
    base_op, base_attrs = _FUSED[node.op]
    data, control, args, fused_ops = _fused_inputs(node, where)
    unique = _unique_namer(node.name, names)
    activation = fused_ops[1] if len(fused_ops) == 2 else None
    bias_name = node.name if activation is None else unique("BiasAdd")
    base = _node_like(node, base_op, unique(base_op), data[:2] + control)
    for key in base_attrs[1:]:
        if key in node.attr:
            base.attr[key].CopyFrom(node.attr[key])
    bias_attrs = {}
    if base_op != "MatMul" and "data_format" in node.attr:
        bias_attrs["data_format"] = node.attr["data_format"]
    if not args:
        raise TfjsGraphError(f"{where}: node {node.name!r} ({node.op}): BiasAdd has no bias input")
    out = [base, _node_like(node, "BiasAdd", bias_name, [base.name, args.pop(0)], **bias_attrs)]
    if activation is not None:
        out += _activation_nodes(node, activation, bias_name, args, unique, where)
    if args:
        raise TfjsGraphError(f"{where}: node {node.name!r} ({node.op}): inputs {args} left unused "
                             f"by fused_ops {fused_ops}")
    return out


def _fused_inputs(node, where: str):
    """A fused node's checked ``(data inputs, control inputs, extra args, fused_ops)``."""
    fused_ops = _attr_list_strings(node, "fused_ops")
    data = [i for i in node.input if not i.startswith("^")]
    control = [i for i in node.input if i.startswith("^")]
    num_args = node.attr["num_args"].i if "num_args" in node.attr else len(data) - 2
    if len(data) != 2 + num_args:
        raise TfjsGraphError(f"{where}: node {node.name!r} ({node.op}) has {len(data)} data inputs, "
                             f"expected 2 + num_args = {2 + num_args}")
    args = list(data[2:])
    if not fused_ops or fused_ops[0] != "BiasAdd":
        raise TfjsGraphError(f"{where}: node {node.name!r} ({node.op}): fused_ops {fused_ops} not "
                             "handled (expected BiasAdd first, then at most one activation)")
    if len(fused_ops) > 2:
        raise TfjsGraphError(f"{where}: node {node.name!r} ({node.op}): fused_ops {fused_ops} has "
                             "more than one activation")
    return data, control, args, fused_ops


def _unique_namer(base: str, names: set) -> Callable[[str], str]:
    """A function giving ``<base>/<suffix>`` names not yet in ``names``, each added to it."""

    def unique(suffix: str) -> str:
        """``<base>/<suffix>``, or with the first free ``_<n>`` appended."""
        name, n = f"{base}/{suffix}", 1
        while name in names:
            name, n = f"{base}/{suffix}_{n}", n + 1
        names.add(name)
        return name

    return unique


def _node_like(node, op: str, name: str, inputs: Sequence[str], **attrs):
    """A new ``NodeDef`` with ``node``'s dtype attribute ``T`` and the given attributes."""
    from tensorflow.core.framework import node_def_pb2

    new = node_def_pb2.NodeDef(name=name, op=op, input=list(inputs))
    new.attr["T"].CopyFrom(node.attr["T"])
    for key, value in attrs.items():
        new.attr[key].CopyFrom(value)
    return new


def _activation_nodes(node, activation: str, bias_name: str, args: list, unique, where: str) -> list:
    """The nodes of a fused node's activation on ``bias_name``, the last one named as the fused node."""
    from tensorflow.core.framework import attr_value_pb2

    if activation in _UNARY_ACTIVATIONS:
        attrs = {}
        if activation == "LeakyRelu":
            alpha = node.attr["leakyrelu_alpha"].f if "leakyrelu_alpha" in node.attr else 0.2
            attrs["alpha"] = attr_value_pb2.AttrValue(f=alpha)
        return [_node_like(node, activation, node.name, [bias_name], **attrs)]
    if activation == "Prelu":
        if not args:
            raise TfjsGraphError(f"{where}: node {node.name!r} ({node.op}): Prelu has no alpha input")
        return _prelu_nodes(node.name, bias_name, args.pop(0), node.attr["T"], unique)
    raise TfjsGraphError(f"{where}: node {node.name!r} ({node.op}): activation {activation!r} "
                         f"not handled (known: {list(_UNARY_ACTIVATIONS) + ['Prelu']})")


def _prelu_nodes(name: str, x: str, alpha: str, dtype_attr, unique) -> list:
    """``prelu(x) = relu(x) + alpha * (x - relu(x))`` in builtin ops; the last node is ``name``."""
    from tensorflow.core.framework import node_def_pb2

    def make(op, node_name, inputs):
        new = node_def_pb2.NodeDef(name=node_name, op=op, input=list(inputs))
        new.attr["T"].CopyFrom(dtype_attr)
        return new

    relu = make("Relu", unique("Prelu/Relu"), [x])
    negative = make("Sub", unique("Prelu/Negative"), [x, relu.name])
    scaled = make("Mul", unique("Prelu/Scaled"), [alpha, negative.name])
    return [relu, negative, scaled, make("AddV2", name, [relu.name, scaled.name])]


def split_fused_ops(graph_def, where: str = ""):
    """A copy of ``graph_def`` with TF.js's fused ops (``_FusedConv2D``,
    ``FusedDepthwiseConv2dNative``, ``_FusedMatMul``, ``Prelu``) replaced by builtin TF ops."""
    from tensorflow.core.framework import graph_pb2

    names = {n.name for n in graph_def.node}
    out = graph_pb2.GraphDef()
    out.versions.CopyFrom(graph_def.versions)
    out.library.CopyFrom(graph_def.library)
    for node in graph_def.node:
        if node.op in _FUSED:
            out.node.extend(_split_fused(node, names, where))
        elif node.op == "Prelu":
            data = [i for i in node.input if not i.startswith("^")]
            if len(data) != 2:
                raise TfjsGraphError(f"{where}: node {node.name!r} (Prelu) needs inputs x, alpha; "
                                     f"got {list(node.input)}")

            def unique(suffix, base=node.name):
                name, n = f"{base}/{suffix}", 1
                while name in names:
                    name, n = f"{base}/{suffix}_{n}", n + 1
                names.add(name)
                return name

            nodes = _prelu_nodes(node.name, data[0], data[1], node.attr["T"], unique)
            nodes[0].input.extend(i for i in node.input if i.startswith("^"))
            out.node.extend(nodes)
        else:
            out.node.add().CopyFrom(node)
    return out


def _const_value(node, weights: Dict[str, np.ndarray], where: str) -> np.ndarray:
    """The value of a ``Const`` node: its weight, cast to the node's declared dtype where TF.js
    stored it narrower (int64 as int32), or the value the JSON itself carries."""
    from tensorflow.core.framework import types_pb2

    dtype_name = types_pb2.DataType.Name(node.attr["dtype"].type) if "dtype" in node.attr else None
    if dtype_name not in _GRAPH_DTYPES:
        raise TfjsGraphError(f"{where}: Const node {node.name!r} has dtype {dtype_name}, not handled")
    target = np.dtype(_GRAPH_DTYPES[dtype_name])
    value = weights[node.name]
    if value.dtype != target:
        widening = (value.dtype == np.int32 and target.kind == "i" and target.itemsize >= 4) or \
                   (value.dtype.kind in "fc" and target.kind in "fc")
        if not widening and not (value.dtype == np.int32 and target == np.dtype(np.uint8)):
            raise TfjsGraphError(f"{where}: weight {node.name!r} is {value.dtype} but its Const "
                                 f"node is {dtype_name}: no safe cast")
        value = value.astype(target)
    if "value" in node.attr and node.attr["value"].tensor.HasField("tensor_shape"):
        dims = [d.size for d in node.attr["value"].tensor.tensor_shape.dim]
        if list(value.shape) != dims:
            raise TfjsGraphError(f"{where}: weight {node.name!r} has shape {list(value.shape)} but "
                                 f"its Const node declares {dims}")
    return value


def read_tfjs_graph(json_path, fixes: Iterable[GraphFix] = ()):
    """Reads a TF.js graph model into a ``tf.compat.v1.GraphDef`` of builtin TF ops.

    Args:
        json_path: the ``model.json``; its weight shards are read from the same folder.
        fixes: functions ``GraphDef -> GraphDef`` applied in order after the conversion, the hook
            for a model's own repairs (e.g. a node whose input dtype the exporter got wrong).

    Raises ``TfjsGraphError`` naming the file and the node or weight that is malformed.
    """
    json_path = Path(json_path)
    model = read_model_json(json_path)
    where = str(json_path)
    weights = read_weights(model["weightsManifest"], json_path.parent, where)
    topology = model["modelTopology"]
    graph_def = _empty_graph(topology, where)
    seen, used = set(), set()
    for n, entry in enumerate(topology["node"]):
        _add_node(graph_def, n, entry, weights, seen, used, where)
    _check_weights_used(weights, used, where)
    _check_inputs_exist(graph_def, seen, where)
    graph_def = split_fused_ops(graph_def, where)
    for fix in fixes:
        graph_def = fix(graph_def)
    return graph_def


def _empty_graph(topology: dict, where: str):
    """A ``GraphDef`` with the topology's versions and no nodes; a function library is refused."""
    import tensorflow as tf
    from google.protobuf import json_format

    graph_def = tf.compat.v1.GraphDef()
    if isinstance(topology.get("versions"), dict):
        json_format.ParseDict(topology["versions"], graph_def.versions, ignore_unknown_fields=True)
    if topology.get("library"):
        raise TfjsGraphError(f"{where}: modelTopology has a function library (control flow "
                             "functions), which this converter does not handle")
    return graph_def


def _add_node(graph_def, n: int, entry, weights: Dict[str, np.ndarray], seen: set, used: set, where: str) -> None:
    """Appends ``modelTopology.node[n]`` to ``graph_def``, a ``Const`` with its weight's value."""
    import tensorflow as tf
    from google.protobuf import json_format

    name = entry.get("name") if isinstance(entry, dict) else None
    if not isinstance(name, str) or not name:
        raise TfjsGraphError(f"{where}: modelTopology.node[{n}] has no name")
    if name in seen:
        raise TfjsGraphError(f"{where}: node {name!r} appears twice")
    seen.add(name)
    node = graph_def.node.add()
    try:
        json_format.ParseDict(entry, node)
    except json_format.ParseError as e:
        raise TfjsGraphError(f"{where}: node {name!r}: not a valid NodeDef ({e})") from None
    if not node.op:
        raise TfjsGraphError(f"{where}: node {name!r} has no op")
    node.ClearField("device")
    if node.op != "Const":
        return
    if name not in weights:
        # A Const whose value the JSON itself carries needs no weight.
        if "value" in node.attr and (node.attr["value"].tensor.tensor_content
                                     or _has_inline_values(node.attr["value"].tensor)):
            return
        raise TfjsGraphError(f"{where}: Const node {name!r} has no weight in weightsManifest")
    node.attr["value"].tensor.CopyFrom(tf.make_tensor_proto(_const_value(node, weights, where)))
    used.add(name)


def _check_weights_used(weights: Dict[str, np.ndarray], used: set, where: str) -> None:
    """Raises when a weight has no ``Const`` node of its name (the first five named)."""
    unused = sorted(set(weights) - used)
    if unused:
        raise TfjsGraphError(f"{where}: weights with no Const node of that name: {unused[:5]}"
                             + (f" and {len(unused) - 5} more" if len(unused) > 5 else ""))


def _check_inputs_exist(graph_def, seen: set, where: str) -> None:
    """Raises when a node reads a node that is not in the graph."""
    for node in graph_def.node:
        for i in node.input:
            source = i.lstrip("^").split(":")[0]
            if source not in seen:
                raise TfjsGraphError(f"{where}: node {node.name!r} reads {i!r}, which is no node")


def _has_inline_values(tensor) -> bool:
    return any(len(getattr(tensor, f)) for f in ("float_val", "int_val", "int64_val", "bool_val",
                                                    "half_val", "double_val", "string_val"))


def op_counts(graph_def) -> Dict[str, int]:
    """``{op: count}`` of a GraphDef, most frequent first (to list what a model uses)."""
    counts: Dict[str, int] = {}
    for node in graph_def.node:
        counts[node.op] = counts.get(node.op, 0) + 1
    return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))


def set_input_shape(graph_def, name: str, shape: Sequence[Optional[int]]):
    """A copy of ``graph_def`` whose ``Placeholder`` ``name`` has the static ``shape`` (None for
    an unknown size): what the TFLite converter needs to fold shape arithmetic into constants."""
    import tensorflow as tf

    out = tf.compat.v1.GraphDef()
    out.CopyFrom(graph_def)
    name = name.split(":")[0]
    for node in out.node:
        if node.name == name:
            if node.op != "Placeholder":
                raise TfjsGraphError(f"node {name!r} is a {node.op}, not a Placeholder")
            node.attr["shape"].shape.CopyFrom(
                tf.TensorShape([None if d is None or d < 0 else d for d in shape]).as_proto())
            return out
    raise TfjsGraphError(f"no input node {name!r} in the graph")


def load_graph(graph_def, inputs: Sequence[str], outputs: Sequence[str]):
    """Wraps a GraphDef as a TF2 callable (a ``ConcreteFunction``): ``fn(*input_tensors)`` returns
    the list of ``outputs``. ``inputs`` / ``outputs`` are tensor names (``"input:0"``)."""
    import tensorflow as tf

    def _import():
        tf.compat.v1.import_graph_def(graph_def, name="")

    wrapped = tf.compat.v1.wrap_function(_import, [])
    graph = wrapped.graph
    try:
        feeds = [graph.get_tensor_by_name(n) for n in inputs]
        fetches = [graph.get_tensor_by_name(n) for n in outputs]
    except (KeyError, ValueError) as e:
        raise TfjsGraphError(f"graph has no tensor of that name: {e}") from None
    return wrapped.prune(feeds, fetches)


def load_tfjs_model(json_path, fixes: Iterable[GraphFix] = ()) -> Tuple[object, Dict[str, Dict[str, dict]]]:
    """``(fn, signature)``: the converted model as a callable on its signature's inputs (in the
    signature's order) returning its outputs, and the signature (see ``signature``)."""
    sig = signature(json_path)
    graph_def = read_tfjs_graph(json_path, fixes)
    fn = load_graph(graph_def, [s["name"] for s in sig["inputs"].values()],
                    [s["name"] for s in sig["outputs"].values()])
    return fn, sig

