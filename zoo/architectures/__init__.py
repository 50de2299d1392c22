"""Architectures, one module each. ``get_architecture`` maps a registry name to its class.

Which architectures exist, and where each class lives, is declared in ``zoo.presets`` (one light
module per architecture); the class module is imported only here, on first use: no TF at
``import zoo``."""

from __future__ import annotations

import importlib

from zoo.presets import ARCHITECTURES

ARCHITECTURE_NAMES = tuple(ARCHITECTURES)


def get_architecture(name: str):
    """The model class of architecture ``name``."""
    if name not in ARCHITECTURES:
        raise KeyError(f"Unknown architecture {name!r}; known: {list(ARCHITECTURE_NAMES)}")
    architecture = ARCHITECTURES[name]
    return getattr(importlib.import_module(architecture.module), architecture.class_name)
