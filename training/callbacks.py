"""Callbacks: validation PCK and TensorBoard images, learning-rate logging."""

from __future__ import annotations

import numpy as np
import keras
import tensorflow as tf

from training.datasets.base import PoseSamples


def first_crops(samples: PoseSamples, input_size: int, count: int):
    """The first ``count`` validation samples and their protocol-crop batch (images shown in
    TensorBoard)."""
    from training.pipeline import evaluation_dataset

    sub = samples.subset(np.arange(min(count, len(samples))))
    return sub, next(iter(evaluation_dataset(sub, input_size, count)))


def stage_overlays(images, maps, channels) -> list:
    """Per crop, the crop then every stage's ``maps[..., channels]`` (max over them) overlaid.

    ``images (N, S, S, 3)``, ``maps (N, stages, H, W, C)``; returns one list of tiles per crop."""
    from zoo.visualize import heatmap_overlay

    rows = []
    for i in range(len(maps)):
        crop = np.clip(np.asarray(images[i]), 0, 255).astype(np.uint8)
        rows.append([crop] + [heatmap_overlay(crop, maps[i, s][..., channels]) for s in range(maps.shape[1])])
    return rows


class PoseValidation(keras.callbacks.Callback):
    """After each epoch: PCK@0.2/0.1 on validation (docs/evaluation.md protocol, image pixels), the
    learning rate, and images of predicted (red) vs. true (green) skeletons and heatmaps on a few
    crops (heatmaps for models whose network outputs them, ``raw_output_names``).

    Args:
        samples: validation samples.
        log_dir: TensorBoard folder of the validation writer (None: no TensorBoard).
        num_images: validation crops shown as images.
    """

    def __init__(self, samples: PoseSamples, log_dir=None, num_images: int = 4, batch_size: int = 32):
        super().__init__()
        self.samples, self.num_images, self.batch_size = samples, num_images, batch_size
        self.writer = tf.summary.create_file_writer(log_dir) if log_dir else None

    def on_epoch_begin(self, epoch, logs=None):
        import time

        self._epoch_start = time.time()

    def on_epoch_end(self, epoch, logs=None):
        import time

        from training.evaluate import evaluate

        logs = logs if logs is not None else {}
        logs["epoch_seconds"] = time.time() - getattr(self, "_epoch_start", time.time())
        result = evaluate(self.model, self.samples, self.batch_size)
        logs["val_pck@0.2"] = result["pck@0.2"]["mean"]
        logs["val_pck@0.1"] = result["pck@0.1"]["mean"]
        if len(result["stages"]) > 1:
            for row in result["stages"]:
                logs[f"val_stage{row['stage']}_pck@0.2"] = row["pck@0.2"]
        lr = self.model.optimizer.learning_rate
        logs["learning_rate"] = float(keras.ops.convert_to_numpy(lr))
        stages = "  stages " + " ".join(f"{r['pck@0.2']:.4f}" for r in result["stages"])
        print(f"\nepoch {epoch + 1}: val PCK@0.2 {logs['val_pck@0.2']:.4f}  PCK@0.1 {logs['val_pck@0.1']:.4f}"
              f"  lr {logs['learning_rate']:.2e}{stages if len(result['stages']) > 1 else ''}", flush=True)
        if self.writer is None:
            return
        # record_if(True): the Keras TensorBoard callback (integer update_freq) leaves
        # record_if(step % update_freq == 0) set during training, which would drop these
        # summaries at every epoch whose last step is not a multiple of update_freq.
        with self.writer.as_default(step=epoch + 1), tf.summary.record_if(True):
            tf.summary.scalar("pck@0.2/mean", logs["val_pck@0.2"])
            tf.summary.scalar("pck@0.1/mean", logs["val_pck@0.1"])
            tf.summary.scalar("pck@0.2/limbs", result["pck@0.2"]["mean_limbs"])
            for name, v in result["pck@0.2"]["per_joint"].items():
                tf.summary.scalar(f"pck@0.2_joint/{name}", v)
            for row in result["stages"]:
                tf.summary.scalar(f"pck@0.2_stage/stage{row['stage']}", row["pck@0.2"])
            tf.summary.scalar("learning_rate", logs["learning_rate"])
            tf.summary.image("prediction_red_vs_truth_green", self._images(), max_outputs=self.num_images)
            if "heatmaps" in self.model.raw_output_names:
                tf.summary.image("belief_maps_per_stage", self._stage_maps(), max_outputs=self.num_images)
        self.writer.flush()

    def _stage_maps(self):
        """Per crop, one row: the crop, then each stage's joint maps (max over joints) and, when
        the model has one (CPM), each stage's background map, as colour overlays."""
        _, batch = first_crops(self.samples, self.model.input_size, self.num_images)
        maps = keras.ops.convert_to_numpy(self.model(batch["image"], training=False))
        k = self.model.num_joints
        rows = stage_overlays(batch["image"], maps, slice(0, k))
        if maps.shape[-1] > k:
            rows = [row + extra[1:] for row, extra in zip(rows, stage_overlays(batch["image"], maps, slice(k, k + 1)))]
        return np.stack([np.concatenate(row, axis=1) for row in rows])

    def _images(self):
        from zoo.preprocess import transform_points
        from zoo.visualize import draw_skeleton, heatmap_overlay

        sub, batch = first_crops(self.samples, self.model.input_size, self.num_images)
        heatmaps = (keras.ops.convert_to_numpy(self.model.heatmaps(batch["image"]))
                    if "heatmaps" in self.model.raw_output_names else None)
        kp, _ = self.model.graph_function("keypoints")(batch["image"])
        out = []
        for i in range(len(sub)):
            crop = np.clip(batch["image"][i].numpy(), 0, 255).astype(np.uint8)
            gt = transform_points(sub.keypoints[i], batch["matrix"][i].numpy())
            vis = sub.visible[i] > 0
            gt = np.where(vis[:, None], gt, np.nan)
            left = draw_skeleton(crop, gt, self.model.skeleton, colour=(0, 255, 0))
            left = draw_skeleton(left, np.asarray(kp[i]), self.model.skeleton, colour=(255, 0, 0), thickness=1)
            if heatmaps is None:
                out.append(left)
                continue
            right = heatmap_overlay(crop, heatmaps[i])
            out.append(np.concatenate([left, right], axis=1))
        return np.stack(out)


