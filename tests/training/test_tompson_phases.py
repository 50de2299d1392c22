"""The Tompson recipe's three phases end to end on a few real LSPet crops: phase folders, the
per-phase learning rate, frozen parts, and the spatial model's TensorBoard images in the run's
one TensorBoard run, phase after phase."""

import glob

import numpy as np
import pytest


def _tags(folder):
    import tensorflow as tf

    tags = {}
    for f in glob.glob(str(folder / "events*")):
        for e in tf.compat.v1.train.summary_iterator(f):
            for v in e.summary.value:
                tags.setdefault(v.tag, []).append(e.step)
    return tags


def test_three_phases_on_real_crops(tmp_path, lspet_root):
    import csv

    from training.experiments import get_experiment
    from training.records import summarise_workdir
    from training.train import train

    exp = get_experiment("tompson_tiny")  # phases (1, 1), (2, 1, lr 0.05), (3, 1)
    model, _ = train(exp, str(tmp_path), data=str(lspet_root), max_val=8, max_train=32, verbose=0)
    for stage in (1, 2, 3):
        assert (tmp_path / f"stage{stage}" / "stage.weights.h5").is_file()
    lrs = {s: [float(r["learning_rate"]) for r in csv.DictReader(open(tmp_path / f"stage{s}" / "history.csv"))]
           for s in (1, 2, 3)}
    # Each phase ends its cosine at 1 % of its peak: phase 2 has its own peak.
    assert lrs[1][-1] == pytest.approx(0.01 * exp.learning_rate) == lrs[3][-1]
    assert lrs[2][-1] == pytest.approx(0.01 * 0.05)
    # One TensorBoard run, 3 steps per phase. Phase 1 logs no spatial-model images (the spatial
    # model is bypassed); phase 2 from its initialisation (step 3, phase 1's end) on, phase 3 after
    # its epoch (its start is phase 2's end, already written).
    assert not (tmp_path / "stage2" / "logs").exists()
    tags = _tags(tmp_path)  # the workdir is the TensorBoard run
    assert tags["model/pairwise_kernels"] == tags["val/unary_vs_refined/left_wrist"] == [3, 6, 9]
    assert tags["val/pck@0.2"] == [3, 6, 9] and tags["train/loss"] == list(range(1, 10))
    assert model.active_stage == 0 and model.spatial_initialised
    out = np.asarray(model(np.zeros((1, 32, 32, 3), "float32")))
    assert not np.array_equal(out[:, 0], out[:, 1])  # the spatial model refines the unaries
    summary = summarise_workdir(tmp_path)
    assert "stage 2 1 epochs (peak learning rate 0.05)" in summary["recipe"]
    assert "spatial model alone on the frozen detector" in summary["recipe"]
