"""Whole-image bottom-up batches from COCO keypoints (training.pipeline.multi_person_dataset)."""

import numpy as np
import pytest

from training.datasets.base import data_root


def test_coco_mini_batches_letterbox_targets_and_crowd_masks():
    if not (data_root() / "coco-mini").is_dir():
        pytest.skip(f"coco-mini not found under {data_root()} (set $POSEZOO_DATA)")
    import cv2

    from training.datasets.coco import load_coco_keypoints
    from training.pipeline import multi_person_dataset
    from zoo.codecs.paf import PafCodec
    from zoo.preprocess import letterbox

    samples = load_coco_keypoints(skeleton="lsp14")
    # Images with a crowd or an unlabelled person, and labelled people.
    picks = [i for i in range(len(samples)) if samples.ignore_segments[i] and len(samples.keypoints[i])][:3]
    sub = samples.subset(picks)
    codec = PafCodec(input_size=256, stride=8)
    images, targets = next(iter(multi_person_dataset(sub, codec, len(picks), shuffle=False)))
    heat, pafs = targets["heatmaps"].numpy(), targets["pafs"].numpy()
    assert images.shape == (3, 256, 256, 3) and heat.shape == (3, 32, 32, 15) and pafs.shape == (3, 32, 32, 27)
    np.testing.assert_array_equal(heat[..., -1], pafs[..., -1])  # one mask for both outputs
    for n, _ in enumerate(picks):
        image = cv2.cvtColor(cv2.imread(sub.image_paths[n]), cv2.COLOR_BGR2RGB)
        boxed, to_image = letterbox(image, 256)
        # Same letterbox as inference (resampling differs slightly: TF antialias vs. OpenCV area).
        assert np.abs(images[n].numpy() - boxed).mean() < 4
        # Masked cells: where the ignored regions (crowds, unlabelled people) cover the cell.
        mask = cv2.resize(loss_mask_boxed(sub, n, to_image), (32, 32), interpolation=cv2.INTER_AREA)
        assert heat[n, ..., -1].min() < 1  # something is masked
        np.testing.assert_allclose(heat[n, ..., -1], mask, atol=0.15)
        # A labelled joint lands where the letterbox maps it, at its Gaussian's peak cell.
        j = np.argwhere(sub.visible[n] > 0)[0]
        xy = np.linalg.solve(to_image, np.array([*sub.keypoints[n][j[0], j[1]], 1.0]))[:2]
        cell = np.floor((xy + 0.5) / 8).astype(int)
        assert heat[n, cell[1], cell[0], j[1]] > 0.5


def loss_mask_boxed(samples, n, to_image):
    """The image-resolution loss mask warped into the 256x256 letterboxed input (1 on padding)."""
    import cv2

    from training.datasets.coco import loss_mask

    to_input = np.linalg.inv(to_image)[:2]
    return cv2.warpAffine(loss_mask(samples, n), to_input, (256, 256), flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_CONSTANT, borderValue=1.0)


def test_channel_weights_leave_out_the_joints_a_dataset_lacks():
    import tensorflow as tf

    from training.composite import channel_weights, scene_targets
    from training.datasets.coco import labelled_joints
    from zoo.codecs.paf import PafCodec
    from zoo.skeletons import get_skeleton

    codec = PafCodec(input_size=64, stride=8)
    sk = get_skeleton("lsp14")
    labelled = labelled_joints("lsp14")
    assert [sk.joint_names[j] for j in np.flatnonzero(~labelled)] == ["neck", "head_top"]
    paf_w, map_w = (w.numpy() for w in channel_weights(codec, labelled))
    np.testing.assert_array_equal(map_w, labelled.astype(np.float32))
    for l, (a, b) in enumerate(codec.limbs):  # a limb's two channels: both its joints labelled
        assert paf_w[2 * l] == paf_w[2 * l + 1] == float(labelled[a] and labelled[b]), sk.joint_names[a]
    assert 0 < paf_w.sum() < len(paf_w)
    points = tf.constant(np.full((1, 14, 2), 30.0, np.float32))
    pafs, heat = scene_targets(codec, points, tf.ones((1, 14)), tf.ones((8, 8)), labelled)
    assert pafs.shape == (8, 8, 2 * 2 * len(codec.limbs)) and heat.shape == (8, 8, 28)
    np.testing.assert_array_equal(heat.numpy()[..., 14:], np.broadcast_to(map_w, (8, 8, 14)))


