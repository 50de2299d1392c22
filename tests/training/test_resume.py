"""``python -m training.train`` survives being killed mid-epoch (its TensorBoard run continues;
what a run writes there: test_tensorboard.py).

Tiny hourglass (32x32 input, 16 filters) on the first LSPet images; skips without the data.
Most of each run's time is tracing the train step (~30 s on a busy 2-core machine).
"""

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[2]
EPOCHS = 3
STEPS = 40          # ~3 s per epoch on a 2-core CPU: long enough to be killed inside one
RUN_TIMEOUT = 300   # seconds, per training process


def _command(workdir, data):
    return [sys.executable, "-m", "training.train", "hourglass_tiny", "--workdir", str(workdir),
            "--data", str(data), "--epochs", str(EPOCHS), "--steps-per-epoch", str(STEPS),
            "--max-val", "8", "--max-train", "64"]


def _env():
    return dict(os.environ, CUDA_VISIBLE_DEVICES="", TF_CPP_MIN_LOG_LEVEL="2", PYTHONUNBUFFERED="1")


def _saved_epoch(workdir: Path) -> int:
    """Epochs completed according to BackupAndRestore's checkpoint (0: none yet)."""
    try:
        return int(json.loads((workdir / "backup" / "training_metadata.json").read_text())["epoch"])
    except (OSError, ValueError, KeyError):  # absent, or caught while being written
        return 0


def _history_epochs(workdir: Path):
    path = workdir / "history.csv"
    if not path.is_file():
        return []
    with open(path, newline="") as f:
        return [int(row["epoch"]) for row in csv.DictReader(f)]


def _tail(path: Path, n=3000) -> str:
    return path.read_text(errors="replace")[-n:] if path.is_file() else ""


def _kill(proc):
    if proc.poll() is None:
        proc.kill()
        proc.wait(timeout=30)


