"""Teacher pseudo-labels: cached labels map back to image pixels and resume, the two uses (fill the
joints a dataset lacks; the teacher's joints alone) with score weights, and the mirrored crop
swaps the teacher's sides as it swaps the dataset's."""

import numpy as np
import pytest
import tensorflow as tf

from training.datasets import DatasetError
from training.datasets.base import PoseSamples
from training.pipeline import merge_teacher, mixed_training_dataset
from training.teacher_labels import TEACHER_CROP, label_samples, read_labels, teacher_samples, with_teacher_labels
from zoo.codecs.heatmap import HeatmapCodec
from zoo.skeletons import COCO17

FACE = [COCO17.index(n) for n in ("nose", "left_eye", "right_eye", "left_ear", "right_ear")]


class CentreTeacher:
    """Says every joint is at the crop centre, score 0.8, and counts its calls."""

    def __init__(self):
        self.crops = 0

    def predict_flip_averaged(self, crops):
        self.crops += len(crops)
        centre = (TEACHER_CROP - 1) / 2.0
        return np.full((len(crops), 17, 2), centre, np.float32), np.full((len(crops), 17), 0.8, np.float32)


def _samples(tmp_path, count=5):
    image = tmp_path / "person.png"
    tf.io.write_file(str(image), tf.io.encode_png(tf.zeros([120, 100, 3], tf.uint8)))
    keypoints = np.zeros((count, 14, 2), np.float32)
    keypoints[:, :, 0] = np.linspace(20, 60, 14)
    keypoints[:, :, 1] = np.linspace(30, 90, 14)[None] + np.arange(count)[:, None]
    return PoseSamples([str(image)] * count, keypoints, np.ones((count, 14), np.float32), "lsp14",
                       [f"p{i}" for i in range(count)])


def test_labels_go_back_to_image_pixels_and_a_second_run_labels_only_what_is_missing(tmp_path):
    samples = _samples(tmp_path)
    path = tmp_path / "labels" / "lsp.npz"
    teacher = CentreTeacher()
    label_samples(samples.subset([0, 1]), teacher, path, progress=False)
    assert teacher.crops == 2
    label_samples(samples, teacher, path, progress=False)
    assert teacher.crops == 5  # the two labelled before were not labelled again
    ids, keypoints, scores = read_labels(path)
    assert sorted(ids) == samples.ids
    labelled = with_teacher_labels(samples, path)
    # The crop centre is the centre of the box of the person's labelled joints.
    lo, hi = samples.keypoints.min(1), samples.keypoints.max(1)
    np.testing.assert_allclose(labelled.teacher_keypoints[:, 0], (lo + hi) / 2, atol=0.05)
    assert np.all(labelled.teacher_scores == np.float32(0.8))


def test_unlabelled_samples_are_a_clear_error(tmp_path):
    samples = _samples(tmp_path)
    label_samples(samples.subset([0]), CentreTeacher(), tmp_path / "l.npz", progress=False)
    with pytest.raises(DatasetError, match=r"no teacher labels for 4 of 5 samples .*tools.teacher_labels"):
        with_teacher_labels(samples, tmp_path / "l.npz")
    # teacher_samples labels what is missing.
    assert len(teacher_samples(samples, "l", tmp_path, CentreTeacher()).teacher_keypoints) == 5


def test_merge_fills_only_missing_joints_and_weighs_them_by_score():
    points = tf.constant([[1.0, 1.0], [2.0, 2.0], [3.0, 3.0]])
    visible = tf.constant([1.0, 0.0, 0.0])
    t_points = tf.constant([[9.0, 9.0], [8.0, 8.0], [7.0, 7.0]])
    t_scores = tf.constant([0.9, 0.6, 0.1])
    p, v = merge_teacher(points, visible, t_points, t_scores, "fill", 0.3)
    np.testing.assert_allclose(p.numpy(), [[1, 1], [8, 8], [3, 3]])
    np.testing.assert_allclose(v.numpy(), [1.0, 0.6, 0.0])
    p, v = merge_teacher(points, visible, t_points, t_scores, "only", 0.3)
    np.testing.assert_allclose(p.numpy(), t_points.numpy())
    np.testing.assert_allclose(v.numpy(), [0.9, 0.6, 0.0])
    with pytest.raises(ValueError, match="teacher mode"):
        merge_teacher(points, visible, t_points, t_scores, "soft", 0.3)


def test_codec_weights_a_joint_by_its_confidence_with_a_full_peak():
    codec = HeatmapCodec(input_size=32, heatmap_size=8, sigma=1.0)
    maps, weights = codec.encode(tf.constant([[12.0, 12.0], [17.5, 17.5], [4.0, 4.0]]), tf.constant([1.0, 0.5, 0.0]))
    np.testing.assert_allclose(weights.numpy(), [1.0, 0.5, 0.0])
    assert maps.numpy()[..., 1].max() > 0.99 and maps.numpy()[..., 2].max() == 0


def test_training_stream_fills_face_points_and_mirrors_the_teachers_sides(tmp_path):
    """An LSP person with teacher labels: in ``fill`` mode COCO's face points come from the
    teacher with its score; with every crop mirrored, the teacher's left eye (placed left of the
    right eye in the image) is still on the model's left-eye channel after the flip swap."""
    from training.augment import AugmentConfig

    samples = _samples(tmp_path, 4)
    t_kps = np.zeros((4, 17, 2), np.float32)
    t_kps[:, :, 0], t_kps[:, :, 1] = 40.0, 50.0
    t_kps[:, COCO17.index("left_eye")] = (30.0, 40.0)
    t_kps[:, COCO17.index("right_eye")] = (50.0, 40.0)
    samples.teacher_keypoints, samples.teacher_scores = t_kps, np.full((4, 17), 0.7, np.float32)
    codec = HeatmapCodec(input_size=64, heatmap_size=16, sigma=1.0)
    for flip in (0.0, 1.0):
        ds = mixed_training_dataset([(samples, 1.0, "fill")], codec, 4, AugmentConfig(scale=0.0, rotation_deg=0.0,
                                    flip_prob=flip, colour=0.0), skeleton="coco17", seed=0)
        _, maps, weights = next(iter(ds))
        np.testing.assert_allclose(weights.numpy()[:, FACE], 0.7, atol=1e-6)
        assert np.all(weights.numpy()[:, COCO17.index("left_wrist")] == 1.0)  # the dataset's own label
        m = maps.numpy()[0]
        col = lambda j, m=m: np.unravel_index(m[..., j].argmax(), m[..., j].shape)[1]  # noqa: E731
        left, right = col(COCO17.index("left_eye")), col(COCO17.index("right_eye"))
        # Unflipped: left eye at x 30 < right eye at x 50. Mirrored, the point labelled left eye
        # lands on the right, and the flip swap gives the left-eye channel the other point: the
        # left-eye channel stays left of the right-eye one (without the swap it would be right).
        assert left < right, f"flip_prob {flip}: left eye column {left}, right eye column {right}"
