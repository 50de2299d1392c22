"""Pose metrics. PCK follows the evaluation protocol of docs/evaluation.md (torso-normalised, in
image pixels).

PCK@a (Yang & Ramanan, PAMI 2013; torso variant as used for LSP by Pishchulin et al. /
Newell et al.): a joint is correct when its error is <= a x torso size, the torso being the
distance left shoulder - right hip (fallback right shoulder - left hip; a sample with neither
pair labelled is skipped). Only labelled joints count.

The benchmarks' own variants: ``flic_pck`` (FLIC, torso left shoulder - right hip, no fallback)
and ``pckh`` (MPII's PCKh, normalised by the head segment).

Multi-person (COCO) figures, OKS AP and the per-joint keypoint-similarity accuracy, live in
``training.oks_metrics``.
"""

from __future__ import annotations

import dataclasses
from typing import Dict, Optional

import numpy as np

from zoo.skeletons import FLIC11, MPII16, Skeleton

#: Joints outside the "limb joints" mean (docs/evaluation.md: no head or face points, nor MPII's
#: trunk points): what is left is the 12 joints every skeleton shares, shoulders to ankles.
LIMB_EXCLUDED = ("neck", "head_top", "nose", "left_eye", "right_eye", "left_ear", "right_ear", "pelvis", "thorax",
                 "upper_neck")


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


def _pooled(correct: np.ndarray, lab: np.ndarray, names) -> Dict[str, object]:
    """Pooled mean and per-joint fractions of ``correct`` over the ``lab``elled joints."""
    per_joint = {}
    for j, name in enumerate(names):
        n = lab[:, j].sum()
        per_joint[name] = float(correct[:, j].sum() / n) if n else float("nan")
    return {"mean": float(correct.sum() / max(lab.sum(), 1)), "per_joint": per_joint}


