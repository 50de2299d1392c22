"""FLIC (examples.mat) and the official MPII release (mpii_human_pose_v1_u12_1.mat): loaders on
fixtures written here in the release layouts with scipy.io.savemat, the benchmarks' own PCK
(FLIC torso PCK, MPII PCKh@0.5) against hand computations, wiring into evaluation and training,
and errors that name the file, the record and the field."""

import json

import cv2
import numpy as np
import pytest
import scipy.io

from training.datasets import DatasetError, load_flic, load_mpii, load_mpii_mat
from training.datasets.flic import FLIC_SLOTS
from training.datasets.mpii import RELEASE_FILE, mpii_split
from training.metrics import flic_pck, head_sizes, pck, pckh
from zoo.skeletons import FLIC11, MPII16

EMPTY = np.zeros((0, 0))  # MATLAB's []


def _structs(rows):
    """A 1 x N MATLAB struct array (a numpy structured array of objects) with the rows' fields."""
    names = list(rows[0])
    out = np.zeros((1, len(rows)), dtype=[(n, object) for n in names])
    for i, row in enumerate(rows):
        for n in names:
            out[0, i][n] = row[n]
    return out


def _image(path):
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), np.full((4, 6, 3), 128, np.uint8))


# ------------------------------------------------------------------------------------------ FLIC

def _flic_coords(n):
    """2 x 29 with x = 10 * slot + n and y = 1000 + slot + 100 * n on FLIC's 11 labelled slots."""
    c = np.full((2, 29), np.nan)
    for slot in FLIC_SLOTS:
        c[:, slot - 1] = (10.0 * slot + n, 1000.0 + slot + 100.0 * n)
    return c


def _flic_example(n, train, **change):
    ex = {"coords": _flic_coords(n), "filepath": f"movie-{n:08d}.jpg", "imgdims": np.array([480.0, 720.0, 3.0]),
          "currframe": float(n), "moviename": "movie", "torsobox": np.array([1.0, 2.0, 30.0, 40.0]),
          "istrain": np.uint8(train), "istest": np.uint8(not train)}
    ex.update(change)
    return ex


def _write_flic(root, examples, images=True, variable="examples"):
    root.mkdir(parents=True, exist_ok=True)
    scipy.io.savemat(str(root / "examples.mat"), {variable: _structs(examples)})
    if images:
        for ex in examples:
            _image(root / "images" / ex["filepath"])
    return root / "examples.mat"


def test_flic_joints_in_slots_and_release_split(tmp_path):
    examples = [_flic_example(n, train=n % 2 == 0) for n in range(4)]
    examples[2]["coords"][:, 2] = np.nan  # MATLAB slot 3, the left wrist, unlabelled
    _write_flic(tmp_path / "FLIC", examples)
    train, test = load_flic(tmp_path / "FLIC", "train"), load_flic(tmp_path / "FLIC", "test")
    assert train.skeleton == test.skeleton == "flic11"
    assert train.ids == ["0:movie-00000000.jpg", "2:movie-00000002.jpg"]
    assert test.ids == ["1:movie-00000001.jpg", "3:movie-00000003.jpg"]
    assert len(load_flic(tmp_path / "FLIC", "all")) == 4
    assert train.keypoints.shape == (2, 11, 2) and test.visible.shape == (2, 11)
    assert train.image_paths[1] == str(tmp_path / "FLIC" / "images" / "movie-00000002.jpg")
    # Joint by joint: FLIC11 joint j holds MATLAB slot FLIC_SLOTS[j] of coords.
    for name, slot in [("left_shoulder", 1), ("right_wrist", 6), ("left_hip", 7), ("right_hip", 10),
                       ("left_eye", 13), ("right_eye", 14), ("nose", 17)]:
        j = FLIC11.index(name)
        np.testing.assert_allclose(test.keypoints[1, j], [10 * slot + 3, 1000 + slot + 300])
    np.testing.assert_array_equal(test.visible, 1.0)
    lwri = FLIC11.index("left_wrist")
    assert train.visible[1, lwri] == 0 and np.all(train.keypoints[1, lwri] == 0)
    assert train.visible[1].sum() == 10 and train.visible[0].sum() == 11
    assert np.all(np.isfinite(train.keypoints))


