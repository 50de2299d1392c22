"""Real calibration crops for full-integer quantisation, drawn from the training pipeline."""

from __future__ import annotations

import numpy as np

from zoo.registry import ModelSpec


def calibration_crops(spec: ModelSpec, count: int = 300, seed: int = 0) -> np.ndarray:
    """``count`` augmented uint8 crops ``(count, S, S, 3)`` of the model's training split."""
    import tensorflow as tf

    from training.augment import AugmentConfig
    from training.datasets import load_lspet
    from training.pipeline import training_dataset
    from zoo.codecs.heatmap import HeatmapCodec

    if count < 1:
        raise ValueError(f"calibration needs at least one crop, got count={count}")
    if spec.skeleton != "lsp14":
        raise ValueError(f"no calibration data defined for skeleton {spec.skeleton!r} (LSP models only)")
    samples = load_lspet(split="train")
    rng = np.random.default_rng(seed)
    samples = samples.subset(np.sort(rng.choice(len(samples), size=min(count, len(samples)), replace=False)))
    tf.random.set_seed(seed)
    codec = HeatmapCodec(spec.input_size, spec.input_size // 4, 1.5)
    ds = training_dataset(samples, codec, batch_size=min(count, 50), augment=AugmentConfig(),
                          cache=False, seed=seed, drop_remainder=False)
    crops = []
    for images, _, _ in ds:
        crops.append(np.clip(np.round(images.numpy()), 0, 255).astype(np.uint8))
        if sum(len(c) for c in crops) >= count:
            break
    return np.concatenate(crops)[:count]
