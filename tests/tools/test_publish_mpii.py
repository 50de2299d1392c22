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

    env = {**os.environ, "POSEZOO_HOME": str(tmp_path / "store"), "CUDA_VISIBLE_DEVICES": "",
           "TF_CPP_MIN_LOG_LEVEL": "2"}
    monkeypatch.setenv("POSEZOO_HOME", env["POSEZOO_HOME"])  # the same store for the checks in this process
    with pytest.raises(zoo.WeightsNotPublishedError, match="tools.publish"):
        zoo.load("hourglass-mpii")
    work = tmp_path / "run"
    _run(["-m", "training.train", "hourglass_mpii_release", "--workdir", str(work), "--data", str(mpii_sample),
          "--epochs", "1", "--steps-per-epoch", "2", "--batch-size", "2", "--no-jit"], env)
    assert (work / "final.weights.h5").is_file()
    pub = _run(["-m", "tools.publish", "hourglass-mpii", str(work / "final.weights.h5"), "--workdir", str(work),
                "--data", str(mpii_sample)], env)
    assert "published hourglass-mpii@1" in pub.stdout
    spec = json.loads((tmp_path / "store" / "hourglass-mpii" / "1" / "model.json").read_text())
    assert spec["weights"]["training"]["dataset"] == "mpii" and spec["skeleton"] == "mpii16"
    assert (tmp_path / "store" / "hourglass-mpii" / "1" / "MODEL_CARD.md").is_file()
    model = zoo.load("hourglass-mpii")
    keypoints, _ = model.predict_keypoints(np.zeros((1, 128, 128, 3), "uint8"))
    assert model.spec.id == "hourglass-mpii@1" and keypoints.shape == (1, 16, 2)
    assert "hourglass-mpii@1" in zoo.list_models()
