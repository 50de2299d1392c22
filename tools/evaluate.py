"""Evaluates a zoo model with the protocol of docs/evaluation.md on a fixed validation split.

    python -m tools.evaluate hourglass-lsp                 # LSPet validation split
    python -m tools.evaluate hourglass-lsp --weights runs/hourglass_lsp/final.weights.h5
    python -m tools.evaluate hourglass-mpii --data my_mpii_val.json
    python -m tools.evaluate openpose-lsp --limit 300         # multi-person: OKS AP
    python -m tools.evaluate simplebaseline-lsp --failures out/failures   # + kinds of misses, worst crops

Prints PCK@0.2 / PCK@0.1 (all joints, 12 limb joints, per joint) and writes a JSON with --output.
Multi-person (bottom-up) models get COCO OKS AP on held-out scenes composited from LSPet
validation people (``--limit`` scenes, default 300) and on the coco-mini images.
``--failures DIR`` (single-person models) also prints the kinds of PCK@0.2 misses
(``training.failures``: left/right swaps, near misses, far misses) and writes ``DIR/failures.json``
and ``DIR/worst.jpg``, the worst crops with the truth in green.
"""

from __future__ import annotations

import argparse
import sys

from tools._cli import run


def main(argv=None):
    import zoo
    from training.evaluate import task_evaluation

    p = argparse.ArgumentParser(prog="python -m tools.evaluate", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("model", help="zoo name[@version]")
    p.add_argument("--weights", help="evaluate this weights file instead of the published weights")
    p.add_argument("--data", help="dataset folder / annotation file (default: shared data)")
    p.add_argument("--limit", type=int, default=0, help="first N images only")
    p.add_argument("--output", help="write the result JSON here")
    p.add_argument("--failures", help="single-person models: write the miss analysis and the worst crops here")
    p.add_argument("--worst", type=int, default=16, help="how many worst crops --failures draws")
    args = p.parse_args(argv)
    model = zoo.load(args.model, weights=args.weights or "published")
    evaluation = task_evaluation(model)
    result = evaluation.evaluate(model, args.data, args.limit)
    print(evaluation.summary(args.model, result))
    if args.output:
        from tools.files import write_json

        write_json(args.output, result)
    if args.failures:
        _failures(model, args)
    return 0


def _failures(model, args):
    from pathlib import Path

    from tools.files import write_json
    from training.evaluate import evaluation_samples, predict_samples
    from training.failures import classify_misses, format_misses, worst_crops_image
    from zoo.io import write_image
    from zoo.tasks import TOP_DOWN

    if model.task is not TOP_DOWN:
        raise ValueError(f"--failures analyses single-person (top-down) models; {args.model} is {model.task.name}")
    if args.worst < 1:
        raise ValueError(f"--worst must be >= 1, got {args.worst}")
    samples, _ = evaluation_samples(model.skeleton.name, args.data, args.limit)
    pred, _ = predict_samples(model, samples)
    report = classify_misses(pred, samples.keypoints, samples.visible, model.skeleton)
    print(format_misses(report))
    out = Path(args.failures)
    out.mkdir(parents=True, exist_ok=True)
    worst = report["order"][:args.worst]
    write_json(out / "failures.json", {**{k: v for k, v in report.items() if k not in ("order",)},
                                       "images": [s.rsplit("/", 1)[-1] for s in samples.image_paths],
                                       "worst": [samples.image_paths[i].rsplit("/", 1)[-1] for i in worst]})
    write_image(out / "worst.jpg", worst_crops_image(model, samples, report, args.worst))
    print(f"wrote {out / 'failures.json'} and {out / 'worst.jpg'} ({len(worst)} worst crops)")


def cli():
    sys.exit(run(main))


if __name__ == "__main__":
    cli()
