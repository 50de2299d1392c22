"""The tf.data pipelines: single-person crops (decode, crop/augment, encode targets) and whole
multi-person images (COCO keypoints: letterbox, crowd mask, confidence maps + PAFs). The LSPet
multi-person scenes are composited in ``training.composite``."""

from __future__ import annotations

from typing import Optional

import numpy as np
import tensorflow as tf

from training.augment import AugmentConfig, crop_sample
from training.datasets.base import PoseSamples
from zoo.codecs.heatmap import HeatmapCodec
from zoo.skeletons import get_skeleton


def _decode(path):
    data = tf.io.read_file(path)
    image = tf.io.decode_image(data, channels=3, expand_animations=False)
    return image


def _base_dataset(samples: PoseSamples):
    if len(samples) == 0:
        raise ValueError("the dataset has no samples")
    return tf.data.Dataset.from_tensor_slices(
        (samples.image_paths, samples.keypoints, samples.visible, tf.range(len(samples))))


def training_dataset(samples: PoseSamples, codec: HeatmapCodec, batch_size: int,
                     augment: Optional[AugmentConfig] = AugmentConfig(), cache: bool = True,
                     seed: Optional[int] = None, drop_remainder: bool = True) -> tf.data.Dataset:
    """Infinite dataset of ``(images, heatmaps, joint_weights)`` batches for ``model.fit``.

    Images are float32 RGB in ``[0, 255]`` at ``codec.input_size``; heatmaps ``(B, H, W, K)``;
    joint weights ``(B, K)`` (0 for unlabelled joints and joints outside the crop).
    """
    flip_index = get_skeleton(samples.skeleton).flip_index
    size = codec.input_size
    ds = _base_dataset(samples).map(
        lambda p, k, v, i: (_decode(p), k, v), num_parallel_calls=tf.data.AUTOTUNE)
    if cache:
        ds = ds.cache()
    ds = ds.shuffle(len(samples), seed=seed, reshuffle_each_iteration=True).repeat()

    def make_example(image, keypoints, visible):
        crop, points, vis, _ = crop_sample(image, keypoints, visible, size, flip_index, augment)
        heatmaps, weights = codec.encode(points, vis)
        return crop, heatmaps, weights

    ds = ds.map(make_example, num_parallel_calls=tf.data.AUTOTUNE)
    ds = ds.batch(batch_size, drop_remainder=drop_remainder).prefetch(tf.data.AUTOTUNE)
    # Multi-worker training: no auto-sharding. The source is a list of paths, not file readers,
    # so FILE sharding is impossible; AUTO would fall back to DATA, where every worker decodes
    # and augments every global batch and keeps only its share -- twice the input work, and not
    # even a partition, since each worker shuffles in its own random order. With OFF each worker
    # draws its own random stream of (per-replica) batches from the infinite shuffled dataset.
    # (With a fixed ``seed``, give each worker a different one.)
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.OFF
    return ds.with_options(options)


def validation_dataset(samples: PoseSamples, codec: HeatmapCodec, batch_size: int = 32) -> tf.data.Dataset:
    """``(images, targets, joint_weights)`` batches of every sample once, in order, as
    ``training_dataset`` encodes them but without augmentation (the protocol crop of
    ``evaluation_dataset``): the validation loss."""
    flip_index = get_skeleton(samples.skeleton).flip_index
    size = codec.input_size

    def make_example(path, keypoints, visible, index):
        crop, points, vis, _ = crop_sample(_decode(path), keypoints, visible, size, flip_index, None)
        targets, weights = codec.encode(points, vis)
        return crop, targets, weights

    ds = _base_dataset(samples).map(make_example, num_parallel_calls=tf.data.AUTOTUNE)
    return ds.batch(batch_size).prefetch(tf.data.AUTOTUNE)


