"""OpenPose on real group photos, COCO-17 output (Cao et al., TPAMI 2019): ``openpose-coco``."""

from training.augment import AugmentConfig
from training.composite import SceneConfig
from training.experiments.base import Experiment
from zoo.presets.openpose import OPENPOSE_COCO_ARGS

# openpose-lsp@2's network (ImageNet EfficientNet-Lite0 backbone, 2 PAF + 1 map stages) with
# COCO-17 heads, continued from @2's weights (OpenPose.initialise_from: the backbone and stages
# copied, the 12 shared joints' maps and the 8 shared limbs' fields by name; the face and the
# torso limbs of the COCO tree start fresh). Sources, by sampling weight:
# - coco_photos 0.4: the target domain (everyday group photos, COCO's OKS AP is the goal) and the
#   only source of the face points; ~200 photos, so sampled well above their share, augmented;
# - mpii_photos 0.35: ~1,000 everyday photos with all their labelled people (body joints; face
#   masked per channel), many with crowds behind, masked by the person detector's boxes;
# - lspet_scenes 0.25: composited scenes, fully labelled crowds and the unusual poses that
#   taught @2 its grouping; less, since their seams and blurred backgrounds are not real photos.
# 12 x 220 steps of batch 16: longer than one session on 2 CPU cores, so the run resumes from its
# checkpoint (training.train's backup; packed into checkpoints/openpose_coco between sessions).
OPENPOSE_COCO = Experiment(
    name="openpose_coco",
    architecture="openpose",
    model_args=OPENPOSE_COCO_ARGS,
    dataset="lspet_scenes",
    datasets=(("coco_photos", 0.4), ("mpii_photos", 0.35), ("lspet_scenes", 0.25)),
    init_from="openpose-lsp@2",
    batch_size=16,
    epochs=12,
    steps_per_epoch=220,
    learning_rate=5e-4,
    warmup_steps=50,
    jit_compile=False,
    scenes=SceneConfig(canvas=OPENPOSE_COCO_ARGS["input_size"], max_people=5, person_size=(0.12, 0.9),
                       centre_range=(0.05, 0.95), row_prob=0.5, photo_prob=0.5),
    val_scenes=64,
    augment=AugmentConfig(scale=0.3, rotation_deg=15.0, flip_prob=0.5, colour=0.2),
)

# A tiny COCO-17 OpenPose on the same three sources, for tests: trains in seconds on a CPU.
OPENPOSE_COCO_TINY = OPENPOSE_COCO.replace(
    name="openpose_coco_tiny",
    model_args=dict(backbone_filters=(8, 8, 16), stage_filters=8, stage_convs=1, paf_stages=1,
                    heatmap_stages=1, input_size=64, skeleton="coco17"),
    init_from="", batch_size=4, epochs=1, steps_per_epoch=2, warmup_steps=1,
    scenes=SceneConfig(canvas=64, max_people=2, cutout=64), val_scenes=2,
)

EXPERIMENTS = (OPENPOSE_COCO, OPENPOSE_COCO_TINY)
