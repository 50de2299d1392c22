"""The tf.data pipelines: single-person crops (decode, crop/augment, encode targets) and whole
multi-person images (COCO keypoints: letterbox, crowd mask, confidence maps + PAFs). The LSPet
multi-person scenes are composited in ``training.composite``."""

from __future__ import annotations

from typing import Optional, Sequence, Tuple

import numpy as np
import tensorflow as tf

from training.augment import AugmentConfig, colour_jitter, crop_matrix_tf, crop_sample, transform_points_tf, warp_tf
from training.datasets.base import PoseSamples
from training.distribute import unsharded
from zoo.codecs.heatmap import HeatmapCodec
from zoo.skeletons import get_skeleton, joint_mapping


def _decode(path):
    data = tf.io.read_file(path)
    image = tf.io.decode_image(data, channels=3, expand_animations=False)
    return image


def crop_boxes(samples: PoseSamples) -> np.ndarray:
    """The samples' crop boxes (``PoseSamples.crop_boxes``), zeros (the joints' box) where they
    have none."""
    if samples.crop_boxes is None:
        return np.zeros((len(samples), 4), np.float32)
    return np.asarray(samples.crop_boxes, np.float32).reshape(len(samples), 4)


def _base_dataset(samples: PoseSamples):
    if len(samples) == 0:
        raise ValueError("the dataset has no samples")
    return tf.data.Dataset.from_tensor_slices(
        (samples.image_paths, samples.keypoints, samples.visible, crop_boxes(samples), tf.range(len(samples))))


def to_skeleton(points, visible, source: str, target: Optional[str]):
    """Joints of skeleton ``source`` moved into ``target`` by name (``zoo.skeletons.joint_mapping``):
    a joint ``source`` does not label is unlabelled (visible 0), so it carries no loss."""
    if not target or target == source:
        return points, visible
    mapping = np.asarray(joint_mapping(get_skeleton(source), get_skeleton(target)))
    index = tf.constant(np.maximum(mapping, 0), tf.int32)
    known = tf.constant(mapping >= 0, tf.float32)
    return tf.gather(points, index) * known[:, None], tf.gather(visible, index) * known


#: How a stream uses its samples' teacher labels (``training.teacher_labels``): not at all, to
#: fill the joints the dataset does not label, or alone.
TEACHER_MODES = ("", "fill", "only")


def merge_teacher(points, visible, teacher_points, teacher_scores, mode: str, min_score: float):
    """The joints training learns from, in TF ops (after the crop, both in the model's skeleton):
    ``fill`` keeps the dataset's labels and takes the teacher's where the dataset has none,
    ``only`` takes the teacher's alone; the teacher's joints weigh their score, and scores under
    ``min_score`` are dropped."""
    import tensorflow as tf

    if mode not in TEACHER_MODES[1:]:
        raise ValueError(f"teacher mode must be one of {TEACHER_MODES[1:]}, got {mode!r}")
    confident = tf.where(teacher_scores >= min_score, teacher_scores, tf.zeros_like(teacher_scores))
    if mode == "only":
        return teacher_points, confident
    take = (visible <= 0) & (confident > 0)
    return (tf.where(take[:, None], teacher_points, points), tf.where(take, confident, visible))