def test_flic_pck_hand_computed():
    gt = np.zeros((3, 11, 2))
    ls, rh = FLIC11.index("left_shoulder"), FLIC11.index("right_hip")
    gt[:, rh] = (30.0, 40.0)  # torso 50 px: threshold 10 px at 0.2, 5 px at 0.1
    gt[:, FLIC11.index("right_shoulder")] = (0.0, 60.0)  # the other diagonal, 60 px
    vis = np.ones((3, 11))
    pred = gt.copy()
    lelb, rwri, nose = FLIC11.index("left_elbow"), FLIC11.index("right_wrist"), FLIC11.index("nose")
    pred[0, lelb] += (6.0, 8.0)    # 10 px: correct at 0.2 (<=), wrong at 0.1
    pred[0, rwri] += (0.0, 10.5)   # wrong
    pred[1, nose] += (3.0, 4.0)    # 5 px: correct at both
    pred[1, ls] += (11.0, 0.0)     # wrong
    vis[1, FLIC11.index("left_eye")] = 0
    pred[1, FLIC11.index("left_eye")] += 100.0  # unlabelled: not counted
    vis[2, rh] = 0  # no left shoulder - right hip torso: skipped (no fallback to the other diagonal)
    r = flic_pck(pred, gt, vis, 0.2)
    assert r["samples"] == 2 and r["joints"] == 21
    assert r["mean"] == pytest.approx(19 / 21)
    assert r["per_joint"]["left_elbow"] == 1.0 and r["per_joint"]["right_wrist"] == 0.5
    assert r["per_joint"]["left_shoulder"] == 0.5 and r["per_joint"]["left_eye"] == 1.0
    assert r["mean_arms"] == pytest.approx(7 / 8)
    assert flic_pck(pred, gt, vis, 0.1)["mean"] == pytest.approx(18 / 21)
    # The generic PCK would fall back to right shoulder - left hip and keep sample 2.
    assert pck(pred, gt, vis, FLIC11, 0.2)["samples"] == 3
    with pytest.raises(ValueError, match="11"):
        flic_pck(pred[:, :10], gt[:, :10], vis[:, :10])


def test_flic_pck_on_loaded_samples(tmp_path):
    _write_flic(tmp_path, [_flic_example(0, True), _flic_example(1, True)])
    s = load_flic(tmp_path, "train")
    torso = np.linalg.norm(s.keypoints[:, FLIC11.index("left_shoulder")] - s.keypoints[:, FLIC11.index("right_hip")],
                           axis=-1)
    pred = s.keypoints.astype(np.float64).copy()
    pred[:, FLIC11.index("right_elbow"), 0] += 0.25 * torso  # beyond 0.2 x torso
    assert flic_pck(pred, s.keypoints, s.visible)["mean"] == pytest.approx(20 / 22)


def test_flic_bad_input_names_file_record_field(tmp_path):
    with pytest.raises(FileNotFoundError, match="examples.mat"):
        load_flic(tmp_path / "nowhere")
    mat = _write_flic(tmp_path / "a", [_flic_example(0, True)], variable="frames")
    with pytest.raises(DatasetError) as info:
        load_flic(tmp_path / "a")
    assert str(mat) in str(info.value) and "'examples'" in str(info.value) and "frames" in str(info.value)
    rows = [{k: v for k, v in _flic_example(n, True).items() if k != "coords"} for n in range(2)]
    mat = _write_flic(tmp_path / "b", rows)
    with pytest.raises(DatasetError) as info:
        load_flic(tmp_path / "b")
    msg = str(info.value)
    assert str(mat) in msg and "examples(1)" in msg and "movie-00000000.jpg" in msg and "'coords'" in msg
    mat = _write_flic(tmp_path / "c", [_flic_example(0, True), _flic_example(1, True, coords=np.zeros((2, 14)))])
    with pytest.raises(DatasetError, match=r"examples\(2\) \(movie-00000001.jpg\): field 'coords' must be 2 x 29"):
        load_flic(tmp_path / "c")
    mat = _write_flic(tmp_path / "d", [_flic_example(0, True, istest=np.uint8(7))])
    with pytest.raises(DatasetError, match="'istest' must be 0 or 1"):
        load_flic(tmp_path / "d")
    _write_flic(tmp_path / "e", [_flic_example(0, True)], images=False)
    with pytest.raises(DatasetError, match="movie-00000000.jpg.*missing"):
        load_flic(tmp_path / "e")
    assert len(load_flic(tmp_path / "e", check_images=False)) == 1
    with pytest.raises(ValueError, match="val"):
        load_flic(tmp_path / "e", split="val")


