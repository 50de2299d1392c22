"""Training of top-down (single-person) models on protocol crops, phase after phase.

Called by ``training.train`` for models whose task is ``top_down``. The targets are encoded by the
model's own codec (``model.codec``). A recipe's phases (``training.phases``) train one after
another, each in its own folder with a checkpoint every epoch (``backup/``, resumed after a kill) and
``history.csv``; a recipe without phases trains the whole model in ``<workdir>`` itself. TensorBoard
shows the run as one (``<workdir>/logs``, ``training.callbacks``): training loss and learning rate
every few steps, validation PCK (mean, limbs, per joint, per stage) and loss every epoch,
prediction and heatmap images, the recipe as text and hparams; the phases follow each other along
the global optimizer step.
"""

from __future__ import annotations

import time
from typing import Optional

import keras

from training.callbacks import HistoryCSV, PoseValidation, RunLog, SyncReplicaStatistics, TrainingSummaries
from training.distribute import prepare_fit
from training.experiments.base import Experiment
from training.loop import WarmupCosine, first_samples, record_run, save_weights, start_model, start_run
from training.losses import loss_and_stage_metrics
from training.phases import STAGE_WEIGHTS, Phase, step_offsets
from training.pipeline import mixed_training_dataset, training_dataset, validation_dataset
from training.validation_sets import ValidationSets


def load_split(exp: Experiment, split: str, data: Optional[str] = None):
    """Training or validation samples of the experiment's (first) dataset."""
    from training.datasets import load_person_dataset

    return load_person_dataset(exp.training_sets[0][0], split, data)


def load_sets(exp: Experiment, split: str, data: Optional[str] = None):
    """``[(name, samples, sampling weight)]`` of every dataset of the recipe (``data``: the data
    root of all of them, or the one dataset's file)."""
    from training.datasets import load_person_dataset

    return [(name, load_person_dataset(name, split, data), weight) for name, weight in exp.training_sets]


def teacher_streams(exp: Experiment, train_sets, workdir):
    """The ``(samples, weight, teacher mode)`` streams of a recipe that uses the teacher
    (``Experiment.teacher``): its labels are read from (or first made into)
    ``training.teacher_labels.default_label_folder(workdir)``."""
    from training.teacher_labels import default_label_folder, teacher_samples

    folder = default_label_folder(workdir)
    streams = []
    for name, samples, weight in train_sets:
        labelled = teacher_samples(samples, name, folder)
        streams.append((labelled, weight, "fill" if "fill" in exp.teacher else ""))
        if "soft" in exp.teacher:
            streams.append((labelled, weight * exp.teacher_soft_weight, "only"))
    return streams


def train_top_down(exp: Experiment, workdir, data: Optional[str] = None, val_data: Optional[str] = None,
                   strategy: str = "auto", max_val: int = 0, verbose: int = 2, tensorboard: bool = True,
                   max_train: int = 0):
    """Trains a top-down experiment into ``workdir``; returns ``(model, history)`` (the history of
    the last phase trained). Arguments: see ``training.train.train``."""
    train_sets, val_sets = _train_and_val_sets(exp, data, val_data, max_train, max_val)
    train_samples, val_samples = train_sets[0][1], val_sets[0]
    strat, chief, workdir, mydir = start_run(exp, workdir, strategy)
    steps = exp.steps_per_epoch or sum(len(s) for _, s, _ in train_sets) // exp.batch_size
    if steps < 1:
        raise ValueError(f"{len(train_samples)} training samples give no batch of {exp.batch_size}")
    with strat.scope():
        model = start_model(exp)
    dataset, val_dataset, extra_validation = _datasets(exp, model, train_sets, val_sets, workdir)
    # One TensorBoard run (this worker's folder) for every phase, on the global step axis.
    run_log = RunLog.open_run(mydir, steps) if tensorboard else None
    t0 = time.time()
    history = None
    phases = exp.phases or (Phase(0, exp.epochs),)
    for phase, offset in zip(phases, step_offsets(phases, steps)):
        pdir = phase.folder(mydir)
        pdir.mkdir(parents=True, exist_ok=True)
        done = pdir / STAGE_WEIGHTS
        if phase.stage and done.is_file():
            model.load_weights(str(done))
            print(f"stage {phase.stage}: already trained ({done}), skipped", flush=True)
            continue
        with strat.scope():
            phase.prepare(model, dataset, strat)
            stage_metrics = _compile_phase(model, exp, phase, steps)
        prepare_fit(model, strat, dataset.element_spec)
        log = run_log.phase(offset) if run_log else None
        callbacks = extra_validation + [
            PoseValidation(val_samples, log, loss_data=val_dataset, stage_metrics=stage_metrics),
            HistoryCSV(str(pdir / "history.csv")),
        ]
        callbacks = _phase_callbacks(exp, phase, model, strat, callbacks, val_samples, log, chief, pdir)
        # A resumed phase's BackupAndRestore sets model._initial_epoch, and Keras keeps it after
        # fit: the next phase would start at that epoch and train none of its own (Keras 3.x).
        model._initial_epoch = None
        history = model.fit(dataset, epochs=phase.epochs, steps_per_epoch=steps, callbacks=callbacks,
                            verbose=verbose)
        if phase.stage:
            save_weights(model, done)
        phase.finish(model)
    if run_log:
        run_log.close()
    elapsed = time.time() - t0
    # Every worker saves its weights into its own folder (the chief's, <workdir>, is the result;
    # other workers' copies let one check that the replicas stayed in sync).
    save_weights(model, mydir / "final.weights.h5")
    if chief:
        record_run(workdir, {"experiment": exp.name, "epochs": exp.epochs,
                             "phases": [list(p.as_tuple()) for p in exp.phases], "steps_per_epoch": steps,
                             "batch_size": exp.batch_size,
                             "train_images": sum(len(s) for _, s, _ in train_sets),
                             "seconds_this_run": elapsed, "replicas": strat.num_replicas_in_sync,
                             "precision": exp.precision})
    return model, history


