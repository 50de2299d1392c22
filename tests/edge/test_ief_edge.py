"""Iterative Error Feedback exports: the pose maps, the unrolled iterations and the clipping run in
the graph of every export with builtin ops only; TFLite float32, the SavedModel signature and ONNX
give the Keras model's keypoints and scores (tiny model whose corrections reach the bound)."""

import keras
import numpy as np
import pytest

from edge.tflite import TFLiteRunner, convert
from edge.tflite_conversion import check_builtin_only
from zoo.architectures.ief import IterativeErrorFeedback

S, K, T = 32, 16, 2


def calibrate_batchnorm(model, images):
    """BatchNorm statistics of one batch: a randomly initialised EfficientNet in inference mode
    passes almost nothing (features ~1e-13), so the tests' corrections would not depend on the
    image or the maps; with these statistics they do."""
    norms = [layer for layer in model._flatten_layers() if isinstance(layer, keras.layers.BatchNormalization)]
    momenta = [layer.momentum for layer in norms]
    for layer in norms:
        layer.momentum = 0.0
    x = model.normalise(images)
    model.predict_correction(x, model.initial_estimate(x), training=True)
    for layer, momentum in zip(norms, momenta):
        layer.momentum = momentum


@pytest.fixture(scope="module")
def tiny_ief():
    keras.utils.set_random_seed(0)
    model = IterativeErrorFeedback(num_iterations=T, head_filters=8, units=16, dropout=0.0, input_size=S,
                                   skeleton="mpii16")
    model.build()
    rng = np.random.default_rng(0)
    model.set_mean_pose(rng.uniform(-0.3, 0.3, (K, 2)).astype("float32"))
    calibrate_batchnorm(model, rng.integers(0, 256, (8, S, S, 3)).astype("float32"))
    out = model.head.out  # starts at zero: give it corrections, some beyond the bound
    out.kernel.assign(rng.normal(0, 0.3, out.kernel.shape).astype("float32"))
    out.bias.assign(rng.normal(0, 0.02, out.bias.shape).astype("float32"))
    return model


@pytest.fixture(scope="module")
def images():
    return np.random.default_rng(1).integers(0, 256, (4, S, S, 3), dtype=np.uint8)


@pytest.fixture(scope="module")
def keras_outputs(tiny_ief, images):
    kp, sc = tiny_ief.predict_keypoints(images)
    mean = np.asarray(tiny_ief.mean_pose) * S + (S - 1) / 2.0
    assert np.abs(kp - mean).max() > 1.0, "the test needs iterations that move the joints"
    assert sc.min() < 0.5, "the test needs corrections at the bound"
    return kp, sc


def test_tflite_float32_is_builtin_and_matches_keras(tiny_ief, images, keras_outputs):
    data = convert(tiny_ief, "float32")
    ops = check_builtin_only(data)
    assert not [o for o in ops if o.startswith("Flex") or o == "CUSTOM"]
    assert {"CONV_2D", "EXP", "CONCATENATION"} <= set(ops)
    runner = TFLiteRunner(data, num_threads=1)
    assert runner.input_dtype == np.uint8 and runner.input_shape == (1, S, S, 3)
    kp, sc = runner.predict(images)
    # float32 rounding of another kernel library (XNNPACK), carried through the iterations
    np.testing.assert_allclose(kp, keras_outputs[0], atol=1e-2)
    np.testing.assert_allclose(sc, keras_outputs[1], atol=2e-3)


def test_saved_model_signature_matches_keras(tiny_ief, images, keras_outputs, tmp_path):
    import tensorflow as tf

    from edge.saved_model import write_saved_model

    write_saved_model(tiny_ief, tmp_path / "sm")
    serve = tf.saved_model.load(str(tmp_path / "sm")).signatures["serving_default"]
    out = serve(images=tf.constant(images))
    np.testing.assert_allclose(out["keypoints"].numpy(), keras_outputs[0], atol=1e-3)
    np.testing.assert_allclose(out["scores"].numpy(), keras_outputs[1], atol=1e-4)


def test_onnx_matches_keras(tiny_ief, images, keras_outputs):
    pytest.importorskip("tf2onnx", reason="the [edge] extra")
    pytest.importorskip("onnxruntime", reason="the [edge] extra")
    from edge.onnx import OnnxRunner, convert_onnx

    kp, sc = OnnxRunner(convert_onnx(tiny_ief)).predict(images)
    np.testing.assert_allclose(kp, keras_outputs[0], atol=1e-2)
    np.testing.assert_allclose(sc, keras_outputs[1], atol=1e-3)
