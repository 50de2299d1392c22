"""Real group photos as a bottom-up training source (training.real_photos): COCO-17 targets of
COCO and MPII photos, the people a dataset leaves unlabelled masked (COCO's own ignore regions, the
person detector's cached boxes), the joints a dataset lacks masked per channel, no validation
photo in training, and the tiny openpose_coco recipe training two steps."""

import numpy as np
import pytest

from training.datasets.base import DatasetError, MultiPersonSamples, data_root
from training.real_photos import (
    boxes_path,
    detect_photos,
    load_source,
    read_person_boxes,
    unlabelled_boxes,
    with_ignore_boxes,
    write_person_boxes,
)
from zoo.skeletons import COCO17

NEEDED = ("coco-mini", "coco-extra", "mpii-subset")


@pytest.fixture(scope="module")
def photo_data():
    missing = [d for d in NEEDED if not (data_root() / d).is_dir()]
    if missing:
        pytest.skip(f"{', '.join(missing)} not found under {data_root()} (set $POSEZOO_DATA)")
    return data_root()


def _photos(boxes):
    """One 100 x 200 photo with labelled people of COCO boxes ``boxes`` (x, y, w, h)."""
    boxes = np.asarray(boxes, np.float32).reshape(-1, 4)
    n = len(boxes)
    return MultiPersonSamples(["p.jpg"], [7], np.asarray([[100, 200]]), [np.zeros((n, 17, 2), np.float32)],
                              [np.ones((n, 17), np.float32)], [boxes[:, 2] * boxes[:, 3]], [boxes], "coco17",
                              [np.arange(n)], [[]])


def test_ignore_rule_keeps_boxes_of_labelled_people_and_masks_the_rest():
    people = [[10, 10, 40, 80]]  # x, y, w, h: x1, y1, x2, y2 = 10, 10, 50, 90
    detections = np.asarray([[12, 8, 52, 92],     # the labelled person (IoU 0.8)
                             [10, 10, 50, 40],    # their upper body: inside their box
                             [120, 10, 170, 90],  # somebody nobody labelled
                             [40, 10, 80, 90],    # a neighbour, IoU 0.14 and mostly outside
                             [150, 50, 190, 95]], np.float32)  # unlabelled but unsure
    scores = np.asarray([0.9, 0.5, 0.8, 0.6, 0.25], np.float32)
    np.testing.assert_array_equal(unlabelled_boxes(detections, scores, people), detections[[2, 3]])
    assert len(unlabelled_boxes(detections, scores, np.zeros((0, 4)))) == 4  # nobody labelled: all but the unsure
    assert unlabelled_boxes(np.zeros((0, 4)), np.zeros(0), people).shape == (0, 4)


def test_cached_boxes_become_ignore_regions_and_a_missing_cache_says_what_to_run(tmp_path):
    samples = _photos([[10, 10, 40, 80]])
    path = boxes_path(tmp_path, "coco_photos")
    with pytest.raises(DatasetError, match="no person boxes for 1 of 1 photos.*python -m tools.person_boxes"):
        with_ignore_boxes(samples, path)
    write_person_boxes(path, {7: (np.asarray([[12, 8, 52, 92], [120, 10, 170, 90]], np.float32),
                                  np.asarray([0.9, 0.8], np.float32))}, "stub")
    assert [len(b) for b, _ in read_person_boxes(path).values()] == [2]
    masked = with_ignore_boxes(samples, path)
    assert masked.ignore_segments == [[[[120.0, 10.0, 170.0, 10.0, 170.0, 90.0, 120.0, 90.0]]]]
    assert samples.ignore_segments == [[]]  # the input is left as it was

    from training.datasets.coco import loss_mask

    mask = loss_mask(masked, 0)
    assert mask[50, 145] == 0 and mask[50, 30] == 1 and mask.shape == (100, 200)


def test_training_sources_hold_no_validation_photo(photo_data):
    from training.datasets.coco import load_coco_photos
    from training.datasets.mpii import load_mpii_subset

    coco = load_source("coco_photos")
    val = load_coco_photos(split="val")
    assert len(coco) > 150 and len(val) > 20 and not set(coco.image_ids) & set(val.image_ids)
    assert len(coco) + len(val) == len(load_coco_photos(split="all"))
    mpii = load_source("mpii_photos")
    mpii_val = set(load_mpii_subset(split="val").image_paths)
    assert len(mpii) > 800 and mpii_val and not set(mpii.image_paths) & mpii_val
    # All the subset's labelled people of a training image are in its one sample.
    everyone = load_mpii_subset(split="train")
    assert mpii.num_people == len(everyone) and max(len(k) for k in mpii.keypoints) > 3