def training_examples(samples: PoseSamples, codec: HeatmapCodec, augment: Optional[AugmentConfig] = AugmentConfig(),
                      cache: bool = True, seed: Optional[int] = None, skeleton: Optional[str] = None,
                      teacher: str = "", teacher_min_score: float = 0.3) -> tf.data.Dataset:
    """Endless, shuffled, unbatched ``(image, targets, joint_weights)`` examples of one dataset.

    The crop is made in the data's own skeleton (its box from all the person's labelled joints, or
    the sample's crop box, ``PoseSamples.crop_boxes``; its flip pairs), then the joints move into
    the model's ``skeleton`` (``to_skeleton``), so a joint the data does not label has weight 0.
    ``teacher`` (``fill`` or ``only``, ``merge_teacher``) mixes in the samples' teacher labels,
    cropped and flipped with the image. Images are float32 RGB in ``[0, 255]`` at ``codec.input_size``; joint
    weights are 0 for unlabelled joints and joints outside the crop.
    """
    flip_index = get_skeleton(samples.skeleton).flip_index
    size = codec.input_size
    if teacher and samples.teacher_keypoints is None:
        raise ValueError(f"teacher {teacher!r} asked for, but the {samples.skeleton} samples carry no teacher labels")
    if len(samples) == 0:
        raise ValueError("the dataset has no samples")
    coco_flip = tf.constant(get_skeleton("coco17").flip_index, tf.int32)
    extra = (samples.teacher_keypoints, samples.teacher_scores) if teacher else (
        np.zeros((len(samples), 0, 2), np.float32), np.zeros((len(samples), 0), np.float32))
    ds = tf.data.Dataset.from_tensor_slices((samples.image_paths, samples.keypoints, samples.visible,
                                             crop_boxes(samples)) + extra)
    ds = ds.map(lambda p, k, v, b, tk, ts: (_decode(p), k, v, b, tk, ts), num_parallel_calls=tf.data.AUTOTUNE)
    if cache:
        ds = ds.cache()
    ds = ds.shuffle(len(samples), seed=seed, reshuffle_each_iteration=True).repeat()

    def make_example(image, keypoints, visible, box, teacher_points, teacher_scores):
        crop, points, vis, matrix = crop_sample(image, keypoints, visible, size, flip_index, augment, box)
        points, vis = to_skeleton(points, vis, samples.skeleton, skeleton)
        if teacher:
            # The teacher's COCO-17 joints follow the same crop; a mirrored crop swaps their sides.
            t_points = transform_points_tf(teacher_points, matrix)
            mirrored = tf.linalg.det(matrix[:2, :2]) < 0
            t_points = tf.cond(mirrored, lambda: tf.gather(t_points, coco_flip), lambda: t_points)
            t_scores = tf.cond(mirrored, lambda: tf.gather(teacher_scores, coco_flip), lambda: teacher_scores)
            t_points, t_scores = to_skeleton(t_points, t_scores, "coco17", skeleton)
            points, vis = merge_teacher(points, vis, t_points, t_scores, teacher, teacher_min_score)
        heatmaps, weights = codec.encode(points, vis)
        return crop, heatmaps, weights

    return ds.map(make_example, num_parallel_calls=tf.data.AUTOTUNE)


def training_dataset(samples: PoseSamples, codec: HeatmapCodec, batch_size: int,
                     augment: Optional[AugmentConfig] = AugmentConfig(), cache: bool = True,
                     seed: Optional[int] = None, drop_remainder: bool = True,
                     skeleton: Optional[str] = None) -> tf.data.Dataset:
    """Infinite dataset of ``(images, heatmaps, joint_weights)`` batches for ``model.fit``
    (``training_examples`` of one dataset, batched)."""
    ds = training_examples(samples, codec, augment, cache, seed, skeleton)
    ds = ds.batch(batch_size, drop_remainder=drop_remainder).prefetch(tf.data.AUTOTUNE)
    # Multi-worker training: no auto-sharding (see unsharded); with a fixed ``seed``, give each
    # worker a different one.
    return unsharded(ds)


def mixed_training_dataset(weighted: Sequence[Tuple], codec: HeatmapCodec, batch_size: int,
                           augment: Optional[AugmentConfig] = AugmentConfig(), skeleton: Optional[str] = None,
                           seed: Optional[int] = None, teacher_min_score: float = 0.3) -> tf.data.Dataset:
    """Batches drawn from several streams, ``(samples, weight)`` or ``(samples, weight, teacher
    mode)``: each example comes from stream ``i`` with probability ``weight_i / sum(weights)``
    (``tf.data.Dataset.sample_from_datasets``), its joints moved into the model's ``skeleton``."""
    if not weighted:
        raise ValueError("no datasets to mix")
    weights = [float(entry[1]) for entry in weighted]
    if min(weights) <= 0:
        raise ValueError(f"sampling weights must be > 0, got {weights}")
    streams = [training_examples(entry[0], codec, augment, seed=seed, skeleton=skeleton,
                                 teacher=entry[2] if len(entry) > 2 else "", teacher_min_score=teacher_min_score)
               for entry in weighted]
    total = sum(weights)
    ds = tf.data.Dataset.sample_from_datasets(streams, [w / total for w in weights], seed=seed)
    return unsharded(ds.batch(batch_size, drop_remainder=True).prefetch(tf.data.AUTOTUNE))


