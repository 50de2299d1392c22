"""The person detector (``zoo.load("person-detector")``, NanoDet-g): GFL decoding and in-graph NMS
on hand-made tensors, the letterbox mapping, bad input (nobody, a huge photo), real COCO photos
and its builtin-only TFLite file. Needs no npm cache: the published weights are in the package."""

import json

import numpy as np
import pytest

import zoo
from zoo import store
from zoo.detectors.gfl import BoxSelection, GFLBoxDecoder, anchor_points, expected_distances
from zoo.detectors.nanodet import boxes_to_image
from zoo.preprocess import letterbox
from zoo.tasks import DETECTION

REG_MAX = 10


def _peaked(bins_per_side, reg_max=REG_MAX, height=30.0):
    """Logits ``(4 * (reg_max + 1),)`` whose softmax is (almost) one-hot at each side's bin."""
    logits = np.zeros((4, reg_max + 1), np.float32)
    for side, b in enumerate(bins_per_side):
        logits[side, b] = height
    return logits.reshape(-1)


@pytest.fixture(scope="module")
def detector():
    return zoo.load("person-detector")


# -- decoding ------------------------------------------------------------------------------
def test_anchor_points_are_cell_centres_level_by_level_row_major():
    centres, strides = anchor_points(64, (8, 16, 32))
    assert len(centres) == 64 + 16 + 4 and list(np.unique(strides)) == [8, 16, 32]
    np.testing.assert_array_equal(centres[:3], [[4, 4], [12, 4], [20, 4]])  # x varies first
    np.testing.assert_array_equal(centres[8], [4, 12])  # second row of level 0
    np.testing.assert_array_equal(centres[64], [8, 8])  # first cell of stride 16
    np.testing.assert_array_equal(centres[-1], [48, 48])  # last cell of stride 32
    with pytest.raises(ValueError, match="input_size 80 is not a multiple of the stride 32"):
        anchor_points(80, (8, 16, 32))


def test_expected_distance_is_the_mean_of_the_softmax_over_the_bins():
    logits = np.stack([_peaked([0, 3, 7, 10]), np.zeros(44, np.float32)])
    d = np.asarray(expected_distances(logits[None], REG_MAX))[0]
    np.testing.assert_allclose(d[0], [0, 3, 7, 10], atol=1e-6)
    np.testing.assert_allclose(d[1], [5, 5, 5, 5], atol=1e-5)  # uniform: the middle bin
    two = np.zeros((4, 11), np.float32)
    two[:, [2, 4]] = 30.0  # two equal bins: halfway between them
    np.testing.assert_allclose(np.asarray(expected_distances(two.reshape(1, 1, 44), REG_MAX))[0, 0], 3.0, atol=1e-5)


def test_box_decoding_scales_by_the_level_stride_and_clips_to_the_input():
    decoder = GFLBoxDecoder(64, (8, 16, 32), REG_MAX)
    dist = np.full((1, decoder.num_anchors, 44), -30.0, np.float32)
    dist[0, :, ::11] = 30.0  # every side at bin 0 by default
    a = 1 * 8 + 2  # level 0, row 1, column 2: centre (20, 12)
    dist[0, a] = _peaked([1, 2, 3, 0])
    b = 64 + 5  # level 1 (stride 16), row 1, column 1: centre (24, 24)
    dist[0, b] = _peaked([1, 1, 1, 1])
    boxes = np.asarray(decoder(dist))[0]
    np.testing.assert_allclose(boxes[a], [20 - 8, 0, 20 + 24, 12], atol=1e-4)  # top 12 - 16 clipped to 0
    np.testing.assert_allclose(boxes[b], [8, 8, 40, 40], atol=1e-4)
    np.testing.assert_allclose(boxes[0], [4, 4, 4, 4], atol=1e-4)  # zero distances: the anchor point