# ------------------------------------------------------------------------------ MPII release

def _points(joints):
    """``annopoints.point`` struct array of ``{id: (x, y)}``."""
    return _structs([{"id": float(j), "x": float(x), "y": float(y), "is_visible": v}
                     for (j, (x, y)), v in zip(joints.items(), [1.0, EMPTY, "1", 0.0] * 4)])


def _rect(joints=None, head=(0.0, 0.0, 30.0, 40.0), drop=()):
    r = {"x1": head[0], "y1": head[1], "x2": head[2], "y2": head[3],
         "annopoints": {"point": _points(joints)} if joints else EMPTY,
         "scale": 2.5, "objpos": {"x": 50.0, "y": 60.0}}
    return {k: v for k, v in r.items() if k not in drop}


ALL16 = {j: (100.0 + 10 * j, 200.0 + j) for j in range(16)}


def _release(images, **change):
    """``images``: list of (name, train, annorect rows or None, single_person, vididx)."""
    annolist, train, single = [], [], np.empty((len(images), 1), dtype=object)
    for i, (name, is_train, rects, people, vididx) in enumerate(images):
        if rects is None:
            rects_value = _structs([{"scale": 3.0, "objpos": {"x": 1.0, "y": 2.0}}])  # a test image
        else:
            rects_value = _structs(rects) if rects else EMPTY
        annolist.append({"image": {"name": name}, "annorect": rects_value, "frame_sec": 12.0,
                         "vididx": float(vididx) if vididx is not None else EMPTY})
        train.append(float(is_train))
        single[i, 0] = np.asarray(people, np.float64).reshape(-1, 1) if len(people) else EMPTY
    act = np.zeros((len(images), 1), dtype=[("act_name", object), ("cat_name", object), ("act_id", object)])
    for i in range(len(images)):
        act[i, 0] = ("curling", "sports", 1.0)
    release = {"annolist": _structs(annolist), "img_train": np.asarray([train]), "version": "12",
               "single_person": single, "act": act, "video_list": np.array(["v0", "v1"], dtype=object)}
    release.update(change)
    return release


def _write_release(folder, release, images=True, variable="RELEASE"):
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / RELEASE_FILE
    scipy.io.savemat(str(path), {variable: release})
    if images:
        for rec in release["annolist"][0]:
            _image(folder / "images" / rec["image"]["name"])
    return path


def _standard():
    return [
        ("a.jpg", True, [_rect({0: (1.0, 2.0), 9: (3.0, 4.0), 13: (5.0, 6.0)})], [1], 7),  # one person
        ("b.jpg", True, [_rect({2: (7.0, 8.0)}, head=(10.0, 10.0, 16.0, 18.0)),  # one point
                         _rect(None),  # no annotation: skipped
                         _rect(ALL16, head=(5.0, 5.0, 35.0, 45.0))], [1, 2, 3], 8),
        ("c.jpg", False, None, [1], None),  # a test image
        ("d.jpg", True, [_rect(ALL16), _rect(ALL16)], [], None),  # a group: no single person
    ]


def test_mpii_release_persons_joints_and_head_boxes(tmp_path):
    path = _write_release(tmp_path / "mpii", _release(_standard()))
    s = load_mpii_mat(path, split="all")
    assert s.skeleton == "mpii16" and s.ids == ["a.jpg:1", "b.jpg:1", "b.jpg:3"]
    assert s.image_paths[0] == str(tmp_path / "mpii" / "images" / "a.jpg")
    assert s.keypoints.shape == (3, 16, 2) and s.head_boxes.shape == (3, 4)
    # Joint id i lands in MPII16 slot i; joints without a point are unlabelled (x = y = 0).
    np.testing.assert_array_equal(np.nonzero(s.visible[0])[0], [0, 9, 13])
    assert MPII16.joint_names[9] == "head_top"
    np.testing.assert_allclose(s.keypoints[0, [0, 9, 13]], [[1, 2], [3, 4], [5, 6]])
    assert np.all(s.keypoints[0, s.visible[0] == 0] == 0)
    np.testing.assert_array_equal(np.nonzero(s.visible[1])[0], [2])  # a single point struct
    np.testing.assert_allclose(s.keypoints[2], [ALL16[j] for j in range(16)])
    np.testing.assert_array_equal(s.visible[2], 1.0)
    np.testing.assert_allclose(s.head_boxes, [[0, 0, 30, 40], [10, 10, 16, 18], [5, 5, 35, 45]])
    np.testing.assert_allclose(head_sizes(s.head_boxes), [30.0, 6.0, 30.0])
    sub = s.subset([2])
    assert sub.ids == ["b.jpg:3"] and sub.head_boxes.shape == (1, 4)
    assert load_mpii_mat(tmp_path / "mpii", split="all").ids == s.ids  # the folder holding the file


