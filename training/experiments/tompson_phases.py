"""Tompson et al. 2014's training phases (Sec. 4) for ``zoo.architectures.tompson``.

1. The part detector alone (MSE on its heatmaps), the spatial model bypassed.
2. The spatial model alone on the frozen detector, its pairwise kernels first initialised from the
   smoothed histogram of joint displacements on the training crops (Sec. 3.2), trained by the
   likelihood of the true cell (``training.losses.marginal_nll``).
3. Both jointly, end to end (the codec's MSE on both outputs). Stage 3 alone (kernels from the
   histograms, then everything trained) is the end-to-end-from-the-start recipe.

Phases 2 and 3 log the pairwise kernels and the unary vs. refined maps to the run's TensorBoard
(``training.callbacks.SpatialModelImages``: ``model/pairwise_kernels``,
``val/unary_vs_refined/<joint>``).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from training.callbacks import SpatialModelImages
from training.distribute import replica_mean
from training.phases import Phase


def displacement_histograms_of(dataset, spatial_model, batches: int = 200, strategy=None,
                               smoothing: float = 1.0) -> np.ndarray:
    """The smoothed histograms of joint displacements on ``spatial_model``'s message grid,
    measured on ``batches`` training batches ``(images, heatmaps, weights)``: each labelled joint
    sits at its target heatmap's peak cell. With several replicas the histograms are averaged over
    them, so every worker starts alike."""
    from zoo.layers.spatial_model import displacement_histograms

    points, visible = [], []
    for _, targets, weights in dataset.take(batches):
        t = np.asarray(targets)
        n, h, w, k = t.shape
        peak = t.reshape(n, h * w, k).argmax(axis=1)
        points.append(np.stack([peak % w, peak // w], axis=-1))
        visible.append(np.asarray(weights) > 0)
    if not points:
        raise ValueError("the training dataset gave no batch to measure joint displacements on")
    cells = np.concatenate(points).astype("float64") / spatial_model.message_stride
    hist = displacement_histograms(cells, np.concatenate(visible), spatial_model.message_size, sigma=smoothing)
    if strategy is not None and strategy.num_replicas_in_sync > 1:
        hist = replica_mean(strategy, [hist])[0].astype("float32")
    return hist


@dataclasses.dataclass(frozen=True)
class TompsonPhase(Phase):
    """Phase ``stage`` (1, 2 or 3) of Tompson et al.'s training (see the module).

    Args:
        stage, epochs, learning_rate: see ``training.phases.Phase``.
        histogram_batches: training batches the displacement histograms are measured on.
    """

    histogram_batches: int = 200

    description = ("stage 1: the part detector alone (MSE on its heatmaps); stage 2: the spatial model alone "
                   "on the frozen detector (BatchNorm in inference mode), pairwise kernels initialised from the "
                   "smoothed histogram of joint displacements on the training crops, trained by maximum "
                   "likelihood of the true cell under its normalised marginals; stage 3: both jointly, end to "
                   "end, MSE on both outputs (the refined maps rescaled to peak 1)")

    def __post_init__(self):
        super().__post_init__()
        if self.stage not in (1, 2, 3):
            raise ValueError(f"stage must be 1 (detector), 2 (spatial model) or 3 (joint), got {self.stage!r}")

    def loss(self):
        return "marginal_nll" if self.stage == 2 else None

    def prepare(self, model, dataset, strategy) -> None:
        """Freezes what the phase does not train; phases 2 and 3 first start the pairwise kernels
        from the displacement histograms, unless they were trained already."""
        model.freeze_for_phase(self.stage)
        if self.stage >= 2 and not model.spatial_initialised:
            model.initialise_spatial_model(
                displacement_histograms_of(dataset, model.spatial_model, self.histogram_batches, strategy))

    def callbacks(self, model, val_samples, image_logs):
        if image_logs is None or self.stage == 1:
            return []
        return [SpatialModelImages(val_samples, image_logs)]

    def finish(self, model) -> None:
        model.end_phases()
