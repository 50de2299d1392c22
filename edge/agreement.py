"""How far exported files are from the Keras model, for each task, on real images: keypoints on
validation crops (top-down) and people on held-out scenes (bottom-up).

Top-down (``keypoint_parity``), on protocol crops: for each exported file the mean / p95 / max
distance between its keypoints and the Keras model's (input pixels, same uint8 crops), the score
difference, and PCK@0.2 / @0.1 in image pixels with the protocol of docs/evaluation.md, with the
drop from the Keras model's PCK.

Bottom-up (``people_parity``), on held-out scenes (``training.people_evaluation.scene_evaluation_set``):
whether each file finds the same people as the Keras model (``compare_people``) and the COCO
OKS AP of both on those scenes; and the OKS AP and per-joint accuracy of both on the model's
real validation photos (``training.people_evaluation.validation_photos``: coco-mini's held-out
photos, or the COCO photos' validation split), the real-photo figure.

Both take the files as ``(path, runner)`` pairs (a runner has ``predict(uint8 images)``, e.g.
``edge.tflite.TFLiteRunner``); ``edge.parity.check_parity`` opens the files and picks the
measure of the model's task (``edge.tasks``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

import numpy as np

# Accepted PCK@0.2 drops, in points, per precision (the edge contract's targets).
DROP_TARGETS = {"float32": 0.05, "float16": 0.2, "dynamic": 1.0, "int8": 1.0, "onnx": 0.05}
# Bottom-up files: these must find the same people as the Keras model (same number per image,
# every joint present in both, keypoints within SAME_PEOPLE_MAX_PX input pixels).
SAME_PEOPLE_PRECISIONS = ("float32", "onnx")
SAME_PEOPLE_MAX_PX = 1.0
# The others: accepted OKS AP drops in AP points (the top-down PCK@0.2 drop targets, reused).
AP_DROP_TARGETS = {"float16": 0.2, "dynamic": 1.0, "int8": 1.0}
KEYPOINT_COLUMNS = ("artifact", "precision", "mean_px", "p95_px", "max_px", "pck@0.2", "pck@0.1", "pck@0.2_drop",
                    "ok")

Artifacts = Iterable[Tuple[Path, object]]


def precision_of(path: Path) -> str:
    """``onnx`` or the TFLite precision of an exported file (its ``.json`` metadata, else its name)."""
    meta = Path(path).with_suffix(".json")
    if meta.is_file():
        m = json.loads(meta.read_text())
        return "onnx" if m.get("format") == "onnx" else m.get("precision", "float32")
    return "onnx" if Path(path).suffix == ".onnx" else Path(path).stem.rsplit("-", 1)[-1]


def _model_id(model) -> Optional[str]:
    return model.spec.id if model.spec is not None else None


# --- top-down: keypoints on validation crops ------------------------------------------------------

def validation_crops(model, count: int = 200, data: Optional[str] = None):
    """``count`` protocol crops (uint8) of the model's validation split with their matrices:
    ``(samples, images, matrices, description)``."""
    from training.evaluate import evaluation_samples
    from training.pipeline import evaluation_dataset

    samples, desc = evaluation_samples(model.skeleton.name, data, limit=count)
    images, matrices = [], []
    for batch in evaluation_dataset(samples, model.input_size, batch_size=50):
        images.append(np.clip(np.round(batch["image"].numpy()), 0, 255).astype(np.uint8))
        matrices.append(batch["matrix"].numpy().astype(np.float64))
    return samples, np.concatenate(images), np.concatenate(matrices), desc


def _to_image(kp, matrices):
    inv = np.linalg.inv(matrices)
    return np.einsum("nij,nkj->nki", inv[:, :2, :2], kp.astype(np.float64)) + inv[:, None, :2, 2]


def crop_pck(kp_crop, matrices, samples, skeleton):
    """PCK@0.2 and PCK@0.1 (``training.metrics.pck``) of keypoints in crop pixels, scored in
    image pixels through the crops' matrices."""
    from training.metrics import pck

    img = _to_image(kp_crop, matrices)
    return (pck(img, samples.keypoints, samples.visible, skeleton, 0.2),
            pck(img, samples.keypoints, samples.visible, skeleton, 0.1))


