"""OpenPose recipes (Cao et al., TPAMI 2019) on multi-person scenes composited from LSPet people,
sized for CPU training."""

from training.composite import SceneConfig
from training.experiments.base import Experiment
from zoo.registry import OPENPOSE_LSP_ARGS

OPENPOSE_LSP = Experiment(
    name="openpose_lsp",
    architecture="openpose",
    model_args=OPENPOSE_LSP_ARGS,
    dataset="lspet_scenes",
    batch_size=16,
    epochs=14,
    steps_per_epoch=400,
    learning_rate=2e-3,
    warmup_steps=300,
    scenes=SceneConfig(canvas=OPENPOSE_LSP_ARGS["input_size"]),
    val_scenes=64,
)

# A tiny OpenPose for tests: trains in seconds on a CPU.
OPENPOSE_TINY = OPENPOSE_LSP.replace(
    name="openpose_tiny",
    model_args=dict(backbone_filters=(8, 8, 16), stage_filters=8, stage_convs=1, paf_stages=1,
                    heatmap_stages=1, input_size=64, skeleton="lsp14"),
    batch_size=2, epochs=2, steps_per_epoch=2, warmup_steps=1, jit_compile=False,
    scenes=SceneConfig(canvas=64, max_people=2, cutout=64), val_scenes=2,
)

EXPERIMENTS = (OPENPOSE_LSP, OPENPOSE_TINY)
