"""A recipe's ``precision`` (#13.4): ``mixed_bfloat16`` trains in bfloat16 with float32 weights,
records the precision, and leaves Keras' global policy as it found it."""

import json

import keras
import numpy as np
import pytest
import tensorflow as tf


def test_unknown_precision_is_refused_by_name():
    from training.experiments import get_experiment

    with pytest.raises(ValueError, match="hourglass_tiny: precision must be one of .*'float16'"):
        get_experiment("hourglass_tiny").replace(precision="float16")


def test_mixed_bfloat16_run_trains_in_bfloat16_and_saves_float32_weights(tmp_path, lspet_root):
    from training.experiments import get_experiment
    from training.loop import build_model
    from training.records import summarise_workdir
    from training.train import train

    exp = get_experiment("hourglass_tiny").replace(precision="mixed_bfloat16", epochs=1, steps_per_epoch=3)
    before = keras.mixed_precision.global_policy().name
    model, history = train(exp, str(tmp_path / "run"), max_train=16, max_val=4, verbose=0, tensorboard=False)
    assert keras.mixed_precision.global_policy().name == before
    assert np.isfinite(history.history["loss"]).all()
    assert model.compute_dtype == "bfloat16"
    assert {v.dtype for v in model.weights} == {"float32"}

    # The saved weights load into a float32 build and predict what the bfloat16 model predicts,
    # to bfloat16's precision.
    fresh = build_model(exp.replace(precision="float32"))
    fresh.load_weights(str(tmp_path / "run" / "final.weights.h5"))
    assert fresh.compute_dtype == "float32"
    size = fresh.input_size
    x = np.random.default_rng(0).uniform(0, 255, (1, size, size, 3)).astype("float32")
    f32 = np.asarray(fresh(x, training=False))
    b16 = np.asarray(keras.ops.cast(model(x, training=False), "float32"))
    assert np.abs(f32 - b16).max() <= 0.05 * max(np.abs(f32).max(), 1e-3)

    record = json.loads((tmp_path / "run" / "train_runs.jsonl").read_text().splitlines()[-1])
    assert record["precision"] == "mixed_bfloat16"
    assert "mixed_bfloat16 compute" in summarise_workdir(tmp_path / "run")["recipe"]


def test_auto_precision_is_bfloat16_only_on_an_amx_cpu_without_gpu(monkeypatch):
    import training.records as records
    from training.train import resolve_precision

    for amx, gpus, expected in ((True, [], "mixed_bfloat16"), (False, [], "float32"),
                                (True, ["/physical_device:GPU:0"], "float32")):
        monkeypatch.setattr(records, "cpu_features", lambda amx=amx: {"amx_bf16": amx})
        monkeypatch.setattr(records, "gpus", lambda gpus=gpus: gpus)
        assert resolve_precision("auto") == expected
    assert resolve_precision("float32") == "float32"


def test_tompson_builds_and_trains_a_step_in_mixed_bfloat16(lspet_root):
    """The spatial model stays float32 under mixed precision (log-space messages); the stacked
    output takes the detector's bfloat16 (found by tools.train_speed: the stack mixed dtypes)."""
    from training.experiments import get_experiment
    from training.loop import build_model
    from training.train import dtype_policy

    with dtype_policy("mixed_bfloat16"):
        model = build_model(get_experiment("tompson_tiny"))
    assert model.spatial_model.compute_dtype == "float32" and model.compute_dtype == "bfloat16"
    size = model.input_size
    x = np.random.default_rng(0).uniform(0, 255, (2, size, size, 3)).astype("float32")
    out = model(x, training=True)
    assert out.dtype == "bfloat16" and np.isfinite(np.asarray(keras.ops.cast(out, "float32"))).all()


def test_deeppose_cascade_trains_a_step_in_mixed_bfloat16(lspet_root):
    """The cascade's geometry (estimates, patch windows) stays float32 under mixed precision, the
    regressors compute in bfloat16 (found by tools.train_speed: the patch cut mixed dtypes)."""
    from training.experiments import get_experiment
    from training.experiments.deeppose_phases import CascadeStage
    from training.loop import build_model
    from training.losses import intermediate_regression_mse
    from training.train import dtype_policy

    with dtype_policy("mixed_bfloat16"):
        model = build_model(get_experiment("deeppose_tiny"))
        assert model.initial.compute_dtype == "bfloat16" and model.crops[0].compute_dtype == "float32"
        size = model.input_size
        rng = np.random.default_rng(0)
        x = rng.uniform(0, 255, (4, size, size, 3)).astype("float32")
        y = rng.uniform(-0.3, 0.3, (4, model.num_joints, 2)).astype("float32")
        w = np.ones((4, model.num_joints), "float32")
        out = model(x, training=False)
        assert out.dtype == "float32" and np.isfinite(np.asarray(out)).all()
        dataset = tf.data.Dataset.from_tensor_slices((x, y, w)).batch(2)
        for stage in (1, 2):
            CascadeStage(stage, 1).prepare(model, dataset, None)
            model.compile(optimizer=keras.optimizers.Adam(1e-3), loss=intermediate_regression_mse)
            history = model.fit(dataset, epochs=1, verbose=0)
            assert np.isfinite(history.history["loss"][0]), stage
