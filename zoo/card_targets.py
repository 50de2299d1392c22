"""Accuracy targets in model cards: the figures a target can be set on (``TARGET_METRICS``), the
``accuracy_target`` measurement that stores an issue's targets beside a published version
(``accuracy_target_report``; ``zoo.model_card.record_accuracy_target`` records it) and the card
section that states each target against the measured figure (``target_section``)."""

from __future__ import annotations

from typing import Callable, Dict, List, NamedTuple, Optional, Tuple

from zoo.specs import ModelSpec
from zoo.store import measurements

#: The measurement name of a version's accuracy targets.
ACCURACY_TARGET = "accuracy_target"


class TargetMetric(NamedTuple):
    """A figure an accuracy target can be set on.

    Args:
        label: what the figure is, in the card's words.
        read: ``figures -> fraction``: reads model.json's metrics, or the ``measurement`` report.
        curve: the per-epoch curve that tracks it: ``(validation_curve column, scale to %, label)``;
            None where the training measures nothing like it.
        measurement: the measurement (``zoo.store.measurements``) ``read`` takes instead of
            model.json's metrics, recorded after publishing by ``command``.
        command: how that measurement is recorded (``{id}``: the version, e.g. ``name@2``).
    """

    label: str
    read: Callable[[Dict], float]
    curve: Optional[Tuple[str, int, str]] = None
    measurement: Optional[str] = None
    command: str = ""

    def figures(self, spec: ModelSpec) -> Optional[Dict]:
        """What ``read`` takes for ``spec``: its metrics, or its ``measurement`` (None if not recorded)."""
        if self.measurement is None:
            return spec.weights.metrics
        return measurements(spec).get(self.measurement)


_PCK_CURVE = ("val_pck@0.2", 100, "validation PCK@0.2 (all joints)")
TARGET_METRICS: Dict[str, TargetMetric] = {
    "pck@0.2_limbs": TargetMetric("PCK@0.2 on the 12 limb joints", lambda m: m["pck@0.2"]["mean_limbs"], _PCK_CURVE),
    "pck@0.2": TargetMetric("PCK@0.2 on all joints", lambda m: m["pck@0.2"]["mean"], _PCK_CURVE),
    "coco_pck@0.2_limbs": TargetMetric(
        "PCK@0.2 on the 12 limb joints of the COCO photos' validation people",
        lambda m: m["validation_sets"]["coco_people"]["pck@0.2"]["mean_limbs"],
        ("coco_people_pck@0.2_limbs", 100, "validation limb PCK@0.2 on the COCO photos")),
    "mpii_pckh@0.5_limbs": TargetMetric(
        "PCKh@0.5 on the 12 limb joints of the MPII subset's validation people",
        lambda m: m["validation_sets"]["mpii_subset"]["pckh@0.5"]["mean_limbs"],
        ("mpii_subset_pckh@0.5", 100, "validation PCKh@0.5 on the MPII subset")),
    "mpii_pckh@0.5": TargetMetric(
        "PCKh@0.5 on all joints of the MPII subset's validation people",
        lambda m: m["validation_sets"]["mpii_subset"]["pckh@0.5"]["mean"],
        ("mpii_subset_pckh@0.5", 100, "validation PCKh@0.5 on the MPII subset")),
    "lspet_pck@0.2_limbs": TargetMetric(
        "PCK@0.2 on the 12 limb joints of the LSPet validation split",
        lambda m: m["validation_sets"]["lspet"]["pck@0.2"]["mean_limbs"],
        ("lspet_pck@0.2_limbs", 100, "validation limb PCK@0.2 on LSPet")),
    "ap_scenes": TargetMetric(
        "OKS AP on the held-out LSPet scenes", lambda m: m["scenes"]["oks"]["AP"],
        ("scene AP", 1, "OKS AP on the recipe's own validation scenes (the training curve's scene AP)")),
    "ap_photos": TargetMetric(
        "OKS AP on the held-out coco-mini photos", lambda m: m["coco_heldout"]["oks"]["AP"],
        ("photo AP", 1, "OKS AP on the held-out photos (the training curve's photo AP)")),
    "coco_val_ap": TargetMetric(
        "OKS AP on the COCO photos' validation split (all people)", lambda m: m["coco_val"]["oks"]["AP"],
        ("photo AP", 1, "OKS AP on the COCO photos' validation split (the training curve's photo AP)")),
    "top_down_coco_val_ap": TargetMetric(
        "OKS AP on the COCO photos' validation split (all people), top-down through the person detector (Keras)",
        lambda r: r["keras"]["oks"]["AP"], measurement="top_down_people",
        command="python -m tools.evaluate {id} --people --record"),
}


