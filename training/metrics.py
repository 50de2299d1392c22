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


def pck(pred: np.ndarray, gt: np.ndarray, visible: np.ndarray, skeleton: Skeleton,
        alpha: float = 0.2) -> Dict[str, object]:
    """PCK@alpha: ``{"mean", "mean_limbs", "per_joint": {name: value}, "samples", "joints"}``.

    ``pred``, ``gt``: ``(N, K, 2)`` in the same pixel frame (image pixels for reported figures);
    ``visible``: ``(N, K)`` labels. Values are fractions in ``[0, 1]``.
    """
    pred, gt, visible = np.asarray(pred, np.float64), np.asarray(gt, np.float64), np.asarray(visible)
    if pred.shape != gt.shape or pred.shape[:2] != visible.shape:
        raise ValueError(f"shape mismatch: pred {pred.shape}, gt {gt.shape}, visible {visible.shape}")
    torso = torso_sizes(gt, visible, skeleton)
    keep = np.isfinite(torso)
    err = np.linalg.norm(pred - gt, axis=-1)[keep]
    lab = (visible[keep] > 0)
    correct = (err <= alpha * torso[keep, None]) & lab
    per_joint = {}
    for j, name in enumerate(skeleton.joint_names):
        n = lab[:, j].sum()
        per_joint[name] = float(correct[:, j].sum() / n) if n else float("nan")
    limb_cols = [j for j, n in enumerate(skeleton.joint_names) if n not in LIMB_EXCLUDED]
    return {
        "mean": float(correct.sum() / max(lab.sum(), 1)),
        "mean_limbs": float(correct[:, limb_cols].sum() / max(lab[:, limb_cols].sum(), 1)),
        "per_joint": per_joint,
        "samples": int(keep.sum()),
        "joints": int(lab.sum()),
    }
