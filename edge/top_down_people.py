"""Several people in real photos with a single-person model, measured: the person detector's boxes,
the pose model on each box's crop (``zoo.people.top_down_people``), scored by COCO OKS AP
(pycocotools) on the COCO photos' validation split, all people
(``training.people_evaluation.evaluate_top_down_people``), in Keras and with the exported files
run in sequence (the detector's ``.tflite`` and the pose model's, ``edge.people_tflite``): the
``top_down_people`` measurement of a published version.

    report = measure_top_down_people(zoo.load("simplebaseline-coco@2"), precisions=("int8",))
    print(top_down_people_table(report))

``python -m tools.evaluate NAME@V --people [--precision int8] [--record]`` runs it; the card
renders it (``zoo.card_people.top_down_people_lines``) and the accuracy target
``top_down_coco_val_ap`` reads it (``zoo.model_card``).
"""

from __future__ import annotations

import datetime
from pathlib import Path
from typing import Callable, Dict, Optional, Sequence

#: The measurement's name among a published version's measurements (``zoo.store.measurements``).
MEASUREMENT = "top_down_people"
#: Accepted OKS AP drops of the files in sequence against the Keras path, in AP points (int8 at
#: most 1 point, as every int8 file; the people parity's ``edge.agreement.AP_DROP_TARGETS``;
#: float32 the top-down PCK's).
AP_DROP_TARGETS = {"float32": 0.05, "float16": 0.2, "dynamic": 1.0, "int8": 1.0}
_OKS_KEYS = ("AP", "AP50", "AP75", "APm", "APl", "AR")


def _row(artifact: str, precision: str, detector: str, result: Dict, reference: Optional[Dict]) -> Dict:
    """One table row: the OKS figures in % (two decimals), per-joint accuracy in %, the AP drop
    against ``reference`` (the Keras row; None: this is it) and its target."""
    oks = result["oks"]
    row = {"artifact": artifact, "precision": precision, "detector": detector,
           **{key: round(100 * float(oks[key]), 2) for key in _OKS_KEYS},
           "detections": int(result["detections"]), "matched": int(result["matched"]),
           "ks@0.5": round(100 * float(result["ks@0.5"]["mean"]), 1),
           "ks_per_joint": [round(100 * float(v), 1) for v in result["ks@0.5"]["per_joint"]]}
    if reference is None:
        return {**row, "AP_drop": 0.0, "target": None, "ok": True}
    drop = round(reference["AP"] - row["AP"], 2)
    limit = AP_DROP_TARGETS.get(precision)
    return {**row, "AP_drop": drop, "target": None if limit is None else f"AP drop <= {limit:g}",
            "ok": bool(limit is None or drop <= limit)}


def _files(model, precision: str, exports, log: Callable[[str], None]):
    """The pose model's and the person detector's ``.tflite`` of ``precision`` under ``exports``
    (each exported there once if missing, as ``python -m tools.export NAME@V --format tflite
    --precision P`` writes it: ``edge.exporter.cached_tflite``), run in sequence."""
    from edge.detector_tflite import cached_detector_tflite
    from edge.exporter import cached_tflite
    from edge.people_tflite import TopDownPeopleTFLite
    from edge.tflite_conversion import PRECISIONS
    from zoo.detectors import load_detector

    if precision not in PRECISIONS:
        raise ValueError(f"unknown precision {precision!r}; choose from {list(PRECISIONS)}")
    pose_file = cached_tflite(model, precision, exports, log=log)
    detector_file = cached_detector_tflite(load_detector(), precision, exports, log=log)
    return TopDownPeopleTFLite(detector_file, pose_file), pose_file, detector_file


def measure_top_down_people(model, precisions: Sequence[str] = (), exports="exports", data=None,
                            log: Callable[[str], None] = print, command: Optional[str] = None) -> Dict:
    """OKS AP of a single-person ``model`` used top-down on the COCO photos' validation split: the
    Keras path (``model.predict_people``: the person detector's Keras model, then ``model``), then
    for each of ``precisions`` the two ``.tflite`` files of that precision in sequence (``_files``),
    with the AP drop against Keras and its target (``AP_DROP_TARGETS``). ``data``: the data root.

    Returns the JSON-able report: ``keras`` (the full result: OKS, per-joint accuracy, worst
    photos), ``rows`` (one per path, ``_row``), what was measured, when and with what command."""
    from edge.tasks import edge_task
    from training.people_evaluation import evaluate_top_down_people
    from zoo.detectors import load_detector

    if edge_task(model.task).grouping:
        raise ValueError(f"{model.spec.id if model.spec else type(model).__name__} finds people itself (a "
                         "bottom-up model); the top-down measurement is for single-person models")
    detector = load_detector()
    log(f"{_model_id(model)}: the person detector ({detector.spec.id}) then the model, Keras ...")
    keras = evaluate_top_down_people(model, data, detector=detector)
    rows = [_row("keras", "float32", f"{detector.spec.id} (Keras)", keras, None)]
    for precision in precisions:
        people, pose_file, detector_file = _files(model, precision, exports, log)
        log(f"{Path(detector_file).name} then {Path(pose_file).name} (LiteRT) ...")
        result = evaluate_top_down_people(model, data, people_fn=people.predict_people, worst=0)
        rows.append(_row(Path(pose_file).name, precision, Path(detector_file).name, result, rows[0]))
    return _report(model, keras, rows, command)


def _model_id(model) -> Optional[str]:
    return model.spec.id if model.spec is not None else None


def _report(model, keras: Dict, rows, command: Optional[str]) -> Dict:
    from importlib.metadata import PackageNotFoundError, version

    import tensorflow as tf

    try:
        litert = version("ai-edge-litert")
    except PackageNotFoundError:  # not installed under that name: say so rather than guess
        litert = "n/a"
    return {"model": _model_id(model), "kind": "top-down through the person detector",
            "data": keras["protocol"], "images": int(keras["images"]), "people": int(keras["people"]),
            "joint_names": list(keras["joint_names"]), "keras": keras, "rows": list(rows),
            "ap": "COCO OKS AP (pycocotools, OKS 0.50:0.05:0.95, at most 20 people an image), in %; drop in "
                  "points against the Keras path",
            "measured": datetime.date.today().isoformat(),
            "versions": {"tensorflow": tf.__version__, "ai-edge-litert": litert},
            "command": command or f"python -m tools.evaluate {_model_id(model)} --people"}


def top_down_people_table(report: Dict) -> str:
    """The report as the lines ``tools.evaluate --people`` prints: the Keras result
    (``training.people_evaluation.format_people``: AP/AR, per-joint accuracy, worst photos), then one
    line per path with its AP and drop."""
    from training.people_evaluation import format_people

    lines = [f"{report['model']}: {report['data']}", format_people(report["keras"])]
    for r in report["rows"]:
        target = f"; target {r['target']}: {'met' if r['ok'] else 'MISSED'}" if r["target"] else ""
        lines.append(f"{r['artifact']} ({r['precision']}, detector {r['detector']}): AP {r['AP']:.1f} AP50 "
                     f"{r['AP50']:.1f} AR {r['AR']:.1f}, {r['detections']} detections, AP drop "
                     f"{r['AP_drop']:.2f}{target}")
    return "\n".join(lines)
