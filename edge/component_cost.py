"""What one component of a model costs on the edge: multiply-adds and LiteRT latency of the
exported graph with and without it: one of ``model.components`` (e.g. the Tompson model's spatial
model, switched off with ``model.bypassing``), or the decoding (the network alone,
``model.export_outputs(images, decode=False)``; e.g. OpenPose's in-graph grouping:
``grouping_cost``).

``multiply_adds(model)`` counts the float operations of the graph TFLite receives (the edge
formulation: depthwise convolutions, not FFTs) with TensorFlow's profiler, halved. Latency is
``edge.benchmark`` in a fresh process per file (LiteRT + XNNPACK, batch 1, median).
"""

from __future__ import annotations

import contextlib
import tempfile
from pathlib import Path
from typing import Dict, List, Optional, Sequence

from edge.tflite import DEFAULT_THREADS

TOMPSON_NOTES = {"formulation": "the spatial model as depthwise convolutions",
                 "int8": "full-integer with the decoder in float32"}


def multiply_adds(model, decode: bool = True) -> int:
    """Multiply-adds of one batch-1 inference of the exported function
    (``model.export_outputs(images, decode)``: decoding included unless ``decode`` is False), in
    the graph that the TFLite / ONNX exporters trace."""
    import tensorflow as tf
    from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

    from zoo.architectures.base import edge_formulation

    s = model.input_size
    with edge_formulation(model):
        fn = tf.function(lambda x: model.export_outputs(x, decode)).get_concrete_function(
            tf.TensorSpec((1, s, s, 3), tf.float32))
    graph = convert_variables_to_constants_v2(fn).graph
    opts = tf.compat.v1.profiler.ProfileOptionBuilder.float_operation()
    opts["output"] = "none"
    return int(tf.compat.v1.profiler.profile(graph=graph, options=opts).total_float_ops) // 2


def component_cost(model, component: str, bypass: Optional[str] = None,
                   precisions: Sequence[str] = ("float32", "int8"), calibration=None,
                   threads: int = DEFAULT_THREADS, runs: int = 100, warmup: int = 10,
                   extra_models: Sequence = (), extra_files: Sequence = (),
                   notes: Dict = TOMPSON_NOTES) -> Dict:
    """Rows of multiply-adds and LiteRT latency for ``model`` and for the model without
    ``component``, and the component's share of each. ``bypass``: the entry of
    ``model.components`` that ``component`` names (measured inside ``model.bypassing(bypass)``);
    None: ``component`` is the decoding (measured on the network alone, ``decode=False``).

    ``extra_models``: ``(label, model)`` pairs measured the same way in float32 (e.g. another
    formulation of the component). ``extra_files``: ``(label, tflite bytes)`` timed the same way
    (e.g. the component converted alone). ``notes``: ``formulation`` (what graph the profiler
    counts) and ``int8`` (how the int8 files are quantised), for the description."""
    from edge.benchmark import measure_in_subprocess
    from edge.tflite import convert

    rows: List[Dict] = []
    with tempfile.TemporaryDirectory() as tmp:
        def latency(m, precision, tag, decode=True):
            path = Path(tmp) / f"{tag}-{precision}.tflite"
            path.write_bytes(convert(m, precision, calibration=calibration if precision == "int8" else None,
                                     decode=decode))
            r = measure_in_subprocess("litert-xnnpack", path, threads, runs, warmup)
            return r["median_ms"], path.stat().st_size

        full = {"macs": multiply_adds(model)}
        for p in precisions:
            full[p] = latency(model, p, "full")
        decode = bypass is not None  # without the decoding: the network alone
        with model.bypassing(bypass) if bypass is not None else contextlib.nullcontext():
            bare = {"macs": multiply_adds(model, decode)}
            for p in precisions:
                bare[p] = latency(model, p, "without", decode)
        for label, values in (("whole model", full), (f"without the {component}", bare)):
            rows.append({"graph": label, "M multiply-adds": round(values["macs"] / 1e6, 1),
                         **{f"{p} median ms ({threads} threads)": values[p][0] for p in precisions}})
        share = {"graph": f"{component}: share of the whole",
                 "M multiply-adds": f"{100 * (full['macs'] - bare['macs']) / full['macs']:.0f} %"}
        for p in precisions:
            share[f"{p} median ms ({threads} threads)"] = (
                f"{full[p][0] - bare[p][0]:.2f} ms = {100 * (full[p][0] - bare[p][0]) / full[p][0]:.0f} %")
        rows.append(share)
        for label, m in extra_models:
            macs = multiply_adds(m)
            rows.append({"graph": label, "M multiply-adds": round(macs / 1e6, 1),
                         f"{precisions[0]} median ms ({threads} threads)": latency(m, precisions[0], "extra")[0]})
        for i, (label, data) in enumerate(extra_files):
            path = Path(tmp) / f"extra-file-{i}.tflite"
            path.write_bytes(data)
            r = measure_in_subprocess("litert-xnnpack", path, threads, runs, warmup)
            rows.append({"graph": label, "M multiply-adds": "n/a",
                         f"{precisions[0]} median ms ({threads} threads)": r["median_ms"]})
    return {"component": component, "threads": threads, "runs": runs,
            "description": _description(notes, runs, warmup), "rows": rows}


