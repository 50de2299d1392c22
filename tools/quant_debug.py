"""Which layers of a zoo model lose the most in int8 (``edge.quant_debug``).

    python -m tools.quant_debug openpose-lsp@2 [--calibration 100] [--images 20] [--top 15] [--output errors.json]

Calibrates as ``tools.export`` does (the task's real training images), then runs TFLite's
QuantizationDebugger on other images of the same kind and prints the ops whose int8 output is
furthest from float, in quantisation steps (rounding alone: 0.29).
"""

from __future__ import annotations

import argparse
import json

from tools._cli import run


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m tools.quant_debug", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("model", help="zoo name[@version]")
    p.add_argument("--calibration", type=int, default=100, help="calibration images (default 100)")
    p.add_argument("--images", type=int, default=20, help="images the errors are measured on (default 20)")
    p.add_argument("--top", type=int, default=15, help="rows printed (default 15)")
    p.add_argument("--output", help="write every row as JSON here")
    args = p.parse_args(argv)
    if args.calibration < 1 or args.images < 1:
        raise ValueError("--calibration and --images must be at least 1")
    import zoo
    from edge.quant_debug import layer_errors, layer_errors_table
    from edge.tasks import edge_task
    from zoo.io import write_atomic

    model = zoo.load(args.model)
    calibration = edge_task(model.task).calibration
    images, _ = calibration(model.spec, args.calibration + args.images)
    rows = layer_errors(model, images[:args.calibration], images[args.calibration:])
    print(f"{model.spec.id}: {len(rows)} quantised ops, worst first")
    print(layer_errors_table(rows, args.top))
    if args.output:
        write_atomic(args.output, json.dumps(rows, indent=1))


if __name__ == "__main__":
    raise SystemExit(run(main))
