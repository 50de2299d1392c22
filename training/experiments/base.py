"""A training recipe as plain data: model, data, codec, schedule."""

from __future__ import annotations

import dataclasses
from typing import Dict, Tuple

from training.augment import AugmentConfig


@dataclasses.dataclass(frozen=True)
class Experiment:
    """One training recipe.

    Args:
        name: experiment name (``hourglass_lsp``).
        architecture: ``zoo.registry`` architecture name (``hourglass``).
        model_args: build arguments of the architecture.
        dataset: ``lspet`` or ``mpii``.
        sigma: Gaussian sigma of the heatmap targets, in heatmap cells.
        batch_size: global batch size (split across replicas).
        epochs: number of epochs.
        steps_per_epoch: optimizer steps per epoch (default: one pass over the training split).
        learning_rate: peak Adam learning rate; linear warm-up then cosine decay to 1 %.
        warmup_steps: warm-up length.
        augment: augmentation ranges.
        jit_compile: compile the train step with XLA.
        codec: target codec, ``heatmap`` or ``regression`` (box-normalised coordinates).
        phases: ``((stage, epochs[, learning_rate]), ...)`` trained one after another, each in
            its own folder, with what the model's ``prepare_stage`` freezes (DeepPose's cascade,
            Tompson's training phases); the optional third item overrides ``learning_rate`` for
            that phase; empty: the whole model for ``epochs``.
    """

    name: str
    architecture: str
    model_args: Dict
    dataset: str = "lspet"
    sigma: float = 1.5
    batch_size: int = 16
    epochs: int = 16
    steps_per_epoch: int = 0
    learning_rate: float = 1e-3
    warmup_steps: int = 300
    weight_decay: float = 0.0
    augment: AugmentConfig = AugmentConfig()
    jit_compile: bool = True
    codec: str = "heatmap"
    phases: Tuple[Tuple, ...] = ()

    def replace(self, **changes) -> "Experiment":
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def _experiments():
    from training.experiments import cpm_lsp, deeppose_lsp, hourglass_lsp, tompson_lsp

    return {e.name: e for m in (hourglass_lsp, cpm_lsp, deeppose_lsp, tompson_lsp) for e in m.EXPERIMENTS}


def list_experiments():
    return sorted(_experiments())


def get_experiment(name: str) -> Experiment:
    exps = _experiments()
    if name not in exps:
        raise KeyError(f"Unknown experiment {name!r}; known: {sorted(exps)}")
    return exps[name]
