"""OKS AP of predicted people (COCO keypoint evaluation, pycocotools): a bottom-up model on
held-out composited scenes and on real photos (``validation_photos``: coco-mini's held-out 20, or
the COCO photos' validation split for a model whose recipe trains on the COCO photos' training
split), a single-person model used top-down on the COCO photos' validation split."""

from __future__ import annotations

from typing import Dict, Optional, Tuple

import numpy as np

from zoo.skeletons import joint_mapping

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
COCO_VAL_PROTOCOL = ("the photos of ../shared/data/coco-mini + coco-extra (train2017) with crc32(image id) % 1000 "
                     "< 153 (docs/evaluation.md, training.datasets.coco.photo_split; the recipe trains on the "
                     "others), every labelled person, each whole photo letterboxed to the input size as "
                     "predict_people does; the joints the model shares with COCO-17, COCO's sigmas and segment "
                     "areas; crowds and people without keypoints ignored as in COCO")
#: The photos a card lists as the worst (lowest ``training.oks_metrics.per_image_oks``).
WORST_PHOTOS = 8


def people_metrics(people, scores, gt_keypoints, gt_visible, gt_areas, sigmas, joints=None) -> Dict:
    """COCO OKS AP/AR (pycocotools) and per-joint keypoint-similarity accuracy of predicted people.

    ``people[i] (D_i, K, 3)`` x, y, score and ``scores[i] (D_i,)`` per image; ground truth as
    ``training.oks_metrics.oks_ap``; ``joints`` selects the scored joints (e.g. the 12 COCO shares).
    """
    from training.oks_metrics import oks_ap, per_joint_ks_accuracy

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


def scene_evaluation_set(count: int = 300, data=None, canvas: int = 256, skeleton: str = "lsp14"):
    """The held-out scenes of ``SCENE_PROTOCOL`` (``count`` of them) from the LSPet validation split,
    their people moved into ``skeleton`` by joint name (a joint LSP-14 lacks, e.g. COCO's face
    points, unlabelled; ``training.composite.in_skeleton``)."""
    from training.composite import SceneConfig, heldout_scenes, in_skeleton
    from training.datasets import load_lspet

    images, kps, vis, areas = heldout_scenes(load_lspet(data, split="val"), count, SceneConfig(canvas=canvas))
    kps, vis = in_skeleton(kps, vis, "lsp14", skeleton)
    return images, kps, vis, areas


def scene_joints(skeleton):
    """The joints of ``skeleton`` (a ``zoo.skeletons.Skeleton``) the scenes' LSP-14 people label:
    ``(index or None for all, their OKS sigmas)``, for ``people_metrics``."""
    from zoo.skeletons import LSP14

    index = [j for j, m in enumerate(joint_mapping(LSP14, skeleton)) if m >= 0]
    if len(index) == skeleton.num_joints:
        return None, np.asarray(skeleton.oks_sigmas)
    return index, np.asarray(skeleton.oks_sigmas)[index]


def scene_protocol(skeleton) -> str:
    """``SCENE_PROTOCOL`` for a model of ``skeleton`` (a ``zoo.skeletons.Skeleton``): the joints
    scored are those the scenes' LSP-14 people label (``scene_joints``)."""
    index, _ = scene_joints(skeleton)
    if index is None:
        return SCENE_PROTOCOL
    return SCENE_PROTOCOL.replace("all 14 joints, sigmas zoo.skeletons.LSP14.oks_sigmas",
                                  f"the {len(index)} joints LSP-14 shares with {skeleton.name}, its sigmas "
                                  f"(zoo.skeletons.get_skeleton({skeleton.name!r}).oks_sigmas)")


def evaluate_scenes(model, count: int = 300, data=None, scenes=None, people_fn=None) -> Dict:
    """OKS AP of a bottom-up model on held-out LSPet scenes (``SCENE_PROTOCOL``), on the joints
    the scenes' people label (``scene_joints``: all of an LSP-14 model's, the 12 body joints of a
    COCO-17 one); ``scenes`` in the model's skeleton (``scene_evaluation_set``)."""
    images, kps, vis, areas = (scenes if scenes is not None
                               else scene_evaluation_set(count, data, model.input_size, model.skeleton.name))
    people, scores = predict_scenes(people_fn or keras_people_fn(model), images)
    index, sigmas = scene_joints(model.skeleton)
    result = people_metrics(people, scores, list(kps), list(vis), list(areas), sigmas, index)
    scored = index if index is not None else range(model.num_joints)
    result.update(protocol=scene_protocol(model.skeleton), joint_names=[model.skeleton.joint_names[j] for j in scored])
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