def pck(pred: np.ndarray, gt: np.ndarray, visible: np.ndarray, skeleton: Skeleton,
        alpha: float = 0.2) -> Dict[str, object]:
    """PCK@alpha: ``{"mean", "mean_limbs", "per_joint": {name: value}, "samples", "joints"}``.

    ``pred``, ``gt``: ``(N, K, 2)`` in the same pixel frame (image pixels for reported figures);
    ``visible``: ``(N, K)`` labels. Values are fractions in ``[0, 1]``.
    """
    err, lab, torso = _errors(pred, gt, visible, skeleton)
    correct = (err <= alpha * torso[:, None]) & lab
    limb_cols = [j for j, n in enumerate(skeleton.joint_names) if n not in LIMB_EXCLUDED]
    pooled = _pooled(correct, lab, skeleton.joint_names)
    return {
        "mean": pooled["mean"],
        "mean_limbs": float(correct[:, limb_cols].sum() / max(lab[:, limb_cols].sum(), 1)),
        "per_joint": pooled["per_joint"],
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


# ------------------------------------------------------------- the benchmarks' own PCKs: FLIC, MPII
# FLIC (Sapp & Taskar, "MODEC", CVPR 2013): PCK with the threshold alpha x the torso size of the
# true pose, the torso being the distance left shoulder - right hip, no fallback (every FLIC frame
# labels both). Tompson, Jain, LeCun & Bregler (NIPS 2014, https://arxiv.org/abs/1406.2984) and
# later FLIC papers report it at 0.05 - 0.2 (figures usually at 0.2, for elbows and wrists); the
# reference implementation distributed with the MPII benchmark's evaluation code (as in
# bearpaw/eval_pose ``eval_pck.m``: "PCK measure, as defined in [Sapp&Taskar, CVPR'13]; torso
# height: ||left_shoulder - right hip||") is the same rule.
FLIC_TORSO = ("left_shoulder", "right_hip")
FLIC_ARMS = ("left_elbow", "right_elbow", "left_wrist", "right_wrist")

# MPII (Andriluka, Pishchulin, Gehler, Schiele, CVPR 2014): PCKh@alpha, the threshold alpha x the
# head segment length, which the official evaluation (evaluatePCKh.m; its Python ports in HRNet and
# mmpose, ``SC_BIAS = 0.6``) takes as 0.6 x the diagonal of the annotated head box:
# ``0.6 * norm([x2 - x1, y2 - y1])``; a joint is correct when ``error / head size <= alpha``; only
# annotated joints count. The benchmark's "Mean" leaves out pelvis and thorax.
MPII_HEAD_SCALE = 0.6
MPII_MEAN_EXCLUDED = ("pelvis", "thorax")


def flic_pck(pred: np.ndarray, gt: np.ndarray, visible: np.ndarray, alpha: float = 0.2) -> Dict[str, object]:
    """FLIC's PCK@alpha on ``zoo.skeletons.FLIC11`` joints: correct when the error is
    <= alpha x ||left_shoulder - right_hip|| of the true pose (see the note above).

    ``pred``, ``gt``: ``(N, 11, 2)`` in one pixel frame; ``visible``: ``(N, 11)`` labels.
    Returns ``{"mean", "mean_arms" (elbows and wrists), "per_joint": {name: value}, "samples",
    "joints"}`` (fractions); samples without both torso joints labelled are skipped.
    """
    gt = np.asarray(gt, np.float64)
    if gt.ndim != 3 or gt.shape[1:] != (FLIC11.num_joints, 2):
        raise ValueError(f"FLIC PCK takes (N, {FLIC11.num_joints}, 2) FLIC11 keypoints, got {gt.shape}")
    err, lab, torso = _errors(pred, gt, visible, dataclasses.replace(FLIC11, torso=(FLIC_TORSO,)))
    correct = (err <= alpha * torso[:, None]) & lab
    arms = [FLIC11.index(n) for n in FLIC_ARMS]
    out = _pooled(correct, lab, FLIC11.joint_names)
    out.update(mean_arms=float(correct[:, arms].sum() / max(lab[:, arms].sum(), 1)),
               samples=int(len(torso)), joints=int(lab.sum()))
    return out


def head_sizes(head_boxes: np.ndarray) -> np.ndarray:
    """MPII's head segment length per sample: ``0.6 x ||(x2 - x1, y2 - y1)||`` of ``(N, 4)`` boxes."""
    boxes = np.asarray(head_boxes, np.float64).reshape(-1, 4)
    return MPII_HEAD_SCALE * np.linalg.norm(boxes[:, 2:4] - boxes[:, 0:2], axis=-1)


def pckh(pred: np.ndarray, gt: np.ndarray, visible: np.ndarray, head_boxes: np.ndarray,
         alpha: float = 0.5, skeleton: Optional[Skeleton] = None) -> Dict[str, object]:
    """MPII's PCKh@alpha (default 0.5; see the note above) on ``zoo.skeletons.MPII16`` joints.

    ``pred``, ``gt``: ``(N, K, 2)`` image pixels; ``visible``: ``(N, K)`` labels; ``head_boxes``:
    ``(N, 4)`` ``x1, y1, x2, y2`` (``PoseSamples.head_boxes``), or ``(N,)`` head segment lengths
    where the data gives them directly (``PoseSamples.head_sizes``). Returns ``{"mean"`` (all labelled
    joints), ``"mean_benchmark"`` (without pelvis and thorax: the official table's and HRNet's
    "Mean"), ``"mean_limbs"`` (the 12 limb joints, ``LIMB_EXCLUDED``), ``"per_joint": {name: value},
    "samples", "joints"}`` as fractions; samples whose head
    box has no extent are skipped.
    """
    skeleton = skeleton or MPII16
    pred, gt, visible = np.asarray(pred, np.float64), np.asarray(gt, np.float64), np.asarray(visible)
    if pred.shape != gt.shape or pred.shape[:2] != visible.shape or gt.shape[1:] != (skeleton.num_joints, 2):
        raise ValueError(f"shape mismatch: pred {pred.shape}, gt {gt.shape}, visible {visible.shape} "
                         f"for {skeleton.num_joints} {skeleton.name} joints")
    heads = np.asarray(head_boxes, np.float64)
    size = heads.reshape(-1) if heads.ndim == 1 else head_sizes(heads)
    if len(size) != len(gt):
        raise ValueError(f"{len(size)} head boxes for {len(gt)} samples")
    keep = np.isfinite(size) & (size > 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        dist = np.linalg.norm(pred - gt, axis=-1)[keep] / size[keep, None]
    lab = visible[keep] > 0
    correct = (dist <= alpha) & lab
    out = _pooled(correct, lab, skeleton.joint_names)
    cols = [j for j, n in enumerate(skeleton.joint_names) if n not in MPII_MEAN_EXCLUDED]
    limbs = [j for j, n in enumerate(skeleton.joint_names) if n not in LIMB_EXCLUDED]
    out.update(mean_benchmark=float(correct[:, cols].sum() / max(lab[:, cols].sum(), 1)),
               mean_limbs=float(correct[:, limbs].sum() / max(lab[:, limbs].sum(), 1)),
               samples=int(keep.sum()), joints=int(lab.sum()))
    return out
