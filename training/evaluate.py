"""Evaluation with the DESIGN protocol: protocol crop -> predict -> inverse affine -> PCK."""

from __future__ import annotations

from typing import Dict

import numpy as np

from training.datasets.base import PoseSamples
from training.metrics import pck
from training.pipeline import evaluation_dataset
from zoo.skeletons import get_skeleton


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
            kp, sc = model._stage_fn(batch["image"])
        else:
            kp, sc = model._predict_fn(batch["image"])
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
             full: bool = False) -> Dict:
    """PCK@0.2 and PCK@0.1 on ``samples`` in image pixels, and PCK@0.2 of every stage's output;
    with ``full`` also PDJ and PCP (Toshev & Szegedy 2014). Returns a JSON-able dict."""
    if model.skeleton.name != samples.skeleton:
        raise ValueError(f"model skeleton {model.skeleton.name} != data skeleton {samples.skeleton}")
    skeleton = get_skeleton(samples.skeleton)
    stages, _ = predict_samples(model, samples, batch_size, progress, all_stages=True)
    pred = stages[:, -1]
    gt, vis = samples.keypoints, samples.visible
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
    if full:
        from training.metrics import pcp, pdj_curve

        result["pdj"] = pdj_curve(pred, gt, vis, skeleton)
        result["pcp"] = pcp(pred, gt, vis, skeleton)
    return result
