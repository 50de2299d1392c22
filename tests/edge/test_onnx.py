"""ONNX export: graph contract, parity with the Keras keypoints, opset and runner errors (tiny model)."""

import numpy as np
import pytest

from edge.onnx import OnnxRunner, convert_onnx

SIZE = 32


@pytest.fixture(scope="module")
def tiny(tiny_hourglass):
    return tiny_hourglass


@pytest.fixture(scope="module")
def onnx_file(tiny, tmp_path_factory):
    path = tmp_path_factory.mktemp("onnx") / "tiny.onnx"
    path.write_bytes(convert_onnx(tiny))
    return path


@pytest.fixture(scope="module")
def images():
    return np.random.RandomState(0).randint(0, 256, (6, SIZE, SIZE, 3)).astype(np.uint8)


def test_graph_has_the_edge_contract(onnx_file):
    import onnx

    proto = onnx.load(str(onnx_file))
    onnx.checker.check_model(proto)
    assert [i.name for i in proto.graph.input] == ["images"]
    assert sorted(o.name for o in proto.graph.output) == ["keypoints", "scores"]
    assert {o.domain: o.version for o in proto.opset_import}[""] == 17
    dims = proto.graph.input[0].type.tensor_type
    assert dims.elem_type == onnx.TensorProto.UINT8
    assert [d.dim_param or d.dim_value for d in dims.shape.dim] == ["N", SIZE, SIZE, 3]


def test_onnx_matches_keras_keypoints(tiny, onnx_file, images):
    kp_keras, sc_keras = tiny.predict_keypoints(images)
    for runner in (OnnxRunner(onnx_file), OnnxRunner(onnx_file.read_bytes(), num_threads=1)):
        kp, sc = runner.predict(images)
        assert kp.shape == (6, 14, 2) and sc.shape == (6, 14)
        assert kp.dtype == np.float32 and sc.dtype == np.float32
        np.testing.assert_allclose(kp, kp_keras, atol=0.01)
        np.testing.assert_allclose(sc, sc_keras, atol=1e-4)
    # the batch dimension is free: one image at a time gives the same answer
    kp1, _ = OnnxRunner(onnx_file).predict(images[2:3])
    np.testing.assert_allclose(kp1, kp_keras[2:3], atol=0.01)


@pytest.mark.parametrize("opset", [16, 11, "17", 17.0, None, 99])
def test_unsupported_opset_is_refused(tiny, opset):
    with pytest.raises(ValueError, match=f"opset.*{opset}"):
        convert_onnx(tiny, opset=opset)


def test_runner_errors_name_the_file_and_shape(onnx_file, tmp_path):
    missing = tmp_path / "nope.onnx"
    with pytest.raises(FileNotFoundError, match="nope.onnx"):
        OnnxRunner(missing)
    broken = tmp_path / "broken.onnx"
    broken.write_bytes(b"not an onnx model")
    with pytest.raises(ValueError, match="broken.onnx.*cannot load"):
        OnnxRunner(broken)
    with pytest.raises(ValueError, match="num_threads"):
        OnnxRunner(onnx_file, num_threads=0)
    runner = OnnxRunner(onnx_file)
    with pytest.raises(ValueError, match=rf"\(N, {SIZE}, {SIZE}, 3\).*\(64, 64, 3\)"):
        runner.predict(np.zeros((64, 64, 3), np.uint8))
    with pytest.raises(ValueError, match=r"tiny.onnx.*\(1, 16, 16, 3\)"):
        runner.predict(np.zeros((1, 16, 16, 3), np.uint8))
    with pytest.raises(ValueError, match="uint8.*float32"):
        runner.predict(np.zeros((1, SIZE, SIZE, 3), np.float32))
