"""Targets of bottom-up models (zoo.codecs.paf): confidence maps and part affinity fields on
hand-made people."""

import numpy as np
import pytest

from zoo.codecs.paf import PafCodec
from zoo.skeletons import LSP14


def _person(**joints):
    """(K, 2) keypoints and (K,) visibility with the named joints labelled (input pixels)."""
    kp = np.zeros((LSP14.num_joints, 2), np.float32)
    vis = np.zeros(LSP14.num_joints, np.float32)
    for name, xy in joints.items():
        kp[LSP14.index(name)] = xy
        vis[LSP14.index(name)] = 1
    return kp, vis


def _limb(a, b):
    return LSP14.tree.index((a, b))


def _encode(codec, people):
    kps = np.stack([p[0] for p in people])
    vis = np.stack([p[1] for p in people])
    hm, paf = codec.encode(kps, vis)
    return hm.numpy(), paf.numpy()


def test_confidence_maps_are_the_maximum_over_people():
    codec = PafCodec(input_size=64, stride=4, sigma=1.5)
    # Cell u is centred on input pixel (u + 0.5) * 4 - 0.5: pixel 21.5 is cell 5, 41.5 cell 10.
    a = _person(neck=(21.5, 21.5))
    b = _person(neck=(29.5, 21.5), head_top=(41.5, 41.5))  # neck 2 cells to the right of a's
    hm, paf = _encode(codec, [a, b])
    assert hm.shape == (16, 16, 14) and paf.shape == (16, 16, 26)
    neck = hm[..., LSP14.index("neck")]
    assert neck[5, 5] == pytest.approx(1.0) and neck[5, 7] == pytest.approx(1.0)
    # Between the two: the max of the two Gaussians (one cell from each), not their sum.
    assert neck[5, 6] == pytest.approx(np.exp(-1 / (2 * 1.5 ** 2)), rel=1e-5)
    head = hm[..., LSP14.index("head_top")]
    assert head[10, 10] == pytest.approx(1.0) and head.sum() > 0
    # Unlabelled joints have empty maps.
    assert hm[..., LSP14.index("left_wrist")].max() == 0


def test_part_affinity_field_is_the_unit_vector_within_the_limb_width():
    codec = PafCodec(input_size=64, stride=4, limb_width=1.0)
    # neck at cell (3, 8), head top at cell (11, 8): a horizontal limb of 8 cells.
    person = _person(neck=(13.5, 33.5), head_top=(45.5, 33.5))
    _, paf = _encode(codec, [person])
    l = _limb("neck", "head_top")
    fx, fy = paf[..., 2 * l], paf[..., 2 * l + 1]
    on = np.zeros((16, 16), bool)
    on[7:10, 3:12] = True  # rows 8 +- 1 (limb width), columns 3..11 (both limb-point conditions)
    np.testing.assert_allclose(fx[on], 1.0, atol=1e-6)
    np.testing.assert_allclose(fy, 0.0, atol=1e-6)
    assert np.all(fx[~on] == 0)
    # Every other limb is unlabelled: no field.
    others = np.delete(paf, [2 * l, 2 * l + 1], axis=-1)
    assert np.all(others == 0)


def test_diagonal_limb_direction_and_the_perpendicular_condition():
    codec = PafCodec(input_size=64, stride=4, limb_width=1.0)
    person = _person(neck=(9.5, 9.5), head_top=(49.5, 49.5))  # cells (2, 2) -> (12, 12)
    _, paf = _encode(codec, [person])
    l = _limb("neck", "head_top")
    fx, fy = paf[..., 2 * l], paf[..., 2 * l + 1]
    s = np.sqrt(0.5)
    assert fx[7, 7] == pytest.approx(s) and fy[7, 7] == pytest.approx(s)
    # (7, 8) is 1/sqrt(2) ~ 0.71 cells from the segment: on; (7, 9) is 1.41 cells: off.
    assert fx[7, 8] == pytest.approx(s) and fx[7, 9] == 0
    # Before the start point along the limb: off (cell (1, 1) projects to t < 0).
    assert fx[1, 1] == 0 and fx[2, 2] == pytest.approx(s)