def test_mpii_release_split_by_video(tmp_path):
    # Six one-person train images from three videos and two without a video.
    vids = [1, 1, 2, 2, 3, None, None]
    images = [(f"f{i}.jpg", True, [_rect({0: (1.0, 1.0)})], [1], v) for i, v in enumerate(vids)]
    path = _write_release(tmp_path, _release(images))
    train, val = load_mpii_mat(path, split="train"), load_mpii_mat(path, split="val")
    every = load_mpii_mat(path, split="all")
    assert sorted(train.ids + val.ids) == sorted(every.ids) and not set(train.ids) & set(val.ids)
    for i, v in enumerate(vids):
        key = f"video {v}" if v is not None else f"image f{i}.jpg"
        assert (f"f{i}.jpg:1" in val.ids) == (mpii_split(key) == "val")
    assert ("f0.jpg:1" in val.ids) == ("f1.jpg:1" in val.ids)  # one video, one side
    with pytest.raises(ValueError, match="test"):
        load_mpii_mat(path, split="test")


@pytest.mark.parametrize("people", [[1], [1, 2]])
def test_mpii_release_of_one_image(tmp_path, people):
    """A 1-image file: squeeze_me turns annolist into a bare struct and img_train and
    single_person into scalars or a plain vector."""
    rects = [_rect({3: (9.0, 9.0)}), _rect({4: (8.0, 8.0), 5: (7.0, 7.0)})]
    path = _write_release(tmp_path, _release([("one.jpg", True, rects, people, None)]))
    s = load_mpii_mat(path, split="all")
    assert s.ids == [f"one.jpg:{r}" for r in people]
    np.testing.assert_allclose(s.keypoints[-1, 5 if len(people) == 2 else 3], [7.0 if len(people) == 2 else 9.0] * 2)


def test_pckh_hand_computed():
    gt = np.zeros((2, 16, 2))
    gt[:, :, 0] = np.arange(16) * 10.0
    vis = np.ones((2, 16))
    heads = np.array([[0.0, 0.0, 30.0, 40.0],    # diagonal 50: head size 30, threshold 15 px
                      [0.0, 0.0, 6.0, 8.0]])     # diagonal 10: head size 6, threshold 3 px
    pred = gt.copy()
    pred[0, 0] += (9.0, 12.0)    # 15 px: correct (error / head size = 0.5 <= 0.5)
    pred[0, 1] += (0.0, 15.5)    # wrong
    pred[0, 6] += (20.0, 0.0)    # pelvis wrong
    pred[1, 7] += (0.0, 3.5)     # thorax wrong
    pred[1, 10] += (2.9, 0.0)    # correct
    pred[1, 11] += (3.1, 0.0)    # wrong
    vis[1, 15] = 0
    pred[1, 15] += 50.0          # unlabelled: not counted
    r = pckh(pred, gt, vis, heads, 0.5)
    assert r["samples"] == 2 and r["joints"] == 31
    assert r["mean"] == pytest.approx(27 / 31)
    assert r["mean_benchmark"] == pytest.approx(25 / 27)  # pelvis and thorax (2 of 4 right) left out
    assert r["per_joint"]["right_ankle"] == 1.0 and r["per_joint"]["right_knee"] == 0.5
    assert r["per_joint"]["pelvis"] == 0.5 and r["per_joint"]["right_elbow"] == 0.5
    assert r["per_joint"]["left_wrist"] == 1.0  # only the labelled one
    degenerate = heads.copy()
    degenerate[1] = (5.0, 5.0, 5.0, 5.0)
    assert pckh(pred, gt, vis, degenerate)["samples"] == 1
    with pytest.raises(ValueError, match="head boxes"):
        pckh(pred, gt, vis, heads[:1])


def test_pckh_on_loaded_release(tmp_path):
    path = _write_release(tmp_path, _release(_standard()))
    s = load_mpii_mat(path, split="all")
    pred = s.keypoints.astype(np.float64).copy()
    pred[:, :, 1] += 0.45 * head_sizes(s.head_boxes)[:, None]  # every joint off by 0.45 head: correct
    pred[2, 12, 1] += 0.1 * 30.0                                 # one off by 0.55 head: wrong
    r = pckh(pred, s.keypoints, s.visible, s.head_boxes)
    assert r["joints"] == 20 and r["mean"] == pytest.approx(19 / 20)


