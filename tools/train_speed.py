"""Times a recipe's training steps on this machine: float32 vs mixed_bfloat16, XLA on vs off.

    python -m tools.train_speed simplebaseline_lsp [--steps 8] [--output speed.json]

Each setting runs in its own process (the Keras dtype policy is global): the recipe's model and
optimizer, compiled as the training loop compiles them, on a fixed set of real training batches
(the recipe's crops and targets, decoded once and cached, so the data pipeline is not timed).
Prints images/s per setting, with the CPU and whether it has AMX / AVX512-BF16 (where TF's oneDNN
runs bfloat16 matmuls natively); ``--output`` writes the rows as JSON (atomically).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time

from training.records import cpu_features

SETTINGS = (("float32", False), ("float32", True), ("mixed_bfloat16", False), ("mixed_bfloat16", True))


def time_setting(experiment: str, precision: str, xla: bool, steps: int, warmup: int, batch_size: int = 0) -> dict:
    """Seconds per training step of ``experiment`` under one setting (run in a fresh process)."""
    import keras

    keras.mixed_precision.set_global_policy(precision)
    from training.experiments import get_experiment
    from training.loop import WarmupCosine, build_model, first_samples
    from training.losses import loss_and_stage_metrics
    from training.phases import Phase
    from training.pipeline import training_dataset
    from training.top_down import load_split

    exp = get_experiment(experiment)
    if batch_size:
        exp = exp.replace(batch_size=batch_size)
    batches = 4
    train, _ = first_samples(load_split(exp, "train"), load_split(exp, "val"), exp.batch_size * batches, 1)
    model = build_model(exp)  # weights do not change the speed: no ImageNet / init_from loading
    dataset = training_dataset(train, model.codec, exp.batch_size, exp.augment).take(batches).cache().repeat()
    phase = Phase(0, 1)
    loss, metrics = loss_and_stage_metrics(model.codec, phase.supervised_stages(model), phase.loss(),
                                           own_errors=model.own_stage_errors())
    model.compile(optimizer=keras.optimizers.Adam(WarmupCosine(exp.learning_rate, 10, 1000)), loss=loss,
                  weighted_metrics=metrics, jit_compile=xla)
    model.fit(dataset, epochs=1, steps_per_epoch=warmup, verbose=0)
    start = time.perf_counter()
    model.fit(dataset, epochs=1, steps_per_epoch=steps, verbose=0)
    seconds = (time.perf_counter() - start) / steps
    return {"experiment": experiment, "precision": precision, "xla": xla, "batch_size": exp.batch_size,
            "input_size": model.input_size, "seconds_per_step": round(seconds, 4),
            "images_per_second": round(exp.batch_size / seconds, 2), "steps": steps}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m tools.train_speed", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("experiment", help="a top-down recipe (python -m training.train --help lists them)")
    p.add_argument("--steps", type=int, default=8, help="timed steps per setting (after --warmup)")
    p.add_argument("--warmup", type=int, default=3, help="untimed steps first (tracing, oneDNN set-up)")
    p.add_argument("--batch-size", type=int, default=0, help="override the recipe's batch size")
    p.add_argument("--settings", default="all",
                   help="comma-separated precision:xla pairs, e.g. float32:off,mixed_bfloat16:on (default all four)")
    p.add_argument("--output", help="write the rows and the machine as JSON here")
    p.add_argument("--worker", nargs=2, metavar=("PRECISION", "XLA"), help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.steps < 1 or args.warmup < 1:
        p.error("--steps and --warmup must be >= 1")
    if args.worker:
        row = time_setting(args.experiment, args.worker[0], args.worker[1] == "on", args.steps, args.warmup,
                           args.batch_size)
        print("ROW " + json.dumps(row), flush=True)
        return 0
    from training.experiments import list_experiments

    if args.experiment not in list_experiments():
        p.error(f"unknown experiment {args.experiment!r}; known: {list_experiments()}")
    if args.settings == "all":
        settings = SETTINGS
    else:
        try:
            settings = [(s.split(":")[0], {"on": True, "off": False}[s.split(":")[1]])
                        for s in args.settings.split(",")]
        except (IndexError, KeyError):
            p.error(f"--settings must look like float32:off,mixed_bfloat16:on, got {args.settings!r}")
        from training.experiments.base import PRECISIONS

        bad = [s for s, _ in settings if s not in PRECISIONS]
        if bad:
            p.error(f"unknown precision {bad[0]!r}: one of {', '.join(PRECISIONS)}")
    machine = cpu_features()
    print(f"{machine['cpu']}: AMX-BF16 {machine['amx_bf16']}, AVX512-BF16 {machine['avx512_bf16']}", flush=True)
    rows = []
    for precision, xla in settings:
        cmd = [sys.executable, "-m", "tools.train_speed", args.experiment, "--steps", str(args.steps),
               "--warmup", str(args.warmup), "--batch-size", str(args.batch_size),
               "--worker", precision, "on" if xla else "off"]
        done = subprocess.run(cmd, capture_output=True, text=True)
        found = [line[4:] for line in done.stdout.splitlines() if line.startswith("ROW ")]
        if done.returncode or not found:
            tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
            row = {"experiment": args.experiment, "precision": precision, "xla": xla, "error": tail[0]}
        else:
            row = json.loads(found[0])
        rows.append(row)
        speed = f"{row['images_per_second']:.1f} images/s" if "error" not in row else f"failed: {row['error']}"
        print(f"  {precision:15s} XLA {'on ' if xla else 'off'}  {speed}", flush=True)
    if args.output:
        from zoo.io import write_atomic

        write_atomic(args.output, json.dumps({"machine": machine, "rows": rows}, indent=2) + "\n")
    return 0


def cli():
    sys.exit(main())


if __name__ == "__main__":
    cli()