def _letterboxed_mask(samples, n, size):
    """The loss mask of photo ``n`` on the letterboxed canvas's map cells (1 on the padding)."""
    import cv2

    from training.datasets.coco import loss_mask
    from zoo.io import read_image
    from zoo.preprocess import letterbox

    _, to_image = letterbox(read_image(samples.image_paths[n]), size)
    canvas = cv2.warpAffine(loss_mask(samples, n), np.linalg.inv(to_image)[:2], (size, size),
                            flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=1.0)
    return cv2.resize(canvas, (size // 8, size // 8), interpolation=cv2.INTER_AREA), to_image


@pytest.mark.parametrize("source", ["coco_photos", "mpii_photos"])
def test_real_records_give_coco17_targets_masking_unlabelled_people_and_channels(photo_data, source, tmp_path):
    from training.composite import channel_weights
    from training.pipeline import multi_person_dataset
    from training.real_photos import training_photos
    from zoo.codecs.paf import PafCodec

    photos = load_source(source).subset(range(40))
    detect_photos(photos, boxes_path(tmp_path, source), progress=False)  # the published person detector
    samples, labelled = training_photos(source, "coco17", tmp_path, max_photos=40)
    # The photo with the largest region nobody labelled (MPII: found by the detector; COCO: its
    # own crowds and people without keypoints, and the detector's).
    masked = [np.mean(_letterboxed_mask(samples, n, 256)[0] < 0.5) for n in range(len(samples))]
    n = int(np.argmax(masked))
    assert masked[n] > 0.02 and len(samples.keypoints[n]), source
    codec = PafCodec(skeleton="coco17", input_size=256, stride=8)
    _, targets = next(iter(multi_person_dataset(samples.subset([n]), codec, None, shuffle=False, labelled=labelled)))
    heat, pafs = targets["heatmaps"].numpy(), targets["pafs"].numpy()
    assert heat.shape == (32, 32, 34) and pafs.shape == (32, 32, 64)
    expected, to_image = _letterboxed_mask(samples, n, 256)
    paf_w, map_w = (w.numpy() for w in channel_weights(codec, labelled))
    np.testing.assert_allclose(heat[..., 17:], expected[..., None] * map_w, atol=0.15)
    np.testing.assert_allclose(pafs[..., 32:], expected[..., None] * paf_w, atol=0.15)
    assert heat[..., 17:].min() == 0 and (expected < 0.5).any()  # the unlabelled people's cells
    face = [COCO17.index(j) for j in ("nose", "left_eye", "right_eye", "left_ear", "right_ear")]
    if source == "mpii_photos":  # MPII labels no face point: those channels are masked everywhere
        assert not labelled[face].any() and labelled.sum() == 12 and heat[..., 17:][..., face].max() == 0
    else:
        assert labelled.all()
    # A labelled joint is taught where the letterbox puts it.
    p, j = np.argwhere(samples.visible[n] > 0)[0]
    xy = np.linalg.solve(to_image, np.array([*samples.keypoints[n][p, j], 1.0]))[:2]
    cell = np.clip(np.floor((xy + 0.5) / 8).astype(int), 0, 31)
    assert heat[cell[1], cell[0], j] > 0.5


def test_tiny_recipe_trains_two_steps_on_photos_and_scenes(photo_data, lspet_root, tmp_path):
    from training.experiments import get_experiment
    from training.train import train

    exp = get_experiment("openpose_coco_tiny")
    assert {n for n, _ in exp.datasets} == {"coco_photos", "mpii_photos", "lspet_scenes"}
    for source in ("coco_photos", "mpii_photos"):  # no detections: only the data's own ignore regions
        ids = load_source(source).image_ids[:6]
        write_person_boxes(boxes_path(tmp_path / "person_boxes", source),
                           {int(i): (np.zeros((0, 4), np.float32), np.zeros(0, np.float32)) for i in ids}, "stub")
    model, history = train(exp, str(tmp_path / "run"), data=str(lspet_root), max_train=6, max_val=3, verbose=0,
                           tensorboard=False)
    assert model.skeleton.name == "coco17" and len(history.history["loss"]) == 1
    assert np.isfinite(history.history["loss"]).all()
    assert 0.0 <= history.history["val_coco_ap"][0] <= 1.0 and "val_oks_ap" in history.history
