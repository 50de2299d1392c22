"""PCK on hand-computed cases (docs/evaluation.md protocol)."""

import math

import numpy as np
import pytest

from training.metrics import pck, torso_sizes
from zoo.skeletons import LSP14

J = {n: i for i, n in enumerate(LSP14.joint_names)}


def _case():
    """Three samples; expected values computed by hand in the tests below."""
    gt = np.zeros((3, 14, 2))
    vis = np.ones((3, 14))
    # Sample 0: torso = |left_shoulder - right_hip| = |(0,0)-(30,40)| = 50 -> threshold 10 at 0.2.
    gt[0, J["left_shoulder"]] = (0, 0)
    gt[0, J["right_hip"]] = (30, 40)
    gt[0, J["right_shoulder"]] = (100, 0)  # second pair (100,0)-(100,5): 5, must not be used
    gt[0, J["left_hip"]] = (100, 5)
    # Sample 1: left shoulder unlabelled -> fallback |right_shoulder - left_hip| = 20 -> threshold 4.
    gt[1, J["right_shoulder"]] = (0, 0)
    gt[1, J["left_hip"]] = (0, 20)
    vis[1, J["left_shoulder"]] = 0
    vis[1, J["right_ankle"]] = 0
    # Sample 2: both shoulders unlabelled -> skipped.
    vis[2, J["left_shoulder"]] = vis[2, J["right_shoulder"]] = 0

    err = np.zeros((3, 14))
    err[0, J["right_ankle"]] = 9.99      # correct (<= 10)
    err[0, J["right_knee"]] = 10.5       # wrong
    err[0, J["neck"]] = 20.0             # wrong
    err[0, J["head_top"]] = 5.0          # correct
    err[0, J["left_wrist"]] = 8.0        # correct with torso 50; would be wrong with torso 5
    err[1, J["left_knee"]] = 5.0         # wrong (> 4)
    err[1, J["head_top"]] = 3.9          # correct
    err[1, J["right_ankle"]] = 1000.0    # unlabelled: not counted
    err[1, J["left_shoulder"]] = 1000.0  # unlabelled: not counted
    err[2] = 1000.0                      # skipped sample: not counted
    pred = gt.copy()
    pred[..., 0] += err
    return pred, gt, vis


def test_torso_sizes_and_fallback():
    _, gt, vis = _case()
    t = torso_sizes(gt, vis, LSP14)
    assert t[0] == pytest.approx(50.0) and t[1] == pytest.approx(20.0) and math.isnan(t[2])


def test_pck_hand_computed():
    pred, gt, vis = _case()
    r = pck(pred, gt, vis, LSP14, alpha=0.2)
    # Sample 0: 14 labelled, 2 wrong (right_knee, neck). Sample 1: 12 labelled, 1 wrong (left_knee).
    assert r["samples"] == 2 and r["joints"] == 26
    assert r["mean"] == pytest.approx(23 / 26)
    # Limbs (no neck / head_top): sample 0: 12 labelled, 1 wrong; sample 1: 10 labelled, 1 wrong.
    assert r["mean_limbs"] == pytest.approx(20 / 22)
    pj = r["per_joint"]
    assert set(pj) == set(LSP14.joint_names)
    assert pj["right_ankle"] == 1.0          # only sample 0 labelled it
    assert pj["left_shoulder"] == 1.0
    assert pj["right_knee"] == 0.5 and pj["left_knee"] == 0.5 and pj["neck"] == 0.5
    assert pj["head_top"] == 1.0 and pj["left_wrist"] == 1.0
    assert all(v == 1.0 for n, v in pj.items() if n not in ("right_knee", "left_knee", "neck"))


def test_pck_alpha_0_1():
    pred, gt, vis = _case()
    r = pck(pred, gt, vis, LSP14, alpha=0.1)
    # Thresholds 5 and 2. Sample 0 wrong: right_ankle 9.99, right_knee, neck, left_wrist 8
    # (head_top 5.0 <= 5 is correct). Sample 1 wrong: left_knee 5, head_top 3.9.
    assert r["mean"] == pytest.approx((14 - 4 + 12 - 2) / 26)
    assert r["per_joint"]["head_top"] == 0.5 and r["per_joint"]["right_ankle"] == 0.0


def test_pck_joint_never_labelled_is_nan_and_limbs_exclude_head():
    gt = np.zeros((1, 14, 2))
    gt[0, J["right_hip"]] = (0, 10)
    vis = np.ones((1, 14))
    vis[0, J["left_ankle"]] = 0
    pred = gt.copy()
    pred[0, J["neck"], 1] += 100
    pred[0, J["head_top"], 1] += 100
    r = pck(pred, gt, vis, LSP14)
    assert math.isnan(r["per_joint"]["left_ankle"])
    assert r["mean_limbs"] == 1.0
    assert r["mean"] == pytest.approx(11 / 13)


def test_pck_all_skipped_and_shape_errors():
    gt = np.zeros((2, 14, 2))
    vis = np.ones((2, 14))
    vis[:, [J["left_shoulder"], J["right_shoulder"]]] = 0
    r = pck(gt, gt, vis, LSP14)
    assert r["samples"] == 0 and r["joints"] == 0 and r["mean"] == 0.0
    with pytest.raises(ValueError, match="shape"):
        pck(np.zeros((2, 14, 2)), np.zeros((2, 13, 2)), np.ones((2, 14)), LSP14)
    with pytest.raises(ValueError, match="shape"):
        pck(np.zeros((2, 14, 2)), np.zeros((2, 14, 2)), np.ones((3, 14)), LSP14)
