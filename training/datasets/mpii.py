"""MPII Human Pose (Andriluka et al., CVPR 2014) in the common JSON form.

A list of records ``{"image", "joints" (16 x 2), "joints_vis" (16), "center" (2), "scale"}``,
the form used by most MPII loaders (e.g. the HRNet / mmpose annotation files). Joint order is
``zoo.skeletons.MPII16``. ``scale`` is the person height / 200 px.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import numpy as np

from training.datasets.base import DatasetError, PoseSamples, data_root

NUM_JOINTS = 16


def load_mpii_json(json_path: Optional[str] = None, image_dir: Optional[str] = None,
                   check_images: bool = True) -> PoseSamples:
    """Loads MPII-format records; every malformed record raises naming the file and index."""
    json_path = Path(json_path) if json_path else data_root() / "mpii-sample" / "test_mpii.json"
    image_dir = Path(image_dir) if image_dir else json_path.parent
    try:
        with open(json_path, "rb") as f:
            records = json.loads(f.read().decode("utf-8"))
    except FileNotFoundError:
        raise FileNotFoundError(f"MPII annotations not found: {json_path}") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise DatasetError(f"{json_path}: not valid JSON ({e})") from None
    if not isinstance(records, list):
        raise DatasetError(f"{json_path}: expected a JSON list of records, got {type(records).__name__}")
    paths, kps, vis, ids = [], [], [], []
    for i, r in enumerate(records):
        where = f"{json_path}: record {i}"
        if not isinstance(r, dict):
            raise DatasetError(f"{where}: expected an object, got {type(r).__name__}")
        for field in ("image", "joints", "joints_vis"):
            if field not in r:
                raise DatasetError(f"{where}: missing field {field!r}")
        where = f"{where} ({r['image']})"
        try:
            j = np.asarray(r["joints"], dtype=np.float64)
            v = np.asarray(r["joints_vis"], dtype=np.float64)
        except (TypeError, ValueError):
            raise DatasetError(f"{where}: fields 'joints'/'joints_vis' must be numbers") from None
        if j.shape != (NUM_JOINTS, 2):
            raise DatasetError(f"{where}: field 'joints' must be 16 x 2, got shape {j.shape}")
        if v.shape != (NUM_JOINTS,):
            raise DatasetError(f"{where}: field 'joints_vis' must have 16 values, got shape {v.shape}")
        if not np.all(np.isfinite(j)):
            raise DatasetError(f"{where}: field 'joints' has non-finite values")
        image = image_dir / str(r["image"])
        if check_images and not image.is_file():
            raise DatasetError(f"{where}: image {image} is missing")
        # MPII marks unlabelled joints with -1 coordinates; treat them as not visible.
        v = ((v > 0) & np.all(j >= 0, axis=1)).astype(np.float32)
        paths.append(str(image))
        kps.append(j)
        vis.append(v)
        ids.append(f"{i}:{r['image']}")
    return PoseSamples(paths, np.asarray(kps, np.float32).reshape(-1, NUM_JOINTS, 2),
                       np.asarray(vis, np.float32).reshape(-1, NUM_JOINTS), "mpii16", ids)
