"""Multi-person scenes composited from single-person samples (training.composite)."""

import numpy as np
import pytest
import tensorflow as tf

from training.composite import SceneConfig, compose_scene, heldout_scenes, scene_dataset, silhouette
from training.datasets.base import PoseSamples
from zoo.codecs.paf import PafCodec
from zoo.skeletons import LSP14

K = LSP14.num_joints


def _standing(x0=20.0, y0=8.0, h=48.0):
    """A standing person (K, 2) in a box from (x0, y0), extent h."""
    rel = {"head_top": (0.5, 0.0), "neck": (0.5, 0.15), "right_shoulder": (0.35, 0.2),
           "left_shoulder": (0.65, 0.2), "right_elbow": (0.3, 0.35), "left_elbow": (0.7, 0.35),
           "right_wrist": (0.28, 0.5), "left_wrist": (0.72, 0.5), "right_hip": (0.4, 0.55),
           "left_hip": (0.6, 0.55), "right_knee": (0.4, 0.78), "left_knee": (0.6, 0.78),
           "right_ankle": (0.4, 1.0), "left_ankle": (0.6, 1.0)}
    kp = np.zeros((K, 2), np.float32)
    for name, (u, v) in rel.items():
        kp[LSP14.index(name)] = (x0 + u * h, y0 + v * h)
    return kp


def test_silhouette_covers_the_limbs_and_not_the_background():
    kp = _standing()
    alpha = silhouette(tf.constant(kp), tf.ones(K), 64).numpy()
    assert alpha.shape == (64, 64) and alpha.min() >= 0 and alpha.max() <= 1
    for name in ("neck", "right_knee", "left_elbow"):
        x, y = np.round(kp[LSP14.index(name)]).astype(int)
        assert alpha[y, x] > 0.9, name
    assert alpha[2, 2] == 0 and alpha[60, 60] == 0  # corners: background
    # An unlabelled limb end removes that limb from the silhouette.
    vis = np.ones(K, np.float32)
    vis[LSP14.index("left_wrist")] = 0
    x, y = np.round(kp[LSP14.index("left_wrist")]).astype(int)
    assert silhouette(tf.constant(kp), tf.constant(vis), 64).numpy()[y, x] < alpha[y, x]


def _scene(seed, config, n=2):
    cut = np.full((n, config.cutout, config.cutout, 3), 200.0, np.float32)
    pts = np.stack([_standing()] * n)
    vis = np.ones((n, K), np.float32)
    bg = np.zeros((20, 30, 3), np.float32)
    return compose_scene(tf.constant(cut), tf.constant(pts), tf.constant(vis), tf.constant(bg),
                         tf.constant(seed), config)


def test_scene_keeps_joints_and_occludes_covered_ones():
    config = SceneConfig(canvas=64, max_people=2, min_people=2, cutout=64, person_size=(0.5, 0.5))
    image, kps, vis, areas = (t.numpy() for t in _scene([3, 4], config))
    assert image.shape == (64, 64, 3) and kps.shape == (2, K, 2) and vis.shape == (2, K)
    # The person's extent is scaled to 50 % of the canvas.
    ext = kps.max(1) - kps.min(1)
    np.testing.assert_allclose(ext.max(-1), 32.0, rtol=1e-4)
    # The last person is never occluded; a joint of the first one is hidden exactly when the
    # second person's silhouette covers it (alpha > 0.5 there).
    inside = np.all((kps > -0.5) & (kps < 63.5), -1)
    assert np.array_equal(vis[1] > 0, inside[1])
    second = silhouette(tf.constant(_standing()), tf.ones(K), 64).numpy()
    # Warp the second person's joints back to its cutout to read its silhouette there.
    scale = 32.0 / 48.0
    src = _standing()
    offset = kps[1, 0] - scale * src[0]
    back = (kps[0] - offset) / scale
    cells = np.clip(np.floor(back + 0.5).astype(int), 0, 63)
    covered = (second[cells[:, 1], cells[:, 0]] > 0.5) & np.all((back > -0.5) & (back < 63.5), -1)
    assert np.array_equal(vis[0] > 0, inside[0] & ~covered)
    assert areas[1] > areas[0] * 0 and areas[1] > 0
    # Same seed, same scene; another seed, another scene.
    again = _scene([3, 4], config)[1].numpy()
    np.testing.assert_array_equal(again, kps)
    assert not np.allclose(_scene([3, 5], config)[1].numpy(), kps)


def test_absent_people_have_no_labels():
    config = SceneConfig(canvas=64, max_people=3, min_people=1, cutout=64)
    counts = set()
    for s in range(12):
        _, _, vis, areas = (t.numpy() for t in _scene([s, 0], config, n=3))
        present = vis.sum(-1) > 0
        counts.add(int(present.sum()))
        assert np.all(areas[~present] == 0) or np.all(vis[areas == 0] == 0)
    assert len(counts) > 1  # 1..3 people per scene


