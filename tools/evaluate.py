"""Evaluates a zoo model with the DESIGN protocol on a fixed validation split.

    python -m tools.evaluate hourglass-lsp                 # LSPet validation split
    python -m tools.evaluate hourglass-lsp --weights runs/hourglass_lsp/final.weights.h5
    python -m tools.evaluate hourglass-mpii --data my_mpii_val.json
    python -m tools.evaluate openpose-lsp --limit 300         # multi-person: OKS AP

Prints PCK@0.2 / PCK@0.1 (all joints, 12 limb joints, per joint) and writes a JSON with --output.
Multi-person (bottom-up) models get COCO OKS AP on held-out scenes composited from LSPet
validation people (``--limit`` scenes, default 300) and on the coco-mini images.
"""

from __future__ import annotations

import argparse
import sys
from typing import Optional

from tools._cli import run

PROTOCOL = ("DESIGN.md top-down protocol: square box of side 1.25 x max(w, h) of the labelled joints, "
            "affine crop with zero padding to the input size, prediction mapped back to image pixels; "
            "PCK torso-normalised (left shoulder - right hip, fallback right shoulder - left hip), "
            "labelled joints only; means pooled over all labelled joints")


def evaluation_samples(skeleton: str, data: Optional[str] = None, limit: int = 0):
    """The evaluation samples for a model's skeleton: LSPet val split, or an MPII-format JSON."""
    from training.datasets import load_lspet, load_mpii_json

    if skeleton == "lsp14":
        samples, desc = load_lspet(data, split="val"), "LSPet validation split (im08101-im09000)"
    elif skeleton == "mpii16":
        samples = load_mpii_json(data)
        desc = f"MPII-format records of {data or 'the MPII sample'}"
    else:
        raise ValueError(f"no evaluation data defined for skeleton {skeleton!r}")
    if limit:
        samples = samples.subset(range(min(limit, len(samples))))
    return samples, desc


def evaluate_model(model, data: Optional[str] = None, limit: int = 0, progress: bool = True,
                   full: bool = True):
    """PCK (and with ``full`` PDJ and PCP) of ``model`` on its evaluation data."""
    from training.evaluate import evaluate

    samples, desc = evaluation_samples(model.skeleton.name, data, limit)
    result = evaluate(model, samples, progress=progress, full=full)
    result.update(data=desc, protocol=PROTOCOL, samples=result["pck@0.2"]["samples"],
                  joints=result["pck@0.2"]["joints"])
    return result


def format_result(result) -> str:
    p2, p1 = result["pck@0.2"], result["pck@0.1"]
    lines = [f"{'joint':<16}{'PCK@0.2':>9}{'PCK@0.1':>9}"]
    for name in p2["per_joint"]:
        lines.append(f"{name:<16}{100 * p2['per_joint'][name]:>9.1f}{100 * p1['per_joint'][name]:>9.1f}")
    lines.append(f"{'all joints':<16}{100 * p2['mean']:>9.1f}{100 * p1['mean']:>9.1f}")
    lines.append(f"{'limb joints':<16}{100 * p2['mean_limbs']:>9.1f}{100 * p1['mean_limbs']:>9.1f}")
    if len(result.get("stages", [])) > 1:
        lines.append("per stage (PCK@0.2 / PCK@0.1): " + ", ".join(
            f"stage {r['stage']} {100 * r['pck@0.2']:.1f} / {100 * r['pck@0.1']:.1f}" for r in result["stages"]))
    if result.get("pcp"):
        lines.append("PCP (strict, 0.5): " + ", ".join(
            f"{k} {100 * v:.1f}" for k, v in result["pcp"]["per_part"].items())
            + f", mean {100 * result['pcp']['mean']:.1f}")
    return "\n".join(lines)


def main(argv=None):
    import zoo

    p = argparse.ArgumentParser(prog="python -m tools.evaluate", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("model", help="zoo name[@version]")
    p.add_argument("--weights", help="evaluate this weights file instead of the published weights")
    p.add_argument("--data", help="dataset folder / annotation file (default: shared data)")
    p.add_argument("--limit", type=int, default=0, help="first N images only")
    p.add_argument("--output", help="write the result JSON here")
    args = p.parse_args(argv)
    model = zoo.load(args.model, weights=args.weights or "published")
    if hasattr(model, "people"):
        return _evaluate_bottom_up(model, args)
    result = evaluate_model(model, args.data, args.limit)
    print(f"{args.model}: {result['data']}, {result['num_images']} images")
    print(format_result(result))
    if args.output:
        from tools.files import write_json

        write_json(args.output, result)
    return 0


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
    return "\n".join(lines)


def _evaluate_bottom_up(model, args) -> int:
    from training.evaluate import evaluate_coco, evaluate_scenes
    from zoo.skeletons import get_skeleton

    names = list(get_skeleton(model.skeleton.name).joint_names)
    result = {"scenes": {**evaluate_scenes(model, count=args.limit or 300, data=args.data), "joint_names": names},
              "coco": evaluate_coco(model)}
    for key, r in result.items():
        print(f"{args.model} on {key}: {r['protocol']}")
        print(format_people(r))
    if args.output:
        from tools.files import write_json

        write_json(args.output, result)
    return 0


def cli():
    sys.exit(run(main))


if __name__ == "__main__":
    cli()
