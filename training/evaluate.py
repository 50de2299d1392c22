"""Evaluation with the DESIGN protocol: protocol crop -> predict -> inverse affine -> PCK."""

from __future__ import annotations

from typing import Dict

import numpy as np

from training.datasets.base import PoseSamples
from training.metrics import pck
from training.pipeline import evaluation_dataset
from zoo.skeletons import get_skeleton


def predict_samples(model, samples: PoseSamples, batch_size: int = 32, progress: bool = False):
    """Predicts every sample; returns ``(keypoints (N, K, 2) image pixels, scores (N, K))``."""
    n, k = len(samples), model.num_joints
    keypoints = np.zeros((n, k, 2), np.float32)
    scores = np.zeros((n, k), np.float32)
    batches = evaluation_dataset(samples, model.input_size, batch_size)
    if progress:
        from tqdm import tqdm

        batches = tqdm(batches, total=-(-n // batch_size), desc="evaluate", unit="batch")
    for batch in batches:
        kp, sc = model._predict_fn(batch["image"])
        kp, sc = np.asarray(kp, np.float64), np.asarray(sc)
        inv = np.linalg.inv(batch["matrix"].numpy().astype(np.float64))
        img_kp = np.einsum("nij,nkj->nki", inv[:, :2, :2], kp) + inv[:, None, :2, 2]
        idx = batch["index"].numpy()
        keypoints[idx] = img_kp
        scores[idx] = sc
    return keypoints, scores


def evaluate(model, samples: PoseSamples, batch_size: int = 32, progress: bool = False) -> Dict:
    """PCK@0.2 and PCK@0.1 on ``samples`` in image pixels; returns a JSON-able dict."""
    if model.skeleton.name != samples.skeleton:
        raise ValueError(f"model skeleton {model.skeleton.name} != data skeleton {samples.skeleton}")
    skeleton = get_skeleton(samples.skeleton)
    pred, _ = predict_samples(model, samples, batch_size, progress)
    return {
        "num_images": len(samples),
        "pck@0.2": pck(pred, samples.keypoints, samples.visible, skeleton, 0.2),
        "pck@0.1": pck(pred, samples.keypoints, samples.visible, skeleton, 0.1),
    }
