"""edge.quant_debug: the QuantizationDebugger's per-layer int8 error, worst first."""

import math

import numpy as np


def test_layer_errors_blame_a_range_the_calibration_never_saw(tiny_hourglass):
    from edge.quant_debug import ROUNDING_ONLY, layer_errors, layer_errors_table

    rng = np.random.default_rng(0)
    s = tiny_hourglass.input_size
    images = rng.integers(0, 256, (8, s, s, 3), dtype=np.uint8)
    rows = layer_errors(tiny_hourglass, images, images[:2])
    assert rows and {"CONV_2D"} <= {r["op"] for r in rows}
    assert all(math.isfinite(r["rmse_scale"]) for r in rows)
    assert [r["rmse_scale"] for r in rows] == sorted((r["rmse_scale"] for r in rows), reverse=True)
    # measured on calibration images: every value within its range, every op near rounding error
    assert rows[0]["rmse_scale"] < 4 * ROUNDING_ONLY
    # calibrated on dark images only, measured on full-range ones: activations are clipped at the
    # calibrated range, far beyond rounding
    clipped = layer_errors(tiny_hourglass, images // 16, images[:2])
    assert clipped[0]["rmse_scale"] > 10 * ROUNDING_ONLY
    table = layer_errors_table(clipped, top=3)
    assert table.count("\n") == 4 and clipped[0]["tensor"] in table and ";" not in clipped[0]["tensor"]
