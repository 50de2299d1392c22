"""The person detector through the export command (``python -m tools.export person-detector``):
its float32 ``.tflite`` lands in the folder layout ``cached_detector_tflite`` reuses, with the
detector's metadata, builtin ops only, and the same people as Keras on a real COCO photo; what the
detector does not offer is refused by name before any conversion."""

import json

import numpy as np
import pytest

DETECTOR = "person-detector@1"
#: Four people at a table (the demo's group photo).
GROUP_PHOTO = "coco-mini/train2017/000000000790.jpg"


@pytest.fixture(scope="module")
def detector():
    import zoo

    return zoo.load(DETECTOR)


def test_export_command_writes_the_file_cached_detector_tflite_reuses(tmp_path, detector, shared_data, capsys):
    from edge.detector_tflite import DetectorRunner, cached_detector_tflite
    from edge.exporter import artifact_path
    from tools.export import main
    from zoo.io import read_image

    assert main([DETECTOR, "--format", "tflite", "--precision", "float32", "--output", str(tmp_path)]) == 0
    path = artifact_path(detector.spec, tmp_path, "tflite", "float32")
    assert path.is_file() and str(path) in capsys.readouterr().out
    meta = json.loads(path.with_suffix(".json").read_text())
    assert meta["name"] == "person-detector" and meta["weights_sha256"] == detector.spec.weights.sha256
    assert meta["skeleton"] is None and meta["output_names"] == ["boxes", "scores"]
    assert meta["detection"]["max_boxes"] == detector.max_boxes
    assert meta["detection"]["score_threshold"] == detector.score_threshold
    assert "NON_MAX_SUPPRESSION_V5" in meta["operators"] and "FlexNonMaxSuppressionV5" not in meta["operators"]
    # The cached path (tools.predict --people --backend tflite) reuses the command's file.
    lines = []
    assert cached_detector_tflite(detector, "float32", tmp_path, log=lines.append) == path
    assert lines == [f"reusing {path}"]

    photo = shared_data / GROUP_PHOTO
    if not photo.is_file():
        pytest.skip(f"COCO group photo not found at {photo}")
    image = read_image(photo)
    keras_boxes, keras_scores = detector.detect(image)
    boxes, scores = DetectorRunner(path).detect(image)
    assert len(keras_boxes) >= 3 and len(boxes) == len(keras_boxes)
    np.testing.assert_allclose(scores, keras_scores, atol=1e-3)
    np.testing.assert_allclose(boxes, keras_boxes, atol=0.5)


@pytest.mark.parametrize("kwargs, message", [
    (dict(format="tflite", precision="int8", int8_io=True), "int8_io would quantise the detector's box decoding"),
    (dict(format="tflite", precision="half"), "unknown precision 'half'"),
])
def test_refusals_name_what_was_wrong(tmp_path, kwargs, message):
    import edge

    with pytest.raises(ValueError, match=message):
        edge.export(DETECTOR, output_dir=tmp_path, **kwargs)
    assert not any(tmp_path.iterdir())



def test_the_detector_has_every_pose_precision():
    """``--all`` exports the detector in every precision the pose models have (its dynamic-range
    file included: int8 weights, float NMS)."""
    from edge.detector_tflite import PRECISIONS
    from edge.tflite_conversion import PRECISIONS as POSE_PRECISIONS

    assert PRECISIONS == POSE_PRECISIONS
