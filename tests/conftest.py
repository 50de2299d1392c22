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


@pytest.fixture()
def local_store(tmp_path, monkeypatch):
    """An empty local model store ($POSEZOO_HOME) for the test."""
    store = tmp_path / "posezoo_home"
    monkeypatch.setenv("POSEZOO_HOME", str(store))
    return store
