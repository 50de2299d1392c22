"""tools.evaluate: the protocol's figures of a published model, and one evaluation per task."""

import json

from tools.evaluate import main
from training.evaluate import EVALUATIONS, evaluate_keypoints, evaluate_people, task_evaluation
from zoo.tasks import BOTTOM_UP, TASKS, TOP_DOWN


def test_every_task_has_an_evaluation():
    assert set(EVALUATIONS) == set(TASKS)
    assert task_evaluation(type("M", (), {"task": TOP_DOWN})).evaluate is evaluate_keypoints
    bottom_up = task_evaluation(type("M", (), {"task": BOTTOM_UP}))
    assert bottom_up.evaluate is evaluate_people and bottom_up.epoch_curve is not None


def test_cli_prints_and_writes_pck(tmp_path, lspet_root, capsys):
    out = tmp_path / "result.json"
    assert main(["cpm-lsp", "--limit", "10", "--output", str(out)]) == 0
    printed = capsys.readouterr().out.splitlines()
    assert printed[0] == "cpm-lsp: LSPet validation split (im08101-im09000), 10 images"
    assert printed[1].split() == ["joint", "PCK@0.2", "PCK@0.1"]
    assert any(line.startswith("limb joints") for line in printed) and printed[-1].startswith("PCP")
    result = json.loads(out.read_text())
    assert result["num_images"] == 10 and result["protocol"].startswith("docs/evaluation.md top-down protocol")
    assert 0 < result["pck@0.2"]["mean"] <= 1 and {"pdj", "pcp", "stages"} <= set(result)