def test_mpii_release_bad_input_names_file_record_field(tmp_path):
    with pytest.raises(FileNotFoundError, match=RELEASE_FILE):
        load_mpii_mat(tmp_path / "absent" / RELEASE_FILE)
    path = _write_release(tmp_path / "norelease", _release(_standard()), variable="annolist")
    with pytest.raises(DatasetError) as info:
        load_mpii_mat(path)
    assert str(path) in str(info.value) and "'RELEASE'" in str(info.value) and "annolist" in str(info.value)
    (tmp_path / "garbage").mkdir()
    (tmp_path / "garbage" / RELEASE_FILE).write_bytes(b"not a MATLAB file" * 20)
    with pytest.raises(DatasetError, match="not a readable MATLAB file"):
        load_mpii_mat(tmp_path / "garbage" / RELEASE_FILE)
    # The head box of b.jpg's third person lacks x2.
    images = _standard()
    images[1] = ("b.jpg", True, [_rect({2: (7.0, 8.0)}, drop=("x2",)), _rect(None, drop=("x2",)),
                                 _rect(ALL16, drop=("x2",))], [1, 3], 8)
    path = _write_release(tmp_path / "nox2", _release(images))
    with pytest.raises(DatasetError) as info:
        load_mpii_mat(path, split="all")
    msg = str(info.value)
    assert str(path) in msg and "RELEASE.annolist(2) (b.jpg).annorect(1)" in msg and "'x2'" in msg


def test_mpii_release_bad_points_and_fields(tmp_path):
    def fails(release, split="all", **match):
        folder = tmp_path / f"case{len(list(tmp_path.iterdir()))}"
        path = _write_release(folder, release)
        with pytest.raises(DatasetError) as info:
            load_mpii_mat(path, split=split)
        for text in match.values():
            assert text in str(info.value), str(info.value)
        assert str(path) in str(info.value)

    bad_point = _structs([{"id": 0.0, "x": 1.0}])  # no y
    rect = _rect({0: (1.0, 2.0)})
    rect["annopoints"] = {"point": bad_point}
    fails(_release([("p.jpg", True, [rect], [1], None)]),
          where="RELEASE.annolist(1) (p.jpg).annorect(1).annopoints.point(1)", field="'y'")
    fails(_release([("q.jpg", True, [_rect({16: (1.0, 2.0)})], [1], None)]), field="'id'", value="0-15")
    fails(_release([("r.jpg", True, [_rect({0: (1.0, 2.0)})], [2], None)]),
          where="annolist(1) (r.jpg)", field="'single_person'")
    no_name = _release(_standard())
    no_name["annolist"][0, 1]["image"] = {"file": "b.jpg"}
    folder = tmp_path / "noname"
    path = folder / RELEASE_FILE
    folder.mkdir()
    scipy.io.savemat(str(path), {"RELEASE": no_name})
    with pytest.raises(DatasetError) as info:
        load_mpii_mat(path, check_images=False)
    assert str(path) in str(info.value) and "annolist(2).image" in str(info.value) and "'name'" in str(info.value)
    fails(_release(_standard(), img_train=np.ones((1, 3))), field="'img_train'", count="3 entries for 4 images")
    missing = _release(_standard())
    del missing["single_person"]
    fails(missing, field="'single_person'")
    path = _write_release(tmp_path / "noimages", _release(_standard()), images=False)
    with pytest.raises(DatasetError, match=r"annolist\(1\) \(a.jpg\).*a.jpg.*missing"):
        load_mpii_mat(path, split="all")
    assert len(load_mpii_mat(path, split="all", check_images=False)) == 3


def test_mpii_default_image_dir_beside_the_archive_folder(tmp_path):
    """The official archives unpack to mpii_human_pose_v1_u12_2/<file> and images/ side by side."""
    release = _release(_standard())
    path = _write_release(tmp_path / "mpii_human_pose_v1_u12_2", release, images=False)
    for rec in release["annolist"][0]:
        _image(tmp_path / "images" / rec["image"]["name"])
    s = load_mpii_mat(path, split="all")
    assert s.image_paths[0] == str(tmp_path / "images" / "a.jpg")
    other = tmp_path / "elsewhere"
    for rec in release["annolist"][0]:
        _image(other / rec["image"]["name"])
    assert load_mpii_mat(path, other, split="all").image_paths[0] == str(other / "a.jpg")


