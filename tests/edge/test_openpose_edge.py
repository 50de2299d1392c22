"""Bottom-up (OpenPose) exports with the grouping inside the graph: SavedModel signature, TFLite
float32 (same people as Keras) and int8 (grouping kept float32), ONNX, the people parity report,
the grouping's cost; and float32 parity of the published model on real held-out scenes.

The tiny model's maps are written in its input images (``conftest.SyntheticMapsOpenPose``), so
an untrained model finds 1-3 people per image and a graph that drops or changes any step of
decoding and grouping finds other people (or none).
"""

import json

import numpy as np
import pytest

from edge.agreement import compare_people, people_agreement
from edge.exporter import model_metadata
from edge.parity import check_parity
from edge.saved_model import write_saved_model
from edge.tflite import TFLiteRunner, convert
from edge.tflite_conversion import check_builtin_only, quantised_ops_in

P, K = 10, 14
QUANTISED = (np.int8, np.uint8, np.int16)


@pytest.fixture(scope="module")
def keras_people(tiny_openpose, people_scenes):
    people, scores = tiny_openpose.people(people_scenes.astype("float32"))
    people, scores = np.asarray(people), np.asarray(scores)
    # the fixture works: every image has people, with all 14 joints, best first
    found = scores > 0
    assert found.sum(1).min() >= 1 and found.sum() >= 2 * len(people_scenes)
    assert np.all(people[found][..., 2] > 0)
    assert np.all(np.diff(scores, axis=1) <= 0)
    return people, scores


@pytest.fixture(scope="module")
def float32_file(tiny_openpose):
    return convert(tiny_openpose, "float32")


def assert_same_people(people, scores, ref_people, ref_scores, atol_px=1e-3):
    np.testing.assert_array_equal(scores > 0, ref_scores > 0)
    np.testing.assert_array_equal(people[..., 2] > 0, ref_people[..., 2] > 0)
    np.testing.assert_allclose(people[..., :2], ref_people[..., :2], atol=atol_px)
    np.testing.assert_allclose(people[..., 2], ref_people[..., 2], atol=1e-5)
    np.testing.assert_allclose(scores, ref_scores, atol=1e-5)


def test_saved_model_signature_returns_people(tiny_openpose, people_scenes, keras_people, tmp_path):
    import tensorflow as tf

    write_saved_model(tiny_openpose, tmp_path / "sm")
    serve = tf.saved_model.load(str(tmp_path / "sm")).signatures["serving_default"]
    (_, inputs), = serve.structured_input_signature[1].items()
    assert inputs.dtype == tf.uint8 and inputs.shape.as_list() == [None, 128, 128, 3]
    assert {k: v.shape.as_list() for k, v in serve.structured_outputs.items()} == {
        "people": [None, P, K, 3], "scores": [None, P]}
    out = serve(images=tf.constant(people_scenes))
    assert out["people"].dtype == tf.float32 and out["scores"].dtype == tf.float32
    assert_same_people(out["people"].numpy(), out["scores"].numpy(), *keras_people)
    one = serve(images=tf.constant(people_scenes[2:3]))  # the batch is free
    assert_same_people(one["people"].numpy(), one["scores"].numpy(), keras_people[0][2:3], keras_people[1][2:3])


def test_metadata_describes_people_letterbox_and_grouping(tiny_openpose):
    import zoo

    meta = model_metadata(zoo.get_spec("openpose-lsp"), tiny_openpose, format="tflite")
    assert set(meta["outputs"]) == {"people", "scores"} and "letterboxed" in meta["outputs"]["people"]
    assert meta["people"]["max_people"] == P and meta["people"]["num_joints"] == K
    assert len(meta["people"]["limbs"]) == 13 and meta["people"]["limbs"][0] == [12, 13]
    grouping = meta["people"]["grouping"]
    assert grouping["tree"] == meta["people"]["limbs"] and grouping["stride"] == 4.0
    assert {"max_candidates", "peak_threshold", "paf_samples", "min_parts"} <= set(grouping)
    assert meta["letterbox"]["reference"] == "zoo.preprocess.letterbox"
    json.dumps(meta)


