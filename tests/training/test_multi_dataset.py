"""Everyday-photo data for top-down training: the MPII subset and COCO people loaders with their
fixed splits, joints moved between skeletons by name, weighted sampling of several datasets, and
scoring a model of one skeleton on data of another."""

import json
import zlib

import numpy as np
import pytest
import tensorflow as tf

from training.datasets import DatasetError, load_coco_people, load_coco_photos, load_lspet, load_mpii_subset
from training.datasets.base import PoseSamples
from training.datasets.coco import VAL_MIN_BODY_JOINTS, photo_split
from training.datasets.mpii import load_mpii_json, subset_split
from training.metrics import pckh
from training.pipeline import mixed_training_dataset, to_skeleton
from zoo.skeletons import COCO17, LSP14, MPII16, get_skeleton


@pytest.fixture(scope="module")
def mpii_subset(shared_data):
    if not (shared_data / "mpii-subset" / "annotations.json").is_file():
        pytest.skip(f"MPII subset not found under {shared_data}")
    return shared_data / "mpii-subset"


@pytest.fixture(scope="module")
def coco_photos(shared_data):
    if not (shared_data / "coco-extra" / "annotations").is_dir():
        pytest.skip(f"coco-extra not found under {shared_data}")
    return shared_data


def test_mpii_subset_split_keeps_scenes_on_one_side_and_holds_out_about_12_percent(mpii_subset):
    train, val = load_mpii_subset(mpii_subset, "train"), load_mpii_subset(mpii_subset, "val")
    records = json.loads((mpii_subset / "annotations.json").read_text())
    assert len(train) + len(val) == len(records)
    scene = {r["image"]: r["scene"] for r in records}
    val_images = {p.split("mpii-subset/")[-1] for p in val.image_paths}
    train_images = {p.split("mpii-subset/")[-1] for p in train.image_paths}
    assert not val_images & train_images
    assert not {scene[i] for i in val_images} & {scene[i] for i in train_images}
    assert 0.09 < len(val_images) / len(set(scene)) < 0.15
    assert all(subset_split(scene[i]) == "val" for i in val_images)
    # head_size is the PCKh normaliser: one per person, the file's own value.
    assert val.head_sizes.shape == (len(val),) and np.all(val.head_sizes > 0)
    first_val = next(r for r in records if subset_split(r["scene"]) == "val")
    assert val.head_sizes[0] == pytest.approx(first_val["head_size"])


def test_mpii_json_head_size_must_be_in_every_record(tmp_path):
    record = {"image": "a.jpg", "joints": [[1.0, 2.0]] * 16, "joints_vis": [1] * 16, "scene": "s"}
    path = tmp_path / "a.json"
    path.write_text(json.dumps([{**record, "head_size": 10.0}, record]))
    with pytest.raises(DatasetError, match=r"record 1 .*'head_size' must be in every record"):
        load_mpii_json(path, check_images=False)
    path.write_text(json.dumps([{**record, "head_size": -1}]))
    with pytest.raises(DatasetError, match=r"record 0 .*'head_size' must be a positive number"):
        load_mpii_json(path, check_images=False)
    path.write_text(json.dumps([{k: v for k, v in record.items() if k != "scene"}]))
    with pytest.raises(DatasetError, match=r"record 0: missing field 'scene' \(needed for split 'val'\)"):
        load_mpii_json(path, check_images=False, split="val")


def test_pckh_takes_head_sizes_directly():
    gt = np.zeros((2, 16, 2))
    pred = gt.copy()
    pred[0, :, 0] = 4.0   # 0.4 of a 10 px head: correct
    pred[1, :, 0] = 6.0   # 0.6 of a 10 px head: wrong
    result = pckh(pred, gt, np.ones((2, 16)), np.array([10.0, 10.0]), 0.5)
    assert result["mean"] == pytest.approx(0.5)