def _tiny_samples(tmp_path, n=6):
    import cv2

    paths = []
    for i in range(n):
        p = tmp_path / f"im{i}.jpg"
        img = np.full((80, 72, 3), 40 * (i % 5), np.uint8)
        cv2.imwrite(str(p), img)
        paths.append(str(p))
    kps = np.stack([_standing(10 + i, 10, 50) for i in range(n)])
    vis = np.ones((n, K), np.float32)
    return PoseSamples(paths, kps, vis, "lsp14", [f"im{i}" for i in range(n)])


def test_training_batches_and_heldout_scenes(tmp_path):
    samples = _tiny_samples(tmp_path)
    codec = PafCodec(input_size=64, stride=8)
    config = SceneConfig(canvas=64, max_people=2, cutout=64)
    images, targets = next(iter(scene_dataset(samples, codec, 3, config)))
    assert images.shape == (3, 64, 64, 3)
    assert targets["pafs"].shape == (3, 8, 8, 27) and targets["heatmaps"].shape == (3, 8, 8, 15)
    np.testing.assert_array_equal(targets["heatmaps"].numpy()[..., -1], 1.0)  # mask: all labelled
    assert targets["heatmaps"].numpy()[..., :-1].max() > 0.5
    a = heldout_scenes(samples, 3, config)
    b = heldout_scenes(samples, 3, config)
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)
    assert a[0].dtype == np.uint8 and a[0].shape == (3, 64, 64, 3) and a[1].shape == (3, 2, K, 2)
    with pytest.raises(ValueError, match="canvas 32 differs"):
        scene_dataset(samples, codec, 3, SceneConfig(canvas=32))


def test_heldout_scenes_with_photo_backgrounds_label_the_photos_person(tmp_path):
    """The @2 recipe's scenes (``photo_prob > 0``) held out as well: the background photo's
    person comes first, labelled where the photo is shown."""
    samples = _tiny_samples(tmp_path)
    config = SceneConfig(canvas=64, max_people=2, cutout=64, photo_prob=1.0)
    images, kps, vis, areas = heldout_scenes(samples, 3, config)
    assert kps.shape == (3, 3, K, 2) and vis.shape == (3, 3, K) and areas.shape == (3, 3)
    assert (vis[:, 0].sum(-1) > 0).all() and (areas[:, 0] > 0).all()


def test_photo_background_keeps_its_person_behind_the_pasted_ones():
    """``photo_prob=1``: the photo itself, zoomed to cover the canvas, and its labelled person
    first, its joints where the photo's pixels went."""
    config = SceneConfig(canvas=64, max_people=2, min_people=2, cutout=64, person_size=(0.3, 0.3),
                         photo_prob=1.0)
    cut = np.full((2, 64, 64, 3), 200.0, np.float32)
    pts = np.stack([_standing()] * 2)
    photo = np.zeros((80, 100, 3), np.float32)
    photo_pts = _standing(50, 10, 60)
    x, y = np.round(photo_pts[K - 1]).astype(int)  # the head top: a bright pixel there
    photo[y - 1:y + 2, x - 1:x + 2] = 255.0
    image, kps, vis, areas = (t.numpy() for t in compose_scene(
        tf.constant(cut), tf.constant(pts), tf.ones((2, K)), tf.constant(photo), tf.constant([1, 2]), config,
        background_points=tf.constant(photo_pts), background_visible=tf.ones(K)))
    assert kps.shape == (3, K, 2) and vis.shape == (3, K) and areas.shape == (3,)
    # Covers the canvas: the scale is at least 64 / 80 (the shorter side), the photo's person
    # keeps its proportions.
    scale = np.ptp(kps[0], 0).max() / np.ptp(photo_pts, 0).max()
    assert 0.8 - 1e-4 <= scale <= 0.8 * 1.3 + 1e-4
    head = kps[0, K - 1]
    if vis[0, K - 1] > 0:  # not covered by a pasted person: the bright pixel went where the joint went
        cy, cx = np.clip(np.round(head).astype(int), 0, 63)[::-1]
        assert image[cy, cx].mean() > 60
    assert vis[0].sum() > 0 and areas[0] > 0
    with pytest.raises(ValueError, match="needs its person"):
        compose_scene(tf.constant(cut), tf.constant(pts), tf.ones((2, K)), tf.constant(photo),
                      tf.constant([1, 2]), config)


def test_group_row_puts_similar_sizes_side_by_side():
    config = SceneConfig(canvas=128, max_people=4, min_people=4, cutout=64, person_size=(0.3, 0.6),
                         row_prob=1.0)
    for seed in range(4):
        _, kps, _, _ = (t.numpy() for t in _scene([seed, 7], config, n=4))
        extent = np.ptp(kps, 1).max(-1)
        centre = (kps.max(1) + kps.min(1)) / 2
        assert extent.max() / extent.min() <= 1.15 / 0.85 + 1e-4
        assert np.all(np.diff(centre[:, 0]) > 0)  # left to right
        assert np.ptp(centre[:, 1]) <= 0.06 * 128 + 1e-3  # at one height
    with pytest.raises(ValueError, match="row_prob must be in"):
        SceneConfig(row_prob=2.0)