def test_tflite_float32_is_builtin_and_finds_the_same_people(tiny_openpose, float32_file, people_scenes,
                                                             keras_people):
    ops = check_builtin_only(float32_file)
    assert {"TOPK_V2", "GATHER", "MAX_POOL_2D", "RESIZE_BILINEAR", "CONV_2D"} <= set(ops), ops
    runner = TFLiteRunner(float32_file, num_threads=1)
    assert runner.bottom_up and runner.input_shape == (1, 128, 128, 3) and runner.input_dtype == np.uint8
    people, scores = runner.predict(people_scenes)
    assert people.shape == (6, P, K, 3) and scores.shape == (6, P)
    assert_same_people(people, scores, *keras_people)
    agreement = people_agreement(*keras_people, people, scores)
    assert agreement["same_count"] == 1.0 and agreement["swaps"] == 0 and agreement["joints_one_only"] == 0
    assert agreement["max_px"] <= 1e-3 and agreement["joints_compared"] == int((keras_people[0][..., 2] > 0).sum())


def test_int8_quantises_the_convolutions_and_keeps_the_grouping_float(tiny_openpose, people_scenes):
    """Regression test: TOPK_V2 and UNPACK (several outputs) escaped the node denylist (their
    location is a FusedLoc, which the quantiser never matches by name) and ran in int8."""
    from ai_edge_litert.interpreter import Interpreter

    data = convert(tiny_openpose, "int8", calibration=people_scenes)
    check_builtin_only(data)
    it = Interpreter(model_content=data)
    tensors = {d["index"]: d for d in it.get_tensor_details()}
    ops = it._get_ops_details()

    def dtypes(op):
        return {tensors[i]["dtype"] for i in list(op["inputs"]) + list(op["outputs"]) if i >= 0}

    convs = [op for op in ops if op["op_name"] == "CONV_2D"]
    assert convs and all(dtypes(op) & {np.int8} for op in convs)  # every convolution in int8
    grouping = [op for op in ops if any("grouping" in tensors[i]["name"] for i in op["outputs"])]
    kinds = {op["op_name"] for op in grouping}
    assert {"TOPK_V2", "UNPACK", "GATHER", "MAX_POOL_2D", "SELECT_V2"} <= kinds, kinds
    assert not [op["op_name"] for op in grouping if dtypes(op) & set(QUANTISED)]
    decoder = [op for op in ops if any("decoder" in tensors[i]["name"] for i in op["outputs"])]
    assert decoder and not [op["op_name"] for op in decoder if dtypes(op) & set(QUANTISED)]
    assert quantised_ops_in(data, tiny_openpose.float_layers) == []
    outputs = {d["index"] for d in it.get_output_details()}
    assert all(tensors[i]["dtype"] == np.float32 for i in outputs)
    producers = [op for op in ops if set(op["outputs"]) & outputs]
    assert producers and not [op for op in producers if dtypes(op) & set(QUANTISED)]
    people, scores = TFLiteRunner(data).predict(people_scenes[:2])
    assert people.shape == (2, P, K, 3) and np.all(scores[:, 0] > 0)


def test_int8_io_is_refused_for_a_bottom_up_model(tiny_openpose, people_scenes):
    with pytest.raises(ValueError, match="grouping"):
        convert(tiny_openpose, "int8", calibration=people_scenes, int8_io=True)
    with pytest.raises(ValueError, match="grouping"):
        convert(tiny_openpose, "int8", calibration=people_scenes, float_decoder=False)


def test_onnx_finds_the_same_people(tiny_openpose, people_scenes, keras_people):
    """Regression test: tf2onnx lowered tf.where to Cast(c) * x + Cast(!c) * y, and the
    grouping's -inf in the branch not taken made every person NaN."""
    import onnx

    from edge.onnx import OnnxRunner, convert_onnx

    data = convert_onnx(tiny_openpose)
    proto = onnx.load_from_string(data)
    assert sorted(o.name for o in proto.graph.output) == ["people", "scores"]
    assert "Where" in {n.op_type for n in proto.graph.node}
    runner = OnnxRunner(data, num_threads=1)
    assert runner.bottom_up
    people, scores = runner.predict(people_scenes)
    assert_same_people(people, scores, *keras_people)


