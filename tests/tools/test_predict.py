"""``python -m tools.predict`` (#16, #30): photos, folders, videos; the TFLite backend; the One Euro
filter's effect on jitter; ``--format coco`` scored by pycocotools (#26); bad input, a damaged
image in a folder, checks before the model loads, an odd-sized video, a quiet stderr. Uses the
default model (the most accurate published one) on real photos; skips without the data."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[2]
PHOTO = "mpii-sample/060754485.jpg"          # one man beside a truck, 1280x720
PEOPLE_PHOTO = "coco-mini/train2017/000000000790.jpg"


def _predict(argv, capfd=None):
    from tools._cli import run
    from tools.predict import main

    return run(main, [str(a) for a in argv])


def _read(path):
    from zoo.io import read_image

    return read_image(path)


def test_photo_gives_drawn_photo_and_keypoints_in_image_pixels(tmp_path, shared_data):
    photo = shared_data / PHOTO
    assert _predict([photo, "--output", tmp_path]) == 0
    drawn = _read(tmp_path / "060754485_pose.jpg")
    assert drawn.shape == _read(photo).shape
    result = json.loads((tmp_path / "060754485_pose.json").read_text())
    import zoo

    assert result["model"] == zoo.get_spec(zoo.most_accurate()).id
    (person,) = result["people"]
    from zoo.skeletons import get_skeleton

    assert len(person["keypoints"]) == len(result["joints"]) == get_skeleton(
        zoo.get_spec(zoo.most_accurate()).skeleton).num_joints
    xy = np.array([k for k in person["keypoints"] if k is not None])
    assert len(xy) >= 10
    # The man stands between x 400 and 900 of the 1280-wide photo.
    assert (xy[:, 0] > 400).all() and (xy[:, 0] < 900).all() and (xy[:, 1] < 720).all()
    assert person["box"]["source"] in ("detector", "hog", "grid", "refined")


def test_folder_in_coco_format(tmp_path, shared_data):
    import zoo

    coco_model = zoo.get_spec(zoo.most_accurate()).skeleton == "coco17"
    folder = tmp_path / "photos"
    folder.mkdir()
    shutil.copy(shared_data / PEOPLE_PHOTO, folder)
    shutil.copy(shared_data / PHOTO, folder / "truck.jpg")
    (folder / "notes.txt").write_text("not an image: ignored")
    assert _predict([folder, "--output", tmp_path / "out", "--format", "coco"]) == 0
    results = json.loads((tmp_path / "out" / "photos_pose.json").read_text())
    assert sorted(r["image_id"] for r in results) == [1, 790]  # numeric name, else its position
    for r in results:
        assert r["category_id"] == 1 and len(r["keypoints"]) == 17 * 3
        kp = np.array(r["keypoints"]).reshape(17, 3)
        assert (kp[5:, 2] > 0).all()     # shoulders to ankles come from the model
        # Nose, eyes and ears: from a COCO-17 model; an LSP-14 model has none (0, 0, 0).
        assert (kp[:5, 2] > 0).all() if coco_model else (kp[:5] == 0).all()
    assert (tmp_path / "out" / "000000000790_pose.jpg").is_file()
    assert (tmp_path / "out" / "truck_pose.jpg").is_file()
    assert not (tmp_path / "out" / "truck_pose.json").exists()  # COCO results instead


#: coco-mini photos with one labelled person each (COCO ignores the people labelled without
#: keypoints), so a single-person model can find everyone the ground truth holds.
ONE_PERSON_PHOTOS = (30752, 37666, 84533, 234748, 535506)


def _oks_ap(gt_file, results):
    """pycocotools' keypoint evaluation of ``results`` against ``gt_file``: ``stats`` (AP, AP50, ...)."""
    import contextlib
    import copy
    import io

    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    with contextlib.redirect_stdout(io.StringIO()):  # pycocotools prints its progress
        gt = COCO(str(gt_file))
        ev = COCOeval(gt, gt.loadRes(copy.deepcopy(results)), "keypoints")
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return ev.stats


