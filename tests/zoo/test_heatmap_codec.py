"""Gaussian heatmap codec: encode/decode round trip, weights, decoder layer."""

import keras
import numpy as np
import pytest

from zoo.codecs.heatmap import HeatmapCodec, HeatmapDecoder


def _random_joints(codec, n, k, seed):
    """Joints whose heatmap coordinates lie in [0, H-1] (away from the outer half cell).

    At the map border the decoder's zero-padded neighbour difference cannot tell which side the
    joint is on, so the quarter-cell bound below only holds inside.
    """
    rng = np.random.default_rng(seed)
    s = codec.stride
    lo = s / 2.0 - 0.5 + 1e-3                    # x_hm = 0
    hi = (codec.heatmap_size - 0.5) * s - 0.5 - 1e-3  # x_hm = H - 1
    return rng.uniform(lo, hi, size=(n, k, 2)).astype("float32")


def _encode_batch(codec, keypoints, visible):
    maps, weights = zip(*(codec.encode(kp, v) for kp, v in zip(keypoints, visible)))
    return np.stack([m.numpy() for m in maps]), np.stack([w.numpy() for w in weights])


@pytest.mark.parametrize("sigma", [1.5, 1.0])
def test_round_trip_within_quarter_cell(sigma):
    """Argmax + quarter shift: per-axis error <= stride / 4 (one quarter of a cell).

    With the true position at fractional offset f in [-0.5, 0.5] cells from the argmax cell, the
    decoder returns argmax + 0.25 sign(f): the error |f - 0.25 sign(f)| is at most 0.25 cells,
    i.e. stride / 4 = 1 input pixel at stride 4, and 0.125 cells (0.5 px) on average for uniform f
    (plain argmax would average 0.25 cells = 1 px).
    """
    codec = HeatmapCodec(128, 32, sigma)
    kps = _random_joints(codec, n=48, k=16, seed=0)
    vis = np.ones(kps.shape[:2], "float32")
    maps, weights = _encode_batch(codec, kps, vis)
    assert maps.shape == (48, 32, 32, 16)
    np.testing.assert_array_equal(weights, 1.0)
    decoded, scores = codec.decode(maps)
    decoded, scores = np.asarray(decoded), np.asarray(scores)
    assert decoded.shape == (48, 16, 2) and scores.shape == (48, 16)
    err = np.abs(decoded - kps)
    bound = codec.stride / 4.0 + 1e-3
    assert err.max() <= bound, f"max per-axis error {err.max():.4f} px > {bound}"
    assert np.linalg.norm(decoded - kps, axis=-1).max() <= np.sqrt(2) * bound
    assert err.mean() < 0.6, f"mean error {err.mean():.3f} px: the quarter shift is not helping"
    # Score is the peak value: exp(-d^2 / 2 sigma^2) with d <= sqrt(2)/2 cells from the argmax.
    assert scores.min() >= np.exp(-0.5 / (2 * sigma ** 2)) - 1e-5 and scores.max() <= 1.0 + 1e-6


def test_peak_is_one_at_cell_centre():
    codec = HeatmapCodec(128, 32, 1.5)
    # Cell (u=10, v=3) centre in input pixels: (u + 0.5) * 4 - 0.5.
    kps = np.array([[41.5, 13.5]], "float32")
    maps, weights = codec.encode(kps, np.ones(1, "float32"))
    maps = maps.numpy()
    assert weights.numpy().tolist() == [1.0]
    assert np.unravel_index(maps[..., 0].argmax(), (32, 32)) == (3, 10)
    assert maps[3, 10, 0] == pytest.approx(1.0)
    assert maps[3, 11, 0] == pytest.approx(np.exp(-1 / (2 * 1.5 ** 2)), rel=1e-5)


def test_unlabelled_and_outside_joints_get_no_target():
    codec = HeatmapCodec(128, 32, 1.5)
    kps = np.array([[60.0, 60.0],    # labelled, inside
                    [60.0, 60.0],    # unlabelled
                    [-10.0, 60.0],   # left of the crop
                    [60.0, 140.0],   # below the crop
                    [130.0, 5.0]],   # right of the crop
                   "float32")
    vis = np.array([1, 0, 1, 1, 1], "float32")
    maps, weights = codec.encode(kps, vis)
    maps, weights = maps.numpy(), weights.numpy()
    np.testing.assert_array_equal(weights, [1, 0, 0, 0, 0])
    assert maps[..., 0].max() > 0.9
    for j in range(1, 5):
        assert not maps[..., j].any(), f"joint {j} should have an all-zero map"


def test_decode_quarter_shift_toward_larger_neighbour():
    hm = np.zeros((1, 16, 16, 2), "float32")
    # Joint 0: peak at row 5, col 7; left > right, down > up.
    hm[0, 5, 7, 0] = 1.0
    hm[0, 5, 6, 0], hm[0, 5, 8, 0] = 0.6, 0.3
    hm[0, 4, 7, 0], hm[0, 6, 7, 0] = 0.2, 0.7
    # Joint 1: peak at row 2, col 9; right > left, up > down.
    hm[0, 2, 9, 1] = 0.8
    hm[0, 2, 8, 1], hm[0, 2, 10, 1] = 0.1, 0.5
    hm[0, 1, 9, 1], hm[0, 3, 9, 1] = 0.4, 0.0
    kps, scores = HeatmapDecoder(stride=4)(hm)
    kps, scores = np.asarray(kps), np.asarray(scores)
    # x_px = (x_hm + 0.5) * 4 - 0.5
    np.testing.assert_allclose(kps[0, 0], [(6.75 + 0.5) * 4 - 0.5, (5.25 + 0.5) * 4 - 0.5], atol=1e-5)
    np.testing.assert_allclose(kps[0, 1], [(9.25 + 0.5) * 4 - 0.5, (1.75 + 0.5) * 4 - 0.5], atol=1e-5)
    np.testing.assert_allclose(scores[0], [1.0, 0.8], atol=1e-6)