def test_people_parity_report(tiny_openpose, float32_file, people_scenes, keras_people, tmp_path):
    from types import SimpleNamespace

    from zoo.card_measurements import people_parity_table, render_people_parity

    path = tmp_path / "tiny-v1-float32.tflite"
    path.write_bytes(float32_file)
    ref_people, ref_scores = keras_people
    # ground truth: the Keras people (visible joints), area of their box
    found = [ref_people[i][ref_scores[i] > 0] for i in range(len(ref_people))]
    m = max(len(f) for f in found)
    kps, vis, areas = np.zeros((6, m, K, 2)), np.zeros((6, m, K)), np.zeros((6, m))
    for i, f in enumerate(found):
        kps[i, :len(f)], vis[i, :len(f)] = f[..., :2], 1
        areas[i, :len(f)] = np.ptp(f[..., 0], axis=1) * np.ptp(f[..., 1], axis=1)
    # the same scenes as "photos" on disk, twice the size (letterboxed back to 128 by the measure)
    import cv2

    from training.datasets.base import MultiPersonSamples

    paths = []
    for i, image in enumerate(people_scenes):
        paths.append(str(tmp_path / f"photo{i}.png"))
        cv2.imwrite(paths[-1], cv2.resize(image[..., ::-1], (256, 256), interpolation=cv2.INTER_LINEAR))
    n = len(paths)
    photos = MultiPersonSamples(
        image_paths=paths, image_ids=list(range(n)), sizes=np.full((n, 2), 256), keypoints=list(2 * kps + 0.5),
        visible=list(vis), areas=list(4 * areas), boxes=[np.zeros((m, 4), np.float32)] * n, skeleton="lsp14",
        annotation_ids=[np.arange(m) + 10 * i for i in range(n)], ignore_segments=[[] for _ in range(n)])
    from edge.onnx import convert_onnx

    onnx_path = tmp_path / "tiny-v1.onnx"  # regression: the photos reached ONNX as float32 and it refused them
    onnx_path.write_bytes(convert_onnx(tiny_openpose))
    report = check_parity(tiny_openpose, [path, onnx_path], evaluation_set=(people_scenes, kps, vis, areas),
                          photos=photos)
    keras, tflite, onnx_row = report["rows"]
    assert onnx_row["ok"] and abs(onnx_row["AP_photos_drop"]) < 1e-6 and onnx_row["ks_photos"] == keras["ks_photos"]
    assert report["scenes"] == 6 and keras["artifact"] == "keras" and keras["AP"] > 90
    assert tflite["precision"] == "float32" and tflite["ok"] and tflite["same_count"] == 1.0
    assert tflite["max_px"] <= 1e-3 and abs(tflite["AP_drop"]) < 1e-6 and tflite["people_file"] == keras["people_keras"]
    # on the photos: Keras finds them (12 COCO-labelled joints scored), the float32 file likewise
    assert report["photos"]["images"] == 6 and len(report["photos"]["joint_names"]) == 12
    assert keras["AP_photos"] > 70 and abs(tflite["AP_photos_drop"]) < 1e-6
    assert len(keras["ks_photos"]) == 12 and tflite["ks_photos"] == keras["ks_photos"]
    # per joint on the scenes too, for every file: 14 LSP joints, the float32 file's equal to Keras'
    assert len(report["joint_names"]) == 14 and len(keras["ks_scenes"]) == 14
    assert tflite["ks_scenes"] == keras["ks_scenes"] and onnx_row["ks_scenes"] == keras["ks_scenes"]
    assert np.nanmean(keras["ks_scenes"]) > 90
    json.dumps(report)
    table = people_parity_table(report)
    assert table.count("\n") == 4 and "tiny-v1-float32.tflite" in table
    section = render_people_parity(SimpleNamespace(id="openpose-lsp@1"), report)
    assert section[1].startswith("## ") and "tools.parity openpose-lsp@1 --record" in section[3]
    assert "held-out photos" in "\n".join(section) and section[-1].startswith("| ")
    assert "Per joint on the held-out scenes" in "\n".join(section)
    assert sum(line.startswith("| head_top |") for line in section) == 1  # on the scenes; COCO has no head top


