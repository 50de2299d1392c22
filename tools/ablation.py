"""Measures an ablation on the fixed validation split and (with --record) stores it with a
published model, whose card then shows it.

    python -m tools.ablation tompson-lsp \\
        --variant "part detector alone=tompson_lsp:runs/tompson_lsp/stage1/stage.weights.h5:1" \\
        --variant "+ fully connected spatial model=tompson_lsp:runs/tompson_lsp/stage2/stage.weights.h5:2" \\
        --record

Each variant is ``label=experiment:weights.h5:stage`` (the stage output to read, 1-based).
"""

from __future__ import annotations

import argparse
import sys

from tools._cli import run, save_report


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m tools.ablation", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("model", help="zoo name[@version] the ablation belongs to")
    p.add_argument("--variant", action="append", required=True, help="label=experiment:weights.h5:stage")
    p.add_argument("--data", help="LSPet folder (default: $POSEZOO_DATA/lspet)")
    p.add_argument("--max-val", type=int, default=0, help="first N validation images only (not for the card)")
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
    import zoo
    from training.ablation import run_ablation
    from training.datasets import load_lspet

    spec = zoo.get_spec(args.model)
    samples = load_lspet(args.data, split="val")
    if args.max_val:
        samples = samples.subset(range(min(args.max_val, len(samples))))
    report = run_ablation(variants, samples, data=f"LSPet validation split ({len(samples)} images)")
    for r in report["rows"]:
        print(f"{r['label']}: PCK@0.2 {100 * r['pck@0.2']['mean']:.1f}  PCK@0.1 {100 * r['pck@0.1']['mean']:.1f}"
              f"  far detections {r['far']['total']} of {r['far']['joints']}")
    save_report(report, spec, "ablation", args.output, args.record)
    return 0


def cli():
    sys.exit(run(main))


if __name__ == "__main__":
    cli()
