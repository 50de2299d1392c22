"""Model card sections of a multi-person (bottom-up) model's evaluation, from ``model.json``'s
metrics (``training.evaluate``'s bottom-up publication): the OKS AP of each evaluation set, the
per-joint keypoint-similarity accuracy, the worst validation photos and the training curve."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Dict, List, Tuple

from zoo.card_format import markdown_table, pct

#: Other projects' models scored on the COCO photos' validation split with the same code
#: (``python -m tools.reference_people``, ``training.reference_people``), shown beside every model
#: measured on that split; absent (no section) in an installed package without the repository.
REFERENCES_FILE = Path(__file__).resolve().parents[1] / "benchmarks" / "reference_people_coco_val.json"

#: The evaluation sets a bottom-up model's metrics can hold, in card order: (metrics key, row of the
#: AP table, protocol bullet, column of the per-joint table, what a joint the set lacks says).
PEOPLE_SETS = (
    ("scenes", "held-out LSPet scenes", "Held-out scenes", "held-out scenes", "not labelled in LSPet"),
    ("coco", "coco-mini", "coco-mini", "coco-mini", "not labelled in COCO"),
    ("coco_heldout", "coco-mini, 20 held-out photos", "coco-mini held-out photos", "coco-mini held-out",
     "not labelled in COCO"),
    ("coco_val", "COCO photos, validation split (all people)", "COCO photos' validation split",
     "COCO validation photos", "not labelled in COCO"),
)


def people_evaluation_lines(sk, m: Dict) -> List[str]:
    """The Evaluation section: the OKS AP of every set in ``m``, the protocols, per-joint accuracy."""
    lines = ["## Evaluation", "",
             "COCO keypoint AP (pycocotools `COCOeval`, OKS thresholds 0.50:0.05:0.95, at most 20 people per "
             "image); the whole image in, people out (grouping inside the model). "
             f"Command: `{m['evaluation']['command']}`.",
             "", "| data | images | people | people found | AP | AP50 | AP75 | APm | APl | AR |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    sources = [src for src in PEOPLE_SETS if src[0] in m]
    for key, label, *_ in sources:
        r = m.get(key)
        if r:
            o = r["oks"]
            lines.append(f"| {label} | {r['images']} | {r['people']} | {r['detections']} | {pct(o['AP'])} | "
                         f"{pct(o['AP50'])} | {pct(o['AP75'])} | {pct(o['APm'])} | {pct(o['APl'])} | {pct(o['AR'])} |")
    lines += [""] + [f"- {bullet}: {m[key]['protocol']}." for key, _, bullet, *_ in sources]
    return lines + _per_joint_lines(sk, m, sources)


def _per_joint_lines(sk, m: Dict, sources) -> List[str]:
    """Per joint and set, the share of labelled joints found (keypoint similarity >= 0.5)."""
    lines = ["", "Per joint: the share of labelled joints whose matched prediction has COCO keypoint similarity "
             "exp(-d^2 / (2 area (2 sigma)^2)) >= 0.5 (people matched one-to-one at OKS >= 0.5, unmatched "
             "people count as misses), in %:", "",
             "| joint | OKS sigma | " + " | ".join(src[3] for src in sources) + " |",
             "| --- | ---: |" + " ---: |" * len(sources)]
    for j, name in enumerate(sk.joint_names):
        cells = []
        for key, _, _, _, missing in sources:
            names = m[key].get("joint_names", list(sk.joint_names))
            cells.append(pct(m[key]["ks@0.5"]["per_joint"][names.index(name)]) if name in names else missing)
        lines.append(f"| {name} | {sk.oks_sigmas[j]:.3f} | " + " | ".join(cells) + " |")
    lines.append("| **all labelled joints** | | " + " | ".join(
        f"**{pct(m[key]['ks@0.5'].get('mean'))}**" for key, *_ in sources) + " |")
    return lines


def worst_photos_lines(spec, m: Dict) -> List[str]:
    """The validation photos whose people the model found worst (``worst_photos`` of a set)."""
    found = [(src[2], m[src[0]]["worst_photos"]) for src in PEOPLE_SETS if m.get(src[0], {}).get("worst_photos")]
    if not found:
        return []
    bullet, worst = found[0]
    return _worst_table(spec, f"the {bullet}", worst)


def _worst_table(spec, where: str, worst: List[Dict], how: str = "") -> List[str]:
    """The section of the ``worst`` photos (``training.people_evaluation.worst_photos``) of ``where``."""
    lines = ["", "## Worst validation photos", "",
             f"The {len(worst)} photos of {where} whose people the model found worst{how}: per photo, the mean OKS "
             "of its labelled people, each matched greedily (by person score) to the prediction of highest OKS, 0 "
             "for a person no prediction matched (`training.oks_metrics.per_image_oks`; extra people found cost "
             "nothing here, AP counts them). See them with "
             f"`python -m tools.predict <photo> --model {spec.id}{' --people' if how else ''} --output out/`.", "",
             "| photo | image id | labelled people | people found | OKS |", "| --- | ---: | ---: | ---: | ---: |"]
    for w in worst:
        lines.append(f"| {w['source']}/{w['file']} | {w['image_id']} | {w['people']} | {w['found']} | "
                     f"{w['oks']:.3f} |")
    return lines


def top_down_people_lines(spec, report: Dict) -> List[str]:
    """Card sections of the ``top_down_people`` measurement (``edge.top_down_people``): OKS AP of the
    single-person model used top-down through the person detector on the COCO photos' validation
    split, in Keras and with the exported files in sequence; per joint; the worst photos; the
    reference models measured on the same photos (``reference_lines``)."""
    rows = report["rows"]
    lines = ["", "## Several people: top-down through the person detector", "",
             f"{report['data']}. {report['images']} photos, {report['people']} labelled people; {report['ap']}. "
             f"Measured {report['measured']} ({', '.join(f'{k} {v}' for k, v in report['versions'].items())}). "
             f"Command: `{report['command']}`.", "",
             "| path | precision | detector | AP | AP50 | AP75 | APm | APl | AR | people found | AP drop | target "
             "| ok |", "| --- | --- | --- |" + " ---: |" * 8 + " --- | --- |"]
    for r in rows:
        cells = [r["artifact"], r["precision"], r["detector"]] + [f"{r[k]:.1f}" for k in
                                                                  ("AP", "AP50", "AP75", "APm", "APl", "AR")]
        cells += [str(r["detections"]), f"{r['AP_drop']:.2f}", r["target"] or "", "yes" if r["ok"] else "**no**"]
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", "Per joint: the share of labelled joints whose matched prediction has COCO keypoint similarity "
              ">= 0.5 (people matched one-to-one at OKS >= 0.5, unmatched people count as misses), in %:", "",
              "| joint | " + " | ".join(f"{r['artifact']}" for r in rows) + " |", "| --- |" + " ---: |" * len(rows)]
    for j, name in enumerate(report["joint_names"]):
        lines.append(f"| {name} | " + " | ".join(pct(r["ks_per_joint"][j], scale=1) for r in rows) + " |")
    lines.append("| **all labelled joints** | " + " | ".join(f"**{pct(r['ks@0.5'], scale=1)}**" for r in rows) + " |")
    worst = report["keras"].get("worst_photos")
    if worst:
        lines += _worst_table(spec, "the COCO photos' validation split", worst,
                              " through the person detector (Keras path)")
    return lines + reference_lines([(f"**{spec.id}** (this model, Keras)",
                                     "top-down: the person detector's boxes, the model on each crop", rows[0],
                                     rows[0]["detections"])])


def coco_val_reference_lines(spec, m: Dict) -> List[str]:
    """``reference_lines`` of a bottom-up model scored on the COCO photos' validation split
    (``coco_val`` in its metrics); nothing for the others."""
    if "coco_val" not in m:
        return []
    return reference_lines([(f"**{spec.id}** (this model, Keras)", "bottom-up: the whole photo letterboxed",
                             m["coco_val"]["oks"], m["coco_val"]["detections"])])


def reference_lines(ours: List[Tuple[str, str, Dict, int]]) -> List[str]:
    """The reference models of ``REFERENCES_FILE`` beside ``ours`` (``(label, how it finds people,
    OKS figures as fractions or a measurement row in %, people found)``) on the COCO photos'
    validation split; nothing where none is recorded."""
    if not REFERENCES_FILE.is_file():
        return []
    recorded = json.loads(REFERENCES_FILE.read_text())
    refs = recorded.get("references", {})
    if not refs:
        return []
    lines = ["", "## Beside other models on the same photos", "",
             "Every model scored by the same code (pycocotools OKS AP, "
             f"`training.people_evaluation.evaluate_photo_people`) on {recorded['data']}, all of them. The other "
             f"models' figures are recorded in `benchmarks/{REFERENCES_FILE.name}` by the command of each row. Not "
             "trained on the same data: MoveNet's training data (COCO and Google's Active set, per its model card) "
             "may include these train2017 photos.", "",
             "| model | how it finds people | AP | AP50 | AP75 | AR | people found | measured |",
             "| --- | --- | ---: | ---: | ---: | ---: | ---: | --- |"]
    for label, how, oks, found in ours:
        scale = 1 if "ks_per_joint" in oks else 100  # a measurement row holds %, model.json fractions
        lines.append(f"| {label} | {how} | " + " | ".join(f"{scale * oks[k]:.1f}" for k in ("AP", "AP50", "AP75", "AR"))
                     + f" | {found} | |")
    for r in refs.values():
        o = r["oks"]
        lines.append(f"| {r['title']} | {r['how']} | {pct(o['AP'])} | {pct(o['AP50'])} | {pct(o['AP75'])} | "
                     f"{pct(o['AR'])} | {r['detections']} | {r['measured']}, `{r['command']}` |")
    return lines


def people_curve_lines(tr: Dict, m: Dict) -> List[str]:
    """The training curve: losses, the AP measured each epoch, and the epoch curve's AP."""
    if not tr.get("validation_curve"):
        return []
    photos = "the COCO photos' validation split" if "coco_val" in m else "the held-out coco-mini photos"
    lines = ["", "## Training curve", "",
             "Training loss (mean over the epoch) and per-stage losses on the held-out validation scenes "
             "after each epoch, from the run's `history.csv`"
             + (f"; OKS AP of each epoch's weights on the first {tr['ap_curve_scenes']} held-out scenes."
                if tr.get("ap_curve") else ".")
             + (" scene AP / photo AP: OKS AP (%) measured after each epoch on the held-out validation scenes / "
                f"{photos}." if any("scene AP" in r for r in tr["validation_curve"]) else ""),
             ""]
    ap = {r["epoch"]: r for r in tr.get("ap_curve", [])}
    return lines + markdown_table([{**row, **({"AP": pct(ap[row["epoch"]]["AP"])} if row["epoch"] in ap else {})}
                                   for row in tr["validation_curve"]])
