"""Trains an experiment by name under a tf.distribute strategy chosen from the machine.

    python -m training.train hourglass_lsp --workdir runs/hourglass_lsp

Checkpoints every epoch (``<workdir>/backup``: weights, optimizer state and epoch) and resumes
from there when started again with the same workdir after being killed. TensorBoard logs go to
``<workdir>/logs`` (loss, PCK, learning rate, prediction and heatmap images).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Optional

import keras

from training.experiments import Experiment, get_experiment, list_experiments


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


def load_split(exp: Experiment, split: str, data: Optional[str] = None):
    """Training or validation samples of the experiment's dataset."""
    from training.datasets import load_lspet, load_mpii_json

    if exp.dataset == "lspet":
        return load_lspet(data, split=split)
    if exp.dataset == "mpii":
        # MPII-format JSON: the same file serves both (users pass their own train/val files).
        return load_mpii_json(data)
    raise ValueError(f"experiment {exp.name}: unknown dataset {exp.dataset!r}")


def build_model(exp: Experiment):
    from zoo.architectures import get_architecture

    return get_architecture(exp.architecture)(**exp.model_args)


def make_codec(exp: Experiment):
    """The target codec of the experiment (the model's decoder is its inverse)."""
    from zoo.codecs import HeatmapCodec, RegressionCodec

    size = exp.model_args["input_size"]
    if exp.codec == "heatmap":
        return HeatmapCodec(input_size=size, heatmap_size=size // 4, sigma=exp.sigma)
    if exp.codec == "regression":
        return RegressionCodec(input_size=size)
    raise ValueError(f"experiment {exp.name}: unknown codec {exp.codec!r}")


def make_loss(exp: Experiment, num_stages: int, name: Optional[str] = None):
    """The loss (by default the codec's, summed over stages; ``name`` picks one of
    ``training.losses.LOSSES``) and one weighted loss metric per stage."""
    from training.losses import LOSSES, stage_metrics

    name = name or ("heatmap_mse" if exp.codec == "heatmap" else "regression_mse")
    return LOSSES[name], stage_metrics(exp.codec, num_stages)


def start_run(exp: Experiment, workdir, strategy: str = "auto"):
    """Strategy, chief flag, workdir and this worker's folder of a training run; the chief writes
    ``experiment.json``. Returns ``(strategy, chief, workdir, worker_folder)``."""
    from training.distribute import choose_strategy, is_chief, worker_dir

    strat = choose_strategy(strategy)
    chief = is_chief(strat)
    workdir = Path(workdir)
    mydir = Path(worker_dir(str(workdir), strat))
    mydir.mkdir(parents=True, exist_ok=True)
    if chief:
        (workdir / "experiment.json").write_text(json.dumps(exp.to_dict(), indent=2))
    return strat, chief, workdir, mydir


def first_samples(train_samples, val_samples, max_train: int = 0, max_val: int = 0):
    """The first ``max_train`` / ``max_val`` samples of each split (0: all)."""
    if max_train:
        train_samples = train_samples.subset(range(min(max_train, len(train_samples))))
    if max_val:
        val_samples = val_samples.subset(range(min(max_val, len(val_samples))))
    return train_samples, val_samples


def train(exp: Experiment, workdir: str, data: Optional[str] = None, val_data: Optional[str] = None,
          strategy: str = "auto", max_val: int = 0, verbose: int = 2, tensorboard: bool = True,
          max_train: int = 0):
    """Trains ``exp`` into ``workdir``; returns the trained model and the Keras history.

    ``max_train`` / ``max_val``: use only the first N training / validation images (0: all);
    for smoke tests, which then skip decoding the whole training split into the shuffle buffer.

    Experiments with ``phases`` (cascades such as DeepPose) train one stage after another, each
    phase in ``<workdir>/stage<s>`` with its own checkpoints; a finished phase is not redone.
    """
    if exp.codec == "paf":
        from training.bottom_up import train_bottom_up

        return train_bottom_up(exp, workdir, data, strategy, verbose, tensorboard, max_train, max_val)
    from training.callbacks import PoseValidation, SpatialModelImages, SyncReplicaStatistics, TensorBoard
    from training.distribute import prepare_fit
    from training.pipeline import training_dataset

    train_samples, val_samples = first_samples(load_split(exp, "train", data),
                                               load_split(exp, "val", val_data or data), max_train, max_val)
    strat, chief, workdir, mydir = start_run(exp, workdir, strategy)

    input_size = exp.model_args["input_size"]
    codec = make_codec(exp)
    steps = exp.steps_per_epoch or len(train_samples) // exp.batch_size
    if steps < 1:
        raise ValueError(f"{len(train_samples)} training samples give no batch of {exp.batch_size}")
    dataset = training_dataset(train_samples, codec, exp.batch_size, exp.augment)
    with strat.scope():
        model = build_model(exp)
        model.build((None, input_size, input_size, 3))
        if exp.init_from:
            _load_published_weights(model, exp.init_from)
    phases = exp.phases or ((0, exp.epochs),)
    t0 = time.time()
    history = None
    for stage, epochs, *phase_lr in phases:
        # stage 0: the whole model at once; stage s >= 1: only stage s trains (cascades).
        pdir = mydir / f"stage{stage}" if stage else mydir
        pdir.mkdir(parents=True, exist_ok=True)
        done = pdir / "stage.weights.h5"
        if stage and done.is_file():
            model.load_weights(str(done))
            print(f"stage {stage}: already trained ({done}), skipped", flush=True)
            continue
        with strat.scope():
            if stage:
                # Freezes every other stage and, for s >= 2, measures the previous stage's errors
                # on the training split (the distribution its simulated errors are drawn from).
                model.prepare_stage(stage, dataset, strategy=strat)
            num_stages = min(stage, model.num_stages) if stage else getattr(model, "num_stages", 1)
            # A model may train a phase on its own objective (Tompson's spatial model: likelihood).
            phase_loss = getattr(model, "PHASE_LOSSES", {}).get(stage)
            loss, stage_metrics = make_loss(exp, num_stages, phase_loss)
            peak = phase_lr[0] if phase_lr else exp.learning_rate
            schedule = WarmupCosine(peak, exp.warmup_steps, steps * epochs)
            optimizer = keras.optimizers.Adam(schedule)
            model.compile(optimizer=optimizer, loss=loss, weighted_metrics=stage_metrics,
                          jit_compile=exp.jit_compile)
        prepare_fit(model, strat, dataset.element_spec)
        # Order matters at each epoch end: replicas agree on BatchNorm statistics first, then
        # validation adds its metrics to the logs that CSVLogger / TensorBoard write, and the
        # backup comes last, so a saved epoch always has its history row and summaries (a run
        # killed before the backup redoes that epoch, one killed after it resumes with the next).
        callbacks = [SyncReplicaStatistics(strat)] if strat.num_replicas_in_sync > 1 else []
        callbacks += [
            PoseValidation(val_samples, str(pdir / "logs" / "validation") if tensorboard else None),
            keras.callbacks.CSVLogger(str(pdir / "history.csv"), append=True),
        ]
        if tensorboard and chief and getattr(model, "spatial_model", None) is not None and model.active_stage != 1:
            callbacks.append(SpatialModelImages(val_samples, str(pdir / "logs" / "spatial_model")))
        if tensorboard:
            callbacks.append(TensorBoard(str(pdir / "logs"), update_freq=50))
        callbacks.append(keras.callbacks.BackupAndRestore(str(pdir / "backup")))
        history = model.fit(dataset, epochs=epochs, steps_per_epoch=steps, callbacks=callbacks,
                            verbose=verbose)
        if stage:
            _save_atomic(model, done)
    if exp.phases:
        model.active_stage = 0  # inference: every stage
    elapsed = time.time() - t0
    # Every worker saves its weights into its own folder (the chief's, <workdir>, is the result;
    # other workers' copies let one check that the replicas stayed in sync).
    _save_atomic(model, mydir / "final.weights.h5")
    if chief:
        info = {"experiment": exp.name, "epochs": exp.epochs, "phases": [list(p) for p in exp.phases],
                "steps_per_epoch": steps, "batch_size": exp.batch_size, "train_images": len(train_samples),
                "seconds_this_run": elapsed, "replicas": strat.num_replicas_in_sync}
        with open(workdir / "train_runs.jsonl", "a") as f:
            f.write(json.dumps(info) + "\n")
    return model, history


def _load_published_weights(model, name: str):
    """Starts ``model`` from the weights of the published ``name`` (same architecture and build
    arguments; a resumed run then overwrites them with its own checkpoint)."""
    from zoo.registry import get_spec, weights_path

    path = weights_path(get_spec(name))
    model.load_weights(str(path))
    print(f"initialised from {name} ({path})", flush=True)


def _save_atomic(model, path: Path):
    tmp = path.with_name(path.name.replace(".weights.h5", ".tmp.weights.h5"))
    model.save_weights(str(tmp))
    os.replace(tmp, path)


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m training.train", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("experiment", help=f"one of {list_experiments()}")
    p.add_argument("--workdir", required=True, help="checkpoints, logs and final weights go here")
    p.add_argument("--data", help="dataset folder / annotation file (default: $POSEZOO_DATA/...)")
    p.add_argument("--val-data", help="validation annotation file (MPII-format experiments)")
    p.add_argument("--epochs", type=int, help="override the recipe's epoch count")
    p.add_argument("--steps-per-epoch", type=int)
    p.add_argument("--batch-size", type=int)
    p.add_argument("--strategy", default="auto", choices=["auto", "default", "mirrored", "multiworker"])
    p.add_argument("--max-val", type=int, default=0, help="validate on the first N images only")
    p.add_argument("--max-train", type=int, default=0, help="train on the first N images only (smoke tests)")
    p.add_argument("--no-jit", action="store_true", help="disable XLA")
    args = p.parse_args(argv)
    try:
        exp = get_experiment(args.experiment)
    except KeyError as e:
        p.error(str(e.args[0]))
    changes = {k: v for k, v in (("epochs", args.epochs), ("steps_per_epoch", args.steps_per_epoch),
                                 ("batch_size", args.batch_size)) if v}
    if args.no_jit:
        changes["jit_compile"] = False
    exp = exp.replace(**changes)
    train(exp, args.workdir, args.data, args.val_data, args.strategy, args.max_val,
          max_train=args.max_train)


def cli():
    sys.exit(main())


if __name__ == "__main__":
    cli()
