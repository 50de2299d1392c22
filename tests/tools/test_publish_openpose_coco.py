"""A COCO-17 bottom-up model trained on real photos (the recipe openpose_coco; here its tiny
variant, untrained) published into a local store (python -m tools.publish): model.json holds the
COCO photos' validation split (all people, per joint, the worst photos), the card renders them
and the #27 accuracy target on that split; the people parity measures the files on the same
photos and holds the int8 / float16 AP drop target on them too."""

import csv
from pathlib import Path

import numpy as np
import pytest
from openpose_coco_tiny import TINY, register_tiny_coco_preset  # tests/ is on sys.path

from zoo.skeletons import COCO17


@pytest.fixture
def published_tiny(monkeypatch, local_store, shared_data, lspet_root, tmp_path):
    """``TINY``'s untrained weights published into the local store, with a workdir whose
    ``history.csv`` holds four epochs of the bottom-up loop's columns."""
    import keras

    import zoo
    from tools.publish import main

    register_tiny_coco_preset(monkeypatch)
    keras.utils.set_random_seed(0)
    weights = tmp_path / "tiny.weights.h5"
    zoo.load(TINY, weights=None).save_weights(str(weights))
    workdir = tmp_path / "run"
    workdir.mkdir()
    with open(workdir / "history.csv", "w", newline="") as f:
        out = csv.writer(f)
        out.writerow(["epoch", "loss", "val_loss", "val_oks_ap", "val_coco_ap", "epoch_seconds"])
        for epoch, ap in enumerate((0.01, 0.02, 0.04, 0.05)):
            out.writerow([epoch, 0.02, 0.03, ap, ap / 2, 10.0])
    assert main([TINY, str(weights), "--workdir", str(workdir), "--scenes", "4"]) == 0
    return zoo.get_spec(TINY)


def test_published_metrics_and_card_are_on_the_coco_validation_split(published_tiny, local_store):
    from training.datasets.coco import load_coco_photos
    from zoo.model_card import record_accuracy_target, render_model_card

    spec = published_tiny
    m = spec.weights.metrics
    val = load_coco_photos(split="val")
    assert set(m) == {"scenes", "coco_val", "evaluation"} and m["coco_val"]["images"] == len(val)
    assert {w["image_id"] for w in m["coco_val"]["worst_photos"]} <= set(val.image_ids)
    card = (local_store / TINY / "1" / "MODEL_CARD.md").read_text()
    assert card == render_model_card(spec)
    assert f"| COCO photos, validation split (all people) | {len(val)} | {m['coco_val']['people']} |" in card
    assert "- COCO photos' validation split: the photos of ../shared/data/coco-mini + coco-extra" in card
    assert "coco-mini" not in card.split("## Evaluation")[1].split("## ")[0].replace("coco-mini + coco-extra", "")
    # per joint: the 17 COCO joints on the photos; the face on the scenes is not labelled there
    rows = {line.split(" | ")[0][2:]: line for line in card.splitlines() if line.startswith("| ")}
    assert "| joint | OKS sigma | held-out scenes | COCO validation photos |" in card
    assert all(name in rows for name in COCO17.joint_names) and "not labelled in LSPet" in rows["nose"]
    worst = card.split("## Worst validation photos")[1].split("\n## ")[0]
    first = m["coco_val"]["worst_photos"][0]
    assert f"| {first['source']}/{first['file']} | {first['image_id']} | {first['people']} |" in worst
    assert "training.oks_metrics.per_image_oks" in worst
    assert "photo AP: OKS AP (%) measured after each epoch on the held-out validation scenes / the COCO " in card
    from tools.models_table import validation_figure

    assert validation_figure(spec, "multi-person").endswith(f", {100 * m['coco_val']['oks']['AP']:.1f} "
                                                            "(COCO validation photos)")
    record_accuracy_target(spec, {"coco_val_ap": 30.0}, "#27", "more epochs")
    card = (local_store / TINY / "1" / "MODEL_CARD.md").read_text()
    measured = 100 * m["coco_val"]["oks"]["AP"]
    assert (f"- Target (#27): OKS AP on the COCO photos' validation split (all people) >= 30 %; measured "
            f"{measured:.1f} %: **missed by {30 - measured:.1f} points**.") in card
    assert ("- Training curve: OKS AP on the COCO photos' validation split (the training curve's photo AP) "
            "0.5 % three epochs before the end") in card


class _KerasAsFile:
    """A stand-in exported file that predicts as the Keras model does (uint8 pixels in)."""

    def __init__(self, model):
        from training.people_evaluation import keras_people_fn

        self.fn = keras_people_fn(model)

    def predict(self, images):
        people, scores = self.fn(np.asarray(images))
        return np.asarray(people), np.asarray(scores)


def test_people_parity_measures_the_files_on_the_coco_validation_split(published_tiny):
    import zoo
    from edge.agreement import people_parity
    from training.datasets.coco import load_coco_photos
    from zoo.card_measurements import render_people_parity

    model = zoo.load(TINY)
    report = people_parity(model, [(Path("tiny-v1-float16.tflite"), _KerasAsFile(model))], count=3)
    val = load_coco_photos(split="val")
    photos = report["photos"]
    assert photos["set"] == "coco_val" and photos["images"] == len(val) and photos["people"] == val.num_people
    assert "crc32(image id) % 1000 < 153" in photos["data"] and len(photos["joint_names"]) == 17
    keras, file = report["rows"]
    assert len(keras["ks_photos"]) == 17 and len(keras["ks_scenes"]) == 12 and len(report["joint_names"]) == 12
    assert file["target"] == "AP drop <= 0.2 (scenes and photos)" and file["ok"] and file["AP_photos_drop"] == 0
    assert "the 12 joints LSP-14 shares with coco17" in report["ap"]
    section = "\n".join(render_people_parity(model.spec, report))
    assert "Per joint on the COCO validation photos" in section and "| nose |" in section