def test_coco_photo_split_by_image_id(coco_photos):
    train, val = load_coco_photos(coco_photos, "train"), load_coco_photos(coco_photos, "val")
    assert len(train) + len(val) == 236 and 30 <= len(val) <= 42
    assert not set(train.image_ids) & set(val.image_ids)
    assert all(photo_split(i) == "val" for i in val.image_ids)
    assert photo_split(12345) == ("val" if zlib.crc32(b"12345") % 1000 < 153 else "train")
    people = load_coco_people(coco_photos, "val")
    body = [COCO17.index(n) for n in LSP14.joint_names if n in COCO17.joint_names]
    assert len(people) > 40 and people.skeleton == "coco17"
    assert np.all(people.visible[:, body].sum(1) >= VAL_MIN_BODY_JOINTS)
    assert {i.split(":")[0] for i in people.ids} <= {str(i) for i in val.image_ids}


def test_joint_maps_on_real_records(lspet_root, mpii_subset, coco_photos):
    """Each dataset's joints land on the COCO-17 joint of the same name, and joints the dataset
    does not label (the face points of LSPet and MPII) are unlabelled."""
    face = [COCO17.index(n) for n in ("nose", "left_eye", "right_eye", "left_ear", "right_ear")]
    for samples in (load_lspet(lspet_root, "val").subset(range(5)),
                    load_mpii_subset(mpii_subset, "val").subset(range(5)),
                    load_coco_people(coco_photos, "val").subset(range(5))):
        source = get_skeleton(samples.skeleton)
        points, visible = to_skeleton(tf.constant(samples.keypoints[0]), tf.constant(samples.visible[0]),
                                      samples.skeleton, "coco17")
        points, visible = points.numpy(), visible.numpy()
        for name in ("left_wrist", "right_ankle", "left_shoulder", "right_hip"):
            np.testing.assert_allclose(points[COCO17.index(name)], samples.keypoints[0][source.index(name)])
            assert visible[COCO17.index(name)] == samples.visible[0][source.index(name)]
        if samples.skeleton != "coco17":
            assert not visible[face].any() and not points[face].any()
    # And back: a COCO-17 person in LSP-14 has no neck or head top.
    _, visible = to_skeleton(tf.ones((17, 2)), tf.ones(17), "coco17", "lsp14")
    assert visible.numpy()[[LSP14.index("neck"), LSP14.index("head_top")]].tolist() == [0.0, 0.0]
    assert visible.numpy().sum() == 12


def _tiny_samples(tmp_path, name, skeleton, count, value):
    image = tmp_path / f"{name}.png"
    tf.io.write_file(str(image), tf.io.encode_png(tf.fill([32, 32, 3], tf.constant(value, tf.uint8))))
    k = get_skeleton(skeleton).num_joints
    keypoints = np.tile(np.linspace(4, 28, k)[:, None], (count, 1, 2)).astype(np.float32)
    return PoseSamples([str(image)] * count, keypoints, np.ones((count, k), np.float32), skeleton,
                       [f"{name}{i}" for i in range(count)])


def test_mixed_dataset_samples_by_weight_and_masks_joints_a_dataset_lacks(tmp_path):
    from zoo.codecs.heatmap import HeatmapCodec

    codec = HeatmapCodec(input_size=32, heatmap_size=8, sigma=1.0)
    lsp = _tiny_samples(tmp_path, "lsp", "lsp14", 6, 0)
    coco = _tiny_samples(tmp_path, "coco", "coco17", 6, 255)
    ds = mixed_training_dataset([(lsp, 1.0), (coco, 3.0)], codec, batch_size=50, augment=None, skeleton="coco17",
                                seed=1)
    images, _, weights = next(iter(ds))
    from_coco = images.numpy().mean(axis=(1, 2, 3)) > 100
    assert 0.6 < from_coco.mean() < 0.9  # about 3 of 4
    face = [COCO17.index(n) for n in ("nose", "left_eye", "right_eye", "left_ear", "right_ear")]
    assert not weights.numpy()[~from_coco][:, face].any()
    assert weights.numpy()[from_coco][:, face].all()
    with pytest.raises(ValueError, match="weights must be > 0"):
        mixed_training_dataset([(lsp, 0.0)], codec, 4, skeleton="coco17")