def _broken(results, change):
    """A copy of ``results`` with ``change`` applied to each person's (17, 3) keypoints."""
    out = []
    for r in results:
        kp = np.array(r["keypoints"], np.float64).reshape(17, 3)
        out.append({**r, "keypoints": change(kp).ravel().tolist()})
    return out


def _as_crop_pixels(kp, size=256):
    """The keypoints in the pixels of a protocol-like crop around them (square of 1.25 x their
    extent, resized to ``size``): what a result forgetting the inverse affine would hold."""
    xy = kp[:, :2]
    centre, side = (xy.min(0) + xy.max(0)) / 2, 1.25 * (xy.max(0) - xy.min(0)).max()
    return np.concatenate([(xy - centre + side / 2) * size / side, kp[:, 2:]], 1)


def test_coco_format_is_scored_by_pycocotools(tmp_path, shared_data):
    """#26.3: ``--format coco`` writes COCO keypoint results that pycocotools loads and scores
    against the photos' own ground truth; the AP bar is one that swapped x / y, a mirrored or
    another skeleton's joint order, or crop instead of image pixels all fail (checked below). The
    bar checks the format, not the accuracy: some of these photos are training photos."""
    from zoo.skeletons import COCO17

    coco = json.loads((shared_data / "coco-mini/annotations/person_keypoints_train2017.json").read_text())
    images = {i["id"]: i for i in coco["images"] if i["id"] in ONE_PERSON_PHOTOS}
    gt_file = tmp_path / "gt.json"
    gt_file.write_text(json.dumps({**coco, "images": list(images.values()),
                                   "annotations": [a for a in coco["annotations"] if a["image_id"] in images]}))
    folder = tmp_path / "photos"
    folder.mkdir()
    for image in images.values():
        shutil.copy(shared_data / "coco-mini/train2017" / image["file_name"], folder)

    assert _predict([folder, "--model", "simplebaseline-coco", "--output", tmp_path / "out", "--format", "coco"]) == 0
    results = json.loads((tmp_path / "out" / "photos_pose.json").read_text())
    assert sorted(r["image_id"] for r in results) == sorted(ONE_PERSON_PHOTOS)  # one person each
    for r in results:
        assert set(r) == {"image_id", "category_id", "keypoints", "score"} and r["category_id"] == 1
        assert len(r["keypoints"]) == 17 * 3 and all(isinstance(v, float) for v in r["keypoints"])
        kp = np.array(r["keypoints"]).reshape(17, 3)
        image = images[r["image_id"]]
        assert (kp[:, 0] >= 0).all() and (kp[:, 0] < image["width"]).all(), kp  # image pixels, x first
        assert (kp[:, 1] >= 0).all() and (kp[:, 1] < image["height"]).all(), kp
        assert ((kp[:, 2] > 0) & (kp[:, 2] <= 1)).all() and 0 < r["score"] <= 1

    ap, ap50 = _oks_ap(gt_file, results)[:2]
    assert ap == ap and ap >= 0.3 and ap50 >= 0.7, (ap, ap50)
    lsp_order = [COCO17.joint_names.index(n) for n in (
        "right_ankle", "right_knee", "right_hip", "left_hip", "left_knee", "left_ankle", "right_wrist",
        "right_elbow", "right_shoulder", "left_shoulder", "left_elbow", "left_wrist", "nose", "left_eye",
        "right_eye", "left_ear", "right_ear")]
    for what, change in {"x and y swapped": lambda kp: kp[:, [1, 0, 2]],
                         "left and right swapped": lambda kp: kp[list(COCO17.flip_index)],
                         "LSP joint order": lambda kp: kp[lsp_order],
                         "crop pixels": _as_crop_pixels}.items():
        assert _oks_ap(gt_file, _broken(results, change))[0] < 0.3, f"the bar does not catch {what}"


FRAMES, FPS, SIZE = 30, 30.0, (640, 360)


