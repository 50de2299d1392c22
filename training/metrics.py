"""Pose metrics. PCK follows the evaluation protocol of docs/evaluation.md (torso-normalised, in
image pixels).

PCK@a (Yang & Ramanan, PAMI 2013; torso variant as used for LSP by Pishchulin et al. /
Newell et al.): a joint is correct when its error is <= a x torso size, the torso being the
distance left shoulder - right hip (fallback right shoulder - left hip; a sample with neither
pair labelled is skipped). Only labelled joints count.

The benchmarks' own variants: ``flic_pck`` (FLIC, torso left shoulder - right hip, no fallback)
and ``pckh`` (MPII's PCKh, normalised by the head segment).

Multi-person (COCO) figures, ``oks_ap`` and ``per_joint_ks_accuracy``, use the object keypoint
similarity (OKS) of COCO's keypoint challenge; see the section at the end of the file.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
from typing import Dict, Optional, Sequence, Tuple

import numpy as np

from zoo.skeletons import COCO17, FLIC11, MPII16, Skeleton, joint_mapping

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


# ----------------------------------------------------------------- COCO keypoints: OKS and AP
# Object keypoint similarity (COCO keypoint evaluation, https://cocodataset.org/#keypoints-eval;
# Ronchi & Perona, "Benchmarking and Error Diagnosis in Multi-Instance Pose Estimation", ICCV 2017):
#     OKS = sum_i KS_i [v_i > 0] / sum_i [v_i > 0],   KS_i = exp(-d_i^2 / (2 s^2 k_i^2))
# with d_i the distance to the labelled joint i, s^2 the person's segment area and k_i = 2 sigma_i
# (pycocotools' computeOks: ``e = (dx**2 + dy**2) / vars / (area + eps) / 2``, vars = (2 sigma)^2).

OKS_AP_KEYS = ("AP", "AP50", "AP75", "APm", "APl", "AR", "AR50", "AR75", "ARm", "ARl")
_EPS = np.spacing(1)  # pycocotools' eps in the OKS denominator


def keypoint_similarity(pred: np.ndarray, gt: np.ndarray, areas, sigmas) -> np.ndarray:
    """COCO's per-joint keypoint similarity ``exp(-d^2 / (2 area (2 sigma)^2))``.

    ``pred`` ``(..., K, 2)`` and ``gt`` ``(..., K, 2)`` broadcast against each other, ``areas``
    against their leading shape; returns ``(..., K)``. Labels are not applied (see ``oks``).
    """
    pred, gt = np.asarray(pred, np.float64), np.asarray(gt, np.float64)
    variances = (2.0 * np.asarray(sigmas, np.float64)) ** 2
    d2 = np.sum((pred - gt) ** 2, axis=-1)
    e = d2 / variances / (np.asarray(areas, np.float64)[..., None] + _EPS) / 2.0
    return np.exp(-e)


def oks(pred: np.ndarray, gt: np.ndarray, visible: np.ndarray, areas, sigmas) -> np.ndarray:
    """Object keypoint similarity: mean ``keypoint_similarity`` over the labelled joints
    (``visible > 0``); NaN for a person without a labelled joint. Shapes as there."""
    ks = keypoint_similarity(pred, gt, areas, sigmas)
    lab = np.broadcast_to(np.asarray(visible) > 0, ks.shape)
    n = lab.sum(axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n > 0, (ks * lab).sum(axis=-1) / np.maximum(n, 1), np.nan)


def oks_joint_subset(skeleton: Skeleton, annotated: Skeleton = COCO17) -> Tuple[Tuple[int, ...], np.ndarray]:
    """Joints of ``skeleton`` that ``annotated`` labels, matched by name, and their OKS sigmas.

    Returns ``(index, sigmas)``: indices into ``skeleton``'s joints and ``annotated``'s sigmas for
    them. For an LSP-14 model scored on COCO (``load_coco_keypoints(skeleton="lsp14")``) these
    are the 12 limb joints (``neck`` and ``head_top`` have no COCO ground truth) with COCO's
    sigmas; select them from ground truth and predictions alike::

        index, sigmas = oks_joint_subset(LSP14)
        oks_ap([g[:, index] for g in samples.keypoints], [v[:, index] for v in samples.visible],
               samples.areas, [p[:, index] for p in preds], scores, sigmas)
    """
    if annotated.oks_sigmas is None:
        raise ValueError(f"Skeleton {annotated.name!r} defines no OKS sigmas")
    mapping = joint_mapping(annotated, skeleton)
    index = tuple(j for j, m in enumerate(mapping) if m >= 0)
    return index, np.asarray([annotated.oks_sigmas[mapping[j]] for j in index], np.float64)


def _per_image(gt_keypoints, gt_visible, gt_areas, pred_keypoints, pred_scores, sigmas,
               pred_joint_scores=None):
    """Checks the per-image lists; yields ``(gt (G, K, 2), vis (G, K), areas (G,), pred (D, K, 2),
    scores (D,), joint_scores (D, K) or None)`` as float64 arrays."""
    k = len(sigmas)
    n = len(gt_keypoints)
    lists = {"gt_visible": gt_visible, "gt_areas": gt_areas, "pred_keypoints": pred_keypoints,
             "pred_scores": pred_scores}
    if pred_joint_scores is not None:
        lists["pred_joint_scores"] = pred_joint_scores
    for name, values in lists.items():
        if len(values) != n:
            raise ValueError(f"{name} has {len(values)} images, gt_keypoints has {n}")
    out = []
    for i in range(n):
        g = np.asarray(gt_keypoints[i], np.float64)
        g = g.reshape(0, k, 2) if g.size == 0 else g
        v = np.asarray(gt_visible[i], np.float64).reshape(len(g), -1) if len(g) else np.zeros((0, k))
        a = np.asarray(gt_areas[i], np.float64).reshape(-1)
        p = np.asarray(pred_keypoints[i], np.float64)
        p = p.reshape(0, k, 2) if p.size == 0 else p
        sc = np.asarray(pred_scores[i], np.float64).reshape(-1)
        js = None
        if pred_joint_scores is not None:
            js = np.asarray(pred_joint_scores[i], np.float64).reshape(len(p), -1)
        if g.ndim != 3 or g.shape[1:] != (k, 2) or v.shape != (len(g), k) or a.shape != (len(g),):
            raise ValueError(f"image {i}: gt keypoints {g.shape}, visible {v.shape} and areas {a.shape} "
                             f"must be (G, {k}, 2), (G, {k}), (G,) for {k} sigmas")
        if p.ndim != 3 or p.shape[1:] != (k, 2) or sc.shape != (len(p),):
            raise ValueError(f"image {i}: pred keypoints {p.shape} and scores {sc.shape} must be "
                             f"(D, {k}, 2) and (D,) for {k} sigmas")
        if js is not None and js.shape != (len(p), k):
            raise ValueError(f"image {i}: pred_joint_scores {js.shape} must be ({len(p)}, {k})")
        out.append((g, v, a, p, sc, js))
    return out


def oks_ap(gt_keypoints: Sequence[np.ndarray], gt_visible: Sequence[np.ndarray],
           gt_areas: Sequence[np.ndarray], pred_keypoints: Sequence[np.ndarray],
           pred_scores: Sequence[np.ndarray], sigmas, image_ids: Optional[Sequence[int]] = None,
           pred_joint_scores: Optional[Sequence[np.ndarray]] = None) -> Dict[str, float]:
    """COCO keypoint AP / AR (https://cocodataset.org/#keypoints-eval; Ronchi & Perona, ICCV 2017),
    computed by pycocotools' ``COCOeval(iouType="keypoints")`` on in-memory COCO objects.

    Args:
        gt_keypoints: per image ``(G_i, K, 2)`` ground-truth x, y in image pixels.
        gt_visible: per image ``(G_i, K)``, > 0 where the joint is labelled.
        gt_areas: per image ``(G_i,)`` person areas (COCO: segment area), the OKS scale.
        pred_keypoints: per image ``(D_i, K, 2)`` predicted people in the same pixel frame.
        pred_scores: per image ``(D_i,)`` person scores (they rank the detections).
        sigmas: ``K`` per-joint OKS sigmas, e.g. ``COCO17.oks_sigmas`` or the second value of
            ``oks_joint_subset``; any ``K`` works (``params.kpt_oks_sigmas`` is set from it).
        image_ids: per image ids (default ``1..N``), e.g. ``MultiPersonSamples.image_ids``.
        pred_joint_scores: per image ``(D_i, K)`` joint scores, stored as the results' third
            keypoint value; COCOeval does not use them, so they do not change the figures.

    Returns ``{"AP", "AP50", "AP75", "APm", "APl", "AR", "AR50", "AR75", "ARm", "ARl"}`` as floats
    in ``[0, 1]`` (pycocotools' ``stats`` order), NaN where pycocotools reports -1 (no ground truth
    in that area range). As in COCO: AP averages OKS thresholds 0.50:0.05:0.95 with 101-point
    interpolated precision; medium is area 32^2 - 96^2 and large > 96^2 (keypoints have no
    "small"); at most 20 detections per image count (``maxDets = [20]``, highest scores first);
    a person without a labelled joint (``num_keypoints == 0``) is ignored, as are detections
    matched to one.
    """
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    sigmas = np.asarray(sigmas, np.float64).reshape(-1)
    rows = _per_image(gt_keypoints, gt_visible, gt_areas, pred_keypoints, pred_scores, sigmas,
                      pred_joint_scores)
    ids = list(range(1, len(rows) + 1)) if image_ids is None else [int(i) for i in image_ids]
    if len(ids) != len(rows) or len(set(ids)) != len(ids):
        raise ValueError(f"image_ids must be {len(rows)} distinct ids, got {len(ids)} "
                         f"({len(set(ids))} distinct)")
    k = len(sigmas)
    annotations, detections = [], []
    for image_id, (g, v, a, p, sc, js) in zip(ids, rows):
        for person, vis, area in zip(g, v, a):
            lab = vis > 0
            flat = np.zeros((k, 3))
            flat[lab, :2], flat[lab, 2] = person[lab], 2.0
            if lab.any():
                lo, hi = person[lab].min(axis=0), person[lab].max(axis=0)
                box = [float(lo[0]), float(lo[1]), float(hi[0] - lo[0]), float(hi[1] - lo[1])]
            else:
                box = [0.0, 0.0, 0.0, 0.0]
            annotations.append({"id": len(annotations) + 1, "image_id": image_id, "category_id": 1,
                                "keypoints": flat.ravel().tolist(), "num_keypoints": int(lab.sum()),
                                "area": float(area), "bbox": box, "iscrowd": 0})
        for d in range(len(p)):
            flat = np.ones((k, 3))
            flat[:, :2] = p[d]
            if js is not None:
                flat[:, 2] = js[d]
            detections.append({"image_id": image_id, "category_id": 1,
                               "keypoints": flat.ravel().tolist(), "score": float(sc[d])})
    categories = [{"id": 1, "name": "person", "keypoints": [f"joint_{j}" for j in range(k)]}]
    with contextlib.redirect_stdout(io.StringIO()):  # pycocotools prints its progress
        coco_gt = COCO()
        coco_gt.dataset = {"images": [{"id": i} for i in ids], "annotations": annotations,
                           "categories": categories}
        coco_gt.createIndex()
        if detections:
            coco_dt = coco_gt.loadRes(detections)
        else:  # loadRes cannot take an empty list
            coco_dt = COCO()
            coco_dt.dataset = {"images": list(coco_gt.dataset["images"]), "annotations": [],
                               "categories": categories}
            coco_dt.createIndex()
        evaluator = COCOeval(coco_gt, coco_dt, iouType="keypoints")
        evaluator.params.kpt_oks_sigmas = sigmas
        evaluator.evaluate()
        evaluator.accumulate()
        evaluator.summarize()
    return {key: (float(v) if v >= 0 else float("nan")) for key, v in zip(OKS_AP_KEYS, evaluator.stats)}


def per_joint_ks_accuracy(gt_keypoints: Sequence[np.ndarray], gt_visible: Sequence[np.ndarray],
                          gt_areas: Sequence[np.ndarray], pred_keypoints: Sequence[np.ndarray],
                          pred_scores: Sequence[np.ndarray], sigmas, ks_threshold: float = 0.5,
                          match_oks: float = 0.5, max_detections: int = 20) -> Dict[str, object]:
    """Per-joint accuracy of a multi-person model under COCO's keypoint similarity (for model cards,
    where AP alone does not say which joints fail). Inputs as ``oks_ap``.

    In each image the (at most ``max_detections``) predictions, taken by person score from the
    highest, are matched one-to-one to the unmatched ground-truth person of highest OKS when that
    OKS is >= ``match_oks`` (COCOeval's greedy matching at one threshold). A labelled joint is
    correct when its matched prediction's keypoint similarity
    ``exp(-d^2 / (2 area (2 sigma)^2))`` (COCO's per-joint OKS term) is >= ``ks_threshold``;
    joints of unmatched people are misses.

    Returns ``{"per_joint": (K,) fractions (NaN for a joint never labelled), "mean": over all
    labelled joints, "joints": (K,) labelled counts, "people": labelled people, "matched":
    matched people}``.
    """
    sigmas = np.asarray(sigmas, np.float64).reshape(-1)
    rows = _per_image(gt_keypoints, gt_visible, gt_areas, pred_keypoints, pred_scores, sigmas)
    correct = np.zeros(len(sigmas))
    labelled = np.zeros(len(sigmas))
    people = matched = 0
    for g, v, a, p, sc, _ in rows:
        lab = v > 0
        real = lab.any(axis=1)  # people without a labelled joint are not scored
        labelled += lab.sum(axis=0)
        people += int(real.sum())
        if not len(p) or not real.any():
            continue
        order = np.argsort(-sc, kind="mergesort")[:max_detections]
        ks = keypoint_similarity(p[order][:, None], g[None], a[None, :], sigmas)  # (D, G, K)
        with np.errstate(invalid="ignore"):
            sim = np.where(real[None], (ks * lab[None]).sum(-1) / np.maximum(lab.sum(-1), 1)[None], -1.0)
        taken = np.zeros(len(g), bool)
        for d in range(len(order)):
            cand = np.where(taken, -1.0, sim[d])
            best = int(np.argmax(cand))
            if cand[best] >= match_oks:
                taken[best] = True
                matched += 1
                correct += (ks[d, best] >= ks_threshold) & lab[best]
    with np.errstate(invalid="ignore", divide="ignore"):
        per_joint = np.where(labelled > 0, correct / np.maximum(labelled, 1), np.nan)
    return {"per_joint": per_joint, "mean": float(correct.sum() / max(labelled.sum(), 1)),
            "joints": labelled.astype(np.int64), "people": people, "matched": matched}
