"""Evaluates a zoo model with the protocol of docs/evaluation.md on a fixed validation split.

    python -m tools.evaluate hourglass-lsp                 # LSPet validation split
    python -m tools.evaluate hourglass-lsp --weights runs/hourglass_lsp/final.weights.h5
    python -m tools.evaluate hourglass-mpii --data my_mpii_val.json
    python -m tools.evaluate openpose-lsp --limit 300         # multi-person: OKS AP
    python -m tools.evaluate simplebaseline-lsp --failures out/failures   # + kinds of misses, worst crops
    python -m tools.evaluate simplebaseline-coco@2 --people                # every person: detector + model, OKS AP
    python -m tools.evaluate simplebaseline-coco@2 --people --precision int8 --record   # + the .tflite files

Prints PCK@0.2 / PCK@0.1 (all joints, 12 limb joints, per joint) and writes a JSON with --output.
Multi-person (bottom-up) models get COCO OKS AP on held-out scenes composited from LSPet
validation people (``--limit`` scenes, default 300) and on the coco-mini images; one whose recipe
trains on the COCO photos (``openpose-coco``) on the COCO photos' validation split instead, all
people, with its worst photos (``training.people_evaluation.validation_photos``).
``--failures DIR`` (single-person models) also prints the kinds of PCK@0.2 misses
(``training.failures``: left/right swaps, near misses, far misses; people read mirrored as a whole,
and the limb PCK if their labels may be mirrored) and writes ``DIR/failures.json``
and ``DIR/worst.jpg``, the worst crops with the truth in green.
``--people`` (single-person models) finds every person of the COCO photos' validation split (35
photos, all people) with the person detector and runs the model on each box's crop, as
``model.predict_people`` does; prints OKS AP / AR (pycocotools), per-joint keypoint-similarity
accuracy and the worst photos; ``--precision P`` (repeatable) also runs the detector's and the
model's ``.tflite`` files of that precision in sequence (from ``--exports``, exported there if
missing) and prints their AP drop (int8 target: 1 point); ``--record`` stores it all as the
version's ``top_down_people`` measurement and regenerates its card (``edge.top_down_people``).
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
    p.add_argument("--people", action="store_true",
                   help="single-person models: every person of the COCO validation photos, top-down through "
                        "the person detector (OKS AP)")
    p.add_argument("--precision", action="append", default=[],
                   help="with --people: also the .tflite files of this precision in sequence (repeatable)")
    p.add_argument("--exports", default="exports", help="with --precision: root of the exports")
    p.add_argument("--record", action="store_true",
                   help="with --people: store the result with the published version and regenerate its card")
    args = p.parse_args(argv)
    _check_people_options(args)
    model = zoo.load(args.model, weights=args.weights or "published")
    if args.people:
        return _top_down_people(model, args)
    evaluation = task_evaluation(model)
    result = evaluation.evaluate(model, args.data, args.limit)
    print(evaluation.summary(args.model, result))
    if args.output:
        from tools.files import write_json

        write_json(args.output, result)
    if args.failures:
        if evaluation.failures is None:
            raise ValueError(f"--failures analyses single-person (top-down) models; {args.model} is not one")
        print(evaluation.failures(model, args.data, args.limit, args.failures, args.worst))
    return 0


def _check_people_options(args) -> None:
    """The options only ``--people`` takes, and what it cannot take: one-line errors before a model loads."""
    if not args.people:
        for flag, given in (("--precision", args.precision), ("--record", args.record)):
            if given:
                raise ValueError(f"{flag} applies to --people: python -m tools.evaluate {args.model} --people {flag}")
        return
    for flag, given in (("--limit", args.limit), ("--failures", args.failures)):
        if given:
            raise ValueError(f"--people scores every photo of the COCO validation split; {flag} does not apply")
    if args.record and args.weights:
        raise ValueError("--record stores a measurement of the published weights; drop --weights to record")


def _top_down_people(model, args) -> int:
    """``--people``: ``edge.top_down_people.measure_top_down_people``, printed and, with ``--record``,
    stored; exit 1 when a file misses its AP drop target."""
    from edge.top_down_people import MEASUREMENT, measure_top_down_people, top_down_people_table
    from tools._cli import save_report

    command = (f"python -m tools.evaluate {model.spec.id} --people"
               + "".join(f" --precision {p}" for p in args.precision) + (" --record" if args.record else ""))
    report = measure_top_down_people(model, args.precision, args.exports, args.data, command=command)
    print(top_down_people_table(report))
    save_report(report, model.spec, MEASUREMENT, args.output, args.record)
    return 0 if all(r["ok"] for r in report["rows"]) else 1


def cli():
    sys.exit(run(main))


if __name__ == "__main__":
    cli()
