"""Model card sections of the measurements recorded after a version is published
(``zoo.store.measurements``): export parity, latency, test-time options, ablations, component cost,
several people top-down (``zoo.card_people``)."""

from __future__ import annotations

from typing import Dict, List

from zoo.card_format import markdown_table, pct
from zoo.card_people import top_down_people_lines
from zoo.skeletons import get_skeleton
from zoo.specs import ModelSpec
from zoo.store import measurements


def measurement_sections(spec: ModelSpec) -> List[str]:
    """The card sections of the measurements recorded after publishing (``zoo.store.measurements``)."""
    lines: List[str] = []
    for name, report in measurements(spec).items():
        if name.startswith("parity"):
            cols = ["artifact", "precision", "mean_px", "p95_px", "max_px", "pck@0.2", "pck@0.1", "pck@0.2_drop",
                    "target_drop"]
            lines += ["", "## Exports: agreement with the Keras model", "",
                      f"{report['crops']} protocol crops of {report['data']}; distances in input pixels "
                      "between each file's keypoints and the Keras model's on the same uint8 crops; PCK in "
                      "image pixels (%); drop in points. Command: `python -m tools.parity "
                      f"{spec.id} --record`.", ""]
            lines += markdown_table([{c: r.get(c) for c in cols} for r in report["rows"]])
        elif name == "people_parity":
            lines += render_people_parity(spec, report)
        elif name == "top_down_people":
            lines += top_down_people_lines(spec, report)
        elif name == "ablation":
            lines += _ablation_section(spec, report)
        elif name == "component_cost":
            lines += _component_cost_section(spec, report)
        elif name == "test_time":
            lines += _test_time_section(spec, report)
        elif name.startswith("benchmark"):
            h = report.get("header", {})
            cols = ["runtime", "artifact", "precision", "threads", "median_ms", "p90_ms", "runs",
                    "file_bytes", "peak_rss_mb"]
            versions = ", ".join(f"{k} {v}" for k, v in h.get("versions", {}).items())
            # Other projects' files timed in the same run (tools.benchmark --reference NAME=PATH).
            references = {str(r["precision"])[len("reference "):]: r["artifact"] for r in report.get("rows", [])
                          if str(r.get("precision", "")).startswith("reference ")}
            options = "".join(f" --reference {n}={a}" for n, a in references.items())
            lines += ["", f"## Latency ({h.get('machine', 'n/a')})", "",
                      f"Batch 1, one uint8 crop, median and p90 over the timed runs after warm-up, each "
                      f"runtime in a fresh process; measured {h.get('date', '')} with {versions}; load "
                      f"average {h.get('load_average_1_5_15min', 'n/a')}. Command: `python -m tools.benchmark "
                      f"{spec.id}{options} --record`.", ""]
            lines += markdown_table([{c: r.get(c) for c in cols} for r in report.get("rows", [])])
    return lines


def _test_time_section(spec: ModelSpec, report: Dict) -> List[str]:
    cols = ["variant", "keras_pck@0.2_limbs", "keras_pck@0.2", "keras_pck@0.1_limbs", "int8_pck@0.2_limbs",
            "int8_pck@0.1_limbs", "int8_median_ms"]
    return ["", "## Test-time options: flip test and DARK decoding", "",
            f"{report['crops']} protocol crops of {report['data']}; PCK in % (12 limb joints unless noted); "
            f"int8 latency: median `invoke()`, LiteRT + XNNPACK, {report['threads']} threads, "
            f"{report['runs']} runs" + (f", on {report['machine']}" if report.get("machine") else "")
            + f". `quarter`: the quarter-pixel shift; `dark`: DARK's Taylor step "
            "(Zhang et al. 2020); `flip`: the mirrored crop's heatmaps averaged in. Load a variant with "
            f"`zoo.load(\"{spec.id}\", flip_test=True, subpixel=\"dark\")`. Command: "
            f"`python -m tools.tta {spec.id} --record`.", ""] + markdown_table(
        [{c: r.get(c) for c in cols} for r in report["rows"]])


