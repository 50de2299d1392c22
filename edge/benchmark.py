"""CPU latency, file size and peak memory of exported artifacts, one fresh process per measurement.

What is measured, for every artifact (or the Keras model) and every thread count:

* **Latency** (``median_ms``, ``p90_ms``, ``mean_ms``, ``min_ms``): wall time
  (``time.perf_counter_ns``) of one batch-1 inference on one fixed uint8 RGB image (NumPy seed
  ``seed``, so every runtime sees the same pixels), ``runs`` timed calls after ``warmup`` untimed
  ones, Python's garbage collector paused while timing. One call is, per runtime:

  - ``litert-xnnpack`` (``.tflite``): one call of the ``serving_default`` signature runner of
    ``edge.tflite.TFLiteRunner(path, num_threads=n)`` (stock LiteRT interpreter with its default
    XNNPACK delegate): input copy, ``Invoke``, output copy. A bottom-up file (OpenPose) has the
    same one-image input (noise: the grouping's static shapes make its work independent of the
    image); a file without an ``images`` input (a component alone) gets uniform noise in
    ``[0, 1)`` for each input (``fixed_inputs``).
  - ``onnxruntime`` (``.onnx``): one ``InferenceSession.run`` of ``edge.onnx.OnnxRunner`` on the
    ``CPUExecutionProvider`` with ``intra_op_num_threads=n``.
  - ``keras-xla``: the model's exported graph ``export_outputs(tf.cast(images, tf.float32))``
    (decoding included; for a bottom-up model the grouping too) compiled with ``tf.function(jit_compile=True)`` for a
    ``(1, S, S, 3)`` uint8 input, outputs copied to NumPy; TensorFlow's intra-op pool set to ``n``
    threads (inter-op 1).

* ``load_ms``: creating the interpreter / session / Keras model; ``first_run_ms``: the first call
  (includes XLA compilation for Keras).
* ``cpu_util``: process CPU time / wall time over the timed calls (about how many cores were busy).
* ``file_bytes``: size of the file the runtime loads (for Keras, the model saved as ``.keras``).
* ``peak_rss_mb``: peak resident memory of a fresh child process (``python -m edge.benchmark
  --one ...``) that imports only the runtime it measures, loads the artifact and does the warm-up
  and timed calls, so runtimes never share a process. It is ``VmHWM`` from ``/proc/self/status``
  (falls back to ``getrusage(RUSAGE_SELF).ru_maxrss`` without ``/proc``): on Linux ``ru_maxrss``
  keeps the peak of the parent that spawned the process, which would count the benchmark driver.

Timings depend on the load of the machine: ``write_results`` records the load average next to the
machine description and package versions.
"""

from __future__ import annotations

import argparse
import csv
import datetime
import gc
import io
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable, Dict, Iterable, List, Optional, Sequence, Tuple

import numpy as np

from edge.tflite import PRECISIONS
from training.records import cpu_model

LITERT = "litert-xnnpack"
ONNXRUNTIME = "onnxruntime"
KERAS_XLA = "keras-xla"
RUNTIMES = (LITERT, ONNXRUNTIME, KERAS_XLA)
FORMATS = {".tflite": (LITERT, "tflite"), ".onnx": (ONNXRUNTIME, "onnx")}

ROW_FIELDS = ("runtime", "artifact", "format", "precision", "threads", "median_ms", "p90_ms",
              "mean_ms", "min_ms", "runs", "warmup", "file_bytes", "peak_rss_mb", "cpu_util",
              "load_ms", "first_run_ms")
CSV_HEADER_FIELDS = ("machine", "date", "tensorflow", "keras", "ai_edge_litert", "onnxruntime")
PACKAGES = {"tensorflow": "tensorflow", "keras": "keras", "ai_edge_litert": "ai-edge-litert",
            "onnxruntime": "onnxruntime", "tf2onnx": "tf2onnx", "numpy": "numpy"}
REPO_ROOT = Path(__file__).resolve().parent.parent


class BenchmarkError(RuntimeError):
    """A measurement process failed; the message names the artifact and quotes its stderr."""


# ----------------------------------------------------------------------------- measuring (child)

