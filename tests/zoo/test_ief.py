"""Iterative Error Feedback (Carreira et al. 2016): shapes, the rendered pose maps, the bound on
corrections, the fixed path, the iterations and their scores, config / ``.keras`` round trips, the
training step (Fixed Path Consolidation) and its phase (mean pose, path options), the widened
ImageNet stem, argument checks. Exports: tests/edge/test_ief_edge.py; a recipe's smoke run:
tests/training/test_ief_training.py."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from ief_models import (  # tests/ on sys.path
    TINY,
    K,
    S,
    T,
    random_images,
    random_mean_pose,
    tiny_ief,
)

from zoo.architectures import get_architecture
from zoo.architectures.ief import (
    PAPER_MAX_CORRECTION,
    GaussianPoseMaps,
    IterativeErrorFeedback,
    bound_corrections,
    fixed_path,
)


@pytest.fixture(scope="module")
def tiny_model():
    return tiny_ief()


# -- shapes and iterations -------------------------------------------------------------------
def test_shapes_and_stages(tiny_model):
    images = random_images(3)
    assert tiny_model.num_stages == T
    assert tuple(tiny_model(images).shape) == (3, T, K, 2)
    kp, sc = tiny_model.stage_keypoints(images.astype("float32"))
    assert tuple(kp.shape) == (3, T, K, 2) and tuple(sc.shape) == (3, T, K)
    last_kp, last_sc = tiny_model.keypoints(images.astype("float32"))
    np.testing.assert_allclose(np.asarray(last_kp), np.asarray(kp)[:, -1], atol=1e-5)
    np.testing.assert_allclose(np.asarray(last_sc), np.asarray(sc)[:, -1], atol=1e-6)
    pk, ps = tiny_model.predict_keypoints(images)
    assert pk.shape == (3, K, 2) and ps.shape == (3, K)
    assert (tiny_model.raw_outputs(images.astype("float32"))[0].shape) == (3, K, 2)


def test_fresh_model_keeps_the_mean_pose_with_full_scores():
    model = tiny_ief(randomise=False)
    kp, sc = model.stage_keypoints(random_images(2).astype("float32"))
    expected = random_mean_pose() * S + (S - 1) / 2.0
    np.testing.assert_allclose(np.asarray(kp), np.broadcast_to(expected, (2, T, K, 2)), atol=1e-5)
    np.testing.assert_allclose(np.asarray(sc), 1.0, atol=1e-5)  # no correction: converged


def test_each_iteration_adds_its_bounded_correction(tiny_model):
    """Iteration t's estimate is the previous one plus the network's correction there, clipped
    to norm <= L; the scores are 1 - ||correction|| / L."""
    x = tiny_model.normalise(random_images(2, seed=4))
    estimates, corrections = (np.asarray(a) for a in tiny_model.iterate(x, training=False))
    previous = np.broadcast_to(random_mean_pose(), (2, K, 2))
    for t in range(T):
        raw = np.asarray(tiny_model.predict_correction(x, previous, training=False))
        bounded = np.asarray(bound_corrections(raw, tiny_model.max_correction))
        np.testing.assert_allclose(corrections[:, t], bounded, atol=1e-5)
        np.testing.assert_allclose(estimates[:, t], previous + bounded, atol=1e-5)
        previous = estimates[:, t]
    norms = np.linalg.norm(corrections, axis=-1)
    assert norms.max() <= tiny_model.max_correction + 1e-5
    assert norms.max() > 0.5 * tiny_model.max_correction, "the test needs corrections that are clipped"
    _, scores = tiny_model.stage_keypoints(random_images(2, seed=4).astype("float32"))
    np.testing.assert_allclose(np.asarray(scores), np.clip(1 - norms / tiny_model.max_correction, 0, 1), atol=1e-4)


# -- the pose maps ---------------------------------------------------------------------------
def test_rendered_maps_peak_at_the_estimate():
    render = GaussianPoseMaps(S, sigma=1.5)
    pixels = np.array([[[3.0, 20.0], [17.0, 5.0], [30.0, 30.0], [12.4, 8.6]]], "float32")  # (1, 4, 2) x, y
    maps = np.asarray(render((pixels - (S - 1) / 2.0) / S))
    assert maps.shape == (1, S, S, 4)
    for j, (x, y) in enumerate(pixels[0]):
        row, col = np.unravel_index(np.argmax(maps[0, :, :, j]), (S, S))
        assert (col, row) == (round(float(x)), round(float(y)))
    np.testing.assert_allclose(maps[0, 20, 3, 0], 1.0, atol=1e-6)  # exactly at a pixel centre: peak 1
    np.testing.assert_allclose(maps[0, 20, 5, 0], np.exp(-4 / (2 * 1.5 ** 2)), atol=1e-6)  # 2 px away
    np.testing.assert_allclose(maps[0, 20, 1, 0], maps[0, 20, 5, 0], atol=1e-6)  # symmetric
    assert render.get_config()["sigma"] == 1.5


def test_model_renders_its_maps_with_sigma_a_fraction_of_the_side():
    model = IterativeErrorFeedback(**{**TINY, "map_sigma": 0.05})
    assert model.render.sigma == pytest.approx(0.05 * S) and model.render.input_size == S


# -- the bound and the fixed path ------------------------------------------------------------
def test_bound_keeps_direction_and_clips_to_the_norm():
    c = np.array([[[0.3, 0.4], [0.01, -0.02], [0.0, 0.0], [-2.0, 0.0]]], "float32")
    b = np.asarray(bound_corrections(c, 0.1))
    np.testing.assert_allclose(np.linalg.norm(b, axis=-1), [[0.1, np.hypot(0.01, 0.02), 0.0, 0.1]], atol=1e-6)
    np.testing.assert_allclose(b[0, 0], [0.06, 0.08], atol=1e-6)  # direction kept
    np.testing.assert_allclose(b[0, 1], c[0, 1], atol=1e-7)  # inside the bound: unchanged
    np.testing.assert_allclose(b[0, 3], [-0.1, 0.0], atol=1e-6)


def test_fixed_path_reaches_the_truth_within_t_bounded_steps():
    L, steps = 0.1, 4
    start = np.zeros((1, 4, 2), "float32")
    truth = np.array([[[0.25, 0.0], [0.0, -0.4], [0.3, 0.4], [0.05, 0.05]]], "float32")  # 0.25, 0.4, 0.5, 0.07
    labelled = np.array([[1, 1, 1, 0]], "float32")
    points, corrections = fixed_path(start, truth, labelled, L, steps)
    points = np.stack([np.asarray(p) for p in points], 1)
    corrections = np.stack([np.asarray(c) for c in corrections], 1)
    assert points.shape == corrections.shape == (1, steps, 4, 2)
    np.testing.assert_allclose(points[:, 0], start)  # y_0: the start (the mean pose)
    np.testing.assert_allclose(points[:, 1:], (points + corrections)[:, :-1], atol=1e-6)  # y_{t+1} = y_t + e_t
    assert np.linalg.norm(corrections, axis=-1).max() <= L + 1e-6
    end = points[:, -1] + corrections[:, -1]
    np.testing.assert_allclose(end[0, :2], truth[0, :2], atol=1e-6)  # within T * L: reached
    # 0.5 away: four full steps of L along the straight line, 0.1 short
    np.testing.assert_allclose(end[0, 2], truth[0, 2] * 0.4 / 0.5, atol=1e-6)
    np.testing.assert_allclose(corrections[0, :, 1], [[0, -0.1]] * 4, atol=1e-6)
    # once there, the ideal correction is zero
    np.testing.assert_allclose(corrections[0, 3, 0], 0.0, atol=1e-6)
    # an unlabelled joint stays at the start with zero corrections
    np.testing.assert_allclose(points[0, :, 3], 0.0)
    np.testing.assert_allclose(corrections[0, :, 3], 0.0)


# -- configuration ---------------------------------------------------------------------------
def test_registered_and_config_round_trip(tiny_model):
    config = tiny_model.get_config()
    assert get_architecture("ief") is IterativeErrorFeedback
    assert config["num_iterations"] == T and config["max_correction"] == pytest.approx(PAPER_MAX_CORRECTION)
    rebuilt = IterativeErrorFeedback.from_config(config)
    rebuilt.build()
    assert rebuilt.get_config() == config
    rebuilt.set_weights(tiny_model.get_weights())
    images = random_images(2, seed=6)
    np.testing.assert_allclose(np.asarray(rebuilt(images)), np.asarray(tiny_model(images)), atol=1e-6)
    assert tiny_model.codec_config() == {"type": "regression", "input_size": S}
    # the widened stem: RGB + one map per joint
    assert tiny_model.backbone.stem_conv.kernel.shape == (3, 3, 3 + K, 32)
    assert tiny_model.backbone.get_config()["input_channels"] == 3 + K


def test_keras_file_round_trip_keeps_the_mean_pose(tiny_model, keras_round_trip):
    loaded = keras_round_trip(tiny_model, random_images(2, seed=7))
    np.testing.assert_array_equal(np.asarray(loaded.mean_pose), random_mean_pose())


def test_set_mean_pose_checks_its_shape(tiny_model):
    with pytest.raises(ValueError, match=r"mean_pose must be finite with shape \(16, 2\), got shape \(14, 2\)"):
        tiny_model.set_mean_pose(np.zeros((14, 2)))
    with pytest.raises(ValueError, match="finite"):
        tiny_model.set_mean_pose(np.full((K, 2), np.nan))


def test_mean_pose_is_a_non_trainable_weight(tiny_model):
    assert any(w is tiny_model.mean_pose for w in tiny_model.non_trainable_weights)
    assert not any(w is tiny_model.mean_pose for w in tiny_model.trainable_weights)


# -- training: Fixed Path Consolidation ------------------------------------------------------
def _batch(n=4, seed=0):
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, (n, S, S, 3), dtype=np.uint8).astype("float32")
    truth = rng.uniform(-0.4, 0.4, (n, K, 2)).astype("float32")
    weights = (rng.uniform(size=(n, K)) > 0.25).astype("float32")
    truth *= weights[..., None]  # as RegressionCodec.encode writes unlabelled joints
    return images, truth, weights


def _compiled(model, lr=1e-3):
    from training.losses import loss_and_stage_metrics

    loss, metrics = loss_and_stage_metrics(model.codec, model.num_stages)
    # Eager: seconds instead of tracing the step of a 30-block network (the graph step runs in
    # tests/training/test_ief_training.py).
    model.compile(optimizer=keras.optimizers.Adam(lr), loss=loss, weighted_metrics=metrics, jit_compile=False,
                  run_eagerly=True)
    return model


def test_first_training_loss_is_the_ideal_corrections_of_the_fixed_path():
    """A fresh model corrects nothing, so its first loss is the squared ideal corrections along
    the path, summed over points, averaged over labelled joints (unlabelled ones add nothing)."""
    model = _compiled(tiny_ief(randomise=False))
    images, truth, weights = _batch()
    logs = model.train_on_batch(images, truth, sample_weight=weights, return_dict=True)
    start = np.broadcast_to(random_mean_pose(), truth.shape)
    _, ideal = fixed_path(start, truth, weights, model.max_correction, T)
    squared = sum(np.sum(np.asarray(c) ** 2, -1) for c in ideal)
    np.testing.assert_allclose(logs["loss"], np.sum(squared * weights) / weights.sum(), rtol=1e-4)
    assert set(logs) >= {"loss", "stage1_loss", "stage2_loss"}


def test_training_steps_fit_a_batch_and_learn_the_pose_channels():
    model = _compiled(tiny_ief(randomise=False), lr=3e-3)
    images, truth, weights = _batch(seed=1)
    stem_before = np.asarray(model.backbone.stem_conv.kernel)[:, :, 3:].copy()
    losses = [model.train_on_batch(images, truth, sample_weight=weights, return_dict=True)["loss"] for _ in range(8)]
    assert np.isfinite(losses).all() and losses[-1] < 0.5 * losses[0], losses
    assert not np.array_equal(np.asarray(model.backbone.stem_conv.kernel)[:, :, 3:], stem_before)
    assert np.asarray(model.mean_pose) == pytest.approx(random_mean_pose())  # not trained


@pytest.mark.parametrize("path_points, own_share", [(1, 0.0), (2, 1.0)])
def test_path_points_and_own_iterates(path_points, own_share):
    model = tiny_ief(randomise=True)
    model.path_points, model.own_iterate_share = path_points, own_share
    images, truth, weights = _batch(seed=2)
    x = model.normalise(images)
    points, targets = model.training_points(x, tf.constant(truth), tf.constant(weights))
    assert len(points) == len(targets) == path_points
    if own_share:  # every sample starts from the network's own iterate: y_1 = y_0 + f(y_0), bounded
        own = np.asarray(model.iterate(x, training=False)[0])[:, 0]
        np.testing.assert_allclose(np.asarray(points[1]), own, atol=1e-5)
        expected = np.asarray(bound_corrections(truth - own, model.max_correction)) * weights[..., None]
        np.testing.assert_allclose(np.asarray(targets[1]), expected, atol=1e-6)
    _compiled(model)
    assert np.isfinite(model.train_on_batch(images, truth, sample_weight=weights, return_dict=True)["loss"])


def test_phase_measures_the_mean_pose_and_sets_the_path_options():
    from training.experiments.ief_mpii import FixedPathConsolidation, training_mean_pose

    rng = np.random.default_rng(0)
    targets = rng.uniform(-0.3, 0.3, (12, K, 2)).astype("float32")
    weights = (rng.uniform(size=(12, K)) > 0.3).astype("float32")
    weights[:, 5] = 0.0  # a joint no batch labels stays at the centre
    targets *= weights[..., None]
    dataset = tf.data.Dataset.from_tensor_slices((np.zeros((12, S, S, 3), "float32"), targets, weights)).batch(4)
    expected = (targets * weights[..., None]).sum(0) / np.maximum(weights.sum(0)[:, None], 1)
    np.testing.assert_allclose(training_mean_pose(dataset, K, batches=3), expected, atol=1e-6)
    model = tiny_ief(randomise=False)
    phase = FixedPathConsolidation(0, 1, path_points=1, own_iterate_share=0.5, mean_pose_batches=3)
    phase.prepare(model, dataset, None)
    np.testing.assert_allclose(np.asarray(model.mean_pose), expected, atol=1e-6)
    assert (model.path_points, model.own_iterate_share) == (1, 0.5) and phase.supervised_stages(model) == 1
    phase.finish(model)
    assert (model.path_points, model.own_iterate_share) == (0, 0.0)
    with pytest.raises(ValueError, match="path_points=3 exceeds the model's num_iterations=2"):
        FixedPathConsolidation(0, 1, path_points=3).prepare(model, dataset, None)


@pytest.mark.parametrize("kwargs, message", [(dict(path_points=-1), "path_points must be >= 0"),
                                             (dict(own_iterate_share=1.5), "own_iterate_share must be in .*1.5"),
                                             (dict(mean_pose_batches=0), "mean_pose_batches must be >= 1, got 0")])
def test_phase_arguments_are_checked(kwargs, message):
    from training.experiments.ief_mpii import FixedPathConsolidation

    with pytest.raises(ValueError, match=message):
        FixedPathConsolidation(0, 1, **kwargs)


def test_recipes_build_the_model_they_name():
    from training.experiments import get_experiment
    from zoo.presets import PRESETS

    real, tiny = get_experiment("ief_mpii"), get_experiment("ief_tiny")
    assert real.architecture == tiny.architecture == "ief" and real.backbone_weights == "imagenet"
    assert real.model_args["skeleton"] == "mpii16" and real.model_args["input_size"] in (128, 160)
    assert real.batch_size in (16, 32) and not real.jit_compile
    assert real.training_sets == (("mpii_subset", 0.6), ("lspet", 0.25), ("coco_people", 0.15))
    assert PRESETS["ief-mpii"].model_args == real.model_args and PRESETS["ief-mpii"].experiment == "ief_mpii"


# -- the ImageNet start of the widened stem --------------------------------------------------
def test_imagenet_weights_fill_rgb_and_zero_the_pose_channels():
    from zoo.backbones.efficientnet_lite import EfficientNetLite, imagenet_weights_file, load_imagenet_weights
    from zoo.backbones.torch_legacy import read_state_dict

    try:
        path = imagenet_weights_file("lite0")
    except FileNotFoundError as e:
        pytest.skip(str(e))
    stem = read_state_dict(path)["_conv_stem.weight"].transpose(2, 3, 1, 0)
    model = IterativeErrorFeedback(**TINY)
    model.build()
    load_imagenet_weights(model.backbone, path)
    kernel = np.asarray(model.backbone.stem_conv.kernel)
    np.testing.assert_array_equal(kernel[:, :, :3], stem)
    np.testing.assert_array_equal(kernel[:, :, 3:], 0.0)
    # an unbuilt widened backbone is built with its own channels; an RGB one keeps its old config
    wide = EfficientNetLite("lite0", feature_strides=(32,), input_channels=5)
    load_imagenet_weights(wide, path)
    assert wide.stem_conv.kernel.shape == (3, 3, 5, 32)
    assert "input_channels" not in EfficientNetLite("lite0").get_config()


# -- argument checks -------------------------------------------------------------------------
@pytest.mark.parametrize("kwargs, message", [
    (dict(num_iterations=0), "num_iterations must be an integer >= 1, got 0"),
    (dict(num_iterations=2.5), "got 2.5"),
    (dict(max_correction=0.0), "max_correction must be in (0, 1] (a fraction of the input side), got 0.0"),
    (dict(max_correction=20), "got 20"),
    (dict(map_sigma=-1.0), "map_sigma must be in (0, 0.5]"),
    (dict(input_size=48), "input_size must be a multiple of 32 (the backbone's stride), got 48"),
    (dict(backbone=""), "IterativeErrorFeedback needs a backbone (lite0 ... lite4), got ''"),
    (dict(backbone="googlenet"), "backbone must be empty or one of"),
    (dict(dropout=1.0), "dropout must be in [0, 1), got 1.0"),
    (dict(units=0), "head_filters and units must be >= 1"),
    (dict(skeleton="mpii17"), "mpii17"),
])
def test_invalid_arguments(kwargs, message):
    with pytest.raises((ValueError, KeyError)) as info:
        IterativeErrorFeedback(**{**TINY, **kwargs})
    assert message in str(info.value)


def test_backbone_input_channels_are_checked():
    from zoo.backbones.efficientnet_lite import EfficientNetLite

    with pytest.raises(ValueError, match="input_channels must be >= 3 .*got 2"):
        EfficientNetLite("lite0", input_channels=2)
