"""OKS AP (pycocotools COCOeval) and per-joint keypoint-similarity accuracy on hand-computed cases."""

import math

import numpy as np
import pytest

from training.oks_metrics import OKS_AP_KEYS, keypoint_similarity, oks, oks_ap, oks_joint_subset, per_joint_ks_accuracy
from zoo.skeletons import COCO17, LSP14

AREA_M = 64.0 ** 2  # COCO "medium": 32^2 < area < 96^2
AREA_L = 128.0 ** 2  # "large"


def _people(n, k, seed=0):
    return np.random.default_rng(seed).uniform(0, 200, (n, k, 2))


def _shift_for(target_oks, sigma, area):
    """Shift d that gives every joint (hence the person) keypoint similarity ``target_oks`` with
    a single sigma: exp(-d^2 / (2 area (2 sigma)^2)) = target."""
    return math.sqrt(-math.log(target_oks) * 2 * area * (2 * sigma) ** 2)


def test_perfect_predictions():
    gt = [_people(3, 17, 0), _people(2, 17, 1)]
    vis = [np.ones((3, 17)), np.ones((2, 17))]
    areas = [np.array([AREA_M, AREA_L, AREA_L]), np.array([AREA_M, AREA_L])]
    scores = [np.array([0.9, 0.8, 0.7]), np.array([0.6, 0.5])]
    r = oks_ap(gt, vis, areas, gt, scores, COCO17.oks_sigmas, image_ids=[493652, 7])
    assert set(r) == set(OKS_AP_KEYS)
    for key in OKS_AP_KEYS:
        assert r[key] == pytest.approx(1.0), key


@pytest.mark.parametrize("target, ap, ap50, ap75", [
    (0.62, 0.3, 1.0, 0.0),  # passes OKS thresholds 0.50, 0.55, 0.60 of ten
    (0.82, 0.7, 1.0, 1.0),  # 0.50 .. 0.80: seven
    (0.45, 0.0, 0.0, 0.0),  # none
])
def test_shifted_prediction_known_oks(target, ap, ap50, ap75):
    sigma, k = 0.05, 14
    gt = _people(1, k)
    pred = gt + (_shift_for(target, sigma, AREA_M), 0.0)
    vis = np.ones((1, k))
    assert oks(pred, gt, vis, np.array([AREA_M]), [sigma] * k)[0] == pytest.approx(target)
    r = oks_ap([gt], [vis], [np.array([AREA_M])], [pred], [np.array([0.9])], [sigma] * k)
    assert (r["AP"], r["AP50"], r["AP75"]) == pytest.approx((ap, ap50, ap75))
    assert r["APm"] == pytest.approx(ap) and math.isnan(r["APl"])  # no large person: -1 -> NaN
    assert r["AR"] == pytest.approx(ap)  # one person: recall is 1 or 0 per threshold


def test_one_joint_wrong_coco_sigmas():
    """16 of 17 joints exact, one far off: OKS = 16/17 = 0.941, passes thresholds 0.50..0.90."""
    gt = _people(1, 17)
    pred = gt.copy()
    pred[0, COCO17.index("left_knee")] += 500
    r = oks_ap([gt], [np.ones((1, 17))], [np.array([AREA_L])], [pred], [np.array([1.0])],
               COCO17.oks_sigmas)
    assert r["AP"] == pytest.approx(0.9) and r["APl"] == pytest.approx(0.9)


def test_false_positive_ranked_first_lowers_ap():
    gt = _people(1, 17)
    vis, area = [np.ones((1, 17))], [np.array([AREA_M])]
    far = gt + 150.0
    preds = [np.concatenate([gt, far])]
    # FP scored above the true positive: precision 1/2 at recall 1 -> AP 0.5 (COCO's
    # interpolated precision is 0.5 at every recall threshold).
    low = oks_ap([gt], vis, area, preds, [np.array([0.5, 0.9])], COCO17.oks_sigmas)
    assert low["AP"] == pytest.approx(0.5) and low["AR"] == pytest.approx(1.0)
    # Ranked last it costs nothing.
    high = oks_ap([gt], vis, area, preds, [np.array([0.9, 0.5])], COCO17.oks_sigmas)
    assert high["AP"] == pytest.approx(1.0)


def test_missed_person_recall_half():
    """Two people, one found: precision 1 up to recall 0.5 -> 51 of COCO's 101 recall points."""
    gt = _people(2, 17)
    r = oks_ap([gt], [np.ones((2, 17))], [np.array([AREA_M, AREA_M])], [gt[:1]], [np.array([1.0])],
               COCO17.oks_sigmas)
    assert r["AP"] == pytest.approx(51 / 101) and r["AR"] == pytest.approx(0.5)


def test_unlabelled_gt_ignored_and_no_detections():
    gt = _people(2, 17)
    vis = np.ones((2, 17))
    vis[1] = 0  # num_keypoints == 0: COCOeval ignores this person
    r = oks_ap([gt], [vis], [np.array([AREA_M, AREA_M])], [gt[:1]], [np.array([1.0])], COCO17.oks_sigmas)
    assert r["AP"] == pytest.approx(1.0)
    none = oks_ap([gt], [vis], [np.array([AREA_M, AREA_M])], [np.zeros((0, 17, 2))], [np.zeros(0)],
                  COCO17.oks_sigmas)
    assert none["AP"] == 0.0 and none["AR"] == 0.0


