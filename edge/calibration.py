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
SOURCE_CALIBRATION_DESCRIPTION = ("{count} images of the training sources of recipe {recipe} in its sampling "
                                  "shares ({counts}), {canvas}x{canvas}, seed {seed}: the photo sources' training "
                                  "splits letterboxed as predict_people does (never a validation photo), the scenes "
                                  "composited from LSPet training-split people (training.composite.heldout_scenes); "
                                  "the same images on every export")
_SOURCE_TITLES = {"coco_photos": "COCO training photos", "mpii_photos": "MPII subset training photos",
                  "lspet_scenes": "LSPet training scenes"}
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
    """``count`` uint8 images ``(count, S, S, 3)``, the whole-image input of a bottom-up model, from
    what it was trained on, never a validation image (``calibration_sources``): for a recipe of
    real photos (``Experiment.datasets``, e.g. ``openpose_coco``) its sources in its weights' shares,
    each photo source's *training* photos letterboxed as ``predict_people`` does and scenes
    composited from LSPet *training* people; otherwise (LSP-14) those scenes alone (the held-out
    evaluation scenes come from the validation split, so calibration never sees them).
    Deterministic for a given seed."""
    return np.concatenate([images for _, images in _calibration_parts(spec, count, seed)])


def calibration_sources(spec: ModelSpec):
    """``(source, weight)`` pairs a bottom-up ``spec`` is calibrated on: its recipe's ``datasets``
    (``training.bottom_up.source_mix``: ``lspet_scenes`` and the ``training.real_photos`` sources),
    else LSPet scenes alone for an LSP-14 model; a clear error for any other."""
    from training.bottom_up import SCENES
    from training.experiments import EXPERIMENTS

    recipe = EXPERIMENTS.get(spec.experiment) if spec.experiment else None
    if recipe is not None and recipe.datasets:
        return recipe.training_sets
    if spec.skeleton != "lsp14":
        raise ValueError(f"no calibration data defined for skeleton {spec.skeleton!r} without a recipe that names "
                         f"its training sources (Experiment.datasets; recipe: {spec.experiment!r}); LSP-14 models "
                         "are calibrated on LSPet scenes")
    return ((SCENES, 1.0),)


def _calibration_parts(spec: ModelSpec, count: int, seed: int):
    """``[(source, uint8 images)]``: each source's share of ``count`` (by weight, the remainder to the
    first), skipping empty shares."""
    if count < 1:
        raise ValueError(f"calibration needs at least one scene, got count={count}")
    sources = calibration_sources(spec)
    total = sum(w for _, w in sources)
    shares = [int(count * w / total) for _, w in sources]
    shares[0] += count - sum(shares)
    return [(name, _source_images(name, spec.input_size, n, seed)) for (name, _), n in zip(sources, shares) if n]


def _source_images(name: str, size: int, count: int, seed: int) -> np.ndarray:
    """``count`` uint8 ``(size, size, 3)`` images of training source ``name``: LSPet training-split
    scenes (``training.composite.heldout_scenes``) or a photo source's training photos chosen with
    ``seed``, letterboxed (``zoo.preprocess.letterbox``)."""
    from training.bottom_up import SCENES

    if name == SCENES:
        from training.composite import SceneConfig, heldout_scenes
        from training.datasets import load_lspet

        return heldout_scenes(load_lspet(split="train"), count, SceneConfig(canvas=size), seed=seed)[0]
    from training.real_photos import load_source
    from zoo.io import read_image
    from zoo.preprocess import letterbox

    photos = load_source(name, split="train")
    picks = np.sort(np.random.default_rng(seed).permutation(len(photos))[:count])
    return np.stack([letterbox(read_image(photos.image_paths[i]), size)[0] for i in picks])


def crop_calibration(spec: ModelSpec, count: int = 300, seed: int = 0) -> Tuple[np.ndarray, str]:
    """``calibration_crops`` and their description for the export metadata."""
    images = calibration_crops(spec, count, seed)
    sets = " + ".join(_SET_TITLES[name] for name in CALIBRATION_SETS[spec.skeleton])
    return images, CALIBRATION_DESCRIPTION.format(count=len(images), seed=seed, sets=sets)


def scene_calibration(spec: ModelSpec, count: int = 300, seed: int = SCENE_SEED) -> Tuple[np.ndarray, str]:
    """``calibration_scenes`` and their description for the export metadata."""
    parts = _calibration_parts(spec, count, seed)
    images = np.concatenate([images for _, images in parts])
    if [name for name, _ in parts] == ["lspet_scenes"]:
        return images, SCENE_CALIBRATION_DESCRIPTION.format(count=len(images), canvas=spec.input_size, seed=seed)
    counts = ", ".join(f"{len(images)} {_SOURCE_TITLES[name]}" for name, images in parts)
    return images, SOURCE_CALIBRATION_DESCRIPTION.format(count=len(images), counts=counts, canvas=spec.input_size,
                                                         seed=seed, recipe=spec.experiment)


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