def trains_on_coco_photos(model) -> bool:
    """Whether the recipe of a bottom-up ``model`` (``model.spec.experiment``) trains on the real
    photo sources (``Experiment.datasets``, ``training.real_photos``: the COCO photos' training
    split, which holds some of coco-mini's held-out 20); a model without a known recipe, whether
    it is a COCO-17 one. Such a model's real-photo figure is the COCO photos' validation split,
    the photos its training scores every epoch (``val_coco_ap``)."""
    from training.experiments import EXPERIMENTS

    spec = model.spec  # None for a model built outside the registry
    recipe = EXPERIMENTS.get(spec.experiment) if spec is not None and spec.experiment else None
    return bool(recipe.datasets) if recipe is not None else model.skeleton.name == "coco17"


def validation_photos(model, data=None):
    """The real photos a bottom-up ``model`` is scored on, none of them in its training data:
    ``(metrics key, samples in the model's skeleton, protocol)``: ``coco_val``, the COCO photos'
    validation split (``COCO_VAL_PROTOCOL``) when ``trains_on_coco_photos``, else ``coco_heldout``,
    coco-mini's held-out photos (``COCO_HELDOUT_PROTOCOL``). ``data``: the data root."""
    if not trains_on_coco_photos(model):
        return "coco_heldout", heldout_photos(model.skeleton.name, data), COCO_HELDOUT_PROTOCOL
    from training.datasets.coco import load_coco_photos
    from training.real_photos import in_model_skeleton

    return "coco_val", in_model_skeleton(load_coco_photos(data, "val"), model.skeleton.name), COCO_VAL_PROTOCOL


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


def evaluate_coco(model, annotations=None, images=None, heldout: int = 0, samples=None, people_fn=None,
                  protocol: Optional[str] = None, worst: int = 0) -> Dict:
    """OKS AP of a bottom-up model on COCO keypoints images (``COCO_PROTOCOL``), each predicted
    as ``model.predict_people`` does (whole image letterboxed, people mapped back to image
    pixels). ``heldout``: only the images ``training.datasets.coco.heldout_split`` sets aside (the
    real-photo validation set of a recipe that trains on the others). ``samples``: these
    ``MultiPersonSamples`` instead of reading the file. ``people_fn``: predict with this instead
    of the model (an exported file's runner, as ``predict_scenes``). ``protocol``: the description
    of ``samples``. ``worst``: also list that many worst photos (``worst_photos``)."""
    from training.datasets.coco import heldout_split, load_coco_keypoints
    from training.oks_metrics import oks_joint_subset

    if samples is None:
        samples = load_coco_keypoints(annotations, images, skeleton=model.skeleton.name)
        if heldout:
            samples = heldout_split(samples, heldout)[1]
    index, sigmas = oks_joint_subset(model.skeleton)
    people, scores = predict_photos(people_fn or keras_people_fn(model), samples.image_paths,
                                    model.input_size)
    result = people_metrics(people, scores, samples.keypoints, samples.visible, samples.areas, sigmas, index)
    result.update(protocol=protocol or (COCO_HELDOUT_PROTOCOL if heldout else COCO_PROTOCOL),
                  joint_names=[model.skeleton.joint_names[j] for j in index])
    if worst:
        result["worst_photos"] = worst_photos(samples, people, scores, index, sigmas, worst)
    return result


def evaluate_validation_photos(model, data=None, people_fn=None, worst: int = WORST_PHOTOS) -> Tuple[str, Dict]:
    """``evaluate_coco`` on the model's ``validation_photos``: ``(metrics key, result)``; with the
    ``worst`` photos (``worst_photos``) where they are the COCO photos' validation split."""
    key, samples, protocol = validation_photos(model, data)
    return key, evaluate_coco(model, samples=samples, people_fn=people_fn, protocol=protocol,
                              worst=worst if key == "coco_val" else 0)


