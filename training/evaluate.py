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


# --- Multi-person (bottom-up) evaluation: COCO OKS AP --------------------------------------------

SCENE_PROTOCOL = ("held-out scenes composited from LSPet validation people (training.composite.heldout_scenes, "
                  "fixed seed 2017): 1-4 people per 256x256 scene, person extent 30-85 % of the scene, later "
                  "people occlude earlier ones (covered joints unlabelled); OKS area = visible silhouette area; "
                  "all 14 joints, sigmas zoo.skeletons.LSP14.oks_sigmas")
COCO_PROTOCOL = ("COCO keypoints of ../shared/data/coco-mini (80 train2017 images, none used for training), whole "
                 "image letterboxed to the input size; the 12 joints COCO and LSP-14 share, COCO's sigmas and "
                 "segment areas; crowds and people without keypoints ignored as in COCO")


def people_metrics(people, scores, gt_keypoints, gt_visible, gt_areas, sigmas, joints=None) -> Dict:
    """COCO OKS AP/AR (pycocotools) and per-joint keypoint-similarity accuracy of predicted people.

    ``people[i] (D_i, K, 3)`` x, y, score and ``scores[i] (D_i,)`` per image; ground truth as
    ``training.metrics.oks_ap``; ``joints`` selects the scored joints (e.g. the 12 COCO shares).
    """
    from training.metrics import oks_ap, per_joint_ks_accuracy

    index = list(range(len(sigmas))) if joints is None else list(joints)
    pred = [np.asarray(p)[:, index, :2] for p in people]
    gt = [np.asarray(g)[:, index] for g in gt_keypoints]
    vis = [np.asarray(v)[:, index] for v in gt_visible]
    ap = oks_ap(gt, vis, gt_areas, pred, scores, sigmas)
    acc = per_joint_ks_accuracy(gt, vis, gt_areas, pred, scores, sigmas)
    return {"oks": ap, "ks@0.5": {"mean": acc["mean"], "per_joint": acc["per_joint"].tolist(),
                                   "labelled": acc["joints"].tolist()},
            "people": int(acc["people"]), "matched": int(acc["matched"]),
            "detections": int(sum(len(p) for p in people)), "images": len(people)}


def _found(people, scores):
    keep = np.asarray(scores) > 0
    return np.asarray(people)[keep], np.asarray(scores)[keep]


def predict_scenes(people_fn, images: np.ndarray, batch_size: int = 16):
    """Runs ``people_fn`` (uint8/float ``(N, S, S, 3)`` -> ``(people (N, P, K, 3), scores (N, P))``,
    e.g. ``model.graph_function("people")`` or an exported file) on model-sized images; returns per-image
    lists of the people found (empty slots dropped)."""
    people, scores = [], []
    for start in range(0, len(images), batch_size):
        p, s = people_fn(np.asarray(images[start:start + batch_size], np.float32))
        for pi, si in zip(np.asarray(p), np.asarray(s)):
            pi, si = _found(pi, si)
            people.append(pi)
            scores.append(si)
    return people, scores


def scene_evaluation_set(count: int = 300, data=None, canvas: int = 256):
    """The held-out scenes of ``SCENE_PROTOCOL`` (``count`` of them) from the LSPet validation split."""
    from training.composite import SceneConfig, heldout_scenes
    from training.datasets import load_lspet

    return heldout_scenes(load_lspet(data, split="val"), count, SceneConfig(canvas=canvas))


def evaluate_scenes(model, count: int = 300, data=None, scenes=None, people_fn=None) -> Dict:
    """OKS AP of a bottom-up model on held-out LSPet scenes (``SCENE_PROTOCOL``)."""
    images, kps, vis, areas = scenes if scenes is not None else scene_evaluation_set(count, data, model.input_size)
    people, scores = predict_scenes(people_fn or model.graph_function("people"), images)
    result = people_metrics(people, scores, list(kps), list(vis), list(areas), model.skeleton.oks_sigmas)
    result["protocol"] = SCENE_PROTOCOL
    return result


def evaluate_coco(model, annotations=None, images=None) -> Dict:
    """OKS AP of a bottom-up model on COCO keypoints images (``COCO_PROTOCOL``), each predicted
    with ``model.predict_people`` (whole image letterboxed, people mapped back to image pixels)."""
    import cv2

    from training.datasets.coco import load_coco_keypoints
    from training.metrics import oks_joint_subset

    samples = load_coco_keypoints(annotations, images, skeleton=model.skeleton.name)
    index, sigmas = oks_joint_subset(model.skeleton)
    people, scores = [], []
    for path in samples.image_paths:
        image = cv2.imread(path, cv2.IMREAD_COLOR)
        if image is None:
            raise ValueError(f"{path}: not a readable image")
        p, s = model.predict_people(cv2.cvtColor(image, cv2.COLOR_BGR2RGB))
        people.append(p)
        scores.append(s)
    result = people_metrics(people, scores, samples.keypoints, samples.visible, samples.areas, sigmas, index)
    result.update(protocol=COCO_PROTOCOL, joint_names=[model.skeleton.joint_names[j] for j in index])
    return result
