"""The Android section of docs/export-and-android.md (linked from the README) names the real
input/output tensors of the exported .tflite of the most accurate published model (the default)."""

import re
from pathlib import Path

import numpy as np

import zoo

DOC = Path(__file__).resolve().parents[2] / "docs" / "export-and-android.md"


def _android_section():
    text = DOC.read_text()
    start = text.index("### Android")
    end = text.find("\n## ", start)
    return text[start:] if end < 0 else text[start:end]


def test_android_doc_matches_the_exported_file(exported):
    from ai_edge_litert.interpreter import Interpreter

    name = zoo.most_accurate()
    path = exported(name, "tflite", "float32")
    it = Interpreter(model_path=str(path))
    sigs = it.get_signature_list()
    runner = it.get_signature_runner("serving_default")
    inputs, outputs = runner.get_input_details(), runner.get_output_details()
    doc = _android_section()
    kotlin = doc[doc.index("```kotlin"):]

    assert list(sigs) == ["serving_default"] and '"serving_default"' in kotlin
    assert list(inputs) == ["images"] and 'mapOf("images" to input)' in kotlin
    assert sorted(outputs) == ["keypoints", "scores"]
    assert '"keypoints" to keypoints' in kotlin and '"scores" to scores' in kotlin
    # shapes and dtypes written in the prose match the file
    model = zoo.load(name)
    assert f"`{model.spec.name}`" in doc
    s, k = model.input_size, model.num_joints
    assert tuple(inputs["images"]["shape"]) == (1, s, s, 3) and inputs["images"]["dtype"] == np.uint8
    assert tuple(outputs["keypoints"]["shape"]) == (1, k, 2) and outputs["keypoints"]["dtype"] == np.float32
    assert tuple(outputs["scores"]["shape"]) == (1, k) and outputs["scores"]["dtype"] == np.float32
    assert f"`images` uint8 `[1, {s}, {s}, 3]`" in doc
    assert f"`keypoints` float32 `[1, {k}, 2]`" in doc and f"`scores` float32 `[1, {k}]`" in doc
    # the Kotlin buffers have the same sizes
    assert f"allocateDirect(1 * {s} * {s} * 3)" in kotlin
    assert re.search(rf"Array\(1\) \{{ Array\({k}\) \{{ FloatArray\(2\) \}} \}}", kotlin)
    assert f"Array(1) {{ FloatArray({k}) }}" in kotlin


def test_android_doc_matches_the_detector_file(exports_dir):
    """The several-people part: the detector file's names, shapes and dtypes as the prose and the
    Kotlin sketch give them."""
    from ai_edge_litert.interpreter import Interpreter

    from edge.detector_tflite import cached_detector_tflite
    from zoo.preprocess import BOX_PADDING

    detector = zoo.load("person-detector")
    path = cached_detector_tflite(detector, "float32", exports_dir, log=lambda line: None)
    runner = Interpreter(model_path=str(path)).get_signature_runner("serving_default")
    inputs, outputs = runner.get_input_details(), runner.get_output_details()
    doc = _android_section()
    people = doc[doc.index("#### Several people"):]
    kotlin = people[people.index("```kotlin"):]
    s, m = detector.input_size, detector.max_boxes
    assert list(inputs) == ["images"] and sorted(outputs) == ["boxes", "scores"]
    assert tuple(inputs["images"]["shape"]) == (1, s, s, 3) and inputs["images"]["dtype"] == np.uint8
    assert tuple(outputs["boxes"]["shape"]) == (1, m, 4) and outputs["boxes"]["dtype"] == np.float32
    assert tuple(outputs["scores"]["shape"]) == (1, m) and outputs["scores"]["dtype"] == np.float32
    assert f"`images` uint8 `[1, {s}, {s}, 3]`" in people and f"`boxes` float32 `[1, {m}, 4]`" in people
    assert f"`scores` float32 `[1, {m}]`" in people
    assert f"threshold, {detector.score_threshold:g}," in people
    assert f"`side = {BOX_PADDING:g} * max(x2 - x1, y2 - y1)`" in people
    assert f"{BOX_PADDING:g}f * maxOf(fx2 - fx1, fy2 - fy1)" in kotlin
    assert f"allocateDirect(1 * {s} * {s} * 3)" in kotlin and f"Array(1) {{ Array({m}) {{ FloatArray(4) }} }}" in kotlin
    assert 'mapOf("boxes" to boxes, "scores" to scores)' in kotlin and '"serving_default"' in kotlin
