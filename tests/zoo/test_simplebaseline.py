"""SimpleBaseline model, flip test and DARK decoding."""

import numpy as np
import pytest

from zoo.architectures.simplebaseline import SimpleBaseline
from zoo.codecs.heatmap import HeatmapCodec, HeatmapDecoder


def _tiny(**kwargs):
    import keras

    keras.utils.set_random_seed(0)
    args = dict(input_size=64, backbone_stride=16, deconv_layers=2, head_filters=16)
    model = SimpleBaseline(**{**args, **kwargs})
    model.build()
    # Large random output weights: distinct maxima, so the decoding is not decided by ties.
    model.final.kernel.assign(np.random.default_rng(0).normal(0, 0.5, model.final.kernel.shape).astype("float32"))
    return model


def test_shapes_stride_and_config_round_trip(keras_round_trip):
    model = _tiny()
    assert model.stride == 4 and model.heatmap_size == 16
    maps = model(np.zeros((2, 64, 64, 3), "uint8"))
    assert tuple(maps.shape) == (2, 1, 16, 16, 14)
    assert model.codec_config() == {"type": "heatmap", "input_size": 64, "heatmap_size": 16, "sigma": 1.5}
    keras_round_trip(model, np.random.default_rng(1).integers(0, 255, (2, 64, 64, 3)).astype("float32"))


def test_paper_head_is_three_deconvolutions_from_stride_32():
    model = SimpleBaseline(input_size=128)
    assert model.stride == 4 and len(model.deconvs) == 6


def test_bad_arguments_name_the_value():
    with pytest.raises(ValueError, match="backbone_stride"):
        SimpleBaseline(backbone_stride=12)
    with pytest.raises(ValueError, match="input_size=100"):
        SimpleBaseline(input_size=100, backbone_stride=32)
    with pytest.raises(ValueError, match="stride=8"):
        SimpleBaseline(input_size=128, backbone_stride=32, deconv_layers=3, stride=8)


def test_flip_test_is_mirror_equivariant():
    """With flip test, mirroring the image mirrors the keypoints and swaps left and right exactly."""
    model = _tiny(flip_test=True)
    images = np.random.default_rng(2).integers(0, 256, (3, 64, 64, 3)).astype("uint8")
    kp, scores = model.predict_keypoints(images)
    kp_m, scores_m = model.predict_keypoints(images[:, :, ::-1])
    swap = list(model.skeleton.flip_index)
    np.testing.assert_allclose(kp[..., 0], 63.0 - kp_m[:, swap, 0], atol=1e-4)
    np.testing.assert_allclose(kp[..., 1], kp_m[:, swap, 1], atol=1e-4)
    np.testing.assert_allclose(scores, scores_m[:, swap], atol=1e-6)
    # ... which the model without flip test is not.
    plain = _tiny()
    kp, _ = plain.predict_keypoints(images)
    kp_m, _ = plain.predict_keypoints(images[:, :, ::-1])
    assert np.abs(kp[..., 0] - (63.0 - kp_m[:, swap, 0])).max() > 1.0


def test_flip_test_averages_the_mirrored_maps():
    model = _tiny(flip_test=True)
    images = np.random.default_rng(3).integers(0, 256, (2, 64, 64, 3)).astype("float32")
    plain = np.asarray(model.heatmaps(images))
    mirrored = np.asarray(model.heatmaps(images[:, :, ::-1]))[:, :, ::-1][..., list(model.skeleton.flip_index)]
    expected = HeatmapDecoder(4)(0.5 * (plain + mirrored))
    got = model.keypoints(images)
    np.testing.assert_allclose(np.asarray(got[0]), np.asarray(expected[0]), atol=1e-4)


