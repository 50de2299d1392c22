"""The training photos' people as the person detector boxes them (training.box_people): a box of a
labelled person carries that person's labels, a box of nobody labelled carries none (the teacher
fills it), an ambiguous or weak box is left out, the crop is the one top-down inference makes of
that box (zoo.people); the validation side holds the labelled validation people as boxed, to score."""

import numpy as np
import pytest

from training.box_people import MIN_SCORE, _assign, load_box_people
from training.datasets.base import DatasetError, data_root
from training.real_photos import boxes_path, load_source, write_person_boxes


@pytest.fixture(scope="module")
def coco_photos():
    if not all((data_root() / d).is_dir() for d in ("coco-mini", "coco-extra")):
        pytest.skip(f"coco-mini / coco-extra not found under {data_root()} (set $POSEZOO_DATA)")
    return load_source("coco_photos", None, "train")


def test_each_labelled_person_goes_to_the_box_that_overlaps_it_most():
    people = np.asarray([[10, 10, 40, 80], [100, 10, 40, 80]], np.float64)  # x, y, w, h
    boxes = np.asarray([[12, 8, 52, 92],      # person 0, IoU 0.86
                        [5, 30, 50, 95],      # person 0 again (IoU 0.64), less: nobody's
                        [104, 20, 140, 85],   # person 1, IoU 0.73
                        [300, 0, 350, 90]], np.float64)  # far from both
    np.testing.assert_array_equal(_assign(boxes, people), [0, -1, 1, -1])
    np.testing.assert_array_equal(_assign(boxes, np.zeros((0, 4))), [-1] * 4)


def _photo_with_people(photos, least: int = 2) -> int:
    return next(i for i in range(len(photos)) if len(photos.keypoints[i]) >= least)


def test_boxes_of_a_real_photo_become_samples_cropped_as_inference_crops_them(coco_photos, tmp_path):
    from training.pipeline import evaluation_dataset
    from zoo.preprocess import BOX_PADDING, crop_matrix

    i = _photo_with_people(coco_photos)
    image_id = int(coco_photos.image_ids[i])
    x, y, bw, bh = coco_photos.boxes[i][0]
    person = [x, y, x + bw, y + bh]
    # Nobody's box: the image's corner, away from the labelled people (checked below).
    corner = [0.0, 0.0, 40.0, 60.0]
    found = {int(c): (np.zeros((0, 4), np.float32), np.zeros(0, np.float32)) for c in coco_photos.image_ids}
    found[image_id] = (np.asarray([person, corner, person], np.float32),
                       np.asarray([0.9, 0.8, MIN_SCORE / 2], np.float32))  # the third is too weak
    write_person_boxes(boxes_path(tmp_path, "coco_photos"), found, "stub")
    samples = load_box_people("coco_boxes", folder=tmp_path)
    people_boxes = coco_photos.boxes[i]
    corner_is_nobodys = not any(px < 40 and py < 60 for px, py, _, _ in people_boxes)
    assert len(samples) == (2 if corner_is_nobodys else 1)
    assert samples.ids[0] == f"{image_id}:box0" and samples.skeleton == "coco17"
    np.testing.assert_array_equal(samples.keypoints[0], coco_photos.keypoints[i][0])
    np.testing.assert_array_equal(samples.visible[0], coco_photos.visible[i][0])
    if corner_is_nobodys:
        assert samples.visible[1].sum() == 0  # the teacher's to fill
    # The crop: the box's longer side padded by BOX_PADDING, centred, as zoo.people crops it.
    batch = next(iter(evaluation_dataset(samples.subset([0]), 64, batch_size=1)))
    centre = (np.asarray(person[:2]) + np.asarray(person[2:])) / 2 - 0.5
    expected = crop_matrix(centre, BOX_PADDING * max(bw, bh), 64)
    np.testing.assert_allclose(batch["matrix"].numpy()[0], expected, rtol=1e-4, atol=1e-3)


