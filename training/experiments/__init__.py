"""Named training recipes. ``get_experiment("hourglass_lsp")`` returns one."""

from training.experiments.base import Experiment, get_experiment, list_experiments

__all__ = ["Experiment", "get_experiment", "list_experiments"]