def _train_and_val_sets(exp: Experiment, data, val_data, max_train: int, max_val: int):
    """The recipe's training sets ``(name, samples, weight)`` (the first ``max_train`` of each when
    set) and their validation samples (the first ``max_val`` when set), in the same order."""
    train_sets = load_sets(exp, "train", data)
    val_sets = [first_samples(s, s, 0, max_val)[1] for _, s, _ in load_sets(exp, "val", val_data or data)]
    train_sets = [(name, first_samples(s, s, max_train, 0)[0], w) for name, s, w in train_sets]
    return train_sets, val_sets


def _datasets(exp: Experiment, model, train_sets, val_sets, workdir):
    """The training dataset (one set, or several sets and teacher streams mixed by weight), the
    validation loss data, and the per-set validation callback of a multi-dataset recipe."""
    skeleton = model.skeleton.name
    streams = teacher_streams(exp, train_sets, workdir) if exp.teacher else [(s, w) for _, s, w in train_sets]
    if len(streams) == 1 and not exp.teacher:
        dataset = training_dataset(train_sets[0][1], model.codec, exp.batch_size, exp.augment, skeleton=skeleton)
    else:
        dataset = mixed_training_dataset(streams, model.codec, exp.batch_size, exp.augment, skeleton=skeleton,
                                         teacher_min_score=exp.teacher_min_score)
    val_dataset = validation_dataset(val_sets[0], model.codec, skeleton=skeleton)
    # A set without a validation side (the detector-box sets, training.box_people) is scored on none.
    scored = {name: s for (name, _, _), s in zip(train_sets, val_sets) if len(s)}
    extra_validation = [ValidationSets(scored)] if len(train_sets) > 1 else []
    return dataset, val_dataset, extra_validation


def _compile_phase(model, exp: Experiment, phase: Phase, steps: int):
    """Compiles ``model`` for ``phase`` (its supervised stages, loss and learning rate; warm-up then
    cosine decay over the phase); returns the per-stage metrics the validation reads."""
    loss, stage_metrics = loss_and_stage_metrics(model.codec, phase.supervised_stages(model),
                                                phase.loss() or exp.loss or None,
                                                own_errors=model.own_stage_errors())
    schedule = WarmupCosine(phase.peak_learning_rate(exp.learning_rate), exp.warmup_steps, steps * phase.epochs)
    model.compile(optimizer=keras.optimizers.Adam(schedule), loss=loss, weighted_metrics=stage_metrics,
                  jit_compile=exp.jit_compile)
    return stage_metrics


def _phase_callbacks(exp: Experiment, phase: Phase, model, strat, validation, val_samples, log, chief, pdir):
    """The callbacks of one phase around its ``validation`` callbacks.

    Order matters at each epoch end: replicas agree on BatchNorm statistics first, then validation
    adds its figures to the logs that HistoryCSV / TrainingSummaries write, and the backup comes
    last, so a saved epoch always has its history row and summaries (a run killed before the
    backup redoes that epoch, one killed after it resumes with the next).
    """
    callbacks = [SyncReplicaStatistics(strat)] if strat.num_replicas_in_sync > 1 else []
    callbacks += validation
    callbacks += phase.callbacks(model, val_samples, log if chief else None)
    if log:
        callbacks.append(TrainingSummaries(log, recipe=exp))
    callbacks.append(keras.callbacks.BackupAndRestore(str(pdir / "backup")))
    return callbacks
