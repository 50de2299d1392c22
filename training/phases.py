"""Phases of a training run: the protocol the training loop calls.

A recipe without ``phases`` trains the whole model at once: one ``Phase(0, epochs)`` whose files
(``backup/``, ``history.csv``) are in the workdir itself. A multi-phase recipe
(DeepPose's cascade, Tompson et al.'s three phases) lists its architecture's ``Phase`` subclass,
defined beside the recipe in ``training.experiments``; the loop trains the phases in order, each in
``<workdir>/stage<s>`` with its own checkpoints and history, and skips a phase whose
``stage.weights.h5`` is there. TensorBoard shows the whole run as one (``<workdir>``), phase
after phase along the global optimizer step (``step_offsets``). For each phase the loop asks it
what to freeze or measure first (``prepare``), its loss (``loss``, a ``training.losses.LOSSES``
name; None: the codec's), how many stage outputs it supervises (``supervised_stages``), its extra
callbacks, and what to do once it has trained (``finish``: e.g. back to inference mode). A new
multi-phase architecture subclasses ``Phase`` next to its recipe; the loop does not change.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import ClassVar, List, Optional, Tuple

#: A finished phase's weights, in its folder: a phase that has them is not trained again.
STAGE_WEIGHTS = "stage.weights.h5"


@dataclasses.dataclass(frozen=True)
class Phase:
    """One phase of a training run.

    Args:
        stage: 0, the whole model at once (in the workdir); ``s >= 1``, the architecture's phase
            ``s`` (in ``<workdir>/stage<s>``).
        epochs: epochs of this phase (its own warm-up and cosine schedule).
        learning_rate: peak learning rate of this phase; None: the recipe's ``learning_rate``.
    """

    stage: int
    epochs: int
    learning_rate: Optional[float] = None

    #: One sentence on what the phases of this kind do (the recipe line of model cards).
    description: ClassVar[str] = ""
    #: The objective of a phase that trains with its own (e.g. the model's ``train_step``) instead
    #: of the codec's loss; the recipe line of model cards names it in place of the codec's loss
    #: sentence. "": the codec's loss (or the phase's ``loss()``).
    objective: ClassVar[str] = ""

    def __post_init__(self):
        if int(self.stage) < 0:
            raise ValueError(f"stage must be >= 0, got {self.stage!r}")
        if int(self.epochs) < 1:
            raise ValueError(f"epochs must be >= 1, got {self.epochs!r}")
        if self.learning_rate is not None and not float(self.learning_rate) > 0:
            raise ValueError(f"learning_rate must be > 0, got {self.learning_rate!r}")

    def as_tuple(self) -> Tuple:
        """``(stage, epochs)`` or ``(stage, epochs, learning_rate)``: how ``experiment.json`` and
        ``train_runs.jsonl`` record the phase."""
        return (self.stage, self.epochs) + (() if self.learning_rate is None else (self.learning_rate,))

    def folder(self, workdir) -> Path:
        """Where the phase keeps its checkpoints and history."""
        return Path(workdir) / f"stage{self.stage}" if self.stage else Path(workdir)

    def peak_learning_rate(self, default: float) -> float:
        return default if self.learning_rate is None else self.learning_rate

    def loss(self) -> Optional[str]:
        """The phase's objective, a ``training.losses.LOSSES`` name; None: the codec's loss."""
        return None

    def supervised_stages(self, model) -> int:
        """Stage outputs with a loss metric each: every stage of the model, or stages 1..s."""
        return min(self.stage, model.num_stages) if self.stage else model.num_stages

    def prepare(self, model, dataset, strategy) -> None:
        """Before the phase trains (inside ``strategy.scope()``): freezes what the phase does not
        train and measures what it needs on ``dataset``, the training batches."""

    def callbacks(self, model, val_samples, image_logs) -> List:
        """Extra Keras callbacks of the phase; ``image_logs``: where the worker that writes
        images writes them (the run's ``training.run_log.RunLog`` at this phase's steps, or a
        folder), None elsewhere or without TensorBoard."""
        return []

    def finish(self, model) -> None:
        """After the phase trained: leaves the model ready for inference."""


def step_offsets(phases, steps_per_epoch: int) -> List[int]:
    """The global optimizer step at which each phase starts: the steps of the phases before it
    (``steps_per_epoch * epochs`` each). Fixed by the recipe, so a resumed run, or one that skips
    finished phases, puts every phase at the same steps of the run's TensorBoard axis."""
    offsets, total = [], 0
    for phase in phases:
        offsets.append(total)
        total += int(steps_per_epoch) * int(phase.epochs)
    return offsets
