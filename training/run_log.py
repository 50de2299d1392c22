"""One TensorBoard run per training: where its event files go and at which global step
(``RunLog``), the tags of the Keras log entries, and the recipe as text and hparams at step 0."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import re
from pathlib import Path
from typing import Dict, Iterable, Optional

import tensorflow as tf


@dataclasses.dataclass(frozen=True)
class RunLog:
    """Where and at which step a training run's TensorBoard summaries go.

    One writer per run (``<workdir>/logs``), shared by every phase, so TensorBoard shows one run
    whose x axis is the global optimizer step: a phase's steps start at ``offset``, the optimizer
    steps of the recipe's earlier phases (``training.phases.step_offsets``: fixed by the recipe,
    so a resumed run writes at the same steps). ``written`` holds the ``(tag, step)`` pairs of
    images written at a phase's first step, which is also the previous phase's last.
    """

    writer: object
    steps_per_epoch: int = 1
    offset: int = 0
    written: set = dataclasses.field(default_factory=set, compare=False, repr=False)

    @classmethod
    def open(cls, log_dir, steps_per_epoch: int = 1) -> "RunLog":
        return cls(tf.summary.create_file_writer(str(log_dir)), int(steps_per_epoch))

    @classmethod
    def open_run(cls, workdir, steps_per_epoch: int = 1) -> "RunLog":
        """The run of a training ``workdir`` (``run_log_dir``)."""
        return cls.open(run_log_dir(workdir), steps_per_epoch)

    def phase(self, offset: int) -> "RunLog":
        """The same run (writer, ``written``) for the phase whose first step is ``offset + 1``."""
        return dataclasses.replace(self, offset=int(offset))

    def step(self, epoch: int, batch: int) -> int:
        """Global step after batch ``batch`` (0-based) of the phase's epoch ``epoch``."""
        return self.offset + epoch * self.steps_per_epoch + batch + 1

    def epoch_end(self, epoch: int) -> int:
        """Global step at the end of the phase's epoch ``epoch`` (0-based)."""
        return self.offset + (epoch + 1) * self.steps_per_epoch

    @contextlib.contextmanager
    def at(self, step: int):
        """Summaries written inside go to ``step``. ``record_if(True)``: written whatever
        recording condition an enclosing callback left set."""
        with self.writer.as_default(step=int(step)), tf.summary.record_if(True):
            yield
        self.writer.flush()

    def close(self) -> None:
        self.writer.close()


def run_log_dir(workdir) -> Path:
    """Where a training's event files go: the ``workdir`` itself, so that ``tensorboard --logdir
    runs`` names the run after it (``hourglass_lsp``, not ``hourglass_lsp/logs``); its
    ``logs`` folder only for a run begun there before (a resumed run stays one run)."""
    workdir = Path(workdir)
    old = workdir / "logs"
    return old if any(old.glob("events.out.tfevents.*")) else workdir


def as_run_log(log) -> Optional[RunLog]:
    """``log`` as a ``RunLog``: a folder (str or Path) opens one whose steps are the epochs."""
    if log is None or isinstance(log, RunLog):
        return log
    return RunLog.open(log)


