"""Convolutional Pose Machine: shapes, centre map, config/serialisation round trips, argument
checks, prediction API and a short training run with intermediate supervision."""

import keras
import numpy as np
import pytest

from zoo.architectures import get_architecture
from zoo.architectures.cpm import CENTRE_SIGMA_FRACTION, ConvolutionalPoseMachine, centre_map

TINY = dict(num_stages=2, feature_filters=(8, 8, 16), stage_filters=8, kernel_size=3, input_size=32)
K = 14  # lsp14


def _images(n=2, size=32, seed=0):
    return np.random.default_rng(seed).integers(0, 256, size=(n, size, size, 3), dtype=np.uint8)


@pytest.fixture(scope="module")
def tiny_model():
    keras.utils.set_random_seed(0)
    model = ConvolutionalPoseMachine(**TINY)
    model.build((None, 32, 32, 3))
    # Non-trivial weights and BN statistics (the belief heads start at ~0 otherwise).
    rng = np.random.default_rng(0)
    model.set_weights([w + rng.normal(0, 0.05, w.shape).astype(w.dtype) if w.ndim else w
                       for w in model.get_weights()])
    return model


# -- shapes ----------------------------------------------------------------------------------
def test_output_shape_has_background_channel(tiny_model):
    out = tiny_model(_images(3), training=False)
    assert tuple(out.shape) == (3, 2, 8, 8, K + 1)
    assert get_architecture("cpm") is ConvolutionalPoseMachine


