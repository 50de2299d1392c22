"""Benchmark of exported artifacts: rows, statistics, per-process peak memory, JSON/CSV results, CLI.

Tiny model only (32 px, one 16-filter hourglass) and a handful of runs: this checks the
measuring machinery, not the speed of the zoo models.
"""

import csv
import json

import pytest

from edge import benchmark_results as bench_results
from edge.benchmark import BenchmarkError, latency_stats, measure_in_subprocess, run_benchmarks
from edge.benchmark_results import ROW_FIELDS, markdown_table, write_results

SIZE = 32


@pytest.fixture(scope="module")
def tiny(tiny_hourglass):
    return tiny_hourglass


@pytest.fixture(scope="module")
def export_dir(tiny, tmp_path_factory):
    """Artifacts laid out like edge.export writes them: exports/<name>/<version>/."""
    from edge.onnx import convert_onnx
    from edge.tflite import convert

    folder = tmp_path_factory.mktemp("exports") / "tiny" / "1"
    folder.mkdir(parents=True)
    for precision in ("float32", "dynamic"):
        (folder / f"tiny-v1-{precision}.tflite").write_bytes(convert(tiny, precision))
    (folder / "tiny-v1.onnx").write_bytes(convert_onnx(tiny))
    (folder / "tiny-v1.json").write_text(json.dumps({"format": "onnx", "precision": "float32"}))
    return folder


@pytest.fixture(scope="module")
def artifacts(export_dir):
    return {"float32": export_dir / "tiny-v1-float32.tflite",
            "dynamic": export_dir / "tiny-v1-dynamic.tflite",
            "onnx": export_dir / "tiny-v1.onnx"}


@pytest.fixture(scope="module")
def rows(tiny, artifacts):
    return run_benchmarks(artifacts, model=tiny, runs=5, warmup=1, threads=(1, 2))


def test_rows_have_the_fields_and_sane_numbers(rows, artifacts):
    assert len(rows) == 8  # (Keras + 2 TFLite + ONNX) x 2 thread counts
    by_key = {(r["runtime"], r["artifact"], r["threads"]): r for r in rows}
    assert len(by_key) == 8
    for r in rows:
        assert tuple(r) == ROW_FIELDS
        assert r["p90_ms"] >= r["median_ms"] > 0 and r["mean_ms"] > 0 and r["min_ms"] <= r["median_ms"]
        assert r["runs"] == 5 and r["warmup"] == 1 and r["threads"] in (1, 2)
        assert r["file_bytes"] > 0 and r["peak_rss_mb"] > 0 and r["load_ms"] > 0
    for n in (1, 2):
        for label, path in artifacts.items():
            fmt = path.suffix.lstrip(".")
            runtime = "litert-xnnpack" if fmt == "tflite" else "onnxruntime"
            r = by_key[(runtime, path.name, n)]
            assert r["format"] == fmt and r["file_bytes"] == path.stat().st_size
            assert r["precision"] == ("float32" if label == "onnx" else label)
    keras_rows = [r for r in rows if r["runtime"] == "keras-xla"]
    assert rows[:2] == keras_rows and {r["threads"] for r in keras_rows} == {1, 2}
    assert keras_rows[0]["format"] == "keras" and keras_rows[0]["precision"] == "float32"
    # every runtime ran in its own process: LiteRT and onnxruntime never loaded TensorFlow
    light = max(r["peak_rss_mb"] for r in rows if r["runtime"] != "keras-xla")
    assert light < min(r["peak_rss_mb"] for r in keras_rows)


