"""Callbacks: TensorBoard scalars of a phase (``TrainingSummaries``, into the run's
``training.run_log.RunLog``), validation PCK, loss and images (``PoseValidation``,
``SpatialModelImages``; the images drawn by ``training.tensorboard_images``), the history file,
replica statistics.

TensorBoard layout (one run per workdir, its event files in the workdir itself, so the run is
named after it; x axis: the global optimizer step, continuing across phases): ``train/loss``,
``train/stage<k>/loss``, ``train/learning_rate`` every few steps; after every epoch
``val/pck@0.2``, ``val/pck@0.1``, ``val/pck@0.2_limbs``, ``val/stage<k>/pck@0.2``, ``val/loss``,
``val/stage<k>/loss`` (bottom-up: ``val/oks_ap``, ``val/oks_ap50`` and the per-output losses),
``train/epoch_seconds``, and the per-joint ``val_per_joint/pck@0.2/<joint>`` in a group of their
own; the recipe as text (``recipe``) and hparams at step 0 (the headline ones shown by default);
labelled image grids (``val/prediction``, ``val/maps_per_stage``, ...), captions sized to stay
readable when TensorBoard fits a grid into its card. Each figure is written once.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Dict, Optional, Sequence

import keras
import numpy as np
import tensorflow as tf

from training.datasets.base import PoseSamples
from training.run_log import RunLog, as_run_log, summary_every, summary_tags, write_recipe
from training.tensorboard_images import TILE, first_crops, image_grid, overlay_tile, skeletons_tile, stage_overlays

__all__ = ["HistoryCSV", "PoseValidation", "RunLog", "SpatialModelImages", "SyncReplicaStatistics",
           "TrainingSummaries", "optimizer_steps", "validation_loss", "validation_loss_step"]

#: Keras log entries that are not training figures of the step: written at the epoch end
#: (``epoch_seconds``) or per step from the optimizer (``learning_rate``).
_NOT_PER_STEP = ("learning_rate", "epoch_seconds")


def optimizer_steps(model) -> int:
    """The steps the optimizer of a compiled model (callbacks run inside ``fit``) has taken;
    works on the distributed variable of a ``tf.distribute`` strategy too."""
    return int(keras.ops.convert_to_numpy(model.optimizer.iterations))


class TrainingSummaries(keras.callbacks.Callback):
    """TensorBoard scalars of one phase, at global steps (``RunLog``).

    Every ``every`` steps (and at each epoch's last step): ``train/loss`` and the other training
    figures of the Keras logs (``train/stage<k>/loss``, ...; tags by ``summary_tags``), each the
    mean over the steps since the previous point (recovered from the running means over the
    epoch that Keras logs: exact for the loss, whose batches all have the same size; the
    per-stage losses, which Keras weights by each batch's labelled joints, come out with every
    batch counted alike), and ``train/learning_rate``, the rate the optimizer used for that step.
    After every epoch: every ``val_*`` figure of the logs as ``val/...`` (put there by Keras'
    validation, ``PoseValidation`` and the like: place this callback after them) and
    ``train/epoch_seconds``. On a fresh start (global step 0) also the recipe (an ``Experiment``)
    as text and hparams (``write_recipe``).
    """

    def __init__(self, log: RunLog, every: Optional[int] = None, recipe=None):
        super().__init__()
        self.log, self.recipe = log, recipe
        self.every = every or summary_every(log.steps_per_epoch)
        self._epoch, self._window, self._lr = 0, (0, {}), None

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch, self._start, self._window = epoch, time.time(), (0, {})
        # After BackupAndRestore (the last callback's on_train_begin): a resumed run has steps.
        if self.recipe is not None and self.log.offset + optimizer_steps(self.model) == 0:
            write_recipe(self.log, self.recipe)
            self.recipe = None

    def _logged(self, batch: int) -> bool:
        return self.log.step(self._epoch, batch) % self.every == 0 or batch + 1 == self.log.steps_per_epoch

    def on_train_batch_begin(self, batch, logs=None):
        if self._logged(batch):  # the rate of this step (after it, the optimizer says the next one's)
            self._lr = float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate))

    def on_train_batch_end(self, batch, logs=None):
        if not logs or not self._logged(batch):
            return
        n = batch + 1
        n0, before = self._window
        means = {k: float(v) for k, v in logs.items() if k not in _NOT_PER_STEP and np.ndim(v) == 0}
        with self.log.at(self.log.step(self._epoch, batch)):
            for key, tag in summary_tags(means).items():
                tf.summary.scalar(f"train/{tag}", (n * means[key] - n0 * before.get(key, 0.0)) / (n - n0))
            if self._lr is not None:
                tf.summary.scalar("train/learning_rate", self._lr)
        self._window = (n, means)

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        val = {k[4:]: float(v) for k, v in logs.items() if k.startswith("val_") and np.ndim(v) == 0}
        with self.log.at(self.log.epoch_end(epoch)):
            for key, tag in summary_tags(val).items():
                tf.summary.scalar(f"val/{tag}", val[key])
            tf.summary.scalar("train/epoch_seconds", float(logs.get("epoch_seconds", time.time() - self._start)))


class HistoryCSV(keras.callbacks.CSVLogger):
    """``keras.callbacks.CSVLogger(append=True)`` that keeps the columns of the file it appends
    to: a run resumed with other log entries (e.g. a validation loss added since) writes its
    rows under the existing header (entries it lacks as ``NA``, new ones left out), where Keras'
    logger would write them in its own column order under the old header."""

    def __init__(self, filename):
        super().__init__(filename, append=True)

    def on_train_begin(self, logs=None):
        super().on_train_begin(logs)
        path = Path(self.filename)
        if path.is_file():
            with open(path, newline="") as f:
                header = f.readline().strip()
            if header:
                self.keys = header.split(self.sep)[1:]  # after "epoch"



def validation_loss_step(model, stage_metrics: Sequence = ()):
    """The graph function of ``validation_loss`` for one compiled model: ``(images, targets,
    weights)`` -> ``(loss, [sum of stage metric x weight], sum of weights)``."""
    replicas = tf.distribute.get_strategy().num_replicas_in_sync  # compute_loss divides by it

    @tf.function(reduce_retracing=True)
    def step(x, y, w):
        y_pred = model(x, training=False)
        loss = model.compute_loss(x=x, y=y, y_pred=y_pred, sample_weight=w, training=False) * replicas
        w = tf.cast(w, tf.float32)
        return loss, [tf.reduce_sum(tf.cast(fn(y, y_pred), tf.float32) * w) for fn in stage_metrics], tf.reduce_sum(w)

    return step


def validation_loss(model, dataset, stage_metrics: Sequence = (), step=None) -> Dict[str, float]:
    """``{"loss", "stage<k>_loss"...}`` on ``dataset`` (``(images, targets, weights)`` batches,
    ``training.pipeline.validation_dataset``), as Keras' ``evaluate`` reports them: the compiled
    loss of each batch averaged over samples, and each stage metric's mean weighted by the joint
    weights. Computed here, in one pass on this worker, since Keras' own validation does not run
    under ``MultiWorkerMirroredStrategy`` (``training.distribute.prepare_fit``). ``step``: a
    ``validation_loss_step`` to reuse (one trace per compiled model)."""
    step = step or validation_loss_step(model, stage_metrics)
    total = count = weight = 0.0
    sums = np.zeros(len(stage_metrics))
    for x, y, w in dataset:
        loss, stage_sums, wsum = step(x, y, w)
        n = int(tf.shape(x)[0])
        total, count = total + float(loss) * n, count + n
        sums += np.asarray([float(v) for v in stage_sums])
        weight += float(wsum)
    out = {"loss": total / max(count, 1)}
    out.update({f"stage{s + 1}_loss": float(v) / max(weight, 1e-12) for s, v in enumerate(sums)})
    return out


class PoseValidation(keras.callbacks.Callback):
    """After each epoch: PCK@0.2/0.1 on validation (docs/evaluation.md protocol, image pixels),
    the validation loss, the learning rate, and TensorBoard images of predicted (red) vs. true
    (green) skeletons and heatmaps on a few crops (heatmaps for models whose network outputs them,
    ``raw_output_names``).

    The figures go into the Keras logs (``val_pck@0.2``, ``val_pck@0.1``, ``val_stage<k>_pck@0.2``
    of a multi-stage model, ``val_loss``, ``val_stage<k>_loss``, ``learning_rate``,
    ``epoch_seconds``: ``history.csv``; ``TrainingSummaries`` writes the ``val_*`` ones to
    TensorBoard); the per-joint and limb PCK and the images go straight to TensorBoard
    (``val_per_joint/pck@0.2/<joint>``, ``val/pck@0.2_limbs``, ``val/prediction``, ``val/maps_per_stage``).

    Args:
        samples: validation samples.
        log: the run's ``RunLog`` (or a folder), None: no TensorBoard.
        num_images: validation crops shown in the images.
        loss_data: ``(images, targets, weights)`` batches of ``samples``
            (``training.pipeline.validation_dataset``) for the validation loss; None: no loss.
        stage_metrics: the phase's per-stage loss metrics (``training.losses.stage_metrics``).
    """

    def __init__(self, samples: PoseSamples, log=None, num_images: int = 4, batch_size: int = 32,
                 loss_data=None, stage_metrics: Sequence = ()):
        super().__init__()
        self.samples, self.num_images, self.batch_size = samples, num_images, batch_size
        self.log = as_run_log(log)
        self.loss_data, self.stage_metrics = loss_data, list(stage_metrics)
        self._loss_step = None

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch_start = time.time()

    def on_epoch_end(self, epoch, logs=None):
        from training.pck_evaluation import evaluate

        logs = logs if logs is not None else {}
        logs["epoch_seconds"] = time.time() - getattr(self, "_epoch_start", time.time())
        result = evaluate(self.model, self.samples, self.batch_size)
        logs["val_pck@0.2"] = result["pck@0.2"]["mean"]
        logs["val_pck@0.1"] = result["pck@0.1"]["mean"]
        if len(result["stages"]) > 1:
            for row in result["stages"]:
                logs[f"val_stage{row['stage']}_pck@0.2"] = row["pck@0.2"]
        if self.loss_data is not None:
            if self._loss_step is None:
                self._loss_step = validation_loss_step(self.model, self.stage_metrics)
            losses = validation_loss(self.model, self.loss_data, self.stage_metrics, self._loss_step)
            logs["val_loss"] = losses.pop("loss")
            if len(losses) > 1:
                logs.update({f"val_{k}": v for k, v in losses.items()})
        lr = self.model.optimizer.learning_rate
        logs["learning_rate"] = float(keras.ops.convert_to_numpy(lr))
        stages = "  stages " + " ".join(f"{r['pck@0.2']:.4f}" for r in result["stages"])
        loss = f"  val loss {logs['val_loss']:.4g}" if "val_loss" in logs else ""
        print(f"\nepoch {epoch + 1}: val PCK@0.2 {logs['val_pck@0.2']:.4f}  PCK@0.1 {logs['val_pck@0.1']:.4f}"
              f"{loss}  lr {logs['learning_rate']:.2e}{stages if len(result['stages']) > 1 else ''}", flush=True)
        if self.log is None:
            return
        with self.log.at(self.log.epoch_end(epoch)):
            tf.summary.scalar("val/pck@0.2_limbs", result["pck@0.2"]["mean_limbs"])
            for name, v in result["pck@0.2"]["per_joint"].items():
                tf.summary.scalar(f"val_per_joint/pck@0.2/{name}", v)
            tf.summary.image("val/prediction", self.prediction_grid())
            if "heatmaps" in self.model.raw_output_names:
                tf.summary.image("val/maps_per_stage", self.stage_grid())

    def stage_grid(self) -> np.ndarray:
        """Per crop, one row: the crop, then each stage's joint maps (max over joints), as colour
        overlays; when the model has them (CPM), a second row with each stage's background map."""
        _, batch = first_crops(self.samples, self.model.input_size, self.num_images)
        maps = keras.ops.convert_to_numpy(self.model(batch["image"], training=False))
        k = self.model.num_joints
        rows = stage_overlays(batch["image"], maps, slice(0, k))
        if maps.shape[-1] > k:  # a row of background maps under each crop's row: a narrower grid
            labels = [f"stage {s + 1} background" for s in range(maps.shape[1])]
            rows = [r for pair in zip(rows, stage_overlays(batch["image"], maps, slice(k, k + 1), labels))
                    for r in pair]
        return image_grid(rows)

    def prediction_grid(self) -> np.ndarray:
        """Per crop, one row: truth (green) and prediction (red) on the crop, and the heatmaps
        (max over joints) of a heatmap model."""
        from zoo.preprocess import transform_points

        sub, batch = first_crops(self.samples, self.model.input_size, self.num_images)
        heatmaps = (keras.ops.convert_to_numpy(self.model.heatmaps(batch["image"]))
                    if "heatmaps" in self.model.raw_output_names else None)
        kp, _ = self.model.graph_function("keypoints")(batch["image"])
        rows = []
        for i in range(len(sub)):
            crop = np.clip(batch["image"][i].numpy(), 0, 255).astype(np.uint8)
            gt = transform_points(sub.keypoints[i], batch["matrix"][i].numpy())
            gt = np.where((sub.visible[i] > 0)[:, None], gt, np.nan)
            tile = skeletons_tile(crop, gt, np.asarray(kp[i]), self.model.skeleton)
            row = [("truth (green), prediction (red)", tile)]
            if heatmaps is not None:
                row.append(("heatmaps (max over joints)", overlay_tile(crop, heatmaps[i])))
            rows.append(row)
        return image_grid(rows)


class SpatialModelImages(keras.callbacks.Callback):
    """TensorBoard images of a model with a ``spatial_model`` (Tompson et al. 2014), when its phase
    starts (the initialisation, at the phase's first step) and after every epoch:

    - ``model/pairwise_kernels``: ``SoftPlus(e_{A|v})`` for a few joint pairs, one captioned tile
      each ("left_wrist | left_elbow": where the wrist lies relative to the elbow; the cross marks
      zero displacement);
    - ``val/unary_vs_refined/<joint>``: per validation crop, the crop, the part detector's heatmap
      of the joint and the spatial model's refined one.

    Args:
        samples: validation samples.
        log: the run's ``RunLog``, or a folder (a run of its own, steps = epochs).
    """

    PAIRS = (("left_wrist", "left_elbow"), ("left_elbow", "left_shoulder"), ("left_ankle", "left_knee"),
             ("head_top", "neck"), ("right_wrist", "right_elbow"), ("right_knee", "right_hip"))
    JOINTS = ("left_wrist", "right_ankle")
    #: Kernel tiles per row of ``model/pairwise_kernels``.
    COLUMNS = 3

    def __init__(self, samples: PoseSamples, log, num_images: int = 4, pairs=PAIRS, joints=JOINTS):
        super().__init__()
        self.samples, self.num_images = samples, num_images
        self.pairs, self.joints = pairs, joints
        self.log = as_run_log(log)

    def kernel_images(self) -> Optional[np.ndarray]:
        from zoo.visualize import colour_map

        names = list(self.model.skeleton.joint_names)
        sm = self.model.spatial_model
        kernels = keras.ops.convert_to_numpy(sm.pairwise_kernels())
        tiles = []
        for a, v in self.pairs:
            if a in names and v in names and sm._mask[names.index(v), names.index(a)]:
                k = kernels[:, :, names.index(v), names.index(a)]
                tiles.append((f"{a} | {v}", colour_map(k, TILE)))
        if not tiles:
            return None
        return image_grid([tiles[i:i + self.COLUMNS] for i in range(0, len(tiles), self.COLUMNS)])

    def heatmap_images(self, joints) -> dict:
        """``{joint: (1, H, W, 3)}``: per crop a row crop | part detector | spatial model, from one
        forward pass."""
        names = list(self.model.skeleton.joint_names)
        _, batch = first_crops(self.samples, self.model.input_size, self.num_images)
        maps = keras.ops.convert_to_numpy(self.model(batch["image"], training=False))
        labels = ["part detector: {}", "spatial model: {}"]
        out = {}
        for joint in joints:
            j = names.index(joint)
            out[joint] = image_grid(stage_overlays(batch["image"], maps, slice(j, j + 1),
                                                   [label.format(joint) for label in labels]))
        return out

    def _write(self, step: int):
        if ("model/pairwise_kernels", step) in self.log.written:
            return  # the previous phase's last images: the same weights
        with self.log.at(step):
            kernels = self.kernel_images()
            if kernels is not None:
                tf.summary.image("model/pairwise_kernels", kernels)
            joints = [j for j in self.joints if j in self.model.skeleton.joint_names]
            for joint, images in self.heatmap_images(joints).items():
                tf.summary.image(f"val/unary_vs_refined/{joint}", images)
        self.log.written.add(("model/pairwise_kernels", step))

    def on_epoch_begin(self, epoch, logs=None):
        # The phase's initialisation, once: not when a resumed run (BackupAndRestore has run by
        # now) continues the phase.
        if epoch == 0 and optimizer_steps(self.model) == 0:
            self._write(self.log.offset)

    def on_epoch_end(self, epoch, logs=None):
        self._write(self.log.epoch_end(epoch))


class SyncReplicaStatistics(keras.callbacks.Callback):
    """At each epoch end, sets the non-trainable float variables (the BatchNorm moving mean and
    variance) of every replica to their mean over all replicas.

    Keras 3 keeps these per replica (variable aggregation "none"): under Mirrored or
    MultiWorkerMirrored training each replica updates its copy from its own share of the batch,
    so the copies drift apart, while trainable weights and optimizer state stay identical
    (gradients are all-reduced). Averaging before validation and checkpointing (put this callback
    first) leaves every worker with the same model, and the saved statistics reflect all replicas'
    data, not only the chief's share. Only useful with more than one replica.
    """

    def __init__(self, strategy: tf.distribute.Strategy):
        super().__init__()
        self.strategy = strategy
        self._average = None

    def on_epoch_end(self, epoch, logs=None):
        if self._average is None:
            variables = [v for v in self.model.non_trainable_variables if "float" in str(v.dtype)]

            def replica_fn():
                ctx = tf.distribute.get_replica_context()
                means = ctx.all_reduce(tf.distribute.ReduceOp.MEAN, [tf.identity(v.value) for v in variables])
                for v, m in zip(variables, means):
                    v.assign(m)

            self._average = tf.function(lambda: self.strategy.run(replica_fn))
        self._average()
