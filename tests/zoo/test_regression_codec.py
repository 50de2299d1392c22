"""Box-normalised regression codec (DeepPose): encode values, weights, decode, round trip."""

import dataclasses

import keras
import numpy as np
import pytest
import tensorflow as tf

from zoo.codecs import RegressionCodec


def _encode(codec, keypoints, visible):
    targets, weights = codec.encode(np.asarray(keypoints, "float32"), np.asarray(visible))
    return targets.numpy(), weights.numpy()


def test_centre_and_to_dict():
    assert RegressionCodec().input_size == 128
    assert RegressionCodec(128).centre == 63.5
    assert RegressionCodec(64).centre == 31.5
    assert RegressionCodec(128).to_dict() == {"type": "regression", "input_size": 128}


def test_encode_hand_computed():
    codec = RegressionCodec(128)
    kps = [
        (63.5, 63.5),    # crop centre -> (0, 0)
        (0.0, 0.0),      # top-left pixel -> -63.5 / 128
        (127.0, 127.0),  # bottom-right pixel -> 63.5 / 128
        (95.5, 31.5),    # (32, -32) / 128 = (0.25, -0.25)
        (127.4, 10.0),   # inside the last pixel's cell
        (-0.4, 5.0),     # inside the first pixel's cell
        (100.0, 20.0),   # labelled
    ]
    vis = [1, 1, 1, 1, 1, 1, 2]  # any label > 0 counts
    t, w = _encode(codec, kps, vis)
    assert t.shape == (7, 2) and w.shape == (7,)
    assert t.dtype == np.float32 and w.dtype == np.float32
    np.testing.assert_array_equal(w, np.ones(7))
    expected = np.array([
        (0.0, 0.0),
        (-0.49609375, -0.49609375),
        (0.49609375, 0.49609375),
        (0.25, -0.25),
        (63.9 / 128, -53.5 / 128),
        (-63.9 / 128, -58.5 / 128),
        (36.5 / 128, -43.5 / 128),
    ])
    np.testing.assert_allclose(t, expected, rtol=0, atol=1e-6)


def test_encode_other_size():
    t, w = _encode(RegressionCodec(64), [(0.0, 63.0), (47.5, 15.5)], [1, 1])
    np.testing.assert_allclose(t, [(-31.5 / 64, 31.5 / 64), (0.25, -0.25)], atol=1e-7)
    np.testing.assert_array_equal(w, [1, 1])


def test_unlabelled_and_outside_get_zero_weight_and_target():
    codec = RegressionCodec(128)
    kps = [
        (10.0, 20.0),    # labelled, inside: weight 1
        (10.0, 20.0),    # unlabelled
        (128.0, 5.0),    # right of the crop
        (127.5, 5.0),    # on the far border: outside (pixel 127 covers [126.5, 127.5))
        (5.0, 130.0),    # below
        (-0.6, 5.0),     # left of the crop
        (5.0, -1.0),     # above
        (-300.0, 400.0),  # far away
        (50.0, 60.0),    # unlabelled (float 0 label)
    ]
    vis = np.array([1, 0, 1, 1, 1, 1, 1, 1, 0], "float32")
    t, w = _encode(codec, kps, vis)
    np.testing.assert_array_equal(w, [1, 0, 0, 0, 0, 0, 0, 0, 0])
    np.testing.assert_allclose(t[0], [(10 - 63.5) / 128, (20 - 63.5) / 128], atol=1e-7)
    np.testing.assert_array_equal(t[1:], np.zeros((8, 2)))


@pytest.mark.parametrize("vis_dtype", ["int32", "float32", "bool"])
def test_visible_dtypes(vis_dtype):
    t, w = _encode(RegressionCodec(128), [(1.0, 2.0), (3.0, 4.0)], np.array([1, 0]).astype(vis_dtype))
    np.testing.assert_array_equal(w, [1, 0])
    np.testing.assert_array_equal(t[1], [0, 0])


def test_encode_in_tf_data_graph_mode():
    """The encoder is traced inside ``tf.data`` (graph mode), as the training pipeline uses it."""
    codec = RegressionCodec(128)
    kps = np.array([[[63.5, 63.5], [200.0, 1.0]], [[0.0, 127.0], [31.5, 95.5]]], "float32")
    vis = np.array([[1, 1], [1, 0]], "float32")
    ds = tf.data.Dataset.from_tensor_slices((kps, vis)).map(codec.encode)
    out = [(t.numpy(), w.numpy()) for t, w in ds]
    np.testing.assert_allclose(out[0][0], [[0, 0], [0, 0]], atol=1e-7)
    np.testing.assert_array_equal(out[0][1], [1, 0])
    np.testing.assert_allclose(out[1][0], [[-0.49609375, 0.49609375], [0, 0]], atol=1e-7)
    np.testing.assert_array_equal(out[1][1], [1, 0])


def test_decode_hand_computed():
    codec = RegressionCodec(128)
    np.testing.assert_allclose(codec.decode(np.array([[0.0, 0.0], [0.5, -0.5], [0.25, 0.125]])),
                               [[63.5, 63.5], [127.5, -0.5], [95.5, 79.5]])
    # Any leading shape, e.g. (batch, stages, K, 2) model outputs.
    out = codec.decode(np.zeros((2, 3, 14, 2), "float32"))
    assert out.shape == (2, 3, 14, 2) and np.all(out == 63.5)


@pytest.mark.parametrize("size", [128, 256, 64])
def test_round_trip(size):
    codec = RegressionCodec(size)
    rng = np.random.default_rng(size)
    kps = rng.uniform(-0.49, size - 0.51, (20, 2)).astype("float32")
    t, w = _encode(codec, kps, np.ones(20))
    assert np.all(w == 1) and np.all(np.abs(t) < 0.5)
    np.testing.assert_allclose(codec.decode(t), kps, atol=1e-4)
    # Decoding backend tensors (TF eager / keras ops) gives the same pixels.
    np.testing.assert_allclose(codec.decode(tf.constant(t)).numpy(), kps, atol=1e-4)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(codec.decode(keras.ops.convert_to_tensor(t))),
                               kps, atol=1e-4)
    # And encode(decode(x)) == x for normalised points inside the crop.
    x = rng.uniform(-0.49, 0.49, (20, 2)).astype("float32")
    t2, w2 = _encode(codec, codec.decode(x), np.ones(20))
    assert np.all(w2 == 1)
    np.testing.assert_allclose(t2, x, atol=1e-6)


@pytest.mark.parametrize("size", [0, -1, -128])
def test_invalid_input_size(size):
    with pytest.raises(ValueError, match="input_size"):
        RegressionCodec(size)
    with pytest.raises(ValueError, match="input_size"):
        RegressionCodec(input_size=size)


def test_frozen():
    codec = RegressionCodec(128)
    with pytest.raises(dataclasses.FrozenInstanceError):
        codec.input_size = 64
    assert RegressionCodec(128) == codec and hash(RegressionCodec(128)) == hash(codec)
