"""Bad export requests fail clearly, and an interrupted export leaves no half-written file."""

import os

import pytest

import edge
import zoo


def test_unknown_precision_and_format_are_rejected_before_any_work(tmp_path):
    with pytest.raises(ValueError, match="unknown precision 'int4'"):
        edge.export("hourglass-lsp", "tflite", "int4", tmp_path)
    with pytest.raises(ValueError, match="unknown export format 'coreml'"):
        edge.export("hourglass-lsp", "coreml", output_dir=tmp_path)
    with pytest.raises(ValueError, match="TFLite only"):
        edge.export("hourglass-lsp", "onnx", "int8", tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_model_without_published_weights(tmp_path, local_store, unpublished_preset):
    with pytest.raises(zoo.WeightsNotPublishedError, match="no published weights"):
        edge.export(unpublished_preset, "tflite", "float32", tmp_path)
    with pytest.raises(zoo.ModelNotFoundError, match="hourglass-lsp"):
        edge.export("hourglass-nope", "tflite", "float32", tmp_path)


def test_output_directory_that_cannot_be_written(tmp_path):
    blocker = tmp_path / "not_a_dir"
    blocker.write_text("a file where the output folder should be")
    with pytest.raises(PermissionError, match="not_a_dir"):
        edge.export("hourglass-lsp", "tflite", "float32", blocker)


def test_interrupted_export_leaves_nothing_behind(tmp_path, monkeypatch):
    def interrupted(src, dst):
        raise KeyboardInterrupt("simulated interruption while renaming")

    monkeypatch.setattr(os, "replace", interrupted)
    with pytest.raises(KeyboardInterrupt):
        edge.export("cpm-lsp@1", "tflite", "float32", tmp_path)  # the smallest shipped top-down model
    monkeypatch.undo()
    folder = tmp_path / "cpm-lsp"
    leftovers = [p for p in folder.rglob("*") if p.is_file()] if folder.exists() else []
    assert leftovers == []


def test_existing_file_is_not_overwritten(exported, exports_dir):
    import zoo

    name = zoo.most_accurate()
    path = exported(name, "tflite", "float32")  # edge.export's file, shared with the session's tests
    before = path.read_bytes()
    with pytest.raises(FileExistsError, match="already exists"):
        edge.export(name, "tflite", "float32", exports_dir)
    assert path.read_bytes() == before
    meta = path.with_suffix(".json").read_text()
    assert '"precision": "float32"' in meta and '"file_sha256"' in meta


def test_export_all_keeps_what_was_made_from_the_same_weights(exported, exports_dir, monkeypatch, capsys, tmp_path):
    """``tools.export --all`` completes the missing files: one already exported from the published
    weights (the evaluation's int8 file, say) is kept; one from other weights is not current."""
    import json
    import shutil

    from tools import export as export_tool

    name = zoo.most_accurate()
    path = exported(name, "tflite", "float32")
    spec = zoo.get_spec(name)
    assert edge.exporter.export_is_current(spec, exports_dir, "tflite", "float32")
    assert not edge.exporter.export_is_current(spec, exports_dir, "tflite", "float32", int8_io=True)
    calls = []
    monkeypatch.setattr(edge, "export", lambda *a, **k: calls.append((k["format"], k["precision"])) or path)
    assert export_tool.main([name, "--all", "--output", str(exports_dir)]) == 0
    assert ("tflite", "float32") not in calls
    assert all(edge.exporter.export_is_current(spec, exports_dir, *job) == (job not in calls)
               for job in [("saved_model", "float32"), ("onnx", "float32"), ("tflite", "int8")])
    assert f"{spec.id} tflite float32: up to date" in capsys.readouterr().out
    # The same file beside metadata of other weights is not current.
    other = tmp_path / spec.name / str(spec.version)
    other.mkdir(parents=True)
    shutil.copy(path, other / path.name)
    meta = json.loads(path.with_suffix(".json").read_text())
    (other / path.with_suffix(".json").name).write_text(json.dumps(dict(meta, weights_sha256="0" * 64)))
    assert not edge.exporter.export_is_current(spec, tmp_path, "tflite", "float32")