# ------------------------------------------------------------------------------------- wiring

def _json_records(folder):
    folder.mkdir(parents=True, exist_ok=True)
    _image(folder / "j.jpg")
    path = folder / "m.json"
    path.write_text(json.dumps([{"image": "j.jpg", "joints": [[10.0 + i, 20.0] for i in range(16)],
                                 "joints_vis": [1] * 16, "center": [10, 20], "scale": 1.0}]))
    return path


def test_evaluation_samples_take_the_release_and_json(tmp_path):
    from training.evaluate import evaluation_samples

    vids = list(range(40))
    images = [(f"f{v}.jpg", True, [_rect({0: (1.0, 1.0)})], [1], v) for v in vids]
    path = _write_release(tmp_path / "mpii", _release(images))
    samples, desc = evaluation_samples("mpii16", str(path))
    assert samples.ids == load_mpii_mat(path, split="val").ids and 0 < len(samples) < 40
    assert samples.head_boxes is not None and "validation split" in desc and str(path) in desc
    limited, _ = evaluation_samples("mpii16", str(path), limit=1)
    assert len(limited) == 1 and limited.head_boxes.shape == (1, 4)
    json_path = _json_records(tmp_path / "json")
    samples, desc = evaluation_samples("mpii16", str(json_path))
    assert len(samples) == 1 and samples.head_boxes is None and "MPII-format records" in desc
    assert load_mpii(str(json_path), split="val").ids == samples.ids


def test_train_hourglass_mpii_reads_the_release(tmp_path, monkeypatch):
    """``python -m training.train hourglass_mpii_release --data <the .mat>``: the top-down loop gets the
    file, and its ``load_split`` gives the release's train and val splits."""
    import training.train as train_cli
    from training.top_down import load_split

    vids = list(range(40))
    images = [(f"f{v}.jpg", True, [_rect({0: (1.0, 1.0)})], [1], v) for v in vids]
    path = _write_release(tmp_path / "mpii", _release(images))
    seen = {}

    def fake_loop(exp, workdir, data=None, val_data=None, **kwargs):
        seen.update(exp=exp, data=data, val_data=val_data)
        seen["train"] = load_split(exp, "train", data)
        seen["val"] = load_split(exp, "val", val_data or data)
        return None, None

    monkeypatch.setitem(train_cli.LOOPS, "top_down", fake_loop)
    train_cli.main(["hourglass_mpii_release", "--workdir", str(tmp_path / "run"), "--data", str(path)])
    assert seen["exp"].name == "hourglass_mpii_release" and seen["data"] == str(path)
    assert seen["train"].ids == load_mpii_mat(path, split="train").ids
    assert seen["val"].ids == load_mpii_mat(path, split="val").ids
    assert len(seen["train"]) + len(seen["val"]) == 40 and seen["train"].skeleton == "mpii16"
    json_path = _json_records(tmp_path / "json")
    assert len(load_split(seen["exp"], "train", str(json_path))) == 1  # the JSON form still works


def test_evaluate_reports_pckh_for_the_release(tmp_path, monkeypatch):
    """``training.pck_evaluation.evaluate`` adds PCKh@0.5 where the samples carry head boxes."""
    import training.pck_evaluation as ev

    path = _write_release(tmp_path, _release(_standard()))
    samples = load_mpii_mat(path, split="all")
    pred = samples.keypoints.astype(np.float64).copy()
    pred[2, 12, 1] += 0.6 * 30.0  # one joint off by 0.6 x its head size

    def fake_predict(model, s, batch_size=32, progress=False, all_stages=False):
        return pred[:, None].astype(np.float32), np.ones((len(pred), 1, 16), np.float32)

    monkeypatch.setattr(ev, "predict_samples", fake_predict)
    result = ev.evaluate(type("M", (), {"skeleton": MPII16})(), samples)
    assert result["pckh@0.5"]["mean"] == pytest.approx(19 / 20) and result["pckh@0.5"]["joints"] == 20
    assert "PCKh@0.5" in ev.format_result(result)
    no_heads = samples.subset(range(3))
    no_heads.head_boxes = None
    assert "pckh@0.5" not in ev.evaluate(type("M", (), {"skeleton": MPII16})(), no_heads)
