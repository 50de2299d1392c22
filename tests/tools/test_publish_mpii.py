"""The commands of docs/training.md: train on MPII-format data, publish into the local store, load it."""

import json
import os
import subprocess
import sys

import pytest


def _run(args, env):
    proc = subprocess.run([sys.executable, *args], capture_output=True, text=True, env=env, timeout=900)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    return proc


@pytest.mark.slow
def test_train_publish_and_load_hourglass_mpii(tmp_path, mpii_sample, monkeypatch):
    import numpy as np

    import zoo
    from zoo import store

    env = {**os.environ, "POSEZOO_HOME": str(tmp_path / "store"), "CUDA_VISIBLE_DEVICES": "",
           "TF_CPP_MIN_LOG_LEVEL": "2"}
    monkeypatch.setenv("POSEZOO_HOME", env["POSEZOO_HOME"])  # the same store for the checks in this process
    # A user's own version follows the ones the package ships.
    version = max(store.published_versions("hourglass-mpii"), default=0) + 1
    work = tmp_path / "run"
    _run(["-m", "training.train", "hourglass_mpii_release", "--workdir", str(work), "--data", str(mpii_sample),
          "--epochs", "1", "--steps-per-epoch", "2", "--batch-size", "2", "--no-jit"], env)
    assert (work / "final.weights.h5").is_file()
    pub = _run(["-m", "tools.publish", "hourglass-mpii", str(work / "final.weights.h5"), "--workdir", str(work),
                "--data", str(mpii_sample)], env)
    assert f"published hourglass-mpii@{version}" in pub.stdout
    folder = tmp_path / "store" / "hourglass-mpii" / str(version)
    spec = json.loads((folder / "model.json").read_text())
    assert spec["weights"]["training"]["dataset"] == "mpii" and spec["skeleton"] == "mpii16"
    assert (folder / "MODEL_CARD.md").is_file()
    model = zoo.load("hourglass-mpii")
    keypoints, _ = model.predict_keypoints(np.zeros((1, 128, 128, 3), "uint8"))
    assert model.spec.id == f"hourglass-mpii@{version}" and keypoints.shape == (1, 16, 2)
    assert f"hourglass-mpii@{version}" in zoo.list_models()
