"""CPM background channel, regression MSE over stages and the per-stage loss metrics (chosen from
the model's codec)."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from training.losses import (
    LOSSES,
    intermediate_heatmap_mse,
    intermediate_regression_l1,
    intermediate_regression_mse,
    loss_and_stage_metrics,
    marginal_nll,
    stage_metrics,
)
from zoo.codecs import HeatmapCodec, RegressionCodec

B, S, H, W, K = 2, 3, 4, 5, 3
CODECS = {"heatmap": HeatmapCodec(input_size=16, heatmap_size=4), "regression": RegressionCodec(input_size=16)}


def _np(x):
    return keras.ops.convert_to_numpy(x)


def _heatmaps(seed=0, background=True):
    rng = np.random.default_rng(seed)
    y_true = rng.random((B, H, W, K)).astype("float32")
    y_pred = rng.random((B, S, H, W, K + int(background))).astype("float32")
    return y_true, y_pred


def _np_heatmap_errors(y_true, y_pred):
    """Reference ``(B, S, K)``: joint MSE over pixels (+ background MSE with ``K + 1`` channels)."""
    k = y_true.shape[-1]
    err = ((y_pred[..., :k] - y_true[:, None]) ** 2).mean(axis=(2, 3))
    if y_pred.shape[-1] == k + 1:
        bg = 1.0 - y_true.max(axis=-1)  # (B, H, W)
        err = err + ((y_pred[..., k] - bg[:, None]) ** 2).mean(axis=(2, 3))[..., None]
    return err


def _regression(seed=0):
    rng = np.random.default_rng(seed)
    y_true = rng.uniform(-0.5, 0.5, (B, K, 2)).astype("float32")
    y_pred = rng.uniform(-0.5, 0.5, (B, S, K, 2)).astype("float32")
    return y_true, y_pred


# ----------------------------------------------------------------------- heatmaps + background

def test_heatmap_background_matches_numpy():
    y_true, y_pred = _heatmaps(0)
    loss = _np(intermediate_heatmap_mse(y_true, y_pred))
    assert loss.shape == (B, K)
    np.testing.assert_allclose(loss, _np_heatmap_errors(y_true, y_pred).sum(axis=1), rtol=1e-5)
    # The background term is really there: dropping the channel lowers every column by it.
    no_bg = _np(intermediate_heatmap_mse(y_true, y_pred[..., :K]))
    bg = ((y_pred[..., K] - (1 - y_true.max(-1))[:, None]) ** 2).mean(axis=(2, 3)).sum(axis=1)
    assert np.all(bg > 0)
    np.testing.assert_allclose(loss - no_bg, np.repeat(bg[:, None], K, axis=1), rtol=1e-4)


def test_heatmap_background_hand_computed():
    # One sample, 2x2 maps, 2 joints, 2 stages.
    y_true = np.zeros((1, 2, 2, 2), "float32")
    y_true[0, 0, 0, 0] = 1.0   # joint 0 peak at (0, 0)
    y_true[0, 1, 1, 1] = 0.5   # joint 1 half peak at (1, 1)
    # Background target: 1 - max over joints = [[0, 1], [1, 0.5]].
    y_pred = np.zeros((1, 2, 2, 2, 3), "float32")
    # Stage 1: joints all 0 -> joint errors 1/4 and 0.25/4; background all 0 ->
    # (0 + 1 + 1 + 0.25) / 4 = 0.5625.
    # Stage 2: joints perfect; background all 1 -> (1 + 0 + 0 + 0.25) / 4 = 0.3125.
    y_pred[0, 1, ..., :2] = y_true[0]
    y_pred[0, 1, ..., 2] = 1.0
    loss = _np(intermediate_heatmap_mse(y_true, y_pred))
    np.testing.assert_allclose(loss, [[0.25 + 0.5625 + 0.3125, 0.0625 + 0.5625 + 0.3125]], rtol=1e-6)
    # Perfect joints and background at every stage: zero.
    y_pred[0, 0] = y_pred[0, 1]
    y_pred[0, :, ..., 2] = [[0, 1], [1, 0.5]]
    np.testing.assert_allclose(_np(intermediate_heatmap_mse(y_true, y_pred)), [[0.0, 0.0]], atol=1e-7)


def test_heatmap_background_target_of_empty_map_is_one():
    """No joint in the map (all targets 0): the background target is 1 everywhere."""
    y_true = np.zeros((1, 2, 2, 1), "float32")
    y_pred = np.zeros((1, 2, 2, 2, 2), "float32")  # 2 stages, background 0 -> error 1 each
    np.testing.assert_allclose(_np(intermediate_heatmap_mse(y_true, y_pred)), [[2.0]], rtol=1e-6)
    y_pred[..., 1] = 1.0
    np.testing.assert_allclose(_np(intermediate_heatmap_mse(y_true, y_pred)), [[0.0]], atol=1e-7)


def test_heatmap_accepts_keras_tensors_and_float64():
    y_true, y_pred = _heatmaps(3)
    ref = _np_heatmap_errors(y_true, y_pred).sum(axis=1)
    out = intermediate_heatmap_mse(keras.ops.convert_to_tensor(y_true), keras.ops.convert_to_tensor(y_pred))
    np.testing.assert_allclose(_np(out), ref, rtol=1e-5)
    out64 = intermediate_heatmap_mse(y_true.astype("float64"), y_pred.astype("float64"))
    np.testing.assert_allclose(_np(out64), ref, rtol=1e-5)


@pytest.mark.parametrize("channels", [K - 1, K + 2])
def test_heatmap_wrong_channel_count_raises(channels):
    y_true = np.zeros((B, H, W, K), "float32")
    y_pred = np.zeros((B, S, H, W, channels), "float32")
    with pytest.raises(ValueError, match="channels"):
        intermediate_heatmap_mse(y_true, y_pred)


# ----------------------------------------------------------------------------------- regression

def test_regression_matches_numpy():
    y_true, y_pred = _regression(0)
    loss = _np(intermediate_regression_mse(y_true, y_pred))
    assert loss.shape == (B, K)
    expected = ((y_pred - y_true[:, None]) ** 2).sum(axis=-1).sum(axis=1)
    np.testing.assert_allclose(loss, expected, rtol=1e-5)


def test_regression_hand_computed():
    y_true = np.zeros((1, 2, 2), "float32")
    y_true[0, 1] = (0.25, -0.25)
    y_pred = np.zeros((1, 2, 2, 2), "float32")
    y_pred[0, 0, 0] = (0.3, 0.4)    # stage 1, joint 0: 0.09 + 0.16 = 0.25
    y_pred[0, 1, 0] = (0.1, 0.0)    # stage 2, joint 0: 0.01
    y_pred[0, 0, 1] = (0.25, 0.25)  # stage 1, joint 1: 0 + 0.25
    y_pred[0, 1, 1] = (0.25, -0.25)  # stage 2, joint 1: exact
    np.testing.assert_allclose(_np(intermediate_regression_mse(y_true, y_pred)), [[0.26, 0.25]], rtol=1e-6)


def test_regression_single_stage_and_dtypes():
    y_true, y_pred = _regression(1)
    one = y_pred[:, :1]
    expected = ((one[:, 0] - y_true) ** 2).sum(-1)
    np.testing.assert_allclose(_np(intermediate_regression_mse(y_true, one)), expected, rtol=1e-5)
    out = intermediate_regression_mse(y_true.astype("float64"), keras.ops.convert_to_tensor(one.astype("float64")))
    np.testing.assert_allclose(_np(out), expected, rtol=1e-5)


def test_regression_registered_for_serialization():
    name = keras.saving.get_registered_name(intermediate_regression_mse)
    assert name == "training>intermediate_regression_mse"
    assert keras.saving.get_registered_object(name) is intermediate_regression_mse


def test_regression_l1_hand_computed():
    y_true = np.zeros((1, 2, 2), "float32")
    y_true[0, 1] = (0.25, -0.25)
    y_pred = np.zeros((1, 2, 2, 2), "float32")
    y_pred[0, 0, 0] = (0.3, -0.4)   # stage 1, joint 0: 0.3 + 0.4 = 0.7
    y_pred[0, 1, 0] = (0.1, 0.0)    # stage 2, joint 0: 0.1
    y_pred[0, 0, 1] = (0.25, 0.25)  # stage 1, joint 1: 0 + 0.5
    y_pred[0, 1, 1] = (0.25, -0.25)  # stage 2, joint 1: exact
    np.testing.assert_allclose(_np(intermediate_regression_l1(y_true, y_pred)), [[0.8, 0.5]], rtol=1e-6)
    y_true, y_pred = _regression(3)
    expected = np.abs(y_pred - y_true[:, None]).sum(axis=-1).sum(axis=1)
    np.testing.assert_allclose(_np(intermediate_regression_l1(y_true, y_pred)), expected, rtol=1e-5)


def test_regression_l1_pulls_less_toward_the_mean():
    """Fitting one constant to skewed targets: L1 ends at their median, L2 at their mean."""
    targets = np.array([0.0, 0.1, 0.2, 0.3, 2.0], "float32")[:, None, None].repeat(2, axis=-1)

    def fit(loss):
        guess = keras.Variable(np.zeros((1, 1, 1, 2), "float32"))
        optimizer = keras.optimizers.SGD(0.01)
        for _ in range(600):
            with tf.GradientTape() as tape:
                value = keras.ops.mean(loss(targets, keras.ops.tile(guess, (5, 1, 1, 1))))
            optimizer.apply_gradients([(tape.gradient(value, guess), guess)])
        return _np(guess)[0, 0, 0, 0]

    assert fit(intermediate_regression_l1) == pytest.approx(0.2, abs=0.02)
    assert fit(intermediate_regression_mse) == pytest.approx(0.52, abs=0.02)
    assert LOSSES["regression_l1"] is intermediate_regression_l1
    assert keras.saving.get_registered_name(intermediate_regression_l1) == "training>intermediate_regression_l1"


# --------------------------------------------------------------------------------- stage metrics

@pytest.mark.parametrize("kind", ["heatmap", "regression"])
def test_stage_metric_names(kind):
    fns = stage_metrics(CODECS[kind], 4)
    assert [f.__name__ for f in fns] == ["stage1_loss", "stage2_loss", "stage3_loss", "stage4_loss"]
    assert stage_metrics(CODECS[kind], 0) == []


@pytest.mark.parametrize("kind, loss", [("heatmap", intermediate_heatmap_mse),
                                        ("regression", intermediate_regression_mse)])
def test_loss_follows_the_codec_unless_the_phase_names_one(kind, loss):
    assert loss_and_stage_metrics(CODECS[kind], 2)[0] is loss
    chosen, metrics = loss_and_stage_metrics(CODECS[kind], 2, "marginal_nll")
    assert chosen is marginal_nll and [m.__name__ for m in metrics] == ["stage1_loss", "stage2_loss"]


def test_codec_without_top_down_loss_is_an_error():
    from zoo.codecs.paf import PafCodec

    with pytest.raises(ValueError, match="no top-down loss for codec PafCodec"):
        stage_metrics(PafCodec(), 1)


@pytest.mark.parametrize("background", [True, False])
def test_heatmap_stage_metrics(background):
    y_true, y_pred = _heatmaps(4, background)
    ref = _np_heatmap_errors(y_true, y_pred)  # (B, S, K)
    fns = stage_metrics(CODECS["heatmap"], S)
    values = [_np(f(y_true, y_pred)) for f in fns]
    for s, v in enumerate(values):
        assert v.shape == (B, K)
        np.testing.assert_allclose(v, ref[:, s], rtol=1e-5)
    # The stages add up to the training loss.
    np.testing.assert_allclose(sum(values), _np(intermediate_heatmap_mse(y_true, y_pred)), rtol=1e-5)
    # Changing one stage's prediction moves only that stage's metric.
    changed = y_pred.copy()
    changed[:, 1] += 0.5
    after = [_np(f(y_true, changed)) for f in fns]
    np.testing.assert_allclose(after[0], values[0], rtol=1e-6)
    np.testing.assert_allclose(after[2], values[2], rtol=1e-6)
    assert np.all(np.abs(after[1] - values[1]) > 1e-3)


def test_regression_stage_metrics():
    y_true, y_pred = _regression(5)
    fns = stage_metrics(CODECS["regression"], S)
    for s, f in enumerate(fns):
        v = _np(f(y_true, y_pred))
        assert v.shape == (B, K)
        np.testing.assert_allclose(v, ((y_pred[:, s] - y_true) ** 2).sum(-1), rtol=1e-5)
    total = sum(_np(f(y_true, y_pred)) for f in fns)
    np.testing.assert_allclose(total, _np(intermediate_regression_mse(y_true, y_pred)), rtol=1e-5)


def test_stage_metrics_hand_computed_regression():
    y_true = np.zeros((1, 1, 2), "float32")
    y_pred = np.array([[[[3.0, 4.0]], [[1.0, 0.0]]]], "float32")  # (1, 2 stages, 1, 2)
    s1, s2 = stage_metrics(CODECS["regression"], 2)
    assert float(_np(s1(y_true, y_pred))[0, 0]) == pytest.approx(25.0)
    assert float(_np(s2(y_true, y_pred))[0, 0]) == pytest.approx(1.0)
    assert float(_np(intermediate_regression_mse(y_true, y_pred))[0, 0]) == pytest.approx(26.0)


def test_stage_metrics_in_compiled_model():
    """As training.train compiles them: ``weighted_metrics`` named stage<s>_loss, weighted means."""
    y_true, y_pred = _regression(6)
    weights = np.ones((B, K), "float32")
    weights[0, 1] = 0.0
    model = keras.Sequential([keras.Input((S, K, 2)), keras.layers.Identity()])
    model.compile(loss=intermediate_regression_mse, weighted_metrics=stage_metrics(CODECS["regression"], S))
    out = model.evaluate(y_pred, y_true, sample_weight=weights, batch_size=B, verbose=0, return_dict=True)
    for s in range(S):
        per = ((y_pred[:, s] - y_true) ** 2).sum(-1)
        assert out[f"stage{s + 1}_loss"] == pytest.approx(float((per * weights).sum() / weights.sum()), rel=1e-5)
    per_all = ((y_pred - y_true[:, None]) ** 2).sum(-1).sum(1)
    assert out["loss"] == pytest.approx(float((per_all * weights).sum() / (B * K)), rel=1e-5)


def test_marginal_nll_of_uniform_and_peaked_maps():
    target = np.zeros((1, 4, 4, 2), "float32")
    target[0, 1, 2, 0] = target[0, 3, 3, 1] = 1.0
    uniform = np.ones((1, 2, 4, 4, 2), "float32")
    np.testing.assert_allclose(np.asarray(marginal_nll(target, uniform)), [[np.log(16), np.log(16)]], rtol=1e-6)
    peaked = uniform.copy()
    peaked[0, 1, 1, 2, 0] = np.e  # the last stage gives the true cell e times the others' mass
    want = -(1 - np.log(15 + np.e))
    np.testing.assert_allclose(np.asarray(marginal_nll(target, peaked))[0, 0], want, rtol=1e-6)
    peaked[0, 0, 1, 2, 1] = 100.0  # earlier stages do not count
    assert np.asarray(marginal_nll(target, peaked))[0, 1] == np.float32(np.log(16))
