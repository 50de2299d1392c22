"""Convolutional Pose Machines recipes (Wei et al., CVPR 2016), sized for CPU training."""

from training.experiments.base import IMAGENET_FINE_TUNING, Experiment
from zoo.presets.cpm import CPM_LSP_ARGS, CPM_LSP_IMAGENET_ARGS

CPM_LSP = Experiment(
    name="cpm_lsp",
    architecture="cpm",
    model_args=CPM_LSP_ARGS,
    dataset="lspet",
    batch_size=16,
    epochs=12,
    learning_rate=1e-3,
)

# A tiny CPM for tests: trains in seconds on a CPU.
CPM_TINY = CPM_LSP.replace(
    name="cpm_tiny",
    model_args=dict(num_stages=2, feature_filters=(8, 8, 16), stage_filters=8, kernel_size=3,
                    input_size=32, skeleton="lsp14"),
    batch_size=4, epochs=2, steps_per_epoch=3, warmup_steps=1, jit_compile=False,
)

# The @2 recipe: the paper's initialisation, an ImageNet feature stage (CPM_LSP_IMAGENET_ARGS).
CPM_LSP_IMAGENET = CPM_LSP.replace(name="cpm_lsp_imagenet", model_args=CPM_LSP_IMAGENET_ARGS, epochs=16,
                                   **IMAGENET_FINE_TUNING)

# The same on a tiny input: trains in seconds from the ImageNet backbone (tests).
CPM_IMAGENET_TINY = CPM_LSP_IMAGENET.replace(
    name="cpm_imagenet_tiny",
    model_args=dict(num_stages=2, feature_filters=(8, 8, 16), stage_filters=8, kernel_size=3, backbone="lite0",
                    input_size=64, skeleton="lsp14"),
    batch_size=4, epochs=1, steps_per_epoch=2, warmup_steps=1,
)

EXPERIMENTS = (CPM_LSP, CPM_TINY, CPM_LSP_IMAGENET, CPM_IMAGENET_TINY)
