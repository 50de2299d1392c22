"""Packed resume checkpoints (training.checkpoints): weights and step exact, velocities within
bfloat16 rounding, momenta zero, and the unpacked folder loads into a compiled model."""

import json

import keras
import numpy as np
import pytest

from training.checkpoints import CheckpointError, pack_backup, unpack_backup


def _trained_model(seed=0):
    keras.utils.set_random_seed(seed)
    model = keras.Sequential([keras.Input((6,)), keras.layers.Dense(5, activation="relu"), keras.layers.Dense(2)])
    model.compile(optimizer=keras.optimizers.Adam(1e-2), loss="mse")
    x = np.random.default_rng(seed).normal(size=(32, 6)).astype("float32")
    model.fit(x, x[:, :2] * 3.0, batch_size=8, epochs=2, verbose=0)
    return model


def _backup(tmp_path, model):
    folder = tmp_path / "backup"
    folder.mkdir()
    model.save_weights(str(folder / "latest.weights.h5"))
    (folder / "training_metadata.json").write_text(json.dumps({"epoch": 2, "batch": 0}))
    return folder


def test_pack_unpack_resumes_weights_step_and_velocities(tmp_path):
    model = _trained_model()
    packed = pack_backup(_backup(tmp_path, model), tmp_path / "packed")
    unpack_backup(packed.parent, tmp_path / "restored")
    assert json.loads((tmp_path / "restored" / "training_metadata.json").read_text()) == {"epoch": 2, "batch": 0}

    fresh = _trained_model(seed=1)  # other weights, other optimizer state, same structure
    fresh.load_weights(str(tmp_path / "restored" / "latest.weights.h5"))
    for a, b in zip(model.weights, fresh.weights):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    assert int(fresh.optimizer.iterations.numpy()) == int(model.optimizer.iterations.numpy()) == 8
    for a, b in zip(model.optimizer._velocities, fresh.optimizer._velocities):
        np.testing.assert_allclose(b.numpy(), a.numpy(), rtol=2 ** -8, atol=0)
    for m in fresh.optimizer._momentums:
        assert not np.any(m.numpy())
    assert any(np.any(m.numpy()) for m in model.optimizer._momentums)


def test_packed_file_is_smaller_than_the_backup(tmp_path):
    model = _trained_model()
    backup = _backup(tmp_path, model)
    packed = pack_backup(backup, tmp_path / "packed")
    params = sum(int(np.prod(w.shape)) for w in model.trainable_weights)
    # weights (4 bytes) + velocities (2 bytes) per parameter, vs 12 in the backup: below 2/3.
    assert packed.stat().st_size < (backup / "latest.weights.h5").stat().st_size
    assert params * 6 < packed.stat().st_size < params * 6 + 64_000


def test_errors_name_the_file(tmp_path):
    with pytest.raises(CheckpointError, match="latest.weights.h5: missing"):
        pack_backup(tmp_path / "nowhere", tmp_path / "out")
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])  # never compiled: no optimizer
    folder = tmp_path / "weights_only"
    folder.mkdir()
    model.save_weights(str(folder / "latest.weights.h5"))
    (folder / "training_metadata.json").write_text("{}")
    with pytest.raises(CheckpointError, match="no optimizer state"):
        pack_backup(folder, tmp_path / "out")
    with pytest.raises(CheckpointError, match="not a packed checkpoint"):
        unpack_backup(_backup(tmp_path, _trained_model()), tmp_path / "restored")