def keypoint_parity(model, artifacts: Artifacts, count: Optional[int] = None, data: Optional[str] = None,
                    crops=None) -> Dict:
    """Measures every file of a top-down ``model`` against it on ``count`` validation crops
    (default 200; ``crops``, the 4-tuple of ``validation_crops``, skips making them)."""
    samples, images, matrices, desc = crops if crops is not None else validation_crops(
        model, 200 if count is None else count, data)
    ref_kp, ref_sc = model.predict_keypoints(images)
    ref2, ref1 = crop_pck(ref_kp, matrices, samples, model.skeleton)
    rows = [{"artifact": "keras", "precision": "float32", "mean_px": 0.0, "p95_px": 0.0, "max_px": 0.0,
             "max_score_diff": 0.0, "pck@0.2": round(100 * ref2["mean"], 2),
             "pck@0.1": round(100 * ref1["mean"], 2), "pck@0.2_drop": 0.0, "target_drop": None, "ok": True}]
    for f, runner in artifacts:
        kp, sc = runner.predict(images)
        d = np.linalg.norm(kp - ref_kp, axis=-1)
        p2, p1 = crop_pck(kp, matrices, samples, model.skeleton)
        precision = precision_of(f)
        drop = 100 * (ref2["mean"] - p2["mean"])
        target = DROP_TARGETS.get(precision)
        rows.append({
            "artifact": Path(f).name, "precision": precision,
            "mean_px": round(float(d.mean()), 4), "p95_px": round(float(np.percentile(d, 95)), 4),
            "max_px": round(float(d.max()), 4), "max_score_diff": round(float(np.abs(sc - ref_sc).max()), 5),
            "pck@0.2": round(100 * p2["mean"], 2), "pck@0.1": round(100 * p1["mean"], 2),
            "pck@0.2_drop": round(drop, 2), "target_drop": target,
            "ok": bool(target is None or drop <= target),
        })
    return {"model": _model_id(model), "data": desc, "crops": int(len(images)), "rows": rows}


def keypoint_parity_table(report: Dict) -> str:
    """``keypoint_parity``'s report as the lines ``tools.parity`` prints: what was measured and a
    Markdown table, one row per artifact (the Keras model first)."""
    out = [f"{report['model']}: {report['crops']} crops of {report['data']}",
           "| " + " | ".join(KEYPOINT_COLUMNS) + " |", "|" + "---|" * len(KEYPOINT_COLUMNS)]
    out += ["| " + " | ".join(str(r[c]) for c in KEYPOINT_COLUMNS) + " |" for r in report["rows"]]
    return "\n".join(out)


# --- bottom-up: people on held-out scenes --------------------------------------------------------

def _found(people: np.ndarray, scores: np.ndarray):
    keep = np.asarray(scores) > 0
    return np.asarray(people, np.float64)[keep], np.asarray(scores, np.float64)[keep]