def test_augmented_coco_photos_flip_with_their_joints_and_mask_per_channel():
    if not (data_root() / "coco-mini").is_dir():
        pytest.skip(f"coco-mini not found under {data_root()} (set $POSEZOO_DATA)")
    from training.augment import AugmentConfig
    from training.datasets.coco import labelled_joints, load_coco_keypoints
    from training.pipeline import multi_person_dataset
    from zoo.codecs.paf import PafCodec
    from zoo.skeletons import get_skeleton

    samples = load_coco_keypoints(skeleton="lsp14")
    picks = [i for i in range(len(samples)) if len(samples.keypoints[i])][:4]
    sub = samples.subset(picks)
    codec = PafCodec(input_size=128, stride=8)
    labelled = labelled_joints("lsp14")
    plain = next(iter(multi_person_dataset(sub, codec, 4, shuffle=False, labelled=labelled)))[1]["heatmaps"].numpy()
    # Flipped, nothing else: the letterbox mirrored, each joint's map that of its mirror joint.
    flip = AugmentConfig(scale=0.0, rotation_deg=0.0, flip_prob=1.0, colour=0.0)
    images, targets = next(iter(multi_person_dataset(sub, codec, 4, shuffle=False, labelled=labelled,
                                                     augment=flip, shift=0.0)))
    heat, pafs = targets["heatmaps"].numpy(), targets["pafs"].numpy()
    assert images.shape == (4, 128, 128, 3) and heat.shape == (4, 16, 16, 28)
    assert pafs.shape == (4, 16, 16, 4 * len(codec.limbs))
    flip_index = get_skeleton("lsp14").flip_index
    mirrored = plain[:, :, ::-1, :14][..., flip_index]
    np.testing.assert_allclose(heat[..., :14], mirrored, atol=0.05)
    assert heat[..., :14].max() > 0.9
    # The joints COCO lacks are masked on every cell; the others keep the spatial mask.
    assert np.all(heat[..., 14:][..., ~labelled] == 0) and heat[..., 14:][..., labelled].mean() > 0.9
    # Random zoom, shift, rotation: targets stay finite and bounded, joints off the canvas unlabelled.
    wide = AugmentConfig(scale=0.4, rotation_deg=30.0, flip_prob=0.5, colour=0.2)
    images, targets = next(iter(multi_person_dataset(sub, codec, 4, labelled=labelled, augment=wide, seed=1)))
    assert np.isfinite(targets["pafs"].numpy()).all() and 0 <= targets["heatmaps"].numpy().max() <= 1
    assert 0 <= images.numpy().min() and images.numpy().max() <= 255


def test_heldout_split_is_fixed_and_disjoint():
    if not (data_root() / "coco-mini").is_dir():
        pytest.skip(f"coco-mini not found under {data_root()} (set $POSEZOO_DATA)")
    from training.datasets.coco import heldout_split, load_coco_keypoints

    samples = load_coco_keypoints(skeleton="lsp14")
    train, held = heldout_split(samples, 20)
    again = heldout_split(load_coco_keypoints(skeleton="lsp14"), 20)[1]
    assert len(held) == 20 and len(train) == len(samples) - 20
    assert held.image_ids == again.image_ids and not set(held.image_ids) & set(train.image_ids)
    with pytest.raises(ValueError, match="cannot hold out 80 of 80"):
        heldout_split(samples, 80)


def test_tiny_openpose_trains_on_scenes_and_coco_photos_and_scores_the_heldout_photos(tmp_path, lspet_root):
    if not (data_root() / "coco-mini").is_dir():
        pytest.skip(f"coco-mini not found under {data_root()} (set $POSEZOO_DATA)")
    from training.bottom_up import training_mix
    from training.datasets import load_lspet
    from training.experiments import get_experiment
    from training.train import train
    from zoo.codecs.paf import PafCodec

    exp = get_experiment("openpose_tiny_coco")
    codec = PafCodec(**{k: exp.model_args[k] for k in ("input_size", "skeleton")})
    people = load_lspet(str(lspet_root), split="train").subset(range(8))
    batches, heldout = training_mix(exp.replace(batch_size=8), people, codec)
    images, targets = next(iter(batches))
    masks = targets["heatmaps"].numpy()[..., 14:]
    # Scenes label every joint; COCO photos leave out the head top and neck: both in one batch.
    per_image = masks.reshape(8, -1, 14).min(1)[:, 13]
    assert images.shape[0] == 8 and set(per_image.tolist()) <= {0.0, 1.0} and len(heldout) == exp.coco_heldout
    model, history = train(exp, str(tmp_path), data=str(lspet_root), max_train=8, max_val=4, verbose=0,
                           tensorboard=False)
    assert {"val_coco_ap", "val_coco_ap50", "val_oks_ap"} <= set(history.history)
    assert all(0.0 <= v <= 1.0 for v in history.history["val_coco_ap"])
