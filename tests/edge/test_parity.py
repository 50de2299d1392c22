"""Exported files agree with the Keras model on 200 real LSPet validation crops (DESIGN protocol)."""

import pytest

import edge
import zoo
from edge.parity import DROP_TARGETS, check_parity


@pytest.mark.slow
def test_exports_keep_the_accuracy_of_the_keras_model(tmp_path, lspet_root):
    model = zoo.load("hourglass-lsp")
    files = [edge.export(model.spec.id, "tflite", p, tmp_path, model=model) for p in ("float16", "int8")]
    files.append(edge.export(model.spec.id, "onnx", output_dir=tmp_path, model=model))
    report = check_parity(model, files, count=200)
    rows = {("keras" if r["artifact"] == "keras" else r["precision"]): r for r in report["rows"]}
    assert report["crops"] == 200
    assert rows["keras"]["pck@0.2"] > 50  # a trained model, not noise
    assert rows["onnx"]["max_px"] <= 0.01
    assert rows["float16"]["pck@0.2_drop"] <= DROP_TARGETS["float16"]
    assert rows["float16"]["mean_px"] < 0.5
    assert rows["int8"]["pck@0.2_drop"] <= DROP_TARGETS["int8"]
    assert all(r["ok"] for r in report["rows"])
