"""Evaluation with the protocol of docs/evaluation.md: protocol crop -> predict -> inverse affine
-> PCK for top-down models; COCO OKS AP on held-out scenes and coco-mini for bottom-up models.

``task_evaluation(model)`` looks up, in one table keyed by the model's task (``EVALUATIONS``), how
its figures are measured, printed and published (``tools.evaluate``, ``tools.publish``).
"""

from __future__ import annotations

import dataclasses
from typing import Callable, Dict, Optional, Tuple

import numpy as np

from training.datasets.base import PoseSamples
from training.metrics import pck
from training.pipeline import evaluation_dataset
from zoo.skeletons import get_skeleton, joint_mapping

PROTOCOL = ("docs/evaluation.md top-down protocol: square box of side 1.25 x max(w, h) of the labelled joints, "
            "affine crop with zero padding to the input size, prediction mapped back to image pixels; "
            "PCK torso-normalised (left shoulder - right hip, fallback right shoulder - left hip), "
            "labelled joints only; means pooled over all labelled joints")


#: The validation sets of a COCO-17 model (docs/evaluation.md, "Everyday photos"): the first is
#: its headline figure, the COCO photos, the set closest to users' photos.
EVERYDAY_SETS = {
    "coco_people": "COCO photos validation split (shared coco-mini + coco-extra, train2017 photos whose "
                   "crc32(image id) % 1000 < 153; people with >= 8 of the 12 body joints labelled)",
    "mpii_subset": "MPII subset validation split (scenes with crc32(scene) % 100 < 12); PCKh with its head_size",
    "lspet": "LSPet validation split (im08101-im09000)",
}


def evaluation_samples(skeleton: str, data: Optional[str] = None, limit: int = 0):
    """The evaluation samples for a model's skeleton: LSPet val split; for MPII-16 the validation
    split of the MPII release (``data`` a ``.mat``, ``training.datasets.mpii``) or an MPII-format
    JSON; for COCO-17 the COCO photos' validation people (``EVERYDAY_SETS``' first)."""
    from training.datasets import load_lspet, load_mpii, load_person_dataset
    from training.datasets.mpii import VAL_MODULUS, is_release_path

    if skeleton == "coco17":
        name = next(iter(EVERYDAY_SETS))
        samples, desc = load_person_dataset(name, "val", data), EVERYDAY_SETS[name]
    elif skeleton == "lsp14":
        samples, desc = load_lspet(data, split="val"), "LSPet validation split (im08101-im09000)"
    elif skeleton == "mpii16":
        samples = load_mpii(data, split="val")
        if is_release_path(data):
            desc = (f"MPII release {data}: validation split (single persons of the train images whose "
                    f"video / image key has crc32 % {VAL_MODULUS} == 0)")
        else:
            desc = f"MPII-format records of {data or 'the MPII sample'}"
    else:
        raise ValueError(f"no evaluation data defined for skeleton {skeleton!r}")
    if limit:
        samples = samples.subset(range(min(limit, len(samples))))
    return samples, desc


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
    if samples.pckh_normaliser is not None:  # MPII's own figure
        from training.metrics import pckh

        result["pckh@0.5"] = pckh(pred, gt, vis, samples.pckh_normaliser, 0.5, skeleton)
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
COCO_PROTOCOL = ("COCO keypoints of ../shared/data/coco-mini (80 train2017 images; a recipe with coco_mix trains "
                 "on the 60 outside the held-out 20), whole image letterboxed to the input size; the 12 joints "
                 "COCO and LSP-14 share, COCO's sigmas and segment areas; crowds and people without keypoints "
                 "ignored as in COCO")
#: The coco-mini photos no recipe trains on (``training.datasets.coco.heldout_split``).
COCO_HELDOUT = 20
COCO_HELDOUT_PROTOCOL = (f"the {COCO_HELDOUT} coco-mini photos no recipe trains on (training.datasets.coco."
                         f"heldout_split: every 4th by image id), otherwise as the coco-mini protocol")


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


