"""Benchmarks the exported artifacts of a zoo model on this machine's CPU.

    python -m tools.benchmark hourglass-lsp --exports exports --output benchmarks

times every ``.tflite`` (LiteRT + XNNPACK) and ``.onnx`` (onnxruntime) file under
``<exports>/<name>/<version>/`` and the Keras model (``keypoints`` compiled with XLA), batch 1,
at each thread count: median / p90 / mean latency over ``--runs`` calls after ``--warmup``, file
size, and peak memory of a fresh process per measurement (see ``edge.benchmark``). Prints a
Markdown table and writes ``<output>/benchmark_<model>_<machine>_litert-<v>_tf-<v>.json`` and
``.csv``. ``--reference blazepose-full=pose_landmark_full.tflite`` times another model's file
in the same run, with the same settings (its row's precision reads ``reference blazepose-full``).

    python -m tools.benchmark openpose-lsp --grouping-cost [--record]

measures instead what a bottom-up model's in-graph post-processing (x2 upsampling + grouping)
costs: LiteRT latency (``edge.tflite.DEFAULT_THREADS`` threads unless ``--threads``) of the whole
float32 / int8 file against the network alone, and of the grouping converted alone
(``edge.component_cost.grouping_cost``); writes ``<output>/grouping_cost_<name>-v<version>.json``;
``--record`` stores it as the ``component_cost`` measurement.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Dict

from tools._cli import run

ARTIFACT_SUFFIXES = (".tflite", ".onnx")


def find_artifacts(folder: Path, prefix: str = "") -> Dict[str, Path]:
    """Label -> path of every ``.tflite`` / ``.onnx`` under ``folder`` (hidden folders, such as
    unfinished exports, skipped). The label is the file name without ``prefix`` and suffix, e.g.
    ``hourglass-lsp-v1-float16.tflite`` -> ``float16`` and ``hourglass-lsp-v1.onnx`` -> ``onnx``."""
    found: Dict[str, Path] = {}
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder)
        if path.suffix not in ARTIFACT_SUFFIXES or not path.is_file():
            continue
        if any(part.startswith(".") for part in rel.parts):
            continue
        stem = path.stem
        if prefix and stem.startswith(prefix):
            stem = stem[len(prefix):].lstrip("-_")
        label = stem or path.suffix.lstrip(".")
        if label in found:
            label = str(rel)
        found[label] = path
    return found


def parse_references(values) -> Dict[str, Path]:
    """``--reference NAME=PATH`` values -> label ``reference NAME`` -> path (an existing file)."""
    found: Dict[str, Path] = {}
    for value in values:
        name, sep, path = value.partition("=")
        if not sep or not name or not path:
            raise ValueError(f"--reference must be NAME=PATH, got {value!r}")
        if not Path(path).is_file():
            raise FileNotFoundError(f"--reference {name}: no such file {path}")
        if Path(path).suffix not in ARTIFACT_SUFFIXES:
            raise ValueError(f"--reference {name}: {path} is not a .tflite or .onnx file")
        found[f"reference {name}"] = Path(path)
    return found


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m tools.benchmark", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("model", help="zoo name[@version]")
    p.add_argument("--exports", default="exports", help="root folder of the versioned exports")
    p.add_argument("--runs", type=int, default=None,
                   help="timed calls per measurement (default 200; 100 with --grouping-cost)")
    p.add_argument("--warmup", type=int, default=20, help="untimed calls before timing")
    p.add_argument("--threads", type=int, nargs="+", default=None,
                   help="thread counts to measure (default 1 2; 2 with --grouping-cost)")
    p.add_argument("--output", default="benchmarks", help="folder of the JSON and CSV results")
    p.add_argument("--no-keras", action="store_true", help="skip the Keras (XLA) measurement")
    p.add_argument("--reference", action="append", default=[], metavar="NAME=PATH",
                   help="also time another model's .tflite / .onnx file in the same run, under the same "
                        "settings (e.g. blazepose-full=pose_landmark_full.tflite); repeatable")
    p.add_argument("--timeout", type=float, default=None, help="seconds allowed to one measurement")
    p.add_argument("--record", action="store_true",
                   help="also store the results with the published version and regenerate its model card")
    p.add_argument("--grouping-cost", action="store_true",
                   help="bottom-up models: time the whole file against the network alone and the grouping alone "
                        "(float32, int8) instead of the exports")
    return p


def _exports_of(spec, exports: str) -> Dict[str, Path]:
    """The exported files of published ``spec`` under ``exports`` (clear errors when there are none)."""
    import zoo

    if spec.version is None:
        raise zoo.WeightsNotPublishedError(
            f"{spec.name} has no published version, so it has no exports to benchmark; published: "
            f"{', '.join(zoo.list_models(published_only=True)) or 'none'}")
    folder = Path(exports) / spec.name / str(spec.version)
    if not folder.is_dir():
        raise FileNotFoundError(f"no exports of {spec.id} at {folder}; export it first "
                                f"(python -m tools.export {spec.id} --output {exports})")
    artifacts = find_artifacts(folder, prefix=f"{spec.name}-v{spec.version}")
    if not artifacts:
        raise FileNotFoundError(f"no .tflite or .onnx file under {folder}; export them first "
                                f"(python -m tools.export {spec.id} --output {exports})")
    return artifacts


def main(argv=None):
    args = _parser().parse_args(argv)
    if args.grouping_cost:
        return grouping_cost_main(args)
    args.runs = 200 if args.runs is None else args.runs
    args.threads = [1, 2] if args.threads is None else args.threads

    import zoo
    from edge.benchmark import BenchmarkError, run_benchmarks
    from edge.benchmark_results import markdown_table, write_results

    spec = zoo.get_spec(args.model)
    artifacts = _exports_of(spec, args.exports)
    artifacts.update(parse_references(args.reference))
    model = None if args.no_keras else zoo.load(spec.id)
    print(f"benchmarking {spec.id}: {', '.join(artifacts)}{'' if model is None else ' + Keras (XLA)'}; "
          f"threads {args.threads}, {args.runs} runs after {args.warmup} warm-up", file=sys.stderr)

    def progress(row):
        print(f"  {row['runtime']:<15} {row['artifact']:<40} {row['threads']} thread(s): "
              f"median {row['median_ms']:.2f} ms, p90 {row['p90_ms']:.2f} ms", file=sys.stderr)

    try:
        rows = run_benchmarks(artifacts, model=model, runs=args.runs, warmup=args.warmup,
                              threads=args.threads, timeout=args.timeout, progress=progress)
    except BenchmarkError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    json_path, csv_path = write_results(rows, args.output, name=f"{spec.name}-v{spec.version}")
    print(markdown_table(rows))
    print(f"\nwrote {json_path} and {csv_path}", file=sys.stderr)
    if args.record:
        import json

        from zoo.model_card import record_measurement

        report = json.loads(Path(json_path).read_text())
        print(f"recorded {record_measurement(spec, 'benchmark', report)}", file=sys.stderr)
    return 0


def grouping_cost_main(args) -> int:
    import zoo
    from edge.component_cost import grouping_cost
    from edge.tasks import edge_task
    from edge.tflite import DEFAULT_THREADS
    from tools._cli import save_report

    model = zoo.load(args.model)
    task = edge_task(model.task)
    if not task.grouping:
        raise ValueError(f"{args.model} is not a bottom-up model: it has no grouping to measure")
    threads = [DEFAULT_THREADS] if args.threads is None else args.threads
    if len(threads) != 1:
        raise ValueError(f"--grouping-cost measures one thread count, got --threads {' '.join(map(str, threads))}")
    runs = 100 if args.runs is None else args.runs
    print(f"measuring the grouping of {model.spec.id}: {threads[0]} threads, {runs} runs", file=sys.stderr)
    calibration, _ = task.calibration(model.spec)
    report = grouping_cost(model, calibration=calibration, threads=threads[0], runs=runs, warmup=args.warmup)
    for row in report["rows"]:
        print(row)
    output = Path(args.output) / f"grouping_cost_{model.spec.name}-v{model.spec.version}.json"
    save_report(report, model.spec, "component_cost", output, args.record)
    print(f"wrote {output}", file=sys.stderr)
    return 0


def cli():
    sys.exit(run(main))


if __name__ == "__main__":
    cli()