def evaluation_dataset(samples: PoseSamples, input_size: int, batch_size: int = 32) -> tf.data.Dataset:
    """Protocol crops without augmentation: ``{"image", "matrix" (image -> crop), "index"}``."""
    flip_index = get_skeleton(samples.skeleton).flip_index

    def make_example(path, keypoints, visible, index):
        crop, _, _, matrix = crop_sample(_decode(path), keypoints, visible, input_size, flip_index, None)
        return {"image": crop, "matrix": matrix, "index": index}

    ds = _base_dataset(samples).map(make_example, num_parallel_calls=tf.data.AUTOTUNE)
    return ds.batch(batch_size).prefetch(tf.data.AUTOTUNE)


def multi_person_dataset(samples, codec, batch_size: int, shuffle: bool = True, seed: Optional[int] = None,
                         drop_remainder: bool = True) -> tf.data.Dataset:
    """Batches ``(images, {"pafs": (B, H, W, 2L + 1), "heatmaps": (B, H, W, K + 1)})`` of whole
    images (``MultiPersonSamples``, e.g. ``load_coco_keypoints(skeleton="lsp14")``) for bottom-up
    training: each image letterboxed to ``codec.input_size`` as ``zoo.preprocess.letterbox`` does
    (same keypoint mapping), targets from ``codec.encode``, and the loss mask (0 on crowds and on
    people without labelled joints, ``training.datasets.coco.loss_mask``) averaged onto the map
    grid as the last channel of both targets (the padding is kept: it is background).
    """
    from training.composite import scene_targets
    from training.datasets.coco import loss_mask

    if len(samples) == 0:
        raise ValueError("the dataset has no images")
    k = get_skeleton(samples.skeleton).num_joints
    size = codec.input_size

    def generate():
        order = np.random.default_rng(seed).permutation(len(samples)) if shuffle else range(len(samples))
        for i in order:
            yield (samples.image_paths[i], np.asarray(samples.keypoints[i], np.float32).reshape(-1, k, 2),
                   np.asarray(samples.visible[i], np.float32).reshape(-1, k), loss_mask(samples, i))

    signature = (tf.TensorSpec((), tf.string), tf.TensorSpec((None, k, 2), tf.float32),
                 tf.TensorSpec((None, k), tf.float32), tf.TensorSpec((None, None), tf.float32))
    ds = tf.data.Dataset.from_generator(generate, output_signature=signature)

    def make(path, keypoints, visible, mask):
        image = tf.cast(_decode(path), tf.float32)
        hw = tf.cast(tf.shape(image)[:2], tf.float32)
        scale = size / tf.reduce_max(hw)
        new = tf.clip_by_value(tf.round(hw * scale), 1.0, float(size))
        new_i = tf.cast(new, tf.int32)
        top, left = (size - new_i[0]) // 2, (size - new_i[1]) // 2
        boxed = tf.image.pad_to_bounding_box(tf.image.resize(image, new_i, antialias=True), top, left, size, size)
        pad_mask = tf.image.pad_to_bounding_box(tf.image.resize(mask[..., None], new_i, antialias=True),
                                                top, left, size, size)
        # Outside the image (padding) there is nobody: keep the loss there (background).
        inside = tf.image.pad_to_bounding_box(tf.ones(tf.concat([new_i, [1]], 0)), top, left, size, size)
        pad_mask = pad_mask + (1.0 - inside)
        cell_mask = tf.image.resize(pad_mask, [codec.map_size, codec.map_size], method="area")[..., 0]
        sxy = new[::-1] / hw[::-1]  # (sx, sy)
        offset = tf.cast(tf.stack([left, top]), tf.float32)
        points = sxy * (keypoints + 0.5) - 0.5 + offset
        pafs, heatmaps = scene_targets(codec, points, visible, cell_mask)
        return tf.clip_by_value(boxed, 0.0, 255.0), {"pafs": pafs, "heatmaps": heatmaps}

    ds = ds.map(make, num_parallel_calls=tf.data.AUTOTUNE)
    return ds.batch(batch_size, drop_remainder=drop_remainder).prefetch(tf.data.AUTOTUNE)
