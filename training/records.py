"""What a training run leaves in its workdir, summarised for model cards."""

from __future__ import annotations

import csv
import json
import os
import platform
from pathlib import Path
from typing import Dict


def cpu_model() -> str:
    """The CPU's model name (``/proc/cpuinfo``), else what ``platform`` knows."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown CPU"


def hardware() -> str:
    """A short description of this machine (CPU model, cores, accelerators)."""
    cpu = cpu_model()
    return f"{cpu}, {os.cpu_count()} CPU cores, no GPU" if not gpus() else f"{cpu}, GPUs: {gpus()}"


def cpu_features() -> dict:
    """CPU model and the flags that decide bfloat16 speed (TF's oneDNN runs bfloat16 matmuls
    natively on AMX-BF16 / AVX512-BF16)."""
    try:
        info = Path("/proc/cpuinfo").read_text()
    except OSError:
        info = ""
    flags = set(next((line.split(":", 1)[1].split() for line in info.splitlines() if line.startswith("flags")), []))
    return {"cpu": cpu_model(), "amx_bf16": "amx_bf16" in flags, "avx512_bf16": "avx512_bf16" in flags,
            "avx512f": "avx512f" in flags}


def machines(runs) -> str:
    """The machines of a training's runs (``train_runs.jsonl`` records) and the hours each ran,
    in order of first use; a run recorded without its machine counts as ``machine not recorded``."""
    hours: Dict[str, float] = {}
    for r in runs:
        m = r.get("machine") or "machine not recorded"
        hours[m] = hours.get(m, 0.0) + r.get("seconds_this_run", 0.0) / 3600
    return "; ".join(f"{m}: {h:.2f} h" for m, h in hours.items())


def gpus() -> list:
    """Names of the GPUs TensorFlow sees (none when TF sees none or cannot tell)."""
    try:
        import tensorflow as tf

        return [d.name for d in tf.config.list_physical_devices("GPU")]
    except Exception:
        return []


#: What a model's targets are and how they are learnt, by codec type (``model.codec_config()``),
#: for the recipe line of model cards; ``{stages}``: the phases, if any.
TARGETS = {
    "heatmap": ("Gaussian heatmaps, sigma {sigma} cells; MSE on every stage's maps (intermediate supervision), "
                "weighted by joint visibility{stages}; augmentation {augment}"),
    "regression": "joints regressed in box-normalised coordinates, {loss}{stages}; augmentation {augment}",
    "paf": ("confidence maps (Gaussian, sigma {sigma} cells, maximum over people) and part affinity fields (unit "
            "limb vectors within {limb_width} cells of the limb, averaged over people), masked L2 on every stage "
            "(Cao et al. 2019, Eq. 3-5); multi-person scenes composited from LSPet training people, {scenes}"),
}


#: How the recipe's loss (``Experiment.loss``, a ``training.losses.LOSSES`` name; "" for the codec's)
#: reads in the regression sentence of ``TARGETS``.
_L2 = "L2 loss per stage weighted by joint visibility (Toshev & Szegedy 2014, Eq. 3)"
REGRESSION_LOSSES = {
    "": _L2,
    "regression_mse": _L2,
    "regression_l1": ("L1 loss per stage weighted by joint visibility (in place of the paper's L2, Eq. 3: the "
                      "median rather than the mean; Sun et al. 2017)"),
}


def _codec(exp: Dict) -> Dict:
    """The codec configuration of the experiment's model (its targets)."""
    from zoo.architectures import get_architecture

    return get_architecture(exp["architecture"])(**exp["model_args"]).codec_config()


def _recipe_phase(exp: Dict):
    """The first phase of the experiment's recipe (``training.experiments``); None for a recipe
    without phases or one no longer defined."""
    from training.experiments import EXPERIMENTS

    if not exp.get("phases"):
        return None
    recipe = EXPERIMENTS.get(exp["name"])
    return recipe.phases[0] if recipe is not None and recipe.phases else None


def _phases(exp: Dict) -> str:
    """The phases of ``experiment.json`` and what they do (``Phase.description`` of the recipe)."""
    phases = exp.get("phases") or []
    if not phases:
        return ""
    phase = _recipe_phase(exp)
    description = phase.description if phase is not None else ""
    return ("; trained in phases, each for its own schedule: "
            + ", ".join(f"stage {p[0]} {p[1]} epochs" + (f" (peak learning rate {p[2]:g})" if len(p) > 2 else "")
                        for p in phases)
            + "; " + description)


def _recipe(exp: Dict, codec: Dict) -> str:
    """One sentence on how the experiment trains (optimiser, targets, loss, stages)."""
    opt = (f"Adam, peak lr {exp['learning_rate']}, {exp['warmup_steps']} warm-up steps then cosine "
           "decay to 1 %")
    if exp.get("precision", "float32") != "float32":
        opt += f", {exp['precision']} compute"
    loss = exp.get("loss") or ""
    # A phase with its own objective (IEF's Fixed Path Consolidation) is not trained on the
    # codec's loss, so the line names that objective instead.
    phase = _recipe_phase(exp)
    objective = (phase.objective if phase is not None else "") or REGRESSION_LOSSES.get(loss, loss)
    target = TARGETS[codec["type"]].format(**codec, stages=_phases(exp), augment=exp["augment"],
                                          scenes=exp.get("scenes"), loss=objective)
    if loss and codec["type"] != "regression":
        target += f"; loss {loss} (training.losses)"
    if exp.get("datasets"):
        target += "; data sampled by weight: " + ", ".join(f"{name} {weight:g}" for name, weight in exp["datasets"])
    if exp.get("teacher"):
        target += (f"; teacher (MoveNet Thunder pseudo-labels): {' + '.join(exp['teacher'])}, scores >= "
                   f"{exp.get('teacher_min_score')}")
    return f"{opt}; {target}"