def keras_people_fn(model):
    """``model.people`` as a ``people_fn``: uint8 pixels in, cast to the float32 the traced graph
    function takes."""
    fn = model.graph_function("people")
    return lambda images: fn(np.asarray(images, np.float32))


def predict_scenes(people_fn, images: np.ndarray, batch_size: int = 16):
    """Runs ``people_fn`` (uint8 ``(N, S, S, 3)`` -> ``(people (N, P, K, 3), scores (N, P))``, e.g.
    ``keras_people_fn(model)`` or an exported file's runner, which takes uint8 pixels as on a
    phone) on model-sized images; returns per-image lists of the people found (empty slots dropped)."""
    people, scores = [], []
    for start in range(0, len(images), batch_size):
        p, s = people_fn(np.asarray(images[start:start + batch_size]))
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
    people, scores = predict_scenes(people_fn or keras_people_fn(model), images)
    result = people_metrics(people, scores, list(kps), list(vis), list(areas), model.skeleton.oks_sigmas)
    result["protocol"] = SCENE_PROTOCOL
    return result


def coco_mini(data=None) -> Optional[str]:
    """coco-mini's keypoint file under the data root ``data`` (None: the default root,
    ``$POSEZOO_DATA``, as ``load_coco_keypoints`` reads it)."""
    import os

    from training.datasets.coco import DEFAULT_ANNOTATIONS

    return os.path.join(data, *DEFAULT_ANNOTATIONS) if data else None


def heldout_photos(skeleton: str, data=None):
    """The coco-mini photos no recipe trains on (``COCO_HELDOUT_PROTOCOL``) in the joints of
    ``skeleton``, from the data root ``data``."""
    from training.datasets.coco import heldout_split, load_coco_keypoints

    return heldout_split(load_coco_keypoints(coco_mini(data), skeleton=skeleton), COCO_HELDOUT)[1]


def predict_photos(people_fn, image_paths, size: int):
    """Runs ``people_fn`` (as ``predict_scenes``) on each photo letterboxed to ``size``
    (``zoo.preprocess.letterbox``, as ``predict_people``); returns per-photo lists of the people
    found, in image pixels."""
    import cv2

    from zoo.preprocess import letterbox, people_to_image

    people, scores = [], []
    for path in image_paths:
        image = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if image is None:
            raise ValueError(f"{path}: not a readable image")
        boxed, to_image = letterbox(cv2.cvtColor(image, cv2.COLOR_BGR2RGB), size)
        p, s = people_fn(boxed[None])  # uint8, as an exported file takes it
        p, s = people_to_image(np.asarray(p)[0], np.asarray(s)[0], to_image)
        people.append(p)
        scores.append(s)
    return people, scores


def evaluate_coco(model, annotations=None, images=None, heldout: int = 0, samples=None, people_fn=None) -> Dict:
    """OKS AP of a bottom-up model on COCO keypoints images (``COCO_PROTOCOL``), each predicted
    as ``model.predict_people`` does (whole image letterboxed, people mapped back to image
    pixels). ``heldout``: only the images ``training.datasets.coco.heldout_split`` sets aside (the
    real-photo validation set of a recipe that trains on the others). ``samples``: these
    ``MultiPersonSamples`` instead of reading the file. ``people_fn``: predict with this instead
    of the model (an exported file's runner, as ``predict_scenes``)."""
    from training.datasets.coco import heldout_split, load_coco_keypoints
    from training.metrics import oks_joint_subset

    if samples is None:
        samples = load_coco_keypoints(annotations, images, skeleton=model.skeleton.name)
        if heldout:
            samples = heldout_split(samples, heldout)[1]
    index, sigmas = oks_joint_subset(model.skeleton)
    people, scores = predict_photos(people_fn or keras_people_fn(model), samples.image_paths,
                                    model.input_size)
    result = people_metrics(people, scores, samples.keypoints, samples.visible, samples.areas, sigmas, index)
    result.update(protocol=COCO_HELDOUT_PROTOCOL if heldout else COCO_PROTOCOL,
                  joint_names=[model.skeleton.joint_names[j] for j in index])
    return result


