"""PDJ curve and strict PCP (Toshev & Szegedy 2014) on hand-computed LSP poses."""

import math

import numpy as np
import pytest

from training.metrics import PCP_PARTS, PDJ_FRACTIONS, pck, pcp, pdj_curve
from zoo.skeletons import get_skeleton

LSP = get_skeleton("lsp14")
J = {n: i for i, n in enumerate(LSP.joint_names)}


# ----------------------------------------------------------------------------------------- PDJ

FRACTIONS = (0.05, 0.1, 0.2, 0.3)


def _pdj_case():
    """Three samples; the expected curve is worked out in ``test_pdj_hand_computed``."""
    gt = np.zeros((3, 14, 2))
    vis = np.ones((3, 14))
    err = np.zeros((3, 14, 2))
    # Sample 0: torso |left_shoulder - right_hip| = |(0,0) - (60,80)| = 100.
    # Thresholds at FRACTIONS: 5, 10, 20, 30.
    gt[0, J["right_hip"]] = (60, 80)
    err[0, J["right_ankle"]] = (9, 12)    # 15 px: detected at 0.2, not at 0.1
    err[0, J["right_knee"]] = (0, 25)     # 25 px: only at 0.3
    err[0, J["head_top"]] = (4, 0)        # 4 px: from 0.05 on
    err[0, J["left_wrist"]] = (35, 0)     # 35 px: never
    # Sample 1: torso |(0,0) - (30,40)| = 50. Thresholds 2.5, 5, 10, 15.
    gt[1, J["right_hip"]] = (30, 40)
    err[1, J["right_ankle"]] = (0, 12)    # 12 px: only at 0.3
    err[1, J["left_elbow"]] = (3, 0)      # 3 px: from 0.1 on
    err[1, J["left_ankle"]] = (500, 500)  # unlabelled: not counted
    vis[1, J["left_ankle"]] = 0
    # Sample 2: no shoulder labelled -> no torso -> skipped, whatever its errors.
    vis[2, J["left_shoulder"]] = vis[2, J["right_shoulder"]] = 0
    err[2] = 1000.0
    return gt + err, gt, vis


def test_pdj_hand_computed():
    pred, gt, vis = _pdj_case()
    r = pdj_curve(pred, gt, vis, LSP, fractions=FRACTIONS)
    assert r["fractions"] == list(FRACTIONS)
    # Sample 0 (14 labelled) detects 11, 11, 12, 13; sample 1 (13 labelled) 11, 12, 12, 13.
    np.testing.assert_allclose(r["mean"], [22 / 27, 23 / 27, 24 / 27, 26 / 27])
    pj = r["per_joint"]
    assert set(pj) == set(LSP.joint_names)
    assert all(len(v) == len(FRACTIONS) for v in pj.values())
    assert pj["right_ankle"] == [0.0, 0.0, 0.5, 1.0]
    assert pj["right_knee"] == [0.5, 0.5, 0.5, 1.0]
    assert pj["left_wrist"] == [0.5, 0.5, 0.5, 0.5]
    assert pj["left_elbow"] == [0.5, 1.0, 1.0, 1.0]
    assert pj["head_top"] == [1.0] * 4
    assert pj["left_ankle"] == [1.0] * 4  # only sample 0 labels it, with no error
    untouched = set(LSP.joint_names) - {"right_ankle", "right_knee", "left_wrist", "left_elbow"}
    assert all(pj[n] == [1.0] * 4 for n in untouched)


def test_pdj_single_joint_15px_at_torso_100():
    gt = np.zeros((1, 14, 2))
    gt[0, J["right_hip"]] = (0, 100)
    vis = np.ones((1, 14))
    pred = gt.copy()
    pred[0, J["left_knee"]] += (0, 15)
    r = pdj_curve(pred, gt, vis, LSP, fractions=(0.1, 0.2))
    assert r["per_joint"]["left_knee"] == [0.0, 1.0]
    np.testing.assert_allclose(r["mean"], [13 / 14, 1.0])


def test_pdj_default_fractions():
    assert len(PDJ_FRACTIONS) == 20
    assert PDJ_FRACTIONS[0] == pytest.approx(0.025) and PDJ_FRACTIONS[-1] == pytest.approx(0.5)
    np.testing.assert_allclose(np.diff(PDJ_FRACTIONS), 0.025)
    pred, gt, vis = _pdj_case()
    r = pdj_curve(pred, gt, vis, LSP)
    assert r["fractions"] == [float(a) for a in PDJ_FRACTIONS]
    assert len(r["mean"]) == 20


