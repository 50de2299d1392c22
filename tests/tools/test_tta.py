"""tools.tta: flip test and DARK decoding measured on validation crops of a published model."""

import json

import pytest

from edge.tta import VARIANTS, measure_test_time
from tools.tta import main
from training.evaluate import evaluate_keypoints


def test_plain_variant_matches_the_evaluation_protocol(lspet_root):
    """The ``quarter`` row is the published model as ``tools.evaluate`` scores it; the other rows
    are the same weights decoded differently, so they differ from it but stay close."""
    import zoo

    report = measure_test_time("cpm-lsp@1", count=12, data=str(lspet_root), int8=False, progress=None)
    assert report["model"] == "cpm-lsp@1" and report["crops"] == 12
    rows = {r["variant"]: r for r in report["rows"]}
    assert list(rows) == [label for label, _ in VARIANTS]
    reference = evaluate_keypoints(zoo.load("cpm-lsp@1"), str(lspet_root), limit=12)
    assert rows["quarter"]["keras_pck@0.2"] == pytest.approx(100 * reference["pck@0.2"]["mean"], abs=0.01)
    assert rows["quarter"]["keras_pck@0.1"] == pytest.approx(100 * reference["pck@0.1"]["mean"], abs=0.01)
    for row in rows.values():
        assert 0 < row["keras_pck@0.2_limbs"] <= 100 and "int8_median_ms" not in row
        assert abs(row["keras_pck@0.2_limbs"] - rows["quarter"]["keras_pck@0.2_limbs"]) < 15


def test_cli_writes_json_and_refuses_a_partial_record(tmp_path, lspet_root, capsys):
    out = tmp_path / "tt.json"
    assert main(["cpm-lsp@1", "--count", "4", "--no-int8", "--data", str(lspet_root), "--output", str(out)]) == 0
    assert len(json.loads(out.read_text())["rows"]) == len(VARIANTS)
    assert "flip+dark" in capsys.readouterr().err
    with pytest.raises(ValueError, match="--record stores the full measurement"):
        main(["cpm-lsp", "--count", "4", "--record"])