def _description(notes: Dict, runs: int, warmup: int) -> str:
    """How ``component_cost`` measured, on which machine, with which packages, by which command."""
    from edge.benchmark_results import machine_header

    header = machine_header()
    versions = ", ".join(f"{k} {v}" for k, v in header.get("versions", {}).items())
    return (f"Multiply-adds: TensorFlow's profiler on the graph the exporters trace ({notes['formulation']}), "
            f"batch 1, decoding included. Latency: LiteRT + "
            f"XNNPACK, batch 1, median of {runs} runs after {warmup} warm-up calls, each file in a "
            f"fresh process, on {header.get('machine', 'n/a')} ({header.get('date', '')}, {versions}, "
            f"load average {header.get('load_average_1_5_15min', 'n/a')}). int8: {notes['int8']}, "
            f"calibrated as the published int8 export. Command: "
            f"`{notes.get('command', 'python -m tools.component_cost MODEL --record')}`.")


GROUPING_NOTES = {
    "formulation": "the grouping's unrolled TF ops; the profiler counts only ops with a float-operation "
                   "count (convolutions, element-wise arithmetic), not TOPK_V2 / GATHER / comparisons",
    "int8": "full-integer convolutions with the decoder (upsampling) and the grouping in float32",
    "command": "python -m tools.benchmark MODEL --grouping-cost --record",
}


def grouping_cost(model, calibration=None, precisions: Sequence[str] = ("float32", "int8"),
                  threads: int = DEFAULT_THREADS, runs: int = 100, warmup: int = 10) -> Dict:
    """What the in-graph grouping of a bottom-up model (OpenPose) costs: ``component_cost`` of
    the whole file (decoder + ``PafGrouping`` inside) against the network alone
    (``decode=False``: images -> last-stage maps at stride 8), plus the grouping layer
    converted alone on maps of the size it receives (``edge.tflite.convert_grouping``). The
    report has ``component_cost``'s layout, so the card renders it as the other component costs."""
    from edge.tflite import convert_grouping

    size = model.map_size * model.upsample
    label = (f"grouping alone: PafGrouping on (1, {size}, {size}, {model.num_joints}) + "
             f"(1, {size}, {size}, {2 * model.num_limbs}) float32 uniform-noise maps (every candidate "
             f"slot filled; static shapes, so the work does not depend on the maps)")
    return component_cost(model, "decoder (x2 upsampling) + grouping", precisions=precisions, calibration=calibration,
                          threads=threads, runs=runs, warmup=warmup,
                          extra_files=[(label, convert_grouping(model))], notes=GROUPING_NOTES)
