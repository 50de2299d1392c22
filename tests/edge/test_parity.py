"""Exported files agree with the Keras model on 200 real LSPet validation crops (docs/evaluation.md),
for every top-down LSP model the package ships (timm-style: each published model gets the same
checks). The bottom-up openpose-lsp is checked on held-out scenes in test_openpose_edge.py."""

import pytest

import zoo
from edge.agreement import DROP_TARGETS
from edge.parity import check_parity
from zoo import registry
from zoo.tasks import TOP_DOWN

SHIPPED_LSP = [name for name in registry.known_names()
               if any(f.parent.parent == registry.PACKAGE_STORE for f in registry.published_versions(name).values())
               and registry.get_spec(name).skeleton == "lsp14" and registry.task_of(registry.get_spec(name)) == TOP_DOWN]


@pytest.mark.slow
@pytest.mark.parametrize("name", SHIPPED_LSP)
def test_exports_keep_the_accuracy_of_the_keras_model(name, exported, lspet_root):
    model = zoo.load(name)
    files = [exported(model.spec.id, "tflite", p, model=model) for p in ("float32", "int8")]
    files.append(exported(model.spec.id, "onnx", model=model))
    report = check_parity(model, files, count=200)
    rows = {("keras" if r["artifact"] == "keras" else r["precision"]): r for r in report["rows"]}
    assert report["crops"] == 200
    # A trained model, not noise: close to its published PCK (which is on the whole split).
    assert rows["keras"]["pck@0.2"] > 0.8 * 100 * model.spec.weights.metrics["pck@0.2"]["mean"]
    # Float files compute the same function with other kernels: identical keypoints, except
    # where two heatmap cells tie to float rounding and the argmax may take the other (seen: 1
    # joint of 2,800 moved 2 px, simplebaseline-lsp float32 TFLite). A wrong graph moves many.
    for precision in ("onnx", "float32"):
        assert rows[precision]["p95_px"] <= 0.01 and rows[precision]["mean_px"] <= 0.01, rows[precision]
    assert rows["float32"]["pck@0.2_drop"] <= DROP_TARGETS["float32"]
    assert rows["int8"]["pck@0.2_drop"] <= DROP_TARGETS["int8"]
    assert all(r["ok"] for r in report["rows"])
