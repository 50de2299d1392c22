"""Validation on several datasets at once, for recipes that train on several
(``Experiment.datasets``): each dataset's split scored by the protocol of docs/evaluation.md."""

from __future__ import annotations

from typing import Dict

import keras

from training.datasets.base import PoseSamples


def set_figures(result: Dict, prefix: str) -> Dict[str, float]:
    """The headline figures of a ``training.pck_evaluation.evaluate`` result as flat log entries:
    PCK@0.2 over the scored joints and over the limb joints, and PCKh@0.5 where the data has it."""
    out = {f"{prefix}pck@0.2": result["pck@0.2"]["mean"], f"{prefix}pck@0.2_limbs": result["pck@0.2"]["mean_limbs"]}
    if "pckh@0.5" in result:
        out[f"{prefix}pckh@0.5"] = result["pckh@0.5"]["mean"]
    return out


class ValidationSets(keras.callbacks.Callback):
    """After each epoch, every named validation set's figures go into the Keras logs as
    ``val_<name>_pck@0.2``, ``val_<name>_pck@0.2_limbs`` and ``val_<name>_pckh@0.5`` (where the
    data gives PCKh's normaliser), so ``history.csv`` and TensorBoard carry them. Place it before
    the callbacks that write the logs."""

    def __init__(self, sets: Dict[str, PoseSamples], batch_size: int = 32):
        super().__init__()
        self.sets, self.batch_size = dict(sets), batch_size

    def on_epoch_end(self, epoch, logs=None):
        from training.pck_evaluation import evaluate

        logs = logs if logs is not None else {}
        line = []
        for name, samples in self.sets.items():
            figures = set_figures(evaluate(self.model, samples, self.batch_size), f"val_{name}_")
            logs.update(figures)
            line.append(f"{name} " + " ".join(f"{k[len(name) + 5:]} {v:.4f}" for k, v in figures.items()))
        print(f"epoch {epoch + 1}: " + "; ".join(line), flush=True)