def test_overlapping_limbs_of_two_people_are_averaged():
    codec = PafCodec(input_size=64, stride=4, limb_width=1.0)
    right = _person(neck=(9.5, 33.5), head_top=(53.5, 33.5))  # +x, along row 8
    down = _person(neck=(33.5, 9.5), head_top=(33.5, 53.5))  # +y, along column 8
    _, paf = _encode(codec, [right, down])
    l = _limb("neck", "head_top")
    fx, fy = paf[..., 2 * l], paf[..., 2 * l + 1]
    assert fx[8, 8] == pytest.approx(0.5) and fy[8, 8] == pytest.approx(0.5)  # the crossing
    assert fx[8, 4] == pytest.approx(1.0) and fy[8, 4] == 0  # only the first person
    assert fx[4, 8] == 0 and fy[4, 8] == pytest.approx(1.0)  # only the second
    # Same direction, two people on the same cells: still a unit vector.
    _, twice = _encode(codec, [right, right])
    np.testing.assert_allclose(twice, _encode(codec, [right])[1], atol=1e-6)


def test_no_people_and_argument_checks():
    codec = PafCodec(input_size=32, stride=8)
    hm, paf = codec.encode(np.zeros((0, 14, 2), np.float32), np.zeros((0, 14), np.float32))
    assert hm.shape == (4, 4, 14) and paf.shape == (4, 4, 26)
    assert float(np.abs(hm.numpy()).sum() + np.abs(paf.numpy()).sum()) == 0
    with pytest.raises(ValueError, match="multiple of stride"):
        PafCodec(input_size=30, stride=8)
    with pytest.raises(ValueError, match="no tree"):
        PafCodec(skeleton="mpii16")
    with pytest.raises(ValueError, match="limb_width must be > 0, got 0"):
        PafCodec(limb_width=0)


def test_masked_loss_ignores_masked_cells():
    from training.losses import masked_stage_mse

    target = np.zeros((1, 4, 4, 2), np.float32)
    mask = np.ones((1, 4, 4, 1), np.float32)
    mask[0, :2] = 0  # e.g. a crowd region
    pred = np.zeros((1, 2, 4, 4, 2), np.float32)
    pred[0, :, :2] = 5.0  # wrong only inside the mask
    y_true = np.concatenate([target, mask], -1)
    assert float(masked_stage_mse(y_true, pred)[0]) == 0.0
    pred[0, 1, 3, 3, 0] = 2.0  # stage 2, one cell outside the mask: (2^2) / (4*4*2)
    assert float(masked_stage_mse(y_true, pred)[0]) == pytest.approx(4 / 32)
    with pytest.raises(ValueError, match="plus one mask channel or 2 mask channels"):
        masked_stage_mse(target, pred)


def test_masked_loss_per_channel_mask():
    """One mask per channel: a part the dataset does not label (COCO's head top) is left out
    everywhere, the other channel still counts."""
    from training.losses import masked_stage_mse

    target = np.zeros((1, 4, 4, 2), np.float32)
    mask = np.ones((1, 4, 4, 2), np.float32)
    mask[0, ..., 1] = 0  # channel 1 unlabelled in this image
    pred = np.zeros((1, 2, 4, 4, 2), np.float32)
    pred[0, :, :, :, 1] = 3.0  # wrong only on the unlabelled channel
    y_true = np.concatenate([target, mask], -1)
    assert float(masked_stage_mse(y_true, pred)[0]) == 0.0
    pred[0, 0, 0, 0, 0] = 2.0  # stage 1, channel 0: (2^2) / (4*4*2)
    assert float(masked_stage_mse(y_true, pred)[0]) == pytest.approx(4 / 32)