def latency_stats(times_ms: Sequence[float]) -> Dict[str, float]:
    """Median, 90th percentile (linear interpolation), mean and minimum of the timings in ms."""
    t = np.asarray(times_ms, np.float64)
    if t.size == 0:
        raise ValueError("no timings to summarise")
    return {"median_ms": float(np.median(t)), "p90_ms": float(np.percentile(t, 90)),
            "mean_ms": float(t.mean()), "min_ms": float(t.min())}


def time_calls(call: Callable[[], object], runs: int, warmup: int) -> Tuple[List[float], float]:
    """Calls ``call`` ``warmup`` times untimed, then ``runs`` times timed one by one.

    Returns the wall times in ms and the CPU utilisation (process user + system CPU time / wall
    time) over the timed calls. The garbage collector is paused while timing.
    """
    import resource

    for _ in range(warmup):
        call()
    times = []
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        r0, w0 = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter_ns()
        for _ in range(runs):
            t0 = time.perf_counter_ns()
            call()
            times.append((time.perf_counter_ns() - t0) / 1e6)
        r1, w1 = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter_ns()
    finally:
        if gc_was_enabled:
            gc.enable()
    cpu = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
    return times, cpu / max((w1 - w0) / 1e9, 1e-9)


def peak_rss_mb() -> float:
    """Peak resident set size of this process in MiB (``VmHWM``; ``ru_maxrss`` without /proc)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0  # kB
    except OSError:
        pass
    import resource

    maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return maxrss / (1024.0 ** 2) if sys.platform == "darwin" else maxrss / 1024.0  # bytes / kB


def fixed_image(size: Tuple[int, int], seed: int = 0) -> np.ndarray:
    """The benchmark input: one uint8 RGB image ``(1, H, W, 3)`` of uniform noise from ``seed``."""
    h, w = size
    return np.random.RandomState(seed).randint(0, 256, (1, h, w, 3)).astype(np.uint8)


def fixed_inputs(details: Dict, seed: int = 0) -> Dict[str, np.ndarray]:
    """Inputs of a file that takes something else than an image (e.g. the grouping alone on
    ``heatmaps`` / ``pafs``): uniform noise in ``[0, 1)`` of each input's shape and dtype, seeded."""
    rng = np.random.RandomState(seed)
    return {name: rng.uniform(0, 1, tuple(d["shape"])).astype(d["dtype"]) for name, d in sorted(details.items())}


def _load_litert(path: str, threads: int, seed: int):
    from ai_edge_litert.interpreter import Interpreter

    from edge.tflite import TFLiteRunner
    from zoo.tasks import INPUT_NAME

    try:
        runner = TFLiteRunner(path, num_threads=threads)
    except ValueError:  # no `images` input: a component alone, or another project's file
        interpreter = Interpreter(model_path=path, num_threads=threads)
        signatures = interpreter.get_signature_list()
        if signatures:
            signature = interpreter.get_signature_runner("serving_default" if "serving_default" in signatures else None)
            inputs = fixed_inputs(signature.get_input_details(), seed)
            return lambda: signature(**inputs)
        # No signature (e.g. MediaPipe's files): the input tensors by index, then invoke().
        interpreter.allocate_tensors()
        details = {str(d["index"]): d for d in interpreter.get_input_details()}
        for index, value in fixed_inputs(details, seed).items():
            interpreter.set_tensor(int(index), value)
        return interpreter.invoke
    x = fixed_image(runner.input_shape[1:3], seed)
    if runner.input_dtype == np.int8:  # int8_io files take pixel - 128
        x = (x.astype(np.int16) - 128).astype(np.int8)
    signature = runner.runner
    return lambda: signature(**{INPUT_NAME: x})


def _load_onnxruntime(path: str, threads: int, seed: int):
    from edge.onnx import OnnxRunner
    from zoo.tasks import INPUT_NAME

    runner = OnnxRunner(path, num_threads=threads)
    _, h, w, _ = runner.input_shape
    x = fixed_image((h, w), seed)
    session = runner.session
    return lambda: session.run(None, {INPUT_NAME: x})


def _load_keras_xla(path: str, threads: int, seed: int, import_module: Optional[str] = None):
    import importlib

    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    if import_module:  # registers the model's class for deserialisation
        importlib.import_module(import_module)
    import keras

    model = keras.saving.load_model(path, compile=False)
    s = int(model.input_size)

    @tf.function(jit_compile=True, input_signature=[tf.TensorSpec((1, s, s, 3), tf.uint8)])
    def serve(images):
        return model.export_outputs(tf.cast(images, tf.float32))

    x = fixed_image((s, s), seed)
    return lambda: [t.numpy() for t in serve(x).values()]