def _random_case(seed):
    rng = np.random.default_rng(seed)
    gt = rng.uniform(0, 200, (3, 14, 2))
    pred = gt + rng.normal(0, 20, (3, 14, 2))
    vis = (rng.random((3, 14)) > 0.2).astype("float32")
    vis[:, J["left_shoulder"]] = vis[:, J["right_hip"]] = 1  # a torso in every sample
    return pred, gt, vis


@pytest.mark.parametrize("seed", [0, 1])
def test_pdj_monotone_and_equal_to_pck(seed):
    pred, gt, vis = _random_case(seed)
    r = pdj_curve(pred, gt, vis, LSP)
    mean = np.asarray(r["mean"])
    assert np.all(np.diff(mean) >= 0)
    assert 0.0 <= mean[0] and mean[-1] <= 1.0
    assert mean[0] < mean[-1]  # noise of 20 px on a ~100-200 px torso: the curve rises
    for name, curve in r["per_joint"].items():
        c = np.asarray(curve)
        if not np.isnan(c).all():
            assert np.all(np.diff(c) >= 0), name
    for i, a in enumerate(PDJ_FRACTIONS):
        ref = pck(pred, gt, vis, LSP, alpha=a)
        assert r["mean"][i] == pytest.approx(ref["mean"])
        for name in LSP.joint_names:
            x, y = r["per_joint"][name][i], ref["per_joint"][name]
            assert (math.isnan(x) and math.isnan(y)) or x == pytest.approx(y)
    # The PCK@0.2 and PCK@0.1 points of the curve.
    assert r["mean"][PDJ_FRACTIONS.index(0.2)] == pytest.approx(pck(pred, gt, vis, LSP, 0.2)["mean"])
    assert r["mean"][PDJ_FRACTIONS.index(0.1)] == pytest.approx(pck(pred, gt, vis, LSP, 0.1)["mean"])


def test_pdj_shape_mismatch():
    with pytest.raises(ValueError, match="shape"):
        pdj_curve(np.zeros((2, 14, 2)), np.zeros((2, 13, 2)), np.ones((2, 14)), LSP)
    with pytest.raises(ValueError, match="shape"):
        pdj_curve(np.zeros((2, 14, 2)), np.zeros((2, 14, 2)), np.ones((2, 13)), LSP)


# ----------------------------------------------------------------------------------------- PCP

def _pose():
    """One upright LSP pose; stick lengths: torso 80 (mid hips (0,80) - mid shoulders (0,0)),
    upper legs 40, lower legs 30, upper arms 30, lower arms 20, head 40."""
    p = np.zeros((14, 2))
    p[J["head_top"]] = (0, -60)
    p[J["neck"]] = (0, -20)
    p[J["right_shoulder"]] = (-20, 0)
    p[J["left_shoulder"]] = (20, 0)
    p[J["right_elbow"]] = (-50, 0)
    p[J["left_elbow"]] = (50, 0)
    p[J["right_wrist"]] = (-50, -20)
    p[J["left_wrist"]] = (50, 20)
    p[J["right_hip"]] = (-10, 80)
    p[J["left_hip"]] = (10, 80)
    p[J["right_knee"]] = (-10, 120)
    p[J["left_knee"]] = (10, 120)
    p[J["right_ankle"]] = (-10, 150)
    p[J["left_ankle"]] = (10, 150)
    return p