def worst_photos(samples, people, scores, index, sigmas, count: int = WORST_PHOTOS):
    """The ``count`` photos of ``samples`` whose people were found worst
    (``training.oks_metrics.per_image_oks``, lowest first; photos without a labelled person
    left out): image id, file, source folder, labelled people, people found, OKS."""
    from pathlib import Path

    from training.oks_metrics import per_image_oks

    per = per_image_oks([np.asarray(k)[:, index] for k in samples.keypoints],
                        [np.asarray(v)[:, index] for v in samples.visible], samples.areas,
                        [np.asarray(p)[:, index, :2] for p in people], scores, sigmas)
    order = [int(i) for i in np.argsort(per, kind="stable") if per[i] == per[i]][:count]
    return [{"image_id": int(samples.image_ids[i]), "file": Path(samples.image_paths[i]).name,
             "source": Path(samples.image_paths[i]).parent.parent.name,
             "people": int((np.asarray(samples.visible[i])[:, index] > 0).any(1).sum()),
             "found": int(len(people[i])), "oks": round(float(per[i]), 4)} for i in order]


DETECTED_PEOPLE_PROTOCOL = ("COCO photos validation split (docs/evaluation.md: the 35 photos of the shared coco-mini + "
                            "coco-extra with crc32(image id) % 1000 < 153), every labelled person; each photo through "
                            "model.predict_people: the person detector's boxes, the single-person model on each box's "
                            "crop (zoo.people.top_down_people), keypoints in image pixels; OKS AP by pycocotools on "
                            "the joints the model shares with COCO-17, COCO's sigmas and areas")


def evaluate_top_down_people(model, data=None, refine: bool = True, detector=None, people_fn=None,
                             worst: int = WORST_PHOTOS) -> Dict:
    """OKS AP of a single-person ``model`` used top-down on the COCO photos' validation split
    (``DETECTED_PEOPLE_PROTOCOL``), with per-joint accuracy and the ``worst`` photos
    (``worst_photos``). ``people_fn(image) -> (people, scores)``: another predictor of whole
    photos (e.g. ``edge.people_tflite.TopDownPeopleTFLite(...).predict_people``, the exported
    files in sequence); default ``model.predict_people`` (``detector``: another detector)."""
    if people_fn is None:
        def people_fn(image):
            return model.predict_people(image, detector=detector, refine=refine)
    result = evaluate_photo_people(people_fn, model.skeleton, data, worst=worst)
    result["refine"] = refine
    return result


def evaluate_photo_people(people_fn, skeleton, data=None, protocol: str = DETECTED_PEOPLE_PROTOCOL,
                          worst: int = WORST_PHOTOS) -> Dict:
    """OKS AP (pycocotools, ``people_metrics``) of any predictor of whole photos on the COCO photos'
    validation split (``load_coco_photos(data, "val")``, every labelled person), on the joints of
    ``skeleton`` (a ``zoo.skeletons.Skeleton``) that COCO-17 labels (``oks_joint_subset``).

    ``people_fn(image uint8 RGB (H, W, 3)) -> (people (P, K, 3) x, y image pixels and joint score,
    scores (P,))`` in ``skeleton``'s joints: a top-down model through the person detector, or a
    reference such as MoveNet MultiPose (``training.reference_people``). ``protocol``: how the
    people were predicted, for the result. ``worst``: also list that many worst photos."""
    import cv2

    from training.datasets.coco import load_coco_photos
    from training.oks_metrics import oks_joint_subset
    from training.real_photos import in_model_skeleton

    photos = in_model_skeleton(load_coco_photos(data, "val"), skeleton.name)
    people, scores = [], []
    for path in photos.image_paths:
        image = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if image is None:
            raise ValueError(f"{path}: not a readable image")
        p, s = people_fn(cv2.cvtColor(image, cv2.COLOR_BGR2RGB))
        people.append(np.asarray(p, np.float32).reshape(-1, skeleton.num_joints, 3))
        scores.append(np.asarray(s, np.float32).reshape(-1))
    index, sigmas = oks_joint_subset(skeleton)
    result = people_metrics(people, scores, photos.keypoints, photos.visible, photos.areas, sigmas, index)
    result.update(protocol=protocol, joint_names=[skeleton.joint_names[j] for j in index])
    if worst:
        result["worst_photos"] = worst_photos(photos, people, scores, index, sigmas, worst)
    return result


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
    if result.get("worst_photos"):
        lines.append("worst photos (mean OKS of their people): " + ", ".join(
            f"{w['source']}/{w['file']} {w['oks']:.3f} ({w['people']} people, {w['found']} found)"
            for w in result["worst_photos"]))
    return "\n".join(lines)
