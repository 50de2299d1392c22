"""Tompson et al. 2015: shapes, stages, the exact feature crops, refined = window centre + fine
offset, the fine targets and loss, config round trips, argument checks, TFLite export."""

import numpy as np
import pytest

from zoo.architectures import get_architecture
from zoo.architectures.tompson2015 import FeatureWindows, Tompson2015, gaussian_centres
from zoo.codecs.heatmap import HeatmapCodec

S, K, H = 32, 16, 8
TINY = dict(bank_filters=(8, 8, 8), context_kernel=5, num_scales=3, head_filters=8, window=8, fine_filters=8,
            input_size=S, skeleton="mpii16")


def _images(n=2, seed=0):
    return np.random.default_rng(seed).integers(0, 256, size=(n, S, S, 3), dtype=np.uint8)


@pytest.fixture(scope="module")
def tiny_model():
    import keras

    keras.utils.set_random_seed(0)
    model = Tompson2015(**TINY)
    model.build()
    # Weights away from their construction values (small output layers, unit BN statistics), so the
    # maps have distinct maxima and inference differs from a fresh model.
    rng = np.random.default_rng(0)
    model.set_weights([w + rng.normal(0, 0.3, w.shape).astype(w.dtype) if w.ndim else w
                       for w in model.get_weights()])
    return model


def test_shapes_and_registry(tiny_model):
    x = _images(3)
    assert tuple(tiny_model(x, training=False).shape) == (3, 2, H, H, K)
    kp, sc = tiny_model.stage_keypoints(x)
    assert tuple(kp.shape) == (3, 2, K, 2) and tuple(sc.shape) == (3, 2, K)
    assert tiny_model.num_stages == 2
    coarse, fine = tiny_model.raw_outputs(x)
    assert tuple(coarse.shape) == tuple(fine.shape) == (3, H, H, K)
    assert tuple(tiny_model.heatmaps(x).shape) == (3, H, H, K)
    k, s = tiny_model.predict_keypoints(x)
    assert k.shape == (3, K, 2) and s.shape == (3, K)
    assert get_architecture("tompson2015") is Tompson2015
    preset = Tompson2015(**{**TINY, "num_scales": 1, "window": 2, "skeleton": "lsp14"})
    assert tuple(preset(x[:1], training=False).shape) == (1, 2, H, H, 14)


def test_stages_are_the_coarse_decoding_and_the_refinement(tiny_model):
    x = _images(2, seed=1)
    kp, sc = (np.asarray(t) for t in tiny_model.stage_keypoints(x))
    coarse, _, fine = tiny_model.cascade(tiny_model.normalise(x), training=False)
    ref_kp, ref_sc = tiny_model.decoder(coarse)
    np.testing.assert_allclose(kp[:, 0], np.asarray(ref_kp), atol=1e-5)
    np.testing.assert_allclose(sc[:, 0], np.asarray(ref_sc), atol=1e-6)
    last_kp, last_sc = tiny_model.keypoints(x)
    np.testing.assert_allclose(kp[:, 1], np.asarray(last_kp), atol=1e-5)
    np.testing.assert_allclose(sc[:, 1], np.asarray(fine).max(axis=(1, 2)), atol=1e-6)
    assert np.abs(kp[:, 1] - kp[:, 0]).max() > 0.5, "the refinement must move some joints"


def _argmax_cells(maps):
    """``(N, H, W, K)`` -> argmax ``(x, y)`` cells and the quarter shift toward the larger neighbour."""
    n, h, w, k = maps.shape
    flat = maps.transpose(0, 3, 1, 2).reshape(n, k, h * w)
    idx = flat.argmax(-1)
    y, x = np.divmod(idx, w)
    padded = np.pad(maps, ((0, 0), (1, 1), (1, 1), (0, 0)))
    q = np.zeros((n, k, 2))
    for i in range(n):
        for j in range(k):
            py, px = y[i, j] + 1, x[i, j] + 1
            q[i, j, 0] = 0.25 * np.sign(padded[i, py, px + 1, j] - padded[i, py, px - 1, j])
            q[i, j, 1] = 0.25 * np.sign(padded[i, py + 1, px, j] - padded[i, py - 1, px, j])
    return np.stack([x, y], -1).astype(float), q