def test_a_missing_cache_says_what_to_run_for_each_side(coco_photos, tmp_path):
    with pytest.raises(DatasetError, match="no person boxes for .*python -m tools.person_boxes coco_photos --folder"):
        load_box_people("coco_boxes", folder=tmp_path)
    with pytest.raises(DatasetError, match="coco_photos_val.npz: no person boxes .*coco_photos --split val"):
        load_box_people("coco_boxes", split="val", folder=tmp_path)
    with pytest.raises(ValueError, match="unknown box dataset"):
        load_box_people("lsp_boxes", folder=tmp_path)


def test_training_crops_of_box_samples_keep_the_labelled_joints_inside(coco_photos, tmp_path):
    """Through the training pipeline (augmented, teacher-free): the box sample of a labelled person
    yields heatmaps whose weighted joints lie inside the crop."""
    from training.augment import AugmentConfig
    from training.pipeline import training_examples
    from zoo.codecs.heatmap import HeatmapCodec

    i = _photo_with_people(coco_photos, 1)
    x, y, bw, bh = coco_photos.boxes[i][0]
    found = {int(c): (np.zeros((0, 4), np.float32), np.zeros(0, np.float32)) for c in coco_photos.image_ids}
    found[int(coco_photos.image_ids[i])] = (np.asarray([[x, y, x + bw, y + bh]], np.float32),
                                            np.asarray([0.9], np.float32))
    write_person_boxes(boxes_path(tmp_path, "coco_photos"), found, "stub")
    samples = load_box_people("coco_boxes", folder=tmp_path)
    codec = HeatmapCodec(input_size=64, heatmap_size=16, sigma=1.0)
    image, heatmaps, weights = next(iter(training_examples(samples, codec, AugmentConfig(rotation_deg=0.0),
                                                           skeleton="coco17")))
    assert image.shape == (64, 64, 3) and float(weights.numpy().sum()) >= 1
    assert float(weights.numpy().sum()) <= coco_photos.visible[i][0].sum()
    peak = heatmaps.numpy().reshape(-1, heatmaps.shape[-1]).max(0)
    assert (peak[weights.numpy() > 0] > 0.5).all()


def test_a_card_names_the_box_sets_after_the_default_training_data():
    from tools.publish import training_sets

    default = ("coco_people+mpii_subset+lspet", "COCO photos, MPII, LSPet")
    dataset, data = training_sets(*default, ["coco_people", "mpii_subset", "lspet", "coco_boxes", "mpii_boxes"])
    assert dataset == "coco_people+mpii_subset+lspet+coco_boxes+mpii_boxes"
    assert data.startswith("COCO photos, MPII, LSPet; also the COCO training photos' people as the person detector")
    assert training_sets(*default, ["coco_people", "lspet"]) == default
    assert training_sets(*default, []) == default
    assert training_sets("lspet", "LSPet", ["lspet", "mpii_subset"])[0] == "lspet+mpii_subset"


def test_the_validation_side_is_the_labelled_validation_people_as_boxed(coco_photos, tmp_path):
    """Validation photos are read from their own box file; a box over nobody labelled is not kept
    there (nothing to score), while the same box on the training side goes to the teacher."""
    val = load_source("coco_photos", None, "val")
    i = _photo_with_people(val, 1)
    x, y, bw, bh = val.boxes[i][0]
    found = {int(c): (np.zeros((0, 4), np.float32), np.zeros(0, np.float32)) for c in val.image_ids}
    corner = [0.0, 0.0, 40.0, 60.0]
    found[int(val.image_ids[i])] = (np.asarray([[x, y, x + bw, y + bh], corner], np.float32),
                                    np.asarray([0.9, 0.9], np.float32))
    write_person_boxes(boxes_path(tmp_path, "coco_photos", "val"), found, "stub")
    samples = load_box_people("coco_boxes", split="val", folder=tmp_path)
    assert len(samples) == 1 and samples.ids[0] == f"{int(val.image_ids[i])}:box0"
    np.testing.assert_array_equal(samples.keypoints[0], val.keypoints[i][0])
    assert int(val.image_ids[i]) not in {int(c) for c in coco_photos.image_ids}