#: history.csv columns of a bottom-up run's per-epoch OKS AP -> their name in the card's curve.
PEOPLE_AP_COLUMNS = {"val_oks_ap": "scene AP", "val_coco_ap": "photo AP"}


def _history(path: Path, stage: int = 0):
    with open(path) as f:
        rows = list(csv.DictReader(f))
    seconds = sum(float(r.get("epoch_seconds") or 0) for r in rows)
    curve = []
    for r in rows:
        if not r.get("val_pck@0.2"):
            if r.get("val_loss"):  # bottom-up: per-stage validation losses on held-out scenes
                curve.append({"epoch": int(r["epoch"]) + 1, "loss": round(float(r["loss"]), 5),
                              "val_loss": round(float(r["val_loss"]), 5),
                              **{k[4:]: round(float(v), 5) for k, v in r.items()
                                 if k.startswith("val_") and "_stage" in k and v},
                              # OKS AP (%) logged by training.bottom_up.SceneValidation
                              **{title: round(100 * float(r[k]), 2) for k, title in PEOPLE_AP_COLUMNS.items()
                                 if r.get(k)}})
            continue
        row = {"epoch": int(r["epoch"]) + 1}
        if stage:
            row = {"stage": stage, **row}
        row.update({"loss": round(float(r["loss"]), 5), "val_pck@0.2": round(float(r["val_pck@0.2"]), 4)})
        row.update({k[4:]: round(float(v), 4) for k, v in r.items()
                    if k.startswith("val_stage") and k.endswith("pck@0.2") and v})  # not the stage losses
        # A recipe on several datasets: each validation set's limb figures (training.validation_sets).
        row.update({k[4:]: round(float(v), 4) for k, v in r.items()
                    if k.startswith("val_") and (k.endswith("pck@0.2_limbs") or k.endswith("pckh@0.5")) and v})
        curve.append(row)
    return rows, seconds, curve


def _continued_from(name: str) -> str:
    """The initialisation line of a run that starts from published weights: the version, how long
    it trained and from what (its own record), so the card states the whole chain."""
    from zoo.registry import get_spec

    spec = get_spec(name)
    before = (spec.weights.training if spec.weights else {}) or {}
    parts = [f"the weights of {spec.id}"]
    if before.get("training_time"):
        parts.append(f"trained {before.get('epochs_run', '?')} epochs in {before['training_time']}"
                     + (f" on {before['hardware']}" if before.get("hardware") else ""))
    line = ", ".join(parts)
    if before.get("initialisation"):
        line += f"; that run started from {before['initialisation']}"
    return line


def summarise_workdir(workdir) -> Dict:
    """Epochs, steps, batch size, wall time and the validation curve of a training workdir
    (for stage-wise experiments, of every stage's folder ``stage<s>``)."""
    workdir = Path(workdir)
    out: Dict = {}
    exp_file = workdir / "experiment.json"
    exp = {}
    if exp_file.is_file():
        exp = json.loads(exp_file.read_text())
        codec = _codec(exp)
        out.update(experiment=exp["name"], batch_size=exp["batch_size"], epochs=exp["epochs"],
                   learning_rate=exp["learning_rate"])
        if "sigma" in codec:
            out["sigma"] = codec["sigma"]
        out.update(augment=exp["augment"], recipe=_recipe(exp, codec))
        if exp.get("phases"):
            out["phases"] = [{"stage": p[0], "epochs": p[1]} for p in exp["phases"]]
        if exp.get("backbone_weights") == "imagenet":
            from zoo.backbones import imagenet_origin

            out["initialisation"] = imagenet_origin(exp["model_args"].get("backbone", "lite0"))
        if exp.get("init_from"):
            out["initialisation"] = _continued_from(exp["init_from"])
    histories = [(workdir / "history.csv", 0)]
    if exp.get("phases"):
        histories = [(workdir / f"stage{p[0]}" / "history.csv", p[0]) for p in exp["phases"]]
    total_rows, total_seconds, curve = 0, 0.0, []
    for path, stage in histories:
        if path.is_file():
            rows, seconds, c = _history(path, stage)
            total_rows, total_seconds = total_rows + len(rows), total_seconds + seconds
            curve += c
    if total_rows:
        out["epochs_run"] = total_rows
        if total_seconds:
            out["seconds"] = total_seconds
        out["validation_curve"] = curve
    runs = workdir / "train_runs.jsonl"
    if runs.is_file():
        recs = [json.loads(line) for line in runs.read_text().splitlines() if line.strip()]
        if recs:
            out["steps_per_epoch"] = recs[-1]["steps_per_epoch"]
            out["train_images"] = recs[-1]["train_images"]
            # The runs' own wall times win over history.csv's epoch_seconds: a run paused for a
            # measurement (SIGSTOP) or resumed mid-epoch counts its epochs' seconds twice or with the pause.
            out["seconds"] = sum(r["seconds_this_run"] for r in recs)
            out["hardware"] = machines(recs)
    if "seconds" in out:
        out["training_time"] = f"{out['seconds'] / 3600:.2f} h"
        if out.get("steps_per_epoch") and total_rows and not exp.get("phases"):
            # The crops each epoch's recorded steps processed.
            per_epoch = out["steps_per_epoch"] * out["batch_size"]
            out["images_per_second"] = round(per_epoch * total_rows / out["seconds"], 1)
    return out