def _pcp_case():
    gt = np.stack([_pose(), _pose()])
    vis = np.ones((2, 14))
    pred = gt.copy()
    # Sample 0 (10 sticks, 4 correct):
    pred[0, J["right_knee"]] += (0, 19)       # r upper leg (thr 20) ok; r lower leg (thr 15) not
    pred[0, J["left_knee"]] += (21, 0)        # l upper leg (thr 20) and l lower leg wrong
    pred[0, J["left_shoulder"]] += (60, 0)    # shoulders 60 px off each, their midpoint exact:
    pred[0, J["right_shoulder"]] += (-60, 0)  # torso ok, both upper arms (thr 15) wrong
    pred[0, J["right_wrist"]] += (0, 9)       # r lower arm (thr 10) ok
    pred[0, J["left_wrist"]] += (0, 11)       # l lower arm wrong
    pred[0, J["head_top"]] += (12, 16)        # exactly 20 = 0.5 x 40: head ok (<=)
    # Sample 1 (6 sticks counted, 5 correct):
    vis[1, J["left_elbow"]] = 0               # l upper arm and l lower arm skipped
    vis[1, J["left_hip"]] = 0                 # torso (mid of hips) and l upper leg skipped
    pred[1, J["left_elbow"]] += (500, 500)    # unlabelled: ignored
    pred[1, J["left_hip"]] += (500, 0)        # unlabelled: ignored
    pred[1, J["right_ankle"]] += (0, 14)      # r lower leg (thr 15) ok
    pred[1, J["head_top"]] += (0, 21)         # head wrong
    return pred, gt, vis


def test_pcp_hand_computed():
    pred, gt, vis = _pcp_case()
    r = pcp(pred, gt, vis, LSP)
    assert r["sticks"] == 16
    assert r["mean"] == pytest.approx(9 / 16)
    pp = r["per_part"]
    assert set(pp) == set(PCP_PARTS)
    assert pp["torso"] == pytest.approx(1.0)
    assert pp["upper_legs"] == pytest.approx(2 / 3)
    assert pp["lower_legs"] == pytest.approx(2 / 4)
    assert pp["upper_arms"] == pytest.approx(1 / 3)
    assert pp["lower_arms"] == pytest.approx(2 / 3)
    assert pp["head"] == pytest.approx(1 / 2)
    # Per sample.
    r0 = pcp(pred[:1], gt[:1], vis[:1], LSP)
    assert r0["sticks"] == 10 and r0["mean"] == pytest.approx(0.4)
    r1 = pcp(pred[1:], gt[1:], vis[1:], LSP)
    assert r1["sticks"] == 6 and r1["mean"] == pytest.approx(5 / 6)
    assert math.isnan(r1["per_part"]["torso"])


def test_pcp_perfect_prediction():
    gt = _pose()[None]
    r = pcp(gt, gt, np.ones((1, 14)), LSP)
    assert r["sticks"] == 10 and r["mean"] == 1.0
    assert all(v == 1.0 for v in r["per_part"].values())


LEG = {"leg": [("right_hip", "right_knee")]}  # one stick of length 40


@pytest.mark.parametrize("end", ["right_hip", "right_knee"])
@pytest.mark.parametrize("offset, threshold, ok", [
    ((19, 0), 0.5, True), ((0, -19), 0.5, True), ((12, 16), 0.5, True),  # 19, 19, 20 <= 20
    ((21, 0), 0.5, False), ((0, 21), 0.5, False), ((15, 15), 0.5, False),  # 21, 21, 21.2 > 20
    ((21, 0), 0.6, True), ((25, 0), 0.6, False),                          # threshold 24
])
def test_pcp_single_stick_threshold(end, offset, threshold, ok):
    gt = _pose()[None]
    pred = gt.copy()
    pred[0, J[end]] += offset
    r = pcp(pred, gt, np.ones((1, 14)), LSP, threshold=threshold, parts=LEG)
    assert set(r["per_part"]) == {"leg"} and r["sticks"] == 1
    assert r["mean"] == (1.0 if ok else 0.0) and r["per_part"]["leg"] == r["mean"]


def test_pcp_strict_both_endpoints():
    """Both endpoints must be close: 19 px + 19 px counts, 19 px + 21 px does not (no averaging)."""
    gt = _pose()[None]
    pred = gt.copy()
    pred[0, J["right_hip"]] += (-19, 0)
    pred[0, J["right_knee"]] += (19, 0)
    assert pcp(pred, gt, np.ones((1, 14)), LSP, parts=LEG)["mean"] == 1.0
    pred[0, J["right_knee"]] = gt[0, J["right_knee"]] + (0, 21)
    assert pcp(pred, gt, np.ones((1, 14)), LSP, parts=LEG)["mean"] == 0.0
    # Average endpoint error (19 + 21) / 2 = 20 would pass a loose PCP: strict PCP rejects it.


