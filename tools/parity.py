"""Checks exported files against the Keras model on real validation crops.

    python -m tools.parity hourglass-lsp --exports exports [--count 200] [--output parity.json]

Prints, per file, the keypoint distance to the Keras model (input pixels) and the PCK@0.2 drop;
exits 1 when a drop misses its target (float16 <= 0.2 points, int8 <= 1.0 point).

A bottom-up model (openpose-lsp) is checked on held-out multi-person scenes (default 100): per
file, whether it finds the same people as the Keras model (float32 / ONNX: same count, keypoints
within 1 px) and the OKS AP drop (``edge.agreement.people_parity``), then on its real validation
photos (coco-mini's held-out 20; the COCO photos' validation split for ``openpose-coco``, where the
AP drop target holds on the photos too); ``--record`` stores it as the ``people_parity``
measurement. What is measured and recorded per task: ``edge.tasks``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tools._cli import run, save_report


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m tools.parity", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("model", help="zoo name[@version]")
    p.add_argument("--exports", default="exports", help="root of the exports (tools.export --output)")
    p.add_argument("--count", type=int, default=None,
                   help="validation crops (default and minimum for the report: 200); scenes for a bottom-up "
                        "model (default 100)")
    p.add_argument("--output", help="write the report JSON here")
    p.add_argument("--record", action="store_true",
                   help="also store the report with the published version and regenerate its model card")
    args = p.parse_args(argv)
    import zoo
    from edge.parity import check_parity
    from edge.tasks import edge_task

    model = zoo.load(args.model)
    folder = Path(args.exports) / model.spec.name / str(model.spec.version)
    files = sorted(f for f in folder.glob("*") if f.suffix in (".tflite", ".onnx") and not f.name.startswith("."))
    if not files:
        raise FileNotFoundError(f"no .tflite/.onnx files in {folder}; run python -m tools.export {args.model} --all")
    if args.count is not None and args.count < 1:
        raise ValueError(f"--count must be a positive integer, got {args.count}")
    task = edge_task(model.task)
    report = check_parity(model, files, args.count)
    print(task.parity_table(report))
    save_report(report, model.spec, task.parity_measurement, args.output, args.record)
    return 0 if all(r["ok"] for r in report["rows"]) else 1


def cli():
    sys.exit(run(main))


if __name__ == "__main__":
    cli()
