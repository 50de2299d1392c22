"""The person detector's architecture (zoo.tasks.DETECTION), not a pose model: zoo.load builds it
the same way. It has no preset: its one spec is the converted, published ``person-detector``."""

from zoo.presets._declare import Architecture

ARCHITECTURE = Architecture("nanodet", "zoo.detectors.nanodet", "NanoDet")
PRESETS = ()
