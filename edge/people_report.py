"""Markdown of a bottom-up model's export parity report (``edge.parity.check_people_parity``):
the table printed by ``python -m tools.parity`` and the model card section of the
``people_parity`` measurement.

To show it in a card, ``zoo.model_card._measurement_sections`` needs one more branch::

    elif name == "people_parity":
        from edge.people_report import render_people_parity
        lines += render_people_parity(spec, report)
"""

from __future__ import annotations

from typing import Dict, List

COLUMNS = (("artifact", "artifact"), ("precision", "precision"), ("same_count", "same count (%)"),
           ("people_file", "people"), ("unmatched", "unmatched"), ("swaps", "swaps"),
           ("mean_px", "mean px"), ("p95_px", "p95 px"), ("max_px", "max px"),
           ("joints_one_only", "joints in one only"), ("AP", "AP (%)"), ("AP_drop", "AP drop"),
           ("target", "target"), ("ok", "ok"))


def _cell(key: str, value) -> str:
    if value is None:
        return "n/a"
    if key == "same_count":
        return f"{100 * value:.1f}"
    if key == "ok":
        return "yes" if value else "**no**"
    return str(value)


def people_parity_table(report: Dict) -> str:
    """The report's rows as a Markdown table (one row per artifact, the Keras model first)."""
    lines = ["| " + " | ".join(title for _, title in COLUMNS) + " |",
             "| --- | --- |" + " ---: |" * (len(COLUMNS) - 4) + " --- | --- |"]
    for row in report["rows"]:
        lines.append("| " + " | ".join(_cell(key, row.get(key)) for key, _ in COLUMNS) + " |")
    return "\n".join(lines)


def render_people_parity(spec, report: Dict) -> List[str]:
    """Model card section (a list of Markdown lines, like the card's other sections) of a
    ``people_parity`` measurement of ``spec``."""
    keras = next((r for r in report["rows"] if r["artifact"] == "keras"), {})
    lines = ["", "## Exports: same people as the Keras model", "",
             f"{report['scenes']} {report['data']}. Each file runs on the same uint8 scenes as the Keras "
             f"model ({keras.get('people_keras', 'n/a')} people found by Keras); {report['matching']}. "
             "\"same count\": images where the file finds as many people as Keras; \"unmatched\": people "
             "without a partner; \"swaps\": people matched out of score order; \"joints in one only\": "
             f"joints a matched person has in one output only. AP: {report['ap']}; drop in points. "
             f"Command: `python -m tools.parity {spec.id} --record`.", ""]
    lines += people_parity_table(report).splitlines()
    return lines