def test_heatmaps_drop_background(tiny_model):
    x = _images(2, seed=1)
    maps = np.asarray(tiny_model.heatmaps(x))
    assert maps.shape == (2, 8, 8, K)
    full = np.asarray(tiny_model(x, training=False))
    np.testing.assert_allclose(maps, full[:, -1, :, :, :K], rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("num_stages, skeleton, joints", [(1, "lsp14", 14), (3, "mpii16", 16)])
def test_output_shape_follows_stages_and_skeleton(num_stages, skeleton, joints):
    model = ConvolutionalPoseMachine(num_stages=num_stages, feature_filters=(4, 4, 8), stage_filters=4,
                                     kernel_size=3, input_size=16, skeleton=skeleton)
    assert tuple(model(_images(1, 16), training=False).shape) == (1, num_stages, 4, 4, joints + 1)
    assert len(model.stages) == num_stages - 1


def test_stage_keypoints_shapes_and_last_stage(tiny_model):
    x = _images(2, seed=2).astype("float32")
    kps, scores = (np.asarray(t) for t in tiny_model.stage_keypoints(x))
    assert kps.shape == (2, 2, K, 2) and scores.shape == (2, 2, K)
    last_k, last_s = (np.asarray(t) for t in tiny_model.keypoints(x))
    np.testing.assert_allclose(kps[:, -1], last_k, atol=1e-4)
    np.testing.assert_allclose(scores[:, -1], last_s, rtol=1e-5, atol=1e-5)
    # Scores are the joints' map maxima of each stage (the background map is never decoded).
    maps = np.asarray(tiny_model(x, training=False))[..., :K]
    np.testing.assert_allclose(scores, maps.max(axis=(2, 3)), rtol=1e-5, atol=1e-5)


def test_predict_keypoints_shapes_and_batching(tiny_model):
    x = _images(3, seed=3)
    kps, scores = tiny_model.predict_keypoints(x)
    assert kps.shape == (3, K, 2) and scores.shape == (3, K)
    assert kps.dtype == np.float32 and scores.dtype == np.float32
    assert kps.min() >= -1.5 and kps.max() <= 32.5
    k2, s2 = tiny_model.predict_keypoints(x, batch_size=2)  # batches of 2 and 1
    np.testing.assert_allclose(k2, kps, atol=1e-4)
    np.testing.assert_allclose(s2, scores, rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError, match=r"\(N, 32, 32, 3\)"):
        tiny_model.predict_keypoints(np.zeros((32, 32, 3), np.uint8))


# -- centre map ------------------------------------------------------------------------------
@pytest.mark.parametrize("size, sigma", [(8, 1.5), (9, 2.0), (32, 1.83)])
def test_centre_map_is_gaussian_at_the_middle(size, sigma):
    m = centre_map(size, sigma)
    assert m.shape == (1, size, size, 1) and m.dtype == np.float32
    m = m[0, :, :, 0]
    c = (size - 1) / 2.0
    yy, xx = np.mgrid[:size, :size]
    expected = np.exp(-((yy - c) ** 2 + (xx - c) ** 2) / (2 * sigma**2))
    np.testing.assert_allclose(m, expected, rtol=1e-6, atol=1e-7)
    # The maximum lies at the centre cell(s); symmetric under flips and transposition.
    peak = np.argwhere(m == m.max())
    np.testing.assert_allclose(peak.mean(axis=0), (c, c))
    assert np.all(np.abs(peak - c) <= 0.5)
    if size % 2:
        assert m[int(c), int(c)] == pytest.approx(1.0)
    np.testing.assert_allclose(m, m[::-1], atol=1e-7)
    np.testing.assert_allclose(m, m[:, ::-1], atol=1e-7)
    np.testing.assert_allclose(m, m.T, atol=1e-7)
    # Decays away from the centre: the corner is the minimum, the profile falls monotonically.
    assert m.min() == m[0, 0] == pytest.approx(np.exp(-2 * c**2 / (2 * sigma**2)), rel=1e-5)
    half = m[int(np.ceil(c)), int(np.ceil(c)):]
    assert np.all(np.diff(half) < 0)


def test_model_centre_map_sigma_scales_with_input(tiny_model):
    # 21 px on a 368 px input in the paper; in heatmap cells at stride 4.
    expected = centre_map(8, CENTRE_SIGMA_FRACTION * 32 / 4)
    np.testing.assert_array_equal(tiny_model._centre, expected)


def test_later_stages_see_the_centre_map(tiny_model):
    """Changing the centre map changes stage 2 but not stage 1 (image evidence only)."""
    x = _images(2, seed=4)
    before = np.asarray(tiny_model(x, training=False))
    saved = tiny_model._centre
    try:
        tiny_model._centre = np.zeros_like(saved)
        after = np.asarray(tiny_model(x, training=False))
    finally:
        tiny_model._centre = saved
    np.testing.assert_allclose(after[:, 0], before[:, 0], rtol=1e-6, atol=1e-6)
    assert not np.allclose(after[:, 1], before[:, 1], atol=1e-6)


# -- config and serialisation ----------------------------------------------------------------
def test_config_round_trip_same_outputs(tiny_model):
    config = tiny_model.get_config()
    assert config["num_stages"] == 2 and list(config["feature_filters"]) == [8, 8, 16]
    assert config["stage_filters"] == 8 and config["kernel_size"] == 3
    assert config["input_size"] == 32 and config["skeleton"] == "lsp14" and config["stride"] == 4
    clone = ConvolutionalPoseMachine.from_config(config)
    clone.build((None, 32, 32, 3))
    assert clone.get_config() == config
    x = _images(2, seed=5)
    fresh = np.asarray(clone(x, training=False))
    clone.set_weights(tiny_model.get_weights())
    a = np.asarray(tiny_model(x, training=False))
    b = np.asarray(clone(x, training=False))
    assert not np.allclose(fresh, a, atol=1e-4), "the weights copy must matter"
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)


def test_keras_file_round_trip(tiny_model, keras_round_trip):
    keras_round_trip(tiny_model, _images(2, seed=6))


def test_tiny_experiment_builds_the_model():
    from training.experiments import get_experiment
    from training.loop import build_model
    from training.losses import intermediate_heatmap_mse, loss_and_stage_metrics

    exp = get_experiment("cpm_tiny")
    model = build_model(exp)
    assert isinstance(model, ConvolutionalPoseMachine)
    assert (model.num_stages, model.feature_filters, model.stage_filters, model.kernel_size) == (2, (8, 8, 16), 8, 3)
    loss, metrics = loss_and_stage_metrics(model.codec, model.num_stages)
    assert loss is intermediate_heatmap_mse
    assert [m.__name__ for m in metrics] == ["stage1_loss", "stage2_loss"]