def compare_people(ref_people, ref_scores, people, scores) -> Dict:
    """How far one image's people (``(P, K, 3)`` x, y, joint score and ``(P,)`` person scores,
    empty slots with score 0, sorted by score) are from the reference's.

    People are matched in order (both lists are sorted by score); where the order differs (near
    ties of person scores) they are matched by the lowest mean keypoint distance instead (the
    assignment minimising the sum, ``scipy.optimize.linear_sum_assignment``, in-order pairs
    preferred at equal cost), and each person matched out of order counts as a swap. Returns
    ``same_count``, ``reference`` / ``found`` people, ``unmatched`` (people without a partner),
    ``swaps``, ``distances`` (input pixels, joints present in both of a matched pair) and
    ``one_only`` (joints present in one person of a matched pair only)."""
    from scipy.optimize import linear_sum_assignment

    ref, _ = _found(ref_people, ref_scores)
    got, _ = _found(people, scores)
    n_ref, n_got = len(ref), len(got)
    pairs = []
    if n_ref and n_got:
        both = (ref[:, None, :, 2] > 0) & (got[None, :, :, 2] > 0)  # (R, F, K)
        d = np.linalg.norm(ref[:, None, :, :2] - got[None, :, :, :2], axis=-1)
        mean = np.where(both.any(-1), (d * both).sum(-1) / np.maximum(both.sum(-1), 1), 1e6)
        off_diagonal = np.arange(n_ref)[:, None] != np.arange(n_got)[None, :]
        rows, cols = linear_sum_assignment(mean + 1e-6 * off_diagonal)
        pairs = list(zip(rows.tolist(), cols.tolist()))
    distances, one_only = [], 0
    for a, b in pairs:
        present_ref, present_got = ref[a, :, 2] > 0, got[b, :, 2] > 0
        both = present_ref & present_got
        distances.extend(np.linalg.norm(ref[a, both, :2] - got[b, both, :2], axis=-1).tolist())
        one_only += int((present_ref ^ present_got).sum())
    return {"same_count": n_ref == n_got, "reference": n_ref, "found": n_got,
            "unmatched": abs(n_ref - n_got), "swaps": int(sum(a != b for a, b in pairs)),
            "distances": distances, "one_only": one_only}


def people_agreement(ref_people, ref_scores, people, scores) -> Dict:
    """``compare_people`` over a batch ``(N, P, K, 3)`` / ``(N, P)``, summarised: fraction of
    images with the same number of people, people counts, swaps, mean / p95 / max keypoint
    distance (input pixels) over joints present in both, joints present in one only."""
    rows = [compare_people(*args) for args in zip(ref_people, ref_scores, people, scores)]
    d = np.asarray([x for r in rows for x in r["distances"]], np.float64)

    def stat(v):
        return round(float(v), 4) if d.size else None

    return {
        "images": len(rows),
        "same_count": round(float(np.mean([r["same_count"] for r in rows])), 4) if rows else None,
        "people_keras": int(sum(r["reference"] for r in rows)),
        "people_file": int(sum(r["found"] for r in rows)),
        "unmatched": int(sum(r["unmatched"] for r in rows)),
        "swaps": int(sum(r["swaps"] for r in rows)),
        "images_with_swaps": int(sum(r["swaps"] > 0 for r in rows)),
        "joints_compared": int(d.size),
        "mean_px": stat(d.mean()) if d.size else None,
        "p95_px": stat(np.percentile(d, 95)) if d.size else None,
        "max_px": stat(d.max()) if d.size else None,
        "joints_one_only": int(sum(r["one_only"] for r in rows)),
    }


def _ks_percent(metrics: Dict) -> List[float]:
    """Per-joint keypoint-similarity accuracy of a ``people_metrics`` result, in % (one decimal)."""
    return [round(100 * float(v), 1) for v in metrics["ks@0.5"]["per_joint"]]


def _on_scenes(people: Sequence, scores: Sequence, scenes, joints) -> Tuple[float, List[float]]:
    """OKS AP (%) of ``people`` on ``scenes`` and per-joint keypoint-similarity accuracy (%, one
    decimal), as ``training.people_evaluation.people_metrics`` computes them, on ``joints``
    (``training.people_evaluation.scene_joints``: index or None, sigmas)."""
    from training.people_evaluation import people_metrics

    _, kps, vis, areas = scenes
    index, sigmas = joints
    found = [_found(p, s) for p, s in zip(people, scores)]
    metrics = people_metrics([f[0] for f in found], [f[1] for f in found], list(kps), list(vis), list(areas),
                             sigmas, index)
    return 100 * float(metrics["oks"]["AP"]), _ks_percent(metrics)


