"""The TF crop of the pipeline agrees with zoo.preprocess (the evaluation crop); flips swap sides."""

import numpy as np
import pytest
import tensorflow as tf

from training.augment import AugmentConfig, crop_matrix_tf, crop_sample, joints_box_tf
from zoo import preprocess
from zoo.skeletons import LSP14

SIZE = 64


def _image(h=120, w=150, seed=0):
    """A smooth random image (bilinear sampling of noise would exaggerate rounding differences)."""
    rng = np.random.default_rng(seed)
    coarse = rng.uniform(0, 255, (h // 6 + 2, w // 6 + 2, 3)).astype(np.float32)
    import cv2

    return cv2.resize(coarse, (w, h), interpolation=cv2.INTER_CUBIC).clip(0, 255).astype(np.uint8)


def _person(seed=0):
    rng = np.random.default_rng(seed)
    kps = rng.uniform([20, 15], [125, 110], size=(14, 2)).astype(np.float32)
    vis = np.ones(14, np.float32)
    vis[[3, 12]] = 0  # a couple of unlabelled joints (not part of the box)
    kps[3] = [-50, 400]  # garbage coordinates on an unlabelled joint must not move the box
    return kps, vis


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_tf_crop_matches_preprocess(seed):
    image = _image(seed=seed)
    kps, vis = _person(seed)
    center, side = preprocess.joints_box(kps, vis)
    matrix = preprocess.crop_matrix(center, side, SIZE)
    ref = preprocess.warp(image, matrix, SIZE).astype(np.float32)

    crop, points, out_vis, m_tf = (t.numpy() for t in crop_sample(
        image, kps, vis, SIZE, LSP14.flip_index, augment=None))
    c_tf, s_tf = joints_box_tf(tf.constant(kps), tf.constant(vis))
    np.testing.assert_allclose(c_tf.numpy(), center, rtol=1e-5)
    assert float(s_tf) == pytest.approx(side, rel=1e-5)
    np.testing.assert_allclose(m_tf, matrix, rtol=1e-4, atol=1e-4)
    np.testing.assert_array_equal(out_vis, vis)
    np.testing.assert_allclose(points, preprocess.transform_points(kps, matrix), atol=1e-3)

    # The labelled box, padded by 1.25, fills the crop: its centre lands on the crop centre.
    np.testing.assert_allclose(preprocess.transform_points(center, matrix), [(SIZE - 1) / 2] * 2, atol=1e-6)
    lab = points[vis > 0]
    extent = (lab.max(0) - lab.min(0)).max()
    assert extent == pytest.approx(SIZE / preprocess.BOX_PADDING, rel=1e-4)

    # Pixels: compare where the source position is at least one pixel inside the image
    # (the borders differ only in how each library pads), and check the zero padding.
    inv = np.linalg.inv(matrix)
    yy, xx = np.mgrid[0:SIZE, 0:SIZE]
    src = preprocess.transform_points(np.stack([xx, yy], -1), inv)
    h, w = image.shape[:2]
    inside = (src[..., 0] > 1) & (src[..., 0] < w - 2) & (src[..., 1] > 1) & (src[..., 1] < h - 2)
    outside = (src[..., 0] < -2) | (src[..., 0] > w + 1) | (src[..., 1] < -2) | (src[..., 1] > h + 1)
    assert inside.sum() > SIZE * SIZE // 4
    diff = np.abs(crop - ref)[inside]
    assert diff.mean() < 0.5, diff.mean()
    assert diff.max() < 3.0, diff.max()  # cv2 quantises bilinear weights to 1/32 pixel
    if outside.any():
        assert not crop[outside].any() and not ref[outside].any()


def test_crop_matrix_tf_with_rotation_and_flip_matches_numpy():
    center = np.array([70.3, 55.9])
    for rot, flip in [(0.0, False), (25.0, False), (-30.0, True), (0.0, True)]:
        ref = preprocess.crop_matrix(center, 97.0, SIZE, rotation_deg=rot, flip=flip)
        got = crop_matrix_tf(tf.constant(center, tf.float32), tf.constant(97.0), SIZE, rot, flip)
        np.testing.assert_allclose(got.numpy(), ref, atol=1e-4)
    with pytest.raises(ValueError, match="0"):
        preprocess.crop_matrix(center, 0.0, SIZE)


def test_forced_flip_mirrors_and_swaps_left_right():
    image = _image(seed=3)
    kps, vis = _person(seed=3)
    vis[5] = 0  # left_ankle unlabelled, right_ankle labelled: the labels must swap too
    plain, p_pts, p_vis, p_m = (t.numpy() for t in crop_sample(
        image, kps, vis, SIZE, LSP14.flip_index, augment=None))
    cfg = AugmentConfig(scale=0.0, rotation_deg=0.0, flip_prob=1.0, colour=0.0)
    flipped, f_pts, f_vis, f_m = (t.numpy() for t in crop_sample(
        image, kps, vis, SIZE, LSP14.flip_index, augment=cfg))

    np.testing.assert_allclose(flipped, plain[:, ::-1], atol=1e-2)
    mirror = np.array([[-1.0, 0, SIZE - 1], [0, 1, 0], [0, 0, 1]])
    np.testing.assert_allclose(f_m, mirror @ p_m, atol=1e-4)

    la, ra = LSP14.index("left_ankle"), LSP14.index("right_ankle")
    # The joint now labelled left_ankle is the original right ankle, mirrored.
    np.testing.assert_allclose(f_pts[la], [SIZE - 1 - p_pts[ra, 0], p_pts[ra, 1]], atol=1e-3)
    np.testing.assert_allclose(f_pts[ra], [SIZE - 1 - p_pts[la, 0], p_pts[la, 1]], atol=1e-3)
    assert f_vis[la] == 1 and f_vis[ra] == 0
    neck = LSP14.index("neck")
    np.testing.assert_allclose(f_pts[neck], [SIZE - 1 - p_pts[neck, 0], p_pts[neck, 1]], atol=1e-3)
    # Every joint: flipped[i] = mirror of original[flip_index[i]].
    idx = np.array(LSP14.flip_index)
    np.testing.assert_allclose(f_pts[:, 0], SIZE - 1 - p_pts[idx, 0], atol=1e-3)
    np.testing.assert_array_equal(f_vis, p_vis[idx])
    # The pixel under a mirrored joint is the pixel under the original joint.
    x, y = np.round(p_pts[ra]).astype(int)
    if 0 <= x < SIZE and 0 <= y < SIZE:
        np.testing.assert_allclose(flipped[y, SIZE - 1 - x], plain[y, x], atol=1e-2)


def test_random_augment_keeps_points_consistent_with_matrix():
    tf.random.set_seed(0)
    image = _image(seed=4)
    kps, vis = _person(seed=4)
    crop, pts, out_vis, m = (t.numpy() for t in crop_sample(
        image, kps, vis, SIZE, LSP14.flip_index, augment=AugmentConfig()))
    assert crop.shape == (SIZE, SIZE, 3) and crop.min() >= 0 and crop.max() <= 255
    moved = preprocess.transform_points(kps, m)
    flipped = m[0, 0] * m[1, 1] - m[0, 1] * m[1, 0] < 0  # a mirror has a negative determinant
    idx = np.array(LSP14.flip_index) if flipped else np.arange(14)
    np.testing.assert_allclose(pts, moved[idx], atol=1e-3)
    np.testing.assert_array_equal(out_vis, vis[idx])