def test_refined_is_window_centre_plus_fine_offset(tiny_model):
    x = _images(2, seed=2)
    coarse, centres, fine = (np.asarray(t) for t in tiny_model.cascade(tiny_model.normalise(x), training=False))
    # Window centre: the coarse maximum's cell border on the side of its larger neighbour
    # (stride 4: cell u covers 4u - 0.5 .. 4u + 3.5).
    cells, q = _argmax_cells(coarse)
    np.testing.assert_allclose(centres, 4 * (cells + (q >= 0)) - 0.5, atol=1e-5)
    # Offset: the fine maximum (plus its quarter shift) from the window's middle, 1 px per fine cell here.
    fine_cells, q = _argmax_cells(fine)
    offsets = (fine_cells + q + 0.5 - H / 2) * (TINY["window"] / H)
    refined, _ = tiny_model.keypoints(x)
    np.testing.assert_allclose(np.asarray(refined), centres + offsets, atol=1e-4)


def test_the_crop_is_an_exact_copy_of_the_feature_cells():
    """Windows centred on coarse cell borders cut whole cells of the stride-2 and stride-4
    features: the crop is a copy of those cells (zeros outside the map), as the paper's crops."""
    rng = np.random.default_rng(3)
    f2 = rng.normal(size=(2, 16, 16, 3)).astype("float32")  # stride 2 of a 32 px input
    f4 = rng.normal(size=(2, 8, 8, 5)).astype("float32")  # stride 4
    layer = FeatureWindows(8, strides=(2, 4))
    cells = np.array([[[3, 2], [0, 7]], [[7, 7], [4, 1]]])  # (N, K=2, 2) coarse cells (x, y)
    centres = (4 * cells - 0.5).astype("float32")
    crops = [np.asarray(c) for c in layer([f2, f4], centres)]
    assert crops[0].shape == (4, 4, 4, 3) and crops[1].shape == (4, 2, 2, 5)
    for features, crop, stride in ((f2, crops[0], 2), (f4, crops[1], 4)):
        side = 8 // stride
        padded = np.pad(features, ((0, 0), (side, side), (side, side), (0, 0)))
        for n in range(2):
            for k in range(2):
                # First cell of the window: the centre's cell minus half the side.
                cx, cy = ((centres[n, k] + 0.5) / stride - 0.5 - (side - 1) / 2).round().astype(int)
                expected = padded[n, cy + side:cy + 2 * side, cx + side:cx + 2 * side]
                np.testing.assert_allclose(crop[n * 2 + k], expected, atol=1e-6)


def test_gaussian_centres_invert_the_codec_even_at_the_border():
    codec = HeatmapCodec(input_size=S, heatmap_size=H, sigma=1.5)
    truth = np.array([[3.3, 17.8], [0.2, 30.9], [31.4, 0.6], [12.0, 12.0]], "float32")
    maps, _ = codec.encode(truth, np.ones(4))
    cells = np.asarray(gaussian_centres(np.asarray(maps)[None], 1.5))[0]
    np.testing.assert_allclose((cells + 0.5) * 4 - 0.5, truth, atol=2e-3)


def test_fine_targets_and_weights(tiny_model):
    codec = tiny_model.codec
    truth = np.zeros((K, 2), "float32") + 16.0
    truth[0] = [10.3, 20.6]  # inside its window
    truth[1] = [2.0, 2.0]  # outside its window
    truth[2] = [12.0, 12.0]  # unlabelled
    visible = np.ones(K, "float32")
    visible[2] = 0
    maps, weights = codec.encode(truth, visible)
    centres = np.full((1, K, 2), 13.5, "float32")
    centres[0, 0] = [9.5, 21.5]
    targets, w = (np.asarray(t) for t in tiny_model.fine_targets(np.asarray(maps)[None], centres,
                                                                  np.asarray(weights)[None]))
    assert w[0, 0] == 1 and w[0, 1] == 0 and w[0, 2] == 0 and w[0, 3] == 1
    assert not targets[0, ..., 1].any() and targets[0, ..., 0].max() > 0.8
    # The Gaussian's centre in the window: (truth - centre) / 1 px + H / 2 - 0.5 cells.
    cells = np.asarray(gaussian_centres(targets[:, :, :, :1], tiny_model.fine_sigma))[0, 0]
    np.testing.assert_allclose(cells, truth[0] - centres[0, 0] + H / 2 - 0.5, atol=2e-3)


