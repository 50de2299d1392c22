"""Model card sections of a multi-person (bottom-up) model's evaluation, from ``model.json``'s
metrics (``training.evaluate``'s bottom-up publication): the OKS AP of each evaluation set, the
per-joint keypoint-similarity accuracy, the worst validation photos and the training curve."""

from __future__ import annotations

from typing import Dict, List

from zoo.card_format import markdown_table, pct

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
    lines = ["", "## Worst validation photos", "",
             f"The {len(worst)} photos of the {bullet} whose people the model found worst: per photo, the mean OKS "
             "of its labelled people, each matched greedily (by person score) to the prediction of highest OKS, 0 "
             "for a person no prediction matched (`training.oks_metrics.per_image_oks`; extra people found cost "
             "nothing here, AP counts them). See them with "
             f"`python -m tools.predict <photo> --model {spec.id} --output out/`.", "",
             "| photo | image id | labelled people | people found | OKS |", "| --- | ---: | ---: | ---: | ---: |"]
    for w in worst:
        lines.append(f"| {w['source']}/{w['file']} | {w['image_id']} | {w['people']} | {w['found']} | "
                     f"{w['oks']:.3f} |")
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