def _moving_clip(photo, path):
    """A clip of ``photo`` panned (1.5, 0.75 frame px per frame) and zoomed (0.4 % per frame):
    returns the (FRAMES, 3, 3) photo -> frame matrices, the known motion."""
    import cv2

    w, h = SIZE
    mats = []
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), FPS, SIZE)
    for t in range(FRAMES):
        s = 0.5 * (1 + 0.004 * t)
        m = np.array([[s, 0, w / 2 - s * 640 + 1.5 * t], [0, s, h / 2 - s * 360 + 0.75 * t], [0, 0, 1]])
        writer.write(cv2.cvtColor(cv2.warpAffine(photo, m[:2], SIZE, flags=cv2.INTER_LINEAR), cv2.COLOR_RGB2BGR))
        mats.append(m)
    writer.release()
    return np.stack(mats)


def _jitter(jsonl, mats, min_score=0.3):
    """Mean frame-to-frame deviation of the keypoints from the known motion (frame pixels): each
    frame's keypoints, carried by the known motion to the next frame, against that frame's."""
    rows = [json.loads(line) for line in jsonl.read_text().splitlines()]
    assert [r["frame"] for r in rows] == list(range(FRAMES))
    kp = np.array([[k if k else [np.nan, np.nan] for k in r["people"][0]["keypoints"]] for r in rows])
    sc = np.array([r["people"][0]["scores"] for r in rows])
    hom = lambda p: np.concatenate([p, np.ones(p.shape[:-1] + (1,))], -1)  # noqa: E731
    in_photo = np.einsum("tij,tkj->tki", np.linalg.inv(mats), hom(kp))
    expected = np.einsum("tij,tkj->tki", mats[1:], in_photo[:-1])[..., :2]
    dev = np.linalg.norm(kp[1:] - expected, axis=-1)
    ok = (sc[1:] >= min_score) & (sc[:-1] >= min_score) & np.isfinite(dev)
    assert ok.sum() >= FRAMES * 6
    return float(dev[ok].mean())


def test_video_keeps_frames_size_rate_and_the_filter_reduces_jitter(tmp_path, shared_data):
    import cv2

    clip = tmp_path / "clip.mp4"
    mats = _moving_clip(_read(shared_data / PHOTO), clip)
    jitter = {}
    for name, flags in (("off", ["--no-smooth"]), ("on", [])):
        out = tmp_path / name
        assert _predict([clip, "--output", out, *flags]) == 0
        cap = cv2.VideoCapture(str(out / "clip_pose.mp4"))
        assert (cap.get(cv2.CAP_PROP_FRAME_COUNT), cap.get(cv2.CAP_PROP_FPS)) == (FRAMES, FPS)
        assert (cap.get(cv2.CAP_PROP_FRAME_WIDTH), cap.get(cv2.CAP_PROP_FRAME_HEIGHT)) == SIZE
        cap.release()
        jitter[name] = _jitter(out / "clip_pose.jsonl", mats)
    print(f"\njitter (mean frame-to-frame deviation from the known motion, frame px): "
          f"filter off {jitter['off']:.2f}, One Euro on {jitter['on']:.2f}")
    assert jitter["on"] < 0.8 * jitter["off"]


def test_tflite_backend_finds_the_same_person_within_the_parity_figures(tmp_path, shared_data, exported):
    import zoo

    name = zoo.most_accurate()
    exports = exported(name, "tflite", "int8").parents[2]
    results = {}
    for backend in ("keras", "tflite"):
        out = tmp_path / backend
        assert _predict([shared_data / PHOTO, "--output", out, "--backend", backend, "--exports", exports]) == 0
        results[backend] = json.loads((out / "060754485_pose.json").read_text())["people"][0]
    k, t = (np.array([p if p else [np.nan] * 2 for p in results[b]["keypoints"]]) for b in ("keras", "tflite"))
    # Image pixels -> the model's input pixels (the crop's side maps onto input_size).
    spec = zoo.get_spec(name)
    scale = spec.input_size / results["keras"]["box"]["side"]
    dist = np.linalg.norm(k - t, axis=-1) * scale
    parity_file = REPO / "zoo" / "published" / spec.name / str(spec.version) / "measurements" / "parity.json"
    parity = {r["precision"]: r for r in json.loads(parity_file.read_text())["rows"]}
    print(f"\nkeras vs tflite int8: median {np.nanmedian(dist):.2f} input px (parity p95 {parity['int8']['p95_px']})")
    assert np.nanmedian(dist) <= parity["int8"]["p95_px"]


