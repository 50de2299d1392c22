"""Training of bottom-up multi-person models (OpenPose) on composited LSPet scenes.

Called by ``training.train`` for models whose task is ``bottom_up``; the targets are encoded by
the model's own codec (``model.codec``: confidence maps and part affinity fields). Same contract
as the top-down loop: a ``tf.distribute`` strategy chosen from the machine, a checkpoint every epoch in
``<workdir>/backup`` (resumed after a kill), ``history.csv``, TensorBoard logs in
``<workdir>/logs`` and ``<workdir>/final.weights.h5``. Besides, every epoch's weights are kept in
``<workdir>/epochs/`` (the model is small), so the validation AP of each epoch can be measured
afterwards without slowing training down.

Validation each epoch: the per-stage losses on fixed held-out scenes from the LSPet validation
split (``val_pafs_stage1_loss``, ...) and TensorBoard images of every stage's maps and fields.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Optional

import keras
import numpy as np
import tensorflow as tf

from training.callbacks import SyncReplicaStatistics, TensorBoard
from training.composite import heldout_scenes, scene_dataset, scene_targets
from training.datasets import load_lspet
from training.distribute import prepare_fit
from training.loop import WarmupCosine, first_samples, record_run, save_weights, start_model, start_run
from training.losses import masked_stage_metrics, masked_stage_mse


def heldout_batches(samples, codec, count: int, config, batch_size: int):
    """Fixed validation scenes with targets, as a finite dataset ``(images, targets)``, and the
    scenes themselves (``training.composite.heldout_scenes``)."""
    scenes = heldout_scenes(samples, count, config)
    images, kps, vis, _ = scenes
    pafs, maps = zip(*[scene_targets(codec, kps[i], vis[i]) for i in range(len(images))])
    ds = tf.data.Dataset.from_tensor_slices((images.astype(np.float32), {"pafs": tf.stack(pafs), "heatmaps": tf.stack(maps)}))
    return ds.batch(batch_size), scenes


class SceneImages(keras.callbacks.Callback):
    """TensorBoard images after every epoch, on held-out scenes: per scene, the image, then each
    PAF stage's field magnitude (max over limbs) and each confidence-map stage (max over parts):
    ``maps_per_stage``; and, when the grouping runs, the people found (``people``)."""

    def __init__(self, images: np.ndarray, log_dir: str):
        super().__init__()
        self.images = images
        self.writer = tf.summary.create_file_writer(log_dir)

    def stage_images(self) -> np.ndarray:
        from zoo.visualize import heatmap_overlay

        out = self.model(self.images.astype(np.float32), training=False)
        pafs, maps = out["pafs"].numpy(), out["heatmaps"].numpy()
        rows = []
        for i, image in enumerate(self.images):
            fields = [np.sqrt(pafs[i, s, ..., 0::2] ** 2 + pafs[i, s, ..., 1::2] ** 2) for s in range(pafs.shape[1])]
            tiles = [image] + [heatmap_overlay(image, f) for f in fields]
            tiles += [heatmap_overlay(image, maps[i, s]) for s in range(maps.shape[1])]
            rows.append(np.concatenate(tiles, axis=1))
        return np.stack(rows)

    def people_images(self) -> np.ndarray:
        from zoo.visualize import draw_skeleton

        people, _ = self.model.graph_function("people")(tf.constant(self.images, tf.float32))
        rows = []
        for image, found in zip(self.images, people.numpy()):
            canvas = image.copy()
            for person in found:
                if person[:, 2].max() > 0:
                    xy = np.where(person[:, 2:] > 0, person[:, :2], np.nan)
                    canvas = draw_skeleton(canvas, xy, self.model.skeleton, colour=(255, 0, 0))
            rows.append(canvas)
        return np.stack(rows)

    def on_epoch_end(self, epoch, logs=None):
        with self.writer.as_default(step=epoch + 1), tf.summary.record_if(True):
            tf.summary.image("maps_per_stage", self.stage_images(), max_outputs=len(self.images))
            tf.summary.image("people", self.people_images(), max_outputs=len(self.images))
        self.writer.flush()


class EpochWeights(keras.callbacks.Callback):
    """Keeps every epoch's weights in ``folder/epoch_NNN.weights.h5`` (written atomically)."""

    def __init__(self, folder: Path):
        super().__init__()
        self.folder = Path(folder)

    def on_epoch_end(self, epoch, logs=None):
        save_weights(self.model, self.folder / f"epoch_{epoch + 1:03d}.weights.h5")


def train_bottom_up(exp, workdir, data: Optional[str] = None, val_data: Optional[str] = None,
                    strategy: str = "auto", max_val: int = 0, verbose: int = 2, tensorboard: bool = True,
                    max_train: int = 0):
    """Trains a bottom-up experiment into ``workdir``; returns ``(model, history)``. Arguments:
    see ``training.train.train`` (``data`` / ``val_data``: the LSPet folder whose people make the
    training / held-out scenes)."""
    if exp.dataset != "lspet_scenes":
        raise ValueError(f"experiment {exp.name}: bottom-up training needs dataset 'lspet_scenes', got {exp.dataset!r}")
    train_samples, val_samples = first_samples(load_lspet(data, split="train"),
                                               load_lspet(val_data or data, split="val"), max_train, max_val)
    strat, chief, workdir, mydir = start_run(exp, workdir, strategy)
    with strat.scope():
        model = start_model(exp)
    codec = model.codec
    steps = exp.steps_per_epoch or len(train_samples) // exp.batch_size
    dataset = scene_dataset(train_samples, codec, exp.batch_size, exp.scenes)
    val_dataset, val_scenes = heldout_batches(val_samples, codec, exp.val_scenes, exp.scenes, exp.batch_size)
    with strat.scope():
        schedule = WarmupCosine(exp.learning_rate, exp.warmup_steps, steps * exp.epochs)
        model.compile(optimizer=keras.optimizers.Adam(schedule),
                      loss={"pafs": masked_stage_mse, "heatmaps": masked_stage_mse},
                      metrics={"pafs": masked_stage_metrics("pafs", model.paf_stages),
                               "heatmaps": masked_stage_metrics("heatmaps", model.heatmap_stages)},
                      jit_compile=exp.jit_compile)
    prepare_fit(model, strat, dataset.element_spec)
    callbacks = [SyncReplicaStatistics(strat)] if strat.num_replicas_in_sync > 1 else []
    callbacks.append(keras.callbacks.CSVLogger(str(mydir / "history.csv"), append=True))
    if tensorboard and chief:
        callbacks.append(SceneImages(val_scenes[0][:4], str(mydir / "logs" / "scenes")))
    if tensorboard:
        callbacks.append(TensorBoard(str(mydir / "logs"), update_freq=50))
    if chief:
        callbacks.append(EpochWeights(mydir / "epochs"))
    callbacks.append(keras.callbacks.BackupAndRestore(str(mydir / "backup")))
    t0 = time.time()
    history = model.fit(dataset, epochs=exp.epochs, steps_per_epoch=steps, validation_data=val_dataset,
                        callbacks=callbacks, verbose=verbose)
    elapsed = time.time() - t0
    save_weights(model, mydir / "final.weights.h5")
    if chief:
        record_run(workdir, {"experiment": exp.name, "epochs": exp.epochs, "steps_per_epoch": steps,
                             "batch_size": exp.batch_size, "train_images": len(train_samples),
                             "seconds_this_run": elapsed, "replicas": strat.num_replicas_in_sync,
                             "precision": exp.precision})
    return model, history
