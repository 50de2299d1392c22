"""The one tf.data pipeline of the single-person models: decode, crop/augment, encode targets."""

from __future__ import annotations

from typing import Optional

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


def evaluation_dataset(samples: PoseSamples, input_size: int, batch_size: int = 32) -> tf.data.Dataset:
    """Protocol crops without augmentation: ``{"image", "matrix" (image -> crop), "index"}``."""
    flip_index = get_skeleton(samples.skeleton).flip_index

    def make_example(path, keypoints, visible, index):
        crop, _, _, matrix = crop_sample(_decode(path), keypoints, visible, input_size, flip_index, None)
        return {"image": crop, "matrix": matrix, "index": index}

    ds = _base_dataset(samples).map(make_example, num_parallel_calls=tf.data.AUTOTUNE)
    return ds.batch(batch_size).prefetch(tf.data.AUTOTUNE)