TOP_DOWN_PEOPLE_PROTOCOL = ("COCO photos validation split (docs/evaluation.md: the 35 photos of the shared coco-mini + "
                            "coco-extra with crc32(image id) % 1000 < 153), every labelled person; each photo through "
                            "model.predict_people: the person detector's boxes, the single-person model on each box's "
                            "crop (zoo.people.top_down_people), keypoints in image pixels; OKS AP by pycocotools on "
                            "the joints the model shares with COCO-17, COCO's sigmas and areas")


def evaluate_top_down_people(model, data=None, refine: bool = True, detector=None, people_fn=None) -> Dict:
    """OKS AP of a single-person ``model`` used top-down on the COCO photos' validation split
    (``TOP_DOWN_PEOPLE_PROTOCOL``). ``people_fn(image) -> (people, scores)``: another predictor of
    whole photos (e.g. the exported files run in sequence); default ``model.predict_people``."""
    import cv2

    from training.datasets.coco import load_coco_photos
    from training.metrics import oks_joint_subset
    from zoo.skeletons import COCO17

    photos = load_coco_photos(data, "val")
    mapping = np.asarray(joint_mapping(COCO17, model.skeleton))
    keep = mapping >= 0
    gt_keypoints, gt_visible = [], []
    for kps, vis in zip(photos.keypoints, photos.visible):
        k = np.zeros((len(kps), model.num_joints, 2), np.float32)
        v = np.zeros((len(kps), model.num_joints), np.float32)
        k[:, keep], v[:, keep] = kps[:, mapping[keep]], vis[:, mapping[keep]]
        gt_keypoints.append(k)
        gt_visible.append(v)
    if people_fn is None:
        def people_fn(image):
            return model.predict_people(image, detector=detector, refine=refine)
    people, scores = [], []
    for path in photos.image_paths:
        image = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if image is None:
            raise ValueError(f"{path}: not a readable image")
        p, s = people_fn(cv2.cvtColor(image, cv2.COLOR_BGR2RGB))
        people.append(np.asarray(p, np.float32).reshape(-1, model.num_joints, 3))
        scores.append(np.asarray(s, np.float32).reshape(-1))
    index, sigmas = oks_joint_subset(model.skeleton)
    result = people_metrics(people, scores, gt_keypoints, gt_visible, photos.areas, sigmas, index)
    result.update(protocol=TOP_DOWN_PEOPLE_PROTOCOL, refine=refine,
                  joint_names=[model.skeleton.joint_names[j] for j in index])
    return result


# --- What differs per task: one table -----------------------------------------------------------

def evaluate_keypoints(model, data=None, limit: int = 0, progress: bool = True, full: bool = True) -> Dict:
    """PCK (and with ``full`` PDJ and PCP) of a top-down ``model`` on its skeleton's evaluation
    data (``evaluation_samples``; the first ``limit`` samples when ``limit``)."""
    samples, desc = evaluation_samples(model.skeleton.name, data, limit)
    result = evaluate(model, samples, progress=progress, full=full)
    result.update(data=desc, protocol=PROTOCOL, samples=result["pck@0.2"]["samples"],
                  joints=result["pck@0.2"]["joints"])
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
        lines.append("per stage (PCK@0.2 / PCK@0.1): " + ", ".join(
            f"stage {r['stage']} {100 * r['pck@0.2']:.1f} / {100 * r['pck@0.1']:.1f}" for r in result["stages"]))
    if result.get("pcp"):
        lines.append("PCP (strict, 0.5): " + ", ".join(
            f"{k} {100 * v:.1f}" for k, v in result["pcp"]["per_part"].items())
            + f", mean {100 * result['pcp']['mean']:.1f}")
    return "\n".join(lines)


