"""COCO keypoints loader: records, LSP-14 conversion by name, loss mask, errors, real coco-mini."""

import copy
import json

import numpy as np
import pytest
from PIL import Image

from training.datasets import DatasetError, MultiPersonSamples, data_root, load_coco_keypoints, loss_mask
from training.datasets.coco import default_image_dir
from zoo.skeletons import COCO17, LSP14, MPII16, joint_mapping

C = {n: i for i, n in enumerate(COCO17.joint_names)}
L = {n: i for i, n in enumerate(LSP14.joint_names)}
H1, W1 = 12, 16  # image 1
H2, W2 = 10, 8  # image 2


def _keypoints(points):
    """Flat COCO ``[x, y, v] * 17`` from ``{joint name: (x, y, v)}``."""
    flat = np.zeros((17, 3))
    for name, xyv in points.items():
        flat[C[name]] = xyv
    return flat.ravel().tolist()


def _rle(mask):
    """Uncompressed COCO RLE of a bool mask, written by hand: run lengths of the column-major
    (Fortran-order) pixels, starting with a run of zeros."""
    flat = mask.ravel(order="F").astype(int)
    counts, value, run = [], 0, 0
    for px in flat:
        if px == value:
            run += 1
        else:
            counts.append(run)
            value, run = px, 1
    counts.append(run)
    return {"counts": counts, "size": list(mask.shape)}


def _crowd_region():
    m = np.zeros((H1, W1), bool)
    m[6:10, 1:5] = True
    m[8:12, 12:16] = True  # touches the bottom-right corner
    return m


PERSON_A = {"nose": (3, 4, 2), "left_wrist": (5, 6, 2), "right_wrist": (7, 8, 1), "left_hip": (9, 10, 2)}
PERSON_B = {n: (i + 0.5, 2 * i + 0.25, 2) for i, n in enumerate(COCO17.joint_names)}


def _coco_dict():
    """Two images: image 1 holds person A (4 labelled joints) and a crowd (RLE); image 2 holds
    person B (all 17 labelled), a person with 0 labelled joints (polygon) and a person with only
    the nose labelled (no joint LSP-14 has)."""
    ann = dict(iscrowd=0, category_id=1)
    return {
        "info": {"description": "test"},
        "images": [{"id": 1, "file_name": "a.jpg", "height": H1, "width": W1},
                   {"id": 2, "file_name": "b.png", "height": H2, "width": W2}],
        "categories": [{"id": 1, "name": "person", "supercategory": "person",
                        "keypoints": list(COCO17.joint_names), "skeleton": []}],
        "annotations": [
            dict(ann, id=10, image_id=1, keypoints=_keypoints(PERSON_A), num_keypoints=4, area=50.0,
                 bbox=[3, 4, 6, 6], segmentation=[[3, 4, 9, 4, 9, 10, 3, 10]]),
            dict(ann, id=11, image_id=1, iscrowd=1, keypoints=[0] * 51, num_keypoints=0, area=32.0,
                 bbox=[1, 6, 15, 6], segmentation=_rle(_crowd_region())),
            dict(ann, id=20, image_id=2, keypoints=_keypoints(PERSON_B), num_keypoints=17, area=60.0,
                 bbox=[0.5, 0.25, 6, 8], segmentation=[[0, 0, 7, 0, 7, 9, 0, 9]]),
            dict(ann, id=21, image_id=2, keypoints=[0] * 51, num_keypoints=0, area=6.0,
                 bbox=[1, 1, 3, 2], segmentation=[[1, 1, 4, 1, 4, 3, 1, 3]]),
            dict(ann, id=22, image_id=2, keypoints=_keypoints({"nose": (6, 8, 2)}), num_keypoints=1,
                 area=4.0, bbox=[5, 7, 2, 2], segmentation=[[5, 7, 7, 7, 7, 9, 5, 9]]),
        ],
    }


def _write(tmp_path, data, images=True):
    """COCO layout: ``annotations/person_keypoints_tiny.json`` and images in ``tiny/``."""
    (tmp_path / "annotations").mkdir(exist_ok=True)
    path = tmp_path / "annotations" / "person_keypoints_tiny.json"
    path.write_text(json.dumps(data) if not isinstance(data, str) else data)
    if images:
        (tmp_path / "tiny").mkdir(exist_ok=True)
        Image.new("RGB", (W1, H1), (10, 20, 30)).save(tmp_path / "tiny" / "a.jpg")
        Image.new("RGB", (W2, H2), (40, 50, 60)).save(tmp_path / "tiny" / "b.png")
    return path


# ------------------------------------------------------------------------------ small fixtures

