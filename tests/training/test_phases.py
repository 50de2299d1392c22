"""The phase protocol (``training.phases``) and the architectures' phases beside their recipes:
DeepPose's cascade (freezing, stage-error statistics) and Tompson et al.'s three phases (histogram
initialisation, the spatial model's loss and TensorBoard images); the loop chosen by task."""

from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf

from training.experiments.deeppose_phases import CascadeStage
from training.experiments.tompson2015_phases import CascadePhase
from training.experiments.tompson_phases import TompsonPhase
from training.phases import Phase
from zoo.architectures.deeppose import DeepPose
from zoo.architectures.tompson import TompsonPoseModel

K = 14
DEEPPOSE = dict(num_stages=2, filters=(8, 8, 8), units=16, patch_size=8, patch_filters=(8,), patch_units=16,
                sigma=1.0, dropout=0.0, input_size=32)
TOMPSON = dict(bank_filters=(4, 4, 8), num_scales=3, head_filters=8, head_kernel=3, input_size=32)


def _ids(variables):
    return {id(v) for v in variables}


# -- the protocol ----------------------------------------------------------------------------
def test_phase_folder_record_and_learning_rate():
    whole, second = Phase(0, 5), Phase(2, 3, 1e-2)
    assert whole.folder("w") == Path("w") and second.folder("w") == Path("w") / "stage2"
    assert whole.as_tuple() == (0, 5) and second.as_tuple() == (2, 3, 1e-2)
    assert whole.peak_learning_rate(1e-3) == 1e-3 and second.peak_learning_rate(1e-3) == 1e-2
    assert whole.loss() is None and whole.callbacks(None, None, Path("unused")) == []


@pytest.mark.parametrize("args, message", [((-1, 2), "stage must be >= 0, got -1"),
                                           ((1, 0), "epochs must be >= 1, got 0"),
                                           ((1, 2, 0.0), "learning_rate must be > 0, got 0.0")])
def test_phase_arguments_are_checked(args, message):
    with pytest.raises(ValueError, match=message):
        Phase(*args)


def test_supervised_stages():
    model = DeepPose(**DEEPPOSE)
    assert Phase(0, 1).supervised_stages(model) == 2  # the whole model: every stage
    assert [CascadeStage(s, 1).supervised_stages(model) for s in (1, 2)] == [1, 2]
    tompson = TompsonPoseModel(**TOMPSON)
    assert [TompsonPhase(s, 1).supervised_stages(tompson) for s in (1, 2, 3)] == [1, 2, 2]


def test_cascade_phase_names_its_stages():
    with pytest.raises(ValueError, match="stage must be 2 .* or 3 .*got 1"):
        CascadePhase(1, 2)
    assert CascadePhase(2, 1).as_tuple() == (2, 1)


def test_experiment_json_keeps_phases_as_lists():
    """``experiment.json`` (model cards, resumed runs) records phases as before the protocol."""
    from training.experiments import get_experiment

    assert get_experiment("tompson_lsp").to_dict()["phases"] == [[1, 10], [2, 2, 1e-2]]
    assert get_experiment("deeppose_tiny").to_dict()["phases"] == [[1, 1], [2, 1]]
    assert get_experiment("hourglass_lsp_long").to_dict()["phases"] == []


def test_recipe_loss_must_be_a_known_loss():
    from training.experiments import get_experiment

    exp = get_experiment("deeppose_tiny")
    assert exp.replace(loss="regression_l1").loss == "regression_l1"
    with pytest.raises(ValueError, match="experiment deeppose_tiny: loss must be one of .*got 'l3'"):
        exp.replace(loss="l3")


def test_recipe_loss_is_the_one_compiled(tmp_path, lspet_root):
    """A recipe's ``loss`` replaces the codec's in every phase that has none of its own."""
    from training.experiments import get_experiment
    from training.losses import intermediate_regression_l1
    from training.top_down import train_top_down

    exp = get_experiment("deeppose_tiny").replace(loss="regression_l1", epochs=1, phases=(CascadeStage(1, 1),),
                                                  steps_per_epoch=1)
    model, history = train_top_down(exp, tmp_path / "run", data=str(lspet_root), max_train=8, max_val=4,
                                    verbose=0, tensorboard=False)
    assert model.loss is intermediate_regression_l1
    assert np.isfinite(history.history["loss"][0])


def test_one_training_loop_per_task():
    from training.train import LOOPS
    from zoo.tasks import TASKS

    assert set(LOOPS) == set(TASKS)


def test_recipes_train_on_the_model_codec():
    """The targets come from ``model.codec``: the values every recipe set before it was the model's
    (a recipe that wants others says so in ``model_args``)."""
    from training.experiments import EXPERIMENTS
    from zoo.architectures import get_architecture

    for exp in EXPERIMENTS.values():
        codec = get_architecture(exp.architecture)(**exp.model_args).codec_config()
        size = exp.model_args["input_size"]
        # Stride 4, except CPM on an ImageNet backbone: the paper's stride 8.
        stride = 8 if exp.architecture == "cpm" and exp.model_args.get("backbone") else 4
        expected = {"heatmap": {"type": "heatmap", "input_size": size, "heatmap_size": size // stride,
                                "sigma": exp.model_args.get("sigma", 1.5)},
                    "regression": {"type": "regression", "input_size": size},
                    "paf": {"type": "paf", "skeleton": exp.model_args.get("skeleton", "lsp14"), "input_size": size,
                            "stride": 8, "sigma": 1.0, "limb_width": 1.0}}[codec["type"]]
        assert codec == expected, exp.name


