"""Training of bottom-up multi-person models (OpenPose) on composited LSPet scenes, and with
``Experiment.datasets`` on a mix of those and real photos (``training.real_photos``).

Called by ``training.train`` for models whose task is ``bottom_up``; the targets are encoded by
the model's own codec (``model.codec``: confidence maps and part affinity fields). Same contract
as the top-down loop: a ``tf.distribute`` strategy chosen from the machine, a checkpoint every epoch in
``<workdir>/backup`` (resumed after a kill), ``history.csv``, one TensorBoard run in
``<workdir>`` (``training.callbacks``, ``training.run_log``) and ``<workdir>/final.weights.h5``. Besides, every
epoch's weights are kept in ``<workdir>/epochs/`` (the model is small), so the AP of each epoch on
more scenes can be measured afterwards (``tools.publish --epoch-curve``).

Validation each epoch, on fixed held-out scenes from the LSPet validation split: the per-stage
losses (``val_pafs_stage1_loss``, ...; ``val/pafs/stage1/loss`` in TensorBoard), OKS AP and AP50
(``val_oks_ap``, ``val_oks_ap50``), and TensorBoard images of every stage's maps and fields and of
the people found against the ground truth.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Optional

import keras
import numpy as np
import tensorflow as tf

from training.callbacks import HistoryCSV, SyncReplicaStatistics, TrainingSummaries
from training.composite import heldout_scenes, in_skeleton, labelled_joints, scene_dataset, scene_targets
from training.datasets import load_lspet
from training.distribute import prepare_fit, unsharded
from training.loop import WarmupCosine, first_samples, record_run, save_weights, start_model, start_run
from training.losses import masked_stage_metrics, masked_stage_mse
from training.run_log import RunLog

#: The source of composited scenes a bottom-up recipe's ``datasets`` can name beside the real
#: photos (``training.real_photos.SOURCES``).
SCENES = "lspet_scenes"


def boxes_folder(workdir) -> Path:
    """Where a run reads its photos' person boxes (``tools.person_boxes``): ``person_boxes/``
    beside its workdir (``runs/person_boxes``), shared by the runs of one folder."""
    return Path(workdir).resolve().parent / "person_boxes"


def training_mix(exp, samples, codec, data_root=None, folder=None, max_photos: int = 0):
    """The training stream of ``exp``: scenes composited from ``samples``, and with
    ``exp.coco_mix`` > 0 that share of real COCO photos (``coco-mini`` under the data root, all
    but ``exp.coco_heldout``), augmented with ``exp.augment``, masks per channel (COCO lacks
    some joints). Returns ``(batches, held-out COCO samples or None)``. A recipe with
    ``datasets`` mixes its sources instead (``source_mix``; ``folder``, ``max_photos``)."""
    if exp.datasets:
        if exp.coco_mix:
            raise ValueError(f"experiment {exp.name}: coco_mix and datasets both set; name the photos in datasets")
        return source_mix(exp, samples, codec, folder, data_root, max_photos)
    if exp.coco_mix == 0:
        return scene_dataset(samples, codec, exp.batch_size, exp.scenes), None
    from training.datasets.base import data_root as default_root
    from training.datasets.coco import DEFAULT_ANNOTATIONS, heldout_split, labelled_joints, load_coco_keypoints
    from training.pipeline import multi_person_dataset

    root = Path(data_root) if data_root else default_root()
    photos, heldout = heldout_split(load_coco_keypoints(root.joinpath(*DEFAULT_ANNOTATIONS), skeleton=codec.skeleton),
                                    exp.coco_heldout)
    scenes = scene_dataset(samples, codec, None, exp.scenes, per_channel_masks=True)
    real = multi_person_dataset(photos, codec, None, augment=exp.augment, labelled=labelled_joints(codec.skeleton),
                                repeat=True)
    mixed = tf.data.Dataset.sample_from_datasets([scenes, real], [1.0 - exp.coco_mix, exp.coco_mix])
    return unsharded(mixed.batch(exp.batch_size, drop_remainder=True).prefetch(tf.data.AUTOTUNE)), heldout


def source_mix(exp, samples, codec, folder, data_root=None, max_photos: int = 0):
    """The training stream of a recipe with ``datasets``: each example from a source with
    probability proportional to its weight, ``lspet_scenes`` (composited from ``samples``) or a
    real-photo source (``training.real_photos.SOURCES``: its first ``max_photos``, 0 all; its
    unlabelled people masked with the person boxes cached in ``folder``), in the model's
    skeleton, masks per channel. Returns ``(batches, the COCO photos' validation split in the
    model's skeleton)``, the real-photo set scored every epoch."""
    from training.datasets.coco import load_coco_photos
    from training.real_photos import SOURCES, in_model_skeleton, photo_stream

    streams, weights = [], []
    for name, weight in exp.training_sets:
        if name == SCENES:
            streams.append(scene_dataset(samples, codec, None, exp.scenes, per_channel_masks=True))
        elif name in SOURCES:
            if folder is None:
                raise ValueError(f"experiment {exp.name}: source {name!r} needs the folder of its person boxes")
            streams.append(photo_stream(name, codec, exp.augment, folder, data_root, max_photos))
        else:
            raise ValueError(f"experiment {exp.name}: unknown bottom-up source {name!r}; "
                             f"known: {(SCENES,) + SOURCES}")
        weights.append(weight)
    total = sum(weights)
    mixed = tf.data.Dataset.sample_from_datasets(streams, [w / total for w in weights])
    photos = in_model_skeleton(load_coco_photos(data_root, "val"), codec.skeleton)
    return unsharded(mixed.batch(exp.batch_size, drop_remainder=True).prefetch(tf.data.AUTOTUNE)), photos


def heldout_batches(samples, codec, count: int, config, batch_size: int):
    """Fixed validation scenes with targets, as a finite dataset ``(images, targets)``, and the
    scenes themselves (``training.composite.heldout_scenes``), their people in the model's
    skeleton (joints the people lack unlabelled, and masked in the targets)."""
    images, kps, vis, areas = heldout_scenes(samples, count, config)
    kps, vis = in_skeleton(kps, vis, samples.skeleton, codec.skeleton)
    labelled = None if samples.skeleton == codec.skeleton else labelled_joints(samples.skeleton, codec.skeleton)
    pafs, maps = zip(*[scene_targets(codec, kps[i], vis[i], labelled=labelled) for i in range(len(images))])
    targets = {"pafs": tf.stack(pafs), "heatmaps": tf.stack(maps)}
    ds = tf.data.Dataset.from_tensor_slices((images.astype(np.float32), targets))
    return ds.batch(batch_size), (images, kps, vis, areas)


class SceneValidation(keras.callbacks.Callback):
    """After every epoch, on the held-out validation scenes: OKS AP and AP50
    (``training.people_evaluation.evaluate_scenes``) into the logs (``val_oks_ap``, ``val_oks_ap50``:
    ``history.csv``, and ``val/oks_ap``, ``val/oks_ap50`` in TensorBoard through
    ``TrainingSummaries``), and, with a ``RunLog``, images of the first ``num_images`` scenes:
    ``val/maps_per_stage`` (per scene, the scene, each PAF stage's field magnitude, max over limbs,
    and each confidence-map stage, max over parts) and ``val/people`` (ground truth green, the
    people found red).

    Args:
        scenes: ``training.composite.heldout_scenes``' ``(images, keypoints, visible, areas)``.
        log: the run's ``RunLog``, None: no images.
        photos: held-out COCO photos (``MultiPersonSamples``) also scored every epoch
            (``val_coco_ap``, ``val_coco_ap50``; ``training.people_evaluation.evaluate_coco``), or None.
    """

    def __init__(self, scenes, log=None, num_images: int = 4, photos=None):
        super().__init__()
        self.scenes, self.log, self.num_images, self.photos = scenes, log, num_images, photos

    def on_epoch_end(self, epoch, logs=None):
        from training.people_evaluation import evaluate_coco, evaluate_scenes

        logs = logs if logs is not None else {}
        result = evaluate_scenes(self.model, scenes=self.scenes)
        logs["val_oks_ap"], logs["val_oks_ap50"] = result["oks"]["AP"], result["oks"]["AP50"]
        print(f"\nepoch {epoch + 1}: OKS AP {logs['val_oks_ap']:.4f}  AP50 {logs['val_oks_ap50']:.4f} on "
              f"{len(self.scenes[0])} held-out scenes", flush=True)
        if self.photos is not None:
            photos = evaluate_coco(self.model, samples=self.photos)
            logs["val_coco_ap"], logs["val_coco_ap50"] = photos["oks"]["AP"], photos["oks"]["AP50"]
            print(f"epoch {epoch + 1}: OKS AP {logs['val_coco_ap']:.4f}  AP50 {logs['val_coco_ap50']:.4f} on "
                  f"{len(self.photos)} held-out COCO photos", flush=True)
        if self.log is None:
            return
        with self.log.at(self.log.epoch_end(epoch)):
            tf.summary.image("val/maps_per_stage", self.stage_images())
            tf.summary.image("val/people", self.people_images())

    def stage_images(self) -> np.ndarray:
        from training.tensorboard_images import image_grid, overlay_tile

        images = self.scenes[0][:self.num_images]
        out = self.model(images.astype(np.float32), training=False)
        pafs, maps = out["pafs"].numpy(), out["heatmaps"].numpy()
        p = pafs.shape[1]
        rows = []
        for i, image in enumerate(images):
            fields = [np.sqrt(pafs[i, s, ..., 0::2] ** 2 + pafs[i, s, ..., 1::2] ** 2) for s in range(p)]
            tiles = [("scene", image)] + [(f"stage {s + 1}: limb fields (PAF)", overlay_tile(image, f))
                                          for s, f in enumerate(fields)]
            tiles += [(f"stage {p + s + 1}: part maps", overlay_tile(image, maps[i, s]))
                      for s in range(maps.shape[1])]
            rows.append(tiles)
        return image_grid(rows)

    def people_images(self) -> np.ndarray:
        from training.tensorboard_images import image_grid, skeletons_tile

        images, kps, vis = (x[:self.num_images] for x in self.scenes[:3])
        people, _ = self.model.graph_function("people")(tf.constant(images, tf.float32))
        rows = []
        for image, gt, gt_vis, found in zip(images, kps, vis, people.numpy()):
            truth = np.where((gt_vis > 0)[..., None], gt, np.nan)
            found = found[found[:, :, 2].max(axis=1) > 0]
            pred = np.where(found[:, :, 2:] > 0, found[:, :, :2], np.nan)
            tile = skeletons_tile(image, truth, pred, self.model.skeleton)
            rows.append([(f"truth (green), {len(pred)} found (red)", tile)])
        return image_grid(rows)


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
    if exp.loss:
        raise ValueError(f"experiment {exp.name}: bottom-up training has its own loss (masked L2 on every stage's maps "
                         f"and fields); loss={exp.loss!r} would be ignored")
    train_samples, val_samples = first_samples(load_lspet(data, split="train"),
                                               load_lspet(val_data or data, split="val"), max_train, max_val)
    strat, chief, workdir, mydir = start_run(exp, workdir, strategy)
    with strat.scope():
        model = start_model(exp)
    codec = model.codec
    steps = exp.steps_per_epoch or len(train_samples) // exp.batch_size
    dataset, coco_heldout = training_mix(exp, train_samples, codec, folder=boxes_folder(workdir), max_photos=max_train)
    if coco_heldout is not None and max_val:
        coco_heldout = coco_heldout.subset(range(min(max_val, len(coco_heldout))))
    val_dataset, val_scenes = heldout_batches(val_samples, codec, exp.val_scenes, exp.scenes, exp.batch_size)
    with strat.scope():
        schedule = WarmupCosine(exp.learning_rate, exp.warmup_steps, steps * exp.epochs)
        model.compile(optimizer=keras.optimizers.Adam(schedule),
                      loss={"pafs": masked_stage_mse, "heatmaps": masked_stage_mse},
                      metrics={"pafs": masked_stage_metrics("pafs", model.paf_stages),
                               "heatmaps": masked_stage_metrics("heatmaps", model.heatmap_stages)},
                      jit_compile=exp.jit_compile)
    prepare_fit(model, strat, dataset.element_spec)
    # One TensorBoard run (this worker's folder). Validation adds its figures to the logs
    # before HistoryCSV / TrainingSummaries write them; the backup comes last (see top_down).
    log = RunLog.open_run(mydir, steps) if tensorboard else None
    callbacks = [SyncReplicaStatistics(strat)] if strat.num_replicas_in_sync > 1 else []
    callbacks.append(SceneValidation(val_scenes, log if chief else None, photos=coco_heldout))
    callbacks.append(HistoryCSV(str(mydir / "history.csv")))
    if log:
        callbacks.append(TrainingSummaries(log, recipe=exp))
    if chief:
        callbacks.append(EpochWeights(mydir / "epochs"))
    callbacks.append(keras.callbacks.BackupAndRestore(str(mydir / "backup")))
    t0 = time.time()
    history = model.fit(dataset, epochs=exp.epochs, steps_per_epoch=steps, validation_data=val_dataset,
                        callbacks=callbacks, verbose=verbose)
    if log:
        log.close()
    elapsed = time.time() - t0
    save_weights(model, mydir / "final.weights.h5")
    if chief:
        record_run(workdir, {"experiment": exp.name, "epochs": exp.epochs, "steps_per_epoch": steps,
                             "batch_size": exp.batch_size, "train_images": len(train_samples),
                             "seconds_this_run": elapsed, "replicas": strat.num_replicas_in_sync,
                             "precision": exp.precision})
    return model, history
