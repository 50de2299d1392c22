"""The README's main job (tools.demo) on a real photo, and its handling of bad input."""

import json
import subprocess
import sys

import numpy as np
import pytest

from tools.demo import DEFAULT_IMAGE, main


def test_main_job_on_a_real_photo(tmp_path, shared_data, exports_dir, exported, capsys):
    import zoo

    image = shared_data / DEFAULT_IMAGE
    if not image.is_file():
        pytest.skip(f"{image} not found")
    # The session's exports folder: the demo reuses the int8 files the session's other tests
    # export of the same weights (it checks their sha256), as it does under its own --exports;
    # the conversions themselves are tested in tests/edge.
    reused = [exported(zoo.most_accurate(), "tflite", "int8")]
    stamps = [p.stat().st_mtime_ns for p in reused]
    assert main(["--image", str(image), "--output", str(tmp_path), "--exports", str(exports_dir)]) == 0
    assert [p.stat().st_mtime_ns for p in reused] == stamps  # reused, not exported again
    result = json.loads((tmp_path / f"{image.stem}_pose.json").read_text())

    assert result["model"] == zoo.most_accurate()  # the default is the most accurate published model
    kp = np.array(result["keypoints"])
    joints = zoo.get_spec(zoo.most_accurate()).model_args["skeleton"]
    from zoo.skeletons import get_skeleton

    names = get_skeleton(joints).joint_names
    assert kp.shape == (len(names), 2) and len(result["scores"]) == len(names)
    # The photo (MPII 060754485) shows one standing man; MPII's annotation puts his centre at
    # (698, 404) with scale 3.37 (person height ~ 675 px). Our keypoints must lie on him.
    centre = np.array([698.0, 404.0])
    assert np.median(np.linalg.norm(kp - centre, axis=1)) < 0.5 * 3.37 * 200
    head = kp[names.index("nose" if "nose" in names else "head_top")]
    ankles = kp[[names.index("left_ankle"), names.index("right_ankle")]]
    assert head[1] < ankles[:, 1].min()  # head above the feet
    drawn = tmp_path / f"{image.stem}_pose.jpg"
    assert drawn.is_file() and drawn.stat().st_size > 10_000
    out = capsys.readouterr().out
    assert "person box" in out and "wrote" in out
    assert "seen" in out and result["box"]["people_seen"] >= 1  # how many people the search saw
    # the int8 TFLite export ran on the same crop and agrees with the Keras model
    tfl = result["tflite"]
    assert tfl["precision"] == "int8" and tfl["file"].endswith("-int8.tflite")
    # Median, not mean: a joint the model is unsure of (two near-equal heatmap peaks, e.g. this
    # photo's right knee at score 0.22) may take the other peak in int8, a whole limb away.
    assert tfl["median_distance_to_keras_px"] < 2.0
    assert tfl["mean_distance_to_keras_px"] < 0.1 * zoo.get_spec(result["model"]).input_size
    assert tfl["median_latency_ms"] > 0
    assert "TFLite int8" in out and "median latency" in out
    # The group photo: the person detector and the same model (top-down), in Keras and with the
    # detector's and the model's int8 files in sequence.
    people = json.loads((tmp_path / "000000000790_people.json").read_text())
    assert people["model"] == zoo.most_accurate() and len(people["people"]) >= 3
    # The int8 detector may keep one more or one fewer person near its score threshold than the
    # float Keras detector; the people both find (best first) must agree to a few pixels.
    agreement = people["tflite"]["agreement_with_keras"]
    assert abs(agreement["people_tflite"] - agreement["people_keras"]) <= 1, agreement
    assert agreement["joints_compared"] >= 20 and agreement["mean_px"] <= 5.0, agreement
    assert "detector + int8 pose model in sequence" in out


def test_bad_image_gives_a_clear_error_naming_the_file(tmp_path):
    bad = tmp_path / "broken.jpg"
    bad.write_bytes(b"this is not a jpeg")
    proc = subprocess.run([sys.executable, "-m", "tools.demo", "--image", str(bad), "--output",
                           str(tmp_path / "out"), "--tflite", "none"], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2
    assert "broken.jpg" in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").iterdir())


def test_unknown_model_lists_what_exists(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "tools.demo", "--model", "hourglass-xyz",
                           "--output", str(tmp_path)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2
    assert "hourglass-xyz" in proc.stderr and "hourglass-lsp" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_tflite_choices_are_the_exporter_precisions():
    """The parser is built without importing the exporter (``--help`` answers at once): its
    choices are written out, and must stay the exporter's."""
    from edge.tflite_conversion import PRECISIONS
    from tools.demo import parser

    (action,) = [a for a in parser()._actions if a.dest == "tflite"]
    assert list(action.choices) == [*PRECISIONS, "none"]
