"""The architectures and presets of the zoo, as plain data: how to build each model (architecture,
build arguments, skeleton, input size, normalisation). A preset has no codec of its own: the model
builds its codec from its build arguments, and ``zoo.publish`` records it in the published spec.

Every module of this package not starting with ``_`` declares one architecture: ``ARCHITECTURE``
(an ``Architecture``: where its Keras class lives, its title, its paper) and ``PRESETS`` (a tuple of
``ModelSpec``, made with ``pose_preset``). Adding an architecture is adding its module here beside
its class in ``zoo.architectures``; nothing else lists it. No module here imports TensorFlow.
"""

from __future__ import annotations

import importlib
import pkgutil
from typing import Dict, Tuple

from zoo.presets._declare import IMAGENET_NORMALISATION, LITE_NORMALISATION, Architecture, pose_preset
from zoo.specs import ModelSpec


def _collect() -> Tuple[Dict[str, Architecture], Dict[str, ModelSpec]]:
    architectures: Dict[str, Architecture] = {}
    presets: Dict[str, ModelSpec] = {}
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        architecture = getattr(module, "ARCHITECTURE", None)
        if not isinstance(architecture, Architecture):
            raise TypeError(f"{module.__name__} must declare ARCHITECTURE = Architecture(...), "
                            f"got {architecture!r}")
        if architecture.name in architectures:
            raise ValueError(f"architecture {architecture.name!r} is declared twice ({info.name} and another module)")
        architectures[architecture.name] = architecture
        for preset in module.PRESETS:
            if preset.name in presets:
                raise ValueError(f"preset {preset.name!r} is declared twice ({info.name} and another module)")
            if preset.architecture != architecture.name:
                raise ValueError(f"{module.__name__}: preset {preset.name!r} names architecture "
                                 f"{preset.architecture!r}, not this module's {architecture.name!r}")
            presets[preset.name] = preset
    return architectures, presets


#: Every architecture by registry name, and every preset by model name.
ARCHITECTURES, PRESETS = _collect()


def architecture_title(name: str) -> str:
    """How model cards name architecture ``name`` (the registry name when it declares no title)."""
    architecture = ARCHITECTURES.get(name)
    return architecture.display_title if architecture else name


__all__ = ["ARCHITECTURES", "PRESETS", "Architecture", "IMAGENET_NORMALISATION", "LITE_NORMALISATION",
           "architecture_title", "pose_preset"]