def test_results_are_written_as_json_and_csv(rows, tmp_path):
    out = tmp_path / "benchmarks"
    json_path, csv_path = write_results(rows, out, name="tiny-v1")
    assert json_path.parent == out and json_path.stem == csv_path.stem
    versions = bench_results.package_versions()
    assert json_path.name.startswith(f"benchmark_tiny-v1_{bench_results.machine_slug()}_")
    assert json_path.name.endswith(f"_litert-{versions['ai_edge_litert']}_tf-{versions['tensorflow']}.json")
    data = json.loads(json_path.read_text())
    header = data["header"]
    from training.records import hardware

    assert header["machine"] == hardware() and header["model"] == "tiny-v1"
    assert header["date"] and header["cpu_count"] >= 1
    for package in ("tensorflow", "ai_edge_litert", "onnxruntime"):
        assert header["versions"][package]
    assert data["rows"] == rows
    with open(csv_path, newline="") as f:
        table = list(csv.DictReader(f))
    assert len(table) == len(rows)
    assert set(ROW_FIELDS) | {"machine", "date", "tensorflow", "ai_edge_litert", "onnxruntime"} <= set(table[0])
    assert table[0]["machine"] == header["machine"] and table[0]["tensorflow"] == versions["tensorflow"]
    assert float(table[0]["median_ms"]) == pytest.approx(rows[0]["median_ms"])
    assert sorted(p.name for p in out.iterdir()) == sorted([json_path.name, csv_path.name])  # no temp files
    write_results(rows, out, name="tiny-v1")  # rewriting replaces both files
    assert len(list(out.iterdir())) == 2
    table_md = markdown_table(rows)
    assert table_md.count("\n") == len(rows) + 1 and "| keras-xla |" in table_md


def test_latency_stats():
    s = latency_stats([4.0, 1.0, 10.0, 2.0, 3.0])
    assert s == {"median_ms": 3.0, "p90_ms": pytest.approx(7.6), "mean_ms": 4.0, "min_ms": 1.0}
    with pytest.raises(ValueError, match="no timings"):
        latency_stats([])


def test_bad_inputs_are_clear_errors(artifacts, tmp_path):
    with pytest.raises(FileNotFoundError, match="missing.tflite"):
        run_benchmarks({"x": tmp_path / "missing.tflite"}, runs=1, warmup=0)
    other = tmp_path / "model.pb"
    other.write_bytes(b"x")
    with pytest.raises(ValueError, match=r"model.pb.*'\.pb'"):
        run_benchmarks({"x": other}, runs=1, warmup=0)
    for kwargs, match in (({"runs": 0}, "runs.*0"), ({"warmup": -1}, "warmup.*-1"),
                          ({"threads": ()}, r"threads.*\[\]"), ({"threads": (0,)}, r"threads.*\[0\]")):
        with pytest.raises(ValueError, match=match):
            run_benchmarks(artifacts, **kwargs)
    with pytest.raises(ValueError, match="nothing to benchmark"):
        run_benchmarks({})


def test_litert_and_onnxruntime_processes_do_not_load_tensorflow(artifacts):
    for runtime, path in (("litert-xnnpack", artifacts["float32"]), ("onnxruntime", artifacts["onnx"])):
        result = measure_in_subprocess(runtime, path, threads=1, runs=2, warmup=1)
        assert result["runtime"] == runtime and result["tensorflow_imported"] is False
        assert 0 < result["peak_rss_mb"] < 400


def test_a_failing_measurement_names_the_artifact(tmp_path):
    broken = tmp_path / "broken.tflite"
    broken.write_bytes(b"not a flatbuffer")
    with pytest.raises(BenchmarkError, match=r"litert-xnnpack on .*broken.tflite \(1 threads\) failed"):
        measure_in_subprocess("litert-xnnpack", broken, threads=1, runs=1, warmup=0)


