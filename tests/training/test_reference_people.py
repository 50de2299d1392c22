"""#27 point 4: MoveNet MultiPose scored on the COCO photos' validation split by the code that scores
our models (training.reference_people, python -m tools.reference_people), recorded with its date,
command and files' sha256 in the reference file, and shown beside our model's figures in the card
sections of models measured on that split."""

import json

import pytest
from movenet_package import needs_package  # tests/ is on sys.path (tests/conftest.py)

from training import teacher


@pytest.fixture
def references_file(tmp_path, monkeypatch):
    from zoo import card_people

    path = tmp_path / "benchmarks" / "reference_people_coco_val.json"
    monkeypatch.setattr(card_people, "REFERENCES_FILE", path)
    return path


def test_an_unknown_reference_is_named():
    from training.reference_people import reference

    with pytest.raises(ValueError, match="unknown reference model 'blazepose'; known: movenet-multipose"):
        reference("blazepose")


def test_no_reference_file_no_section(references_file):
    from zoo.card_people import coco_val_reference_lines

    metrics = {"coco_val": {"oks": {"AP": 0.3, "AP50": 0.5, "AP75": 0.3, "AR": 0.4}, "detections": 50}}
    assert not references_file.exists() and coco_val_reference_lines(type("S", (), {"id": "x@1"}), metrics) == []


@needs_package
def test_multipose_is_scored_on_every_person_of_the_split_recorded_and_carded(shared_data, references_file, capsys,
                                                                           monkeypatch):
    from tools import reference_people
    from training.datasets.coco import load_coco_photos
    from zoo.card_people import coco_val_reference_lines, reference_lines

    regenerated = list(reference_people.measured_on_the_split())
    monkeypatch.setattr(reference_people, "measured_on_the_split", lambda: [])  # the repository's cards stay
    assert reference_people.main(["movenet-multipose", "--record"]) == 0
    printed = capsys.readouterr().out
    recorded = json.loads(references_file.read_text())
    entry = recorded["references"]["movenet-multipose"]
    val = load_coco_photos(split="val")
    assert entry["images"] == len(val) == 35 and entry["people"] == val.num_people
    assert entry["joint_names"] == [*teacher.COCO17.joint_names] and entry["detections"] <= 6 * len(val)
    # MoveNet's joints read in the wrong order or with x and y swapped would score near 0.
    assert entry["oks"]["AP"] > 0.15 and entry["ks@0.5"]["mean"] > 0.3
    assert entry["command"] == "python -m tools.reference_people movenet-multipose --record"
    assert entry["source"]["files"]["package/models/movenet-multipose.bin"] == \
        teacher.FILES["models/movenet-multipose.bin"]
    assert f"OKS AP {100 * entry['oks']['AP']:.1f}" in printed and f"recorded {references_file}" in printed
    assert recorded["data"].endswith(f", {len(val)} photos, {val.num_people} labelled people")
    ours = {"AP": 0.3, "AP50": 0.5, "AP75": 0.25, "AR": 0.4}
    lines = coco_val_reference_lines(type("S", (), {"id": "openpose-coco@1"}),
                                     {"coco_val": {"oks": ours, "detections": 50}})
    assert lines == reference_lines([("**openpose-coco@1** (this model, Keras)",
                                      "bottom-up: the whole photo letterboxed", ours, 50)])
    table = "\n".join(lines)
    assert "| **openpose-coco@1** (this model, Keras) | bottom-up: the whole photo letterboxed | 30.0 | 50.0 |" in table
    assert (f"| MoveNet MultiPose Lightning (Google) | {entry['how']} | {100 * entry['oks']['AP']:.1f} | "
            f"{100 * entry['oks']['AP50']:.1f} |") in table
    assert f"{entry['measured']}, `{entry['command']}` |" in table
    # the cards --record regenerates: the versions measured on the split, and no other
    from zoo.store import measurements

    assert all("coco_val" in (s.weights.metrics or {}) or "top_down_people" in measurements(s) for s in regenerated)
