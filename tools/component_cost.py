"""Multiply-adds and LiteRT latency of a published model with and without one component, e.g.
the share of the Tompson model's spatial model. Run it on an idle machine.

    python -m tools.component_cost tompson-lsp [--runs 100] [--record]
"""

from __future__ import annotations

import argparse
import sys

from edge.tflite import DEFAULT_THREADS
from tools._cli import run, save_report


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m tools.component_cost", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("model", help="zoo name[@version]")
    p.add_argument("--runs", type=int, default=100)
    p.add_argument("--threads", type=int, default=DEFAULT_THREADS)
    p.add_argument("--output", help="write the report JSON here")
    p.add_argument("--record", action="store_true", help="store the report with the published version")
    args = p.parse_args(argv)
    import zoo
    from edge.component_cost import component_cost
    from edge.tasks import edge_task

    model = zoo.load(args.model)
    if "spatial_model" not in model.components:
        p.error(f"{args.model} has no spatial model; the only component measured so far")
    extra = []
    config = model.get_config()
    if config["message_stride"] == 2:
        # The paper's formulation (messages on the full heatmap grid, (2H-1)^2 kernels): the same
        # architecture at message_stride 1, untrained (its cost does not depend on the weights).
        other = type(model).from_config({**config, "message_stride": 1, "name": "stride1"})
        other.build((None, model.input_size, model.input_size, 3))
        extra.append(("whole model, spatial model at message stride 1 (paper's 63x63 kernels; cost only)", other))
    calibration, _ = edge_task(model.task).calibration(model.spec)
    report = component_cost(model, "spatial model", "spatial_model", calibration=calibration,
                            threads=args.threads, runs=args.runs, extra_models=extra)
    for row in report["rows"]:
        print(row)
    save_report(report, model.spec, "component_cost", args.output, args.record)
    return 0


def cli():
    sys.exit(run(main))


if __name__ == "__main__":
    cli()