def test_cli_benchmarks_every_export(export_dir, tmp_path, monkeypatch, capsys):
    import zoo
    from tools._cli import run
    from tools.benchmark import find_artifacts, main

    hidden = export_dir / ".1.tmp.abc"  # an unfinished export is skipped
    hidden.mkdir(exist_ok=True)
    (hidden / "tiny-v1-float16.tflite").write_bytes(b"partial")
    assert find_artifacts(export_dir, prefix="tiny-v1") == {
        "dynamic": export_dir / "tiny-v1-dynamic.tflite", "float32": export_dir / "tiny-v1-float32.tflite",
        "onnx": export_dir / "tiny-v1.onnx"}

    spec = zoo.ModelSpec(name="tiny", architecture="hourglass", model_args={}, skeleton="lsp14",
                         input_size=SIZE, normalisation={}, codec={}, paper="", experiment="", version=1)
    monkeypatch.setattr(zoo, "get_spec", lambda name: spec)
    out = tmp_path / "results"
    code = run(main, ["tiny", "--exports", str(export_dir.parent.parent), "--runs", "3", "--warmup", "1",
                      "--threads", "1", "--no-keras", "--output", str(out)])
    printed = capsys.readouterr()
    assert code == 0, printed.err
    assert printed.out.startswith("| runtime |") and printed.out.count("| litert-xnnpack |") == 2
    assert "| onnxruntime | tiny-v1.onnx | float32 | 1 |" in printed.out
    assert sorted(p.suffix for p in out.iterdir()) == [".csv", ".json"]

    code = run(main, ["tiny", "--exports", str(tmp_path / "nowhere")])
    assert code == 2 and "no exports of tiny@1" in capsys.readouterr().err


def test_cli_refuses_an_unpublished_model(local_store, tmp_path, capsys, unpublished_preset):
    from tools._cli import run
    from tools.benchmark import main

    assert run(main, [unpublished_preset, "--exports", str(tmp_path)]) == 2
    assert "no published version" in capsys.readouterr().err


def _signatureless_tflite(path):
    """A .tflite file without signatures, as MediaPipe ships them (BlazePose): TF1 session export."""
    import tensorflow as tf

    with tf.Graph().as_default():
        x = tf.compat.v1.placeholder(tf.float32, [1, 16, 16, 3], name="x")
        y = tf.identity(tf.nn.relu(x) * 2.0, name="y")
        with tf.compat.v1.Session() as sess:
            path.write_bytes(tf.compat.v1.lite.TFLiteConverter.from_session(sess, [x], [y]).convert())
    return path


def test_a_reference_file_is_timed_in_the_same_run(export_dir, tmp_path, monkeypatch, capsys):
    """--reference NAME=PATH: another project's file (no signature, float input) beside the exports."""
    from ai_edge_litert.interpreter import Interpreter

    import zoo
    from tools._cli import run
    from tools.benchmark import main

    reference = _signatureless_tflite(tmp_path / "pose_landmark_like.tflite")
    assert Interpreter(model_path=str(reference)).get_signature_list() == {}
    spec = zoo.ModelSpec(name="tiny", architecture="hourglass", model_args={}, skeleton="lsp14",
                         input_size=SIZE, normalisation={}, codec={}, paper="", experiment="", version=1)
    monkeypatch.setattr(zoo, "get_spec", lambda name: spec)
    out = tmp_path / "results"
    code = run(main, ["tiny", "--exports", str(export_dir.parent.parent), "--runs", "3", "--warmup", "1",
                      "--threads", "2", "--no-keras", "--output", str(out), "--reference", f"other={reference}"])
    printed = capsys.readouterr()
    assert code == 0, printed.err
    assert "| litert-xnnpack | pose_landmark_like.tflite | reference other | 2 |" in printed.out
    rows = json.loads(next(out.glob("*.json")).read_text())["rows"]
    assert {r["artifact"] for r in rows} >= {"pose_landmark_like.tflite", "tiny-v1-float32.tflite"}

    for bad, message in ((f"other{reference}", "must be NAME=PATH"), ("other=/nowhere.tflite", "no such file"),
                         (f"other={export_dir / 'tiny-v1.json'}", "not a .tflite or .onnx file")):
        assert run(main, ["tiny", "--exports", str(export_dir.parent.parent), "--reference", bad]) == 2
        assert message in capsys.readouterr().err
