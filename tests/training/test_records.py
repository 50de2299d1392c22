"""Training records: a run resumed across sessions names every machine it ran on."""

import json


def test_training_time_is_summed_over_runs_with_their_machines(tmp_path):
    from training.experiments import get_experiment
    from training.records import summarise_workdir

    exp = get_experiment("hourglass_tiny")
    (tmp_path / "experiment.json").write_text(json.dumps(exp.to_dict()))
    runs = [{"seconds_this_run": 3600.0, "machine": "AMD EPYC, 2 CPU cores, no GPU", "steps_per_epoch": 5,
             "train_images": 20},
            {"seconds_this_run": 1800.0, "machine": "Intel Xeon, 2 CPU cores, no GPU", "steps_per_epoch": 5,
             "train_images": 20},
            {"seconds_this_run": 1800.0, "machine": "AMD EPYC, 2 CPU cores, no GPU", "steps_per_epoch": 5,
             "train_images": 20},
            {"seconds_this_run": 360.0, "steps_per_epoch": 5, "train_images": 20}]
    (tmp_path / "train_runs.jsonl").write_text("".join(json.dumps(r) + "\n" for r in runs))
    summary = summarise_workdir(tmp_path)
    assert summary["training_time"] == "2.10 h"
    assert summary["hardware"] == ("AMD EPYC, 2 CPU cores, no GPU: 1.50 h; Intel Xeon, 2 CPU cores, no GPU: 0.50 h; "
                                   "machine not recorded: 0.10 h")


def test_a_finished_run_records_this_machine(tmp_path):
    from training.loop import record_run
    from training.records import hardware

    record_run(tmp_path, {"seconds_this_run": 1.0})
    assert json.loads((tmp_path / "train_runs.jsonl").read_text())["machine"] == hardware()


def test_a_bottom_up_curve_carries_the_per_epoch_ap(tmp_path):
    from training.records import summarise_workdir

    (tmp_path / "history.csv").write_text(
        "epoch,loss,val_loss,val_pafs_stage1_loss,val_oks_ap,val_oks_ap50,val_coco_ap\n"
        "0,0.5,0.4,0.2,0.1234,0.3,0.05\n"
        "1,0.4,0.3,0.1,0.2,0.4,\n")
    curve = summarise_workdir(tmp_path)["validation_curve"]
    assert curve[0] == {"epoch": 1, "loss": 0.5, "val_loss": 0.4, "pafs_stage1_loss": 0.2, "scene AP": 12.34,
                        "photo AP": 5.0}
    assert curve[1]["scene AP"] == 20.0 and "photo AP" not in curve[1]


def test_the_recipe_line_names_the_loss():
    """The card's recipe says which loss trained the model: the paper's L2 unless the recipe chose
    another (deeppose_lsp_l1)."""
    from training.experiments import get_experiment
    from training.records import _codec, _recipe

    for name, expected in [("deeppose_lsp_imagenet", "L2 loss per stage"), ("deeppose_lsp_l1", "L1 loss per stage")]:
        exp = get_experiment(name).to_dict()
        line = _recipe(exp, _codec(exp))
        assert expected in line and ("L1 loss" in line) == (name == "deeppose_lsp_l1"), line
    hourglass = get_experiment("hourglass_tiny").replace(loss="marginal_nll").to_dict()
    assert _recipe(hourglass, _codec(hourglass)).endswith("; loss marginal_nll (training.losses)")


def test_ief_recipe_line_names_its_own_objective_not_deeppose_loss():
    """IEF trains on Fixed Path Consolidation's objective (``FixedPathConsolidation.objective``),
    so its recipe line names that, once, and not DeepPose's L2 per stage (Toshev & Szegedy)."""
    from training.experiments import get_experiment
    from training.experiments.ief_mpii import FixedPathConsolidation
    from training.records import _codec, _recipe

    for name in ("ief_mpii", "ief_tiny"):
        exp = get_experiment(name).to_dict()
        line = _recipe(exp, _codec(exp))
        assert "Toshev" not in line and "L2 loss per stage" not in line, line
        assert line.count(FixedPathConsolidation.objective) == 1, line
        assert "Carreira et al. 2016" in line and "bounded correction" in line, line
        assert "Fixed Path Consolidation: y_0 is the training batches' mean pose" in line, line
    # Phases without an objective of their own keep the codec's loss sentence (DeepPose's cascade).
    deeppose = get_experiment("deeppose_lsp_imagenet").to_dict()
    assert deeppose["phases"] and "(Toshev & Szegedy 2014, Eq. 3)" in _recipe(deeppose, _codec(deeppose))
