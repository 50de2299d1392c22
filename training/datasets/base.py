"""Common record type of the single-person datasets and the data-root setting."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import List

import numpy as np

DATA_ROOT_ENV = "POSEZOO_DATA"


def data_root() -> Path:
    """Root of the shared data: ``$POSEZOO_DATA``, default ``../shared/data`` beside the repo."""
    env = os.environ.get(DATA_ROOT_ENV)
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[2].parent / "shared" / "data"


class DatasetError(ValueError):
    """A dataset file or record is malformed; the message names the file and the record."""


@dataclasses.dataclass
class PoseSamples:
    """Single-person samples of one dataset.

    Attributes:
        image_paths: ``N`` image file paths.
        keypoints: float32 ``(N, K, 2)`` x, y in image pixels.
        visible: float32 ``(N, K)``, 1 where the joint is labelled, 0 otherwise.
        skeleton: skeleton name of the joint order.
        ids: ``N`` record identifiers used in error messages and splits.
    """

    image_paths: List[str]
    keypoints: np.ndarray
    visible: np.ndarray
    skeleton: str
    ids: List[str]

    def __len__(self):
        return len(self.image_paths)

    def subset(self, index) -> "PoseSamples":
        index = np.asarray(index)
        return PoseSamples([self.image_paths[i] for i in index], self.keypoints[index],
                           self.visible[index], self.skeleton, [self.ids[i] for i in index])
