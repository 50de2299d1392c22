"""Two ``python -m training.train`` workers under MultiWorkerMirroredStrategy on 127.0.0.1.

Each worker saves its final weights into its own folder (the chief's ``<workdir>``, the other's
``<workdir>/.workers/worker_1``); after training the two replicas must be identical: trainable
weights, optimizer state and (averaged at each epoch end) BatchNorm statistics. Tiny hourglass
on the first LSPet images, on the CPU; skips without the data.
"""

import csv
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[2]
EPOCHS, STEPS = 2, 3
TIMEOUT = 240  # seconds for both workers together


def _free_ports(n):
    socks = [socket.socket() for _ in range(n)]
    try:
        for s in socks:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def _h5_arrays(path):
    import h5py

    arrays = {}
    with h5py.File(path, "r") as f:
        f.visititems(lambda name, obj: arrays.__setitem__(name, obj[()]) if isinstance(obj, h5py.Dataset) else None)
    return arrays


def _history(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def _tail(path, n=4000):
    return path.read_text(errors="replace")[-n:] if path.is_file() else ""


def _train_two_workers(tmp_path, lspet_root, experiment, extra=()):
    """Runs ``experiment`` on two MultiWorkerMirrored workers; returns (chief dir, other dir)."""
    workdir = tmp_path / "run"
    cluster = {"worker": [f"127.0.0.1:{port}" for port in _free_ports(2)]}
    cmd = [sys.executable, "-m", "training.train", experiment, "--workdir", str(workdir),
           "--data", str(lspet_root), "--strategy", "multiworker", "--max-val", "8", "--max-train", "32",
           *extra]
    logs = [tmp_path / f"worker{i}.log" for i in range(2)]
    procs = []
    try:
        for i, log in enumerate(logs):
            env = dict(os.environ, CUDA_VISIBLE_DEVICES="", TF_CPP_MIN_LOG_LEVEL="2", PYTHONUNBUFFERED="1",
                       TF_CONFIG=json.dumps({"cluster": cluster, "task": {"type": "worker", "index": i}}))
            with open(log, "w") as out:
                procs.append(subprocess.Popen(cmd, cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT))
        # Wait for both; a worker that fails leaves the other blocked in a collective: stop early.
        deadline = time.monotonic() + TIMEOUT
        while any(p.poll() is None for p in procs):
            failed = [i for i, p in enumerate(procs) if p.poll() not in (None, 0)]
            assert not failed, (f"worker {failed[0]} exited with {procs[failed[0]].returncode}:\n"
                                f"{_tail(logs[failed[0]])}")
            assert time.monotonic() < deadline, "workers timed out:\n" + "\n".join(map(_tail, logs))
            time.sleep(0.2)
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait(timeout=30)
    for p, log in zip(procs, logs):
        assert p.returncode == 0, _tail(log)
    return workdir, workdir / ".workers" / "worker_1"


def _assert_same_weights(chief_dir, other_dir):
    chief, other = _h5_arrays(chief_dir / "final.weights.h5"), _h5_arrays(other_dir / "final.weights.h5")
    assert chief.keys() == other.keys()
    differ = [k for k in chief if not np.allclose(chief[k], other[k], rtol=0, atol=1e-6)]
    assert not differ, f"{len(differ)} of {len(chief)} arrays differ between the workers, e.g. {differ[:5]}"
    return chief


@pytest.mark.slow
def test_two_workers_train_in_sync(tmp_path, lspet_root):
    chief_dir, other_dir = _train_two_workers(
        tmp_path, lspet_root, "hourglass_tiny", ["--epochs", str(EPOCHS), "--steps-per-epoch", str(STEPS)])
    chief = _assert_same_weights(chief_dir, other_dir)

    # It trained: both replicas took every step, with non-zero Adam moments, and BatchNorm
    # statistics moved from their initial values (mean 0).
    counters = [v for k, v in chief.items() if k.startswith("optimizer/") and np.ndim(v) == 0
                and np.issubdtype(np.asarray(v).dtype, np.integer)]
    assert counters == [EPOCHS * STEPS]
    slots = [v for k, v in chief.items() if k.startswith("optimizer/") and np.ndim(v) > 0]
    assert np.mean([np.any(v != 0) for v in slots]) > 0.5
    moving_means = [v for k, v in chief.items() if "/bn" in k and k.endswith("vars/2")]
    assert moving_means and all(np.any(v != 0) for v in moving_means)

    # One global batch split over two replicas; both workers logged the same epochs and metrics.
    runs = [json.loads(line) for line in (chief_dir / "train_runs.jsonl").read_text().splitlines()]
    assert [r["replicas"] for r in runs] == [2] and runs[0]["batch_size"] == 4
    assert not (other_dir / "train_runs.jsonl").exists()
    hist_chief, hist_other = _history(chief_dir / "history.csv"), _history(other_dir / "history.csv")
    assert [int(r["epoch"]) for r in hist_chief] == list(range(EPOCHS))
    for a, b in zip(hist_chief, hist_other):
        for key in ("loss", "val_pck@0.2", "val_pck@0.1"):
            assert float(a[key]) == pytest.approx(float(b[key]), abs=1e-6), key


@pytest.mark.slow
def test_two_workers_train_a_cascade_stage_by_stage(tmp_path, lspet_root):
    """DeepPose under MultiWorkerMirrored: each stage in its own phase; the previous stage's error
    statistics (measured by each worker on its own batches) are averaged, so both end equal."""
    chief_dir, other_dir = _train_two_workers(tmp_path, lspet_root, "deeppose_tiny")
    chief = _assert_same_weights(chief_dir, other_dir)
    # The model's own variables (error_mean, error_std) are stored as vars/0 and vars/1.
    stats = [chief["vars/0"], chief["vars/1"]]
    assert stats and any(np.any(v != 0) for v in stats), "stage-1 error statistics were not measured"
    for stage in (1, 2):
        assert (chief_dir / f"stage{stage}" / "stage.weights.h5").is_file()
        assert _history(chief_dir / f"stage{stage}" / "history.csv")
