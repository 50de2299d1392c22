"""Evaluation of a model by its task, with the protocol of docs/evaluation.md: PCK for top-down
models (``training.pck_evaluation``, and for COCO-17 the ``training.everyday_sets``), OKS AP on held-out
scenes and coco-mini for bottom-up models (``training.people_evaluation``).

``task_evaluation(model)`` looks up, in one table keyed by the model's task (``EVALUATIONS``), how
its figures are measured, printed and published (``tools.evaluate``, ``tools.publish``).
"""

from __future__ import annotations

import dataclasses
from typing import Callable, Dict, Optional, Tuple

from training.everyday_sets import EVERYDAY_SETS, evaluate_everyday_sets, format_everyday_sets
from training.pck_evaluation import PROTOCOL, evaluate, format_result, predict_samples
from training.people_evaluation import (
    COCO_HELDOUT,
    coco_mini,
    evaluate_coco,
    evaluate_scenes,
    evaluate_validation_photos,
    format_people,
    scene_evaluation_set,
    trains_on_coco_photos,
)


def evaluation_samples(skeleton: str, data: Optional[str] = None, limit: int = 0):
    """The evaluation samples for a model's skeleton: LSPet val split; for MPII-16 the validation
    split of the MPII release (``data`` a ``.mat``, ``training.datasets.mpii``) or an MPII-format
    JSON, and without ``data`` the MPII subset's validation people; for COCO-17 the COCO photos'
    validation people (``EVERYDAY_SETS``' first)."""
    from training.datasets import load_lspet, load_mpii, load_person_dataset
    from training.datasets.mpii import VAL_MODULUS, is_release_path

    if skeleton == "coco17":
        name = next(iter(EVERYDAY_SETS))
        samples, desc = load_person_dataset(name, "val", data), EVERYDAY_SETS[name]
    elif skeleton == "lsp14":
        samples, desc = load_lspet(data, split="val"), "LSPet validation split (im08101-im09000)"
    elif skeleton == "mpii16" and not data:
        samples, desc = load_person_dataset("mpii_subset", "val"), EVERYDAY_SETS["mpii_subset"]
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


def evaluate_keypoints(model, data=None, limit: int = 0, progress: bool = True, full: bool = True) -> Dict:
    """PCK (and with ``full`` PDJ and PCP) of a top-down ``model`` on its skeleton's evaluation
    data (``evaluation_samples``; the first ``limit`` samples when ``limit``)."""
    samples, desc = evaluation_samples(model.skeleton.name, data, limit)
    result = evaluate(model, samples, progress=progress, full=full)
    result.update(data=desc, protocol=PROTOCOL, samples=result["pck@0.2"]["samples"],
                  joints=result["pck@0.2"]["joints"])
    return result


def _keypoint_summary(name: str, result: Dict) -> str:
    return f"{name}: {result['data']}, {result['num_images']} images\n{format_result(result)}"


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
    # The models of everyday photos (COCO-17, and MPII-16 on the shared sets) are scored on every
    # validation set of the multi-dataset training, each in its own skeleton.
    if model.skeleton.name == "coco17" or (model.skeleton.name == "mpii16" and not data):
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
    names) and on real photos none of which it trained on: coco-mini and its held-out photos, or,
    for a model whose recipe trains on the COCO photos (``trains_on_coco_photos``), the COCO
    photos' validation split alone (``coco_val``, with its worst photos)."""
    scenes = evaluate_scenes(model, count=limit or 300, data=data)
    return {"scenes": scenes, **_photo_results(model, data)}


def _photo_results(model, data=None) -> Dict:
    """The real-photo results of a bottom-up model (``evaluate_people``)."""
    if trains_on_coco_photos(model):
        key, result = evaluate_validation_photos(model, data)
        return {key: result}
    # coco: all of coco-mini (a recipe with coco_mix trains on 60 of them); coco_heldout: the 20
    # photos no recipe trains on (training.datasets.coco.heldout_split), the real-photo figure.
    return {"coco": evaluate_coco(model, coco_mini(data)),
            "coco_heldout": evaluate_coco(model, coco_mini(data), heldout=COCO_HELDOUT)}


def _people_summary(name: str, result: Dict) -> str:
    return "\n".join(f"{name} on {key}: {r['protocol']}\n{format_people(r)}" for key, r in result.items())


def _people_publication(model, data=None, scenes: int = 300) -> Tuple[Dict, str, Tuple]:
    evaluation_set = scene_evaluation_set(scenes, data, model.input_size, model.skeleton.name)
    result = {"scenes": evaluate_scenes(model, scenes=evaluation_set), **_photo_results(model, data)}
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