def summary_every(steps_per_epoch: int, most: int = 20) -> int:
    """Training scalars every ``most`` optimizer steps, or more often in short epochs (at least
    about ten points per epoch)."""
    return max(1, min(most, int(steps_per_epoch) // 10))


_STAGE_KEY = re.compile(r"(?:(?P<output>.+?)_)?(?P<stage>stage\d+)_(?P<metric>.+)")


def summary_tags(keys: Iterable[str]) -> Dict[str, str]:
    """Keras log names (``val_`` prefix removed) -> tags below ``train/`` or ``val/``:
    ``loss`` -> ``loss``, ``stage2_loss`` -> ``stage2/loss``, ``stage2_pck@0.2`` ->
    ``stage2/pck@0.2``, ``pafs_stage1_loss`` -> ``pafs/stage1/loss``, ``pafs_loss`` ->
    ``pafs/loss``; other names unchanged. The per-stage figures of an output with a single stage
    are left out: they repeat the output's own (``stage1_loss`` of a one-stage model is its loss).
    """
    keys = list(keys)
    parsed = {k: _STAGE_KEY.fullmatch(k) for k in keys}
    stages = {}
    for m in parsed.values():
        if m:
            stages.setdefault((m["output"], m["metric"]), set()).add(m["stage"])
    tags = {}
    for key, m in parsed.items():
        if m:
            if len(stages[(m["output"], m["metric"])]) > 1:
                tags[key] = "/".join(p for p in (m["output"], m["stage"], m["metric"]) if p)
        elif key.endswith("_loss"):
            tags[key] = key[:-len("_loss")] + "/loss"
        else:
            tags[key] = key
    return tags



def recipe_hparams(exp, steps_per_epoch: int) -> Dict[str, object]:
    """The recipe's main hyperparameters, for TensorBoard's hparams dashboard."""
    aug = exp.augment
    phases = " ".join("/".join(str(v) for v in p.as_tuple()) for p in exp.phases)
    return {"experiment": exp.name, "architecture": exp.architecture, "dataset": exp.dataset,
            "input_size": int(exp.model_args.get("input_size", 0)), "batch_size": int(exp.batch_size),
            "epochs": int(exp.epochs), "steps_per_epoch": int(steps_per_epoch),
            "learning_rate": float(exp.learning_rate), "warmup_steps": int(exp.warmup_steps),
            "precision": exp.precision, "augment_scale": float(aug.scale),
            "augment_rotation_deg": float(aug.rotation_deg), "augment_flip_prob": float(aug.flip_prob),
            "augment_colour": float(aug.colour), "phases": phases or "none",
            "backbone_weights": exp.backbone_weights or "none", "init_from": exp.init_from or "none",
            "coco_mix": float(exp.coco_mix)}


#: The hyperparameters TensorBoard's HParams dashboard shows without ticking them: it sorts them
#: by ``differs`` (values that differ between runs first), then by name, and shows the first five.
HEADLINE_HPARAMS = ("architecture", "batch_size", "epochs", "input_size", "learning_rate")


def hparams_experiment(values: Dict[str, object]):
    """The hparams dashboard's experiment (a ``Summary`` proto): every hparam of ``values``, the
    ``HEADLINE_HPARAMS`` marked ``differs`` so they are the ones shown by default, and the
    ``RUN_FIGURES`` as metrics."""
    from tensorboard.plugins.hparams import api as hp
    from tensorboard.plugins.hparams import metadata, plugin_data_pb2

    pb = hp.hparams_config_pb(hparams=[hp.HParam(k) for k in values],
                              metrics=[hp.Metric(tag, display_name=name) for tag, name in RUN_FIGURES])
    value = pb.value[0]
    data = metadata.parse_experiment_plugin_data(value.metadata.plugin_data.content)
    for info in data.hparam_infos:
        info.differs = info.name in HEADLINE_HPARAMS
    value.metadata.CopyFrom(metadata.create_summary_metadata(plugin_data_pb2.HParamsPluginData(experiment=data)))
    return pb


def recipe_markdown(exp) -> str:
    """``experiment.json``'s content as Markdown (a heading, then the JSON as a code block)."""
    body = json.dumps(exp.to_dict(), indent=2)
    return f"### recipe `{exp.name}` (experiment.json)\n\n" + "\n".join("    " + line for line in body.splitlines())


#: The final validation figure of a run (the last value of the scalar), per task: the metrics of
#: TensorBoard's hparams dashboard. Every run registers both, so that the dashboard of several runs
#: (``tensorboard --logdir runs``, which reads one run's list) has the column of each.
RUN_FIGURES = (("val/pck@0.2", "PCK@0.2 (validation, top-down)"),
               ("val/oks_ap", "OKS AP (held-out scenes, bottom-up)"),
               ("val/coco_ap", "OKS AP (held-out COCO photos, bottom-up)"))


def write_recipe(log: RunLog, exp) -> None:
    """At step 0: the recipe as text (``recipe``) and its hyperparameters as hparams
    (``hparams_experiment``), with the ``RUN_FIGURES`` as metrics."""
    from tensorboard.plugins.hparams import api as hp

    values = recipe_hparams(exp, log.steps_per_epoch)
    with log.at(0):
        tf.summary.text("recipe", recipe_markdown(exp))
        tf.summary.experimental.write_raw_pb(hparams_experiment(values).SerializeToString(), step=0)
        hp.hparams(values, trial_id=exp.name)
