"""Ablations on fixed validation splits: one row per variant, every row measured with the same
evaluation protocol (docs/evaluation.md: protocol crop, image pixels).

A variant is a recipe (experiment), a weights file trained with it, and which of the model's
stage outputs to read: e.g. the Tompson model's stage 1 is the part detector alone, stage 2 the
spatial model's refinement. Two kinds of report: ``run_ablation`` scores the variants on the LSPet
validation split (14 LSP joints, far detections); ``run_sets_ablation`` scores them on every
validation set of the multi-dataset training (``training.everyday_sets.EVERYDAY_SETS``: COCO photos,
MPII subset with PCKh, LSPet), each in its own skeleton, and says what each variant's recipe is.
"""

from __future__ import annotations

import dataclasses
import hashlib
from pathlib import Path
from typing import Dict, List, Sequence, Tuple

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


def load_variant(variant: Variant):
    """The variant's model: its recipe's architecture and build arguments, its weights loaded."""
    from training.experiments import get_experiment
    from training.loop import build_model

    if not Path(variant.weights).is_file():
        raise FileNotFoundError(f"variant {variant.label!r}: no weights file {variant.weights}")
    model = build_model(get_experiment(variant.experiment))
    model.load_weights(variant.weights)
    return model


def evaluate_variant(variant: Variant, samples: PoseSamples, batch_size: int = 32) -> Dict:
    """PCK@0.2 / PCK@0.1 per joint and far detections (> 0.5 torso) of one variant."""
    from training.metrics import far_detections, pck
    from training.pck_evaluation import predict_samples
    from zoo.skeletons import get_skeleton

    model = load_variant(variant)
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


# --- Every validation set of the multi-dataset training ------------------------------------------

#: Short names of the ``training.everyday_sets.EVERYDAY_SETS`` for table headers.
SET_TITLES = {"coco_people": "COCO photos", "mpii_subset": "MPII subset", "lspet": "LSPet"}

#: The recipe fields the report's shared statement names (when every variant has the same value).
_SHARED_FIELDS = ("architecture", "datasets", "init_from", "epochs", "steps_per_epoch", "batch_size",
                  "learning_rate")

#: Recipe fields that say nothing about what a variant is (its name) or are stated with another
#: field (the teacher's weight and threshold, with the teacher's uses).
_UNSTATED_FIELDS = ("name", "teacher_soft_weight", "teacher_min_score")


def _teacher_statement(exp) -> str:
    """The teacher's uses of a recipe in words (``Experiment.teacher``)."""
    if not exp.teacher:
        return "no teacher"
    uses = []
    if "fill" in exp.teacher:
        uses.append("the joints a dataset does not label take the teacher's (weighted by its score)")
    if "soft" in exp.teacher:
        uses.append(f"soft targets: people whose targets are all the teacher's joints (weighted by its score), "
                    f"sampled at {exp.teacher_soft_weight:g} x each dataset's weight")
    return f"teacher (joints scored >= {exp.teacher_min_score:g}): " + "; ".join(uses)


def _field_statement(exp, field: str) -> str:
    value = exp.to_dict()[field]
    if field == "teacher":
        return _teacher_statement(exp)
    if field == "datasets":
        return "data " + " + ".join(f"{name} (weight {weight:g})" for name, weight in exp.training_sets)
    if field == "init_from":
        return f"starts from {value}" if value else "starts from the architecture's initialisation"
    if field == "steps_per_epoch":
        return f"{value} steps per epoch" if value else "one pass over the data per epoch"
    words = {"epochs": "{} epochs", "batch_size": "batch {}", "learning_rate": "peak learning rate {:g}"}
    return words[field].format(value) if field in words else f"{field} {value}"


def describe_variants(variants: Sequence[Variant], experiments: Sequence) -> Tuple[str, List[str]]:
    """What the variants share (the shared fields of their recipes, in words) and what each one is:
    the recipe fields in which the variants differ, and the stage read where the stages differ.
    A single variant is described by its recipe's teacher use alone."""
    fields = [f.name for f in dataclasses.fields(experiments[0]) if f.name not in _UNSTATED_FIELDS]
    differing = [f for f in fields if len({repr(e.to_dict()[f]) for e in experiments}) > 1]
    shared = "; ".join(_field_statement(experiments[0], f) for f in _SHARED_FIELDS if f not in differing)
    statements = []
    for variant, exp in zip(variants, experiments):
        parts = [_field_statement(exp, f) for f in differing] or [_teacher_statement(exp)]
        if len({v.stage for v in variants}) > 1:
            parts.append(f"stage {variant.stage} output")
        statements.append("; ".join(parts))
    return shared, statements


def evaluate_variant_on_sets(variant: Variant, sets: Dict[str, PoseSamples], description: str = "") -> Dict:
    """One variant's PCK@0.2 / PCK@0.1 (PCKh@0.5 where the set has head sizes) on each of ``sets``
    (``training.everyday_sets.everyday_samples``), read from its ``stage`` output."""
    from training.everyday_sets import score_everyday_sets

    if variant.stage < 1:
        raise ValueError(f"variant {variant.label!r}: stage {variant.stage} is not a stage (1-based)")
    model = load_variant(variant)
    try:
        scores = score_everyday_sets(model, sets, stage=variant.stage)
    except ValueError as e:
        if not str(e).startswith(f"stage {variant.stage} not in"):
            raise
        raise ValueError(f"variant {variant.label!r}: {e}") from None
    return {"label": variant.label, "experiment": variant.experiment, "weights": variant.weights,
            "weights_sha256": _sha256(variant.weights), "stage": variant.stage, "description": description,
            "sets": {name: {k: v for k, v in r.items() if k.startswith("pck")} for name, r in scores.items()}}


def run_sets_ablation(variants: Sequence[Variant], data=None, limit: int = 0) -> Dict:
    """Every variant scored on every validation set of the multi-dataset training
    (``training.everyday_sets.EVERYDAY_SETS``; ``limit``: the first people of each set only, not for a
    card). Each set's headline figure is its ``metric``'s mean over the 12 limb joints: PCKh@0.5
    where the set has head sizes (MPII), else PCK@0.2."""
    from training.everyday_sets import EVERYDAY_SETS, everyday_samples
    from training.experiments import get_experiment
    from training.pck_evaluation import PROTOCOL

    if not variants:
        raise ValueError("an ablation needs at least one variant")
    experiments = [get_experiment(v.experiment) for v in variants]  # unknown recipes fail before any scoring
    shared, statements = describe_variants(variants, experiments)
    sets = everyday_samples(data, limit)
    rows = [evaluate_variant_on_sets(v, sets, s) for v, s in zip(variants, statements)]
    return {"data": "every validation set of the multi-dataset training", "protocol": PROTOCOL,
            "recipe": shared, "limit": limit,
            "sets": {name: {"title": SET_TITLES.get(name, name), "data": EVERYDAY_SETS[name],
                            "skeleton": samples.skeleton, "num_images": len(samples),
                            "metric": "pckh@0.5" if samples.pckh_normaliser is not None else "pck@0.2"}
                     for name, samples in sets.items()},
            "rows": rows}