def validation_dataset(samples: PoseSamples, codec: HeatmapCodec, batch_size: int = 32,
                       skeleton: Optional[str] = None) -> tf.data.Dataset:
    """``(images, targets, joint_weights)`` batches of every sample once, in order, as
    ``training_dataset`` encodes them but without augmentation (the protocol crop of
    ``evaluation_dataset``): the validation loss."""
    flip_index = get_skeleton(samples.skeleton).flip_index
    size = codec.input_size

    def make_example(path, keypoints, visible, box, index):
        crop, points, vis, _ = crop_sample(_decode(path), keypoints, visible, size, flip_index, None, box)
        points, vis = to_skeleton(points, vis, samples.skeleton, skeleton)
        targets, weights = codec.encode(points, vis)
        return crop, targets, weights

    ds = _base_dataset(samples).map(make_example, num_parallel_calls=tf.data.AUTOTUNE)
    return ds.batch(batch_size).prefetch(tf.data.AUTOTUNE)


def evaluation_dataset(samples: PoseSamples, input_size: int, batch_size: int = 32) -> tf.data.Dataset:
    """Protocol crops without augmentation: ``{"image", "matrix" (image -> crop), "index"}``."""
    flip_index = get_skeleton(samples.skeleton).flip_index

    def make_example(path, keypoints, visible, box, index):
        crop, _, _, matrix = crop_sample(_decode(path), keypoints, visible, input_size, flip_index, None, box)
        return {"image": crop, "matrix": matrix, "index": index}

    ds = _base_dataset(samples).map(make_example, num_parallel_calls=tf.data.AUTOTUNE)
    return ds.batch(batch_size).prefetch(tf.data.AUTOTUNE)