def test_a_coco_model_is_scored_on_lsp_data_on_the_shared_joints(lspet_root):
    from training.pck_evaluation import evaluate
    from zoo.architectures.simplebaseline import SimpleBaseline

    model = SimpleBaseline(backbone_stride=16, deconv_layers=2, head_filters=8, input_size=64, skeleton="coco17")
    model.build()
    samples = load_lspet(lspet_root, "val").subset(range(4))
    result = evaluate(model, samples)
    assert set(result["pck@0.2"]["per_joint"]) == set(LSP14.joint_names)
    # Neck and head top have no COCO-17 joint: no labelled joint there is scored.
    assert np.isnan(result["pck@0.2"]["per_joint"]["neck"]) and np.isnan(result["pck@0.2"]["per_joint"]["head_top"])
    assert not np.isnan(result["pck@0.2"]["per_joint"]["left_wrist"])


def test_simplebaseline_starts_from_another_skeleton_by_joint_name():
    from zoo.architectures.simplebaseline import SimpleBaseline

    source = SimpleBaseline(backbone_stride=16, deconv_layers=2, head_filters=8, input_size=64, skeleton="mpii16")
    source.build()
    kernel, bias = source.final.get_weights()
    source.final.set_weights([np.random.default_rng(0).normal(size=kernel.shape).astype(np.float32),
                              np.arange(16, dtype=np.float32)])
    target = SimpleBaseline(backbone_stride=16, deconv_layers=2, head_filters=8, input_size=64, skeleton="coco17")
    target.build()
    fresh_bias = target.final.get_weights()[1].copy()
    target.initialise_from(source)
    new_kernel, new_bias = target.final.get_weights()
    src_kernel = source.final.get_weights()[0]
    for name in ("left_wrist", "right_knee"):
        assert new_bias[COCO17.index(name)] == MPII16.index(name)
        np.testing.assert_array_equal(new_kernel[..., COCO17.index(name)], src_kernel[..., MPII16.index(name)])
    assert new_bias[COCO17.index("nose")] == fresh_bias[COCO17.index("nose")]


def test_limb_means_leave_out_face_and_trunk_points():
    """"Limb joints" are the 12 joints shoulders to ankles in every skeleton: COCO's face points
    and MPII's pelvis, thorax, upper neck and head top are not among them."""
    from training.metrics import pck

    gt = np.zeros((1, 17, 2))
    gt[0, :, 0] = np.arange(17) * 10.0
    gt[0, COCO17.index("left_shoulder")] = (0, 0)
    gt[0, COCO17.index("right_hip")] = (0, 100)  # torso 100 px
    pred = gt.copy()
    face = [COCO17.index(n) for n in ("nose", "left_eye", "right_eye", "left_ear", "right_ear")]
    pred[0, face, 0] += 50.0  # every face point wrong, every body joint right
    result = pck(pred, gt, np.ones((1, 17)), COCO17, 0.2)
    assert result["mean_limbs"] == 1.0 and result["mean"] == pytest.approx(12 / 17)
    gt16 = np.zeros((1, 16, 2))
    pred16 = gt16.copy()
    trunk = [MPII16.index(n) for n in ("pelvis", "thorax", "upper_neck", "head_top")]
    pred16[0, trunk, 0] = 100.0
    assert pckh(pred16, gt16, np.ones((1, 16)), np.array([10.0]))["mean_limbs"] == 1.0


def test_an_mpii16_model_is_evaluated_on_the_mpii_subset_validation_people_by_default(mpii_subset):
    # Without a data path an MPII-16 model (hourglass-mpii) is scored on the subset's fixed
    # validation split with its head sizes (PCKh), not on the five-image MPII sample.
    from training.evaluate import evaluation_samples

    samples, desc = evaluation_samples("mpii16")
    assert samples.ids == load_mpii_subset(mpii_subset, "val").ids and len(samples) > 100
    assert samples.head_sizes is not None and "MPII subset validation split" in desc
