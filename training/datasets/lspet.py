"""LSP extended (Johnson & Everingham, CVPR 2011): ``joints.mat`` (14 x 3 x N) + ``images/``.

Joint order is ``zoo.skeletons.LSP14``; the third row is 1 for a labelled (visible) joint and 0
for one that is occluded or outside the image (its coordinates are then meaningless).
The zoo's fixed split: ``im00001``-``im08100`` train, ``im08101``-``im09000`` validation (the last
1,000 images of LSPet are held out by the project as its test set and are not shipped).
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import numpy as np

from training.datasets.base import DatasetError, PoseSamples, data_root

NUM_JOINTS = 14
TRAIN_SPLIT = (1, 8100)
VAL_SPLIT = (8101, 9000)
SPLITS = {"train": TRAIN_SPLIT, "val": VAL_SPLIT, "all": (1, 9000)}


def load_lspet(root: Optional[str] = None, split: str = "all", check_images: bool = True) -> PoseSamples:
    """Loads LSPet samples of ``split`` (``train``, ``val`` or ``all``).

    Args:
        root: folder with ``joints.mat`` and ``images/`` (default ``<data root>/lspet``).
        split: which fixed split to return.
        check_images: raise when an image file of the split is missing.
    """
    import scipy.io

    root = Path(root) if root else data_root() / "lspet"
    if split not in SPLITS:
        raise ValueError(f"Unknown LSPet split {split!r}; choose from {sorted(SPLITS)}")
    mat_path = root / "joints.mat"
    if not mat_path.is_file():
        raise FileNotFoundError(f"LSPet annotations not found: {mat_path} (set $POSEZOO_DATA)")
    try:
        mat = scipy.io.loadmat(str(mat_path))
    except Exception as e:  # scipy raises several types for damaged files
        raise DatasetError(f"{mat_path}: not a readable MATLAB file ({type(e).__name__}: {e})") from None
    if "joints" not in mat:
        keys = sorted(k for k in mat if not k.startswith("__"))
        raise DatasetError(f"{mat_path}: no variable 'joints' (found {keys})")
    joints = np.asarray(mat["joints"])
    if joints.ndim != 3 or joints.shape[:2] != (NUM_JOINTS, 3):
        raise DatasetError(f"{mat_path}: 'joints' must be 14 x 3 x N, got shape {joints.shape}")
    joints = joints.astype(np.float64)
    first, last = SPLITS[split]
    last = min(last, joints.shape[2])
    paths, kps, vis, ids = [], [], [], []
    for n in range(first - 1, last):
        rid = f"im{n + 1:05d}"
        j = joints[:, :, n]
        flags = j[:, 2]
        if not np.all(np.isfinite(j)):
            raise DatasetError(f"{mat_path}: record {n} ({rid}) has non-finite joint values")
        if not np.all(np.isin(flags, (0.0, 1.0))):
            raise DatasetError(f"{mat_path}: record {n} ({rid}) has visibility flags {flags.tolist()}, expected 0/1")
        image = root / "images" / f"{rid}.jpg"
        if check_images and not image.is_file():
            raise DatasetError(f"{mat_path}: record {n} ({rid}): image {image} is missing")
        paths.append(str(image))
        kps.append(j[:, :2])
        vis.append(flags)
        ids.append(rid)
    return PoseSamples(paths, np.asarray(kps, np.float32).reshape(-1, NUM_JOINTS, 2),
                       np.asarray(vis, np.float32).reshape(-1, NUM_JOINTS), "lsp14", ids)