def measure(runtime: str, path, threads: int, runs: int, warmup: int, seed: int = 0,
            import_module: Optional[str] = None) -> Dict:
    """Loads ``path`` in ``runtime`` in this process and measures it (see the module docstring).

    Meant to run in a fresh process (``measure_in_subprocess``) so that ``peak_rss_mb`` is the
    runtime's own; ``tensorflow_imported`` says whether TensorFlow got loaded (it should only be
    for ``keras-xla``). The first call (``first_run_ms``) counts as one of the ``warmup`` calls.
    """
    _check_settings(runs, warmup, [threads])
    if runtime not in RUNTIMES:
        raise ValueError(f"unknown runtime {runtime!r}; choose from {list(RUNTIMES)}")
    path = str(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{runtime}: file not found: {path}")
    t0 = time.perf_counter_ns()
    if runtime == LITERT:
        call = _load_litert(path, threads, seed)
    elif runtime == ONNXRUNTIME:
        call = _load_onnxruntime(path, threads, seed)
    else:
        call = _load_keras_xla(path, threads, seed, import_module)
    t1 = time.perf_counter_ns()
    call()
    t2 = time.perf_counter_ns()
    times, cpu_util = time_calls(call, runs, max(warmup - 1, 0))  # the first call is one warm-up
    stats = {k: round(v, 4) for k, v in latency_stats(times).items()}
    return {"runtime": runtime, "threads": int(threads), **stats, "runs": int(runs),
            "warmup": int(warmup), "peak_rss_mb": round(peak_rss_mb(), 1), "cpu_util": round(cpu_util, 2),
            "load_ms": round((t1 - t0) / 1e6, 2), "first_run_ms": round((t2 - t1) / 1e6, 2),
            "tensorflow_imported": "tensorflow" in sys.modules}


def _check_settings(runs, warmup, threads) -> None:
    def positive_int(v):
        return isinstance(v, (int, np.integer)) and not isinstance(v, bool) and v >= 1

    if not positive_int(runs):
        raise ValueError(f"runs must be a positive integer, got {runs!r}")
    if isinstance(warmup, bool) or not isinstance(warmup, (int, np.integer)) or warmup < 0:
        raise ValueError(f"warmup must be a non-negative integer, got {warmup!r}")
    threads = list(threads)
    if not threads or not all(positive_int(t) for t in threads):
        raise ValueError(f"threads must be positive integers, got {threads!r}")


# ---------------------------------------------------------------------------- driving (parent)

def measure_in_subprocess(runtime: str, path, threads: int, runs: int, warmup: int, seed: int = 0,
                          import_module: Optional[str] = None, timeout: Optional[float] = None) -> Dict:
    """Runs ``measure`` in a fresh ``python -m edge.benchmark --one ...`` and returns its result."""
    cmd = [sys.executable, "-m", "edge.benchmark", "--one", "--runtime", runtime, "--path", str(path),
           "--threads", str(threads), "--runs", str(runs), "--warmup", str(warmup), "--seed", str(seed)]
    if import_module:
        cmd += ["--import-module", import_module]
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO_ROOT)] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise BenchmarkError(f"{runtime} on {path} ({threads} threads) took more than {timeout} s") from None
    lines = [line for line in proc.stdout.splitlines() if line.strip()]
    if proc.returncode != 0 or not lines:
        tail = proc.stderr.strip()[-2000:] or "(no stderr)"
        raise BenchmarkError(f"{runtime} on {path} ({threads} threads) failed with exit code "
                             f"{proc.returncode}:\n{tail}")
    try:
        return json.loads(lines[-1])
    except ValueError:
        raise BenchmarkError(f"{runtime} on {path}: unreadable result {lines[-1][:200]!r}") from None


def artifact_precision(name: str, path) -> str:
    """Precision of an artifact: ``precision`` in its ``.json`` metadata file when present, else a
    TFLite precision found in ``name`` or at the end of the file name, else ``float32`` for ONNX."""
    path = Path(path)
    meta = path.with_suffix(".json")
    if meta.is_file():
        try:
            value = json.loads(meta.read_text()).get("precision")
        except (OSError, ValueError, AttributeError):
            value = None
        if value:
            return str(value)
    if name in PRECISIONS:
        return name
    tail = path.stem.rsplit("-", 1)[-1]
    if tail in PRECISIONS:
        return tail
    return "float32" if path.suffix == ".onnx" else name


