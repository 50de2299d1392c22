"""What a training run leaves in its workdir, summarised for model cards."""

from __future__ import annotations

import csv
import json
import os
import platform
from pathlib import Path
from typing import Dict


def hardware() -> str:
    """A short description of this machine (CPU model, cores, accelerators)."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} CPU cores, no GPU" if not _gpus() else f"{cpu}, GPUs: {_gpus()}"


def _gpus():
    try:
        import tensorflow as tf

        return [d.name for d in tf.config.list_physical_devices("GPU")]
    except Exception:
        return []


def summarise_workdir(workdir) -> Dict:
    """Epochs, steps, batch size, wall time and the validation curve of a training workdir."""
    workdir = Path(workdir)
    out: Dict = {}
    exp_file = workdir / "experiment.json"
    if exp_file.is_file():
        exp = json.loads(exp_file.read_text())
        out.update(experiment=exp["name"], batch_size=exp["batch_size"], epochs=exp["epochs"],
                   learning_rate=exp["learning_rate"], sigma=exp["sigma"], augment=exp["augment"],
                   recipe=(f"Adam, peak lr {exp['learning_rate']}, {exp['warmup_steps']} warm-up steps then "
                           f"cosine decay to 1 %; heatmap sigma {exp['sigma']} cells; augmentation {exp['augment']}; "
                           "MSE on every stack (intermediate supervision), weighted by joint visibility"))
    hist = workdir / "history.csv"
    if hist.is_file():
        with open(hist) as f:
            rows = list(csv.DictReader(f))
        out["epochs_run"] = len(rows)
        if rows and "epoch_seconds" in rows[0]:
            out["seconds"] = sum(float(r["epoch_seconds"] or 0) for r in rows)
        out["validation_curve"] = [
            {"epoch": int(r["epoch"]) + 1, "loss": round(float(r["loss"]), 5),
             "val_pck@0.2": round(float(r["val_pck@0.2"]), 4)} for r in rows if r.get("val_pck@0.2")]
    runs = workdir / "train_runs.jsonl"
    if runs.is_file():
        recs = [json.loads(line) for line in runs.read_text().splitlines() if line.strip()]
        if recs:
            out["steps_per_epoch"] = recs[-1]["steps_per_epoch"]
            out["train_images"] = recs[-1]["train_images"]
            out.setdefault("seconds", sum(r["seconds_this_run"] for r in recs))
    if "seconds" in out:
        out["training_time"] = f"{out['seconds'] / 3600:.2f} h"
    return out
