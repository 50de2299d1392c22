"""Iterative Error Feedback exports: the pose maps, the unrolled iterations and the clipping run in
the graph of every export with builtin ops only; TFLite float32, the SavedModel signature and ONNX
give the Keras model's keypoints and scores (tiny model whose corrections reach the bound)."""

import numpy as np
import pytest
from ief_models import TINY, tiny_ief  # tests/ is on sys.path (tests/conftest.py)

from edge.tflite import TFLiteRunner, convert
from edge.tflite_conversion import check_builtin_only

S = TINY["input_size"]


@pytest.fixture(scope="module")
def tiny_model():
    return tiny_ief()


@pytest.fixture(scope="module")
def images():
    return np.random.default_rng(1).integers(0, 256, (4, S, S, 3), dtype=np.uint8)


@pytest.fixture(scope="module")
def keras_outputs(tiny_model, images):
    kp, sc = tiny_model.predict_keypoints(images)
    mean = np.asarray(tiny_model.mean_pose) * S + (S - 1) / 2.0
    assert np.abs(kp - mean).max() > 1.0, "the test needs iterations that move the joints"
    assert sc.min() < 0.5, "the test needs corrections at the bound"
    return kp, sc


def test_tflite_float32_is_builtin_and_matches_keras(tiny_model, images, keras_outputs):
    data = convert(tiny_model, "float32")
    ops = check_builtin_only(data)
    assert not [o for o in ops if o.startswith("Flex") or o == "CUSTOM"]
    assert {"CONV_2D", "EXP", "CONCATENATION"} <= set(ops)
    runner = TFLiteRunner(data, num_threads=1)
    assert runner.input_dtype == np.uint8 and runner.input_shape == (1, S, S, 3)
    kp, sc = runner.predict(images)
    # float32 rounding of another kernel library (XNNPACK), carried through the iterations
    np.testing.assert_allclose(kp, keras_outputs[0], atol=1e-2)
    np.testing.assert_allclose(sc, keras_outputs[1], atol=2e-3)


def test_saved_model_signature_matches_keras(tiny_model, images, keras_outputs, tmp_path):
    import tensorflow as tf

    from edge.saved_model import write_saved_model

    write_saved_model(tiny_model, tmp_path / "sm")
    serve = tf.saved_model.load(str(tmp_path / "sm")).signatures["serving_default"]
    out = serve(images=tf.constant(images))
    np.testing.assert_allclose(out["keypoints"].numpy(), keras_outputs[0], atol=1e-3)
    np.testing.assert_allclose(out["scores"].numpy(), keras_outputs[1], atol=1e-4)


def test_onnx_matches_keras(tiny_model, images, keras_outputs):
    pytest.importorskip("tf2onnx", reason="the [edge] extra")
    pytest.importorskip("onnxruntime", reason="the [edge] extra")
    from edge.onnx import OnnxRunner, convert_onnx

    kp, sc = OnnxRunner(convert_onnx(tiny_model)).predict(images)
    np.testing.assert_allclose(kp, keras_outputs[0], atol=1e-2)
    np.testing.assert_allclose(sc, keras_outputs[1], atol=1e-3)
