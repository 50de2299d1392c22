"""Model cards generated from a published spec's measured results (never typed by hand).

``write_model_card(spec)`` renders ``model_cards/<name>/<version>.md`` for models in the package
store (and ``<store>/<name>/<version>/MODEL_CARD.md`` beside local-store models) from
``model.json``: training data and recipe, per-joint PCK, and the tables of the measurements
recorded after publishing (``zoo.store.measurements``: export parity, latency, ablation, cost;
rendered by ``zoo.card_measurements``). Publishing does not write the card: ``python -m
tools.model_card`` (and ``tools.publish``) does.
"""

from __future__ import annotations

from pathlib import Path
from typing import Dict, List, Optional

from zoo.card_format import markdown_table, pct
from zoo.card_measurements import measurement_sections
from zoo.card_people import coco_val_reference_lines, people_curve_lines, people_evaluation_lines, worst_photos_lines
from zoo.card_targets import ACCURACY_TARGET, accuracy_target_report, target_section
from zoo.io import write_atomic
from zoo.presets import architecture_title
from zoo.registry import task_of
from zoo.skeletons import get_skeleton
from zoo.specs import ModelSpec
from zoo.store import PACKAGE_STORE, measurements, published_versions, write_measurement

CARDS_DIR = Path(__file__).resolve().parents[1] / "model_cards"

DATASET_CITATIONS = {
    "lspet": "Johnson & Everingham, Learning Effective Human Pose Estimation from Inaccurate "
             "Annotation, CVPR 2011 (LSP extended).",
    "mpii": "Andriluka, Pishchulin, Gehler, Schiele, 2D Human Pose Estimation: New Benchmark and "
            "State of the Art Analysis, CVPR 2014 (MPII Human Pose).",
    "coco": "Lin et al., Microsoft COCO: Common Objects in Context, ECCV 2014 (COCO keypoints).",
}
DATASET_CITATIONS["mpii_subset"] = DATASET_CITATIONS["mpii"]
DATASET_CITATIONS["coco_people"] = DATASET_CITATIONS["coco"]
# A bottom-up recipe's sources (training.real_photos, training.bottom_up.SCENES).
DATASET_CITATIONS["coco_photos"] = DATASET_CITATIONS["coco"]
DATASET_CITATIONS["mpii_photos"] = DATASET_CITATIONS["mpii"]
DATASET_CITATIONS["lspet_scenes"] = DATASET_CITATIONS["lspet"]
# A top-down recipe's detector-box sets (training.box_people).
DATASET_CITATIONS["coco_boxes"] = DATASET_CITATIONS["coco"]
DATASET_CITATIONS["mpii_boxes"] = DATASET_CITATIONS["mpii"]


def dataset_citation(dataset: str) -> str:
    """The citations of a training-data entry, several datasets joined by ``+``."""
    parts = [DATASET_CITATIONS.get(d, d) for d in dataset.split("+")] if dataset else ["n/a"]
    return " ".join(dict.fromkeys(parts))


def _pck_table(metrics: Dict, skeleton) -> List[str]:
    p2, p1 = metrics.get("pck@0.2"), metrics.get("pck@0.1")
    if not p2 or not p1:
        return ["No PCK measured."]
    lines = ["| joint | PCK@0.2 (%) | PCK@0.1 (%) |", "| --- | ---: | ---: |"]
    for name in skeleton.joint_names:
        lines.append(f"| {name} | {pct(p2['per_joint'].get(name))} | {pct(p1['per_joint'].get(name))} |")
    lines.append(f"| **all {skeleton.num_joints} joints** | **{pct(p2['mean'])}** | **{pct(p1['mean'])}** |")
    left_out = "no face points" if "nose" in skeleton.joint_names else "no neck, head top"
    lines.append(f"| **12 limb joints** ({left_out}) | **{pct(p2['mean_limbs'])}** | "
                 f"**{pct(p1['mean_limbs'])}** |")
    return lines


#: The seed lectures' MPII comparison (PCKh@0.5, all joints, full MPII test set of about 25,000 people),
#: quoted beside our MPII-16 models' own figure: (method, venue, PCKh@0.5 %).
MPII_LITERATURE_PCKH = (
    ("Tompson et al. (joint CNN + graphical model)", "NIPS 2014", 79.6),
    ("Carreira et al. (Iterative Error Feedback)", "CVPR 2016", 81.3),
    ("Tompson et al. (multi-resolution heatmaps + cascade)", "CVPR 2015", 82.0),
    ("Wei et al. (CPM)", "CVPR 2016", 87.9),
    ("Newell et al. (Stacked Hourglass)", "ECCV 2016", 89.4),
)