def test_decode_no_shift_on_equal_neighbours():
    hm = np.zeros((1, 8, 8, 1), "float32")
    hm[0, 3, 4, 0] = 1.0
    hm[0, 3, 3, 0] = hm[0, 3, 5, 0] = 0.5
    kps, _ = HeatmapDecoder(stride=2)(hm)
    np.testing.assert_allclose(np.asarray(kps)[0, 0], [(4 + 0.5) * 2 - 0.5, (3 + 0.5) * 2 - 0.5])


def test_decoder_serialization_round_trip():
    layer = HeatmapCodec(128, 32, 1.5).decoder(name="dec")
    assert layer.stride == 4
    config = layer.get_config()
    clone = HeatmapDecoder.from_config(config)
    assert clone.stride == 4 and clone.name == "dec"
    assert clone.get_config() == config
    restored = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(layer))
    assert isinstance(restored, HeatmapDecoder) and restored.stride == 4
    hm = np.random.default_rng(1).random((2, 8, 8, 3)).astype("float32")
    for a, b in zip(layer(hm), restored(hm)):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


@pytest.mark.parametrize("kwargs", [dict(input_size=0), dict(input_size=100, heatmap_size=32),
                                    dict(sigma=0.0)])
def test_invalid_codec_raises(kwargs):
    with pytest.raises(ValueError):
        HeatmapCodec(**kwargs)


def test_decoder_rejects_bad_stride():
    with pytest.raises(ValueError, match="0"):
        HeatmapDecoder(stride=0)


def test_decoder_blur_keeps_a_clean_peak_and_resists_a_noise_spike():
    """With ``blur_sigma`` the maximum of a smooth Gaussian stays where it was, while a single
    noisy cell slightly above the peak no longer wins (DARK-style modulation)."""
    import numpy as np

    from zoo.codecs.heatmap import HeatmapDecoder

    g = np.arange(16, dtype=np.float32)
    peak = np.exp(-((g[:, None] - 6) ** 2 + (g[None, :] - 9) ** 2) / (2 * 1.5 ** 2))
    noisy = peak.copy()
    noisy[12, 2] = 1.02  # one spike above the true peak (1.0)
    maps = np.stack([peak, noisy], axis=-1)[None]  # (1, 16, 16, 2)
    plain, _ = HeatmapDecoder(4)(maps)
    blurred, _ = HeatmapDecoder(4, blur_sigma=1.0)(maps)
    plain, blurred = np.asarray(plain)[0], np.asarray(blurred)[0]
    # cell (row 6, col 9) -> x = (9 + 0.5) * 4 - 0.5 = 37.5, y = 25.5, up to the quarter-cell
    # shift (1 px) that float rounding of a symmetric peak may trigger
    np.testing.assert_allclose(blurred[0], [37.5, 25.5], atol=1.01)
    np.testing.assert_allclose(plain[0], [37.5, 25.5], atol=1.01)
    np.testing.assert_allclose(plain[1], [(2 + 0.5) * 4 - 0.5, (12 + 0.5) * 4 - 0.5], atol=1.01)  # spike wins
    np.testing.assert_allclose(blurred[1], [37.5, 25.5], atol=1.01)  # blur: the peak wins
    assert HeatmapDecoder(4, blur_sigma=1.0).get_config()["blur_sigma"] == 1.0
    with pytest.raises(ValueError, match="-1"):
        HeatmapDecoder(4, blur_sigma=-1)


def test_dark_decoder_keeps_its_taylor_step_in_a_float16_tflite_file():
    """The float16 converter stores DARK's log floor as float16: a floor below float16's range
    (the authors' 1e-10) became 0, log(0) = -inf on every non-positive cell, and the file fell back
    to the quarter shift (1 px apart at stride 8 here)."""
    import tensorflow as tf
    from ai_edge_litert.interpreter import Interpreter

    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:32, 0:32]
    centres = rng.uniform(4, 28, (2, 5, 2))
    maps = 0.9 * np.exp(-((xx[None, :, :, None] - centres[:, None, None, :, 0]) ** 2
                          + (yy[None, :, :, None] - centres[:, None, None, :, 1]) ** 2) / (2 * 1.5 ** 2))
    maps = (maps + rng.normal(0, 0.01, maps.shape)).astype(np.float32)  # noise: negative cells
    decoder = HeatmapDecoder(stride=8, subpixel="dark")
    decode = tf.function(lambda m: decoder(m)[0], input_signature=[tf.TensorSpec(maps.shape, tf.float32)])
    converter = tf.lite.TFLiteConverter.from_concrete_functions([decode.get_concrete_function()])
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.target_spec.supported_types = [tf.float16]
    interpreter = Interpreter(model_content=converter.convert())
    interpreter.allocate_tensors()
    interpreter.set_tensor(interpreter.get_input_details()[0]["index"], maps)
    interpreter.invoke()
    keypoints = interpreter.get_tensor(interpreter.get_output_details()[0]["index"])
    np.testing.assert_allclose(keypoints, decode(maps).numpy(), atol=1e-3)
