"""The Tompson et al. 2015 recipe trains end to end: two steps of ``tompson2015_tiny`` on a few real
LSPet crops (LSP-14 joints mapped into MPII-16), both stages validated."""

import csv

import numpy as np


def test_tiny_recipe_trains_and_validates_both_stages(tmp_path, lspet_root):
    from training.experiments import get_experiment
    from training.train import train

    exp = get_experiment("tompson2015_tiny")

    model, _ = train(exp, str(tmp_path), data=str(lspet_root), max_val=8, max_train=16, verbose=0,
                           tensorboard=False)
    assert (tmp_path / "final.weights.h5").is_file()
    rows = list(csv.DictReader(open(tmp_path / "history.csv")))
    assert len(rows) == 1
    assert np.isfinite(float(rows[0]["loss"])) and float(rows[0]["loss"]) > 0
    # Both stages are measured: the coarse estimate and the refined one.
    assert "val_stage1_pck@0.2" in rows[0] and "val_stage2_pck@0.2" in rows[0]
    # Stage 2's loss is the fine heatmaps' own loss (Tompson2015.own_stage_errors), not stage 1's
    # coarse targets compared with the fine maps.
    for prefix in ("", "val_"):
        stage1, stage2 = float(rows[0][f"{prefix}stage1_loss"]), float(rows[0][f"{prefix}stage2_loss"])
        assert np.isfinite(stage2) and stage2 != stage1
    kp, _ = model.stage_keypoints(np.zeros((1, 32, 32, 3), "float32"))
    assert tuple(kp.shape) == (1, 2, 16, 2)


def test_fine_phase_trains_the_fine_model_on_the_frozen_coarse_model(tmp_path, lspet_root):
    """The joint phase, then the fine model alone: the second phase changes the fine model's
    weights and leaves every coarse weight (BatchNorm statistics included) as the first left it."""
    from training.experiments import get_experiment
    from training.experiments.tompson2015_phases import CascadePhase
    from training.train import train
    from zoo.architectures.tompson2015 import Tompson2015

    exp = get_experiment("tompson2015_tiny").replace(phases=(CascadePhase(3, 1), CascadePhase(2, 1)), epochs=2)
    model, _ = train(exp, str(tmp_path), data=str(lspet_root), max_val=4, max_train=16, verbose=0,
                     tensorboard=False)
    joint = Tompson2015.from_config(model.get_config())
    joint(np.zeros((1, 32, 32, 3), "float32"))
    joint.load_weights(str(tmp_path / "stage3" / "stage.weights.h5"))

    def values(layers):
        return [v.numpy() for layer in layers for v in layer.weights]

    for before, after in zip(values(joint.coarse_layers()), values(model.coarse_layers())):
        np.testing.assert_array_equal(before, after)
    assert any(not np.array_equal(b, a) for b, a in zip(values([joint.fine]), values([model.fine])))
    # Back to a whole, trainable model for inference and later training.
    assert all(layer.trainable for layer in model.coarse_layers())
