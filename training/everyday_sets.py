"""The everyday validation sets of a COCO-17 model (docs/evaluation.md, "Everyday photos"): the
validation split of every dataset of the multi-dataset training, each scored in its own skeleton."""

from __future__ import annotations

from typing import Dict

from training.datasets.base import PoseSamples
from training.pck_evaluation import evaluate

#: The validation sets of a COCO-17 model (docs/evaluation.md, "Everyday photos"): the first is
#: its headline figure, the COCO photos, the set closest to users' photos.
EVERYDAY_SETS = {
    "coco_people": "COCO photos validation split (shared coco-mini + coco-extra, train2017 photos whose "
                   "crc32(image id) % 1000 < 153; people with >= 8 of the 12 body joints labelled)",
    "mpii_subset": "MPII subset validation split (scenes with crc32(scene) % 100 < 12); PCKh with its head_size",
    "lspet": "LSPet validation split (im08101-im09000)",
}


def everyday_samples(data=None, limit: int = 0) -> Dict[str, PoseSamples]:
    """The validation split of every ``EVERYDAY_SETS`` dataset (its first ``limit`` people when
    ``limit`` is set), in the order of ``EVERYDAY_SETS``."""
    from training.datasets import load_person_dataset

    sets = {}
    for name in EVERYDAY_SETS:
        samples = load_person_dataset(name, "val", data)
        sets[name] = samples.subset(range(min(limit, len(samples)))) if limit else samples
    return sets


def score_everyday_sets(model, sets: Dict[str, PoseSamples], stage: int = 0) -> Dict[str, Dict]:
    """PCK@0.2 / PCK@0.1 (and PCKh@0.5 on MPII) of ``model``'s ``stage`` output (``evaluate``) on
    each of ``sets`` (``everyday_samples``), each in its own skeleton:
    ``{set: {"data", "skeleton", "num_images", "pck@0.2", "pck@0.1"[, "pckh@0.5"]}}``."""
    out = {}
    for name, samples in sets.items():
        result = evaluate(model, samples, stage=stage)
        out[name] = {"data": EVERYDAY_SETS[name], "skeleton": samples.skeleton, "num_images": len(samples),
                     **{k: result[k] for k in ("pck@0.2", "pck@0.1", "pckh@0.5") if k in result}}
    return out


def evaluate_everyday_sets(model, data=None, limit: int = 0) -> Dict[str, Dict]:
    """PCK@0.2 / PCK@0.1 (and PCKh@0.5 on MPII) of ``model`` on every ``EVERYDAY_SETS`` validation
    split, each in its own skeleton: ``{set: {"data", "pck@0.2", "pck@0.1"[, "pckh@0.5"]}}``."""
    return score_everyday_sets(model, everyday_samples(data, limit))


def format_everyday_sets(sets: Dict[str, Dict]) -> str:
    """One line per validation set: limb and all-joint PCK, PCKh where measured."""
    lines = []
    for name, r in sets.items():
        line = (f"{name:<12} limb joints PCK@0.2 {100 * r['pck@0.2']['mean_limbs']:.1f}  "
                f"PCK@0.1 {100 * r['pck@0.1']['mean_limbs']:.1f}  "
                f"all scored joints PCK@0.2 {100 * r['pck@0.2']['mean']:.1f}")
        if "pckh@0.5" in r:
            line += f"  PCKh@0.5 {100 * r['pckh@0.5']['mean_limbs']:.1f} (limb joints)"
        lines.append(line + f"  ({r['num_images']} people)")
    return "\n".join(lines)
