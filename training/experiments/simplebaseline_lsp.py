"""SimpleBaseline recipes (Xiao, Wu, Wei, ECCV 2018) on an ImageNet EfficientNet-Lite0 backbone."""

from training.experiments.base import Experiment
from zoo.presets import SIMPLEBASELINE_LSP_ARGS

# The model: SIMPLEBASELINE_LSP_ARGS (zoo.presets); sigma 2 on the 48x48 maps is the paper's value
# for its 64x48 maps. Adam at 1e-3 with warm-up and cosine decay
# over 24 epochs: at the 18 img/s measured on a 2-core AMD EPYC (float32 eager, the fastest there,
# benchmarks/train_speed/) one epoch of the 8,100 crops is about 7.5 min, so the schedule spans
# two sessions, resumed from the committed checkpoint.
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

# A tiny version for smoke tests: trains in seconds from the ImageNet backbone.
SIMPLEBASELINE_TINY = SIMPLEBASELINE_LSP.replace(
    name="simplebaseline_tiny",
    model_args=dict(backbone="lite0", backbone_stride=16, deconv_layers=2, head_filters=16, input_size=64,
                    skeleton="lsp14"),
    batch_size=4, epochs=1, steps_per_epoch=2, warmup_steps=1,
)

EXPERIMENTS = (SIMPLEBASELINE_LSP, SIMPLEBASELINE_TINY)
