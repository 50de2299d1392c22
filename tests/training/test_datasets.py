"""Dataset loaders: LSPet split on real data, MPII sample, malformed files name file and record."""

import json

import numpy as np
import pytest
import scipy.io

from training.datasets import DatasetError, load_lspet, load_mpii_json
from training.datasets.base import PoseSamples

# ----------------------------------------------------------------------------------------- LSPet

def test_lspet_real_split(lspet_root):
    train = load_lspet(lspet_root, "train")
    val = load_lspet(lspet_root, "val")
    assert len(train) == 8100 and len(val) == 900
    assert train.keypoints.shape == (8100, 14, 2) and val.visible.shape == (900, 14)
    assert train.skeleton == val.skeleton == "lsp14"
    assert not set(train.ids) & set(val.ids)
    assert not set(train.image_paths) & set(val.image_paths)
    assert train.ids[0] == "im00001" and train.ids[-1] == "im08100"
    assert val.ids[0] == "im08101" and val.ids[-1] == "im09000"
    assert all(i.startswith("im08") or i.startswith("im09") for i in val.ids)
    assert set(np.unique(train.visible)) <= {0.0, 1.0}
    # Values are the file's own: record im08101 is column 8100 of joints.mat.
    joints = scipy.io.loadmat(str(lspet_root / "joints.mat"))["joints"]
    np.testing.assert_allclose(val.keypoints[0], joints[:, :2, 8100], rtol=1e-6)
    np.testing.assert_array_equal(val.visible[0], joints[:, 2, 8100])


def _write_lspet(root, joints, images=0, **extra):
    root.mkdir(parents=True, exist_ok=True)
    scipy.io.savemat(str(root / "joints.mat"), {"joints": joints, **extra} if joints is not None else extra)
    (root / "images").mkdir(exist_ok=True)
    for n in range(images):
        (root / "images" / f"im{n + 1:05d}.jpg").write_bytes(b"\xff\xd8")
    return root / "joints.mat"


def _good_joints(n=3, seed=0):
    rng = np.random.default_rng(seed)
    j = np.zeros((14, 3, n))
    j[:, :2] = rng.uniform(0, 100, (14, 2, n))
    j[:, 2] = rng.integers(0, 2, (14, n))
    return j


def test_lspet_small_valid_file(tmp_path):
    joints = _good_joints(3)
    _write_lspet(tmp_path / "lsp", joints, images=3)
    s = load_lspet(tmp_path / "lsp", "all")
    assert isinstance(s, PoseSamples) and len(s) == 3 and s.ids == ["im00001", "im00002", "im00003"]
    np.testing.assert_allclose(s.keypoints[2], joints[:, :2, 2], rtol=1e-6)
    assert len(load_lspet(tmp_path / "lsp", "val")) == 0  # fewer records than the split start
    sub = s.subset([2, 0])
    assert sub.ids == ["im00003", "im00001"]
    np.testing.assert_array_equal(sub.keypoints[0], s.keypoints[2])


def test_lspet_wrong_shape(tmp_path):
    mat = _write_lspet(tmp_path, np.zeros((14, 2, 5)))
    with pytest.raises(DatasetError) as info:
        load_lspet(tmp_path, check_images=False)
    assert str(mat) in str(info.value) and "(14, 2, 5)" in str(info.value)


def test_lspet_no_joints_variable(tmp_path):
    mat = _write_lspet(tmp_path, None, points=np.zeros((14, 3, 2)))
    with pytest.raises(DatasetError) as info:
        load_lspet(tmp_path, check_images=False)
    msg = str(info.value)
    assert str(mat) in msg and "'joints'" in msg and "points" in msg


def test_lspet_garbage_file(tmp_path):
    (tmp_path / "joints.mat").write_bytes(b"this is not a MATLAB file at all" * 10)
    with pytest.raises(DatasetError, match="joints.mat"):
        load_lspet(tmp_path, check_images=False)


def test_lspet_bad_flag_names_record(tmp_path):
    joints = _good_joints(4)
    joints[7, 2, 2] = 2.0
    mat = _write_lspet(tmp_path, joints)
    with pytest.raises(DatasetError) as info:
        load_lspet(tmp_path, check_images=False)
    msg = str(info.value)
    assert str(mat) in msg and "record 2" in msg and "im00003" in msg


def test_lspet_non_finite_names_record(tmp_path):
    joints = _good_joints(2)
    joints[0, 0, 1] = np.nan
    _write_lspet(tmp_path, joints)
    with pytest.raises(DatasetError, match="record 1 \\(im00002\\).*non-finite"):
        load_lspet(tmp_path, check_images=False)