def test_loss_is_coarse_mse_plus_weighted_fine_mse(tiny_model):
    from training.losses import intermediate_heatmap_mse

    model = Tompson2015.from_config(tiny_model.get_config())
    model.build()
    model.set_weights(tiny_model.get_weights())
    model.compile(optimizer="adam", loss=intermediate_heatmap_mse, jit_compile=False)
    x = _images(2, seed=4)
    y_pred = model(x, training=False)
    # Truths near the windows' centres (most inside their windows), a few far away (outside).
    rng = np.random.default_rng(4)
    truth = np.asarray(model.window_centres(y_pred[:, 0])) + rng.uniform(-3, 3, (2, K, 2))
    truth[1, :3] = 40.0 - truth[1, :3]
    encoded = [model.codec.encode(np.clip(t, 0, S - 1), np.ones(K)) for t in truth]
    y = np.stack([np.asarray(m) for m, _ in encoded])
    w = np.stack([np.asarray(v) for _, v in encoded])
    w[0, :4] = 0  # unlabelled joints carry no loss
    total = float(model.compute_loss(x=x, y=y, y_pred=y_pred, sample_weight=w, training=False))
    coarse = float(np.mean(np.asarray(intermediate_heatmap_mse(y, y_pred[:, :1])) * w))
    fine = float(model.fine_loss(y, y_pred, w))
    assert fine > 0
    assert total == pytest.approx(coarse + fine, rel=1e-5)
    # The fine loss reaches the fine model and, through the crops, the shared features of the banks.
    import tensorflow as tf

    with tf.GradientTape(persistent=True) as tape:
        y_pred = model(x, training=True)
        fine = model.fine_loss(y, y_pred, w)
    for variables in (model.fine.trainable_weights, model.banks[0].conv2.trainable_weights):
        grads = tape.gradient(fine, variables)
        assert any(g is not None and float(tf.reduce_max(tf.abs(g))) > 0 for g in grads)


def test_stage2_loss_metric_is_the_fine_loss(tiny_model):
    """Training reports stage 2's loss as the model's own fine loss (``own_stage_errors``), in
    ``fit`` / ``evaluate`` and in the validation callback, not the coarse targets against the
    fine maps; stage 1 keeps the codec's heatmap error."""
    import tensorflow as tf

    from training.callbacks import validation_loss
    from training.losses import intermediate_heatmap_mse, loss_and_stage_metrics

    model = Tompson2015.from_config(tiny_model.get_config())
    model.build()
    model.set_weights(tiny_model.get_weights())
    loss, metrics = loss_and_stage_metrics(model.codec, model.num_stages, own_errors=model.own_stage_errors())
    model.compile(optimizer="adam", loss=loss, weighted_metrics=metrics, jit_compile=False)
    x = _images(2, seed=5)
    y_pred = model(x, training=False)
    rng = np.random.default_rng(5)
    truth = np.asarray(model.window_centres(y_pred[:, 0])) + rng.uniform(-3, 3, (2, K, 2))
    truth[1, :3] = 40.0 - truth[1, :3]  # outside their windows: no fine loss
    encoded = [model.codec.encode(np.clip(t, 0, S - 1), np.ones(K)) for t in truth]
    y = np.stack([np.asarray(m) for m, _ in encoded])
    w = np.stack([np.asarray(v) for _, v in encoded]).astype("float32")
    assert w.all()
    fine = float(model.fine_loss(y, y_pred, w))
    coarse = float(np.sum(np.asarray(intermediate_heatmap_mse(y, y_pred[:, :1])) * w) / w.sum())
    result = model.evaluate(x, y, sample_weight=w, batch_size=2, verbose=0, return_dict=True)
    assert result["stage2_loss"] == pytest.approx(fine, rel=1e-5)
    assert result["stage1_loss"] == pytest.approx(coarse, rel=1e-5)
    assert abs(result["stage2_loss"] - result["stage1_loss"]) > 0.1 * max(fine, coarse)
    # The validation callback's val_stage<k>_loss: the same metrics, averaged over labelled joints
    # (here the unlabelled joints of the first crop weigh nothing, as in the fine loss).
    w[0, :4] = 0
    val = validation_loss(model, tf.data.Dataset.from_tensor_slices((x, y, w)).batch(2), metrics)
    labelled_mean = float(model.fine_loss(y, y_pred, w)) * w.size / w.sum()
    assert val["stage2_loss"] == pytest.approx(labelled_mean, rel=1e-5)
    assert val["stage2_loss"] != pytest.approx(val["stage1_loss"], rel=0.1)


