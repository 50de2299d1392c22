"""MPII-16 models are scored by PCKh@0.5 after every stage too (issue #28: the cascade's gain for
Tompson et al. 2015, PCKh after each iteration for Iterative Error Feedback)."""

import pytest


def test_every_stage_has_its_pckh_and_the_last_is_the_headline(shared_data):
    if not (shared_data / "mpii-subset").is_dir():
        pytest.skip(f"MPII subset not in {shared_data}")
    import zoo
    from training.evaluate import evaluate_keypoints
    from training.pck_evaluation import format_result

    result = evaluate_keypoints(zoo.load("tompson2015-mpii@1"), limit=24, progress=False, full=False)
    stages = result["stages"]
    assert len(stages) == 2 and all(0.0 <= row["pckh@0.5"] <= 1.0 for row in stages)
    assert stages[-1]["pckh@0.5"] == pytest.approx(result["pckh@0.5"]["mean"])
    assert stages[-1]["pck@0.2"] == pytest.approx(result["pck@0.2"]["mean"])
    assert "per stage (PCK@0.2 / PCK@0.1 / PCKh@0.5)" in format_result(result)
