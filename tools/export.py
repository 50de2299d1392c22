"""Exports a published zoo model with the keypoint decoding inside the graph.

    python -m tools.export hourglass-lsp                                   # TFLite float32
    python -m tools.export hourglass-lsp --format tflite --precision int8  # full-integer
    python -m tools.export hourglass-lsp --format onnx
    python -m tools.export hourglass-lsp --format saved_model              # exports/hourglass-lsp/1/
    python -m tools.export hourglass-lsp --all                             # every format and precision

Files go to ``<output>/<name>/<version>/`` next to a ``.json`` of metadata.

A bottom-up model (``openpose-lsp``) exports the same way with its grouping inside the graph:
letterboxed image -> ``people (N, P, K, 3)``, ``scores (N, P)``; int8 is calibrated on scenes
composited from LSPet training people and keeps the grouping in float32 (no ``--int8-io``).

The person detector exports the same way too, box decoding and NMS inside the graph: letterboxed
image -> ``boxes (N, M, 4)``, ``scores (N, M)``; int8 is calibrated on letterboxed COCO training
photos and keeps the decoding and NMS in float32 (no ``--int8-io``). These are the files
``tools.predict --people --backend tflite`` runs:

    python -m tools.export person-detector --all --output exports
"""

from __future__ import annotations

import argparse
import sys
import time

from tools._cli import removing_created_folders, run


def main(argv=None):
    from edge.tflite_conversion import PRECISIONS

    p = argparse.ArgumentParser(prog="python -m tools.export", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("model", help="zoo name[@version]")
    p.add_argument("--output", default="exports", help="root folder of the versioned exports")
    p.add_argument("--format", default="tflite", help="tflite, onnx or saved_model")
    p.add_argument("--precision", default="float32", help=f"TFLite precision: {', '.join(PRECISIONS)}")
    p.add_argument("--int8-io", action="store_true",
                   help="int8: int8 input and int8 output tensors (decoder quantised too; top-down models only)")
    p.add_argument("--calibration-size", type=int, default=None,
                   help="int8: number of real training images (default: 300 crops, 300 scenes for a bottom-up "
                        "model, 100 letterboxed photos for the person detector)")
    p.add_argument("--all", action="store_true", help="SavedModel, ONNX and every TFLite precision")
    p.add_argument("--overwrite", action="store_true", help="replace existing files")
    args = p.parse_args(argv)
    import edge
    import zoo

    jobs = ([("saved_model", "float32"), ("onnx", "float32")] + [("tflite", q) for q in PRECISIONS]
            if args.all else [(args.format, args.precision)])
    for fmt, precision in jobs:  # check every request before the slow work starts
        if fmt not in edge.FORMATS:
            raise ValueError(f"unknown format {fmt!r}; choose from {list(edge.FORMATS)}")
        if fmt == "tflite" and precision not in PRECISIONS:
            raise ValueError(f"unknown precision {precision!r}; choose from {list(PRECISIONS)}")
    model = zoo.load(args.model)
    # An export that fails or is interrupted leaves no empty folders behind.
    with removing_created_folders(edge.exporter.artifact_path(model.spec, args.output, "saved_model")):
        for fmt, precision in jobs:
            t = time.time()
            label = f"{fmt} {precision}" if fmt == "tflite" else fmt
            int8_io = args.int8_io and precision == "int8"
            # --all completes what is missing: a file already made from these weights (e.g. the
            # int8 file an evaluation exported) is kept; one from other weights still stops it.
            if args.all and not args.overwrite and edge.exporter.export_is_current(
                    model.spec, args.output, fmt, precision, int8_io):
                print(f"{model.spec.id} {label}: up to date, "
                      f"{edge.exporter.artifact_path(model.spec, args.output, fmt, precision)}", flush=True)
                continue
            print(f"exporting {model.spec.id} as {label} ...", flush=True)
            path = edge.export(model.spec.id, format=fmt, precision=precision, output_dir=args.output,
                               int8_io=int8_io,
                               calibration_size=args.calibration_size, overwrite=args.overwrite, model=model)
            print(f"  wrote {path} ({time.time() - t:.1f}s)", flush=True)
    return 0


def cli():
    sys.exit(run(main))


if __name__ == "__main__":
    cli()