def test_compare_people_matches_swapped_near_ties():
    rng = np.random.default_rng(0)
    ref = np.zeros((P, K, 3), np.float32)
    ref[:3, :, :2] = rng.uniform(0, 255, (3, K, 2))
    ref[:3, :, 2] = 0.9
    ref[1, 5] = 0  # person 1 lacks joint 5
    scores = np.zeros(P, np.float32)
    scores[:3] = (0.9, 0.8, 0.8)
    got = ref.copy()
    got[[1, 2]] = got[[2, 1]]  # the near-tie came out the other way round
    got[0, 3, :2] += 0.5
    got[0, 4] = 0  # and one joint lost
    r = compare_people(ref, scores, got, scores)
    assert r["same_count"] and r["swaps"] == 2 and r["one_only"] == 1 and r["unmatched"] == 0
    assert len(r["distances"]) == 3 * K - 1 - 1 and max(r["distances"]) == pytest.approx(0.5 * np.sqrt(2), abs=1e-4)
    fewer, fewer_scores = got.copy(), scores.copy()
    fewer[2], fewer_scores[2] = 0, 0
    r = compare_people(ref, scores, fewer, fewer_scores)
    assert not r["same_count"] and r["unmatched"] == 1 and r["found"] == 2


def test_grouping_cost_report(tiny_openpose):
    from edge.component_cost import grouping_cost

    report = grouping_cost(tiny_openpose, precisions=("float32",), runs=3, warmup=1)
    whole, without, share, alone = report["rows"]
    ms = "float32 median ms (2 threads)"
    assert whole["M multiply-adds"] > without["M multiply-adds"] > 0
    assert share["graph"].endswith("grouping: share of the whole") and alone["graph"].startswith("grouping alone")
    assert all(np.isfinite(r[ms]) and r[ms] > 0 for r in (whole, without, alone))
    assert "LiteRT" in report["description"] and "--grouping-cost" in report["description"]


def test_published_openpose_float32_finds_the_same_people_on_real_scenes(lspet_root, tmp_path):
    import zoo
    from training.people_evaluation import scene_evaluation_set

    try:
        model = zoo.load("openpose-lsp")
    except zoo.WeightsNotPublishedError as e:
        pytest.skip(f"openpose-lsp has no published weights yet ({str(e).splitlines()[0][:120]})")
    path = tmp_path / "openpose-lsp-float32.tflite"
    path.write_bytes(convert(model, "float32"))
    report = check_parity(model, [path], evaluation_set=scene_evaluation_set(20, canvas=model.input_size))
    keras, tflite = report["rows"]
    assert keras["people_keras"] >= 20  # a trained model, not an empty one
    assert tflite["same_count"] == 1.0 and tflite["unmatched"] == 0 and tflite["joints_one_only"] == 0
    assert tflite["max_px"] <= 1.0 and tflite["ok"]


def test_int8_keeps_the_imagenet_backbones_first_block_float():
    """With the ImageNet backbone, block 0's depthwise convolution (the op int8 handles worst,
    ``zoo.backbones.efficientnet_lite.INT8_FLOAT_LAYERS``) stays float32; the rest of the
    backbone runs in int8. Without a backbone nothing is added."""
    from zoo.architectures.openpose import OpenPose
    from zoo.backbones.efficientnet_lite import INT8_FLOAT_LAYERS

    assert OpenPose(backbone_filters=(8, 8, 8), stage_filters=8, input_size=64).float_layers == ("grouping", "decoder")
    model = OpenPose(backbone="lite0", backbone_filters=(8, 8, 16), stage_filters=8, stage_convs=1, paf_stages=1,
                     heatmap_stages=1, input_size=64)
    model.build((None, 64, 64, 3))
    assert model.float_layers == ("grouping", "decoder") + INT8_FLOAT_LAYERS
    calibration = list(np.random.default_rng(0).integers(0, 256, (4, 64, 64, 3), dtype=np.uint8))
    data = convert(model, "int8", calibration=calibration, decode=False)
    assert quantised_ops_in(data, INT8_FLOAT_LAYERS, outputs=False) == []
    from ai_edge_litert.interpreter import Interpreter

    it = Interpreter(model_content=data)
    names = {d["index"]: d["name"] for d in it.get_tensor_details()}
    dtypes = {d["index"]: d["dtype"] for d in it.get_tensor_details()}
    block1 = [op for op in it._get_ops_details() if any("/block1_" in names[i] for i in op["outputs"])]
    assert block1 and all(np.int8 in {dtypes[i] for i in op["outputs"]}
                          for op in block1 if op["op_name"] != "DEQUANTIZE")
