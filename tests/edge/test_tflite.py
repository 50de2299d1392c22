"""TFLite conversion of every precision: builtin ops only, stock LiteRT, decoding inside."""

import numpy as np
import pytest

from edge.tflite import TFLiteRunner, convert
from edge.tflite_conversion import PRECISIONS, check_builtin_only, operators


@pytest.fixture(scope="module")
def tiny(tiny_hourglass):
    return tiny_hourglass


@pytest.fixture(scope="module")
def images():
    return np.random.default_rng(1).integers(0, 256, (6, 32, 32, 3), dtype=np.uint8)


@pytest.fixture(scope="module")
def converted(tiny, images):
    """``converted(precision)``: the tiny model's TFLite file of that precision (int8 calibrated
    on ``images``), converted once for the module (a conversion takes seconds even when tiny)."""
    files = {}

    def get(precision):
        if precision not in files:
            files[precision] = convert(tiny, precision, calibration=images if precision == "int8" else None)
        return files[precision]

    return get


@pytest.mark.parametrize("precision", PRECISIONS)
def test_every_precision_uses_builtin_ops_and_runs_on_stock_litert(converted, images, precision):
    data = converted(precision)
    ops = check_builtin_only(data)
    assert not [o for o in ops if o.startswith("Flex") or o == "CUSTOM"]
    assert "CONV_2D" in ops
    assert "ARG_MAX" not in ops and "GATHER" not in ops and "GATHER_ND" not in ops
    runner = TFLiteRunner(data, num_threads=1)
    assert runner.input_dtype == np.uint8 and runner.input_shape == (1, 32, 32, 3)
    kp, sc = runner.predict(images)
    assert kp.shape == (6, 14, 2) and sc.shape == (6, 14)
    assert np.all((kp >= -0.5) & (kp <= 31.5))
    if precision == "int8":
        assert "QUANTIZE" in ops or "DEQUANTIZE" in ops


def test_float32_matches_keras(tiny, images, converted):
    kp_ref, sc_ref = tiny.predict_keypoints(images)
    kp, sc = TFLiteRunner(converted("float32")).predict(images)
    np.testing.assert_allclose(kp, kp_ref, atol=1e-3)
    np.testing.assert_allclose(sc, sc_ref, atol=1e-4)


def test_int8_with_int8_input_tensor(tiny, images):
    data = convert(tiny, "int8", calibration=images, int8_io=True)
    runner = TFLiteRunner(data)
    assert runner.input_dtype == np.int8
    outputs = runner.runner.get_output_details()
    assert outputs["keypoints"]["dtype"] == np.int8 and outputs["scores"]["dtype"] == np.int8
    # keypoints and scores are quantised separately, each with a scale fitting its range
    assert outputs["keypoints"]["quantization"][0] > 2 * outputs["scores"]["quantization"][0]
    kp, sc = runner.predict(images)
    assert kp.shape == (6, 14, 2) and kp.dtype == np.float32
    assert np.all((kp >= -1.0) & (kp <= 32.5))


def test_flex_ops_are_detected(tiny):
    import tensorflow as tf

    @tf.function(input_signature=[tf.TensorSpec((1, 4), tf.float32)])
    def needs_flex(x):
        return tf.raw_ops.MatrixInverse(input=tf.reshape(x, (1, 2, 2)))

    conv = tf.lite.TFLiteConverter.from_concrete_functions([needs_flex.get_concrete_function()])
    conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS, tf.lite.OpsSet.SELECT_TF_OPS]
    data = conv.convert()
    assert any(o.startswith("Flex") for o in operators(data))
    with pytest.raises(ValueError, match="non-builtin ops"):
        check_builtin_only(data)


def test_bad_arguments(tiny, images, converted):
    with pytest.raises(ValueError, match="unknown precision"):
        convert(tiny, "int4")
    with pytest.raises(ValueError, match="calibration"):
        convert(tiny, "int8")
    with pytest.raises(ValueError, match="int8_io"):
        convert(tiny, "float16", int8_io=True)
    with pytest.raises(FileNotFoundError):
        TFLiteRunner("/nonexistent/model.tflite")
    with pytest.raises(ValueError, match="expected uint8 images"):
        TFLiteRunner(converted("float32")).predict(images[:, :16])


def test_int8_keeps_the_decoder_and_the_output_ops_in_float(converted):
    """Regression test: the ops producing the outputs (the scores' REDUCE_MAX, the keypoints'
    PACK) carry the signature's tensor names, not the decoder's; once they ran in int8 and the
    decoder compared float maps with a rounded maximum (CPM int8: 45 px mean error)."""
    from ai_edge_litert.interpreter import Interpreter

    it = Interpreter(model_content=converted("int8"))
    tensors = {d["index"]: d for d in it.get_tensor_details()}
    int8_in_decoder = [tensors[i]["name"] for op in it._get_ops_details() for i in op["outputs"]
                       if "decoder" in tensors[i]["name"] and tensors[i]["dtype"] in (np.int8, np.uint8, np.int16)]
    assert not int8_in_decoder
    assert all(d["dtype"] == np.float32 for d in it.get_output_details())
    producers = [op for op in it._get_ops_details()
                 if set(op["outputs"]) & {d["index"] for d in it.get_output_details()}]
    assert producers and all(tensors[i]["dtype"] not in (np.int8, np.uint8)
                             for op in producers for i in list(op["inputs"]) + list(op["outputs"]) if i >= 0)


def test_network_alone_without_decoding(tiny, images):
    """``decode=False``: the graph is the network alone, its heatmaps (what an app that decodes
    itself runs, and what edge.component_cost times the decoding against)."""
    from ai_edge_litert.interpreter import Interpreter

    runner = Interpreter(model_content=convert(tiny, "float32", decode=False)).get_signature_runner("serving_default")
    assert sorted(runner.get_output_details()) == list(tiny.export_output_names(decode=False)) == ["heatmaps"]
    maps = runner(images=images[:1])["heatmaps"]
    np.testing.assert_allclose(maps, np.asarray(tiny.heatmaps(images[:1].astype("float32"))), atol=1e-4)
