"""DeepPose's cascade trained stage by stage (Toshev & Szegedy 2014, Sec. 3.2).

Stage 1, the holistic regressor, trains alone. Stage ``s >= 2`` trains with every other stage
frozen, on stage ``s - 1``'s predictions, half of them replaced by simulated ones drawn from the
per-joint mean and standard deviation of stage ``s - 1``'s errors, measured here on the training
batches before the stage starts (``zoo.architectures.deeppose.DeepPose.train_step``).
"""

from __future__ import annotations

import dataclasses

import numpy as np
from keras import ops

from training.distribute import replica_mean
from training.phases import Phase


def stage_error_statistics(model, stage: int, dataset, batches: int = 64, strategy=None):
    """Per-joint mean and standard deviation ``(K, 2)`` of stage ``stage``'s errors (prediction -
    truth, box-normalised) over the labelled joints of ``batches`` training batches ``(images,
    targets, weights)``: the training pipeline's crops, i.e. the inputs the next stage will see.
    With several replicas (workers draw different batches) the sums are averaged over replicas
    first, so every worker gets the same statistics."""
    total = np.zeros((model.num_joints, 2))
    total_sq = np.zeros((model.num_joints, 2))
    count = np.zeros((model.num_joints, 1))
    for images, targets, weights in dataset.take(batches):
        pred = ops.convert_to_numpy(model.forward(model.normalise(images), training=False, upto=stage)[:, -1])
        w = np.asarray(weights)[..., None]
        err = (pred - np.asarray(targets)) * w
        total += err.sum(0)
        total_sq += (err ** 2).sum(0)
        count += w.sum(0)
    if strategy is not None and strategy.num_replicas_in_sync > 1:
        total, total_sq, count = replica_mean(strategy, [total, total_sq, count])
    count = np.maximum(count, 1.0)
    mean = total / count
    return mean, np.sqrt(np.maximum(total_sq / count - mean ** 2, 0.0))


@dataclasses.dataclass(frozen=True)
class CascadeStage(Phase):
    """Phase ``stage`` of a DeepPose cascade: that stage alone trains (see the module).

    Args:
        stage, epochs, learning_rate: see ``training.phases.Phase``; stage >= 1.
        error_batches: training batches on which stage ``stage - 1``'s errors are measured.
    """

    error_batches: int = 64

    description = ("stage s trains with the earlier stages frozen; stages >= 2 on the previous stage's "
                   "predictions, half of the samples replaced by simulated ones (truth + noise drawn from the "
                   "previous stage's per-joint error mean and variance on the training split)")

    def __post_init__(self):
        super().__post_init__()
        if self.stage < 1:
            raise ValueError(f"a cascade stage is >= 1, got {self.stage!r}")

    def prepare(self, model, dataset, strategy) -> None:
        model.freeze_all_but(self.stage)
        if self.stage >= 2:
            mean, std = stage_error_statistics(model, self.stage - 1, dataset, self.error_batches, strategy)
            model.set_error_statistics(self.stage - 1, mean, std)

    def finish(self, model) -> None:
        model.end_phases()
