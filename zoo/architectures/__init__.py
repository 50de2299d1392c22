"""Architectures, one module each. ``ARCHITECTURES`` maps a registry name to its class."""

from __future__ import annotations


def get_architecture(name: str):
    """The model class of architecture ``name`` (imported lazily: no TF at ``import zoo``)."""
    if name == "hourglass":
        from zoo.architectures.hourglass import StackedHourglass

        return StackedHourglass
    raise KeyError(f"Unknown architecture {name!r}; known: {list(ARCHITECTURE_NAMES)}")


ARCHITECTURE_NAMES = ("hourglass",)
