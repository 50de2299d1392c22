"""What an architecture's preset module declares: the architecture (where its class lives, its
title, its paper) and its presets. Plain data: no TensorFlow, so ``zoo.list_models()`` stays light."""

from __future__ import annotations

import dataclasses
from typing import Dict, Optional

from zoo.specs import ModelSpec

#: ImageNet mean/std, applied inside the model to uint8 RGB.
IMAGENET_NORMALISATION = {"input": "uint8 RGB, 0..255", "inside_model": "(x / 255 - mean) / std",
                          "mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225]}
#: EfficientNet-Lite's own normalisation, (x - 127) / 128, written in the zoo's (x / 255 - mean) / std form.
LITE_NORMALISATION = {"input": "uint8 RGB, 0..255", "inside_model": "(x / 255 - mean) / std = (x - 127) / 128",
                      "mean": [127.0 / 255.0] * 3, "std": [128.0 / 255.0] * 3}


@dataclasses.dataclass(frozen=True)
class Architecture:
    """One architecture of the zoo, declared beside its presets.

    Args:
        name: registry name, the ``architecture`` of its specs (e.g. ``"hourglass"``).
        module: module holding its Keras class, imported only when the class is asked for.
        class_name: the class in ``module``.
        title: how model cards name it; the registry name when None.
        paper: the reference its presets cite unless they say otherwise.
    """

    name: str
    module: str
    class_name: str
    title: Optional[str] = None
    paper: str = ""

    @property
    def display_title(self) -> str:
        return self.title or self.name


def pose_preset(architecture: Architecture, name: str, model_args: Dict, *, experiment: str,
                normalisation: Dict, paper: Optional[str] = None) -> ModelSpec:
    """The preset ``name`` of ``architecture``: its skeleton and input size are read from
    ``model_args`` (where the model reads them), so they are stated once."""
    for key in ("skeleton", "input_size"):
        if key not in model_args:
            raise ValueError(f"preset {name!r}: model_args must give {key!r}, got keys {sorted(model_args)}")
    return ModelSpec(name=name, architecture=architecture.name, model_args=model_args,
                     skeleton=model_args["skeleton"], input_size=model_args["input_size"],
                     normalisation=normalisation, paper=paper or architecture.paper, experiment=experiment)
