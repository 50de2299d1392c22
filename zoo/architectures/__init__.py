"""Architectures, one module each. ``get_architecture`` maps a registry name to its class."""

from __future__ import annotations

import importlib

# registry name -> (module, class); imported lazily: no TF at ``import zoo``.
_ARCHITECTURES = {
    "hourglass": ("zoo.architectures.hourglass", "StackedHourglass"),
    "cpm": ("zoo.architectures.cpm", "ConvolutionalPoseMachine"),
    "deeppose": ("zoo.architectures.deeppose", "DeepPose"),
    "tompson": ("zoo.architectures.tompson", "TompsonPoseModel"),
    "tompson2015": ("zoo.architectures.tompson2015", "Tompson2015"),
    "openpose": ("zoo.architectures.openpose", "OpenPose"),
    "simplebaseline": ("zoo.architectures.simplebaseline", "SimpleBaseline"),
    "ief": ("zoo.architectures.ief", "IterativeErrorFeedback"),
    # The person detector (zoo.tasks.DETECTION), not a pose model: zoo.load builds it the same way.
    "nanodet": ("zoo.detectors.nanodet", "NanoDet"),
}
ARCHITECTURE_NAMES = tuple(_ARCHITECTURES)


def get_architecture(name: str):
    """The model class of architecture ``name``."""
    if name not in _ARCHITECTURES:
        raise KeyError(f"Unknown architecture {name!r}; known: {list(ARCHITECTURE_NAMES)}")
    module, cls = _ARCHITECTURES[name]
    return getattr(importlib.import_module(module), cls)
