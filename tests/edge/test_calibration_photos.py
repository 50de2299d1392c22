"""#27: a bottom-up model trained on real photos (the recipe openpose_coco) is calibrated for int8 on
what it was trained on: its recipe's sources in their sampling shares, the COCO and MPII training
photos letterboxed and scenes of LSPet training people, never a validation photo; its int8 export
(here the tiny recipe's model, untrained) no longer stops, and an LSP-14 model keeps its scenes."""

import json

import numpy as np
import pytest
from openpose_coco_tiny import TINY, register_tiny_coco_preset  # tests/ is on sys.path

from zoo import registry


@pytest.fixture
def tiny_spec(monkeypatch, shared_data, lspet_root):
    if not (shared_data / "mpii-subset").is_dir():
        pytest.skip(f"MPII subset not in {shared_data}")
    register_tiny_coco_preset(monkeypatch)
    return registry.PRESETS[TINY]


@pytest.fixture
def photos_read(monkeypatch):
    """The image paths the calibration reads (``zoo.io.read_image`` spied on)."""
    from zoo import io

    seen = []
    read = io.read_image

    def spy(path):
        seen.append(str(path))
        return read(path)

    monkeypatch.setattr(io, "read_image", spy)
    return seen


def test_the_recipe_sources_in_their_shares_and_no_validation_photo(tiny_spec, photos_read):
    from edge.calibration import _calibration_parts, calibration_scenes, calibration_sources, scene_calibration
    from training.datasets.coco import load_coco_photos
    from training.datasets.mpii import load_mpii_photos

    assert calibration_sources(tiny_spec) == (("coco_photos", 0.4), ("mpii_photos", 0.35), ("lspet_scenes", 0.25))
    parts = _calibration_parts(tiny_spec, 20, seed=7)
    assert [(name, len(images)) for name, images in parts] == [("coco_photos", 8), ("mpii_photos", 7),
                                                               ("lspet_scenes", 5)]
    images = np.concatenate([i for _, i in parts])
    assert images.shape == (20, 64, 64, 3) and images.dtype == np.uint8 and images.std() > 20
    coco_train = set(load_coco_photos(split="train").image_paths)
    mpii_train = set(load_mpii_photos(split="train").image_paths)
    validation = set(load_coco_photos(split="val").image_paths) | set(load_mpii_photos(split="val").image_paths)
    assert len(photos_read) == 15 and not set(photos_read) & validation
    assert set(photos_read[:8]) <= coco_train and set(photos_read[8:]) <= mpii_train
    assert np.array_equal(calibration_scenes(tiny_spec, 20, seed=7), images)  # reproducible
    _, description = scene_calibration(tiny_spec, 20, seed=7)
    assert description.startswith("20 images of the training sources of recipe openpose_coco_tiny in its sampling "
                                  "shares (8 COCO training photos, 7 MPII subset training photos, 5 LSPet training "
                                  "scenes)")


def test_an_lsp_model_keeps_its_lspet_scenes_and_another_skeleton_is_named(lspet_root):
    import dataclasses

    from edge.calibration import SCENE_CALIBRATION_DESCRIPTION, calibration_sources, scene_calibration

    spec = registry.get_spec("openpose-lsp")
    assert calibration_sources(spec) == (("lspet_scenes", 1.0),)
    _, description = scene_calibration(spec, 4)
    assert description == SCENE_CALIBRATION_DESCRIPTION.format(count=4, canvas=spec.input_size, seed=7)
    with pytest.raises(ValueError, match="no calibration data defined for skeleton 'mpii16' without a recipe"):
        calibration_sources(dataclasses.replace(spec, skeleton="mpii16", experiment=None))


def test_the_tiny_coco17_model_exports_to_int8(tiny_spec, local_store, tmp_path, shared_data):
    import edge
    import zoo
    from edge.tflite import TFLiteRunner
    from training.datasets.coco import load_coco_photos
    from zoo import store
    from zoo.io import read_image
    from zoo.preprocess import letterbox

    store.add_version(tiny_spec, zoo.load(TINY, weights=None), {"data": "none (untrained)"}, {}, local_store)
    path = edge.export(TINY, "tflite", "int8", tmp_path / "exports", calibration_size=12)
    assert path == tmp_path / "exports" / TINY / "1" / f"{TINY}-v1-int8.tflite"
    meta = json.loads(path.with_suffix(".json").read_text())
    assert meta["precision"] == "int8" and "COCO training photos" in json.dumps(meta)
    boxed, _ = letterbox(read_image(load_coco_photos(split="val").image_paths[0]), 64)
    people, scores = TFLiteRunner(path).predict(boxed[None])
    assert people.shape[-2:] == (17, 3) and scores.shape == people.shape[:2]
