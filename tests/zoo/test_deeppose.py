"""DeepPose: shapes and pixel mapping, the matmul bilinear crop against ``tf.image.crop_and_resize``,
config/serialisation round trips, stage-wise training (freezing, simulated errors; the phases that
measure the error statistics are tested in tests/training/test_phases.py), TFLite export with
builtin ops only, argument checks."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from zoo.architectures import get_architecture
from zoo.architectures.deeppose import DeepPose, JointPatches, RegressionDecoder, bilinear_weights

TINY = dict(num_stages=2, filters=(8, 8, 8), units=16, patch_size=8, patch_filters=(8,), patch_units=16,
            sigma=1.0, dropout=0.0, input_size=32)
K = 14  # lsp14
S = 32


def _images(n=2, size=S, seed=0):
    return np.random.default_rng(seed).integers(0, 256, size=(n, size, size, 3), dtype=np.uint8)


def _randomise_outputs(model, seed=0, scale=0.05):
    """Non-zero output layers (they start at zero: every estimate would be the crop centre)."""
    rng = np.random.default_rng(seed)
    for regressor in [model.initial, *model.refiners]:
        regressor.out.kernel.assign(rng.normal(0, scale, regressor.out.kernel.shape).astype("float32"))
        regressor.out.bias.assign(rng.normal(0, scale, regressor.out.bias.shape).astype("float32"))


def _tiny(seed=0, **kwargs):
    keras.utils.set_random_seed(seed)
    model = DeepPose(**{**TINY, **kwargs})
    model.build((None, S, S, 3))
    return model


@pytest.fixture(scope="module")
def tiny_model():
    model = _tiny()
    _randomise_outputs(model)
    rng = np.random.default_rng(1)
    model.error_mean.assign(rng.normal(0, 0.02, model.error_mean.shape).astype("float32"))
    model.error_std.assign(rng.uniform(0.01, 0.05, model.error_std.shape).astype("float32"))
    return model


def _regression_batch(n=4, seed=0, unlabelled=()):
    """Images, box-normalised targets and weights (0 for the ``(sample, joint)`` pairs given)."""
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, (n, S, S, 3), dtype=np.uint8)
    targets = rng.uniform(-0.35, 0.35, (n, K, 2)).astype("float32")
    weights = np.ones((n, K), "float32")
    for i, j in unlabelled:
        weights[i, j] = 0.0
        targets[i, j] = 0.0  # as RegressionCodec.encode writes them
    return images, targets, weights


# -- shapes and decoding ---------------------------------------------------------------------
def test_output_shape():
    model = _tiny()
    assert tuple(model(_images(3), training=False).shape) == (3, 2, K, 2)
    assert get_architecture("deeppose") is DeepPose
    one = DeepPose(**{**TINY, "num_stages": 1})
    assert tuple(one(_images(1), training=False).shape) == (1, 1, K, 2)
    three = DeepPose(**{**TINY, "num_stages": 3, "skeleton": "mpii16"})
    assert tuple(three(_images(2), training=False).shape) == (2, 3, 16, 2)


def test_fresh_model_predicts_the_crop_centre():
    model = _tiny()
    out = np.asarray(model(_images(2), training=False))
    np.testing.assert_array_equal(out, np.zeros_like(out))
    kps, scores = model.predict_keypoints(_images(2))
    np.testing.assert_allclose(kps, np.full((2, K, 2), (S - 1) / 2.0))


def test_keypoints_are_pixels_and_scores_are_ones(tiny_model):
    x = _images(3, seed=1)
    normalised = np.asarray(tiny_model(x, training=False))
    assert np.abs(normalised).max() > 1e-3, "the test needs non-trivial estimates"
    assert not np.allclose(normalised[:, 0], normalised[:, 1], atol=1e-5), "stage 2 must refine"
    kps, scores = tiny_model.predict_keypoints(x)
    assert kps.shape == (3, K, 2) and scores.shape == (3, K)
    assert kps.dtype == np.float32 and scores.dtype == np.float32
    np.testing.assert_allclose(kps, normalised[:, -1] * S + (S - 1) / 2.0, atol=1e-4)
    np.testing.assert_array_equal(scores, np.ones((3, K), "float32"))
    stage_k, stage_s = (np.asarray(t) for t in tiny_model.stage_keypoints(x.astype("float32")))
    assert stage_k.shape == (3, 2, K, 2) and stage_s.shape == (3, 2, K)
    np.testing.assert_allclose(stage_k, normalised * S + (S - 1) / 2.0, atol=1e-4)
    np.testing.assert_array_equal(stage_s, np.ones_like(stage_s))
    k2, _ = tiny_model.predict_keypoints(x, batch_size=2)
    np.testing.assert_allclose(k2, kps, atol=1e-4)
    # The decoder is the inverse of the regression codec.
    from zoo.codecs import RegressionCodec

    np.testing.assert_allclose(RegressionCodec(S).decode(normalised[:, -1]), kps, atol=1e-4)
    with pytest.raises(ValueError, match=r"\(N, 32, 32, 3\)"):
        tiny_model.predict_keypoints(np.zeros((32, 32, 3), np.uint8))


def test_regression_decoder_layer():
    layer = RegressionDecoder(128)
    kps, scores = layer(np.array([[[0.0, 0.0], [0.25, -0.5]]], "float32"))
    np.testing.assert_allclose(np.asarray(kps), [[[63.5, 63.5], [95.5, -0.5]]])
    np.testing.assert_array_equal(np.asarray(scores), [[1.0, 1.0]])
    assert RegressionDecoder.from_config(layer.get_config()).input_size == 128


def test_refinement_uses_each_joints_own_patch_and_output(tiny_model):
    """Stage 2 = stage 1 + side * (output i of the regressor on joint i's patch), rebuilt by hand."""
    x = _images(2, seed=2)
    xn = tiny_model.normalise(x)
    out = np.asarray(tiny_model(x, training=False))
    est1 = out[:, 0]
    patches, sides = tiny_model.crops[0](xn, tf.constant(est1))
    raw = np.asarray(tiny_model.refiners[0](patches, training=False)).reshape(2, K, K, 2)
    displacement = raw[:, np.arange(K), np.arange(K)]  # (N, K, 2): joint i's output on patch i
    expected = est1 + displacement * np.asarray(sides)
    np.testing.assert_allclose(out[:, 1], expected, rtol=1e-4, atol=1e-5)


# -- JointPatches ----------------------------------------------------------------------------
def _crop_and_resize_reference(images, estimates, side_px, p, pad=0):
    """Patches sampled by ``tf.image.crop_and_resize`` at the positions of ``JointPatches``.

    crop_and_resize samples ``y1 * (H - 1) + i * (y2 - y1) * (H - 1) / (P - 1)``; JointPatches
    samples ``c + ((i + 0.5) / P - 0.5) * side``, i.e. from ``c - h`` to ``c + h`` with
    ``h = side * (P - 1) / (2 P)``; so ``y1 = (c - h) / (H - 1)``, ``y2 = (c + h) / (H - 1)``.
    ``pad`` zero-pads the image first (the sample positions move by ``pad``): bilinear sampling
    of the padded image is the zero-padded sampling wherever a sample is within the padding.
    """
    n, s = images.shape[0], images.shape[1]
    k = estimates.shape[1]
    padded = np.pad(images, ((0, 0), (pad, pad), (pad, pad), (0, 0)))
    size = s + 2 * pad
    boxes, index = [], []
    for i in range(n):
        for j in range(k):
            cx = estimates[i, j, 0] * s + (s - 1) / 2.0 + pad
            cy = estimates[i, j, 1] * s + (s - 1) / 2.0 + pad
            h = side_px[i] * (p - 1) / (2.0 * p)
            boxes.append([(cy - h) / (size - 1), (cx - h) / (size - 1), (cy + h) / (size - 1), (cx + h) / (size - 1)])
            index.append(i)
    out = tf.image.crop_and_resize(padded.astype("float32"), np.array(boxes, "float32"),
                                   np.array(index, "int32"), (p, p), method="bilinear", extrapolation_value=0.0)
    return out.numpy()


def _sample_positions(estimates, side_px, p, s=S):
    """Pixel positions of the samples: x ``(N, K, P)``, y ``(N, K, P)``."""
    offsets = ((np.arange(p) + 0.5) / p - 0.5)
    x = (estimates[..., 0] * s + (s - 1) / 2.0)[..., None] + offsets * side_px[:, None, None]
    y = (estimates[..., 1] * s + (s - 1) / 2.0)[..., None] + offsets * side_px[:, None, None]
    return x, y


def test_joint_patches_match_crop_and_resize_inside_the_image():
    rng = np.random.default_rng(0)
    images = rng.uniform(0, 1, (2, S, S, 3)).astype("float32")
    # Joints 0 and 1 are the torso; positions differ in x and y (an axis swap would show).
    estimates = np.array([[[-0.10, -0.12], [0.08, 0.15], [0.20, -0.05], [-0.22, 0.18]],
                          [[0.05, -0.20], [-0.05, 0.10], [-0.15, -0.25], [0.25, 0.02]]], "float32")
    p, sigma = 7, 0.6
    layer = JointPatches(p, sigma, torso=(0, 1))
    patches, sides = layer(tf.constant(images), tf.constant(estimates))
    patches, sides = np.asarray(patches), np.asarray(sides)
    diam = np.linalg.norm(estimates[:, 0] - estimates[:, 1], axis=-1)
    side = np.clip(sigma * diam, 0.08, 1.0)
    assert patches.shape == (2 * 4, p, p, 3) and sides.shape == (2, 4, 1)
    np.testing.assert_allclose(sides[..., 0], np.repeat(side[:, None], 4, axis=1), rtol=1e-6)
    # Every sample lies inside the image: no padding involved.
    x, y = _sample_positions(estimates, side * S, p)
    assert x.min() >= 0 and y.min() >= 0 and x.max() <= S - 1 and y.max() <= S - 1
    ref = _crop_and_resize_reference(images, estimates, side * S, p)
    np.testing.assert_allclose(patches, ref, atol=1e-4)
    # The joint-major order: patch n * K + k is joint k of image n.
    np.testing.assert_allclose(patches[4 + 3], ref[4 + 3], atol=1e-4)


def test_joint_patches_zero_padding_outside_the_image():
    rng = np.random.default_rng(1)
    images = rng.uniform(0.5, 1.5, (1, S, S, 3)).astype("float32")  # no zero pixel in the image
    c = (S - 1) / 2.0
    estimates = np.array([[
        [-0.2, 0.0], [0.2, 0.1],          # torso, diam ~0.41, side 0.41 * 32 ~ 13 px
        [1.5, -1.5],                       # centred far outside: every sample > 1 px away
        [(0 - c) / S, (3 - c) / S],        # centred on the left edge: the left half is padding
        [(S - 1 - c) / S, (S - 1 - c) / S],  # bottom-right corner
    ]], "float32")
    p = 8
    layer = JointPatches(p, 1.0, torso=(0, 1))
    patches = np.asarray(layer(tf.constant(images), tf.constant(estimates))[0])
    side_px = np.clip(np.linalg.norm(estimates[0, 0] - estimates[0, 1]), 0.08, 1.0) * S * np.ones(1)
    x, y = _sample_positions(estimates, side_px, p)
    np.testing.assert_array_equal(patches[2], np.zeros_like(patches[2]))
    # Zero wherever the sample is at least 1 px outside the image on either axis.
    far = ((x[0][:, None, :] <= -1) | (x[0][:, None, :] >= S) |
           (y[0][:, :, None] <= -1) | (y[0][:, :, None] >= S))  # (K, P rows, P cols)
    assert far[3].any() and (~far[3]).any() and far[4].any() and (~far[4]).any()
    assert np.all(patches[far] == 0)
    assert np.all(patches[~far] > 0)
    # Bilinear with zero padding everywhere: crop_and_resize of the zero-padded image.
    ref = _crop_and_resize_reference(images, estimates, side_px, p, pad=3)
    np.testing.assert_allclose(patches, ref, atol=1e-4)


def test_joint_patch_sides_follow_the_torso_and_are_clamped():
    images = np.zeros((3, S, S, 3), "float32")
    estimates = np.zeros((3, 3, 2), "float32")
    estimates[0, 1] = (0.3, 0.4)    # diam 0.5 -> 1.5 * 0.5 = 0.75
    estimates[1, 1] = (0.0, 0.001)  # diam 0.001 -> clamped to min_side
    estimates[2, 1] = (0.6, 0.8)    # diam 1.0 -> 1.5, clamped to max_side
    estimates[:, 2] = (0.3, -0.3)   # a non-torso joint does not matter
    layer = JointPatches(4, 1.5, torso=(0, 1), min_side=0.1, max_side=0.9)
    sides = np.asarray(layer(tf.constant(images), tf.constant(estimates))[1])
    assert sides.shape == (3, 3, 1)
    np.testing.assert_allclose(sides[..., 0], [[0.75] * 3, [0.1] * 3, [0.9] * 3], rtol=1e-5)
    # The torso is the one of the layer: other joints give another diameter.
    other = JointPatches(4, 1.5, torso=(0, 2), min_side=0.0, max_side=10.0)
    sides = np.asarray(other(tf.constant(images), tf.constant(estimates))[1])
    np.testing.assert_allclose(sides[..., 0], np.full((3, 3), 1.5 * np.hypot(0.3, 0.3)), rtol=1e-5)


def test_deeppose_crop_uses_the_skeleton_torso():
    model = _tiny()
    assert model.crops[0].torso == (9, 2)  # lsp14: left_shoulder, right_hip
    assert model.crops[0].sigma == TINY["sigma"] and model.crops[0].patch_size == TINY["patch_size"]


def test_bilinear_weights_rows():
    centres = np.array([5.0, 0.0, 40.0], "float32")
    sides = np.array([4.0, 4.0, 4.0], "float32")
    w = np.asarray(bilinear_weights(tf.constant(centres), tf.constant(sides), 10, 4))
    assert w.shape == (3, 4, 10)
    # Window 0: samples at 3.5, 4.5, 5.5, 6.5, each split evenly between two pixels.
    expected = np.zeros((4, 10))
    for j, pos in enumerate([3.5, 4.5, 5.5, 6.5]):
        expected[j, int(pos)] = expected[j, int(pos) + 1] = 0.5
    np.testing.assert_allclose(w[0], expected, atol=1e-6)
    # Window 1 at the edge: samples -1.5 and -0.5 are (partly) padding.
    np.testing.assert_allclose(w[1].sum(axis=1), [0.0, 0.5, 1.0, 1.0], atol=1e-6)
    np.testing.assert_array_equal(w[2], np.zeros((4, 10)))


def test_joint_patches_config():
    layer = JointPatches(8, 0.7, torso=(9, 2), min_side=0.1, max_side=0.8, name="crop")
    clone = JointPatches.from_config(layer.get_config())
    assert (clone.patch_size, clone.sigma, clone.torso, clone.min_side, clone.max_side, clone.name) == \
        (8, 0.7, (9, 2), 0.1, 0.8, "crop")
    with pytest.raises(ValueError, match="got 3"):
        JointPatches(3, 1.0, torso=(0, 1))
    with pytest.raises(ValueError, match="got 0"):
        JointPatches(8, 0, torso=(0, 1))


# -- config and serialisation ----------------------------------------------------------------
def test_config_round_trip_same_outputs(tiny_model):
    config = tiny_model.get_config()
    for key, value in TINY.items():
        assert (list(config[key]) if isinstance(value, tuple) else config[key]) == \
            (list(value) if isinstance(value, tuple) else value), key
    assert config["skeleton"] == "lsp14"
    clone = DeepPose.from_config(config)
    clone.build((None, S, S, 3))
    assert clone.get_config() == config
    x = _images(2, seed=3)
    fresh = np.asarray(clone(x, training=False))
    clone.set_weights(tiny_model.get_weights())
    a = np.asarray(tiny_model(x, training=False))
    b = np.asarray(clone(x, training=False))
    assert not np.allclose(fresh, a, atol=1e-4), "the weights copy must matter"
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(np.asarray(clone.error_mean), np.asarray(tiny_model.error_mean))
    np.testing.assert_array_equal(np.asarray(clone.error_std), np.asarray(tiny_model.error_std))


def test_keras_file_round_trip(tiny_model, keras_round_trip):
    loaded = keras_round_trip(tiny_model, _images(2, seed=4))
    # The error statistics (non-trainable) travel with the file.
    assert np.abs(np.asarray(tiny_model.error_mean)).max() > 0
    np.testing.assert_array_equal(np.asarray(loaded.error_mean), np.asarray(tiny_model.error_mean))
    np.testing.assert_array_equal(np.asarray(loaded.error_std), np.asarray(tiny_model.error_std))
    assert not loaded.error_mean.trainable and not loaded.error_std.trainable


def test_tiny_experiment_builds_the_model():
    from training.experiments import get_experiment
    from training.loop import build_model
    from training.losses import intermediate_regression_mse, loss_and_stage_metrics

    exp = get_experiment("deeppose_tiny")
    model = build_model(exp)
    assert isinstance(model, DeepPose)
    assert (model.num_stages, model.filters, model.patch_size, model.input_size) == (2, (8, 8, 8), 8, 32)
    loss, metrics = loss_and_stage_metrics(model.codec, 1)
    assert loss is intermediate_regression_mse and [m.__name__ for m in metrics] == ["stage1_loss"]
    assert model.codec.to_dict() == {"type": "regression", "input_size": 32}


# -- stage-wise training ---------------------------------------------------------------------
def _ids(variables):
    return {id(v) for v in variables}


def test_freeze_all_but_one_stage():
    model = _tiny()
    model.freeze_all_but(1)
    assert model.initial.trainable and not model.refiners[0].trainable and not model.crops[0].trainable
    assert _ids(model.trainable_weights) == _ids(model.initial.trainable_weights)
    assert len(model.trainable_weights) > 0
    # While stage 1 trains, call returns stage 1 only.
    assert tuple(model(_images(1), training=False).shape) == (1, 1, K, 2)
    model.freeze_all_but(2)
    assert not model.initial.trainable and model.refiners[0].trainable
    assert _ids(model.trainable_weights) == _ids(model.refiners[0].trainable_weights)
    model.end_phases()  # inference: every stage
    assert tuple(model(_images(1), training=False).shape) == (1, 2, K, 2)


def test_imagenet_backbone_is_part_of_stage_1():
    """With ``backbone``, the holistic regressor reads EfficientNet-Lite's stride-32 features; the
    backbone trains with stage 1 and is frozen with it while the cascade stage trains."""
    keras.utils.set_random_seed(0)
    model = DeepPose(**{**TINY, "backbone": "lite0", "filters": (), "input_size": 64})
    assert model.backbone.feature_strides == (32,) and model.mean == (127.0 / 255.0,) * 3
    assert tuple(model(_images(2, 64), training=False).shape) == (2, 2, K, 2)
    model.freeze_all_but(1)
    assert _ids(model.trainable_weights) == _ids(model.backbone.trainable_weights + model.initial.trainable_weights)
    model.freeze_all_but(2)
    assert not model.backbone.trainable
    assert _ids(model.trainable_weights) == _ids(model.refiners[0].trainable_weights)
    config = model.get_config()
    assert config["backbone"] == "lite0"
    clone = DeepPose.from_config(config)
    clone.build()
    clone.set_weights(model.get_weights())
    x = _images(2, 64)
    np.testing.assert_allclose(np.asarray(clone(x, training=False)), np.asarray(model(x, training=False)),
                               rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("stage", [0, 3, -1])
def test_freeze_all_but_rejects_unknown_stages(stage):
    with pytest.raises(ValueError, match=f"got {stage}"):
        _tiny().freeze_all_but(stage)


def test_stage_1_loss_decreases_on_one_batch():
    from training.losses import intermediate_regression_mse

    model = _tiny(seed=3)
    model.freeze_all_but(1)
    images, targets, weights = _regression_batch(4, seed=2, unlabelled=[(1, 4)])
    model.compile(optimizer=keras.optimizers.Adam(3e-3), loss=intermediate_regression_mse, jit_compile=False)
    history = model.fit(images, targets, sample_weight=weights, batch_size=4, epochs=30, shuffle=False,
                        verbose=0)
    losses = history.history["loss"]
    assert len(losses) == 30 and np.all(np.isfinite(losses))
    assert losses[-1] < 0.5 * losses[0], losses


def test_stage_2_training_changes_only_stage_2():
    from training.losses import intermediate_regression_mse

    model = _tiny(seed=4)
    _randomise_outputs(model, seed=4, scale=0.1)
    images, targets, weights = _regression_batch(4, seed=3, unlabelled=[(0, 1)])
    model.freeze_all_but(2)
    rng = np.random.default_rng(5)  # stage 1's error statistics: simulated errors have a spread
    model.set_error_statistics(1, rng.normal(0, 0.02, (K, 2)), rng.uniform(0.01, 0.05, (K, 2)))
    assert np.asarray(model.error_std).max() > 0
    stage1_before = [np.array(w) for w in model.initial.weights]  # BN statistics included
    stage2_before = [np.array(w) for w in model.refiners[0].trainable_weights]
    model.compile(optimizer=keras.optimizers.Adam(1e-2), loss=intermediate_regression_mse, jit_compile=False)
    history = model.fit(images, targets, sample_weight=weights, batch_size=4, epochs=3, shuffle=False,
                        verbose=0)
    assert np.all(np.isfinite(history.history["loss"]))
    for before, after in zip(stage1_before, model.initial.weights):
        np.testing.assert_array_equal(before, np.asarray(after), err_msg=after.path)
    changed = [not np.array_equal(b, np.asarray(a)) for b, a in zip(stage2_before, model.refiners[0].trainable_weights)]
    assert all(changed), [w.path for w, c in zip(model.refiners[0].trainable_weights, changed) if not c]
    # The fitted model predicts both stages again once training is over.
    model.end_phases()
    assert tuple(model(images, training=False).shape) == (4, 2, K, 2)


# -- TFLite ----------------------------------------------------------------------------------
def test_tflite_float32_builtin_ops_and_parity(tiny_model, tmp_path):
    from edge.tflite import TFLiteRunner, convert
    from edge.tflite_conversion import check_builtin_only

    data = convert(tiny_model, "float32")
    ops = check_builtin_only(data)
    assert "BATCH_MATMUL" in ops
    assert not [o for o in ops if "CROP" in o.upper() or o.startswith("Flex") or "GATHER" in o]
    path = tmp_path / "deeppose.tflite"
    path.write_bytes(data)
    runner = TFLiteRunner(str(path), num_threads=1)
    assert runner.input_dtype == np.uint8 and runner.input_shape == (1, S, S, 3)
    x = _images(3, seed=5)
    kp, sc = runner.predict(x)
    ref_k, ref_s = tiny_model.predict_keypoints(x)
    assert np.abs(ref_k - (S - 1) / 2.0).max() > 0.1, "the test needs estimates away from the centre"
    np.testing.assert_allclose(kp, ref_k, atol=1e-3)
    np.testing.assert_allclose(sc, ref_s, atol=1e-6)


# -- argument checks -------------------------------------------------------------------------
@pytest.mark.parametrize("kwargs, value", [
    (dict(num_stages=0), "num_stages must be >= 1, got 0"),
    (dict(sigma=0.0), "sigma must be > 0, got 0.0"),
    (dict(sigma=-1.0), "got -1.0"),
    (dict(input_size=36), "input_size=36 must be divisible by 2**len(filters)=8"),
    (dict(patch_size=12, patch_filters=(8, 8, 8)), "patch_size=12"),
    (dict(patch_size=2, patch_filters=()), "patch_size must be >= 4, got 2"),
    (dict(input_size=0), "got 0"),
    (dict(mean=(0.5, 0.5)), "mean and std need 3 values"),
    (dict(backbone="alexnet"), "backbone must be empty or one of"),
    (dict(backbone="lite0", input_size=32), "input_size=32 must be divisible by 32 * 2**len(filters)=256"),
])
def test_invalid_arguments(kwargs, value):
    with pytest.raises(ValueError) as info:
        DeepPose(**{**TINY, **kwargs})
    assert value in str(info.value)