def format_people(result) -> str:
    """AP/AR line and per-joint keypoint-similarity accuracy of a multi-person evaluation."""
    o = result["oks"]
    names = result.get("joint_names")
    lines = [f"OKS AP {100 * o['AP']:.1f}  AP50 {100 * o['AP50']:.1f}  AP75 {100 * o['AP75']:.1f}  "
             f"APm {100 * o['APm']:.1f}  APl {100 * o['APl']:.1f}  AR {100 * o['AR']:.1f}  "
             f"({result['images']} images, {result['people']} people, {result['detections']} detections)"]
    per = result["ks@0.5"]["per_joint"]
    lines.append("joints with keypoint similarity >= 0.5 (%): " + ", ".join(
        f"{(names[j] if names else j)} {100 * v:.1f}" for j, v in enumerate(per)))
    return "\n".join(lines)


def _keypoint_summary(name: str, result: Dict) -> str:
    return f"{name}: {result['data']}, {result['num_images']} images\n{format_result(result)}"


def everyday_samples(data=None, limit: int = 0) -> Dict[str, PoseSamples]:
    """The validation split of every ``EVERYDAY_SETS`` dataset (its first ``limit`` people when
    ``limit`` is set), in the order of ``EVERYDAY_SETS``."""
    from training.datasets import load_person_dataset

    sets = {}
    for name in EVERYDAY_SETS:
        samples = load_person_dataset(name, "val", data)
        sets[name] = samples.subset(range(min(limit, len(samples)))) if limit else samples
    return sets


def score_everyday_sets(model, sets: Dict[str, PoseSamples], stage: int = 0) -> Dict[str, Dict]:
    """PCK@0.2 / PCK@0.1 (and PCKh@0.5 on MPII) of ``model``'s ``stage`` output (``evaluate``) on
    each of ``sets`` (``everyday_samples``), each in its own skeleton:
    ``{set: {"data", "skeleton", "num_images", "pck@0.2", "pck@0.1"[, "pckh@0.5"]}}``."""
    out = {}
    for name, samples in sets.items():
        result = evaluate(model, samples, stage=stage)
        out[name] = {"data": EVERYDAY_SETS[name], "skeleton": samples.skeleton, "num_images": len(samples),
                     **{k: result[k] for k in ("pck@0.2", "pck@0.1", "pckh@0.5") if k in result}}
    return out


def evaluate_everyday_sets(model, data=None, limit: int = 0) -> Dict[str, Dict]:
    """PCK@0.2 / PCK@0.1 (and PCKh@0.5 on MPII) of ``model`` on every ``EVERYDAY_SETS`` validation
    split, each in its own skeleton: ``{set: {"data", "pck@0.2", "pck@0.1"[, "pckh@0.5"]}}``."""
    return score_everyday_sets(model, everyday_samples(data, limit))


def format_everyday_sets(sets: Dict[str, Dict]) -> str:
    """One line per validation set: limb and all-joint PCK, PCKh where measured."""
    lines = []
    for name, r in sets.items():
        line = (f"{name:<12} limb joints PCK@0.2 {100 * r['pck@0.2']['mean_limbs']:.1f}  "
                f"PCK@0.1 {100 * r['pck@0.1']['mean_limbs']:.1f}  all scored joints PCK@0.2 {100 * r['pck@0.2']['mean']:.1f}")
        if "pckh@0.5" in r:
            line += f"  PCKh@0.5 {100 * r['pckh@0.5']['mean_limbs']:.1f} (limb joints)"
        lines.append(line + f"  ({r['num_images']} people)")
    return "\n".join(lines)


