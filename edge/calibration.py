"""Real calibration images for full-integer quantisation, drawn from the training split: protocol
crops (``crop_calibration``) for top-down models, composited multi-person scenes
(``scene_calibration``) for bottom-up models, letterboxed COCO photos (``photo_calibration``) for
the person detector; ``edge.tasks`` says which a model gets."""

from __future__ import annotations

from typing import Tuple

import numpy as np

from zoo.registry import ModelSpec

CALIBRATION_DESCRIPTION = ("{count} protocol crops (docs/evaluation.md top-down crop, no augmentation) of {sets} "
                           "training-split images chosen with seed {seed}; the same crops on every export")
#: The training splits whose protocol crops calibrate a top-down model of each skeleton, in equal
#: shares: the data the model was trained on, so its int8 ranges cover everyday photos too.
CALIBRATION_SETS = {"lsp14": ("lspet",), "coco17": ("coco_people", "mpii_subset", "lspet"),
                    "mpii16": ("mpii_subset", "lspet", "coco_people")}
_SET_TITLES = {"lspet": "LSPet", "coco_people": "COCO photos", "mpii_subset": "MPII subset"}
SCENE_CALIBRATION_DESCRIPTION = ("{count} scenes composited from LSPet training-split people "
                                 "(training.composite.heldout_scenes, {canvas}x{canvas}, seed {seed}; the "
                                 "evaluation scenes use the validation split and seed 2017); the same "
                                 "scenes on every export")
#: Seed of the calibration scenes: not the evaluation scenes' 2017 (and another split anyway).
SCENE_SEED = 7
PHOTO_CALIBRATION_DESCRIPTION = ("{count} COCO training photos letterboxed to {canvas}x{canvas} "
                                 "(training.detector.calibration_images, seed {seed}; never the validation "
                                 "photos the detector is measured on)")
#: Photos the person detector's int8 file is calibrated on (its published measurement's count,
#: ``python -m tools.convert_detector export --calibration``).
DETECTOR_CALIBRATION_PHOTOS = 100


def calibration_crops(spec: ModelSpec, count: int = 300, seed: int = 0) -> np.ndarray:
    """``count`` uint8 crops ``(count, S, S, 3)`` of training images, as the model sees them at
    deployment (the protocol crop). Deterministic: the same seed gives the same crops, so an
    int8 export is reproducible byte for byte."""
    from training.datasets import load_person_dataset

    if count < 1:
        raise ValueError(f"calibration needs at least one crop, got count={count}")
    if spec.skeleton not in CALIBRATION_SETS:
        raise ValueError(f"no calibration data defined for skeleton {spec.skeleton!r} "
                         f"(defined for {sorted(CALIBRATION_SETS)})")
    sets = CALIBRATION_SETS[spec.skeleton]
    crops = []
    for i, name in enumerate(sets):
        # An equal share of each training split (the first takes what does not divide evenly).
        share = count // len(sets) + (count % len(sets) if i == 0 else 0)
        crops.append(_crops(load_person_dataset(name, "train"), spec.input_size, share, seed))
    return np.concatenate(crops)[:count]


def _crops(samples, size: int, count: int, seed: int) -> np.ndarray:
    from training.pipeline import evaluation_dataset

    rng = np.random.default_rng(seed)
    samples = samples.subset(np.sort(rng.choice(len(samples), size=min(count, len(samples)), replace=False)))
    crops = [np.clip(np.round(b["image"].numpy()), 0, 255).astype(np.uint8)
             for b in evaluation_dataset(samples, size, batch_size=50)]
    return np.concatenate(crops)[:count]


def calibration_scenes(spec: ModelSpec, count: int = 300, seed: int = SCENE_SEED) -> np.ndarray:
    """``count`` uint8 scenes ``(count, S, S, 3)`` composited from LSPet *training* people, the
    whole-image input of a bottom-up model (the held-out evaluation scenes come from the
    validation split, so calibration never sees them). Deterministic for a given seed."""
    from training.composite import SceneConfig, heldout_scenes
    from training.datasets import load_lspet

    if count < 1:
        raise ValueError(f"calibration needs at least one scene, got count={count}")
    if spec.skeleton != "lsp14":
        raise ValueError(f"no calibration data defined for skeleton {spec.skeleton!r} (LSP models only)")
    images, _, _, _ = heldout_scenes(load_lspet(split="train"), count, SceneConfig(canvas=spec.input_size),
                                     seed=seed)
    return images


def crop_calibration(spec: ModelSpec, count: int = 300, seed: int = 0) -> Tuple[np.ndarray, str]:
    """``calibration_crops`` and their description for the export metadata."""
    images = calibration_crops(spec, count, seed)
    sets = " + ".join(_SET_TITLES[name] for name in CALIBRATION_SETS[spec.skeleton])
    return images, CALIBRATION_DESCRIPTION.format(count=len(images), seed=seed, sets=sets)


def scene_calibration(spec: ModelSpec, count: int = 300, seed: int = SCENE_SEED) -> Tuple[np.ndarray, str]:
    """``calibration_scenes`` and their description for the export metadata."""
    images = calibration_scenes(spec, count, seed)
    return images, SCENE_CALIBRATION_DESCRIPTION.format(count=len(images), canvas=spec.input_size, seed=seed)


def photo_calibration(spec: ModelSpec, count: int = DETECTOR_CALIBRATION_PHOTOS, seed: int = 0
                      ) -> Tuple[np.ndarray, str]:
    """Letterboxed COCO training photos (the person detector's input) and their description."""
    from training.detector import calibration_images

    try:
        images = calibration_images(count, spec.input_size, seed)
    except (OSError, ValueError) as e:
        raise FileNotFoundError(f"the detector's int8 file is calibrated on COCO training photos, which could "
                                f"not be read ({e}); use precision float32 or float16") from None
    return images, PHOTO_CALIBRATION_DESCRIPTION.format(count=len(images), canvas=spec.input_size, seed=seed)