def _ablation_section(spec: ModelSpec, report: Dict) -> List[str]:
    if "sets" in report:
        return _sets_ablation_section(spec, report)
    rows = report["rows"]
    skeleton = get_skeleton(spec.skeleton)
    lines = ["", "## Ablation", "",
             f"{report['data']}, DESIGN protocol, image pixels. \"Far\" counts labelled joints whose estimate "
             f"lies more than {report['far_factor']} x torso size from the truth (on another body part or "
             "the background: the false positives a spatial model is meant to remove). Command: "
             f"`python -m tools.ablation {spec.id} --variant ... --record`.", "",
             "| variant | recipe, weights, output read | PCK@0.2 all / limbs (%) | PCK@0.1 all / limbs (%) | far |",
             "| --- | --- | ---: | ---: | ---: |"]
    for r in rows:
        p2, p1 = r["pck@0.2"], r["pck@0.1"]
        lines.append(f"| {r['label']} | `{r['experiment']}`, {r['weights']}, stage {r['stage']} | "
                     f"{pct(p2['mean'])} / {pct(p2['mean_limbs'])} | {pct(p1['mean'])} / {pct(p1['mean_limbs'])} | "
                     f"{r['far']['total']} of {r['far']['joints']} |")
    lines += ["", "Per joint, PCK@0.2 / PCK@0.1 (%) and far detections:", "",
              "| joint | " + " | ".join(r["label"] for r in rows) + " |",
              "| --- | " + " | ".join("---:" for _ in rows) + " |"]
    for name in skeleton.joint_names:
        cells = [f"{pct(r['pck@0.2']['per_joint'].get(name))} / {pct(r['pck@0.1']['per_joint'].get(name))} / "
                 f"{r['far']['per_joint'].get(name)}" for r in rows]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return lines


_METRIC_TITLES = {"pck@0.2": "PCK@0.2", "pckh@0.5": "PCKh@0.5"}


def _sets_ablation_section(spec: ModelSpec, report: Dict) -> List[str]:
    """An ablation scored on every validation set (``training.ablation.run_sets_ablation``): one
    row per variant, one column per set with its headline figure on the 12 limb joints, then PCK@0.2
    on all the joints each set labels and the model has (COCO's face points among them)."""
    sets, rows = report["sets"], report["rows"]
    lines = ["", "## Ablation", "",
             f"Each variant scored on every validation set of the multi-dataset training, each in its own "
             f"skeleton on the joints it shares with the model ({report['protocol']}). Command: "
             f"`python -m tools.ablation {spec.id} --sets everyday --variant ... --record`."]
    if report.get("recipe"):
        lines.append(f"Every variant's recipe: {report['recipe']}.")
    lines += ["", "Limb joints (%; the 12 joints without head or face points):", ""]
    headers = [f"{s['title']} ({s['num_images']} people) {_METRIC_TITLES.get(s['metric'], s['metric'])}"
               for s in sets.values()]
    lines += ["| variant | what it is | " + " | ".join(headers) + " |",
              "| --- | --- | " + " | ".join("---:" for _ in sets) + " |"]
    for r in rows:
        cells = [pct(r["sets"][name][s["metric"]]["mean_limbs"]) for name, s in sets.items()]
        lines.append(f"| {r['label']} | {r['description']} | " + " | ".join(cells) + " |")
    lines += ["", "Every joint the set labels and the model has, PCK@0.2 (%); PCK@0.1 on the limb joints "
              "in brackets:", "",
              "| variant | " + " | ".join(f"{s['title']} ({s['num_images']} people)" for s in sets.values()) + " |",
              "| --- | " + " | ".join("---:" for _ in sets) + " |"]
    for r in rows:
        cells = [f"{pct(r['sets'][name]['pck@0.2']['mean'])} ({pct(r['sets'][name]['pck@0.1']['mean_limbs'])})"
                 for name in sets]
        lines.append(f"| {r['label']} | " + " | ".join(cells) + " |")
    lines += ["", "Variants (recipe, weights, stage output read):", ""]
    lines += [f"- {r['label']}: `{r['experiment']}`, {r['weights']} (sha256 {r['weights_sha256'][:12]}...), "
              f"stage {r['stage']}" for r in rows]
    lines += ["", "Validation sets:", ""]
    lines += [f"- {s['title']}: {s['data']}" for s in sets.values()]
    return lines


