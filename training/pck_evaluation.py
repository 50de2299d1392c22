"""PCK of a top-down model on pose samples with the protocol of docs/evaluation.md: protocol crop ->
predict -> inverse affine -> PCK@0.2 / PCK@0.1 (and PCKh, PDJ, PCP) in image pixels."""

from __future__ import annotations

from typing import Dict

import numpy as np

from training.datasets.base import PoseSamples
from training.metrics import pck
from training.pipeline import evaluation_dataset
from zoo.skeletons import get_skeleton, joint_mapping

PROTOCOL = ("docs/evaluation.md top-down protocol: square box of side 1.25 x max(w, h) of the labelled joints, "
            "affine crop with zero padding to the input size, prediction mapped back to image pixels; "
            "PCK torso-normalised (left shoulder - right hip, fallback right shoulder - left hip), "
            "labelled joints only; means pooled over all labelled joints")


def predict_samples(model, samples: PoseSamples, batch_size: int = 32, progress: bool = False,
                    all_stages: bool = False):
    """Predicts every sample; returns ``(keypoints (N, K, 2) image pixels, scores (N, K))``, or
    with ``all_stages`` the estimate of every stage, ``(N, S, K, 2)`` and ``(N, S, K)``."""
    n, k = len(samples), model.num_joints
    keypoints, scores = None, None
    batches = evaluation_dataset(samples, model.input_size, batch_size)
    if progress:
        from tqdm import tqdm

        batches = tqdm(batches, total=-(-n // batch_size), desc="evaluate", unit="batch")
    for batch in batches:
        if all_stages:
            kp, sc = model.graph_function("stage_keypoints")(batch["image"])
        else:
            kp, sc = model.graph_function("keypoints")(batch["image"])
            kp, sc = kp[:, None], sc[:, None]
        kp, sc = np.asarray(kp, np.float64), np.asarray(sc)
        if keypoints is None:
            keypoints = np.zeros((n, kp.shape[1], k, 2), np.float32)
            scores = np.zeros((n, kp.shape[1], k), np.float32)
        inv = np.linalg.inv(batch["matrix"].numpy().astype(np.float64))
        img_kp = np.einsum("nij,nskj->nski", inv[:, :2, :2], kp) + inv[:, None, None, :2, 2]
        idx = batch["index"].numpy()
        keypoints[idx] = img_kp
        scores[idx] = sc
    if keypoints is None:
        return np.zeros((0, k, 2), np.float32), np.zeros((0, k), np.float32)
    return (keypoints, scores) if all_stages else (keypoints[:, 0], scores[:, 0])


def evaluate(model, samples: PoseSamples, batch_size: int = 32, progress: bool = False,
             full: bool = False, stage: int = 0) -> Dict:
    """PCK@0.2 and PCK@0.1 on ``samples`` in image pixels, and PCK@0.2 of every stage's output;
    with ``full`` also PDJ and PCP (Toshev & Szegedy 2014). ``stage`` (1-based) picks the stage
    output the headline figures read; 0 reads the last. Returns a JSON-able dict."""
    skeleton = get_skeleton(samples.skeleton)
    stages, _ = predict_samples(model, samples, batch_size, progress, all_stages=True)
    if not 0 <= stage <= stages.shape[1]:
        raise ValueError(f"stage {stage} not in 1..{stages.shape[1]} (0: the last)")
    gt, vis = samples.keypoints, samples.visible
    if model.skeleton.name != samples.skeleton:
        # A model of another skeleton is scored in the data's own skeleton, on the joints the two
        # share by name (a COCO-17 model on LSPet: the 12 limb joints; neck and head top unscored).
        mapping = np.asarray(joint_mapping(model.skeleton, skeleton))
        stages = stages[:, :, np.maximum(mapping, 0)]
        vis = vis * (mapping >= 0)
    pred = stages[:, stage - 1 if stage else -1]
    result = {
        "num_images": len(samples),
        "pck@0.2": pck(pred, gt, vis, skeleton, 0.2),
        "pck@0.1": pck(pred, gt, vis, skeleton, 0.1),
        "stages": [{"stage": s + 1,
                    "pck@0.2": pck(stages[:, s], gt, vis, skeleton, 0.2)["mean"],
                    "pck@0.1": pck(stages[:, s], gt, vis, skeleton, 0.1)["mean"],
                    "pck@0.2_limbs": pck(stages[:, s], gt, vis, skeleton, 0.2)["mean_limbs"]}
                   for s in range(stages.shape[1])],
    }
    if samples.pckh_normaliser is not None:  # MPII's own figure, also per stage (IEF's per-iteration figure)
        from training.metrics import pckh

        result["pckh@0.5"] = pckh(pred, gt, vis, samples.pckh_normaliser, 0.5, skeleton)
        for s, row in enumerate(result["stages"]):
            row["pckh@0.5"] = pckh(stages[:, s], gt, vis, samples.pckh_normaliser, 0.5, skeleton)["mean"]
    if full:
        from training.metrics import pcp, pdj_curve

        result["pdj"] = pdj_curve(pred, gt, vis, skeleton)
        result["pcp"] = pcp(pred, gt, vis, skeleton)
    return result


def format_result(result) -> str:
    """Per-joint PCK@0.2 / PCK@0.1 table of ``evaluate_keypoints``, with stages and PCP."""
    p2, p1 = result["pck@0.2"], result["pck@0.1"]
    lines = [f"{'joint':<16}{'PCK@0.2':>9}{'PCK@0.1':>9}"]
    for name in p2["per_joint"]:
        lines.append(f"{name:<16}{100 * p2['per_joint'][name]:>9.1f}{100 * p1['per_joint'][name]:>9.1f}")
    lines.append(f"{'all joints':<16}{100 * p2['mean']:>9.1f}{100 * p1['mean']:>9.1f}")
    lines.append(f"{'limb joints':<16}{100 * p2['mean_limbs']:>9.1f}{100 * p1['mean_limbs']:>9.1f}")
    if "pckh@0.5" in result:
        h = result["pckh@0.5"]
        lines.append(f"PCKh@0.5 (MPII, head-normalised): {100 * h['mean_benchmark']:.1f} without pelvis "
                     f"and thorax, {100 * h['mean']:.1f} all joints")
    if len(result.get("stages", [])) > 1:
        lines.append("per stage (PCK@0.2 / PCK@0.1" + (" / PCKh@0.5" if "pckh@0.5" in result else "") + "): "
                     + ", ".join(f"stage {r['stage']} {100 * r['pck@0.2']:.1f} / {100 * r['pck@0.1']:.1f}"
                                 + (f" / {100 * r['pckh@0.5']:.1f}" if "pckh@0.5" in r else "")
                                 for r in result["stages"]))
    if result.get("pcp"):
        lines.append("PCP (strict, 0.5): " + ", ".join(
            f"{k} {100 * v:.1f}" for k, v in result["pcp"]["per_part"].items())
            + f", mean {100 * result['pcp']['mean']:.1f}")
    return "\n".join(lines)