def _keras_people(model, images: np.ndarray, batch_size: int = 16):
    from training.people_evaluation import keras_people_fn

    fn = keras_people_fn(model)
    people, scores = [], []
    for start in range(0, len(images), batch_size):
        p, s = fn(images[start:start + batch_size])
        people.append(np.asarray(p))
        scores.append(np.asarray(s))
    return np.concatenate(people), np.concatenate(scores)


def _people_target(precision: str, agreement: Dict, drop: float, photo_drop: Optional[float] = None
                   ) -> Tuple[Optional[str], bool]:
    """A file's target and whether it meets it: float32 / ONNX files find the same people, the
    other precisions keep the scene AP drop within ``AP_DROP_TARGETS`` (no target: ok), and the
    photo AP drop too where ``photo_drop`` is given (a model scored on the COCO photos'
    validation split, whose real-photo figure is its headline)."""
    if precision in SAME_PEOPLE_PRECISIONS:
        target = f"same people, <= {SAME_PEOPLE_MAX_PX:g} px"
        ok = (agreement["same_count"] == 1.0 and agreement["joints_one_only"] == 0
              and (agreement["max_px"] or 0.0) <= SAME_PEOPLE_MAX_PX)
        return target, ok
    limit = AP_DROP_TARGETS.get(precision)
    if limit is None:
        return None, True
    if photo_drop is not None:
        return f"AP drop <= {limit:g} (scenes and photos)", max(drop, photo_drop) <= limit
    return f"AP drop <= {limit:g}", drop <= limit


def people_parity(model, artifacts: Artifacts, count: Optional[int] = None, data: Optional[str] = None,
                  scenes=None, photos=None) -> Dict:
    """Measures every exported file of a bottom-up ``model`` against it on ``count`` held-out
    scenes (default 100; ``training.people_evaluation.scene_evaluation_set``: LSPet validation people, seed
    2017), the same uint8 images for both: ``people_agreement`` per file, and OKS AP (%, COCO via
    pycocotools) of the Keras model and of each file on those scenes, with the drop in points, and
    per-joint keypoint-similarity accuracy (``ks_scenes``, %).
    Then on the model's real validation photos (``photos``, default
    ``training.people_evaluation.validation_photos`` under ``data``: coco-mini's held-out photos, or
    the COCO photos' validation split for a model that trains on the COCO photos), each letterboxed
    as ``predict_people`` does: OKS AP (``AP_photos``, its drop) and per-joint keypoint-similarity
    accuracy (``ks_photos``, %).

    ``ok``: float32 / ONNX files find the same people (same count in every image, no joint in one
    only, every keypoint within ``SAME_PEOPLE_MAX_PX``); the other precisions keep the scene AP
    drop within ``AP_DROP_TARGETS``, and on the COCO photos' validation split the photo AP drop
    too. ``scenes`` (the 4-tuple of ``scene_evaluation_set``) skips making them. The report is
    JSON-able; ``zoo.card_measurements.people_parity_table`` renders it."""
    from training.people_evaluation import scene_evaluation_set, scene_joints

    count = 100 if count is None else count
    scenes = scenes if scenes is not None else scene_evaluation_set(count, data, model.input_size, model.skeleton.name)
    images = np.asarray(scenes[0])
    if images.dtype != np.uint8 or images.ndim != 4 or images.shape[1:] != (model.input_size, model.input_size, 3):
        raise ValueError(f"scenes must be uint8 images (N, {model.input_size}, {model.input_size}, 3), "
                         f"got {images.dtype} {images.shape}")
    joints = scene_joints(model.skeleton)
    on_photos, photo_set = _photo_measure(model, photos, data)
    ref_people, ref_scores = _keras_people(model, images)
    ref_ap, ref_ks_scenes = _on_scenes(ref_people, ref_scores, scenes, joints)
    ref_photo_ap, ref_ks, ref_photos = on_photos()
    rows = [{"artifact": "keras", "precision": "float32",
             **people_agreement(ref_people, ref_scores, ref_people, ref_scores),
             "AP": round(ref_ap, 2), "AP_drop": 0.0, "ks_scenes": ref_ks_scenes,
             "AP_photos": round(ref_photo_ap, 2), "AP_photos_drop": 0.0, "ks_photos": ref_ks,
             "target": None, "ok": True}]
    for f, runner in artifacts:
        people, scores = runner.predict(images)
        precision = precision_of(f)
        agreement = people_agreement(ref_people, ref_scores, people, scores)
        ap, ks_scenes = _on_scenes(people, scores, scenes, joints)
        photo_ap, ks, _ = on_photos(runner.predict)
        target, ok = _people_target(precision, agreement, ref_ap - ap,
                                    ref_photo_ap - photo_ap if photo_set["set"] == "coco_val" else None)
        rows.append({"artifact": Path(f).name, "precision": precision, **agreement,
                     "AP": round(ap, 2), "AP_drop": round(ref_ap - ap, 2), "ks_scenes": ks_scenes,
                     "AP_photos": round(photo_ap, 2), "AP_photos_drop": round(ref_photo_ap - photo_ap, 2),
                     "ks_photos": ks, "target": target, "ok": bool(ok)})
    return _people_report(model, len(images), joints, {**photo_set, "images": int(ref_photos["images"]),
                                                       "people": int(ref_photos["people"]),
                                                       "joint_names": ref_photos["joint_names"]}, rows)


