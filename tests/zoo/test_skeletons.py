"""Skeleton layouts: joint counts, flip pairs derived from names, validation."""

import pytest

from zoo.skeletons import COCO17, FLIC11, LSP14, MPII16, SKELETONS, Skeleton, get_skeleton


@pytest.mark.parametrize("skeleton, count", [(LSP14, 14), (MPII16, 16), (FLIC11, 11), (COCO17, 17)])
def test_joint_counts(skeleton, count):
    assert skeleton.num_joints == count
    assert len(skeleton.joint_names) == count
    assert get_skeleton(skeleton.name) is skeleton


def test_lsp_flip_pairs_match_names():
    pairs = {frozenset(p) for p in LSP14.flip_pairs}
    expected = {frozenset(p) for p in [(5, 0), (4, 1), (3, 2), (11, 6), (10, 7), (9, 8)]}
    assert pairs == expected
    assert LSP14.flip_index[5] == 0 and LSP14.flip_index[0] == 5  # left_ankle <-> right_ankle
    assert LSP14.joint_names[5] == "left_ankle" and LSP14.joint_names[0] == "right_ankle"
    assert LSP14.flip_index[12] == 12 and LSP14.flip_index[13] == 13  # neck, head_top


def test_mpii_flip_index_explicit():
    # The usual MPII swap list: (0,5) (1,4) (2,3) (10,15) (11,14) (12,13); 6..9 centre line.
    assert MPII16.flip_index == (5, 4, 3, 2, 1, 0, 6, 7, 8, 9, 15, 14, 13, 12, 11, 10)


@pytest.mark.parametrize("skeleton", list(SKELETONS.values()), ids=list(SKELETONS))
def test_flip_index_is_involution_and_swaps_sides(skeleton):
    idx = skeleton.flip_index
    assert sorted(idx) == list(range(skeleton.num_joints))
    names = skeleton.joint_names
    for i, j in enumerate(idx):
        assert idx[j] == i
        n = names[i]
        if n.startswith("left_"):
            assert names[j] == "right_" + n[5:]
        elif n.startswith("right_"):
            assert names[j] == "left_" + n[6:]
        else:
            assert j == i, f"centre joint {n} should map to itself"


def test_left_without_right_raises():
    s = Skeleton(name="bad", joint_names=("left_hand", "nose"), limbs=())
    with pytest.raises(ValueError, match="left_hand"):
        _ = s.flip_pairs
    s2 = Skeleton(name="bad2", joint_names=("right_hand", "nose"), limbs=())
    with pytest.raises(ValueError, match="right_hand"):
        _ = s2.flip_index


def test_invalid_definitions_raise():
    with pytest.raises(ValueError, match="duplicate"):
        Skeleton(name="dup", joint_names=("a", "a"), limbs=())
    with pytest.raises(ValueError, match="'c'"):
        Skeleton(name="limb", joint_names=("a", "b"), limbs=(("a", "c"),))
    with pytest.raises(ValueError, match="OKS"):
        Skeleton(name="oks", joint_names=("a", "b"), limbs=(), oks_sigmas=(0.1,))


def test_coco_oks_sigmas():
    assert COCO17.oks_sigmas is not None and len(COCO17.oks_sigmas) == 17
    assert COCO17.oks_sigmas[0] == pytest.approx(0.026)  # nose
    # LSP-14: COCO's sigmas for the 12 shared joints, CrowdPose's for neck and head top.
    coco = dict(zip(COCO17.joint_names, COCO17.oks_sigmas))
    for name, sigma in zip(LSP14.joint_names, LSP14.oks_sigmas):
        assert sigma == pytest.approx(coco.get(name, 0.079)), name


def test_tree_is_checked():
    assert len(LSP14.tree_index) == LSP14.num_joints - 1
    assert LSP14.tree[0][0] == "neck"
    with pytest.raises(ValueError, match="comes before any edge"):
        Skeleton(name="t", joint_names=("a", "b", "c"), limbs=(), tree=(("a", "b"), ("c", "a")))
    with pytest.raises(ValueError, match="2 edges"):
        Skeleton(name="t", joint_names=("a", "b", "c"), limbs=(), tree=(("a", "b"),))
    with pytest.raises(ValueError, match="reached twice"):
        Skeleton(name="t", joint_names=("a", "b", "c"), limbs=(), tree=(("a", "b"), ("b", "a")))


def test_unknown_names_raise():
    with pytest.raises(KeyError, match="lsp14"):
        get_skeleton("nope")
    with pytest.raises(KeyError, match="elbow_x"):
        LSP14.index("elbow_x")
