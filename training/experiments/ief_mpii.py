"""Iterative Error Feedback recipes (Carreira, Agrawal, Fragkiadaki, Malik, CVPR 2016), sized for
CPU training, and the phase that trains it with Fixed Path Consolidation (Sec. 3.1).

Before the first step the phase measures the mean pose ``y_0`` on the training batches (the
weighted mean of every labelled joint's box-normalised position over ``mean_pose_batches``
batches of the training pipeline, i.e. of the crops the network trains on, augmentation and
dataset mixture included) and stores it in the model (``set_mean_pose``, a non-trainable weight
saved with the rest). Then every step trains on the fixed path from ``y_0`` to each sample's
truth (``zoo.architectures.ief.IterativeErrorFeedback.train_step``).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from training.augment import AugmentConfig
from training.distribute import replica_mean
from training.experiments.base import IMAGENET_FINE_TUNING, Experiment
from training.phases import Phase
from zoo.presets.ief import IEF_MPII_ARGS


def training_mean_pose(dataset, num_joints: int, batches: int = 64, strategy=None) -> np.ndarray:
    """Per-joint mean ``(K, 2)`` of the labelled joints' box-normalised targets over ``batches``
    training batches ``(images, targets, weights)``; a joint never labelled there stays at the
    crop centre (0). With several replicas the sums are averaged first, so every worker agrees."""
    total, count = np.zeros((num_joints, 2)), np.zeros((num_joints, 1))
    for _, targets, weights in dataset.take(batches):
        w = np.asarray(weights, np.float64)[..., None]
        total += (np.asarray(targets, np.float64) * w).sum(0)
        count += w.sum(0)
    if strategy is not None and strategy.num_replicas_in_sync > 1:
        total, count = replica_mean(strategy, [total, count])
    return (total / np.maximum(count, 1e-9) * (count > 0)).astype("float32")


@dataclasses.dataclass(frozen=True)
class FixedPathConsolidation(Phase):
    """Training of ``IterativeErrorFeedback`` on the fixed path from the mean pose (see the module).

    Args:
        stage, epochs, learning_rate: see ``training.phases.Phase`` (0: the whole run in the workdir).
        path_points: the first points of the path trained on (0: all ``num_iterations``); the
            paper's Algorithm 1 grows it by one per step of its schedule, which a recipe writes as
            one phase per value.
        own_iterate_share: share of the samples that start from the network's own iterates instead
            of the fixed path (consolidation on the points it really reaches; 0: the fixed path only).
        measure_mean_pose: measure ``y_0`` on the training batches first (False: keep the model's,
            e.g. from the version a recipe continues or an earlier phase).
        mean_pose_batches: training batches the mean pose is measured on.
    """

    path_points: int = 0
    own_iterate_share: float = 0.0
    measure_mean_pose: bool = True
    mean_pose_batches: int = 64

    description = ("Fixed Path Consolidation: y_0 is the training batches' mean pose; every step trains each "
                   "sample at the points of the fixed path y_{t+1} = y_t + e(y* - y_t) from y_0 to its truth "
                   "(e: the correction bounded to L per joint)")
    objective = ("squared error of the network's correction against the bounded correction e(y* - y_t) at each "
                 "point y_t of the fixed path, summed over x, y and the path's points, averaged over labelled "
                 "joints (Iterative Error Feedback, Carreira et al. 2016, Sec. 3.1)")

    def __post_init__(self):
        super().__post_init__()
        if int(self.path_points) < 0:
            raise ValueError(f"path_points must be >= 0 (0: all iterations), got {self.path_points!r}")
        if not 0.0 <= float(self.own_iterate_share) <= 1.0:
            raise ValueError(f"own_iterate_share must be in [0, 1], got {self.own_iterate_share!r}")
        if int(self.mean_pose_batches) < 1:
            raise ValueError(f"mean_pose_batches must be >= 1, got {self.mean_pose_batches!r}")

    def supervised_stages(self, model) -> int:
        return min(self.path_points or model.num_stages, model.num_stages)

    def prepare(self, model, dataset, strategy) -> None:
        if self.path_points > model.num_iterations:
            raise ValueError(f"path_points={self.path_points} exceeds the model's num_iterations="
                             f"{model.num_iterations}")
        model.path_points, model.own_iterate_share = int(self.path_points), float(self.own_iterate_share)
        if self.measure_mean_pose:
            mean = training_mean_pose(dataset, model.num_joints, self.mean_pose_batches, strategy)
            model.set_mean_pose(mean)
            print(f"mean pose measured on {self.mean_pose_batches} training batches", flush=True)

    def finish(self, model) -> None:
        model.path_points, model.own_iterate_share = 0, 0.0


# The MPII-16 model: the MPII subset's everyday photos with LSPet's unusual poses and COCO's photos
# for the joints they label (as hourglass_mpii); ImageNet Lite0 starts f. Each step costs
# num_iterations forward and backward passes per image (one per path point), so batch 16, and
# 10 x 200 steps sized for one session on 2 CPU cores (the card gives the measured time).
IEF_MPII = Experiment(
    name="ief_mpii",
    architecture="ief",
    model_args=IEF_MPII_ARGS,
    datasets=(("mpii_subset", 0.6), ("lspet", 0.25), ("coco_people", 0.15)),
    **{**IMAGENET_FINE_TUNING, "batch_size": 16, "warmup_steps": 100,
       "augment": AugmentConfig(scale=0.3, rotation_deg=40.0, flip_prob=0.5, colour=0.2)},
    epochs=10,
    steps_per_epoch=200,
    phases=(FixedPathConsolidation(0, 10),),
)

# The second cycle: ief-mpii@1 continued for another 10 x 200 steps with a fresh, lower cosine cycle,
# keeping its measured mean pose y_0 (the iterations start from the pose the network learnt from).
IEF_MPII_2 = IEF_MPII.replace(
    name="ief_mpii_2",
    init_from="ief-mpii@1",
    backbone_weights="",
    learning_rate=5e-4,
    phases=(FixedPathConsolidation(0, 10, measure_mean_pose=False),),
)

# The third cycle: ief-mpii@2 continued for another 10 x 200 steps, a quarter of the samples trained
# from the network's own iterates instead of the fixed path, because the last iteration of @1 and
# @2 lost to the one before it, where the estimates leave the path.
IEF_MPII_3 = IEF_MPII_2.replace(
    name="ief_mpii_3",
    init_from="ief-mpii@2",
    phases=(FixedPathConsolidation(0, 10, own_iterate_share=0.25, measure_mean_pose=False),),
)

# A tiny IEF for smoke tests: two iterations at 64 px, trains in seconds on a CPU.
IEF_TINY = IEF_MPII.replace(
    name="ief_tiny",
    model_args=dict(num_iterations=2, head_filters=8, units=16, dropout=0.0, input_size=64, skeleton="mpii16"),
    datasets=(("lspet", 1.0),), backbone_weights="", batch_size=4, epochs=1, steps_per_epoch=2, warmup_steps=1,
    phases=(FixedPathConsolidation(0, 1, mean_pose_batches=2),),
)

EXPERIMENTS = (IEF_MPII, IEF_MPII_2, IEF_MPII_3, IEF_TINY)
