"""Publishes trained weights as the next version of a zoo model, with a generated model card.

    python -m tools.publish hourglass-lsp runs/hourglass_lsp/final.weights.h5 \\
        --workdir runs/hourglass_lsp --store package
    python -m tools.publish hourglass-mpii runs/hourglass_mpii/final.weights.h5 \\
        --workdir runs/hourglass_mpii --data my_mpii_val.json          # local store

The weights are evaluated first (DESIGN protocol), the figures and the training record of
``--workdir`` go into ``model.json``, and the card is generated from them.
"""

from __future__ import annotations

import argparse
import sys

from tools._cli import run


def main(argv=None):
    import zoo
    from tools.evaluate import evaluate_model, format_result
    from training.records import hardware, summarise_workdir
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
    if hasattr(model, "people"):
        return _publish_bottom_up(args, name, model)
    result = evaluate_model(model, args.data)
    print(format_result(result))
    training = summarise_workdir(args.workdir) if args.workdir else {}
    spec = PRESETS[name]
    dataset = "lspet" if spec.skeleton == "lsp14" else "mpii"
    training.update(
        dataset=dataset,
        data=args.train_data or ("LSPet im00001-im08100 (fixed train split, 8,100 images)"
                                 if dataset == "lspet" else "MPII-format records"),
        hardware=hardware(),
        parameters=int(model.count_params()),
        limitations=args.limitation or None,
    )
    metrics = {"pck@0.2": result["pck@0.2"], "pck@0.1": result["pck@0.1"],
               "evaluation": {k: result[k] for k in ("data", "protocol", "num_images", "samples", "joints")}}
    for key in ("pdj", "pcp"):
        if key in result:
            metrics[key] = result[key]
    if len(result.get("stages", [])) > 1:
        metrics["per_stage"] = [{k: (round(100 * v, 2) if k != "stage" else v) for k, v in row.items()}
                                for row in result["stages"]]
    metrics["evaluation"]["command"] = f"python -m tools.evaluate {name}@<version>"
    store = PACKAGE_STORE if args.store == "package" else None
    published = zoo.publish(name, args.weights, training=training, metrics=metrics, store=store)
    print(f"published {published.id} (sha256 {published.weights.sha256[:12]}...)")
    return 0


def _epoch_curve(workdir, name: str, scenes) -> list:
    """OKS AP on the held-out scenes of every epoch's weights kept by the bottom-up loop."""
    from pathlib import Path

    import zoo
    from training.evaluate import evaluate_scenes

    rows = []
    for path in sorted((Path(workdir) / "epochs").glob("epoch_*.weights.h5")):
        model = zoo.load(name, weights=str(path))
        r = evaluate_scenes(model, scenes=scenes)
        rows.append({"epoch": int(path.name.split("_")[1].split(".")[0]), "AP": round(r["oks"]["AP"], 4),
                     "AP50": round(r["oks"]["AP50"], 4), "detections": r["detections"]})
        print(f"epoch {rows[-1]['epoch']}: AP {rows[-1]['AP']:.4f}", flush=True)
    return rows


def _publish_bottom_up(args, name: str, model) -> int:
    """Publishes a bottom-up (multi-person) model: OKS AP on held-out LSPet scenes and on
    coco-mini, per-joint figures, the AP of every epoch, the training record."""
    import zoo
    from training.evaluate import evaluate_coco, evaluate_scenes, scene_evaluation_set
    from training.records import hardware, summarise_workdir
    from zoo.registry import PACKAGE_STORE

    scenes = scene_evaluation_set(args.scenes, args.data, model.input_size)
    result = {"scenes": evaluate_scenes(model, scenes=scenes), "coco": evaluate_coco(model)}
    for key, r in result.items():
        print(f"{key}: AP {r['oks']['AP']:.4f} AP50 {r['oks']['AP50']:.4f} AR {r['oks']['AR']:.4f} "
              f"({r['images']} images, {r['people']} people, {r['detections']} detections)")
    training = summarise_workdir(args.workdir) if args.workdir else {}
    if args.workdir and args.epoch_curve:
        curve_scenes = tuple(x[:args.epoch_curve] for x in scenes)
        training["ap_curve"] = _epoch_curve(args.workdir, name, curve_scenes)
        training["ap_curve_scenes"] = args.epoch_curve
    training.update(dataset="lspet",
                    data=args.train_data or ("multi-person scenes composited from LSPet im00001-im08100 people "
                                             "(fixed train split, 8,100 people), training.composite"),
                    hardware=hardware(), parameters=int(model.count_params()),
                    limitations=args.limitation or None)
    metrics = {**result, "evaluation": {"scenes": len(scenes[0]), "command": f"python -m tools.evaluate {name}@<version>"}}
    store = PACKAGE_STORE if args.store == "package" else None
    published = zoo.publish(name, args.weights, training=training, metrics=metrics, store=store)
    print(f"published {published.id} (sha256 {published.weights.sha256[:12]}...)")
    return 0


def cli():
    sys.exit(run(main))


if __name__ == "__main__":
    cli()
