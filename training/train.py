"""Trains an experiment by name under a tf.distribute strategy chosen from the machine.

    python -m training.train hourglass_lsp --workdir runs/hourglass_lsp

Checkpoints every epoch (``<workdir>/backup``: weights, optimizer state and epoch) and resumes
from there when started again with the same workdir after being killed. TensorBoard logs go to
``<workdir>/logs`` (loss, PCK, learning rate, prediction and heatmap images).
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import sys
from typing import TYPE_CHECKING, Optional

if TYPE_CHECKING:
    from training.experiments.base import Experiment


def _train_top_down(*args, **kwargs):
    from training.top_down import train_top_down

    return train_top_down(*args, **kwargs)


def _train_bottom_up(*args, **kwargs):
    from training.bottom_up import train_bottom_up

    return train_bottom_up(*args, **kwargs)


#: The training loop of each task (``zoo.tasks``): single-person crops, or multi-person scenes;
#: imported when called, so ``--help`` answers before TensorFlow loads.
LOOPS = {"top_down": _train_top_down, "bottom_up": _train_bottom_up}


def train(exp: Experiment, workdir: str, data: Optional[str] = None, val_data: Optional[str] = None,
          strategy: str = "auto", max_val: int = 0, verbose: int = 2, tensorboard: bool = True,
          max_train: int = 0):
    """Trains ``exp`` into ``workdir`` with the loop of its architecture's task; returns the
    trained model and the Keras history.

    ``max_train`` / ``max_val``: use only the first N training / validation images (0: all);
    for smoke tests, which then skip decoding the whole training split into the shuffle buffer.

    Experiments with ``phases`` (cascades such as DeepPose) train one stage after another, each
    phase in ``<workdir>/stage<s>`` with its own checkpoints; a finished phase is not redone.
    """
    from zoo.architectures import get_architecture

    loop = LOOPS[get_architecture(exp.architecture).task.name]
    exp = exp.replace(precision=resolve_precision(exp.precision))
    with dtype_policy(exp.precision):
        return loop(exp, workdir, data=data, val_data=val_data, strategy=strategy, max_val=max_val,
                    verbose=verbose, tensorboard=tensorboard, max_train=max_train)


def resolve_precision(precision: str) -> str:
    """``auto``: ``mixed_bfloat16`` on a CPU with AMX-BF16 and no GPU (where ``tools.train_speed``
    measured it faster for the recipes that ask for it), else ``float32``; other names as given."""
    if precision != "auto":
        return precision
    from training.records import cpu_features, gpus

    return "mixed_bfloat16" if cpu_features()["amx_bf16"] and not gpus() else "float32"


@contextlib.contextmanager
def dtype_policy(name: str):
    """Keras' global dtype policy set to ``name`` while the block runs (models built inside keep
    it), the previous one restored afterwards."""
    import keras

    previous = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy(name)
    try:
        yield
    finally:
        keras.mixed_precision.set_global_policy(previous)


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m training.train", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("experiment", help="a recipe name (training.experiments; see the error of an unknown one)")
    p.add_argument("--workdir", required=True, help="checkpoints, logs and final weights go here")
    p.add_argument("--data", help="dataset folder / annotation file, e.g. the MPII release "
                                  "mpii_human_pose_v1_u12_1.mat (images/ beside it) or an MPII-format "
                                  "JSON (default: $POSEZOO_DATA/...)")
    p.add_argument("--val-data", help="validation annotation file (MPII-format experiments)")
    p.add_argument("--epochs", type=int, help="override the recipe's epoch count")
    p.add_argument("--steps-per-epoch", type=int)
    p.add_argument("--batch-size", type=int)
    p.add_argument("--strategy", default="auto", choices=["auto", "default", "mirrored", "multiworker"])
    p.add_argument("--max-val", type=int, default=0, help="validate on the first N images only")
    p.add_argument("--max-train", type=int, default=0, help="train on the first N images only (smoke tests)")
    p.add_argument("--no-jit", action="store_true", help="disable XLA")
    p.add_argument("--precision", help="override the recipe's precision: float32, mixed_bfloat16 or auto "
                                       "(time them on your machine with tools.train_speed)")
    p.add_argument("--verbose", action="store_true", help="show TensorFlow's start-up lines and library warnings")
    args = p.parse_args(argv)
    from training.quiet import quiet_tensorflow_start

    quiet_tensorflow_start(args.verbose)
    from training.experiments import get_experiment

    try:
        exp = get_experiment(args.experiment)
    except KeyError as e:
        p.error(str(e.args[0]))
    changes = {k: v for k, v in (("epochs", args.epochs), ("steps_per_epoch", args.steps_per_epoch),
                                 ("batch_size", args.batch_size)) if v}
    if args.epochs and len(exp.phases) == 1 and exp.phases[0].stage == 0:
        # A recipe whose one phase is the whole run (e.g. IEF's, which measures the mean pose
        # first) trains for the phase's epochs: the override goes there too.
        changes["phases"] = (dataclasses.replace(exp.phases[0], epochs=args.epochs),)
    if args.no_jit:
        changes["jit_compile"] = False
    if args.precision:
        changes["precision"] = args.precision
    try:
        exp = exp.replace(**changes)
    except ValueError as e:
        p.error(str(e))
    train(exp, args.workdir, args.data, args.val_data, args.strategy, args.max_val,
          max_train=args.max_train)


def cli():
    sys.exit(main())


if __name__ == "__main__":
    cli()
