"""Every published version gives the outputs it gave when it was published.

``data/published_outputs.npz`` holds each published model's keypoints / people on fixed inputs,
computed with the code as it stood when the model contract was introduced (commit 6c009cb's
models, before the redesign). A change of weights, layer order, normalisation or decoding shows
up here as a keypoint that moved.

Inputs: seeded noise (no data needed), the first 6 protocol crops of the LSPet validation split
and one coco-mini photo (skipped without the shared data).
"""

from pathlib import Path

import numpy as np
import pytest

REFERENCE = Path(__file__).parent / "data" / "published_outputs.npz"
TOP_DOWN = ["hourglass-lsp@1", "cpm-lsp@1", "deeppose-lsp@1", "tompson-lsp@1"]
PHOTO = "coco-mini/train2017/000000000790.jpg"


@pytest.fixture(scope="module")
def reference():
    return dict(np.load(REFERENCE))


def _noise():
    rng = np.random.default_rng(2026)
    return rng.integers(0, 256, (4, 128, 128, 3), dtype=np.uint8), rng.integers(0, 256, (2, 300, 240, 3),
                                                                                    dtype=np.uint8)


@pytest.fixture(scope="module")
def val_crops(lspet_root):
    from training.datasets import load_lspet
    from training.pipeline import evaluation_dataset

    val = load_lspet(split="val").subset(range(6))
    return np.concatenate([np.clip(np.round(b["image"].numpy()), 0, 255).astype(np.uint8)
                           for b in evaluation_dataset(val, 128, batch_size=6)])


def _check_keypoints(reference, key, keypoints, scores):
    np.testing.assert_allclose(keypoints, reference[f"{key}/keypoints"], atol=1e-3, err_msg=key)
    np.testing.assert_allclose(scores, reference[f"{key}/scores"], atol=1e-4, err_msg=key)


@pytest.mark.parametrize("name", TOP_DOWN)
def test_top_down_models_give_their_published_keypoints(name, reference):
    import zoo

    model = zoo.load(name)
    keypoints, scores = model.predict_keypoints(_noise()[0])
    _check_keypoints(reference, f"{name}/noise", keypoints, scores)


@pytest.mark.parametrize("name", TOP_DOWN)
def test_top_down_models_give_their_published_keypoints_on_real_crops(name, reference, val_crops):
    import zoo

    keypoints, scores = zoo.load(name).predict_keypoints(val_crops)
    _check_keypoints(reference, f"{name}/crops", keypoints, scores)


def test_openpose_gives_its_published_people(reference, shared_data):
    import cv2

    import zoo

    photo_path = shared_data / PHOTO
    if not photo_path.is_file():
        pytest.skip(f"{photo_path} not found")
    photo = cv2.cvtColor(cv2.imread(str(photo_path)), cv2.COLOR_BGR2RGB)
    model = zoo.load("openpose-lsp@1")
    for i, image in enumerate(list(_noise()[1]) + [photo]):
        people, scores = model.predict_people(image)
        key = f"openpose-lsp@1/image{i}"
        assert people.shape == reference[f"{key}/people"].shape, key
        np.testing.assert_allclose(people, reference[f"{key}/people"], atol=1e-3, err_msg=key)
        np.testing.assert_allclose(scores, reference[f"{key}/scores"], atol=1e-4, err_msg=key)