def test_records_and_keypoints(tmp_path):
    path = _write(tmp_path, _coco_dict())
    assert default_image_dir(path) == tmp_path / "tiny"
    s = load_coco_keypoints(path)
    assert isinstance(s, MultiPersonSamples) and len(s) == 2 and s.skeleton == "coco17"
    assert s.image_ids == [1, 2] and s.sizes.tolist() == [[H1, W1], [H2, W2]]
    assert s.image_paths == [str(tmp_path / "tiny" / "a.jpg"), str(tmp_path / "tiny" / "b.png")]
    assert [len(k) for k in s.keypoints] == [1, 2] and s.num_people == 3  # crowd and 0-joint out
    assert [a.tolist() for a in s.annotation_ids] == [[10], [20, 22]]
    assert [len(g) for g in s.ignore_segments] == [1, 1]  # the crowd; the 0-joint person
    a_kps, a_vis = s.keypoints[0][0], s.visible[0][0]
    assert a_kps.dtype == np.float32 and a_kps.shape == (17, 2) and a_vis.shape == (17,)
    expected_vis = np.zeros(17, np.float32)
    for name, (x, y, _v) in PERSON_A.items():
        np.testing.assert_array_equal(a_kps[C[name]], (x, y))
        expected_vis[C[name]] = 1.0  # v = 1 (occluded) and v = 2 are both labelled
    np.testing.assert_array_equal(a_vis, expected_vis)
    np.testing.assert_array_equal(s.keypoints[1][0], [xyv[:2] for xyv in PERSON_B.values()])
    np.testing.assert_array_equal(s.visible[1][0], np.ones(17))
    np.testing.assert_array_equal(s.areas[1], [60.0, 4.0])
    np.testing.assert_array_equal(s.boxes[0], [[3, 4, 6, 6]])
    sub = s.subset([1])
    assert len(sub) == 1 and sub.image_ids == [2] and sub.sizes.tolist() == [[H2, W2]]
    np.testing.assert_array_equal(sub.keypoints[0], s.keypoints[1])


def test_joint_mapping_by_name():
    m = joint_mapping(COCO17, LSP14)
    assert len(m) == 14 and sum(i >= 0 for i in m) == 12
    assert m[L["neck"]] == m[L["head_top"]] == -1
    assert m[L["left_wrist"]] == C["left_wrist"] and m[L["right_ankle"]] == C["right_ankle"]
    assert joint_mapping(COCO17, COCO17) == tuple(range(17))
    assert sum(i >= 0 for i in joint_mapping(LSP14, MPII16)) == 13  # all but neck: head_top shared


def test_lsp14_conversion_by_name(tmp_path):
    s = load_coco_keypoints(_write(tmp_path, _coco_dict()), skeleton="lsp14")
    assert s.skeleton == "lsp14" and s.keypoints[0].shape == (1, 14, 2) and s.visible[0].shape == (1, 14)
    kps, vis = s.keypoints[0][0], s.visible[0][0]
    np.testing.assert_array_equal(kps[L["left_wrist"]], (5, 6))  # COCO 9 -> LSP 11
    np.testing.assert_array_equal(kps[L["right_wrist"]], (7, 8))  # COCO 10 -> LSP 6
    np.testing.assert_array_equal(kps[L["left_hip"]], (9, 10))
    assert vis[L["left_wrist"]] == vis[L["right_wrist"]] == vis[L["left_hip"]] == 1
    assert vis.sum() == 3  # the nose has no LSP joint
    b_kps, b_vis = s.keypoints[1][0], s.visible[1][0]
    assert b_vis[L["neck"]] == b_vis[L["head_top"]] == 0 and b_vis.sum() == 12
    np.testing.assert_array_equal(b_kps[[L["neck"], L["head_top"]]], 0)
    for name, j in L.items():
        if name not in ("neck", "head_top"):
            np.testing.assert_array_equal(b_kps[j], PERSON_B[name][:2])
    # The nose-only person has no LSP-14 label left: masked, not kept.
    assert s.annotation_ids[1].tolist() == [20] and len(s.ignore_segments[1]) == 2


def test_loss_mask_zeros_crowd_and_unlabelled_people(tmp_path):
    s = load_coco_keypoints(_write(tmp_path, _coco_dict()))
    m1 = loss_mask(s, 0)
    assert m1.dtype == np.float32 and m1.shape == (H1, W1)
    np.testing.assert_array_equal(m1 == 0, _crowd_region())  # exactly the crowd RLE
    m2 = loss_mask(s, 1)
    expected = np.zeros((H2, W2), bool)
    expected[1:3, 1:4] = True  # polygon x 1..4, y 1..3: pixels with centres inside
    np.testing.assert_array_equal(m2 == 0, expected)  # labelled people are not masked
    m2_lsp = loss_mask(load_coco_keypoints(tmp_path / "annotations" / "person_keypoints_tiny.json",
                                           skeleton="lsp14"), 1)
    expected[7:9, 5:7] = True  # the nose-only person, unlabelled in LSP-14
    np.testing.assert_array_equal(m2_lsp == 0, expected)


# ------------------------------------------------------------------------------------ errors