# -- ImageNet feature stage (#14) ---------------------------------------------------------------
def test_backbone_feature_stage_gives_stride_8_beliefs():
    """With ``backbone``, the features come from EfficientNet-Lite (strides 8 + 16): beliefs at
    stride 8, its ImageNet normalisation, no VGG-style extractor; the config round-trips."""
    keras.utils.set_random_seed(0)
    model = ConvolutionalPoseMachine(**{**TINY, "input_size": 64, "backbone": "lite0"})
    assert model.stride == 8 and model.heatmap_size == 8
    assert model.mean == (127.0 / 255.0,) * 3 and model.std == (128.0 / 255.0,) * 3
    x = _images(2, 64, seed=7)
    out = np.asarray(model(x, training=False))
    assert out.shape == (2, 2, 8, 8, K + 1)
    assert [layer.name for layer in model.features] == ["features_cpm"]
    assert model.backbone.feature_strides == (8, 16)
    config = model.get_config()
    assert config["backbone"] == "lite0" and config["stride"] == 8
    clone = ConvolutionalPoseMachine.from_config(config)
    clone.build()
    clone.set_weights(model.get_weights())
    np.testing.assert_allclose(np.asarray(clone(x, training=False)), out, rtol=1e-5, atol=1e-5)


# -- argument checks -------------------------------------------------------------------------
@pytest.mark.parametrize("kwargs, value", [
    (dict(kernel_size=4), "kernel_size must be a positive odd number, got 4"),
    (dict(kernel_size=0), "got 0"),
    (dict(num_stages=0), "num_stages must be >= 1, got 0"),
    (dict(stride=8), "stride=8"),
    (dict(stride=2), "stride=2"),
    (dict(feature_filters=(8, 8)), "(8, 8)"),
    (dict(feature_filters=(8, 1, 8)), "(8, 1, 8)"),
    (dict(input_size=30), "30"),
    (dict(backbone="vgg19"), "backbone must be empty or one of"),
    (dict(backbone="lite0", stride=4), "with a backbone has output stride 8, got stride=4"),
    (dict(backbone="lite0", input_size=40), "input_size=40 must be a multiple of 16"),
])
def test_invalid_arguments(kwargs, value):
    with pytest.raises(ValueError) as info:
        ConvolutionalPoseMachine(**{**TINY, **kwargs})
    assert value in str(info.value)


# -- training ----------------------------------------------------------------------------------
def test_a_few_steps_on_one_batch_reduce_the_loss():
    import tensorflow as tf

    from training.losses import intermediate_heatmap_mse
    from zoo.codecs import HeatmapCodec

    keras.utils.set_random_seed(1)
    rng = np.random.default_rng(1)
    images = rng.integers(0, 256, (4, 32, 32, 3), dtype=np.uint8)
    keypoints = rng.uniform(2, 29, (4, K, 2)).astype("float32")
    visible = np.ones((4, K), "float32")
    visible[0, :3] = 0  # unlabelled joints carry no loss
    codec = HeatmapCodec(32, 8, 1.0)
    encoded = [codec.encode(tf.constant(k), tf.constant(v)) for k, v in zip(keypoints, visible)]
    targets = np.stack([m.numpy() for m, _ in encoded])
    weights = np.stack([w.numpy() for _, w in encoded])
    assert targets.shape == (4, 8, 8, K) and weights.shape == (4, K)
    assert weights[0, :3].sum() == 0 and targets[0, ..., :3].max() == 0

    model = ConvolutionalPoseMachine(**TINY)
    model.compile(optimizer=keras.optimizers.Adam(3e-3), loss=intermediate_heatmap_mse, jit_compile=False)
    history = model.fit(images, targets, sample_weight=weights, batch_size=4, epochs=30,
                        shuffle=False, verbose=0)
    losses = history.history["loss"]
    assert len(losses) == 30 and np.all(np.isfinite(losses))
    assert losses[-1] < 0.5 * losses[0], losses
