"""Tompson et al. 2014 model: multi-resolution part detector + spatial model, and what its training
phases freeze (the phases themselves: tests/training/test_phases.py)."""

import numpy as np
import pytest

from zoo.architectures import get_architecture
from zoo.architectures.tompson import MultiResolutionBank, TompsonPoseModel

SMALL = dict(bank_filters=(4, 4, 8), num_scales=3, head_filters=8, head_kernel=3, input_size=32)


def _images(n, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (n, 32, 32, 3)).astype("float32")


@pytest.fixture(scope="module")
def tiny_model():
    model = TompsonPoseModel(**SMALL)
    model.build()
    return model


def test_shapes_and_stages(tiny_model):
    out = np.asarray(tiny_model(_images(2)))
    assert out.shape == (2, 2, 8, 8, 14)
    # Stage 2 is the spatial model's marginals, rescaled to peak 1 on every map.
    np.testing.assert_allclose(out[:, 1].max(axis=(1, 2)), 1.0, atol=1e-5)
    kp, sc = tiny_model.predict_keypoints(_images(3).astype("uint8"))
    assert kp.shape == (3, 14, 2) and sc.shape == (3, 14)
    assert get_architecture("tompson") is TompsonPoseModel


def test_stage_one_trains_the_detector_alone():
    model = TompsonPoseModel(**SMALL)
    model.build()
    model.freeze_for_phase(1)
    out = np.asarray(model(_images(2)))
    np.testing.assert_array_equal(out[:, 0], out[:, 1])  # the spatial model is bypassed
    assert not model.spatial_model.trainable
    assert all(w.trainable for w in model.bank.trainable_weights)
    model.freeze_for_phase(2)
    assert [w.path for w in model.trainable_weights] == [w.path for w in model.spatial_model.trainable_weights]
    model.end_phases()
    out = np.asarray(model(_images(2)))
    assert not np.array_equal(out[:, 0], out[:, 1])  # inference: the spatial model runs again
    with pytest.raises(ValueError, match="stage must be"):
        model.freeze_for_phase(4)
    with pytest.raises(ValueError, match="spatial='none'"):
        TompsonPoseModel(**SMALL, spatial="none").freeze_for_phase(3)


def _dataset(n=32, seed=0):
    """Heatmap targets where joint 1 always lies 3 cells right of and 1 below joint 0."""
    import tensorflow as tf

    rng = np.random.default_rng(seed)
    targets = np.zeros((n, 8, 8, 14), "float32")
    for i in range(n):
        x, y = rng.integers(0, 5, 2)
        targets[i, y, x, 0] = targets[i, y + 1, x + 3, 1] = 1.0
        for j in range(2, 14):
            targets[i, rng.integers(0, 8), rng.integers(0, 8), j] = 1.0
    weights = np.ones((n, 14), "float32")
    return tf.data.Dataset.from_tensor_slices((_images(n, seed), targets, weights)).batch(8)


def test_bank_sums_three_resolutions():
    bank = MultiResolutionBank((4, 4, 8), num_scales=3)
    y = bank(np.zeros((1, 32, 32, 3), "float32"))
    assert tuple(y.shape) == (1, 8, 8, 8)
    assert [layer.name for layer in bank.downsample] == ["downsample2", "downsample4"]
    with pytest.raises(ValueError, match="4"):
        MultiResolutionBank(num_scales=4)


def test_round_trip_and_errors(tiny_model, keras_round_trip):
    keras_round_trip(tiny_model, _images(2, seed=3))
    star = TompsonPoseModel(**SMALL, spatial="star", spatial_root=12)
    assert star.spatial_model._mask[:, 12].sum() == 13 and star.spatial_model._mask[0, 1] == 0
    assert TompsonPoseModel(**SMALL, spatial="none").spatial_model is None
    with pytest.raises(ValueError, match="'ring'"):
        TompsonPoseModel(**SMALL, spatial="ring")
    with pytest.raises(ValueError, match="stride=8"):
        TompsonPoseModel(**SMALL, stride=8)


@pytest.mark.parametrize("stride", [1, 2])
def test_tflite_float32_uses_builtin_ops_and_matches_keras(stride):
    """Keras runs the spatial model's convolutions as FFTs, TFLite as depthwise convolutions."""
    from edge.tflite import TFLiteRunner, convert
    from edge.tflite_conversion import check_builtin_only
    from training.experiments.tompson_phases import displacement_histograms_of

    tiny_model = TompsonPoseModel(**SMALL, message_stride=stride)
    tiny_model.build()
    # Histogram kernels: a non-trivial refinement.
    tiny_model.initialise_spatial_model(displacement_histograms_of(_dataset(), tiny_model.spatial_model, batches=2))
    data = convert(tiny_model, "float32")
    ops = check_builtin_only(data)
    assert "DEPTHWISE_CONV_2D" in ops and "AVERAGE_POOL_2D" in ops  # spatial model, image pyramid
    images = _images(2, seed=5).astype("uint8")
    kp, _ = TFLiteRunner(data).predict(images)
    ref, _ = tiny_model.predict_keypoints(images)
    np.testing.assert_allclose(kp, ref, atol=1e-3)