def _component_cost_section(spec: ModelSpec, report: Dict) -> List[str]:
    lines = ["", f"## Cost of the {report['component']}", "", report["description"], ""]
    lines += markdown_table(report["rows"])
    return lines


PEOPLE_PARITY_COLUMNS = (
    ("artifact", "artifact"), ("precision", "precision"), ("same_count", "same count (%)"),
    ("people_file", "people"), ("unmatched", "unmatched"), ("swaps", "swaps"), ("mean_px", "mean px"),
    ("p95_px", "p95 px"), ("max_px", "max px"), ("joints_one_only", "joints in one only"), ("AP", "AP (%)"),
    ("AP_drop", "AP drop"), ("AP_photos", "photo AP (%)"), ("AP_photos_drop", "photo AP drop"), ("target", "target"),
    ("ok", "ok"))


def _people_parity_cell(key: str, value) -> str:
    if value is None:
        return "n/a"
    if key == "same_count":
        return f"{100 * value:.1f}"
    if key == "ok":
        return "yes" if value else "**no**"
    return str(value)


def people_parity_table(report: Dict) -> str:
    """A bottom-up model's export parity report (the ``people_parity`` measurement) as a Markdown
    table, one row per artifact, the Keras model first (also printed by ``python -m tools.parity``)."""
    columns = [(key, title) for key, title in PEOPLE_PARITY_COLUMNS
               if not key.startswith("AP_photos") or report.get("photos")]  # measured since openpose-lsp@2
    lines = ["| " + " | ".join(title for _, title in columns) + " |",
             "| --- | --- |" + " ---: |" * (len(columns) - 4) + " --- | --- |"]
    for row in report["rows"]:
        lines.append("| " + " | ".join(_people_parity_cell(key, row.get(key)) for key, _ in columns) + " |")
    return "\n".join(lines)


def render_people_parity(spec: ModelSpec, report: Dict) -> List[str]:
    """Card section (Markdown lines) of the ``people_parity`` measurement of ``spec``."""
    keras = next((r for r in report["rows"] if r["artifact"] == "keras"), {})
    photos = report.get("photos")
    lines = ["", "## Exports: same people as the Keras model", "",
             f"{report['scenes']} {report['data']}. Each file runs on the same uint8 scenes as the Keras "
             f"model ({keras.get('people_keras', 'n/a')} people found by Keras); {report['matching']}. "
             "\"same count\": images where the file finds as many people as Keras; \"unmatched\": people "
             "without a partner; \"swaps\": people matched out of score order; \"joints in one only\": "
             f"joints a matched person has in one output only. AP: {report['ap']}; drop in points."
             + (f" Photo AP: the same on {photos['data']} ({photos['images']} photos, {photos['people']} people, "
                "the joints COCO labels), each letterboxed as `predict_people` does." if photos else "")
             + f" Command: `python -m tools.parity {spec.id} --record`.", ""]
    lines += people_parity_table(report).splitlines()
    for key, where, names in (("ks_scenes", "held-out scenes", report.get("joint_names")),
                              ("ks_photos", (photos or {}).get("title", "held-out photos"),
                               photos["joint_names"] if photos else None)):
        rows = [r for r in report["rows"] if r.get(key)]
        if not (rows and names):
            continue
        lines += ["", f"Per joint on the {where}: the share of labelled joints whose matched prediction has "
                  "COCO keypoint similarity >= 0.5, in %:", "",
                  "| joint | " + " | ".join(r["artifact"] for r in rows) + " |",
                  "| --- |" + " ---: |" * len(rows)]
        for j, name in enumerate(names):
            lines.append(f"| {name} | " + " | ".join(pct(r[key][j], scale=1) for r in rows) + " |")
    return lines