# -- DeepPose's cascade ----------------------------------------------------------------------
def _deeppose(seed=0, scale=0.1):
    keras.utils.set_random_seed(seed)
    model = DeepPose(**DEEPPOSE)
    model.build()
    rng = np.random.default_rng(seed + 2)
    for regressor in [model.initial, *model.refiners]:  # away from the zero start: non-trivial errors
        regressor.out.kernel.assign(rng.normal(0, scale, regressor.out.kernel.shape).astype("float32"))
        regressor.out.bias.assign(rng.normal(0, scale, regressor.out.bias.shape).astype("float32"))
    return model


def test_cascade_stage_1_trains_only_the_holistic_stage():
    model = _deeppose()
    CascadeStage(1, 1).prepare(model, None, None)  # stage 1 measures nothing
    assert model.initial.trainable and not model.refiners[0].trainable and not model.crops[0].trainable
    assert _ids(model.trainable_weights) == _ids(model.initial.trainable_weights)
    assert len(model.trainable_weights) > 0
    # While stage 1 trains, call returns stage 1 only; after the phase, every stage.
    x = np.zeros((1, 32, 32, 3), "uint8")
    assert tuple(model(x, training=False).shape) == (1, 1, K, 2)
    CascadeStage(1, 1).finish(model)
    assert tuple(model(x, training=False).shape) == (1, 2, K, 2)


def test_cascade_stage_2_measures_stage_1_errors():
    model = _deeppose()
    rng = np.random.default_rng(1)
    images = rng.integers(0, 256, (7, 32, 32, 3), dtype=np.uint8)
    targets = rng.uniform(-0.35, 0.35, (7, K, 2)).astype("float32")
    weights = np.ones((7, K), "float32")
    for i, j in [(0, 3), (2, 3), (4, 5), (5, 0)]:
        weights[i, j], targets[i, j] = 0.0, 0.0
    weights[:, 13], targets[:, 13] = 0.0, 0.0  # a joint never labelled: mean and std stay 0
    dataset = tf.data.Dataset.from_tensor_slices((images, targets, weights)).batch(3)  # 3 + 3 + 1
    stage1 = np.asarray(model(images, training=False))[:, 0]

    def reference(n):
        err, w = stage1[:n] - targets[:n], weights[:n]
        mean, std = np.zeros((K, 2)), np.zeros((K, 2))
        for j in range(K):
            e = err[w[:, j] > 0, j]
            if len(e):
                mean[j], std[j] = e.mean(axis=0), e.std(axis=0)
        return mean, std

    CascadeStage(2, 1, error_batches=2).prepare(model, dataset, None)  # the first 6 samples only
    mean, std = reference(6)
    assert np.abs(mean).max() > 1e-3 and std.max() > 1e-3
    np.testing.assert_allclose(np.asarray(model.error_mean)[0], mean, atol=1e-5)
    np.testing.assert_allclose(np.asarray(model.error_std)[0], std, atol=1e-4)
    assert np.all(np.asarray(model.error_mean)[0, 13] == 0) and np.all(np.asarray(model.error_std)[0, 13] == 0)
    assert not model.initial.trainable and model.refiners[0].trainable
    assert _ids(model.trainable_weights) == _ids(model.refiners[0].trainable_weights)
    assert tuple(model(images[:1], training=False).shape) == (1, 2, K, 2)
    CascadeStage(2, 1).prepare(model, dataset, None)  # every batch (64 > the dataset)
    mean, std = reference(7)
    np.testing.assert_allclose(np.asarray(model.error_mean)[0], mean, atol=1e-5)
    np.testing.assert_allclose(np.asarray(model.error_std)[0], std, atol=1e-4)
    # Back to stage 1: the statistics are kept, stage 1 is trainable again.
    CascadeStage(1, 1).prepare(model, dataset, None)
    np.testing.assert_allclose(np.asarray(model.error_mean)[0], mean, atol=1e-5)
    assert _ids(model.trainable_weights) == _ids(model.initial.trainable_weights)


@pytest.mark.parametrize("stage", [0, 3, -1])
def test_cascade_rejects_unknown_stages(stage):
    with pytest.raises(ValueError, match=f"got {stage}"):
        CascadeStage(stage, 1).prepare(_deeppose(), None, None)


def test_error_statistics_are_kept_for_stages_before_the_last():
    with pytest.raises(ValueError, match="stages 1..1, got 2"):
        _deeppose().set_error_statistics(2, np.zeros((K, 2)), np.zeros((K, 2)))


