"""Real calibration crops for full-integer quantisation, drawn from the training split."""

from __future__ import annotations

import numpy as np

from zoo.registry import ModelSpec

CALIBRATION_DESCRIPTION = ("{count} protocol crops (DESIGN.md top-down crop, no augmentation) of LSPet "
                           "training-split images chosen with seed {seed}; the same crops on every export")


def calibration_crops(spec: ModelSpec, count: int = 300, seed: int = 0) -> np.ndarray:
    """``count`` uint8 crops ``(count, S, S, 3)`` of training images, as the model sees them at
    deployment (the protocol crop). Deterministic: the same seed gives the same crops, so an
    int8 export is reproducible byte for byte."""
    from training.datasets import load_lspet
    from training.pipeline import evaluation_dataset

    if count < 1:
        raise ValueError(f"calibration needs at least one crop, got count={count}")
    if spec.skeleton != "lsp14":
        raise ValueError(f"no calibration data defined for skeleton {spec.skeleton!r} (LSP models only)")
    samples = load_lspet(split="train")
    rng = np.random.default_rng(seed)
    samples = samples.subset(np.sort(rng.choice(len(samples), size=min(count, len(samples)), replace=False)))
    crops = [np.clip(np.round(b["image"].numpy()), 0, 255).astype(np.uint8)
             for b in evaluation_dataset(samples, spec.input_size, batch_size=50)]
    return np.concatenate(crops)[:count]
