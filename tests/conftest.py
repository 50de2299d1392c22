"""Shared fixtures. Real data is read through $POSEZOO_DATA (default ../shared/data)."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import pytest

from training.datasets.base import DATA_ROOT_ENV, data_root


@pytest.fixture(scope="session")
def shared_data():
    """The shared data root; skips the test when it is absent."""
    root = data_root()
    if not root.is_dir():
        pytest.skip(f"shared data not found at {root} (set ${DATA_ROOT_ENV} to the data folder)")
    return root


@pytest.fixture(scope="session")
def lspet_root(shared_data):
    root = shared_data / "lspet"
    if not (root / "joints.mat").is_file():
        pytest.skip(f"LSPet not found at {root} (set ${DATA_ROOT_ENV})")
    return root


@pytest.fixture(scope="session")
def mpii_sample(shared_data):
    path = shared_data / "mpii-sample" / "test_mpii.json"
    if not path.is_file():
        pytest.skip(f"MPII sample not found at {path} (set ${DATA_ROOT_ENV})")
    return path


TEST_CALIBRATION_CROPS = 300
SHARED_EXPORTS = ("exported", "exports_dir")


def pytest_collection_modifyitems(config, items):
    """pytest-xdist groups (``--dist loadgroup``): each worker is a session of its own, so the
    tests of the session's exported files run on one worker (split, they would export the same
    published files twice), and every other test with the rest of its module (its module-scoped
    fixtures, a model export or a benchmark run, are then made once)."""
    for item in items:
        shared = set(SHARED_EXPORTS) & set(getattr(item, "fixturenames", ()))
        item.add_marker(pytest.mark.xdist_group("exports" if shared else item.module.__name__))


@pytest.fixture(scope="session")
def exports_dir(tmp_path_factory):
    """One exports folder per test session (``edge.export``'s layout), shared by the tests that
    export published models, so each published file is converted once (an int8 conversion of
    the flagship takes minutes on 2 cores)."""
    return tmp_path_factory.mktemp("exports")


@pytest.fixture(scope="session")
def exported(exports_dir):
    """``exported(name, format, precision, model=None)``: the path of ``edge.export``'s file of a
    published model in ``exports_dir``, exported on first use and reused after. int8 files are
    calibrated on ``TEST_CALIBRATION_CROPS`` real crops, the release's count: the parity targets are
    the released files', and fewer crops can miss them."""

    def get(name, format="tflite", precision="float32", model=None):
        import edge
        import zoo
        from edge.exporter import artifact_path

        path = artifact_path(zoo.get_spec(name), exports_dir, format, precision)
        if not path.exists():
            path = edge.export(name, format, precision, exports_dir, model=model,
                               calibration_size=TEST_CALIBRATION_CROPS)
        return path

    return get


@pytest.fixture()
def local_store(tmp_path, monkeypatch):
    """An empty local model store ($POSEZOO_HOME) for the test."""
    store = tmp_path / "posezoo_home"
    monkeypatch.setenv("POSEZOO_HOME", str(store))
    return store


TINY_SIZE = 32


@pytest.fixture(scope="session")
def tiny_hourglass():
    """A one-stack, 16-filter hourglass at 32x32 (LSP joints) with heads that give distinct maxima."""
    import keras
    import numpy as np

    from zoo.architectures.hourglass import StackedHourglass

    keras.utils.set_random_seed(0)
    model = StackedHourglass(num_stacks=1, filters=16, depth=2, input_size=TINY_SIZE, skeleton="lsp14")
    model.build((None, TINY_SIZE, TINY_SIZE, 3))
    for head in model.heads:
        head.kernel.assign(np.random.default_rng(0).normal(0, 0.2, head.kernel.shape).astype("float32"))
    return model


@pytest.fixture()
def keras_round_trip(tmp_path):
    """``check(model, images)``: saves ``model`` to a ``.keras`` file, loads it back and asserts
    the same class, config, outputs and ``predict_keypoints``; returns the loaded model. The same
    check for every architecture."""
    import keras
    import numpy as np

    def check(model, images):
        path = tmp_path / f"{type(model).__name__}.keras"
        keras.saving.save_model(model, path)
        loaded = keras.saving.load_model(path)
        assert type(loaded) is type(model)
        assert loaded.get_config() == model.get_config()
        np.testing.assert_array_equal(np.asarray(model(images, training=False)),
                                      np.asarray(loaded(images, training=False)))
        for a, b in zip(model.predict_keypoints(images), loaded.predict_keypoints(images)):
            np.testing.assert_array_equal(a, b)
        return loaded

    return check


#: A preset with no published weights in any store, for the tests of what an unpublished model does
#: (every real preset may be published in the package one day).
UNPUBLISHED = "hourglass-unpublished"


@pytest.fixture
def unpublished_preset(monkeypatch):
    """Registers ``UNPUBLISHED``: hourglass-mpii's preset (MPII-16, 128 px, recipe hourglass_mpii)
    under a name no store publishes."""
    import dataclasses

    from zoo import registry

    monkeypatch.setitem(registry.PRESETS, UNPUBLISHED,
                        dataclasses.replace(registry.PRESETS["hourglass-mpii"], name=UNPUBLISHED))
    return UNPUBLISHED