def _mpii_literature_section(spec: ModelSpec, m: Dict) -> List[str]:
    """The seed lectures' MPII PCKh@0.5 table with this model's own figure on the MPII subset's
    validation people, for models that report PCKh@0.5 on all MPII-16 joints."""
    mpii = m.get("validation_sets", {}).get("mpii_subset", {})
    if spec.skeleton != "mpii16" or "pckh@0.5" not in mpii:
        return []
    ours = 100 * mpii["pckh@0.5"]["mean"]
    lines = ["", "## Against the published MPII results", "",
             "The seed lectures' table (full MPII benchmark, about 25,000 training people) beside this model on "
             f"the validation people of the 1,727-person MPII subset ({mpii['num_images']} people; its training "
             "people are the subset's others, see Training). Not the same test set: a guide to the gap, not a "
             "ranking.", "",
             "| method | PCKh@0.5, all joints (%) | test data |", "| --- | ---: | --- |"]
    rows = [(f"{name}, {venue}", value, "full MPII test set") for name, venue, value in MPII_LITERATURE_PCKH]
    rows.append((f"**{spec.name}@{spec.version} (this model)**", ours, "MPII subset validation split"))
    for name, value, data in sorted(rows, key=lambda r: r[1]):
        lines.append(f"| {name} | {value:.1f} | {data} |")
    return lines


def _validation_sets_section(m: Dict) -> List[str]:
    """One row per validation set of a model trained on several (``metrics["validation_sets"]``),
    then the per-joint PCK@0.2 of each, in each set's own skeleton."""
    sets = m.get("validation_sets")
    if not sets:
        return []
    lines = ["", "## Every validation set", "",
             "Each set scored in its own skeleton on the joints it shares with the model "
             "(docs/evaluation.md, \"Everyday photos\"); PCKh@0.5 uses the MPII subset's head size.", "",
             "| validation set | people | limb PCK@0.2 (%) | limb PCK@0.1 (%) | limb PCKh@0.5 (%) "
             "| scored joints PCK@0.2 (%) |",
             "| --- | ---: | ---: | ---: | ---: | ---: |"]
    for r in sets.values():
        pckh = pct(r["pckh@0.5"]["mean_limbs"]) if "pckh@0.5" in r else ""
        lines.append(f"| {r['data']} | {r['num_images']} | {pct(r['pck@0.2']['mean_limbs'])} | "
                     f"{pct(r['pck@0.1']['mean_limbs'])} | {pckh} | {pct(r['pck@0.2']['mean'])} |")
    lines += ["", "Per joint, PCK@0.2 (%) (PCKh@0.5 on MPII in brackets):", ""]
    joints = list(dict.fromkeys(n for r in sets.values() for n, v in r["pck@0.2"]["per_joint"].items() if v == v))
    lines += ["| joint | " + " | ".join(sets) + " |", "| --- | " + " | ".join("---:" for _ in sets) + " |"]
    for joint in joints:
        cells = []
        for r in sets.values():
            cell = pct(r["pck@0.2"]["per_joint"].get(joint))
            if "pckh@0.5" in r and joint in r["pckh@0.5"]["per_joint"]:
                cell += f" ({pct(r['pckh@0.5']['per_joint'][joint])})"
            cells.append(cell)
        lines.append(f"| {joint} | " + " | ".join(cells) + " |")
    return lines


def render_model_card(spec: ModelSpec) -> str:
    """The Markdown card of a published spec."""
    if spec.weights is None:
        raise ValueError(f"{spec.name} has no published weights: no card to generate")
    from zoo.tasks import DETECTION

    if task_of(spec) is DETECTION:
        from zoo.detectors.card import render_detector_card

        return render_detector_card(spec)
    sk = get_skeleton(spec.skeleton)
    tr, m = spec.weights.training, spec.weights.metrics
    bottom_up = task_of(spec).multi_person
    lines = _model_and_training_sections(spec, sk, tr, bottom_up)
    if bottom_up:
        return "\n".join(lines + _bottom_up_sections(spec, sk, tr, m))
    return "\n".join(lines + _top_down_sections(spec, sk, tr, m))


