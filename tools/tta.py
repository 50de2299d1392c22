"""Measures the test-time options of a heatmap model: flip test and DARK decoding, alone and
together, in Keras and in the int8 file (PCK on the validation split, invoke latency).

    python -m tools.tta hourglass-lsp [--count 0] [--no-int8] [--output report.json] [--record]

``--record`` stores the report with the published version (measurement ``test_time``) and
regenerates its model card. See ``edge.tta``.
"""

from __future__ import annotations

import argparse
import sys

from edge.tflite import DEFAULT_THREADS
from tools._cli import run, save_report


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m tools.tta", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("model", help="zoo name[@version] of a published heatmap model")
    p.add_argument("--count", type=int, default=0, help="first N validation images (0: the whole split)")
    p.add_argument("--data", help="dataset folder (default: $POSEZOO_DATA)")
    p.add_argument("--no-int8", action="store_true", help="Keras only: no int8 conversion and timing")
    p.add_argument("--threads", type=int, default=DEFAULT_THREADS,
                   help="LiteRT threads of the latency measurement")
    p.add_argument("--runs", type=int, default=100, help="timed invoke() calls per int8 file")
    p.add_argument("--output", help="write the report JSON here")
    p.add_argument("--record", action="store_true", help="store the report with the published version")
    args = p.parse_args(argv)
    if args.count < 0:
        p.error(f"--count must be >= 0, got {args.count}")
    import zoo
    from edge.tta import measure_test_time

    spec = zoo.get_spec(args.model)
    if args.record and (args.count or args.no_int8):
        raise ValueError("--record stores the full measurement: the whole split (--count 0) with int8")

    def progress(row):
        int8 = (f"; int8 {row['int8_pck@0.2_limbs']:.2f} % in {row['int8_median_ms']:.2f} ms"
                if "int8_median_ms" in row else "")
        print(f"  {row['variant']:<10} Keras PCK@0.2 (12 limb joints) {row['keras_pck@0.2_limbs']:.2f} %{int8}",
              file=sys.stderr, flush=True)

    report = measure_test_time(spec.id, count=args.count, data=args.data, int8=not args.no_int8,
                               threads=args.threads, runs=args.runs, progress=progress)
    save_report(report, zoo.get_spec(spec.id), "test_time", args.output, args.record)
    return 0


def cli():
    sys.exit(run(main))


if __name__ == "__main__":
    cli()
