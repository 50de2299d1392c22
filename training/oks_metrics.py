"""Multi-person (COCO keypoints) metrics: object keypoint similarity, OKS AP / AR by pycocotools,
and the per-joint keypoint-similarity accuracy the model cards show.

Object keypoint similarity (COCO keypoint evaluation, https://cocodataset.org/#keypoints-eval;
Ronchi & Perona, "Benchmarking and Error Diagnosis in Multi-Instance Pose Estimation", ICCV 2017):

    OKS = sum_i KS_i [v_i > 0] / sum_i [v_i > 0],   KS_i = exp(-d_i^2 / (2 s^2 k_i^2))

with d_i the distance to the labelled joint i, s^2 the person's segment area and k_i = 2 sigma_i
(pycocotools' computeOks: ``e = (dx**2 + dy**2) / vars / (area + eps) / 2``, vars = (2 sigma)^2).
"""

from __future__ import annotations

import contextlib
import io
from typing import Dict, Optional, Sequence, Tuple

import numpy as np

from zoo.skeletons import COCO17, Skeleton, joint_mapping

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
    sigmas = np.asarray(sigmas, np.float64).reshape(-1)
    rows = _per_image(gt_keypoints, gt_visible, gt_areas, pred_keypoints, pred_scores, sigmas,
                      pred_joint_scores)
    ids = list(range(1, len(rows) + 1)) if image_ids is None else [int(i) for i in image_ids]
    if len(ids) != len(rows) or len(set(ids)) != len(ids):
        raise ValueError(f"image_ids must be {len(rows)} distinct ids, got {len(ids)} "
                         f"({len(set(ids))} distinct)")
    stats = _cocoeval_stats(ids, _coco_ground_truth(ids, rows, len(sigmas)),
                            _coco_detections(ids, rows, len(sigmas)), sigmas)
    return {key: (float(v) if v >= 0 else float("nan")) for key, v in zip(OKS_AP_KEYS, stats)}


def _coco_ground_truth(ids, rows, k: int):
    """COCO annotations of the ground-truth people (all labelled joints ``v = 2``, a box around them)."""
    annotations = []
    for image_id, (g, v, a, *_) in zip(ids, rows):
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
    return annotations


def _coco_detections(ids, rows, k: int):
    """COCO keypoint results of the predicted people (joint scores as the third value, else 1)."""
    detections = []
    for image_id, (_, _, _, p, sc, js) in zip(ids, rows):
        for d in range(len(p)):
            flat = np.ones((k, 3))
            flat[:, :2] = p[d]
            if js is not None:
                flat[:, 2] = js[d]
            detections.append({"image_id": image_id, "category_id": 1,
                               "keypoints": flat.ravel().tolist(), "score": float(sc[d])})
    return detections


def _cocoeval_stats(ids, annotations, detections, sigmas):
    """pycocotools' ``COCOeval(iouType="keypoints")`` on in-memory COCO objects: its ``stats``."""
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    k = len(sigmas)
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
    return evaluator.stats


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
        ks, pairs = _greedy_matches(g, lab, a, p, sc, sigmas, match_oks, max_detections)
        for d, best, _ in pairs:
            matched += 1
            correct += (ks[d, best] >= ks_threshold) & lab[best]
    with np.errstate(invalid="ignore", divide="ignore"):
        per_joint = np.where(labelled > 0, correct / np.maximum(labelled, 1), np.nan)
    return {"per_joint": per_joint, "mean": float(correct.sum() / max(labelled.sum(), 1)),
            "joints": labelled.astype(np.int64), "people": people, "matched": matched}


def _greedy_matches(g, lab, a, p, sc, sigmas, match_oks: float, max_detections: int):
    """COCOeval's greedy matching at one threshold in one image: the (at most ``max_detections``)
    predictions ``p (D, K, 2)``, by score ``sc`` from the highest, each take the unmatched labelled
    person of ``g (G, K, 2)`` (labels ``lab (G, K)``, areas ``a``) of highest OKS when that OKS is
    >= ``match_oks``. Returns ``(ks, pairs)``: ``ks (D', G, K)`` the keypoint similarities of the
    predictions in that order to every person, ``pairs`` ``[(index in that order, person, OKS)]``."""
    real = lab.any(axis=1)
    order = np.argsort(-sc, kind="mergesort")[:max_detections]
    ks = keypoint_similarity(p[order][:, None], g[None], a[None, :], sigmas)  # (D, G, K)
    with np.errstate(invalid="ignore"):
        sim = np.where(real[None], (ks * lab[None]).sum(-1) / np.maximum(lab.sum(-1), 1)[None], -1.0)
    taken = np.zeros(len(g), bool)
    pairs = []
    for d in range(len(order)):
        cand = np.where(taken, -1.0, sim[d])
        best = int(np.argmax(cand)) if len(cand) else 0
        if len(cand) and cand[best] >= match_oks:
            taken[best] = True
            pairs.append((d, best, float(cand[best])))
    return ks, pairs


def per_image_oks(gt_keypoints: Sequence[np.ndarray], gt_visible: Sequence[np.ndarray],
                  gt_areas: Sequence[np.ndarray], pred_keypoints: Sequence[np.ndarray],
                  pred_scores: Sequence[np.ndarray], sigmas, max_detections: int = 20) -> np.ndarray:
    """How well each image's people were found, for listing the worst images of a model card.
    Inputs as ``oks_ap``.

    In each image the predictions, by person score from the highest, are matched one-to-one to
    the unmatched labelled person of highest OKS (``per_joint_ks_accuracy``'s greedy matching,
    without a threshold: any OKS > 0); the image's figure is the mean OKS of its labelled people,
    0 for a person no prediction matched. Returns ``(N,)``, NaN for an image without a labelled
    person. Extra predictions cost nothing here (AP counts them).
    """
    sigmas = np.asarray(sigmas, np.float64).reshape(-1)
    rows = _per_image(gt_keypoints, gt_visible, gt_areas, pred_keypoints, pred_scores, sigmas)
    out = np.full(len(rows), np.nan)
    for i, (g, v, a, p, sc, _) in enumerate(rows):
        lab = v > 0
        people = int(lab.any(axis=1).sum())
        if not people:
            continue
        found = _greedy_matches(g, lab, a, p, sc, sigmas, 1e-12, max_detections)[1] if len(p) else []
        out[i] = sum(o for *_, o in found) / people
    return out
