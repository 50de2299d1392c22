"""Intermediate-supervision heatmap MSE: shape, sum over stages, per-joint sample weights."""

import keras
import numpy as np
import pytest

from training.losses import intermediate_heatmap_mse

B, S, H, W, K = 2, 3, 4, 5, 3


def _case(seed=0):
    rng = np.random.default_rng(seed)
    y_true = rng.random((B, H, W, K)).astype("float32")
    y_pred = rng.random((B, S, H, W, K)).astype("float32")
    return y_true, y_pred


def test_shape_and_value():
    y_true, y_pred = _case()
    loss = np.asarray(intermediate_heatmap_mse(y_true, y_pred))
    assert loss.shape == (B, K)
    expected = ((y_pred - y_true[:, None]) ** 2).mean(axis=(2, 3)).sum(axis=1)
    np.testing.assert_allclose(loss, expected, rtol=1e-5)


def test_sum_over_stages_hand_computed():
    y_true = np.zeros((1, 2, 2, 1), "float32")
    y_pred = np.zeros((1, 3, 2, 2, 1), "float32")
    y_pred[0, 0] = 1.0  # stage 0: error 1 everywhere -> 1
    y_pred[0, 1] = 2.0  # stage 1: 4
    y_pred[0, 2, 0, 0] = 2.0  # stage 2: one pixel of four with error 2 -> 1
    np.testing.assert_allclose(np.asarray(intermediate_heatmap_mse(y_true, y_pred)), [[6.0]])
    # A perfect last stage still pays for the earlier ones (intermediate supervision).
    y_pred2 = np.zeros((1, 2, 2, 2, 1), "float32")
    y_pred2[0, 0] = 1.0
    assert float(np.asarray(intermediate_heatmap_mse(y_true, y_pred2))[0, 0]) == pytest.approx(1.0)


def test_zero_sample_weight_silences_a_joint():
    y_true, y_pred = _case(1)
    weights = np.ones((B, K), "float32")
    weights[:, 1] = 0.0
    weights[0, 2] = 0.0
    from keras.src.losses.losses import LossFunctionWrapper  # what model.compile wraps a function in

    fn = LossFunctionWrapper(intermediate_heatmap_mse)
    base = float(fn(y_true, y_pred, sample_weight=weights))

    per = ((y_pred - y_true[:, None]) ** 2).mean(axis=(2, 3)).sum(axis=1)
    # Keras' default reduction: sum of weighted values over the B x K elements.
    assert base == pytest.approx(float((per * weights).sum() / (B * K)), rel=1e-5)

    changed = y_pred.copy()
    changed[..., 1] += 5.0       # joint 1 everywhere: weight 0
    changed[0, ..., 2] -= 3.0    # joint 2 of sample 0: weight 0
    assert float(fn(y_true, changed, sample_weight=weights)) == pytest.approx(base, rel=1e-6)
    changed[1, ..., 2] += 1.0    # joint 2 of sample 1 is weighted: the loss moves
    assert float(fn(y_true, changed, sample_weight=weights)) > base + 0.1
    unweighted = float(fn(y_true, changed))
    assert unweighted > float(fn(y_true, changed, sample_weight=weights))


def test_compiled_model_ignores_zero_weight_joints():
    """Through model.compile / evaluate, as training.train uses it (sample_weight from the dataset)."""
    y_true, y_pred = _case(2)
    weights = np.ones((B, K), "float32")
    weights[:, 0] = 0.0
    model = keras.Sequential([keras.Input((S, H, W, K)), keras.layers.Identity()])
    model.compile(loss=intermediate_heatmap_mse)
    base = model.evaluate(y_pred, y_true, sample_weight=weights, batch_size=B, verbose=0)
    changed = y_pred.copy()
    changed[..., 0] += 10.0
    loss = model.evaluate(changed, y_true, sample_weight=weights, batch_size=B, verbose=0)
    assert loss == pytest.approx(base, rel=1e-6)
    changed[..., 1] += 1.0
    assert model.evaluate(changed, y_true, sample_weight=weights, batch_size=B, verbose=0) > base + 0.5


def test_registered_for_serialization():
    name = keras.saving.get_registered_name(intermediate_heatmap_mse)
    assert name == "training>intermediate_heatmap_mse"
    assert keras.saving.get_registered_object(name) is intermediate_heatmap_mse
    config = keras.saving.serialize_keras_object(intermediate_heatmap_mse)
    assert keras.saving.deserialize_keras_object(config) is intermediate_heatmap_mse