def run_benchmarks(artifacts: Dict[str, object], model=None, runs: int = 200, warmup: int = 20,
                   threads: Iterable[int] = (1, 2), seed: int = 0, timeout: Optional[float] = None,
                   progress: Optional[Callable[[Dict], None]] = None) -> List[Dict]:
    """Benchmarks every artifact (and ``model`` with Keras + XLA) at every thread count.

    Args:
        artifacts: label -> path of a ``.tflite`` (run with LiteRT + XNNPACK) or ``.onnx`` (run with
            onnxruntime) file. The label names the row's ``artifact`` and, for TFLite, usually
            its precision (``float32``, ``dynamic``, ...).
        model: a zoo model to time with Keras (``export_outputs`` under XLA); saved to a
            temporary ``.keras`` file that the measuring process loads. None skips Keras.
        runs, warmup: timed and untimed calls per measurement.
        threads: thread counts; every runtime is measured at each.
        seed: seed of the fixed input image.
        timeout: seconds allowed to one measuring process (None: no limit).
        progress: called with each row as soon as it is measured.

    Returns one row (dict with ``ROW_FIELDS``) per runtime, artifact and thread count; Keras first.
    Measurements run one after the other, each in a fresh process.
    """
    threads = [int(t) if isinstance(t, np.integer) else t for t in threads]
    _check_settings(runs, warmup, threads)
    jobs = []
    for label, path in artifacts.items():
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"artifact {label!r} not found: {path}")
        if path.suffix not in FORMATS:
            raise ValueError(f"artifact {label!r} ({path}): unsupported file type {path.suffix!r}; "
                             f"expected one of {sorted(FORMATS)}")
        runtime, fmt = FORMATS[path.suffix]
        jobs.append((runtime, path, {"artifact": path.name, "format": fmt,
                                     "precision": artifact_precision(label, path)}, None))
    if not jobs and model is None:
        raise ValueError("nothing to benchmark: no artifacts and no model")
    tmp = tempfile.mkdtemp(prefix="posezoo_benchmark_") if model is not None else None
    try:
        if model is not None:
            keras_path = Path(tmp) / f"{_slug(model.name)}.keras"
            model.save(str(keras_path))
            label = model.spec.id if model.spec is not None else model.name
            jobs.insert(0, (KERAS_XLA, keras_path, {"artifact": label, "format": "keras",
                                                    "precision": str(model.compute_dtype)},
                            type(model).__module__))
        rows = []
        for runtime, path, info, import_module in jobs:
            for n in threads:
                result = measure_in_subprocess(runtime, path, n, runs, warmup, seed=seed,
                                               import_module=import_module, timeout=timeout)
                row = {**info, **result, "file_bytes": path.stat().st_size}
                row = {k: row[k] for k in ROW_FIELDS}
                rows.append(row)
                if progress is not None:
                    progress(row)
        return rows
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)


# ------------------------------------------------------------------------------------- results

def _slug(text: str) -> str:
    text = re.sub(r"\((r|tm)\)", "", str(text).lower())
    return re.sub(r"[^a-z0-9.]+", "-", text).strip("-.") or "unknown"


def machine_slug() -> str:
    """File-name-safe machine id from the CPU model and core count, e.g.
    ``intel-xeon-platinum-8481c-2.70ghz-2cores`` (the host name when the CPU is unknown)."""
    cpu = re.sub(r"\bcpu\b|@", " ", cpu_model().lower())
    base = _slug(cpu) if cpu_model() != "unknown CPU" else _slug(platform.node())
    return f"{base}-{os.cpu_count()}cores"


def package_versions() -> Dict[str, Optional[str]]:
    """Installed versions of the measured runtimes (None when a package is missing)."""
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for key, dist in PACKAGES.items():
        try:
            out[key] = version(dist)
        except PackageNotFoundError:
            out[key] = None
    return out