def test_max_20_detections_per_image():
    gt = _people(1, 17)
    fps = gt + 150.0 + np.arange(20)[:, None, None]
    preds = [np.concatenate([fps, gt])]
    scores = [np.concatenate([np.linspace(0.99, 0.8, 20), [0.1]])]  # the true one is the 21st
    r = oks_ap([gt], [np.ones((1, 17))], [np.array([AREA_M])], preds, scores, COCO17.oks_sigmas)
    assert r["AP"] == 0.0


def test_k12_and_k14_sigmas():
    index, sigmas12 = oks_joint_subset(LSP14)
    assert len(index) == 12 and LSP14.index("neck") not in index and LSP14.index("head_top") not in index
    coco_sigma = {n: s for n, s in zip(COCO17.joint_names, COCO17.oks_sigmas)}
    np.testing.assert_allclose(sigmas12, [coco_sigma[LSP14.joint_names[j]] for j in index])
    # LSP-14 ground truth loaded from COCO: neck and head top unlabelled.
    gt14 = _people(1, 14)
    vis14 = np.ones((1, 14))
    vis14[0, [12, 13]] = 0
    pred14 = gt14.copy()
    pred14[0, [12, 13]] += 300  # unlabelled joints cannot cost anything
    area = [np.array([AREA_L])]
    r14 = oks_ap([gt14], [vis14], area, [pred14], [np.array([1.0])], LSP14.oks_sigmas)
    r12 = oks_ap([gt14[:, index]], [vis14[:, index]], area, [pred14[:, index]], [np.array([1.0])], sigmas12)
    assert r14["AP"] == pytest.approx(1.0) and r12["AP"] == pytest.approx(1.0)
    # One of 12 joints far off: OKS 11/12 = 0.917 -> thresholds 0.50..0.90 pass.
    pred12 = gt14[:, index].copy()
    pred12[0, 0] += 300
    r = oks_ap([gt14[:, index]], [vis14[:, index]], area, [pred12], [np.array([1.0])], sigmas12)
    assert r["AP"] == pytest.approx(0.9)
    with pytest.raises(ValueError, match="12 sigmas"):
        oks_ap([gt14], [vis14], area, [pred14], [np.array([1.0])], sigmas12)


def test_keypoint_similarity_formula():
    """COCO's term exp(-d^2 / (2 s^2 (2 sigma)^2)): d = 3, area 100, sigma 0.1 -> exp(-9/8)."""
    ks = keypoint_similarity(np.array([[3.0, 0.0], [0.0, 0.0]]), np.zeros((2, 2)), 100.0, [0.1, 0.1])
    np.testing.assert_allclose(ks, [math.exp(-9 / 8), 1.0])


def test_per_joint_ks_accuracy_hand_case():
    sigmas, area = [0.1, 0.1, 0.1], 100.0
    gt = np.array([[[10, 10], [20, 10], [30, 10]],
                   [[100, 100], [110, 100], [120, 100]]], float)
    vis = np.array([[1, 1, 1], [1, 1, 0]], float)
    d = _shift_for(0.4, 0.1, area)  # joint KS 0.4 < 0.5: a miss
    pred = gt[:1].copy()
    pred[0, 1, 0] += d  # person 0: KS (1, 0.4, 1), OKS 0.8 -> matched
    decoy = gt[:1] + (2.0, 0.0)  # lower score, same person: finds it taken, matches nothing
    far = gt[:1] + 500.0
    preds = np.concatenate([decoy, pred, far])
    r = per_joint_ks_accuracy([gt], [vis], [np.array([area, area])], [preds],
                              [np.array([0.5, 0.9, 0.7])], sigmas)
    # Person 1 is unmatched: its 2 labelled joints are misses.
    np.testing.assert_allclose(r["per_joint"], [1 / 2, 0 / 2, 1 / 1])
    assert r["mean"] == pytest.approx(2 / 5)
    assert r["joints"].tolist() == [2, 2, 1] and (r["people"], r["matched"]) == (2, 1)
    # The decoy ranked first takes person 0 instead: all its joints within KS 0.5 (d = 2 -> 0.61).
    r = per_joint_ks_accuracy([gt], [vis], [np.array([area, area])], [preds],
                              [np.array([0.95, 0.9, 0.7])], sigmas)
    np.testing.assert_allclose(r["per_joint"], [1 / 2, 1 / 2, 1 / 1])
    # No predictions at all: every labelled joint is a miss; a joint never labelled is NaN.
    r = per_joint_ks_accuracy([gt], [np.array([[1, 1, 0], [1, 1, 0]], float)], [np.array([area, area])],
                              [np.zeros((0, 3, 2))], [np.zeros(0)], sigmas)
    assert r["per_joint"][:2].tolist() == [0.0, 0.0] and math.isnan(r["per_joint"][2]) and r["mean"] == 0.0


def test_list_lengths_checked():
    with pytest.raises(ValueError, match="pred_scores has 1 images, gt_keypoints has 2"):
        oks_ap([_people(1, 17)] * 2, [np.ones((1, 17))] * 2, [np.array([AREA_M])] * 2,
               [_people(1, 17)] * 2, [np.array([1.0])], COCO17.oks_sigmas)
