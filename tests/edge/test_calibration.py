"""int8 calibration uses real training crops and is reproducible."""

import dataclasses

import numpy as np
import pytest

from edge.calibration import calibration_crops
from zoo import registry


def test_calibration_crops_are_real_and_deterministic(lspet_root):
    spec = registry.get_spec("hourglass-lsp")
    a = calibration_crops(spec, count=60, seed=0)
    b = calibration_crops(spec, count=60, seed=0)
    c = calibration_crops(spec, count=60, seed=1)
    assert a.shape == (60, 128, 128, 3) and a.dtype == np.uint8
    assert np.array_equal(a, b)  # same seed, same crops: int8 exports are reproducible
    assert not np.array_equal(a, c)
    assert a.std() > 20  # real photos, not blank padding


def test_calibration_rejects_bad_requests():
    spec = registry.get_spec("hourglass-lsp")
    with pytest.raises(ValueError, match="count=0"):
        calibration_crops(spec, count=0)
    with pytest.raises(ValueError, match="flic11"):
        calibration_crops(dataclasses.replace(spec, skeleton="flic11"), count=10)


def test_an_mpii_model_is_calibrated_on_mpii_photos_first(shared_data):
    """MPII-16 models (issue #28) are calibrated on the sets they were trained on, the MPII subset's
    training people first."""
    if not (shared_data / "mpii-subset").is_dir():
        pytest.skip(f"MPII subset not in {shared_data}")
    crops = calibration_crops(registry.PRESETS["hourglass-mpii"], count=6, seed=0)
    assert crops.shape == (6, 128, 128, 3) and crops.std() > 20
