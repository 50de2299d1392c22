"""Measures an ablation on fixed validation splits and (with --record) stores it with a published
model, whose card then shows it.

    python -m tools.ablation tompson-lsp \\
        --variant "part detector alone=tompson_lsp:runs/tompson_lsp/stage1/stage.weights.h5:1" \\
        --variant "+ fully connected spatial model=tompson_lsp:runs/tompson_lsp/stage2/stage.weights.h5:2" \\
        --record

    python -m tools.ablation simplebaseline-coco --sets everyday \\
        --variant "no teacher=simplebaseline_coco_no_teacher:runs/simplebaseline_coco_no_teacher/final.weights.h5:1" \\
        --variant "teacher fill=simplebaseline_coco_teacher_fill:runs/simplebaseline_coco_teacher_fill/final.weights.h5:1" \\
        --record

Each variant is ``label=experiment:weights.h5:stage`` (the stage output to read, 1-based).
``--sets lspet`` (the default) scores the LSPet validation split on the 14 LSP joints with far
detections; ``--sets everyday`` scores every validation set of the multi-dataset training (COCO
photos, MPII subset with PCKh@0.5, LSPet), each in its own skeleton, and states what each
variant's recipe is.
"""

from __future__ import annotations

import argparse
import sys

from tools._cli import run, save_report

SETS = ("lspet", "everyday")


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m tools.ablation", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("model", help="zoo name[@version] the ablation belongs to")
    p.add_argument("--variant", action="append", required=True, help="label=experiment:weights.h5:stage")
    p.add_argument("--sets", default="lspet", choices=SETS,
                   help="lspet: the LSPet validation split (default); everyday: every validation set of "
                        "the multi-dataset training (COCO photos, MPII subset, LSPet)")
    p.add_argument("--data", help="LSPet folder of --sets lspet (default: $POSEZOO_DATA/lspet)")
    p.add_argument("--max-val", type=int, default=0,
                   help="first N validation people of each set only (not for the card)")
    p.add_argument("--output", help="write the report JSON here")
    p.add_argument("--record", action="store_true", help="store the report with the published version")
    args = p.parse_args(argv)
    from training.ablation import Variant

    try:
        variants = [Variant.parse(v) for v in args.variant]
    except ValueError as e:
        p.error(str(e))
    if args.record and args.max_val:
        p.error("--record measures the whole validation split; drop --max-val")
    if args.max_val < 0:
        p.error(f"--max-val must be >= 0, got {args.max_val}")
    if args.sets == "everyday" and args.data:
        p.error("--data names the LSPet folder of --sets lspet; --sets everyday reads every set under "
                "$POSEZOO_DATA")
    import zoo

    spec = zoo.get_spec(args.model)
    if args.sets == "everyday":
        report = _everyday(variants, args.max_val)
    else:
        report = _lspet(variants, args.data, args.max_val)
    save_report(report, spec, "ablation", args.output, args.record)
    return 0


def _lspet(variants, data, limit: int):
    from training.ablation import run_ablation
    from training.datasets import load_lspet

    samples = load_lspet(data, split="val")
    if limit:
        samples = samples.subset(range(min(limit, len(samples))))
    report = run_ablation(variants, samples, data=f"LSPet validation split ({len(samples)} images)")
    for r in report["rows"]:
        print(f"{r['label']}: PCK@0.2 {100 * r['pck@0.2']['mean']:.1f}  PCK@0.1 {100 * r['pck@0.1']['mean']:.1f}"
              f"  far detections {r['far']['total']} of {r['far']['joints']}")
    return report


def _everyday(variants, limit: int):
    from training.ablation import run_sets_ablation

    report = run_sets_ablation(variants, limit=limit)
    for r in report["rows"]:
        figures = []
        for name, s in report["sets"].items():
            metric = s["metric"].replace("pckh", "PCKh").replace("pck", "PCK")
            figures.append(f"{s['title']} limb {metric} {100 * r['sets'][name][s['metric']]['mean_limbs']:.1f}"
                           f" ({s['num_images']} people)")
        print(f"{r['label']}: " + "  ".join(figures))
    return report


def cli():
    sys.exit(run(main))


if __name__ == "__main__":
    cli()