def _keypoint_publication(model, data=None, scenes: int = 300) -> Tuple[Dict, str, None]:
    result = evaluate_keypoints(model, data)
    metrics = {"pck@0.2": result["pck@0.2"], "pck@0.1": result["pck@0.1"],
               "evaluation": {k: result[k] for k in ("data", "protocol", "num_images", "samples", "joints")}}
    for key in ("pdj", "pcp", "pckh@0.5"):
        if key in result:
            metrics[key] = result[key]
    if len(result.get("stages", [])) > 1:
        metrics["per_stage"] = [{k: (round(100 * v, 2) if k != "stage" else v) for k, v in row.items()}
                                for row in result["stages"]]
    metrics["evaluation"]["command"] = f"python -m tools.evaluate {model.spec.name}@<version>"
    text = format_result(result)
    if model.skeleton.name == "coco17":
        metrics["validation_sets"] = evaluate_everyday_sets(model, data)
        text += "\n" + format_everyday_sets(metrics["validation_sets"])
    return metrics, text, None


def _keypoint_training_data(skeleton: str) -> Tuple[str, str]:
    if skeleton == "coco17":
        return "coco_people+mpii_subset+lspet", ("COCO photos (201 train2017 photos of the shared coco-mini + "
                                                 "coco-extra), the MPII subset (1,518 people) and LSPet "
                                                 "im00001-im08100, training splits of docs/evaluation.md, "
                                                 "sampled by the recipe's weights")
    if skeleton == "lsp14":
        return "lspet", "LSPet im00001-im08100 (fixed train split, 8,100 images)"
    return "mpii", "MPII-format records"


def evaluate_people(model, data=None, limit: int = 0) -> Dict:
    """OKS AP of a bottom-up ``model`` on ``limit`` held-out scenes (default 300; with the joint
    names), on coco-mini and on its held-out photos."""
    names = list(model.skeleton.joint_names)
    return {"scenes": {**evaluate_scenes(model, count=limit or 300, data=data), "joint_names": names},
            "coco": evaluate_coco(model, coco_mini(data)),
            "coco_heldout": evaluate_coco(model, coco_mini(data), heldout=COCO_HELDOUT)}


def _people_summary(name: str, result: Dict) -> str:
    return "\n".join(f"{name} on {key}: {r['protocol']}\n{format_people(r)}" for key, r in result.items())


def _people_publication(model, data=None, scenes: int = 300) -> Tuple[Dict, str, Tuple]:
    evaluation_set = scene_evaluation_set(scenes, data, model.input_size)
    # coco: all of coco-mini (a recipe with coco_mix trains on 60 of them); coco_heldout: the 20
    # photos no recipe trains on (training.datasets.coco.heldout_split), the real-photo figure.
    result = {"scenes": evaluate_scenes(model, scenes=evaluation_set), "coco": evaluate_coco(model, coco_mini(data)),
              "coco_heldout": evaluate_coco(model, coco_mini(data), heldout=COCO_HELDOUT)}
    text = "\n".join(f"{key}: AP {r['oks']['AP']:.4f} AP50 {r['oks']['AP50']:.4f} AR {r['oks']['AR']:.4f} "
                     f"({r['images']} images, {r['people']} people, {r['detections']} detections)"
                     for key, r in result.items())
    metrics = {**result, "evaluation": {"scenes": len(evaluation_set[0]),
                                        "command": f"python -m tools.evaluate {model.spec.name}@<version>"}}
    return metrics, text, evaluation_set


def _people_training_data(skeleton: str) -> Tuple[str, str]:
    return "lspet", ("multi-person scenes composited from LSPet im00001-im08100 people "
                     "(fixed train split, 8,100 people), training.composite")


def ap_curve(workdir, name: str, scenes, count: int) -> Dict:
    """OKS AP on the first ``count`` of the held-out ``scenes`` of every epoch's weights kept by the
    bottom-up loop (``<workdir>/epochs``): the ``ap_curve`` training entries of a published card."""
    from pathlib import Path

    import zoo

    subset = tuple(x[:count] for x in scenes)
    rows = []
    for path in sorted((Path(workdir) / "epochs").glob("epoch_*.weights.h5")):
        model = zoo.load(name, weights=str(path))
        r = evaluate_scenes(model, scenes=subset)
        rows.append({"epoch": int(path.name.split("_")[1].split(".")[0]), "AP": round(r["oks"]["AP"], 4),
                     "AP50": round(r["oks"]["AP50"], 4), "detections": r["detections"]})
        print(f"epoch {rows[-1]['epoch']}: AP {rows[-1]['AP']:.4f}", flush=True)
    return {"ap_curve": rows, "ap_curve_scenes": count}


