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
    for n, i in enumerate(picks):
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
