"""Stacked Hourglass recipes (Newell, Yang, Deng, ECCV 2016), sized for CPU training."""

from training.augment import AugmentConfig
from training.experiments.base import Experiment

HOURGLASS_LSP = Experiment(
    name="hourglass_lsp",
    architecture="hourglass",
    model_args=dict(num_stacks=2, filters=128, depth=4, input_size=128, skeleton="lsp14"),
    dataset="lspet",
    batch_size=16,
    epochs=14,
    learning_rate=1e-3,
)


# A tiny model for smoke tests and the multi-worker test: trains in seconds on a CPU.
HOURGLASS_TINY = HOURGLASS_LSP.replace(
    name="hourglass_tiny",
    model_args=dict(num_stacks=2, filters=16, depth=2, input_size=32, skeleton="lsp14"),
    batch_size=4, epochs=2, steps_per_epoch=3, warmup_steps=1, jit_compile=False,
)


# The @2 schedule: hourglass-lsp@1's weights trained on for a longer cosine schedule (the paper
# trains from scratch for about 40k iterations at batch 6 on MPII; our budget is 2 CPU cores, so
# the run continues @1 rather than repeating its first hour, and the card counts both).
HOURGLASS_LSP_LONG = HOURGLASS_LSP.replace(
    name="hourglass_lsp_long",
    init_from="hourglass-lsp@1",
    epochs=16,
    learning_rate=1e-3,
    warmup_steps=500,
    # Eager: XLA trained this model slower on a CPU (tools.train_speed).
    jit_compile=False,
    # bfloat16 where the CPU has AMX-BF16: faster there than float32, and as accurate after two
    # epochs of this recipe (benchmarks/train_speed/hourglass_lsp_long-*.json and
    # precision_accuracy_hourglass_lsp_long-*.json).
    precision="auto",
)

# A user's own full MPII release (``--data mpii_human_pose_v1_u12_1.mat``), from scratch.
HOURGLASS_MPII_RELEASE = HOURGLASS_LSP.replace(
    name="hourglass_mpii_release",
    model_args=dict(num_stacks=2, filters=128, depth=4, input_size=128, skeleton="mpii16"),
    dataset="mpii",
)

# The published hourglass-mpii: hourglass-lsp@2's network continued as an MPII-16 model (its 13
# joints of the same name carry over, pelvis / thorax / upper neck start fresh) on the MPII subset's
# everyday photos, with LSPet's unusual poses and COCO's photos for the joints they label.
HOURGLASS_MPII = HOURGLASS_LSP_LONG.replace(
    name="hourglass_mpii",
    model_args=dict(num_stacks=2, filters=128, depth=4, input_size=128, skeleton="mpii16"),
    datasets=(("mpii_subset", 0.6), ("lspet", 0.25), ("coco_people", 0.15)),
    init_from="hourglass-lsp@2",
    epochs=8,
    steps_per_epoch=250,
    learning_rate=5e-4,
    warmup_steps=100,
    augment=AugmentConfig(scale=0.3, rotation_deg=40.0, flip_prob=0.5, colour=0.2),
)

# The second cycle: hourglass-mpii@1 continued for another 8 x 250 steps with a fresh, lower cosine
# cycle; its first cycle's curve was still rising at the end.
HOURGLASS_MPII_2 = HOURGLASS_MPII.replace(
    name="hourglass_mpii_2",
    init_from="hourglass-mpii@1",
    learning_rate=3e-4,
)

EXPERIMENTS = (HOURGLASS_LSP, HOURGLASS_MPII_RELEASE, HOURGLASS_TINY, HOURGLASS_LSP_LONG, HOURGLASS_MPII,
               HOURGLASS_MPII_2)