def keypoint_failures(model, data, limit: int, out_dir, worst: int = 16) -> str:
    """The kinds of PCK@0.2 misses of a top-down ``model`` on its validation samples
    (``training.failures.classify_misses``), written to ``out_dir/failures.json`` with the
    ``worst`` crops drawn in ``out_dir/worst.jpg``; returns the text table."""
    import json
    from pathlib import Path

    from training.failures import classify_misses, format_misses, worst_crops_image
    from zoo.io import write_atomic, write_image

    if worst < 1:
        raise ValueError(f"worst must be >= 1, got {worst}")
    samples, _ = evaluation_samples(model.skeleton.name, data, limit)
    pred, _ = predict_samples(model, samples)
    report = classify_misses(pred, samples.keypoints, samples.visible, model.skeleton)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    names = [p.rsplit("/", 1)[-1] for p in samples.image_paths]
    record = {**{k: v for k, v in report.items() if k != "order"}, "images": names,
              "worst": [names[i] for i in report["order"][:worst]]}
    write_atomic(out / "failures.json", json.dumps(record, indent=2) + "\n")
    write_image(out / "worst.jpg", worst_crops_image(model, samples, report, worst))
    return (format_misses(report) + f"\nwrote {out / 'failures.json'} and {out / 'worst.jpg'} "
            f"({min(worst, len(names))} worst crops)")


@dataclasses.dataclass(frozen=True)
class TaskEvaluation:
    """How the models of one task are evaluated (``tools.evaluate``) and published (``tools.publish``).

    Args:
        evaluate: ``(model, data=None, limit=0) -> figures``: top-down, PCK / PDJ / PCP on the
            skeleton's validation split (``limit``: first N images); bottom-up, OKS AP on held-out
            scenes (``limit`` of them, default 300) and on coco-mini.
        summary: ``(name, figures) -> text`` that ``tools.evaluate`` prints.
        publication: ``(model, data=None, scenes=300) -> (metrics, text, evaluation set)``: what a
            published version records, the text printed, and the set ``epoch_curve`` reuses.
        training_data: ``skeleton -> (dataset, description)`` of the data the task trains on.
        epoch_curve: ``(workdir, name, evaluation set, count) -> training entries`` measuring every
            epoch's weights, or None where the task keeps no curve.
        failures: ``(model, data, limit, out_dir, worst) -> text``: the kinds of misses and the
            worst cases (``training.failures``), or None where not defined.
    """

    evaluate: Callable[..., Dict]
    summary: Callable[[str, Dict], str]
    publication: Callable[..., Tuple[Dict, str, object]]
    training_data: Callable[[str], Tuple[str, str]]
    epoch_curve: Optional[Callable[..., Dict]] = None
    failures: Optional[Callable[..., str]] = None


EVALUATIONS: Dict[str, TaskEvaluation] = {
    "top_down": TaskEvaluation(evaluate=evaluate_keypoints, summary=_keypoint_summary,
                               publication=_keypoint_publication, training_data=_keypoint_training_data,
                               failures=keypoint_failures),
    "bottom_up": TaskEvaluation(evaluate=evaluate_people, summary=_people_summary,
                                publication=_people_publication, training_data=_people_training_data,
                                epoch_curve=ap_curve),
}


def task_evaluation(model) -> TaskEvaluation:
    """The evaluation of ``model``'s task (``model.task``, ``zoo.tasks``)."""
    return EVALUATIONS[model.task.name]