# -- Tompson et al.'s phases -----------------------------------------------------------------
def _heatmap_dataset(n=32, seed=0):
    """Heatmap targets where joint 1 always lies 3 cells right of and 1 below joint 0."""
    rng = np.random.default_rng(seed)
    targets = np.zeros((n, 8, 8, K), "float32")
    for i in range(n):
        x, y = rng.integers(0, 5, 2)
        targets[i, y, x, 0] = targets[i, y + 1, x + 3, 1] = 1.0
        for j in range(2, K):
            targets[i, rng.integers(0, 8), rng.integers(0, 8), j] = 1.0
    images = rng.integers(0, 256, (n, 32, 32, 3)).astype("float32")
    return tf.data.Dataset.from_tensor_slices((images, targets, np.ones((n, K), "float32"))).batch(8)


def test_tompson_phase_1_trains_the_detector_alone():
    model = TompsonPoseModel(**TOMPSON)
    model.build()
    TompsonPhase(1, 1).prepare(model, None, None)  # nothing to measure
    out = np.asarray(model(np.zeros((2, 32, 32, 3), "float32")))
    np.testing.assert_array_equal(out[:, 0], out[:, 1])  # the spatial model is bypassed
    assert not model.spatial_model.trainable and not model.spatial_initialised
    assert all(w.trainable for w in model.bank.trainable_weights)


@pytest.mark.parametrize("stride", [1, 2])
def test_tompson_phase_2_starts_from_the_displacement_histogram_and_trains_only_the_spatial_model(stride):
    from training.losses import LOSSES

    model = TompsonPoseModel(**TOMPSON, message_stride=stride)
    model.build()
    phase = TompsonPhase(2, 1, histogram_batches=4)
    phase.prepare(model, _heatmap_dataset(), None)
    assert model.spatial_initialised
    kernel = np.asarray(model.spatial_model.pairwise_kernels())[:, :, 0, 1]  # joint 1 given joint 0
    r = model.spatial_model.kernel_side // 2
    peak = np.unravel_index(kernel.argmax(), kernel.shape)
    # x_1 - x_0 = (3, 1) cells; on the stride-2 grid (1.5, 0.5) -> rounded to (2, 0) or (2, 1).
    assert (peak == (r + 1, r + 3)) if stride == 1 else (peak[1] == r + 2 and peak[0] in (r, r + 1))
    assert [w.path for w in model.trainable_weights] == [w.path for w in model.spatial_model.trainable_weights]
    before = {w.path: np.asarray(w).copy() for w in model.weights}
    model.compile(optimizer="adam", loss=LOSSES[phase.loss()])
    model.fit(_heatmap_dataset(), epochs=1, verbose=0)
    changed = {p for p, v in before.items() if not np.array_equal(v, np.asarray(
        next(w for w in model.weights if w.path == p)))}
    # Only the kernels, biases and nothing of the detector (not even BatchNorm statistics).
    assert changed == {w.path for w in model.spatial_model.weights}
    # Phase 3 trains everything and keeps the trained kernels (no re-initialisation).
    k = np.asarray(model.spatial_model.kernel).copy()
    TompsonPhase(3, 1, histogram_batches=4).prepare(model, _heatmap_dataset(seed=1), None)
    np.testing.assert_array_equal(np.asarray(model.spatial_model.kernel), k)
    assert len(model.trainable_weights) == len(model.bank.trainable_weights) + sum(
        len(h.trainable_weights) for h in model.head) + 2 + 2


def test_tompson_phase_losses_and_images(tmp_path):
    from training.callbacks import SpatialModelImages

    assert [TompsonPhase(s, 1).loss() for s in (1, 2, 3)] == [None, "marginal_nll", None]
    model = TompsonPoseModel(**TOMPSON)
    assert TompsonPhase(1, 1).callbacks(model, None, tmp_path) == []
    assert TompsonPhase(2, 1).callbacks(model, None, None) == []  # not the image-writing worker
    (images,) = TompsonPhase(3, 1).callbacks(model, None, tmp_path)
    assert isinstance(images, SpatialModelImages)


def test_tompson_phases_are_checked():
    with pytest.raises(ValueError, match="stage must be 1 .* got 4"):
        TompsonPhase(4, 1)
    model = TompsonPoseModel(**TOMPSON, spatial="none")
    with pytest.raises(ValueError, match="spatial='none'"):
        TompsonPhase(3, 1).prepare(model, _heatmap_dataset(), None)
    model = TompsonPoseModel(**TOMPSON)
    model.build()
    with pytest.raises(ValueError, match="no batch"):
        TompsonPhase(2, 1).prepare(model, _heatmap_dataset().take(0), None)


def test_bottom_up_training_refuses_a_recipe_loss(tmp_path):
    """Bottom-up training has its own objective: a recipe's loss is an error, not silently dropped."""
    from training.bottom_up import train_bottom_up
    from training.experiments import get_experiment

    exp = get_experiment("openpose_tiny").replace(loss="regression_l1")
    with pytest.raises(ValueError, match="experiment openpose_tiny: bottom-up training has its own loss"):
        train_bottom_up(exp, tmp_path / "run")