def test_nms_keeps_the_best_of_overlapping_boxes_and_pads_with_zero_scores():
    boxes = np.array([[0, 0, 10, 10], [1, 0, 11, 10], [50, 50, 60, 70], [20, 20, 30, 30]], np.float32)
    scores = np.array([0.6, 0.9, 0.5, 0.1], np.float32)  # the last is below the threshold
    selection = BoxSelection(max_boxes=4, iou_threshold=0.6, score_threshold=0.2)
    kept_boxes, kept = (np.asarray(v) for v in selection(boxes[None], scores[None]))
    np.testing.assert_allclose(kept[0], [0.9, 0.5, 0, 0])
    np.testing.assert_allclose(kept_boxes[0, :2], boxes[[1, 2]])
    assert not kept_boxes[0, 2:].any()
    # A batch maps the same selection over its images.
    both_boxes, both = (np.asarray(v)
                        for v in selection(np.stack([boxes, boxes[::-1]]), np.stack([scores, scores[::-1]])))
    np.testing.assert_allclose(both, [[0.9, 0.5, 0, 0]] * 2)
    with pytest.raises(ValueError, match="iou_threshold must be in"):
        BoxSelection(iou_threshold=0.0)


def test_boxes_map_back_through_the_letterbox():
    image = np.zeros((100, 200, 3), np.uint8)  # W 200, H 100: scaled 2.08, 104 rows of padding above
    _, to_image = letterbox(image, 416)
    boxes = np.array([[0, 104, 416, 312], [208, 156, 312, 260], [0, 0, 0, 0]], np.float32)
    out, scores = boxes_to_image(boxes, np.array([0.5, 0.7, 0.0]), to_image, image.shape[:2], 0.2)
    np.testing.assert_allclose(scores, [0.7, 0.5])  # best first, the empty slot dropped
    np.testing.assert_allclose(out, [[100, 25, 150, 75], [0, 0, 200, 100]], atol=1e-3)
    none_boxes, none_scores = boxes_to_image(boxes, np.array([0.5, 0.7, 0.0]), to_image, image.shape[:2], 0.8)
    assert none_boxes.shape == (0, 4) and none_scores.shape == (0,)


# -- the published detector -----------------------------------------------------------------
def test_published_with_origin_licence_and_sha256(detector):
    spec = zoo.get_spec("person-detector@1")
    folder = store.published_versions("person-detector")[1]
    assert folder.parent.parent == store.PACKAGE_STORE
    assert spec.weights.sha256 == store.sha256_file(folder / spec.weights.file)
    training = spec.weights.training
    assert "Apache-2.0" in training["licence"] and "RangiLyu/nanodet" in training["origin"]
    assert training["source"]["files"]["package/models/nanodet.bin"] == json.loads(
        (folder / "model.json").read_text())["weights"]["training"]["source"]["files"]["package/models/nanodet.bin"]
    for name in training["licence_files"]:
        assert (folder / name).is_file(), name
    assert "Apache License" in (folder / "LICENSE-nanodet-Apache-2.0.txt").read_text()
    assert "MIT License" in (folder / "LICENSE-human-models-MIT.txt").read_text()
    assert detector.task is DETECTION and detector.input_size == spec.input_size == 416
    assert spec.weights.metrics["person_recall"]["recall"] >= 0.95


def test_an_image_with_nobody_returns_no_boxes(detector):
    for image in (np.full((480, 640, 3), 128, np.uint8), np.zeros((64, 48, 3), np.uint8)):
        boxes, scores = detector.detect(image)
        assert boxes.shape == (0, 4) and scores.shape == (0,)
        assert boxes.dtype == scores.dtype == np.float32


def test_a_huge_image_is_letterboxed_not_loaded_whole(detector, monkeypatch):
    seen = []
    fn = detector.graph_function("detections")
    monkeypatch.setattr(detector, "graph_function", lambda name: lambda x: (seen.append(tuple(x.shape)), fn(x))[1])
    boxes, scores = detector.detect(np.full((8000, 6000, 3), 200, np.uint8))
    assert seen == [(1, 416, 416, 3)]
    assert boxes.shape == (0, 4) and scores.shape == (0,)