def multi_person_dataset(samples, codec, batch_size: Optional[int], shuffle: bool = True, seed: Optional[int] = None,
                         drop_remainder: bool = True, augment: Optional[AugmentConfig] = None,
                         labelled=None, repeat: bool = False, shift: float = 0.25) -> tf.data.Dataset:
    """Batches ``(images, {"pafs": (B, H, W, 2L + 1), "heatmaps": (B, H, W, K + 1)})`` of whole
    images (``MultiPersonSamples``, e.g. ``load_coco_keypoints(skeleton="lsp14")``) for bottom-up
    training: each image letterboxed to ``codec.input_size`` as ``zoo.preprocess.letterbox`` does
    (same keypoint mapping), targets from ``codec.encode``, and the loss mask (0 on crowds and on
    people without labelled joints, ``training.datasets.coco.loss_mask``) averaged onto the map
    grid as the last channel of both targets (the padding is kept: it is background).

    ``augment``: the letterbox square is zoomed by ``1 +- scale``, shifted by up to ``shift`` of
    its side, rotated and flipped (joints swapped left/right), and the colours jittered; joints
    that leave the canvas are unlabelled. ``labelled (K,)``: the joints the dataset labels at
    all (``training.datasets.coco.labelled_joints``); the masks are then per channel
    (``training.composite.scene_targets``: ``2L + 2L`` and ``K + K`` channels). ``repeat``: an
    endless stream, reshuffled each pass. ``batch_size`` None: single examples, unbatched.
    """
    from training.composite import scene_targets
    from training.datasets.coco import loss_mask

    if len(samples) == 0:
        raise ValueError("the dataset has no images")
    k = get_skeleton(samples.skeleton).num_joints
    flip_index = tf.constant(get_skeleton(samples.skeleton).flip_index, tf.int32)
    size = codec.input_size

    def generate():
        rng = np.random.default_rng(seed)
        while True:
            order = rng.permutation(len(samples)) if shuffle else range(len(samples))
            for i in order:
                yield (samples.image_paths[i], np.asarray(samples.keypoints[i], np.float32).reshape(-1, k, 2),
                       np.asarray(samples.visible[i], np.float32).reshape(-1, k), loss_mask(samples, i))
            if not repeat:
                return

    signature = (tf.TensorSpec((), tf.string), tf.TensorSpec((None, k, 2), tf.float32),
                 tf.TensorSpec((None, k), tf.float32), tf.TensorSpec((None, None), tf.float32))
    ds = tf.data.Dataset.from_generator(generate, output_signature=signature)

    def targets(points, visible, canvas_mask):
        inside = tf.reduce_all((points > -0.5) & (points < size - 0.5), -1)
        visible = visible * tf.cast(inside, tf.float32)
        cell_mask = tf.image.resize(canvas_mask, [codec.map_size, codec.map_size], method="area")[..., 0]
        return scene_targets(codec, points, visible, cell_mask, labelled)

    def make_augmented(path, keypoints, visible, mask):
        image = tf.cast(_decode(path), tf.float32)
        boxed, points, visible, canvas_mask = _augmented_square(image, keypoints, visible, mask, size, augment,
                                                                shift, flip_index)
        pafs, heatmaps = targets(points, visible, canvas_mask)
        return tf.clip_by_value(boxed, 0.0, 255.0), {"pafs": pafs, "heatmaps": heatmaps}

    def make(path, keypoints, visible, mask):
        boxed, points, pad_mask = _letterboxed(tf.cast(_decode(path), tf.float32), keypoints, mask, size)
        pafs, heatmaps = targets(points, visible, pad_mask)
        return tf.clip_by_value(boxed, 0.0, 255.0), {"pafs": pafs, "heatmaps": heatmaps}

    ds = ds.map(make if augment is None else make_augmented, num_parallel_calls=tf.data.AUTOTUNE)
    if batch_size is None:
        return ds
    return ds.batch(batch_size, drop_remainder=drop_remainder).prefetch(tf.data.AUTOTUNE)


def _letterboxed(image, keypoints, mask, size: int):
    """``image`` letterboxed to ``size`` as ``zoo.preprocess.letterbox`` does, its ``keypoints``
    mapped alike, and the loss ``mask`` on the canvas (1 on the padding)."""
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
    sxy = new[::-1] / hw[::-1]  # (sx, sy)
    offset = tf.cast(tf.stack([left, top]), tf.float32)
    return boxed, sxy * (keypoints + 0.5) - 0.5 + offset, pad_mask


def _augmented_square(image, keypoints, visible, mask, size: int, augment: AugmentConfig, shift: float,
                      flip_index):
    """The letterbox square zoomed, shifted, rotated and flipped at random (joints swapped
    left/right on a flip), colours jittered: ``(canvas, keypoints, visible, loss mask)``."""
    hw = tf.cast(tf.shape(image)[:2], tf.float32)
    side = tf.reduce_max(hw) * tf.random.uniform([], 1.0 - augment.scale, 1.0 + augment.scale)
    centre = (hw[::-1] - 1.0) / 2.0 + tf.random.uniform([2], -shift, shift) * side
    rotation = tf.random.uniform([], -augment.rotation_deg, augment.rotation_deg)
    flip = tf.random.uniform([]) < augment.flip_prob
    matrix = crop_matrix_tf(centre, side, size, rotation, flip)
    boxed = warp_tf(image, matrix, size)
    if augment.colour > 0:
        boxed = colour_jitter(boxed, augment.colour)
    # Outside the photo there is nobody: the loss is kept there (mask 1), as in the letterbox.
    canvas_mask = warp_tf(mask[..., None], matrix, size, fill_value=1.0)
    points = transform_points_tf(keypoints, matrix)
    points = tf.cond(flip, lambda: tf.gather(points, flip_index, axis=1), lambda: points)
    visible = tf.cond(flip, lambda: tf.gather(visible, flip_index, axis=1), lambda: visible)
    return boxed, points, visible, canvas_mask

