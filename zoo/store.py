"""The model store: published versions on disk.

A *published version* is a folder ``<store>/<name>/<version>/`` holding ``model.json`` (the full
``ModelSpec`` with sha256, training recipe and measured metrics), ``model.weights.h5`` and, added
later, ``measurements/*.json`` (export parity, latency). Two stores are searched: the one shipped
inside the package (``zoo/published``) and a local one (``$POSEZOO_HOME``, default
``~/.posezoo``) that publishing writes to by default. Published versions never change: publishing
always creates the next number.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from pathlib import Path
from typing import Dict, List, Optional

from zoo.io import atomic_path, write_atomic
from zoo.specs import ModelSpec, WeightsSpec

PACKAGE_STORE = Path(__file__).resolve().parent / "published"
HOME_ENV = "POSEZOO_HOME"
SPEC_FILE = "model.json"
WEIGHTS_FILE = "model.weights.h5"
MEASUREMENTS_DIR = "measurements"


def local_store() -> Path:
    return Path(os.environ.get(HOME_ENV) or Path.home() / ".posezoo")


def stores() -> List[Path]:
    return [PACKAGE_STORE, local_store()]


def published_versions(name: str) -> Dict[int, Path]:
    """Version -> folder of every published version of ``name`` (package store first)."""
    found: Dict[int, Path] = {}
    for store in stores():
        d = store / name
        if not d.is_dir():
            continue
        for v in d.iterdir():
            if v.name.isdigit() and (v / SPEC_FILE).is_file():
                found.setdefault(int(v.name), v)
    return dict(sorted(found.items()))


def published_names() -> List[str]:
    """Names with at least one published version, in any store."""
    names = set()
    for store in stores():
        if store.is_dir():
            names.update(p.name for p in store.iterdir() if p.is_dir() and published_versions(p.name))
    return sorted(names)


def read_spec(folder: Path) -> ModelSpec:
    """The spec in a version folder's ``model.json``."""
    path = Path(folder) / SPEC_FILE
    try:
        return ModelSpec.from_dict(json.loads(path.read_text()))
    except (OSError, ValueError, TypeError) as e:
        raise ValueError(f"{path}: unreadable model spec ({e})") from None


def sha256_file(path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def add_version(preset: ModelSpec, model, training: Dict, metrics: Dict, store: Optional[Path] = None) -> ModelSpec:
    """Writes ``model`` (built from ``preset``, trained weights loaded) as the next version of
    ``preset.name`` in ``store`` (default: the local store) and returns its spec as stored.

    The folder is written atomically: the model's variables (no optimizer state), and
    ``model.json`` with the sha256 of that file, ``training`` (plus the file's size), ``metrics``
    and the model's codec (``model.codec_config()``).
    """
    store = Path(store) if store else local_store()
    version = max(published_versions(preset.name), default=0) + 1
    folder = store / preset.name / str(version)
    if folder.exists():
        raise FileExistsError(f"{folder} exists but holds no published version; remove it to publish")
    with atomic_path(folder) as tmp:
        tmp.mkdir()
        weights = tmp / WEIGHTS_FILE
        model.save_weights(str(weights))
        training = {**training, "weights_bytes": weights.stat().st_size}
        spec = dataclasses.replace(preset, codec=model.codec_config(), version=version, weights=WeightsSpec(
            file=WEIGHTS_FILE, sha256=sha256_file(weights), training=training, metrics=metrics))
        (tmp / SPEC_FILE).write_text(json.dumps(spec.to_dict(), indent=2) + "\n")
    # What was stored (JSON: tuples become lists), so a card rendered now reads as one rendered later.
    return read_spec(folder)


def measurements(spec: ModelSpec) -> Dict[str, Dict]:
    """Reports measured on a published version after publishing (export parity, latency), by
    name, from ``<version folder>/measurements/``; the weights and ``model.json`` never change."""
    folder = published_versions(spec.name).get(spec.version)
    if folder is None or not (folder / MEASUREMENTS_DIR).is_dir():
        return {}
    return {p.stem: json.loads(p.read_text()) for p in sorted((folder / MEASUREMENTS_DIR).glob("*.json"))}


def write_measurement(spec: ModelSpec, name: str, report: Dict) -> Path:
    """Stores the measurement report ``name`` of a published version; returns its path."""
    folder = published_versions(spec.name)[spec.version] / MEASUREMENTS_DIR
    return write_atomic(folder / f"{name}.json", json.dumps(report, indent=2) + "\n")