class SpatialModelImages(keras.callbacks.Callback):
    """TensorBoard images of a model with a ``spatial_model`` (Tompson et al. 2014), at the start
    of training (step 0, the initialisation) and after every epoch:

    - ``pairwise_kernels``: ``SoftPlus(e_{A|v})`` for a few joint pairs ("left wrist | left elbow":
      where the wrist lies relative to the elbow; the cross marks zero displacement);
    - ``unary_vs_refined/<joint>``: per validation crop, the crop, the part detector's heatmap of
      the joint and the spatial model's refined one.
    """

    PAIRS = (("left_wrist", "left_elbow"), ("left_elbow", "left_shoulder"), ("left_ankle", "left_knee"),
             ("head_top", "neck"), ("right_wrist", "right_elbow"), ("right_knee", "right_hip"))
    JOINTS = ("left_wrist", "right_ankle")

    def __init__(self, samples: PoseSamples, log_dir: str, num_images: int = 4, pairs=PAIRS, joints=JOINTS):
        super().__init__()
        self.samples, self.num_images = samples, num_images
        self.pairs, self.joints = pairs, joints
        self.writer = tf.summary.create_file_writer(log_dir)

    def kernel_images(self) -> np.ndarray:
        from zoo.visualize import colour_map

        names = list(self.model.skeleton.joint_names)
        sm = self.model.spatial_model
        kernels = keras.ops.convert_to_numpy(sm.pairwise_kernels())
        tiles = []
        for a, v in self.pairs:
            if a in names and v in names and sm._mask[names.index(v), names.index(a)]:
                k = kernels[:, :, names.index(v), names.index(a)]
                tiles.append(colour_map(k, 160, f"{a} | {v}"))
        return np.concatenate(tiles, axis=1)[None] if tiles else None

    def heatmap_images(self, joints) -> dict:
        """``{joint: (N, S, S * 3, 3)}``: crop | unary | refined, from one forward pass."""
        names = list(self.model.skeleton.joint_names)
        _, batch = first_crops(self.samples, self.model.input_size, self.num_images)
        maps = keras.ops.convert_to_numpy(self.model(batch["image"], training=False))
        return {joint: np.stack([np.concatenate(row, axis=1) for row in
                                 stage_overlays(batch["image"], maps, slice(names.index(joint), names.index(joint) + 1))])
                for joint in joints}

    def _write(self, step: int):
        with self.writer.as_default(step=step), tf.summary.record_if(True):
            kernels = self.kernel_images()
            if kernels is not None:
                tf.summary.image("pairwise_kernels", kernels)
            joints = [j for j in self.joints if j in self.model.skeleton.joint_names]
            for joint, images in self.heatmap_images(joints).items():
                tf.summary.image(f"unary_vs_refined/{joint}", images, max_outputs=self.num_images)
        self.writer.flush()

    def on_train_begin(self, logs=None):
        self._write(0)

    def on_epoch_end(self, epoch, logs=None):
        self._write(epoch + 1)


class TensorBoard(keras.callbacks.TensorBoard):
    """``keras.callbacks.TensorBoard`` that writes its epoch summaries (``epoch_loss``, ...) at
    every epoch.

    With an integer ``update_freq`` Keras keeps ``tf.summary.record_if(step % update_freq == 0)``
    active for the whole of training, so epoch-end summaries are silently dropped unless the
    epoch's last step is a multiple of ``update_freq`` (tensorflow/tensorboard#4975).
    """

    def on_epoch_end(self, epoch, logs=None):
        with tf.summary.record_if(True):
            super().on_epoch_end(epoch, logs)


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
