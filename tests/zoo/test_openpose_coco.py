"""OpenPose with COCO-17 heads: the COCO tree of limbs, and an LSP-14 OpenPose continued as a
COCO-17 one (OpenPose.initialise_from: joints by name, limbs by their two joints)."""

import numpy as np
import pytest

from zoo.architectures.openpose import OpenPose
from zoo.skeletons import COCO17, LSP14

TINY = dict(backbone_filters=(8, 8, 8), stage_filters=8, stage_convs=2, paf_stages=2, heatmap_stages=2,
            input_size=64)


def _built(**args):
    model = OpenPose(**{**TINY, **args})
    model.build((None, 64, 64, 3))
    return model


def test_coco_tree_spans_the_17_joints_with_coco_limbs():
    assert len(COCO17.tree) == 16 and COCO17.tree[0][0] == "left_shoulder"
    coco_limbs = {frozenset(limb) for limb in COCO17.limbs}
    # Every edge is one of COCO's limbs but the one in the role of OpenPose's neck -> nose.
    assert [e for e in COCO17.tree if frozenset(e) not in coco_limbs] == [("left_shoulder", "nose")]
    model = _built(skeleton="coco17")
    out = model(np.zeros((1, 64, 64, 3), np.float32))
    assert out["pafs"].shape == (1, 2, 8, 8, 32) and out["heatmaps"].shape == (1, 2, 8, 8, 17)


def test_lsp_model_continues_as_coco_model_by_joint_and_limb_names():
    rng = np.random.default_rng(0)
    source = _built(skeleton="lsp14")
    source.set_weights([rng.normal(0, 0.1, w.shape).astype(np.float32) for w in source.get_weights()])
    target = _built(skeleton="coco17")
    target.initialise_from(source)
    for mine, theirs in zip(target.backbone, source.backbone):
        for a, b in zip(mine.get_weights(), theirs.get_weights()):
            np.testing.assert_array_equal(a, b)
    images = rng.uniform(0, 255, (2, 64, 64, 3)).astype(np.float32)
    mine, theirs = target(images)["pafs"].numpy()[:, 0], source(images)["pafs"].numpy()[:, 0]
    lsp_tree = list(LSP14.tree)
    shared = 0
    for limb, (a, b) in enumerate(COCO17.tree):  # stage 1 reads the features alone: same fields
        if (a, b) in lsp_tree:
            j = lsp_tree.index((a, b))
            np.testing.assert_allclose(mine[..., 2 * limb:2 * limb + 2], theirs[..., 2 * j:2 * j + 2], atol=1e-5)
            shared += 1
    assert shared == 8  # arms and legs; the torso and face limbs of the COCO tree are new
    # Output channels of the maps by joint name; a stage's inputs from new channels read nothing.
    out_k, src_k = target.heatmap_blocks[-1][-1].get_weights()[0], source.heatmap_blocks[-1][-1].get_weights()[0]
    for j, name in enumerate(COCO17.joint_names):
        if name in LSP14.joint_names:
            np.testing.assert_array_equal(out_k[..., j], src_k[..., LSP14.index(name)])
    first = target.heatmap_blocks[1][0].conv.kernel.numpy()  # features 8, fields 32, maps 17
    nose = 8 + 32 + COCO17.index("nose")
    assert np.all(first[:, :, nose] == 0) and np.all(first[:, :, 8 + 2 * 11:8 + 2 * 12] == 0)  # nose; shoulder->nose
    wrist = COCO17.index("left_wrist")
    theirs = source.heatmap_blocks[1][0].conv.kernel.numpy()
    np.testing.assert_array_equal(first[:, :, 8 + 32 + wrist], theirs[:, :, 8 + 26 + LSP14.index("left_wrist")])


def test_a_reversed_limb_takes_the_negated_field():
    from types import SimpleNamespace

    from zoo.architectures.openpose import _mapped
    from zoo.skeletons import Skeleton

    target = _built(skeleton="coco17")
    # A source whose tree is COCO's rooted at the left wrist: two arm limbs run the other way.
    tree = (("left_wrist", "left_elbow"), ("left_elbow", "left_shoulder")) + tuple(
        e for e in COCO17.tree if e not in (("left_shoulder", "left_elbow"), ("left_elbow", "left_wrist")))
    source = SimpleNamespace(skeleton=Skeleton(name="coco17w", joint_names=COCO17.joint_names, limbs=(), tree=tree))
    joints, limbs, signs = target._channel_sources(source)
    np.testing.assert_array_equal(joints, np.arange(17))
    reversed_limbs = [COCO17.tree.index(e) for e in (("left_shoulder", "left_elbow"), ("left_elbow", "left_wrist"))]
    for limb in range(16):
        expected = -1.0 if limb in reversed_limbs else 1.0
        assert signs[2 * limb] == signs[2 * limb + 1] == expected, COCO17.tree[limb]
    assert sorted(limbs.tolist()) == list(range(32))
    # The field channels of a reversed limb are the source's, negated.
    theirs = np.arange(32, dtype=np.float32)[None] + 1.0
    mapped = _mapped(np.zeros((1, 32), np.float32), theirs, limbs, signs, axis=1)
    limb = reversed_limbs[0]
    np.testing.assert_array_equal(mapped[0, 2 * limb:2 * limb + 2], -theirs[0, limbs[2 * limb:2 * limb + 2]])


def test_initialise_from_refuses_other_sizes():
    with pytest.raises(ValueError, match="other \\['stage_filters'\\]"):
        _built(skeleton="coco17").initialise_from(_built(skeleton="lsp14", stage_filters=16))


def test_the_published_model_finds_nobody_in_an_empty_photo_and_resizes_a_huge_one():
    """Bad input on the bottom-up path (the multi-person issue, point 5): a photo with nobody in it
    gives zero people, not an error; an 8000 px photo is letterboxed down to the input, and its
    people come back in its own pixels, where the same photo at its own size finds them."""
    from pathlib import Path

    import cv2

    import zoo
    from training.datasets.base import data_root
    from zoo.io import read_image

    photo = Path(data_root()) / "mpii-sample" / "060754485.jpg"
    if not photo.is_file():
        pytest.skip(f"{photo} not found (set $POSEZOO_DATA)")
    model = zoo.load("openpose-coco")
    people, scores = model.predict_people(np.zeros((480, 640, 3), np.uint8))
    assert people.shape == (0, 17, 3) and scores.shape == (0,)
    image = read_image(photo)
    scale = 8000 / image.shape[1]
    huge = cv2.resize(image, (8000, round(image.shape[0] * scale)), interpolation=cv2.INTER_LINEAR)
    small_people, _ = model.predict_people(image)
    huge_people, _ = model.predict_people(huge)
    assert len(small_people) >= 1 and huge_people.shape == small_people.shape
    both = (small_people[..., 2] > 0) & (huge_people[..., 2] > 0)
    assert both.sum() >= 5
    moved = np.abs(small_people[..., :2] * scale - huge_people[..., :2])[both]
    assert moved.max() <= 0.02 * 8000, moved.max()
