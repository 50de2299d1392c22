"""SimpleBaseline recipes (Xiao, Wu, Wei, ECCV 2018) on an ImageNet EfficientNet-Lite0 backbone."""

from training.augment import AugmentConfig
from training.experiments.base import Experiment
from zoo.presets.simplebaseline import (
    SIMPLEBASELINE_LSP_256_ARGS,
    SIMPLEBASELINE_LSP_ARGS,
    SIMPLEBASELINE_LSP_HEAD64_ARGS,
)

# The model: SIMPLEBASELINE_LSP_ARGS (zoo.presets.simplebaseline); sigma 2 on the 48x48 maps is the paper's value
# for its 64x48 maps. Adam at 1e-3 with warm-up and cosine decay over 24 epochs, float32 and eager
# (the fastest setting on a CPU without AMX-BF16, benchmarks/train_speed/); on a 2-core CPU the
# schedule is long enough to be resumed from its checkpoint (the speed: simplebaseline-lsp@1's
# model.json).
SIMPLEBASELINE_LSP = Experiment(
    name="simplebaseline_lsp",
    architecture="simplebaseline",
    model_args=SIMPLEBASELINE_LSP_ARGS,
    backbone_weights="imagenet",
    dataset="lspet",
    batch_size=32,
    epochs=24,
    learning_rate=1e-3,
    warmup_steps=300,
    jit_compile=False,
)

# The @2 recipe: simplebaseline-lsp@1 fine-tuned at 256 px (64x64 heatmaps, 8x8 stride-32
# features instead of 6x6), a fresh cosine cycle from half @1's peak rate. Why: @1's validation
# loss still fell at its last epoch while PCK@0.2 was flat, and among its misses (tools.evaluate
# --failures) are "near" ones (within 2x the threshold: localisation) and many inverted gymnasts
# (rotation beyond @1's +-30 degrees). @1's int8 file ran well under BlazePose Full's latency,
# room for the 1.8x arithmetic of the larger input.
SIMPLEBASELINE_LSP_256 = SIMPLEBASELINE_LSP.replace(
    name="simplebaseline_lsp_256",
    model_args=SIMPLEBASELINE_LSP_256_ARGS,
    backbone_weights="",
    init_from="simplebaseline-lsp@1",
    epochs=6,
    learning_rate=5e-4,
    warmup_steps=100,
    augment=AugmentConfig(scale=0.3, rotation_deg=45.0, flip_prob=0.5, colour=0.2),
)

# The @3 recipe: @2 with its head narrowed to 64 filters (SimpleBaseline.initialise_from keeps each
# deconvolution's 64 channels of largest BatchNorm scale), fine-tuned. Why: @2's int8 file ran
# slower than BlazePose Full's (its card's latency table), and the head's last 4x4 deconvolution,
# at 128 filters, is the network's largest single layer: with 64 filters the int8 file keeps up
# with BlazePose Full's (simplebaseline-lsp@3's card).
SIMPLEBASELINE_LSP_HEAD64 = SIMPLEBASELINE_LSP_256.replace(
    name="simplebaseline_lsp_head64",
    model_args=SIMPLEBASELINE_LSP_HEAD64_ARGS,
    init_from="simplebaseline-lsp@2",
    epochs=3,
    learning_rate=3e-4,
    warmup_steps=100,
)

# A tiny version for smoke tests: trains in seconds from the ImageNet backbone.
SIMPLEBASELINE_TINY = SIMPLEBASELINE_LSP.replace(
    name="simplebaseline_tiny",
    model_args=dict(backbone="lite0", backbone_stride=16, deconv_layers=2, head_filters=16, input_size=64,
                    skeleton="lsp14"),
    batch_size=4, epochs=1, steps_per_epoch=2, warmup_steps=1,
)

EXPERIMENTS = (SIMPLEBASELINE_LSP, SIMPLEBASELINE_LSP_256, SIMPLEBASELINE_LSP_HEAD64, SIMPLEBASELINE_TINY)
