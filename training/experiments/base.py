"""A training recipe as plain data: model, data, codec, schedule."""

from __future__ import annotations

import dataclasses
from typing import Dict, Tuple

from training.augment import AugmentConfig
from training.composite import SceneConfig


@dataclasses.dataclass(frozen=True)
class Experiment:
    """One training recipe.

    Args:
        name: experiment name (``hourglass_lsp``).
        architecture: ``zoo.registry`` architecture name (``hourglass``).
        model_args: build arguments of the architecture.
        dataset: ``lspet`` or ``mpii`` (top-down crops) or ``lspet_scenes`` (multi-person scenes
            composited from LSPet people, ``training.composite``).
        sigma: Gaussian sigma of the heatmap targets, in heatmap cells.
        limb_width: half-width of the part affinity field targets, in cells (``paf`` codec).
        batch_size: global batch size (split across replicas).
        epochs: number of epochs.
        steps_per_epoch: optimizer steps per epoch (default: one pass over the training split).
        learning_rate: peak Adam learning rate; linear warm-up then cosine decay to 1 %.
        warmup_steps: warm-up length.
        augment: augmentation ranges.
        jit_compile: compile the train step with XLA.
        codec: target codec, ``heatmap``, ``regression`` (box-normalised coordinates) or ``paf``
            (confidence maps + part affinity fields, bottom-up; ``training.bottom_up``).
        scenes: how multi-person scenes are composited (``lspet_scenes``).
        val_scenes: number of held-out scenes of the validation losses (``lspet_scenes``).
        phases: ``((stage, epochs[, learning_rate]), ...)`` trained one after another, each in
            its own folder, with what the model's ``prepare_stage`` freezes (DeepPose's cascade,
            Tompson's training phases); the optional third item overrides ``learning_rate`` for
            that phase; empty: the whole model for ``epochs``.
        init_from: a published model (``hourglass-lsp@1``) whose weights start the training
            (a longer schedule continuing an earlier version); empty: the architecture's own
            initialisation.
    """

    name: str
    architecture: str
    model_args: Dict
    dataset: str = "lspet"
    sigma: float = 1.5
    limb_width: float = 1.0
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
    scenes: SceneConfig = SceneConfig()
    val_scenes: int = 64
    init_from: str = ""

    def replace(self, **changes) -> "Experiment":
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def _experiments():
    from training.experiments import cpm_lsp, deeppose_lsp, hourglass_lsp, openpose_lsp, tompson_lsp

    return {e.name: e for m in (hourglass_lsp, cpm_lsp, deeppose_lsp, tompson_lsp, openpose_lsp)
            for e in m.EXPERIMENTS}


def list_experiments():
    return sorted(_experiments())


def get_experiment(name: str) -> Experiment:
    exps = _experiments()
    if name not in exps:
        raise KeyError(f"Unknown experiment {name!r}; known: {sorted(exps)}")
    return exps[name]