def accuracy_target_report(spec: ModelSpec, targets: Dict[str, float], issue: str, next_steps: str = "",
                           recorded: Optional[Dict] = None) -> Dict:
    """The ``accuracy_target`` measurement of ``spec`` holding ``targets`` (``{metric: least value in
    %}``, keys of ``TARGET_METRICS``) set by ``issue``, with ``next_steps`` (what would close a gap).
    ``recorded``: the report recorded so far, whose other issues' targets are kept (the first issue
    at the top level, each other one in ``more``); None: ``targets`` replace it. A target that reads
    a measurement needs it recorded first (a clear error names its command)."""
    unknown = sorted(set(targets) - set(TARGET_METRICS))
    if unknown:
        raise ValueError(f"unknown target metrics {unknown}; known: {sorted(TARGET_METRICS)}")
    for metric in targets:
        t = TARGET_METRICS[metric]
        if t.measurement is not None and t.figures(spec) is None:
            raise ValueError(f"target {metric!r} reads the {t.measurement!r} measurement, which {spec.id} has not "
                             f"recorded; record it first: {t.command.format(id=spec.id)}")
    group = {"targets": dict(targets), "issue": issue, "next_steps": next_steps}
    if recorded is None or recorded["issue"] == issue:
        return {**group, **({"more": recorded["more"]} if recorded and recorded.get("more") else {})}
    first = {k: recorded[k] for k in ("targets", "issue", "next_steps")}
    return {**first, "more": [g for g in recorded.get("more", []) if g["issue"] != issue] + [group]}


def target_section(spec: ModelSpec, m: Dict, tr: Dict) -> List[str]:
    """The issues' accuracy targets of this version (its ``accuracy_target`` measurement) against the
    measured figures (model.json's metrics ``m``, or the measurement a ``TargetMetric`` names), with
    what the last epochs of the validation curve did and, where a target is missed, the next steps
    (each issue's, named when there are several)."""
    target = measurements(spec).get(ACCURACY_TARGET)
    if not target:
        return []
    groups = [target, *target.get("more", [])]
    lines = ["", "## Accuracy target", ""]
    missed = {}
    for group in groups:
        for metric, value in group["targets"].items():
            line, miss = _target_line(spec, m, metric, value, group["issue"])
            lines.append(line)
            missed[group["issue"]] = missed.get(group["issue"], False) or miss
    metrics = [metric for group in groups for metric in group["targets"]]
    for key, scale, label in dict.fromkeys(c for c in (TARGET_METRICS[k].curve for k in metrics) if c):
        curve = [r[key] for r in tr.get("validation_curve", []) if r.get(key) is not None]
        if len(curve) >= 4:
            lines.append(f"- Training curve: {label} {scale * curve[-4]:.1f} % three epochs before the end, "
                         f"{scale * curve[-1]:.1f} % at the end ({scale * (curve[-1] - curve[-4]):+.1f} points "
                         f"over the last three of {len(curve)} epochs).")
    for group in groups:
        if missed[group["issue"]] and group.get("next_steps"):
            which = f" ({group['issue']})" if len(groups) > 1 else ""
            lines.append(f"- What would close the gap{which}: {group['next_steps']}.")
    return lines


def _target_line(spec: ModelSpec, m: Dict, metric: str, value: float, issue: str) -> Tuple[str, bool]:
    """One target's card line and whether it is missed (not measured yet counts as missed)."""
    t = TARGET_METRICS[metric]
    figures = m if t.measurement is None else t.figures(spec)
    if figures is None:
        return (f"- Target ({issue}): {t.label} >= {value:g} %; not measured yet "
                f"(`{t.command.format(id=spec.id)}`)."), True
    measured = 100 * t.read(figures)
    verdict = "met" if measured >= value else f"**missed by {value - measured:.1f} points**"
    return f"- Target ({issue}): {t.label} >= {value:g} %; measured {measured:.1f} %: {verdict}.", measured < value
