"""Pose metrics. PCK follows DESIGN.md's protocol (torso-normalised, in image pixels).

PCK@a (Yang & Ramanan, PAMI 2013; torso variant as used for LSP by Pishchulin et al. /
Newell et al.): a joint is correct when its error is <= a x torso size, the torso being the
distance left shoulder - right hip (fallback right shoulder - left hip; a sample with neither
pair labelled is skipped). Only labelled joints count.
"""

from __future__ import annotations

from typing import Dict

import numpy as np

from zoo.skeletons import Skeleton

LIMB_EXCLUDED = ("neck", "head_top")


def torso_sizes(gt: np.ndarray, visible: np.ndarray, skeleton: Skeleton) -> np.ndarray:
    """Torso size per sample (NaN when neither diagonal is labelled)."""
    size = np.full(len(gt), np.nan)
    for a, b in reversed(skeleton.torso):  # the first pair wins where labelled
        ia, ib = skeleton.index(a), skeleton.index(b)
        ok = (visible[:, ia] > 0) & (visible[:, ib] > 0)
        d = np.linalg.norm(gt[:, ia] - gt[:, ib], axis=-1)
        size = np.where(ok & (d > 0), d, size)
    return size


def _errors(pred, gt, visible, skeleton):
    """``(errors (M, K), labelled (M, K), torso (M,))`` over the M samples with a measurable
    torso: the common ground of PCK and the far-detection count."""
    pred, gt, visible = np.asarray(pred, np.float64), np.asarray(gt, np.float64), np.asarray(visible)
    if pred.shape != gt.shape or pred.shape[:2] != visible.shape:
        raise ValueError(f"shape mismatch: pred {pred.shape}, gt {gt.shape}, visible {visible.shape}")
    torso = torso_sizes(gt, visible, skeleton)
    keep = np.isfinite(torso)
    return np.linalg.norm(pred - gt, axis=-1)[keep], visible[keep] > 0, torso[keep]


def pck(pred: np.ndarray, gt: np.ndarray, visible: np.ndarray, skeleton: Skeleton,
        alpha: float = 0.2) -> Dict[str, object]:
    """PCK@alpha: ``{"mean", "mean_limbs", "per_joint": {name: value}, "samples", "joints"}``.

    ``pred``, ``gt``: ``(N, K, 2)`` in the same pixel frame (image pixels for reported figures);
    ``visible``: ``(N, K)`` labels. Values are fractions in ``[0, 1]``.
    """
    err, lab, torso = _errors(pred, gt, visible, skeleton)
    correct = (err <= alpha * torso[:, None]) & lab
    per_joint = {}
    for j, name in enumerate(skeleton.joint_names):
        n = lab[:, j].sum()
        per_joint[name] = float(correct[:, j].sum() / n) if n else float("nan")
    limb_cols = [j for j, n in enumerate(skeleton.joint_names) if n not in LIMB_EXCLUDED]
    return {
        "mean": float(correct.sum() / max(lab.sum(), 1)),
        "mean_limbs": float(correct[:, limb_cols].sum() / max(lab[:, limb_cols].sum(), 1)),
        "per_joint": per_joint,
        "samples": int(len(torso)),
        "joints": int(lab.sum()),
    }


def far_detections(pred: np.ndarray, gt: np.ndarray, visible: np.ndarray, skeleton: Skeleton,
                   factor: float = 0.5) -> Dict[str, object]:
    """Labelled joints whose estimate lies more than ``factor`` x torso size from the truth (the
    PCK torso): detections on another body part or the background, the false positives a spatial
    model is meant to remove (Tompson et al. 2014). ``{"total", "per_joint", "joints", "factor"}``
    with counts."""
    err, lab, torso = _errors(pred, gt, visible, skeleton)
    far = (err > factor * torso[:, None]) & lab
    return {"total": int(far.sum()),
            "per_joint": {name: int(far[:, j].sum()) for j, name in enumerate(skeleton.joint_names)},
            "joints": int(lab.sum()), "factor": float(factor)}


# PDJ thresholds: the x axis of Toshev & Szegedy's Fig. 4 (normalised distance to true joint).
PDJ_FRACTIONS = tuple(round(0.025 * i, 3) for i in range(1, 21))  # 0.025 .. 0.5