def machine_header(**extra) -> Dict:
    """Machine description (``training.records.hardware()``), versions, date and load average."""
    from training.records import hardware

    try:
        load = [round(v, 2) for v in os.getloadavg()]
    except (AttributeError, OSError):
        load = None
    return {"machine": hardware(), "cpu": cpu_model(), "cpu_count": os.cpu_count(),
            "hostname": platform.node(), "platform": platform.platform(),
            "python": platform.python_version(), "versions": package_versions(),
            "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "load_average_1_5_15min": load, **extra}


def results_basename(header: Dict, name: Optional[str] = None) -> str:
    """``benchmark_[<name>_]<machine>_litert-<v>_tf-<v>`` (no extension)."""
    versions = header.get("versions", {})
    parts = ["benchmark"] + ([_slug(name)] if name else []) + [
        header.get("machine_slug") or machine_slug(),
        f"litert-{versions.get('ai_edge_litert') or 'none'}", f"tf-{versions.get('tensorflow') or 'none'}"]
    return "_".join(parts)


def write_results(rows: List[Dict], out_dir, name: Optional[str] = None,
                  header: Optional[Dict] = None) -> Tuple[Path, Path]:
    """Writes ``rows`` to ``<out_dir>/<results_basename>.json`` and ``.csv``; returns both paths.

    The JSON holds ``{"header": machine_header(), "rows": rows}``; every CSV row repeats the
    header's machine, date and runtime versions (``CSV_HEADER_FIELDS``) so the CSV stands alone.
    Each file is written atomically (``zoo.io.write_atomic``): a reader never sees half a file.
    """
    from zoo.io import write_atomic

    if not rows:
        raise ValueError("no benchmark rows to write")
    header = dict(header) if header is not None else machine_header()
    header.setdefault("machine_slug", machine_slug())
    if name:
        header.setdefault("model", name)
    base = Path(out_dir) / results_basename(header, name)
    json_path, csv_path = Path(f"{base}.json"), Path(f"{base}.csv")  # not with_suffix: "tf-2.21.0"
    write_atomic(json_path, json.dumps({"header": header, "rows": rows}, indent=2) + "\n")

    versions = header.get("versions", {})
    common = {"machine": header.get("machine"), "date": header.get("date"),
              **{k: versions.get(k) for k in CSV_HEADER_FIELDS[2:]}}
    fields = list(ROW_FIELDS) + [k for k in rows[0] if k not in ROW_FIELDS] + list(CSV_HEADER_FIELDS)
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=fields, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({**row, **common})
    write_atomic(csv_path, buf.getvalue())
    return json_path, csv_path


def _size(n: int) -> str:
    return f"{n / 1e6:.2f} MB" if n >= 1e6 else f"{n / 1e3:.1f} kB"


def markdown_table(rows: List[Dict]) -> str:
    """The rows as a Markdown table (latency in ms, file size, peak RSS in MiB)."""
    lines = ["| runtime | artifact | precision | threads | median ms | p90 ms | mean ms | file | peak RSS MiB |",
             "|---|---|---|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r['runtime']} | {r['artifact']} | {r['precision']} | {r['threads']} | "
                     f"{r['median_ms']:.2f} | {r['p90_ms']:.2f} | {r['mean_ms']:.2f} | "
                     f"{_size(r['file_bytes'])} | {r['peak_rss_mb']:.0f} |")
    return "\n".join(lines)


# ------------------------------------------------------------------------------ measuring CLI

def main(argv=None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m edge.benchmark",
        description="Measuring process of edge.benchmark: loads one artifact in one runtime, times "
                    "it and prints the result as one JSON line. Use `python -m tools.benchmark` "
                    "to benchmark a zoo model.")
    p.add_argument("--one", action="store_true", required=True, help="measure one artifact (required)")
    p.add_argument("--runtime", required=True, choices=RUNTIMES)
    p.add_argument("--path", required=True, help=".tflite, .onnx or .keras file")
    p.add_argument("--threads", type=int, required=True)
    p.add_argument("--runs", type=int, default=200)
    p.add_argument("--warmup", type=int, default=20)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--import-module", default=None, help="module registering the Keras model class")
    args = p.parse_args(argv)
    result = measure(args.runtime, args.path, args.threads, args.runs, args.warmup, seed=args.seed,
                     import_module=args.import_module)
    sys.stdout.write(json.dumps(result) + "\n")
    return 0


if __name__ == "__main__":
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    sys.exit(main())