def test_bad_input_is_a_clear_error(detector):
    with pytest.raises(ValueError, match=r"one RGB image \(H, W, 3\), got shape \(2, 64, 64, 3\)"):
        detector.detect(np.zeros((2, 64, 64, 3), np.uint8))
    with pytest.raises(ValueError, match="got shape"):
        detector.detect(np.zeros((0, 10, 3), np.uint8))


@pytest.fixture(scope="module")
def coco_val(shared_data):
    from training.datasets.coco import load_coco_photos

    try:
        return load_coco_photos(split="val")
    except Exception as e:  # noqa: BLE001 - the shared data lacks the COCO photos
        pytest.skip(f"COCO validation photos not readable under {shared_data}: {e}")


#: COCO validation photos whose people (>= 8 body joints) the published detector finds.
REAL_PHOTOS = ("000000129648.jpg", "000000000165.jpg", "000000114692.jpg")


def test_finds_the_people_of_real_photos_also_when_huge(detector, coco_val):
    import cv2

    from training.detector import box_iou, people_to_find
    from zoo.io import read_image

    index = {p.split("/")[-1]: i for i, p in enumerate(coco_val.image_paths)}
    missing = [n for n in REAL_PHOTOS if n not in index]
    if missing:
        pytest.skip(f"COCO validation photos {missing} not in the shared data")
    for name in REAL_PHOTOS:
        truth = people_to_find(coco_val, index[name])
        image = read_image(coco_val.image_paths[index[name]])
        boxes, scores = detector.detect(image)
        assert len(truth) and len(boxes) >= len(truth), name
        assert (box_iou(truth, boxes).max(1) >= 0.5).all(), (name, truth, boxes)
        assert (np.diff(scores) <= 0).all() and (scores >= detector.score_threshold).all()
    # The same photo 8000 px wide: resized, the same people in its (scaled) pixels.
    h, w = image.shape[:2]
    scale = 8000 / w
    huge = cv2.resize(image, (8000, int(round(h * scale))), interpolation=cv2.INTER_LINEAR)
    big_boxes, _ = detector.detect(huge)
    assert (box_iou(truth * scale, big_boxes).max(1) >= 0.5).all()


def test_tflite_file_is_builtin_only_and_agrees_with_keras(detector):
    """The published weights with every score kept (threshold 0), so that a plain image gives
    boxes to compare: the file's decoding and NMS are the Keras model's."""
    from edge.detector_convert import convert_detector
    from edge.detector_tflite import DetectorRunner
    from edge.tflite_conversion import operators
    from zoo.detectors.nanodet import NanoDet

    keep_all = NanoDet(**{**detector.spec.model_args, "score_threshold": 0.0})
    keep_all.build()
    keep_all.set_weights(detector.get_weights())
    data = convert_detector(keep_all, "float32")
    ops = operators(data)
    assert "NON_MAX_SUPPRESSION_V5" in ops and not [o for o in ops if o.startswith("Flex") or o == "CUSTOM"]
    image = np.full((416, 416, 3), 90, np.uint8)
    image[100:380, 170:250] = np.random.default_rng(0).integers(0, 255, (280, 80, 3))
    boxes, scores = DetectorRunner(data).detections(image)
    keras_boxes, keras_scores = (np.asarray(v)[0] for v in keep_all.detections(image[None].astype(np.float32)))
    assert boxes.shape == (keep_all.max_boxes, 4) and scores.shape == (keep_all.max_boxes,)
    assert keras_scores[3] > 0.03  # the four best are distinct enough to keep their order
    np.testing.assert_allclose(scores[:4], keras_scores[:4], atol=1e-4)
    np.testing.assert_allclose(boxes[:4], keras_boxes[:4], atol=1e-2)