@pytest.mark.parametrize("joint", ["right_hip", "right_knee"])
def test_pcp_unlabelled_endpoint_removes_stick(joint):
    gt = _pose()[None]
    pred = gt.copy()
    pred[0, J[joint]] += (100, 0)  # would be wrong, but the joint is unlabelled
    vis = np.ones((1, 14))
    vis[0, J[joint]] = 0
    r = pcp(pred, gt, vis, LSP, parts=LEG)
    assert r["sticks"] == 0 and math.isnan(r["per_part"]["leg"]) and r["mean"] == 0.0


def test_pcp_unlabelled_joint_in_full_set():
    gt = _pose()[None]
    pred = gt.copy()
    vis = np.ones((1, 14))
    # right_knee: both right-leg sticks go, 8 correct sticks remain.
    pred[0, J["right_knee"]] += (100, 0)
    vis[0, J["right_knee"]] = 0
    r = pcp(pred, gt, vis, LSP)
    assert r["sticks"] == 8 and r["mean"] == 1.0
    assert r["per_part"]["upper_legs"] == 1.0 and r["per_part"]["lower_legs"] == 1.0
    # right_hip: the torso (needs both hips) and the right upper leg go.
    vis[0, J["right_knee"]] = 1
    pred[0, J["right_knee"]] = gt[0, J["right_knee"]]
    pred[0, J["right_hip"]] += (100, 0)
    vis[0, J["right_hip"]] = 0
    r = pcp(pred, gt, vis, LSP)
    assert r["sticks"] == 8 and r["mean"] == 1.0 and math.isnan(r["per_part"]["torso"])
    # An unlabelled shoulder: the torso (mid of shoulders) and that upper arm go.
    vis[0, J["right_hip"]] = 1
    pred[0, J["right_hip"]] = gt[0, J["right_hip"]]
    vis[0, J["left_shoulder"]] = 0
    r = pcp(pred, gt, vis, LSP)
    assert r["sticks"] == 8 and math.isnan(r["per_part"]["torso"])


TORSO = {"torso": PCP_PARTS["torso"]}


@pytest.mark.parametrize("shift, ok", [(78, True), (80, True), (82, False)])
def test_pcp_torso_uses_midpoints(shift, ok):
    """Torso: 80 px from mid-hips (0,80) to mid-shoulders (0,0), threshold 40. Moving only the
    left hip by ``shift`` moves the hip midpoint by ``shift / 2``."""
    gt = _pose()[None]
    pred = gt.copy()
    pred[0, J["left_hip"]] += (0, shift)
    r = pcp(pred, gt, np.ones((1, 14)), LSP, parts=TORSO)
    assert r["sticks"] == 1 and r["mean"] == (1.0 if ok else 0.0)


def test_pcp_torso_length_is_between_midpoints():
    """Wide hips/shoulders: the endpoint-to-endpoint diagonals (~ 113 px) are longer than the
    midpoint stick (80 px); a 41 px error at the shoulder midpoint must fail (threshold 40)."""
    gt = _pose()[None]
    gt[0, J["left_shoulder"]] = (40, 0)
    gt[0, J["right_shoulder"]] = (-40, 0)
    gt[0, J["left_hip"]] = (40, 80)
    gt[0, J["right_hip"]] = (-40, 80)
    pred = gt.copy()
    pred[0, J["left_shoulder"], 1] += 41
    pred[0, J["right_shoulder"], 1] += 41
    assert pcp(pred, gt, np.ones((1, 14)), LSP, parts=TORSO)["mean"] == 0.0
    pred[0, J["left_shoulder"], 1] -= 2
    pred[0, J["right_shoulder"], 1] -= 2  # 39 px
    assert pcp(pred, gt, np.ones((1, 14)), LSP, parts=TORSO)["mean"] == 1.0


def test_pcp_zero_length_stick_skipped():
    gt = np.zeros((1, 14, 2))
    r = pcp(gt, gt, np.ones((1, 14)), LSP)
    assert r["sticks"] == 0 and r["mean"] == 0.0
    assert all(math.isnan(v) for v in r["per_part"].values())


def test_pcp_shape_mismatch():
    with pytest.raises(ValueError, match="shape"):
        pcp(np.zeros((2, 14, 2)), np.zeros((2, 13, 2)), np.ones((2, 14)), LSP)
    with pytest.raises(ValueError, match="shape"):
        pcp(np.zeros((2, 14, 2)), np.zeros((2, 14, 2)), np.ones((3, 14)), LSP)
