"""Versioned SavedModel export: layout, metadata, and parity with the Keras model on real crops."""

import json

import numpy as np
import pytest

import zoo
from edge.exporter import export_saved_model


@pytest.fixture(scope="module")
def lsp_val_crops():
    from training.datasets import load_lspet
    from training.datasets.base import data_root
    from training.pipeline import evaluation_dataset

    root = data_root() / "lspet"
    if not (root / "joints.mat").is_file():
        pytest.skip(f"LSPet not found at {root} (set $POSEZOO_DATA)")
    samples = load_lspet(root, split="val").subset(range(48))
    batch = next(iter(evaluation_dataset(samples, 128, batch_size=48)))
    return np.clip(np.round(batch["image"].numpy()), 0, 255).astype(np.uint8)


@pytest.fixture(scope="module")
def exported_saved_model(tmp_path_factory):
    """hourglass-lsp's SavedModel, exported once for this module: ``(model, folder, root)``."""
    root = tmp_path_factory.mktemp("saved_models")
    model = zoo.load("hourglass-lsp")
    return model, export_saved_model("hourglass-lsp", root, model=model), root


def test_export_matches_keras_on_real_crops(exported_saved_model, lsp_val_crops):
    import tensorflow as tf

    model, path, root = exported_saved_model
    assert path == root / "hourglass-lsp" / str(model.spec.version)
    meta = json.loads((path / "metadata.json").read_text())
    assert meta["name"] == "hourglass-lsp" and meta["version"] == model.spec.version
    assert meta["weights_sha256"] == model.spec.weights.sha256
    assert meta["skeleton"]["joint_names"] == list(model.skeleton.joint_names)
    assert meta["input"]["shape"] == [128, 128, 3] and meta["input"]["dtype"] == "uint8"

    loaded = tf.saved_model.load(str(path))
    serve = loaded.signatures["serving_default"]
    out = serve(images=tf.constant(lsp_val_crops))
    assert set(out) == {"keypoints", "scores"}
    kp_keras, sc_keras = model.predict_keypoints(lsp_val_crops)
    assert out["keypoints"].shape == (48, 14, 2) and out["scores"].shape == (48, 14)
    np.testing.assert_allclose(out["keypoints"].numpy(), kp_keras, atol=1e-3)
    np.testing.assert_allclose(out["scores"].numpy(), sc_keras, atol=1e-4)
    # the keypoints are real predictions: inside the crop and mostly confident
    assert np.all((kp_keras >= -0.5) & (kp_keras <= 127.5))
    assert np.median(sc_keras) > 0.2


def test_export_refuses_to_overwrite_a_version(exported_saved_model):
    _, path, root = exported_saved_model
    with pytest.raises(FileExistsError, match="already holds a SavedModel"):
        export_saved_model("hourglass-lsp", root)
    assert (path / "saved_model.pb").is_file()
    assert not [p for p in path.iterdir() if p.name.startswith(".")]  # no temp folder left


def test_export_of_unpublished_preset_is_a_clear_error(tmp_path, local_store, unpublished_preset):
    with pytest.raises(zoo.WeightsNotPublishedError, match="no published weights"):
        export_saved_model(unpublished_preset, tmp_path)
    assert not (tmp_path / unpublished_preset).exists()
