"""What every training loop shares (``training.top_down``, ``training.bottom_up``): the model of a
recipe, the run's strategy and folders, the sample limits of smoke tests, the learning-rate
schedule, and writing weights and the run record."""

from __future__ import annotations

import json
from pathlib import Path

import keras

from training.distribute import choose_strategy, is_chief, worker_dir
from training.experiments.base import Experiment
from zoo.io import atomic_path, write_atomic


@keras.saving.register_keras_serializable(package="training")
class WarmupCosine(keras.optimizers.schedules.LearningRateSchedule):
    """Linear warm-up to ``peak`` then cosine decay to ``peak * final_fraction``."""

    def __init__(self, peak, warmup_steps, total_steps, final_fraction=0.01):
        self.peak, self.warmup_steps = float(peak), int(warmup_steps)
        self.total_steps, self.final_fraction = int(total_steps), float(final_fraction)

    def __call__(self, step):
        from keras import ops

        step = ops.cast(step, "float32")
        warm = self.peak * (step + 1.0) / max(self.warmup_steps, 1)
        t = ops.clip((step - self.warmup_steps) / max(self.total_steps - self.warmup_steps, 1), 0.0, 1.0)
        cos = self.final_fraction + (1 - self.final_fraction) * 0.5 * (1 + ops.cos(3.14159265 * t))
        return ops.where(step < self.warmup_steps, warm, self.peak * cos)

    def get_config(self):
        return {"peak": self.peak, "warmup_steps": self.warmup_steps,
                "total_steps": self.total_steps, "final_fraction": self.final_fraction}


def build_model(exp: Experiment):
    """The recipe's model (``exp.architecture`` with ``exp.model_args``), every weight created."""
    from zoo.architectures import get_architecture

    model = get_architecture(exp.architecture)(**exp.model_args)
    model.build()
    return model


def start_model(exp: Experiment):
    """The model a run starts from: built, with the weights of ``exp.init_from`` when the recipe
    names a published model (same architecture and build arguments; a resumed run then
    overwrites them with its own checkpoint). Call inside the strategy's scope."""
    from zoo.registry import get_spec, weights_path

    model = build_model(exp)
    if exp.backbone_weights:
        if exp.backbone_weights != "imagenet":
            raise ValueError(f"experiment {exp.name}: backbone_weights must be 'imagenet' or empty, "
                             f"got {exp.backbone_weights!r}")
        from zoo.backbones import load_imagenet_weights

        load_imagenet_weights(model.backbone)
        print(f"backbone initialised from ImageNet (EfficientNet-{model.backbone.variant})", flush=True)
    if exp.init_from:
        spec = get_spec(exp.init_from)
        path = weights_path(spec)
        if dict(spec.model_args) == dict(exp.model_args):
            model.load_weights(str(path))
        else:  # e.g. another input size or a narrower head: the architecture says how
            from zoo.registry import load

            model.initialise_from(load(spec.id))
        print(f"initialised from {exp.init_from} ({path})", flush=True)
    return model


def start_run(exp: Experiment, workdir, strategy: str = "auto"):
    """Strategy, chief flag, workdir and this worker's folder of a training run; the chief writes
    ``experiment.json``. Returns ``(strategy, chief, workdir, worker_folder)``."""
    strat = choose_strategy(strategy)
    chief = is_chief(strat)
    workdir = Path(workdir)
    mydir = Path(worker_dir(str(workdir), strat))
    mydir.mkdir(parents=True, exist_ok=True)
    if chief:
        write_atomic(workdir / "experiment.json", json.dumps(exp.to_dict(), indent=2))
    return strat, chief, workdir, mydir


def first_samples(train_samples, val_samples, max_train: int = 0, max_val: int = 0):
    """The first ``max_train`` / ``max_val`` samples of each split (0: all)."""
    if max_train:
        train_samples = train_samples.subset(range(min(max_train, len(train_samples))))
    if max_val:
        val_samples = val_samples.subset(range(min(max_val, len(val_samples))))
    return train_samples, val_samples


def save_weights(model, path) -> None:
    """``model.save_weights(path)``, atomically: a killed run never leaves half a file."""
    with atomic_path(path) as tmp:
        model.save_weights(str(tmp))


def record_run(workdir: Path, info: dict) -> None:
    """Appends one finished run to ``<workdir>/train_runs.jsonl``, with the machine it ran on (a
    resumed training may run on several)."""
    from training.records import hardware

    with open(Path(workdir) / "train_runs.jsonl", "a") as f:
        f.write(json.dumps({**info, "machine": info.get("machine") or hardware()}) + "\n")
