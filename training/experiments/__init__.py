"""Named training recipes. ``get_experiment("hourglass_lsp")`` returns one.

Every module of this package that defines ``EXPERIMENTS`` (a tuple of ``Experiment``) is a recipe
module: adding a recipe is adding its module, nothing else."""

import importlib
import pkgutil

from training.experiments.base import Experiment


def _collect():
    found = {}
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{__name__}.{info.name}")
        for exp in getattr(module, "EXPERIMENTS", ()):
            if exp.name in found:
                raise ValueError(f"experiment {exp.name!r} is defined twice ({info.name} and another module)")
            found[exp.name] = exp
    return found


#: Every recipe by name.
EXPERIMENTS = _collect()


def list_experiments():
    return sorted(EXPERIMENTS)


def get_experiment(name: str) -> Experiment:
    if name not in EXPERIMENTS:
        raise KeyError(f"Unknown experiment {name!r}; known: {sorted(EXPERIMENTS)}")
    return EXPERIMENTS[name]


__all__ = ["EXPERIMENTS", "Experiment", "get_experiment", "list_experiments"]
