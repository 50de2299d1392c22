"""OpenPose recipes (Cao et al., TPAMI 2019) on multi-person scenes composited from LSPet people,
sized for CPU training."""

from training.augment import AugmentConfig
from training.composite import SceneConfig
from training.experiments.base import Experiment
from zoo.presets.openpose import OPENPOSE_LSP_ARGS, OPENPOSE_LSP_LITE_ARGS

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

# The @2 recipe: the ImageNet backbone, and training scenes closer to everyday group photos:
# people from small in the distance to close-ups cut by the frame, half the time standing in a
# row, real LSPet photos as half the backgrounds (their own person labelled), and a quarter of
# the examples real COCO photos (coco-mini less its 20 held-out ones; head top and neck masked).
# Photos: zoom +-30 %, rotation +-15 degrees, flip, colour. Float32 and eager: SimpleBaseline on
# the same backbone trained slower in bfloat16 even on a CPU with AMX-BF16
# (benchmarks/train_speed/simplebaseline_lsp_head64-*.json), and XLA ran EfficientNet-Lite's
# depthwise convolutions several times slower (IMAGENET_FINE_TUNING).
OPENPOSE_LSP_PHOTOS = OPENPOSE_LSP.replace(
    name="openpose_lsp_photos",
    model_args=OPENPOSE_LSP_LITE_ARGS,
    backbone_weights="imagenet",
    learning_rate=1e-3,
    epochs=16,
    jit_compile=False,
    scenes=SceneConfig(canvas=OPENPOSE_LSP_LITE_ARGS["input_size"], max_people=5, person_size=(0.12, 0.9),
                       centre_range=(0.05, 0.95), row_prob=0.5, photo_prob=0.5),
    augment=AugmentConfig(scale=0.3, rotation_deg=15.0, flip_prob=0.5, colour=0.2),
    coco_mix=0.25,
)

# A tiny OpenPose for tests: trains in seconds on a CPU.
OPENPOSE_TINY = OPENPOSE_LSP.replace(
    name="openpose_tiny",
    model_args=dict(backbone_filters=(8, 8, 16), stage_filters=8, stage_convs=1, paf_stages=1,
                    heatmap_stages=1, input_size=64, skeleton="lsp14"),
    batch_size=2, epochs=2, steps_per_epoch=2, warmup_steps=1, jit_compile=False,
    scenes=SceneConfig(canvas=64, max_people=2, cutout=64), val_scenes=2,
)

# The tiny OpenPose on half composited scenes, half real COCO photos (masks per channel).
OPENPOSE_TINY_COCO = OPENPOSE_TINY.replace(name="openpose_tiny_coco", coco_mix=0.5)

EXPERIMENTS = (OPENPOSE_LSP, OPENPOSE_LSP_PHOTOS, OPENPOSE_TINY, OPENPOSE_TINY_COCO)
