"""Which layers lose the most in a full-integer file: TFLite's ``QuantizationDebugger`` on the
network alone (the decoder and grouping stay float32 in int8 files anyway, ``float_layers``).

For each quantised op the debugger runs a float shadow on the same (dequantised) inputs and
records the difference. ``rmse / scale``: the root-mean-square error in units of the tensor's
quantisation step; rounding alone gives 1/sqrt(12) = 0.29, so a layer far above that is where
int8 loses accuracy (a range stretched by outliers, a step too coarse for what follows). Those
layers are the candidates to keep float (the "selective quantisation" of the TFLite guide,
https://www.tensorflow.org/lite/performance/quantization_debugger).
"""

from __future__ import annotations

import csv
import io
import math
import shutil
import tempfile
from typing import Dict, Iterable, List

import numpy as np

#: rmse / scale of pure rounding error (uniform in half a step either way).
ROUNDING_ONLY = 1 / math.sqrt(12)


def layer_errors(model, calibration: Iterable[np.ndarray], debug_images: Iterable[np.ndarray]) -> List[Dict]:
    """Per quantised op of ``model``'s network (uint8 input, calibrated on ``calibration``,
    uint8 images ``(S, S, 3)``), its error on ``debug_images``: rows ``{"tensor", "op",
    "rmse_scale", "max_abs_error", "mean_error", "scale"}``, worst ``rmse_scale`` first.
    ``tensor``: the first name TFLite gives the op's output (e.g. ``heatmap_stage1_out_1/BiasAdd``,
    a fragment ``float_layers`` can name)."""
    import tensorflow as tf

    from edge.tflite_conversion import selective_int8_converter

    calibration = [np.asarray(c, np.uint8) for c in calibration]
    debug_images = [np.asarray(c, np.uint8) for c in debug_images]
    if not calibration or not debug_images:
        raise ValueError("layer_errors needs calibration and debug images")
    folder = tempfile.mkdtemp(prefix="posezoo_qdebug_")
    try:
        conv = selective_int8_converter(model, calibration, folder, decode=False)
        debugger = tf.lite.experimental.QuantizationDebugger(
            converter=conv, debug_dataset=lambda: ([image[None]] for image in debug_images))
        debugger.run()
        dump = io.StringIO()
        debugger.layer_statistics_dump(dump)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    rows = []
    for r in csv.DictReader(io.StringIO(dump.getvalue())):
        scale = float(r["scale"])
        rows.append({"tensor": r["tensor_name"].split(";")[0], "op": r["op_name"],
                     "rmse_scale": math.sqrt(float(r["mean_squared_error"])) / scale if scale else float("nan"),
                     "max_abs_error": float(r["max_abs_error"]), "mean_error": float(r["mean_error"]),
                     "scale": scale})
    return sorted(rows, key=lambda r: -r["rmse_scale"] if not math.isnan(r["rmse_scale"]) else 0.0)


def layer_errors_table(rows: List[Dict], top: int = 15) -> str:
    """The ``top`` worst rows as aligned text."""
    lines = [f"{'rmse/scale':>10} {'max |err|':>10} {'scale':>10}  op / tensor",
             f"(rounding alone: {ROUNDING_ONLY:.2f})"]
    for r in rows[:top]:
        lines.append(f"{r['rmse_scale']:>10.2f} {r['max_abs_error']:>10.4g} {r['scale']:>10.4g}  "
                     f"{r['op']}: {r['tensor']}")
    return "\n".join(lines)
