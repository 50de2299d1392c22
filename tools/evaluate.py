"""Evaluates a zoo model with the protocol of docs/evaluation.md on a fixed validation split.

    python -m tools.evaluate hourglass-lsp                 # LSPet validation split
    python -m tools.evaluate hourglass-lsp --weights runs/hourglass_lsp/final.weights.h5
    python -m tools.evaluate hourglass-mpii --data my_mpii_val.json
    python -m tools.evaluate openpose-lsp --limit 300         # multi-person: OKS AP
    python -m tools.evaluate simplebaseline-lsp --failures out/failures   # + kinds of misses, worst crops

Prints PCK@0.2 / PCK@0.1 (all joints, 12 limb joints, per joint) and writes a JSON with --output.
Multi-person (bottom-up) models get COCO OKS AP on held-out scenes composited from LSPet
validation people (``--limit`` scenes, default 300) and on the coco-mini images; one whose recipe
trains on the COCO photos (``openpose-coco``) on the COCO photos' validation split instead, all
people, with its worst photos (``training.people_evaluation.validation_photos``).
``--failures DIR`` (single-person models) also prints the kinds of PCK@0.2 misses
(``training.failures``: left/right swaps, near misses, far misses; people read mirrored as a whole,
and the limb PCK if their labels may be mirrored) and writes ``DIR/failures.json``
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
        if evaluation.failures is None:
            raise ValueError(f"--failures analyses single-person (top-down) models; {args.model} is not one")
        print(evaluation.failures(model, args.data, args.limit, args.failures, args.worst))
    return 0


def cli():
    sys.exit(run(main))


if __name__ == "__main__":
    cli()
