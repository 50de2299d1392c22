"""Several people on the phone's path (#27 point 2): the person detector's ``.tflite`` and a
published COCO-17 pose model's ``.tflite`` run in sequence (``edge.people_tflite``) find the same
people, in the same order, as ``predict_people`` in Keras, on a real COCO photo of four people;
a photo with nobody gives zero people and a huge photo is resized, on both paths (#27 point 5).
Float32 files, exported once per session into the shared exports folder."""

import numpy as np
import pytest

#: A small published COCO-17 model (192 px): the quickest export of the COCO-17 models.
POSE_MODEL = "simplebaseline-coco-fast@1"
#: Four people at a table (the demo's group photo).
GROUP_PHOTO = "coco-mini/train2017/000000000790.jpg"
#: Joints scored at least this high by Keras must agree within ``MAX_PX`` image pixels.
CONFIDENT = 0.3
MAX_PX = 3.0


@pytest.fixture(scope="module")
def keras_models():
    import zoo

    return zoo.load(POSE_MODEL), zoo.load("person-detector")


@pytest.fixture(scope="module")
def two_files(exported, exports_dir, keras_models):
    """The pose model's and the detector's float32 files, run in sequence."""
    from edge.detector_tflite import cached_detector_tflite
    from edge.people_tflite import TopDownPeopleTFLite

    pose, detector = keras_models
    pose_file = exported(POSE_MODEL, "tflite", "float32", model=pose)
    detector_file = cached_detector_tflite(detector, "float32", exports_dir, log=lambda line: None)
    return TopDownPeopleTFLite(detector_file, pose_file)


@pytest.fixture(scope="module")
def group_photo(shared_data):
    from zoo.io import read_image

    path = shared_data / GROUP_PHOTO
    if not path.is_file():
        pytest.skip(f"COCO group photo not found at {path} (set $POSEZOO_DATA to the shared data folder)")
    return read_image(path)


def _box_iou(a, b):
    lo, hi = np.maximum(a[:2], b[:2]), np.minimum(a[2:], b[2:])
    inter = np.prod(np.clip(hi - lo, 0, None))
    return inter / (np.prod(a[2:] - a[:2]) + np.prod(b[2:] - b[:2]) - inter)


def _assert_same_people(keras, tflite, scale=1.0):
    """Same number of people, same order, confident joints within ``MAX_PX`` x ``scale``."""
    (k_people, k_scores), (t_people, t_scores) = keras, tflite
    assert len(t_people) == len(k_people), (k_scores, t_scores)
    np.testing.assert_allclose(t_scores, k_scores, atol=0.02)
    confident = k_people[..., 2] >= CONFIDENT
    assert (confident[:3].sum(1) >= 5).all(), "the best three people should each have joints to compare"
    d = np.linalg.norm(k_people[..., :2] - t_people[..., :2], axis=-1)[confident]
    assert d.max() <= MAX_PX * scale, f"confident joints up to {d.max():.2f} px apart (median {np.median(d):.2f})"


def test_two_files_find_the_same_people_as_keras(two_files, keras_models, group_photo):
    pose, detector = keras_models
    k_boxes, k_box_scores = detector.detect(group_photo)
    t_boxes, t_box_scores = two_files.detector.detect(group_photo)
    assert len(k_boxes) >= 3 and len(t_boxes) == len(k_boxes)
    ious = [_box_iou(a, b) for a, b in zip(k_boxes, t_boxes)]
    assert min(ious) >= 0.9, ious
    np.testing.assert_allclose(t_box_scores, k_box_scores, atol=0.02)

    keras = pose.predict_people(group_photo, detector=detector)
    tflite = two_files.predict_people(group_photo)
    assert len(keras[0]) >= 3
    assert tflite[0].shape == keras[0].shape and tflite[0].dtype == np.float32
    _assert_same_people(keras, tflite)


def test_a_photo_with_nobody_gives_zero_people(two_files):
    people, scores = two_files.predict_people(np.full((300, 400, 3), 127, np.uint8))
    assert people.shape == (0, 17, 3) and scores.shape == (0,)


def test_a_huge_photo_is_resized_not_loaded_whole_on_both_paths(two_files, keras_models, group_photo):
    """The group photo 8000 px wide (144 MB of pixels): the detector sees it letterboxed and each
    person is cropped from it, so both paths find the same people as on the photo itself."""
    import cv2

    pose, detector = keras_models
    h, w = group_photo.shape[:2]
    scale = 8000 / w
    huge = cv2.resize(group_photo, (8000, int(round(h * scale))), interpolation=cv2.INTER_LINEAR)
    keras = pose.predict_people(huge, detector=detector)
    tflite = two_files.predict_people(huge)
    _assert_same_people(keras, tflite, scale)
    small, _ = pose.predict_people(group_photo, detector=detector)
    assert len(keras[0]) == len(small)
    # The same people as on the photo: the best three's joints, in photo pixels, near their own
    # (the detector sees a slightly different letterbox: resampled from 8000 px, not from the photo).
    for i, (k, s) in enumerate(zip(keras[0][:3], small[:3])):
        confident = (s[:, 2] >= CONFIDENT) & (k[:, 2] >= CONFIDENT)
        extent = np.ptp(s[confident, :2], axis=0).max()
        d = np.median(np.linalg.norm(k[confident, :2] / scale - s[confident, :2], axis=-1))
        assert confident.sum() >= 5 and d <= 0.1 * extent, f"person {i}: median {d:.1f} px of {extent:.0f}"


def test_bad_input_is_named(two_files):
    with pytest.raises(ValueError, match=r"expects one RGB image \(H, W, 3\), got shape \(10, 10\)"):
        two_files.predict_people(np.zeros((10, 10), np.uint8))
    with pytest.raises(ValueError, match="expects uint8 pixels, got dtype float32"):
        two_files.predict_people(np.zeros((10, 10, 3), np.float32))