def _people_report(model, scenes: int, joints, photos: Dict, rows: List[Dict]) -> Dict:
    """``people_parity``'s JSON-able report: what was measured on how many scenes and photos, and
    the rows."""
    from training.people_evaluation import scene_protocol

    index = joints[0] if joints[0] is not None else range(model.num_joints)
    scored = [model.skeleton.joint_names[j] for j in index]
    return {"model": _model_id(model), "kind": "bottom-up", "data": scene_protocol(model.skeleton),
            "scenes": int(scenes), "joint_names": scored, "photos": photos,
            "matching": ("people of each image matched in score order, by lowest mean keypoint distance where "
                         f"the order differs (swaps); distances in input pixels of the {model.input_size}x"
                         f"{model.input_size} scene over joints present in both people of a pair"),
            "ap": ("COCO OKS AP (pycocotools), all 14 LSP joints, in %" if joints[0] is None else
                   f"COCO OKS AP (pycocotools), the {len(scored)} joints LSP-14 shares with "
                   f"{model.skeleton.name}, in %"),
            "rows": rows}


def _photo_measure(model, photos=None, data: Optional[str] = None):
    """``(on_photos(people_fn=None) -> (AP %, per-joint accuracy %, result), photo set entry)`` of a
    bottom-up model's validation photos (``training.people_evaluation.validation_photos``;
    ``photos``: these samples instead). The entry: ``data`` (protocol) and ``set``
    (``coco_heldout`` or ``coco_val``); the COCO validation split also has a ``title``."""
    from training.people_evaluation import (
        COCO_HELDOUT_PROTOCOL,
        COCO_VAL_PROTOCOL,
        evaluate_coco,
        trains_on_coco_photos,
        validation_photos,
    )

    if photos is None:
        key, samples, protocol = validation_photos(model, data)
    else:
        key = "coco_val" if trains_on_coco_photos(model) else "coco_heldout"
        samples, protocol = photos, (COCO_VAL_PROTOCOL if key == "coco_val" else COCO_HELDOUT_PROTOCOL)
    entry = {"data": protocol, "set": key}
    if key == "coco_val":
        entry["title"] = "COCO validation photos"

    def on_photos(people_fn=None):
        r = evaluate_coco(model, samples=samples, people_fn=people_fn)
        return 100 * float(r["oks"]["AP"]), _ks_percent(r), r

    return on_photos, entry


def people_parity_table(report: Dict) -> str:
    """``people_parity``'s report as the lines ``tools.parity`` prints: what was measured and the
    card's table (``zoo.card_measurements.people_parity_table``)."""
    from zoo.card_measurements import people_parity_table as table

    return f"{report['model']}: {report['scenes']} {report['data']}\n{table(report)}"