@pytest.mark.parametrize("sigma", [1.0, 1.5, 2.0])
def test_dark_recovers_gaussian_centres_exactly(sigma):
    import tensorflow as tf

    codec = HeatmapCodec(128, 32, sigma)
    kp = np.random.default_rng(0).uniform(16, 112, (50, 14, 2)).astype("float32")
    maps = tf.stack([codec.encode(k, np.ones(14))[0] for k in kp])
    quarter = np.linalg.norm(np.asarray(HeatmapDecoder(4)(maps)[0]) - kp, axis=-1)
    dark = np.linalg.norm(np.asarray(HeatmapDecoder(4, subpixel="dark")(maps)[0]) - kp, axis=-1)
    assert quarter.mean() > 0.5
    assert dark.max() < 1e-3


def test_dark_falls_back_to_the_quarter_shift_without_a_peak():
    flat = np.zeros((1, 8, 8, 1), "float32")
    flat[0, 3, 3:6, 0] = 1.0  # a plateau along x: the Hessian is singular there
    quarter = np.asarray(HeatmapDecoder(4)(flat)[0])
    dark = np.asarray(HeatmapDecoder(4, subpixel="dark")(flat)[0])
    np.testing.assert_allclose(dark, quarter)
    with pytest.raises(ValueError, match="subpixel"):
        HeatmapDecoder(4, subpixel="taylor")


def test_dark_and_flip_export_with_builtin_ops_only(tmp_path):
    from edge.tflite import convert
    from edge.tflite_conversion import check_builtin_only

    model = _tiny(flip_test=True, subpixel="dark")
    ops = check_builtin_only(convert(model, "float32"))
    assert "REVERSE_V2" in ops or "GATHER" in ops


def test_initialise_from_a_wider_head_keeps_the_channels_of_largest_bn_scale():
    """A narrower head starts from a trained wider one (Network Slimming's |gamma| criterion):
    the kept channels are the largest-|gamma| ones, the next layer reads exactly them, so with
    the dropped channels silenced the narrow model reproduces the wide one; same width: a copy."""
    wide = _tiny()
    rng = np.random.default_rng(3)
    for bn in wide.deconvs[1::2]:
        gamma = rng.uniform(0.1, 1.0, bn.gamma.shape).astype("float32")
        bn.gamma.assign(gamma)
        bn.moving_variance.assign(rng.uniform(0.5, 2.0, bn.gamma.shape).astype("float32"))
    x = rng.integers(0, 255, (2, 64, 64, 3)).astype("float32")

    same = _tiny(input_size=128)  # the input size may differ: the weights do not depend on it
    same.initialise_from(wide)
    assert all(np.array_equal(a, b) for a, b in zip(same.get_weights(), wide.get_weights()))

    narrow = _tiny(head_filters=6)
    narrow.initialise_from(wide)
    np.testing.assert_array_equal(narrow.backbone.get_weights()[0], wide.backbone.get_weights()[0])
    kept = []
    for bn_n, bn_w in zip(narrow.deconvs[1::2], wide.deconvs[1::2]):
        g = np.asarray(bn_w.gamma)
        top = np.sort(np.argsort(-np.abs(g))[:6])
        np.testing.assert_array_equal(np.asarray(bn_n.gamma), g[top])
        kept.append(top)
    # Silence the dropped channels of the wide model (gamma = beta = 0): both compute the same maps.
    for bn, top in zip(wide.deconvs[1::2], kept):
        mask = np.zeros(bn.gamma.shape, "float32")
        mask[top] = 1
        bn.gamma.assign(np.asarray(bn.gamma) * mask)
        bn.beta.assign(np.asarray(bn.beta) * mask)
    np.testing.assert_allclose(np.asarray(narrow(x)), np.asarray(wide(x)), rtol=1e-4, atol=1e-5)

    with pytest.raises(ValueError, match="head_filters"):
        _tiny(head_filters=32).initialise_from(wide)
    with pytest.raises(ValueError, match="deconv_layers"):
        _tiny(backbone_stride=32, deconv_layers=3).initialise_from(wide)
