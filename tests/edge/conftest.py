"""Fixtures of the bottom-up (OpenPose) edge tests: a tiny OpenPose whose maps are written in the
input image, so that an untrained model finds people and every exported graph has to compute them
from its input.

The image carries the maps of its own scene: each 8x8 pixel block (one map cell, stride 8) holds
the cell's 14 confidence-map values and 26 PAF values as 16-bit numbers (high byte in channels
0-39 of ``space_to_depth``, low byte in 40-79). ``SyntheticMapsOpenPose.call`` decodes them (plus
0.001 x the real network's maps, so the convolutions stay in the graph) and the model's own
decoder (x2 bilinear upsampling) and ``PafGrouping`` run on them as usual. The maps are rendered
from people placed at random sub-cell positions, so no two map values tie and a graph that
computes anything differently finds different people.
"""

import numpy as np
import pytest
from paf_maps import TEMPLATE, confidence_maps, ideal_pafs  # tests/ is on sys.path (tests/conftest.py)

OPENPOSE_SIZE = 128  # 16x16 maps, grouped at 32x32 (stride 4)
CELL = 8
def _synthetic_class():
    import keras
    import tensorflow as tf

    from zoo.architectures.openpose import OpenPose

    class SyntheticMapsOpenPose(OpenPose):
        """``OpenPose`` whose last-stage maps are decoded from the image (module docstring)."""

        def call(self, images, training=None):
            out = super().call(images, training=training)
            k, two_l = self.num_joints, 2 * self.num_limbs
            cells = tf.nn.space_to_depth(tf.cast(images, "float32"), CELL)
            n = k + two_l
            values = (cells[..., :n] * 256.0 + cells[..., n:2 * n]) / 65535.0
            heatmaps = values[..., :k] + 0.001 * out["heatmaps"][:, -1]
            pafs = values[..., k:] * 2.0 - 1.0 + 0.001 * out["pafs"][:, -1]
            return {"pafs": pafs[:, None], "heatmaps": heatmaps[:, None]}

    keras.saving.register_keras_serializable(package="tests")(SyntheticMapsOpenPose)
    return SyntheticMapsOpenPose


def scene_maps(people, h, w, tree, sigma=1.0, width=1.0):
    """Confidence maps (max of Gaussians) and unit-vector PAFs (averaged where limbs overlap) of
    ``people (M, K, 2)`` given in map cells."""
    return confidence_maps(people, h, w, people.shape[1], sigma), ideal_pafs(people, tree, h, w, width)


def encode_maps(heat, pafs, size=OPENPOSE_SIZE):
    """The uint8 image ``(size, size, 3)`` whose blocks carry ``heat`` (in [0, 1]) and ``pafs``
    (in [-1, 1]) as 16-bit values, in ``SyntheticMapsOpenPose``'s layout."""
    h, w = heat.shape[:2]
    values = np.concatenate([np.clip(heat, 0, 1), (np.clip(pafs, -1, 1) + 1) / 2], -1)
    q = np.round(values * 65535).astype(np.int64)
    n = values.shape[-1]
    cells = np.zeros((h, w, CELL * CELL * 3), np.uint8)
    cells[..., :n], cells[..., n:2 * n] = q // 256, q % 256
    return cells.reshape(h, w, CELL, CELL, 3).transpose(0, 2, 1, 3, 4).reshape(size, size, 3)


def synthetic_scenes(count, seed=0, size=OPENPOSE_SIZE):
    """``count`` uint8 images of 1-3 people each (random sub-cell positions and scales)."""
    from zoo.skeletons import LSP14

    rng = np.random.default_rng(seed)
    h = size // CELL
    images = []
    for _ in range(count):
        m = int(rng.integers(1, 4))
        xs = (np.arange(m) + 0.5) * h / m + rng.uniform(-0.4, 0.4, m)
        people = np.stack([TEMPLATE * rng.uniform(0.42, 0.5) + (x, h / 2 + rng.uniform(-0.5, 0.5))
                           + rng.uniform(-0.3, 0.3, TEMPLATE.shape) for x in xs])
        images.append(encode_maps(*scene_maps(people, h, h, LSP14.tree_index)))
    return np.stack(images)


@pytest.fixture(scope="session")
def tiny_openpose():
    """An untrained tiny OpenPose (8 filters, one stage each) at 128x128 whose maps are the
    image's (``SyntheticMapsOpenPose``); 4 candidates per part (the grouping's graph, unrolled
    over candidates x limbs, is 2.5 times smaller than with the preset's 10: faster conversions)."""
    import keras

    keras.utils.set_random_seed(0)
    model = _synthetic_class()(backbone_filters=(8, 8, 8), stage_filters=8, stage_convs=1, paf_stages=1,
                               heatmap_stages=1, max_candidates=4, input_size=OPENPOSE_SIZE)
    model.build((None, OPENPOSE_SIZE, OPENPOSE_SIZE, 3))
    return model


@pytest.fixture(scope="session")
def people_scenes():
    return synthetic_scenes(6, seed=0)
