"""What one component of a model costs on the edge: multiply-adds and LiteRT latency of the
exported graph with and without it (e.g. the Tompson model's spatial model).

``multiply_adds(model)`` counts the float operations of the graph TFLite receives (the edge
formulation: depthwise convolutions, not FFTs) with TensorFlow's profiler, halved. Latency is
``edge.benchmark`` in a fresh process per file (LiteRT + XNNPACK, batch 1, median).
"""

from __future__ import annotations

import contextlib
import tempfile
from pathlib import Path
from typing import Callable, Dict, List, Sequence


def multiply_adds(model) -> int:
    """Multiply-adds of one batch-1 inference of ``model.keypoints`` (decoding included), in
    the graph that the TFLite / ONNX exporters trace."""
    import tensorflow as tf
    from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

    from zoo.architectures.base import edge_formulation

    s = model.input_size
    with edge_formulation(model):
        fn = tf.function(lambda x: model.keypoints(x)).get_concrete_function(
            tf.TensorSpec((1, s, s, 3), tf.float32))
    graph = convert_variables_to_constants_v2(fn).graph
    opts = tf.compat.v1.profiler.ProfileOptionBuilder.float_operation()
    opts["output"] = "none"
    return int(tf.compat.v1.profiler.profile(graph=graph, options=opts).total_float_ops) // 2


@contextlib.contextmanager
def spatial_model_bypassed(model):
    """The Tompson model with its spatial model switched off (stage 2 = the part detector's)."""
    if getattr(model, "spatial_model", None) is None:
        raise ValueError(f"{type(model).__name__} has no spatial model to bypass")
    saved = model.active_stage
    model.active_stage = 1
    try:
        yield model
    finally:
        model.active_stage = saved


def component_cost(model, component: str, without: Callable, precisions: Sequence[str] = ("float32", "int8"),
                   calibration=None, threads: int = 2, runs: int = 100, warmup: int = 10,
                   extra_models: Sequence = ()) -> Dict:
    """Rows of multiply-adds and LiteRT latency for ``model`` and for ``without(model)`` (a
    context manager giving the model minus ``component``), and the component's share of each.

    ``extra_models``: ``(label, model)`` pairs measured the same way in float32 (e.g. another
    formulation of the component)."""
    from edge.benchmark import machine_header, measure_in_subprocess
    from edge.tflite import convert

    rows: List[Dict] = []
    with tempfile.TemporaryDirectory() as tmp:
        def latency(m, precision, tag):
            path = Path(tmp) / f"{tag}-{precision}.tflite"
            path.write_bytes(convert(m, precision, calibration=calibration if precision == "int8" else None))
            r = measure_in_subprocess("litert-xnnpack", path, threads, runs, warmup)
            return r["median_ms"], path.stat().st_size

        full = {"macs": multiply_adds(model)}
        for p in precisions:
            full[p] = latency(model, p, "full")
        with without(model) as bare_model:
            bare = {"macs": multiply_adds(bare_model)}
            for p in precisions:
                bare[p] = latency(bare_model, p, "without")
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
    header = machine_header()
    versions = ", ".join(f"{k} {v}" for k, v in header.get("versions", {}).items())
    description = (f"Multiply-adds: TensorFlow's profiler on the graph the exporters trace (the spatial "
                   f"model as depthwise convolutions), batch 1, decoding included. Latency: LiteRT + "
                   f"XNNPACK, batch 1, median of {runs} runs after {warmup} warm-up calls, each file in a "
                   f"fresh process, on {header.get('machine', 'n/a')} ({header.get('date', '')}, {versions}, "
                   f"load average {header.get('load_average_1_5_15min', 'n/a')}). int8: full-integer with the "
                   f"decoder in float32, calibrated as the published int8 export. Command: "
                   f"`python -m tools.component_cost MODEL --record`.")
    return {"component": component, "threads": threads, "runs": runs, "description": description, "rows": rows}
