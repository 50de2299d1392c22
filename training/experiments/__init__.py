"""Named training recipes. ``get_experiment("hourglass_lsp")`` returns one."""

from training.experiments import (cpm_lsp, deeppose_lsp, hourglass_lsp, openpose_lsp, simplebaseline_lsp,
                                  tompson_lsp)
from training.experiments.base import Experiment

#: Every recipe by name; a new recipe module adds its ``EXPERIMENTS`` here.
EXPERIMENTS = {e.name: e for m in (hourglass_lsp, cpm_lsp, deeppose_lsp, tompson_lsp, openpose_lsp, simplebaseline_lsp)
               for e in m.EXPERIMENTS}


def list_experiments():
    return sorted(EXPERIMENTS)


def get_experiment(name: str) -> Experiment:
    if name not in EXPERIMENTS:
        raise KeyError(f"Unknown experiment {name!r}; known: {sorted(EXPERIMENTS)}")
    return EXPERIMENTS[name]


__all__ = ["EXPERIMENTS", "Experiment", "get_experiment", "list_experiments"]
