"""The real photos a bottom-up model is scored on (training.people_evaluation.validation_photos):
a model whose recipe trains on the COCO photos' training split (openpose_coco) is scored on the
COCO photos' validation split, all its people, and on none of its training photos (coco-mini's
held-out 20 hold some); openpose-lsp keeps coco-mini's held-out photos. Per-image OKS for the
card's worst photos."""

from types import SimpleNamespace

import numpy as np
import pytest
from openpose_coco_tiny import TINY, register_tiny_coco_preset  # tests/ is on sys.path

from training.oks_metrics import per_image_oks
from zoo.skeletons import COCO17, LSP14


@pytest.fixture
def tiny_coco_preset(monkeypatch):
    return register_tiny_coco_preset(monkeypatch)


@pytest.fixture
def photos_seen(monkeypatch):
    """The image paths every photo evaluation predicts, in order (``predict_photos`` spied on)."""
    from training import people_evaluation

    seen = []
    predict = people_evaluation.predict_photos

    def spy(people_fn, image_paths, size):
        seen.extend(str(p) for p in image_paths)
        return predict(people_fn, image_paths, size)

    monkeypatch.setattr(people_evaluation, "predict_photos", spy)
    return seen


def test_per_image_oks_matches_people_greedily_and_counts_the_missed():
    sigmas = np.full(2, 0.1)
    gt = [np.asarray([[[10, 10], [20, 20]], [[50, 50], [60, 60]]], np.float32), np.zeros((0, 2, 2)),
          np.asarray([[[10, 10], [20, 20]]], np.float32)]
    vis = [np.ones((2, 2)), np.zeros((0, 2)), np.asarray([[1, 0]])]
    areas = [np.full(2, 100.0), np.zeros(0), np.full(1, 100.0)]
    # image 0: one exact person, the other missed; image 2: one joint 5 px off (the other unlabelled).
    pred = [gt[0][:1], np.zeros((0, 2, 2)), gt[2] + np.asarray([[[3, 4], [90, 90]]])]
    scores = [np.ones(1), np.zeros(0), np.ones(1)]
    out = per_image_oks(gt, vis, areas, pred, scores, sigmas)
    assert out[0] == pytest.approx(0.5) and np.isnan(out[1])
    assert out[2] == pytest.approx(np.exp(-25 / (2 * 100 * 0.2 ** 2)))
    # a better-scored, worse guess takes the person first (COCO's greedy order): the exact one is left over
    guesses = [np.concatenate([gt[0][:1] + 2, gt[0][:1]]), pred[1], pred[2]]
    greedy = per_image_oks(gt, vis, areas, guesses, [np.asarray([0.9, 0.5]), scores[1], scores[2]], sigmas)
    assert greedy[0] == pytest.approx(np.exp(-8 / (2 * 100 * 0.2 ** 2)) / 2)


def test_only_a_recipe_of_real_photos_moves_to_the_coco_validation_split(tiny_coco_preset):
    from training.people_evaluation import trains_on_coco_photos
    from zoo import registry

    def model(name, skeleton):
        return SimpleNamespace(spec=registry.PRESETS[name], skeleton=skeleton)

    assert trains_on_coco_photos(model("openpose-coco", COCO17)) and trains_on_coco_photos(model(TINY, COCO17))
    assert not trains_on_coco_photos(model("openpose-lsp", LSP14))  # coco_mix: coco-mini's held-out 20
    assert trains_on_coco_photos(SimpleNamespace(spec=None, skeleton=COCO17))  # no recipe: by skeleton
    assert not trains_on_coco_photos(SimpleNamespace(spec=None, skeleton=LSP14))


def test_a_coco17_bottom_up_model_is_scored_on_the_validation_split_only(tiny_coco_preset, photos_seen,
                                                                           shared_data, lspet_root, tmp_path,
                                                                           capsys):
    import json

    import zoo
    from tools.evaluate import main
    from training.datasets.coco import load_coco_photos
    from training.people_evaluation import COCO_VAL_PROTOCOL, WORST_PHOTOS, heldout_photos

    weights = tmp_path / "tiny.weights.h5"
    zoo.load(TINY, weights=None).save_weights(str(weights))
    assert main([TINY, "--weights", str(weights), "--limit", "3", "--output", str(tmp_path / "r.json")]) == 0
    printed = capsys.readouterr().out
    assert f"{TINY} on coco_val: {COCO_VAL_PROTOCOL}" in printed and "worst photos (mean OKS" in printed
    result = json.loads((tmp_path / "r.json").read_text())
    val, train = load_coco_photos(split="val"), load_coco_photos(split="train")
    # exactly the validation photos, none the recipe trains on (coco-mini's held-out 20 hold some)
    assert photos_seen == list(val.image_paths) and not set(photos_seen) & set(train.image_paths)
    assert set(heldout_photos("coco17").image_paths) & set(train.image_paths)
    assert set(result) == {"scenes", "coco_val"}
    photos = result["coco_val"]
    assert photos["protocol"] == COCO_VAL_PROTOCOL and photos["images"] == len(val) == 35
    assert photos["people"] == sum(len(k) for k in val.keypoints)  # all people
    assert photos["joint_names"] == list(COCO17.joint_names) and len(photos["ks@0.5"]["per_joint"]) == 17
    worst = photos["worst_photos"]
    assert len(worst) == WORST_PHOTOS and {w["image_id"] for w in worst} <= set(val.image_ids)
    assert [w["oks"] for w in worst] == sorted(w["oks"] for w in worst)
    assert {w["source"] for w in worst} <= {"coco-mini", "coco-extra"}
    # the scenes' LSP-14 people label the 12 body joints of a COCO-17 model
    scenes = result["scenes"]
    assert scenes["images"] == 3 and len(scenes["joint_names"]) == 12 and "nose" not in scenes["joint_names"]
    assert "the 12 joints LSP-14 shares with coco17" in scenes["protocol"]


def test_openpose_lsp_keeps_the_heldout_coco_mini_photos(shared_data):
    from training.people_evaluation import COCO_HELDOUT_PROTOCOL, heldout_photos, validation_photos
    from zoo import registry

    model = SimpleNamespace(spec=registry.get_spec("openpose-lsp"), skeleton=LSP14)
    key, photos, protocol = validation_photos(model)
    assert key == "coco_heldout" and protocol == COCO_HELDOUT_PROTOCOL
    assert photos.image_ids == heldout_photos("lsp14").image_ids and len(photos) == 20
