"""Ablations on the fixed validation split: one row per variant, every row measured with the
same evaluation protocol (docs/evaluation.md: protocol crop, image pixels).

A variant is a recipe (experiment), a weights file trained with it, and which of the model's
stage outputs to read: e.g. the Tompson model's stage 1 is the part detector alone, stage 2 the
spatial model's refinement.
"""

from __future__ import annotations

import dataclasses
import hashlib
from pathlib import Path
from typing import Dict, List, Sequence

from training.datasets.base import PoseSamples


@dataclasses.dataclass(frozen=True)
class Variant:
    """``label``: row name; ``experiment``: recipe name; ``weights``: ``.weights.h5`` trained with
    it; ``stage``: 1-based stage output to evaluate."""

    label: str
    experiment: str
    weights: str
    stage: int

    @classmethod
    def parse(cls, text: str) -> "Variant":
        """``"label=experiment:weights:stage"``."""
        label, sep, rest = text.rpartition("=")  # the label may hold "=", the rest may not
        parts = rest.rsplit(":", 1)
        if not sep or not label.strip() or len(parts) != 2 or ":" not in parts[0] or not parts[1].isdigit():
            raise ValueError(f"variant {text!r}: expected 'label=experiment:weights.h5:stage'")
        experiment, weights = parts[0].split(":", 1)
        return cls(label.strip(), experiment, weights, int(parts[1]))


def _sha256(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def evaluate_variant(variant: Variant, samples: PoseSamples, batch_size: int = 32) -> Dict:
    """PCK@0.2 / PCK@0.1 per joint and far detections (> 0.5 torso) of one variant."""
    from training.evaluate import predict_samples
    from training.experiments import get_experiment
    from training.metrics import far_detections, pck
    from training.loop import build_model
    from zoo.skeletons import get_skeleton

    if not Path(variant.weights).is_file():
        raise FileNotFoundError(f"variant {variant.label!r}: no weights file {variant.weights}")
    exp = get_experiment(variant.experiment)
    model = build_model(exp)
    model.load_weights(variant.weights)
    stages, _ = predict_samples(model, samples, batch_size, all_stages=True)
    if not 1 <= variant.stage <= stages.shape[1]:
        raise ValueError(f"variant {variant.label!r}: stage {variant.stage} not in 1..{stages.shape[1]}")
    pred = stages[:, variant.stage - 1]
    skeleton = get_skeleton(samples.skeleton)
    gt, vis = samples.keypoints, samples.visible
    return {"label": variant.label, "experiment": variant.experiment, "weights": variant.weights,
            "weights_sha256": _sha256(variant.weights), "stage": variant.stage,
            "pck@0.2": pck(pred, gt, vis, skeleton, 0.2), "pck@0.1": pck(pred, gt, vis, skeleton, 0.1),
            "far": far_detections(pred, gt, vis, skeleton, 0.5)}


def run_ablation(variants: Sequence[Variant], samples: PoseSamples, data: str = "",
                 batch_size: int = 32) -> Dict:
    rows: List[Dict] = [evaluate_variant(v, samples, batch_size) for v in variants]
    return {"data": data, "num_images": len(samples), "far_factor": 0.5, "rows": rows}