# PCP sticks (Ferrari et al. CVPR 2008; LSP's 10 parts as in Toshev & Szegedy, Table 1): endpoints
# are joint names, or ``("mid", a, b)`` for the midpoint of two joints (the torso stick runs from
# the middle of the hips to the middle of the shoulders).
PCP_PARTS = {
    "torso": [(("mid", "left_hip", "right_hip"), ("mid", "left_shoulder", "right_shoulder"))],
    "upper_legs": [("right_hip", "right_knee"), ("left_hip", "left_knee")],
    "lower_legs": [("right_knee", "right_ankle"), ("left_knee", "left_ankle")],
    "upper_arms": [("right_shoulder", "right_elbow"), ("left_shoulder", "left_elbow")],
    "lower_arms": [("right_elbow", "right_wrist"), ("left_elbow", "left_wrist")],
    "head": [("neck", "head_top")],
}


def pdj_curve(pred: np.ndarray, gt: np.ndarray, visible: np.ndarray, skeleton: Skeleton,
              fractions=PDJ_FRACTIONS) -> Dict[str, object]:
    """Percentage of Detected Joints (Toshev & Szegedy, CVPR 2014, Sec. 6.1): a joint is detected
    when its error is within a fraction of the torso diameter (the PCK torso, see ``pck``).

    Returns ``{"fractions": [...], "mean": [...], "per_joint": {name: [...]}}``, one value per
    fraction, over labelled joints of samples with a measurable torso.
    """
    rows = [pck(pred, gt, visible, skeleton, a) for a in fractions]
    return {
        "fractions": [float(a) for a in fractions],
        "mean": [r["mean"] for r in rows],
        "per_joint": {n: [r["per_joint"][n] for r in rows] for n in skeleton.joint_names},
    }


def _endpoint(points: np.ndarray, visible: np.ndarray, skeleton: Skeleton, spec):
    """``(N, 2)`` position and ``(N,)`` labelled flag of a stick endpoint."""
    if isinstance(spec, tuple) and spec[0] == "mid":
        ia, ib = skeleton.index(spec[1]), skeleton.index(spec[2])
        return (points[:, ia] + points[:, ib]) / 2.0, (visible[:, ia] > 0) & (visible[:, ib] > 0)
    i = skeleton.index(spec)
    return points[:, i], visible[:, i] > 0


def pcp(pred: np.ndarray, gt: np.ndarray, visible: np.ndarray, skeleton: Skeleton,
        threshold: float = 0.5, parts=None) -> Dict[str, object]:
    """Strict Percentage of Correct Parts (Ferrari, Marin-Jimenez, Zisserman, CVPR 2008): a stick
    is correct when *both* predicted endpoints lie within ``threshold`` x the true stick length of
    their true positions. Sticks with an unlabelled endpoint are skipped.

    Returns ``{"mean": over all sticks, "per_part": {part: value}, "sticks": count}`` (fractions).
    """
    pred, gt, visible = np.asarray(pred, np.float64), np.asarray(gt, np.float64), np.asarray(visible)
    if pred.shape != gt.shape or pred.shape[:2] != visible.shape:
        raise ValueError(f"shape mismatch: pred {pred.shape}, gt {gt.shape}, visible {visible.shape}")
    parts = PCP_PARTS if parts is None else parts
    per_part, total_ok, total_n = {}, 0, 0
    for part, sticks in parts.items():
        ok_n, n = 0, 0
        for a, b in sticks:
            names = [n for end in (a, b) for n in ((end[1], end[2]) if isinstance(end, tuple) else (end,))]
            if any(n not in skeleton.joint_names for n in names):
                continue  # a stick this skeleton does not have (e.g. no "neck" in MPII-16)
            ga, la = _endpoint(gt, visible, skeleton, a)
            gb, lb = _endpoint(gt, visible, skeleton, b)
            pa, _ = _endpoint(pred, visible, skeleton, a)
            pb, _ = _endpoint(pred, visible, skeleton, b)
            length = np.linalg.norm(ga - gb, axis=-1)
            lab = la & lb & (length > 0)
            ok = (np.linalg.norm(pa - ga, axis=-1) <= threshold * length) & \
                 (np.linalg.norm(pb - gb, axis=-1) <= threshold * length) & lab
            ok_n, n = ok_n + int(ok.sum()), n + int(lab.sum())
        per_part[part] = ok_n / n if n else float("nan")
        total_ok, total_n = total_ok + ok_n, total_n + n
    return {"mean": total_ok / max(total_n, 1), "per_part": per_part, "sticks": total_n}