def test_error_missing_file(tmp_path):
    path = tmp_path / "nope" / "person_keypoints_x.json"
    with pytest.raises(DatasetError, match="not found") as e:
        load_coco_keypoints(path)
    assert str(path) in str(e.value)


def test_error_invalid_json(tmp_path):
    path = _write(tmp_path, '{"images": [', images=False)
    with pytest.raises(DatasetError, match="not valid JSON") as e:
        load_coco_keypoints(path)
    assert str(path) in str(e.value)


@pytest.mark.parametrize("key", ["images", "annotations", "categories"])
def test_error_missing_key(tmp_path, key):
    data = _coco_dict()
    del data[key]
    path = _write(tmp_path, data)
    with pytest.raises(DatasetError, match=f"missing key '{key}'") as e:
        load_coco_keypoints(path)
    assert str(path) in str(e.value)


def test_error_keypoints_length(tmp_path):
    data = _coco_dict()
    data["annotations"][2]["keypoints"] = data["annotations"][2]["keypoints"][:-3]
    path = _write(tmp_path, data)
    message = "annotation 20 .*field 'keypoints' must hold 51 numbers.*got 48"
    with pytest.raises(DatasetError, match=message) as e:
        load_coco_keypoints(path)
    assert str(path) in str(e.value)


def test_error_unknown_image_id(tmp_path):
    data = _coco_dict()
    data["annotations"][0]["image_id"] = 99
    path = _write(tmp_path, data)
    with pytest.raises(DatasetError, match="annotation 10: field 'image_id' = 99 is not in 'images'") as e:
        load_coco_keypoints(path)
    assert str(path) in str(e.value)


def test_error_missing_image(tmp_path):
    path = _write(tmp_path, _coco_dict())
    (tmp_path / "tiny" / "b.png").unlink()
    with pytest.raises(DatasetError, match="image 2: file .*b.png.* is missing") as e:
        load_coco_keypoints(path)
    assert str(path) in str(e.value)
    assert len(load_coco_keypoints(path, check_images=False)) == 2


@pytest.mark.parametrize("field, value, message", [
    ("num_keypoints", 3, "annotation 10 .*field 'num_keypoints' = 3 but 'keypoints' labels 4"),
    ("area", "big", "annotation 10 .*field 'area'"),
    ("bbox", [1, 2, 3], "annotation 10 .*field 'bbox'"),
])
def test_error_bad_person_fields(tmp_path, field, value, message):
    data = _coco_dict()
    data["annotations"][0][field] = value
    with pytest.raises(DatasetError, match=message):
        load_coco_keypoints(_write(tmp_path, data))


def test_error_crowd_rle_size(tmp_path):
    data = copy.deepcopy(_coco_dict())
    data["annotations"][1]["segmentation"]["size"] = [H1 + 1, W1]
    with pytest.raises(DatasetError, match="annotation 11 .*field 'segmentation' RLE size"):
        load_coco_keypoints(_write(tmp_path, data))


def test_error_category_keypoint_names(tmp_path):
    data = _coco_dict()
    data["categories"][0]["keypoints"] = list(LSP14.joint_names)
    with pytest.raises(DatasetError, match="field 'keypoints'.*COCO-17"):
        load_coco_keypoints(_write(tmp_path, data))


# ------------------------------------------------------------------------------ real coco-mini

@pytest.fixture(scope="module")
def coco_mini():
    root = data_root() / "coco-mini"
    if not (root / "annotations" / "person_keypoints_train2017.json").is_file():
        pytest.skip(f"coco-mini not found at {root} (set $POSEZOO_DATA to the shared data folder)")
    return root


def test_real_coco_mini(coco_mini):
    s = load_coco_keypoints()  # the default is coco-mini's train2017 file
    raw = json.loads((coco_mini / "annotations" / "person_keypoints_train2017.json").read_text())
    anns = raw["annotations"]
    crowd = sum(a["iscrowd"] for a in anns)
    empty = sum(1 for a in anns if not a["iscrowd"] and a["num_keypoints"] == 0)
    assert len(s) == len(raw["images"]) == 80
    assert s.num_people == len(anns) - crowd - empty == 86
    assert (crowd, empty) == (5, 81)
    assert sum(len(g) for g in s.ignore_segments) == crowd + empty
    for i in range(len(s)):
        with Image.open(s.image_paths[i]) as im:
            w, h = im.size
        assert tuple(s.sizes[i]) == (h, w)
        m = loss_mask(s, i)
        assert m.shape == (h, w) and m.dtype == np.float32
        assert (m == 0).any() == bool(s.ignore_segments[i])
        assert s.keypoints[i].shape == (len(s.areas[i]), 17, 2)
        assert np.all(s.visible[i].sum(axis=1) > 0)
    lsp = load_coco_keypoints(skeleton="lsp14")
    assert lsp.num_people <= s.num_people
    assert all(v[:, [L["neck"], L["head_top"]]].sum() == 0 for v in lsp.visible)