@pytest.mark.slow
def test_killed_run_resumes_from_last_saved_epoch(tmp_path, lspet_root):
    workdir = tmp_path / "run"
    log1, log2 = tmp_path / "run1.log", tmp_path / "run2.log"
    cmd = _command(workdir, lspet_root)

    # Run 1: wait for the end-of-epoch-1 checkpoint, then SIGKILL it inside epoch 2.
    start = time.monotonic()
    with open(log1, "w") as out:
        proc = subprocess.Popen(cmd, cwd=REPO, env=_env(), stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + RUN_TIMEOUT
        while _saved_epoch(workdir) < 1:
            assert proc.poll() is None, f"run 1 exited with {proc.returncode} before a checkpoint:\n{_tail(log1)}"
            assert time.monotonic() < deadline, f"no checkpoint after {RUN_TIMEOUT} s:\n{_tail(log1)}"
            time.sleep(0.1)
        time.sleep(1.0)  # some steps into the next epoch
        assert proc.poll() is None, f"run 1 finished before it could be killed:\n{_tail(log1)}"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        _kill(proc)
    assert proc.returncode == -signal.SIGKILL

    saved = _saved_epoch(workdir)
    print(f"run 1 killed after {saved} checkpointed epoch(s), {time.monotonic() - start:.0f} s in")
    assert 1 <= saved < EPOCHS, f"checkpoint after the kill says epoch {saved}"
    # The backup is the last callback: a checkpointed epoch always has its history row.
    assert _history_epochs(workdir) == list(range(saved))
    assert not (workdir / "final.weights.h5").exists()

    # Run 2: the same command continues with the epoch after the checkpoint.
    with open(log2, "w") as out:
        proc = subprocess.Popen(cmd, cwd=REPO, env=_env(), stdout=out, stderr=subprocess.STDOUT)
    try:
        rc = proc.wait(timeout=RUN_TIMEOUT)
    finally:
        _kill(proc)
    output = _tail(log2, 20000)
    print(f"run 2 done {time.monotonic() - start:.0f} s after run 1 started")
    assert rc == 0, output
    assert f"Epoch {saved + 1}/{EPOCHS}" in output, output
    assert f"Epoch 1/{EPOCHS}" not in output, "run 2 started again from epoch 1"

    # history.csv (appended to): epochs 0..saved-1 from run 1, then saved..EPOCHS-1 from run 2.
    assert _history_epochs(workdir) == list(range(EPOCHS))
    assert (workdir / "final.weights.h5").is_file()
    assert not (workdir / "backup").exists(), "BackupAndRestore removes its checkpoint when done"
    runs = [json.loads(line) for line in (workdir / "train_runs.jsonl").read_text().splitlines()]
    assert len(runs) == 1 and runs[0]["epochs"] == EPOCHS  # only the completed run logs itself

    # The optimizer state came back too: its step counter covers both runs.
    import h5py

    with h5py.File(workdir / "final.weights.h5", "r") as f:
        counters = [f[f"optimizer/vars/{name}"][()] for name in f["optimizer/vars"]
                    if f[f"optimizer/vars/{name}"].shape == ()
                    and np.issubdtype(f[f"optimizer/vars/{name}"].dtype, np.integer)]
    assert counters == [EPOCHS * STEPS]

    # TensorBoard: one run whose steps continue where run 1 stopped (run 1's last epoch, cut
    # short, is written again by run 2 at the same steps); the recipe written once, at the start.
    tags = _read_events(workdir)  # the workdir is the TensorBoard run
    assert sorted({step for step, _, _ in tags["val/pck@0.2"]}) == [STEPS * (e + 1) for e in range(EPOCHS)]
    train_steps = {step for step, _, _ in tags["train/loss"]}
    assert max(train_steps) == EPOCHS * STEPS and {STEPS * (e + 1) for e in range(EPOCHS)} <= train_steps
    assert [step for step, _, _ in tags["recipe"]] == [0]


def _read_events(logdir: Path):
    """``{tag: [(step, plugin, value)]}`` over every event file under ``logdir``."""
    import tensorflow as tf

    tags = {}
    files = sorted(logdir.rglob("events.out.tfevents.*"))
    assert files, f"no event files under {logdir}"
    for path in files:
        for event in tf.compat.v1.train.summary_iterator(str(path)):
            for value in event.summary.value:
                plugin = value.metadata.plugin_data.plugin_name
                if value.HasField("tensor"):
                    content = tf.make_ndarray(value.tensor)
                else:
                    content = value.simple_value
                tags.setdefault(value.tag, []).append((event.step, plugin, content))
    return tags


class _Killed(Exception):
    """Stands for a kill right after an epoch's checkpoint."""


def test_resumed_phase_is_followed_by_the_next_phase(tmp_path, lspet_root, monkeypatch):
    """Regression: a run resumed inside phase 1 went on to phase 2 and trained none of its epochs
    (Keras kept the restored epoch of phase 1's BackupAndRestore as phase 2's first)."""
    import keras

    from training.experiments import get_experiment
    from training.experiments.deeppose_phases import CascadeStage
    from training.top_down import train_top_down

    exp = get_experiment("deeppose_tiny").replace(epochs=3, phases=(CascadeStage(1, 2), CascadeStage(2, 1)))
    workdir = tmp_path / "run"
    original = keras.callbacks.BackupAndRestore.on_epoch_end

    def save_then_die(self, epoch, logs=None):
        original(self, epoch, logs)
        raise _Killed

    with monkeypatch.context() as patch:
        patch.setattr(keras.callbacks.BackupAndRestore, "on_epoch_end", save_then_die)
        with pytest.raises(_Killed):
            train_top_down(exp, workdir, data=str(lspet_root), max_train=32, max_val=8, verbose=0, tensorboard=False)
    assert _history_epochs(workdir / "stage1") == [0] and not (workdir / "stage2").exists()

    train_top_down(exp, workdir, data=str(lspet_root), max_train=32, max_val=8, verbose=0, tensorboard=False)
    assert _history_epochs(workdir / "stage1") == [0, 1]
    assert _history_epochs(workdir / "stage2") == [0], "phase 2 trained no epoch after the resumed phase 1"
