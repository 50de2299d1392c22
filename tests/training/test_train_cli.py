"""The training command says only what concerns the user: no TensorFlow start-up lines (which a
user reads as errors), no library warnings; ``--verbose`` brings them back."""

import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
NOISE = ("E0000", "cuInit", "cudart_stub", "cpu_feature_guard", "oneDNN custom operations", "shuffle=True")


def _train(tmp_path, *extra):
    return subprocess.run([sys.executable, "-m", "training.train", "simplebaseline_coco_tiny", "--workdir",
                           str(tmp_path / "run"), "--max-val", "2", "--max-train", "8", *extra],
                          cwd=ROOT, capture_output=True, text=True, timeout=600)


def test_help_answers_before_tensorflow_loads():
    start = time.time()
    out = subprocess.run([sys.executable, "-m", "training.train", "--help"], cwd=ROOT, capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 0 and "--verbose" in out.stdout
    assert time.time() - start < 5


def test_a_training_run_prints_no_start_up_noise(tmp_path, shared_data):
    quiet = _train(tmp_path)
    assert quiet.returncode == 0, quiet.stderr[-2000:]
    assert not [n for n in NOISE if n in quiet.stderr + quiet.stdout], quiet.stderr[-2000:]
    assert "epoch 1" in quiet.stdout