@pytest.fixture()
def bad_inputs(tmp_path):
    (tmp_path / "empty").mkdir()
    (tmp_path / "text.mp4").write_text("this is text, not a video\n")
    (tmp_path / "zero.mp4").write_bytes(b"")
    (tmp_path / "notes.txt").write_text("hello")
    return tmp_path


@pytest.mark.parametrize("source, message", [
    ("text.mp4", "text.mp4: cannot be opened as a video"),
    ("zero.mp4", "zero.mp4: empty file (0 bytes)"),
    ("empty", "empty: folder holds no images"),
    ("notes.txt", "notes.txt: unsupported file type '.txt'"),
    ("missing.jpg", "missing.jpg: no such file or folder"),
    ("7", "camera 7: no camera with this index could be opened"),
])
def test_bad_input_is_one_line_naming_it(bad_inputs, capfd, source, message):
    src = source if source.isdigit() else bad_inputs / source
    assert _predict([src, "--output", bad_inputs / "out"]) == 2
    err = capfd.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0] and err[0].startswith("error: "), err
    assert not (bad_inputs / "out").exists()


def test_bad_input_from_the_command_line_exits_2_without_traceback(bad_inputs):
    proc = subprocess.run([sys.executable, "-m", "tools.predict", str(bad_inputs / "text.mp4")],
                          capture_output=True, text=True, cwd=REPO, timeout=300)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        f"error: {bad_inputs / 'text.mp4'}: cannot be opened as a video "
        "(not a video file, or a format OpenCV cannot read)"]


def test_a_failure_mid_video_leaves_no_partial_file(tmp_path, shared_data, monkeypatch):
    from zoo.predictor import PosePredictor

    clip = tmp_path / "clip.mp4"
    _moving_clip(_read(shared_data / PHOTO)[::4, ::4].copy(), clip)  # tiny frames, fast
    calls = {"n": 0}
    original = PosePredictor.__call__

    def failing(self, image, time_s=None):
        calls["n"] += 1
        if calls["n"] == 4:
            raise ValueError("frame 3: simulated failure")
        return original(self, image, time_s)

    monkeypatch.setattr(PosePredictor, "__call__", failing)
    out = tmp_path / "out"
    assert _predict([clip, "--output", out]) == 2
    assert calls["n"] == 4
    assert not out.exists()  # no partial file, and the folder the run created is gone too


def test_one_euro_filter_smooths_noise_follows_motion_and_restarts_after_a_gap():
    from zoo.smoothing import OneEuroFilter

    rng = np.random.default_rng(0)
    t = np.arange(120) / 30.0
    truth = np.stack([20 * t, np.full_like(t, 5.0)], -1)[:, None]      # (T, 1, 2): moving in x
    noisy = truth + rng.normal(0, 1.0, truth.shape)
    f = OneEuroFilter(min_cutoff=1.0, beta=0.05)
    out = np.stack([f.filter(x, s) for x, s in zip(noisy, t)])
    step = lambda a: np.abs(np.diff(a[30:, 0, 1]))  # noqa: E731  frame-to-frame change at rest in y
    assert step(out).mean() < 0.5 * step(noisy).mean()
    assert np.abs(out[30:, 0, 0] - truth[30:, 0, 0]).mean() < 2.0  # the lag stays small
    # A joint unseen for a frame is passed through, then restarts from its new position.
    f = OneEuroFilter()
    f.filter(np.zeros((2, 2)), 0.0)
    mask = np.array([[True, True], [False, False]])
    gap = f.filter(np.full((2, 2), 50.0), 0.1, mask=mask)
    assert gap[1].tolist() == [50.0, 50.0] and gap[0, 0] < 50.0
    assert f.filter(np.full((2, 2), 80.0), 0.2)[1].tolist() == [80.0, 80.0]
    with pytest.raises(ValueError, match="min_cutoff > 0"):
        OneEuroFilter(min_cutoff=0)


LSPET_PHOTOS = ("lspet/images/im00001.jpg", "lspet/images/im00002.jpg")  # small photos, one person each


