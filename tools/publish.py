"""Publishes trained weights as the next version of a zoo model, with a generated model card.

    python -m tools.publish hourglass-lsp runs/hourglass_lsp/final.weights.h5 \\
        --workdir runs/hourglass_lsp --store package
    python -m tools.publish hourglass-mpii runs/hourglass_mpii/final.weights.h5 \\
        --workdir runs/hourglass_mpii --data my_mpii_val.json          # local store

The weights are evaluated first (docs/evaluation.md; ``training.evaluate.task_evaluation``: PCK
for a top-down model, OKS AP on held-out scenes and coco-mini for a bottom-up one, or on the COCO
photos' validation split for one whose recipe trains on the COCO photos), the figures
and the training record of ``--workdir`` go into ``model.json``, and the card is generated from
them.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from tools._cli import run


def main(argv=None):
    import zoo
    from training.evaluate import task_evaluation
    from training.records import hardware, summarise_workdir
    from zoo.model_card import write_model_card
    from zoo.registry import PACKAGE_STORE, PRESETS, parse_name

    p = argparse.ArgumentParser(prog="python -m tools.publish", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("model", help=f"preset name, one of {sorted(PRESETS)}")
    p.add_argument("weights", help="trained weights file (.weights.h5)")
    p.add_argument("--workdir", help="training workdir (experiment.json, history.csv) to record the recipe")
    p.add_argument("--data", help="evaluation data (default: the preset's validation split)")
    p.add_argument("--train-data", help="describe the training data (default from the experiment)")
    p.add_argument("--store", default="local", choices=["local", "package"],
                   help="local: $POSEZOO_HOME (default); package: ship inside zoo/published")
    p.add_argument("--limitation", action="append", default=[], help="a known limitation for the card")
    p.add_argument("--scenes", type=int, default=300, help="bottom-up models: held-out scenes evaluated")
    p.add_argument("--epoch-curve", type=int, default=0,
                   help="bottom-up models: AP of every epoch's weights (<workdir>/epochs) on this many scenes")
    args = p.parse_args(argv)
    name, _ = parse_name(args.model)
    if name not in PRESETS:
        raise zoo.ModelNotFoundError(f"no preset {name!r}; presets: {sorted(PRESETS)}")
    model = zoo.load(name, weights=args.weights)
    evaluation = task_evaluation(model)
    metrics, text, evaluation_set = evaluation.publication(model, args.data, args.scenes)
    print(text)
    training = summarise_workdir(args.workdir) if args.workdir else {}
    if args.workdir and args.epoch_curve and evaluation.epoch_curve is not None:
        training.update(evaluation.epoch_curve(args.workdir, name, evaluation_set, args.epoch_curve))
    dataset, data = evaluation.training_data(PRESETS[name].skeleton)
    if not args.train_data:
        dataset, data = training_sets(dataset, data, _recipe_datasets(args.workdir))
    training.update(
        dataset=dataset,
        data=args.train_data or data,
        hardware=training.get("hardware") or hardware(),  # the training runs' machines when recorded
        parameters=int(model.count_params()),
        limitations=args.limitation or None,
    )
    store = PACKAGE_STORE if args.store == "package" else None
    published = zoo.publish(name, args.weights, training=training, metrics=metrics, store=store)
    write_model_card(published)
    print(f"published {published.id} (sha256 {published.weights.sha256[:12]}...)")
    return 0


def training_sets(dataset: str, data: str, recipe_sets) -> tuple:
    """The card's training data ``(dataset, data)``: the skeleton's default (``dataset``, the sets
    joined by ``+``; ``data``, their description) as the recipe's sets make it. A default of one set
    becomes the recipe's sets; the recipe's sets beyond a default of several are named after it."""
    from training.box_people import DATASET_DESCRIPTIONS

    if not recipe_sets:
        return dataset, data
    if "+" not in dataset:
        return ("+".join(recipe_sets),
                f"training splits of docs/evaluation.md, sampled by the recipe's weights: {', '.join(recipe_sets)}")
    extra = [d for d in recipe_sets if d not in dataset.split("+")]
    if not extra:
        return dataset, data
    return "+".join(dataset.split("+") + extra), data + "; also " + "; ".join(
        DATASET_DESCRIPTIONS.get(d, d) for d in extra)


def _recipe_datasets(workdir):
    """The datasets a multi-dataset recipe trained on (its ``experiment.json`` in ``workdir``), or []."""
    path = Path(workdir) / "experiment.json" if workdir else None
    if path is None or not path.is_file():
        return []
    return [str(entry[0]) for entry in json.loads(path.read_text()).get("datasets") or []]


def cli():
    sys.exit(run(main))


if __name__ == "__main__":
    cli()