def test_config_round_trip(tiny_model, keras_round_trip):
    config = tiny_model.get_config()
    assert config["window"] == 8 and config["bank_filters"] == [8, 8, 8] and config["skeleton"] == "mpii16"
    clone = Tompson2015.from_config(config)
    clone.build()
    assert clone.get_config() == config
    clone.set_weights(tiny_model.get_weights())
    x = _images(2, seed=5)
    np.testing.assert_allclose(np.asarray(clone(x, training=False)), np.asarray(tiny_model(x, training=False)),
                               atol=1e-5)
    keras_round_trip(tiny_model, x)


@pytest.mark.parametrize("kwargs, message", [
    (dict(stride=8), "stride=8"),
    (dict(flip_test=True), "flip_test=True"),
    (dict(bank_filters=(8, 8)), "(8, 8)"),
    (dict(num_scales=4), "got 4"),
    (dict(spatial_dropout=1.0), "got 1.0"),
    (dict(window=12), "window=12"),
    (dict(window=0), "window=0"),
    (dict(input_size=36), "input_size=36"),
    (dict(fine_sigma=0.0), "got 0.0"),
    (dict(head_filters=0), "got 5, 0, 8"),
])
def test_bad_arguments_name_the_value(kwargs, message):
    with pytest.raises(ValueError) as err:
        Tompson2015(**{**TINY, **kwargs})
    assert message in str(err.value)


def test_tflite_float32_builtin_ops_and_parity(tiny_model):
    from edge.tflite import TFLiteRunner, convert
    from edge.tflite_conversion import check_builtin_only

    data = convert(tiny_model, "float32")
    ops = check_builtin_only(data)
    assert "BATCH_MATMUL" in ops and "CONV_2D" in ops
    assert not [o for o in ops if "CROP" in o.upper() or o.startswith("Flex") or "GATHER" in o or o == "CUSTOM"]
    x = _images(3, seed=6)
    kp, sc = TFLiteRunner(data, num_threads=1).predict(x)
    ref_kp, ref_sc = tiny_model.predict_keypoints(x)
    np.testing.assert_allclose(kp, ref_kp, atol=1e-3)
    np.testing.assert_allclose(sc, ref_sc, rtol=1e-5, atol=1e-4)


def test_a_frozen_coarse_model_runs_as_at_inference():
    """``freeze_coarse``: the coarse layers stop training, and a training-mode call gives the
    coarse maps of inference (no SpatialDropout, BatchNorm statistics), while the fine model still
    trains; unfreezing restores both."""
    model = Tompson2015(**{**TINY, "spatial_dropout": 0.5})
    model.build()
    x = model.normalise(_images())
    model.freeze_coarse()
    assert not any(layer.trainable for layer in model.coarse_layers()) and model.fine.trainable
    np.testing.assert_array_equal(np.asarray(model.coarse(x, training=True)[0]),
                                  np.asarray(model.coarse(x, training=False)[0]))
    model.freeze_coarse(False)
    assert all(layer.trainable for layer in model.coarse_layers())
    assert not np.array_equal(np.asarray(model.coarse(x, training=True)[0]),
                              np.asarray(model.coarse(x, training=False)[0]))