def _lspet_photos(shared_data):
    photos = [shared_data / p for p in LSPET_PHOTOS]
    if not all(p.is_file() for p in photos):
        pytest.skip(f"LSPet photos not found under {shared_data}")
    return photos


def test_a_damaged_image_in_a_folder_is_one_line_and_the_rest_goes_on(tmp_path, shared_data, capfd):
    first, second = _lspet_photos(shared_data)
    folder = tmp_path / "photos"
    folder.mkdir()
    shutil.copy(first, folder / "a_good.jpg")
    data = second.read_bytes()
    (folder / "b_truncated.jpg").write_bytes(data[:len(data) // 2])
    shutil.copy(second, folder / "c_good.jpg")
    from PIL import Image

    Image.new("RGB", (200, 160), (128, 128, 128)).save(folder / "d_empty.png")  # nobody in it

    out = tmp_path / "out"
    assert _predict([folder, "--output", out]) == 1
    err = [line.strip() for line in capfd.readouterr().err.replace("\r", "\n").splitlines()]
    named = [line for line in err if "b_truncated.jpg" in line]
    assert len(named) == 2, err  # the error where it happened, the count at the end
    assert named[0].startswith("error: ") and "damaged or truncated image" in named[0] and "skipped" in named[0]
    assert named[1] == "1 of 4 image(s) failed: b_truncated.jpg"
    assert any(line.endswith("d_empty.png: no person found") for line in err), err
    for stem in ("a_good", "c_good"):
        (person,) = json.loads((out / f"{stem}_pose.json").read_text())["people"]
        assert sum(k is not None for k in person["keypoints"]) >= 10
    assert json.loads((out / "d_empty_pose.json").read_text())["people"] == []
    assert (out / "d_empty_pose.jpg").is_file() and not (out / "b_truncated_pose.jpg").exists()

    assert _predict([folder, "--output", out / "coco", "--format", "coco"]) == 1
    results = json.loads((out / "coco" / "photos_pose.json").read_text())
    assert sorted(r["image_id"] for r in results) == [0, 2]  # positions of a_good and c_good

    capfd.readouterr()  # a damaged photo given alone is an unreadable input: one line, exit status 2
    assert _predict([folder / "b_truncated.jpg", "--output", tmp_path / "alone"]) == 2
    (line,) = capfd.readouterr().err.strip().splitlines()
    assert line.startswith("error: ") and "b_truncated.jpg: damaged or truncated image" in line
    assert not (tmp_path / "alone").exists()


def test_checks_before_the_model_loads(tmp_path, shared_data, monkeypatch, capfd):
    import zoo

    def no_model(*args, **kwargs):
        raise AssertionError("the model was loaded before the checks")

    monkeypatch.setattr(zoo, "load", no_model)
    photo = _lspet_photos(shared_data)[0]
    (tmp_path / "file").write_text("not a folder")
    assert _predict([photo, "--output", tmp_path / "file" / "out"]) == 2
    assert capfd.readouterr().err.strip() == (f"error: output folder {tmp_path / 'file' / 'out'}: "
                                              f"{tmp_path / 'file'} is a file, not a folder")
    assert _predict([photo, "--model", "Hourglas-LSP", "--output", tmp_path / "out"]) == 2
    err = capfd.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "unknown model 'Hourglas-LSP' (did you mean hourglass-lsp?)" in err[0], err
    assert not (tmp_path / "out").exists()


def test_model_name_in_any_case(tmp_path, shared_data):
    import zoo

    photo = _lspet_photos(shared_data)[0]
    name = zoo.most_accurate()  # e.g. simplebaseline-lsp@2
    assert _predict([photo, "--model", name.upper(), "--output", tmp_path]) == 0
    assert json.loads((tmp_path / f"{photo.stem}_pose.json").read_text())["model"] == name


def test_an_interrupted_export_removes_the_folders_it_created(tmp_path, shared_data, monkeypatch):
    import edge.exporter
    import zoo

    class Model:
        spec = zoo.get_spec(zoo.most_accurate())

    def interrupted(model, precision, output_dir, log=print):
        (Path(output_dir) / model.spec.name / str(model.spec.version)).mkdir(parents=True)
        raise KeyboardInterrupt  # Ctrl-C during the conversion

    monkeypatch.setattr(zoo, "load", lambda name: Model())
    monkeypatch.setattr(edge.exporter, "cached_tflite", interrupted)
    exports, out = tmp_path / "exports", tmp_path / "out"
    photo = _lspet_photos(shared_data)[0]
    assert _predict([photo, "--backend", "tflite", "--exports", exports, "--output", out]) == 130
    assert list(tmp_path.iterdir()) == []


def _odd_clip(photo, path, size=(311, 222), frames=6, fps=25.0):
    """A short clip of ``photo`` scaled into an odd ``size``, through OpenCV's own MJPEG writer
    (which keeps odd sizes)."""
    import cv2

    frame = cv2.resize(cv2.cvtColor(photo, cv2.COLOR_RGB2BGR), size, interpolation=cv2.INTER_AREA)
    writer = cv2.VideoWriter(str(path), cv2.CAP_OPENCV_MJPEG, cv2.VideoWriter_fourcc(*"MJPG"), fps, size)
    for t in range(frames):
        writer.write(np.roll(frame, t, axis=1))
    writer.release()
    cap = cv2.VideoCapture(str(path))
    assert (cap.get(cv2.CAP_PROP_FRAME_WIDTH), cap.get(cv2.CAP_PROP_FRAME_HEIGHT)) == size
    cap.release()


def test_an_odd_sized_video_keeps_its_size(tmp_path, shared_data, capfd):
    import cv2

    clip = tmp_path / "clip.avi"
    _odd_clip(_read(_lspet_photos(shared_data)[0]), clip)
    assert _predict([clip, "--output", tmp_path / "out"]) == 0
    cap = cv2.VideoCapture(str(tmp_path / "out" / "clip_pose.avi"))
    assert (cap.get(cv2.CAP_PROP_FRAME_WIDTH), cap.get(cv2.CAP_PROP_FRAME_HEIGHT)) == (311, 222)
    assert (cap.get(cv2.CAP_PROP_FRAME_COUNT), cap.get(cv2.CAP_PROP_FPS)) == (6, 25.0)
    ok, frame = cap.read()
    assert ok and frame.shape == (222, 311, 3)
    cap.release()
    assert not (tmp_path / "out" / "clip_pose.mp4").exists()
    assert "311x222 is an odd size" in capfd.readouterr().err
    assert len((tmp_path / "out" / "clip_pose.jsonl").read_text().splitlines()) == 6


NOISE = ("E0000", "I0000", "W0000", "cuInit", "cuda", "absl::InitializeLog", "cpu_feature_guard", "oneDNN",
         "deprecated", "fully_quantize", "XNNPACK")


def test_the_cli_stderr_says_only_what_concerns_the_user(tmp_path, shared_data, exported):
    """Start-up noise (#30.4): TensorFlow's CUDA probe (E0000 ... cuInit), oneDNN and cpu_feature
    lines, the LiteRT deprecation warning, the interpreter's XNNPACK line: none of them, unless
    ``--verbose``. Through the TFLite backend, the phone's path (a float32 file of the session)."""
    import zoo

    name = zoo.most_accurate()
    exports = exported(name, "tflite", "float32").parents[2]
    photo = _lspet_photos(shared_data)[0]
    command = [sys.executable, "-m", "tools.predict", str(photo), "--model", name.upper(), "--backend", "tflite",
               "--precision", "float32", "--exports", str(exports), "--output", str(tmp_path / "out")]
    quiet = subprocess.run(command, capture_output=True, text=True, cwd=REPO, timeout=600)
    assert quiet.returncode == 0, quiet.stderr
    lines = [line for line in quiet.stderr.replace("\r", "\n").splitlines() if line.strip()]
    noisy = [line for line in lines if any(word in line for word in NOISE)]
    assert not noisy, noisy
    assert any(line.startswith(f"{name}: ") for line in lines), lines  # what concerns the user stays
    verbose = subprocess.run(command + ["--verbose"], capture_output=True, text=True, cwd=REPO, timeout=600)
    assert verbose.returncode == 0 and "XNNPACK" in verbose.stderr, verbose.stderr[-2000:]