def _model_and_training_sections(spec: ModelSpec, sk, tr: Dict, bottom_up: bool) -> List[str]:
    """The card's title line, what the model is and how it was trained."""
    kind = "multi-person (bottom-up)" if bottom_up else "single-person"
    return [
        f"# {spec.name}@{spec.version}",
        "",
        "_Generated by `python -m tools.model_card` from `model.json` (measured results). Do not edit._",
        "",
        f"{architecture_title(spec.architecture)} {kind} pose model, "
        f"{sk.num_joints} joints ({sk.name}), "
        f"input {spec.input_size}x{spec.input_size} uint8 RGB.",
        "",
        "## Model",
        f"- Paper: {spec.paper}",
        f"- Build arguments: `{spec.model_args}`",
        f"- Parameters: {tr.get('parameters', 'n/a')}; weights file {tr.get('weights_bytes', 'n/a')} bytes, "
        f"sha256 `{spec.weights.sha256}`",
        f"- Input: {spec.normalisation.get('input')}; normalisation inside the model: "
        f"{spec.normalisation.get('inside_model')} with mean {spec.normalisation.get('mean')}, "
        f"std {spec.normalisation.get('std')}",
        f"- Output decoding: {spec.codec}",
        f"- Joint order: {', '.join(sk.joint_names)}",
        "",
        "## Training",
        f"- Data: {tr.get('data', 'n/a')}",
        f"- Dataset citation: {dataset_citation(tr.get('dataset', ''))}",
        # The recipe the weights were trained with (a later version may run another than the preset's).
        f"- Recipe: `python -m training.train {tr.get('experiment') or spec.experiment}`; {tr.get('recipe', '')}",
        f"- Epochs: {tr.get('epochs', 'n/a')}, steps/epoch: {tr.get('steps_per_epoch', 'n/a')}, "
        f"batch {tr.get('batch_size', 'n/a')}"
        + ("; stage-wise: " + ", ".join(f"stage {p['stage']} {p['epochs']} epochs" for p in tr["phases"])
           if tr.get("phases") else ""),
        *([f"- Initialisation: {tr['initialisation']}"] if tr.get("initialisation") else []),
        f"- Hardware: {tr.get('hardware', 'n/a')}"
        + (f"; {tr['images_per_second']} training images/s" if tr.get("images_per_second") else ""),
        f"- Training time: {tr.get('training_time', 'n/a')}",
        "",
    ]


def _top_down_sections(spec: ModelSpec, sk, tr: Dict, m: Dict) -> List[str]:
    """Evaluation, training curve, per-stage and per-distance figures, exports and use of a
    single-person model."""
    ev = m.get("evaluation", {})
    lines = [
        "## Evaluation",
        f"- Data: {ev.get('data', 'n/a')} ({ev.get('num_images', 'n/a')} images, "
        f"{ev.get('samples', 'n/a')} with a measurable torso, {ev.get('joints', 'n/a')} labelled joints)",
        f"- Protocol: {ev.get('protocol', 'n/a')}",
        f"- Command: `{ev.get('command', 'n/a')}`",
        "",
    ]
    lines += _pck_table(m, sk)
    lines += _validation_sets_section(m)
    lines += _mpii_literature_section(spec, m)
    lines += target_section(spec, m, tr)
    lines += _curve_and_stage_sections(tr, m)
    lines += _pdj_section(m["pdj"]) if m.get("pdj") else []
    lines += _pcp_section(m["pcp"]) if m.get("pcp") else []
    lines += measurement_sections(spec)
    return lines + _top_down_use_sections(sk, tr)


def _curve_and_stage_sections(tr: Dict, m: Dict) -> List[str]:
    """The validation curve of the training run and the PCK of each stage's own output."""
    lines: List[str] = []
    if tr.get("validation_curve"):
        lines += ["", "## Training curve", "",
                  "Training loss and validation PCK@0.2 (fraction, same protocol) after each epoch, "
                  "from the training run's `history.csv`.", ""] + markdown_table(tr["validation_curve"])
    if m.get("per_stage"):
        lines += ["", "## Per stage", "",
                  "PCK (%) of each stage's own output on the same validation crops (the last stage is "
                  "the model's prediction).", ""] + markdown_table(m["per_stage"])
    return lines