def test_lspet_missing_image_and_bad_arguments(tmp_path):
    _write_lspet(tmp_path, _good_joints(3), images=2)
    with pytest.raises(DatasetError, match="im00003.jpg"):
        load_lspet(tmp_path)
    assert len(load_lspet(tmp_path, check_images=False)) == 3
    with pytest.raises(ValueError, match="test"):
        load_lspet(tmp_path, split="test")
    with pytest.raises(FileNotFoundError, match="joints.mat"):
        load_lspet(tmp_path / "nowhere")


# ------------------------------------------------------------------------------------------ MPII

def test_mpii_real_sample(mpii_sample):
    s = load_mpii_json(mpii_sample)
    assert len(s) == 5 and s.skeleton == "mpii16"
    assert s.keypoints.shape == (5, 16, 2) and s.visible.shape == (5, 16)
    records = json.loads(mpii_sample.read_text())
    np.testing.assert_allclose(s.keypoints[0], records[0]["joints"], rtol=1e-6)
    assert s.image_paths[0].endswith(records[0]["image"])
    assert s.ids[0] == f"0:{records[0]['image']}"


def _record(image="a.jpg", **change):
    r = {"image": image, "joints": [[10.0 + i, 20.0] for i in range(16)], "joints_vis": [1] * 16,
         "center": [10, 20], "scale": 1.0}
    r.update(change)
    return r


def _write_json(path, records):
    path.write_text(records if isinstance(records, str) else json.dumps(records))
    return path


def test_mpii_unlabelled_joints(tmp_path):
    joints = [[10.0 + i, 20.0] for i in range(16)]
    joints[3] = [-1.0, -1.0]
    vis = [1] * 16
    vis[5] = 0
    path = _write_json(tmp_path / "m.json", [_record(joints=joints, joints_vis=vis)])
    s = load_mpii_json(path, check_images=False)
    expected = np.ones(16, "float32")
    expected[[3, 5]] = 0
    np.testing.assert_array_equal(s.visible[0], expected)


def test_mpii_bad_syntax(tmp_path):
    path = _write_json(tmp_path / "bad.json", '[{"image": "a.jpg", "joints": [}')
    with pytest.raises(DatasetError, match="bad.json.*not valid JSON"):
        load_mpii_json(path, check_images=False)


def test_mpii_not_a_list(tmp_path):
    path = _write_json(tmp_path / "obj.json", {"image": "a.jpg"})
    with pytest.raises(DatasetError, match="obj.json.*list"):
        load_mpii_json(path, check_images=False)


def test_mpii_missing_joints_names_record(tmp_path):
    bad = _record("b.jpg")
    del bad["joints"]
    path = _write_json(tmp_path / "m.json", [_record(), bad])
    with pytest.raises(DatasetError) as info:
        load_mpii_json(path, check_images=False)
    msg = str(info.value)
    assert str(path) in msg and "record 1" in msg and "'joints'" in msg


@pytest.mark.parametrize("change, text", [
    (dict(joints=[[1.0, 2.0]] * 15), "16 x 2"),
    (dict(joints=[[1.0, 2.0, 3.0]] * 16), "16 x 2"),
    (dict(joints_vis=[1] * 14), "joints_vis"),
    (dict(joints=[["a", "b"]] * 16), "numbers"),
    (dict(joints=[[float("nan"), 1.0]] * 16), "non-finite"),
])
def test_mpii_bad_record_names_file_and_index(tmp_path, change, text):
    path = _write_json(tmp_path / "m.json", [_record(), _record(), _record("c.jpg", **change)])
    with pytest.raises(DatasetError) as info:
        load_mpii_json(path, check_images=False)
    msg = str(info.value)
    assert str(path) in msg and "record 2" in msg and "c.jpg" in msg and text in msg


def test_mpii_record_not_an_object_and_missing_image(tmp_path):
    path = _write_json(tmp_path / "m.json", [_record(), 5])
    with pytest.raises(DatasetError, match="record 1: expected an object"):
        load_mpii_json(path, check_images=False)
    path = _write_json(tmp_path / "n.json", [_record("gone.jpg")])
    with pytest.raises(DatasetError, match="record 0.*gone.jpg"):
        load_mpii_json(path)
    with pytest.raises(FileNotFoundError):
        load_mpii_json(tmp_path / "absent.json")
