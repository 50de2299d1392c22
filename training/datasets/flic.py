"""FLIC, Frames Labeled In Cinema (Sapp & Taskar, "MODEC: Multimodal Decomposable Models for Human
Pose Estimation", CVPR 2013), in its release format.

``<root>/examples.mat`` holds the struct array ``examples``, one element per frame, with fields
``coords`` (2 x 29: x in row 1, y in row 2, NaN for unlabelled slots), ``filepath`` (the image
file name under ``<root>/images/``), ``istrain`` / ``istest`` (the release's own split: 3,987
train and 1,016 test frames in FLIC, the same fields in FLIC-full), ``torsobox`` (x1 y1 x2 y2),
``imgdims``, ``moviename``, ``currframe``. Of the 29 slots, 11 upper-body joints are labelled, at
MATLAB indices 1 lsho, 2 lelb, 3 lwri, 4 rsho, 5 relb, 6 rwri, 7 lhip, 10 rhip, 13 leye, 14 reye,
17 nose; they become ``zoo.skeletons.FLIC11`` in that order (``FLIC_SLOTS``), with the release's
left/right naming kept. Coordinates are the file's own, as for the other loaders.

FLIC's metric is the torso-normalised PCK, ``training.metrics.flic_pck``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import numpy as np

from training.datasets import matlab
from training.datasets.base import DatasetError, PoseSamples, data_root
from zoo.skeletons import FLIC11

#: MATLAB (1-based) slots of ``coords`` holding FLIC11's joints, in FLIC11's order.
FLIC_SLOTS = (1, 2, 3, 4, 5, 6, 7, 10, 13, 14, 17)
NUM_SLOTS = 29
SPLITS = ("train", "test", "all")


def load_flic(root: Optional[str] = None, split: str = "train", check_images: bool = True) -> PoseSamples:
    """Loads the FLIC frames of ``split``: ``train`` (``istrain``), ``test`` (``istest``) or ``all``.

    Args:
        root: folder with ``examples.mat`` and ``images/`` (default ``<data root>/FLIC``).
        split: which of the release's splits to return.
        check_images: raise when an image file of the split is missing.

    A joint is labelled (``visible`` 1) where its slot of ``coords`` is finite; unlabelled joints
    get x = y = 0. Sample ids are ``"<record>:<filepath>"`` (0-based record). Every malformed
    record raises ``DatasetError`` naming the file, the record (``examples(n)``, MATLAB's 1-based
    index) and the field.
    """
    if split not in SPLITS:
        raise ValueError(f"Unknown FLIC split {split!r}; choose from {list(SPLITS)}")
    root = Path(root) if root else data_root() / "FLIC"
    mat_path = root / "examples.mat"
    examples = matlab.items(matlab.load_variable(mat_path, "examples", "FLIC", " (set $POSEZOO_DATA)"))
    slots = np.asarray(FLIC_SLOTS) - 1
    k = FLIC11.num_joints
    paths, kps, vis, ids = [], [], [], []
    for n, ex in enumerate(examples):
        where = f"{mat_path}: examples({n + 1})"
        name = matlab.text(matlab.field(ex, "filepath", where), where, "filepath")
        where = f"{where} ({name})"
        is_train = matlab.number(matlab.field(ex, "istrain", where), where, "istrain")
        is_test = matlab.number(matlab.field(ex, "istest", where), where, "istest")
        for flag, value in (("istrain", is_train), ("istest", is_test)):
            if value not in (0.0, 1.0):
                raise DatasetError(f"{where}: field {flag!r} must be 0 or 1, got {value}")
        coords = matlab.field(ex, "coords", where)
        try:
            coords = np.asarray(coords, np.float64)
        except (TypeError, ValueError):
            raise DatasetError(f"{where}: field 'coords' must be numbers") from None
        if coords.shape != (2, NUM_SLOTS):
            raise DatasetError(f"{where}: field 'coords' must be 2 x {NUM_SLOTS}, got shape {coords.shape}")
        if np.isinf(coords).any():
            raise DatasetError(f"{where}: field 'coords' has infinite values (unlabelled slots are NaN)")
        keep = {"train": is_train, "test": is_test, "all": 1.0}[split]
        if not keep:
            continue
        image = root / "images" / name
        if check_images and not image.is_file():
            raise DatasetError(f"{where}: image {image} (field 'filepath') is missing")
        xy = coords[:, slots].T  # (11, 2)
        labelled = np.all(np.isfinite(xy), axis=1)
        paths.append(str(image))
        kps.append(np.where(labelled[:, None], xy, 0.0))
        vis.append(labelled)
        ids.append(f"{n}:{name}")
    return PoseSamples(paths, np.asarray(kps, np.float32).reshape(-1, k, 2),
                       np.asarray(vis, np.float32).reshape(-1, k), FLIC11.name, ids)
