"""DeepPose recipes (Toshev & Szegedy, CVPR 2014), sized for CPU training.

The stages train one after another (Sec. 3.2): the holistic regressor first, then each refinement
stage with the earlier ones frozen, on their predictions plus simulated errors.
"""

from training.experiments.base import IMAGENET_FINE_TUNING, Experiment
from training.experiments.deeppose_phases import CascadeStage
from zoo.presets.deeppose import DEEPPOSE_LSP_ARGS, DEEPPOSE_LSP_IMAGENET_ARGS

DEEPPOSE_LSP = Experiment(
    name="deeppose_lsp",
    architecture="deeppose",
    model_args=DEEPPOSE_LSP_ARGS,
    dataset="lspet",
    batch_size=16,
    epochs=12,
    phases=(CascadeStage(1, 8), CascadeStage(2, 4)),
    learning_rate=1e-3,
)

# A tiny DeepPose for tests: two stages, trains in seconds on a CPU.
DEEPPOSE_TINY = DEEPPOSE_LSP.replace(
    name="deeppose_tiny",
    model_args=dict(num_stages=2, filters=(8, 8, 8), units=16, patch_size=8, patch_filters=(8,),
                    patch_units=16, sigma=1.0, dropout=0.0, input_size=32, skeleton="lsp14"),
    batch_size=4, epochs=2, phases=(CascadeStage(1, 1), CascadeStage(2, 1)), steps_per_epoch=3, warmup_steps=1,
    jit_compile=False,
)

# The @2 recipe: the holistic regressor on an ImageNet backbone (the paper's AlexNet role),
# trained longer, then the cascade stage.
DEEPPOSE_LSP_IMAGENET = DEEPPOSE_LSP.replace(name="deeppose_lsp_imagenet", model_args=DEEPPOSE_LSP_IMAGENET_ARGS,
                                             epochs=20, phases=(CascadeStage(1, 14), CascadeStage(2, 6)),
                                             **IMAGENET_FINE_TUNING)

# deeppose-lsp@3: @2 underfits (train loss = val loss) and regresses extreme poses to the
# mean pose (its worst cases are shrunk skeletons, near misses outnumber far ones), its
# curve still rising at the end of the cosine schedule. So: a second cosine schedule from its
# weights at half the peak learning rate, on the L1 loss (the median instead of the mean: less pull
# toward the mean pose), then the cascade stage again on the new stage 1's errors.
DEEPPOSE_LSP_L1 = DEEPPOSE_LSP_IMAGENET.replace(name="deeppose_lsp_l1", init_from="deeppose-lsp@2",
                                                loss="regression_l1", learning_rate=5e-4, epochs=12,
                                                phases=(CascadeStage(1, 10), CascadeStage(2, 2)))

# The same on a tiny input: trains in seconds from the ImageNet backbone (tests).
DEEPPOSE_IMAGENET_TINY = DEEPPOSE_LSP_IMAGENET.replace(
    name="deeppose_imagenet_tiny",
    model_args={**DEEPPOSE_TINY.model_args, "backbone": "lite0", "filters": (), "input_size": 64},
    batch_size=4, epochs=2, phases=(CascadeStage(1, 1), CascadeStage(2, 1)), steps_per_epoch=2, warmup_steps=1,
)

EXPERIMENTS = (DEEPPOSE_LSP, DEEPPOSE_TINY, DEEPPOSE_LSP_IMAGENET, DEEPPOSE_LSP_L1, DEEPPOSE_IMAGENET_TINY)
