"""The spec types of the zoo (``ModelSpec``, ``WeightsSpec``) and its errors. Plain data: no
TensorFlow, no files."""

from __future__ import annotations

import dataclasses
from typing import Dict, Optional


class ModelNotFoundError(KeyError):
    """Unknown model name or version; the message lists what exists."""

    def __str__(self):
        return str(self.args[0])


class WeightsNotPublishedError(LookupError):
    """The preset exists but no trained weights are published for it."""


class WeightsIntegrityError(ValueError):
    """A weights file does not match the sha256 recorded in its spec."""


@dataclasses.dataclass(frozen=True)
class WeightsSpec:
    """Trained weights of one published version.

    Args:
        file: weights file name inside the version folder.
        sha256: hex digest of the file, checked before loading.
        training: how they were trained (data, split, recipe, epochs, hardware, time).
        metrics: measured results (e.g. PCK on the validation split).
    """

    file: str
    sha256: str
    training: Dict = dataclasses.field(default_factory=dict)
    metrics: Dict = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True, kw_only=True)
class ModelSpec:
    """Everything needed to build, feed and decode a zoo model.

    Args:
        name: published name ``{arch}-{dataset}``.
        architecture: architecture name (``zoo.architectures``).
        model_args: build arguments of the architecture (include skeleton and input size).
        skeleton: skeleton name.
        input_size: side of the square uint8 RGB input.
        normalisation: how the model normalises pixels (done inside the model).
        codec: the codec of the published model (``model.codec_config()``, recorded by
            ``zoo.publish``); None for a preset, whose model builds its codec from ``model_args``.
        paper: reference of the architecture.
        experiment: training recipe name (``python -m training.train <experiment>``).
        version: published version (None for an unpublished preset).
        weights: the trained weights (None for an unpublished preset).
    """

    name: str
    architecture: str
    model_args: Dict
    skeleton: str
    input_size: int
    normalisation: Dict
    codec: Optional[Dict] = None
    paper: str
    experiment: str
    version: Optional[int] = None
    weights: Optional[WeightsSpec] = None

    @property
    def id(self) -> str:
        return f"{self.name}@{self.version}" if self.version is not None else self.name

    def to_dict(self) -> Dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: Dict) -> "ModelSpec":
        d = dict(d)
        if d.get("weights") is not None:
            d["weights"] = WeightsSpec(**d["weights"])
        fields = {f.name for f in dataclasses.fields(cls)}
        unknown = set(d) - fields
        if unknown:
            raise ValueError(f"unknown ModelSpec fields {sorted(unknown)}")
        return cls(**d)
