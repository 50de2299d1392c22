"""The tiny Iterative Error Feedback recipe trains through the top-down loop (2 steps): its phase
measures the mean pose on the training batches before the first step, the graph train step runs
Fixed Path Consolidation, the weights are written."""

import numpy as np


def test_tiny_recipe_measures_the_mean_pose_and_trains(tmp_path, lspet_root):
    from training.experiments import get_experiment
    from training.train import train

    exp = get_experiment("ief_tiny")
    model, history = train(exp, str(tmp_path / "run"), max_train=16, max_val=8, verbose=0, tensorboard=False)
    assert (tmp_path / "run" / "final.weights.h5").is_file()
    assert np.isfinite(history.history["loss"]).all() and len(history.history["loss"]) == exp.epochs
    mean_pose = np.asarray(model.mean_pose)
    # measured on the crops: joints spread around the centre, the head above the ankles (y down)
    assert np.abs(mean_pose).max() > 0.05 and np.abs(mean_pose).max() < 0.5
    head, ankles = model.skeleton.index("head_top"), [model.skeleton.index(n) for n in ("right_ankle", "left_ankle")]
    assert mean_pose[head, 1] < mean_pose[ankles, 1].min()
    assert (model.path_points, model.own_iterate_share) == (0, 0.0)  # back to inference after the phase
