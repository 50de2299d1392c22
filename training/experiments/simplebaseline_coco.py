"""SimpleBaseline recipes for everyday photos, COCO-17 output (Xiao, Wu, Wei, ECCV 2018): the
ImageNet EfficientNet-Lite backbone trained on several datasets at once, their joints mapped into
COCO-17 by name (a joint a dataset does not label carries no loss)."""

from training.augment import AugmentConfig
from training.experiments.base import Experiment
from zoo.presets.simplebaseline import SIMPLEBASELINE_COCO_ARGS, SIMPLEBASELINE_COCO_FAST_ARGS

# Starts from simplebaseline-lsp@3 (same network; its 12 limb-joint maps carry over, the five face
# points start fresh). COCO and MPII people are the photos users take, LSPet keeps the unusual
# poses; the small COCO set is sampled well above its share of the data, with wide augmentation.
SIMPLEBASELINE_COCO = Experiment(
    name="simplebaseline_coco",
    architecture="simplebaseline",
    model_args=SIMPLEBASELINE_COCO_ARGS,
    datasets=(("coco_people", 0.3), ("mpii_subset", 0.4), ("lspet", 0.3)),
    init_from="simplebaseline-lsp@3",
    batch_size=32,
    epochs=7,
    steps_per_epoch=150,
    learning_rate=5e-4,
    warmup_steps=100,
    augment=AugmentConfig(scale=0.3, rotation_deg=45.0, flip_prob=0.5, colour=0.2),
    jit_compile=False,
)

# The phone variant: the flagship's weights fine-tuned on 192 px crops (the weights do not depend on
# the input size), a short fresh cosine cycle on the same data.
SIMPLEBASELINE_COCO_FAST = SIMPLEBASELINE_COCO.replace(
    name="simplebaseline_coco_fast",
    model_args=SIMPLEBASELINE_COCO_FAST_ARGS,
    init_from="simplebaseline-coco@1",
    epochs=3,
    learning_rate=3e-4,
)

# The teacher ablation (the everyday-photos issue, point 4): three arms continue simplebaseline-coco@1
# on the same data for the same short fresh cosine cycle, and differ only in the teacher's use:
# none, ``fill`` (joints a dataset does not label, e.g. the face on LSPet and MPII people, take
# MoveNet Thunder's, weighted by its score), and ``fill`` + ``soft`` (a third of the batches'
# people carry the teacher's joints alone). The best arm is the next version.
SIMPLEBASELINE_COCO_NO_TEACHER = SIMPLEBASELINE_COCO.replace(
    name="simplebaseline_coco_no_teacher",
    init_from="simplebaseline-coco@1",
    epochs=3,
    learning_rate=3e-4,
    warmup_steps=50,
)
SIMPLEBASELINE_COCO_TEACHER_FILL = SIMPLEBASELINE_COCO_NO_TEACHER.replace(
    name="simplebaseline_coco_teacher_fill", teacher=("fill",))
SIMPLEBASELINE_COCO_TEACHER_SOFT = SIMPLEBASELINE_COCO_NO_TEACHER.replace(
    name="simplebaseline_coco_teacher_soft", teacher=("fill", "soft"))

# Detector crops (training.box_people): top-down inference crops a person detector's box, and in a
# group photo that crop holds neighbours beside the person in its centre; protocol crops around one
# person's labelled joints never show the model whom to report. This recipe continues
# simplebaseline-coco@2 (the teacher ablation's best arm) on the same three datasets plus the
# training photos' people as the detector boxes them: a labelled person's box carries its labels,
# an unlabelled person's box the teacher's joints (``fill``), weighted by its score.
SIMPLEBASELINE_COCO_BOXES = SIMPLEBASELINE_COCO.replace(
    name="simplebaseline_coco_boxes",
    datasets=(("coco_people", 0.2), ("mpii_subset", 0.2), ("lspet", 0.15), ("coco_boxes", 0.15),
              ("mpii_boxes", 0.3)),
    init_from="simplebaseline-coco@2",
    teacher=("fill",),
    epochs=8,
    learning_rate=3e-4,
    warmup_steps=50,
)

# Top-down in group photos (the multi-person issue's target): @3 continued with the detector crops
# sampled at two thirds of the batches, since the top-down AP moved with them while the protocol
# crops stayed flat. Each epoch scores the labelled validation people's detector crops
# (``val_coco_boxes_*``, ``val_mpii_boxes_*``).
SIMPLEBASELINE_COCO_BOXES_HEAVY = SIMPLEBASELINE_COCO_BOXES.replace(
    name="simplebaseline_coco_boxes_heavy",
    datasets=(("coco_people", 0.15), ("mpii_subset", 0.1), ("lspet", 0.1), ("coco_boxes", 0.25),
              ("mpii_boxes", 0.4)),
    init_from="simplebaseline-coco@3",
    epochs=6,
)

# The phone variant's second version: simplebaseline-coco@3 fine-tuned on 192 px crops with the same
# data as @3 (detector crops). The same fine-tuning on 160 px crops lost more accuracy than it
# gained speed (see the card of simplebaseline-coco-fast@2).
SIMPLEBASELINE_COCO_FAST_BOXES = SIMPLEBASELINE_COCO_BOXES.replace(
    name="simplebaseline_coco_fast_boxes",
    model_args=SIMPLEBASELINE_COCO_FAST_ARGS,
    init_from="simplebaseline-coco@3",
    epochs=3,
    learning_rate=2e-4,
)

# The phone variant's third version: fast@2 continued for a longer cosine cycle at 192 px, with the
# COCO photos (labelled people and detector boxes) sampled above their share, since the COCO
# validation people are where the variant falls furthest short.
SIMPLEBASELINE_COCO_FAST_LONG = SIMPLEBASELINE_COCO_FAST_BOXES.replace(
    name="simplebaseline_coco_fast_long",
    datasets=(("coco_people", 0.3), ("mpii_subset", 0.15), ("lspet", 0.15), ("coco_boxes", 0.2),
              ("mpii_boxes", 0.2)),
    init_from="simplebaseline-coco-fast@2",
    epochs=6,
)

# A tiny version for smoke tests: two steps on the three datasets, from the ImageNet backbone.
SIMPLEBASELINE_COCO_TINY = SIMPLEBASELINE_COCO.replace(
    name="simplebaseline_coco_tiny",
    model_args=dict(backbone="lite0", backbone_stride=16, deconv_layers=2, head_filters=16, input_size=64,
                    skeleton="coco17"),
    init_from="", backbone_weights="imagenet", batch_size=4, epochs=1, steps_per_epoch=2, warmup_steps=1,
)

EXPERIMENTS = (SIMPLEBASELINE_COCO, SIMPLEBASELINE_COCO_FAST, SIMPLEBASELINE_COCO_NO_TEACHER,
               SIMPLEBASELINE_COCO_TEACHER_FILL, SIMPLEBASELINE_COCO_TEACHER_SOFT, SIMPLEBASELINE_COCO_BOXES,
               SIMPLEBASELINE_COCO_BOXES_HEAVY, SIMPLEBASELINE_COCO_FAST_BOXES, SIMPLEBASELINE_COCO_FAST_LONG,
               SIMPLEBASELINE_COCO_TINY)
