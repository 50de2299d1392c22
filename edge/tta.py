"""Test-time augmentation: what the test-time options of a heatmap model buy and cost, in Keras
and in the int8 file.

The options (``zoo.registry.TEST_TIME_OPTIONS``) are the flip test (the mirrored crop's heatmaps,
flipped back with left/right joints swapped, averaged in: Newell et al. 2016, Xiao et al. 2018)
and DARK sub-pixel decoding (Zhang et al., "Distribution-Aware Coordinate Representation for Human
Pose Estimation", CVPR 2020: one Taylor step on the log-heatmap) instead of the quarter-pixel shift
towards the higher neighbour. Each variant is built from the same published weights, scored on the
validation crops by the evaluation protocol (``docs/evaluation.md``), converted to int8 (the
calibration of ``tools.export``), scored again and timed with LiteRT + XNNPACK.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Dict, Optional, Sequence, Tuple

from edge.tflite import DEFAULT_THREADS

#: (label, options): the plain model, each option alone, both.
VARIANTS: Tuple[Tuple[str, Dict], ...] = (
    ("quarter", {"flip_test": False, "subpixel": "quarter"}),
    ("dark", {"flip_test": False, "subpixel": "dark"}),
    ("flip", {"flip_test": True, "subpixel": "quarter"}),
    ("flip+dark", {"flip_test": True, "subpixel": "dark"}),
)


def _scores(p2: Dict, p1: Dict) -> Dict[str, float]:
    """PCK@0.2 and PCK@0.1 results (``training.metrics.pck``) in %, all and limb joints."""
    return {"pck@0.2_limbs": round(100 * p2["mean_limbs"], 2), "pck@0.2": round(100 * p2["mean"], 2),
            "pck@0.1_limbs": round(100 * p1["mean_limbs"], 2), "pck@0.1": round(100 * p1["mean"], 2)}


def measure_test_time(name: str, variants: Sequence[Tuple[str, Dict]] = VARIANTS, count: int = 0,
                      data: Optional[str] = None, int8: bool = True, threads: int = DEFAULT_THREADS,
                      runs: int = 100, warmup: int = 10, progress=print) -> Dict:
    """Every variant of published model ``name``: PCK of the Keras model on the first ``count``
    validation crops (0: all), and with ``int8`` the int8 file's PCK and median ``invoke()``
    latency (``threads``, ``runs`` after ``warmup``, a fresh process each). Returns a JSON-able
    report ``{"model", "data", "crops", "threads", "rows": [...]}``."""
    import zoo
    from edge.agreement import crop_pck, validation_crops
    from edge.benchmark import measure_in_subprocess
    from edge.calibration import calibration_crops
    from edge.tflite import TFLiteRunner, convert
    from training.metrics import pck
    from training.pck_evaluation import predict_samples

    spec = zoo.get_spec(name)
    crops = None
    calibration = None
    rows = []
    with tempfile.TemporaryDirectory(prefix="posezoo_tta_") as tmp:
        for label, options in variants:
            model = zoo.load(spec.id, **options)
            if crops is None:
                crops = validation_crops(model, count, data)
            samples, images, matrices, desc = crops
            # Keras: the evaluation protocol itself (float crops, as tools.evaluate scores them).
            kp, _ = predict_samples(model, samples)
            keras = _scores(*(pck(kp, samples.keypoints, samples.visible, model.skeleton, t) for t in (0.2, 0.1)))
            row = {"variant": label, **options, **{f"keras_{k}": v for k, v in keras.items()}}
            if int8:
                if calibration is None:
                    calibration = calibration_crops(spec)
                path = Path(tmp) / f"{label.replace('+', '_')}-int8.tflite"
                path.write_bytes(convert(model, "int8", calibration))
                # int8: the same crops rounded to uint8, the file's input.
                kp8, _ = TFLiteRunner(str(path), num_threads=threads).predict(images)
                int8_scores = _scores(*crop_pck(kp8, matrices, samples, model.skeleton))
                row.update({f"int8_{k}": v for k, v in int8_scores.items()})
                timing = measure_in_subprocess("litert-xnnpack", path, threads, runs, warmup)
                row.update({"int8_median_ms": round(timing["median_ms"], 3), "int8_p90_ms": round(timing["p90_ms"], 3)})
            rows.append(row)
            if progress is not None:
                progress(row)
    from training.records import cpu_model

    return {"model": spec.id, "data": crops[3], "crops": int(len(crops[1])), "threads": threads, "runs": runs,
            "machine": f"{cpu_model()}, {os.cpu_count()} cores", "rows": rows}
