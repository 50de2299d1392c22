"""Phases of Tompson et al. 2015's cascade (``zoo.architectures.tompson2015``).

2. The fine model alone, on the frozen coarse model (its shared features and its BatchNorm
   statistics fixed): the fine model learns on the very windows inference crops.
3. Both jointly, end to end (the coarse MSE plus ``fine_loss_weight`` x the fine MSE).

A recipe without phases is phase 3 for its whole run. There is no phase 1 (the coarse model
alone): the joint phase already supervises the coarse heatmaps, and the windows of an untrained
fine model carry no loss back into the shared features that would need keeping out.
"""

from __future__ import annotations

import dataclasses

from training.phases import Phase


@dataclasses.dataclass(frozen=True)
class CascadePhase(Phase):
    """Phase ``stage`` (2: the fine model on the frozen coarse model; 3: both jointly) of a
    Tompson2015 model (see the module)."""

    description = ("stage 3: the coarse and the fine model jointly, the coarse heatmaps' MSE plus the fine "
                   "heatmaps' MSE in each joint's window; stage 2: the fine model alone on the frozen coarse "
                   "model (shared features and BatchNorm statistics fixed)")

    def __post_init__(self):
        super().__post_init__()
        if self.stage not in (2, 3):
            raise ValueError(f"stage must be 2 (the fine model on the frozen coarse model) or 3 (both jointly), "
                             f"got {self.stage!r}")

    def prepare(self, model, dataset, strategy) -> None:
        model.freeze_coarse(self.stage == 2)

    def finish(self, model) -> None:
        model.freeze_coarse(False)
