"""Tompson et al. 2015 recipes (Efficient Object Localization Using Convolutional Networks, CVPR
2015): the coarse heatmap model and its cascade trained jointly from scratch, both supervised
(``zoo.architectures.tompson2015``), sized for 2 CPU cores."""

from training.augment import AugmentConfig
from training.experiments.base import Experiment
from training.experiments.tompson2015_phases import CascadePhase
from zoo.presets.tompson2015 import TOMPSON2015_MPII_ARGS

# The published tompson2015-mpii: MPII-16 on the MPII subset's everyday photos, with LSPet's unusual
# poses and COCO's photos for the joints they label (the datasets of hourglass_mpii). From scratch:
# no earlier model of this architecture exists to continue. 2,000 steps of batch 16, sized for one
# session on 2 CPU cores (the card gives the measured time).
TOMPSON2015_MPII = Experiment(
    name="tompson2015_mpii",
    architecture="tompson2015",
    model_args=TOMPSON2015_MPII_ARGS,
    datasets=(("mpii_subset", 0.6), ("lspet", 0.25), ("coco_people", 0.15)),
    batch_size=16,
    epochs=8,
    steps_per_epoch=250,
    learning_rate=1e-3,
    warmup_steps=200,
    augment=AugmentConfig(scale=0.3, rotation_deg=40.0, flip_prob=0.5, colour=0.2),
    # Eager: no XLA measurement for this model on a CPU yet (hourglass trained slower with XLA).
    jit_compile=False,
)

# The second cycle (the stop rule's second session): tompson2015-mpii@1 continued for another 8 x 250
# steps with a fresh, lower cosine cycle; its first cycle's curve was still rising at the end.
TOMPSON2015_MPII_2 = TOMPSON2015_MPII.replace(
    name="tompson2015_mpii_2",
    init_from="tompson2015-mpii@1",
    learning_rate=5e-4,
    warmup_steps=100,
)

# The third cycle: tompson2015-mpii@2 continued jointly for 6 x 250 steps (its second cycle was still
# rising), then the fine model alone for 2 x 250 steps on the frozen coarse model: after two joint
# cycles the coarse output alone still beat the cascade at PCKh@0.5 (far misses of the fine maps).
TOMPSON2015_MPII_3 = TOMPSON2015_MPII.replace(
    name="tompson2015_mpii_3",
    init_from="tompson2015-mpii@2",
    learning_rate=3e-4,
    warmup_steps=100,
    phases=(CascadePhase(3, 6), CascadePhase(2, 2)),
)

# A tiny model for smoke tests: trains in seconds on a CPU (LSPet's joints mapped into MPII-16).
TOMPSON2015_TINY = TOMPSON2015_MPII.replace(
    name="tompson2015_tiny",
    model_args=dict(bank_filters=(8, 8, 8), context_kernel=5, num_scales=3, head_filters=8, spatial_dropout=0.2,
                    window=8, fine_filters=8, fine_sigma=1.5, input_size=32, skeleton="mpii16"),
    datasets=(),
    dataset="lspet",
    batch_size=4, epochs=1, steps_per_epoch=2, warmup_steps=1,
)

EXPERIMENTS = (TOMPSON2015_MPII, TOMPSON2015_MPII_2, TOMPSON2015_MPII_3, TOMPSON2015_TINY)