def _pdj_section(pdj: Dict) -> List[str]:
    """The PDJ curve at every multiple of 0.05 of the torso diameter."""
    lines = ["", "## PDJ curve", "",
             "Percentage of Detected Joints (Toshev & Szegedy 2014): joints within a fraction of "
             "the torso diameter (left shoulder - right hip), all joints and per joint (%).", ""]
    picks = [i for i, f in enumerate(pdj["fractions"]) if round(f / 0.05, 6) == int(round(f / 0.05))]
    rows = [{"fraction": pdj["fractions"][i], "all joints": pct(pdj["mean"][i]),
             **{n: pct(v[i]) for n, v in pdj["per_joint"].items()}} for i in picks]
    return lines + markdown_table(rows)


def _pcp_section(pcp: Dict) -> List[str]:
    """Strict PCP per stick and its mean."""
    lines = ["", "## PCP", "",
             "Strict Percentage of Correct Parts (Ferrari et al. 2008): both ends of a stick within "
             "half its true length of their true positions (%); torso stick from the middle of "
             "the hips to the middle of the shoulders.", ""]
    return lines + markdown_table([{**{k: pct(v) for k, v in pcp["per_part"].items()},
                                   "mean": pct(pcp["mean"]), "sticks": pcp["sticks"]}])


def _top_down_use_sections(sk, tr: Dict) -> List[str]:
    """Intended use (everyday photos for COCO-17 models, sports-like photos otherwise) and limitations."""
    lines = [
        "",
        "## Intended use",
        ("Single-person 2D pose on a crop centred on one person (top-down), in everyday photos (people at "
         "home, in the street, partly hidden or cut by the frame), COCO-17 keypoints; several people through the "
         "person detector (`model.predict_people(image)`); on-device through the exported TFLite file."
         if "nose" in sk.joint_names else
         "Single-person 2D pose on a crop centred on one person (top-down), e.g. sports and fitness "
         "photos similar to LSP; a starting point for fine-tuning and for on-device (TFLite) use."),
        "",
        "## Limitations",
    ]
    for lim in tr.get("limitations", []) or [
        "Trained on a small CPU budget at low resolution: far from the paper's accuracy.",
    ]:
        lines.append(f"- {lim}")
    lines.append("")
    return lines


def _bottom_up_sections(spec: ModelSpec, sk, tr: Dict, m: Dict) -> List[str]:
    """Evaluation, worst photos, training curve, exports and use of a multi-person model."""
    lines = people_evaluation_lines(sk, m)
    lines += target_section(spec, m, tr)
    lines += worst_photos_lines(spec, m)
    lines += coco_val_reference_lines(spec, m)
    lines += people_curve_lines(tr, m)
    lines += measurement_sections(spec)
    lines += ["", "## Intended use",
              "Several people in one image, whole image in (letterboxed by `zoo.preprocess.letterbox`), people "
              "out: `model.predict_people(image)` in Keras, or the exported file, which returns up to "
              f"{spec.model_args.get('max_people')} people (x, y, score per joint) and a score per person with "
              "no code to port.", "", "## Limitations"]
    for lim in tr.get("limitations", []) or ["Trained on a small CPU budget: far from the paper's accuracy."]:
        lines.append(f"- {lim}")
    lines.append("")
    return lines


def record_accuracy_target(spec: ModelSpec, targets: Dict[str, float], issue: str, next_steps: str = "",
                           add: bool = False) -> Path:
    """Stores the accuracy targets an issue set for a published version (``{metric: least value in
    %}``, keys of ``zoo.card_targets.TARGET_METRICS``) and what the training showed would close a
    gap; the card states the measured figure (from ``model.json``, or from the measurement the
    target reads, which must be recorded first) against them. ``add``: keep the targets of other
    issues already recorded (``zoo.card_targets.accuracy_target_report``)."""
    report = accuracy_target_report(spec, targets, issue, next_steps, measurements(spec).get(ACCURACY_TARGET)
                                    if add else None)
    return record_measurement(spec, ACCURACY_TARGET, report)


def record_measurement(spec: ModelSpec, name: str, report: Dict) -> Path:
    """Stores a measurement report of a published version and regenerates its card."""
    path = write_measurement(spec, name, report)
    write_model_card(spec)
    return path


def write_model_card(spec: ModelSpec, path: Optional[Path] = None) -> Path:
    """Writes the card of ``spec``; returns its path."""
    if path is None:
        folder = published_versions(spec.name)[spec.version]
        if folder.parent.parent == PACKAGE_STORE:
            path = CARDS_DIR / spec.name / f"{spec.version}.md"
        else:
            path = folder / "MODEL_CARD.md"
    return write_atomic(path, render_model_card(spec))
