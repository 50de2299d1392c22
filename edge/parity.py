"""Parity and accuracy-drop checks of exported files against the Keras model, on real crops.

For each exported file: the mean / p95 / max distance between its keypoints and the Keras
model's (input pixels, same uint8 crops), the score difference, and PCK@0.2 / @0.1 in image
pixels with the DESIGN protocol, with the drop from the Keras model's PCK.
"""

from __future__ import annotations

from pathlib import Path
from typing import Dict, List, Optional

import numpy as np

# Accepted PCK@0.2 drops, in points, per precision (the edge issue's targets).
DROP_TARGETS = {"float32": 0.05, "float16": 0.2, "dynamic": 1.0, "int8": 1.0, "onnx": 0.05}


def validation_crops(model, count: int = 200, data: Optional[str] = None):
    """``count`` protocol crops (uint8) of the model's validation split with their matrices."""
    from tools.evaluate import evaluation_samples
    from training.pipeline import evaluation_dataset

    samples, desc = evaluation_samples(model.skeleton.name, data, limit=count)
    images, matrices = [], []
    for batch in evaluation_dataset(samples, model.input_size, batch_size=50):
        images.append(np.clip(np.round(batch["image"].numpy()), 0, 255).astype(np.uint8))
        matrices.append(batch["matrix"].numpy().astype(np.float64))
    return samples, np.concatenate(images), np.concatenate(matrices), desc


def _to_image(kp, matrices):
    inv = np.linalg.inv(matrices)
    return np.einsum("nij,nkj->nki", inv[:, :2, :2], kp.astype(np.float64)) + inv[:, None, :2, 2]


def _pck(kp_crop, matrices, samples, skeleton):
    from training.metrics import pck

    img = _to_image(kp_crop, matrices)
    return (pck(img, samples.keypoints, samples.visible, skeleton, 0.2),
            pck(img, samples.keypoints, samples.visible, skeleton, 0.1))


def runner_for(path: Path, num_threads: int = 2):
    """A runner with ``predict(uint8 images) -> (keypoints, scores)`` for a .tflite or .onnx file."""
    path = Path(path)
    if path.suffix == ".tflite":
        from edge.tflite import TFLiteRunner

        return TFLiteRunner(path, num_threads=num_threads)
    if path.suffix == ".onnx":
        from edge.onnx import OnnxRunner

        return OnnxRunner(path, num_threads=num_threads)
    raise ValueError(f"{path}: not a .tflite or .onnx file")


def precision_of(path: Path) -> str:
    import json

    meta = Path(path).with_suffix(".json")
    if meta.is_file():
        m = json.loads(meta.read_text())
        return "onnx" if m.get("format") == "onnx" else m.get("precision", "float32")
    return "onnx" if Path(path).suffix == ".onnx" else Path(path).stem.rsplit("-", 1)[-1]


def check_parity(model, files: List[Path], count: int = 200, data: Optional[str] = None) -> Dict:
    """Measures every file against ``model`` on ``count`` validation crops; returns a report."""
    samples, images, matrices, desc = validation_crops(model, count, data)
    ref_kp, ref_sc = model.predict_keypoints(images)
    ref2, ref1 = _pck(ref_kp, matrices, samples, model.skeleton)
    rows = [{"artifact": "keras", "precision": "float32", "mean_px": 0.0, "p95_px": 0.0, "max_px": 0.0,
             "max_score_diff": 0.0, "pck@0.2": round(100 * ref2["mean"], 2),
             "pck@0.1": round(100 * ref1["mean"], 2), "pck@0.2_drop": 0.0, "target_drop": None, "ok": True}]
    for f in files:
        kp, sc = runner_for(f).predict(images)
        d = np.linalg.norm(kp - ref_kp, axis=-1)
        p2, p1 = _pck(kp, matrices, samples, model.skeleton)
        precision = precision_of(f)
        drop = 100 * (ref2["mean"] - p2["mean"])
        target = DROP_TARGETS.get(precision)
        rows.append({
            "artifact": Path(f).name, "precision": precision,
            "mean_px": round(float(d.mean()), 4), "p95_px": round(float(np.percentile(d, 95)), 4),
            "max_px": round(float(d.max()), 4), "max_score_diff": round(float(np.abs(sc - ref_sc).max()), 5),
            "pck@0.2": round(100 * p2["mean"], 2), "pck@0.1": round(100 * p1["mean"], 2),
            "pck@0.2_drop": round(drop, 2), "target_drop": target,
            "ok": bool(target is None or drop <= target),
        })
    return {"model": model.spec.id if getattr(model, "spec", None) else None, "data": desc,
            "crops": int(len(images)), "rows": rows}
