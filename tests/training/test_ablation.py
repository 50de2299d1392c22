"""Ablation rows (training/ablation.py), the far-detection count, and the spatial model's
TensorBoard images, on hand-made poses and a tiny Tompson model with fixture images."""

import glob

import numpy as np
import pytest

from training.ablation import Variant, evaluate_variant
from training.metrics import far_detections
from zoo.skeletons import get_skeleton

LSP = get_skeleton("lsp14")
J = {n: i for i, n in enumerate(LSP.joint_names)}


def test_far_detections_hand_computed():
    gt = np.zeros((3, 14, 2))
    vis = np.ones((3, 14))
    err = np.zeros((3, 14, 2))
    gt[0, J["right_hip"]] = (60, 80)        # torso 100: far beyond 50 px
    err[0, J["right_ankle"]] = (36, 48)     # 60 px: far
    err[0, J["left_wrist"]] = (30, 40)      # 50 px: not beyond
    gt[1, J["right_hip"]] = (30, 40)        # torso 50: far beyond 25 px
    err[1, J["left_elbow"]] = (0, 30)       # 30 px: far
    err[1, J["left_ankle"]] = (500, 0)      # unlabelled: not counted
    vis[1, J["left_ankle"]] = 0
    vis[2, J["left_shoulder"]] = vis[2, J["right_shoulder"]] = 0  # no torso: skipped
    err[2] = 1000.0
    r = far_detections(gt + err, gt, vis, LSP, factor=0.5)
    assert r["total"] == 2 and r["joints"] == 27 and r["factor"] == 0.5
    assert r["per_joint"]["right_ankle"] == 1 and r["per_joint"]["left_elbow"] == 1
    assert sum(r["per_joint"].values()) == 2
    with pytest.raises(ValueError, match="shape mismatch"):
        far_detections(gt[:, :3], gt, vis, LSP)


def test_variant_parsing():
    v = Variant.parse("+ joint training=tompson_lsp:runs/a b/final.weights.h5:2")
    assert v == Variant("+ joint training", "tompson_lsp", "runs/a b/final.weights.h5", 2)
    for bad in ("no-label", "=x:y:1", "a=tompson_lsp:w.h5", "a=tompson_lsp:w.h5:two", "a=w.h5:1"):
        with pytest.raises(ValueError, match="label=experiment"):
            Variant.parse(bad)


SMALL = dict(bank_filters=(4, 4, 8), num_scales=3, head_filters=8, head_kernel=3, input_size=32,
             skeleton="lsp14", message_stride=2)


@pytest.fixture(scope="module")
def fixture_samples(tmp_path_factory):
    """Six 64x48 JPEGs with random joints (a fixture, not data)."""
    import cv2

    from training.datasets.base import PoseSamples

    folder = tmp_path_factory.mktemp("images")
    rng = np.random.default_rng(0)
    paths = []
    for i in range(6):
        path = str(folder / f"im{i}.jpg")
        cv2.imwrite(path, rng.integers(0, 256, (64, 48, 3)).astype(np.uint8))
        paths.append(path)
    kp = rng.uniform(8, 40, (6, 14, 2)).astype("float32")
    return PoseSamples(paths, kp, np.ones((6, 14), "float32"), "lsp14", [f"im{i}" for i in range(6)])


@pytest.fixture(scope="module")
def tiny_tompson():
    from zoo.architectures.tompson import TompsonPoseModel
    from zoo.layers.spatial_model import displacement_histograms

    model = TompsonPoseModel(**SMALL)
    model.build()
    rng = np.random.default_rng(1)
    sm = model.spatial_model
    model.spatial_model.initialise_from_histograms(displacement_histograms(
        rng.uniform(0, sm.message_size - 1, (50, 14, 2)), np.ones((50, 14)), sm.message_size))
    return model


def test_each_variant_reads_its_own_stage(tiny_tompson, fixture_samples, tmp_path, monkeypatch):
    import training.experiments
    from training.evaluate import evaluate
    from training.experiments.base import Experiment

    exp = Experiment(name="tiny_tompson", architecture="tompson", model_args=SMALL)
    monkeypatch.setattr(training.experiments, "get_experiment", lambda name: exp)
    weights = str(tmp_path / "tiny.weights.h5")
    tiny_tompson.save_weights(weights)
    reference = evaluate(tiny_tompson, fixture_samples)["stages"]
    for stage in (1, 2):
        row = evaluate_variant(Variant(f"s{stage}", "tiny_tompson", weights, stage), fixture_samples)
        assert row["stage"] == stage and row["weights"] == weights and len(row["weights_sha256"]) == 64
        assert row["pck@0.2"]["mean"] == pytest.approx(reference[stage - 1]["pck@0.2"])
        assert 0 <= row["far"]["total"] <= row["far"]["joints"] == 84
    with pytest.raises(ValueError, match="stage 3 not in 1..2"):
        evaluate_variant(Variant("x", "tiny_tompson", weights, 3), fixture_samples)
    with pytest.raises(FileNotFoundError, match="no weights file"):
        evaluate_variant(Variant("x", "tiny_tompson", str(tmp_path / "missing.h5"), 1), fixture_samples)


def test_spatial_model_images_in_tensorboard(tiny_tompson, fixture_samples, tmp_path):
    import tensorflow as tf

    from training.callbacks import CAPTION, TILE, SpatialModelImages

    tiny_tompson.compile(optimizer="sgd")  # callbacks run inside fit, on a compiled model
    cb = SpatialModelImages(fixture_samples, str(tmp_path), num_images=2)
    cb.set_model(tiny_tompson)
    cb.on_epoch_begin(0)  # the initialisation, at step 0 of a run of its own
    cb.on_epoch_end(0)
    seen = {}
    for f in glob.glob(str(tmp_path / "events*")):
        for e in tf.compat.v1.train.summary_iterator(f):
            for v in e.summary.value:
                seen.setdefault(v.tag, set()).add(e.step)
                if v.tag == "model/pairwise_kernels":
                    image = tf.io.decode_png(tf.make_ndarray(v.tensor)[2]).numpy()
    assert seen == {"model/pairwise_kernels": {0, 1}, "val/unary_vs_refined/left_wrist": {0, 1},
                    "val/unary_vs_refined/right_ankle": {0, 1}}
    # One captioned TILE-pixel tile per pair, COLUMNS per row, grey gaps of 4 px between tiles.
    rows = -(-len(SpatialModelImages.PAIRS) // SpatialModelImages.COLUMNS)
    # Captions grow with the grid's width (training.callbacks.image_grid): at least CAPTION high.
    bar = (image.shape[0] + 4) / rows - 4 - TILE
    assert bar == int(bar) and bar >= CAPTION, image.shape
    assert image.shape[1:] == (SpatialModelImages.COLUMNS * (TILE + 4) - 4, 3)
