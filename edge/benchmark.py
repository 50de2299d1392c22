"""CPU latency, file size and peak memory of exported artifacts, one fresh process per measurement.

What is measured, for every artifact (or the Keras model) and every thread count:

* **Latency** (``median_ms``, ``p90_ms``, ``mean_ms``, ``min_ms``): wall time
  (``time.perf_counter_ns``) of one batch-1 inference on one fixed uint8 RGB image (NumPy seed
  ``seed``, so every runtime sees the same pixels), ``runs`` timed calls after ``warmup`` untimed
  ones, Python's garbage collector paused while timing. What one call is, per runtime
  (``litert-xnnpack`` for ``.tflite``, ``onnxruntime`` for ``.onnx``, ``keras-xla`` for the Keras
  model), is in ``edge.runtimes``.
* ``load_ms``: creating the interpreter / session / Keras model; ``first_run_ms``: the first call
  (includes XLA compilation for Keras).
* ``cpu_util``: process CPU time / wall time over the timed calls (about how many cores were busy).
* ``file_bytes``: size of the file the runtime loads (for Keras, the model saved as ``.keras``).
* ``peak_rss_mb``: peak resident memory of a fresh child process (``python -m edge.benchmark
  --one ...``) that imports only the runtime it measures, loads the artifact and does the warm-up
  and timed calls, so runtimes never share a process. It is ``VmHWM`` from ``/proc/self/status``
  (falls back to ``getrusage(RUSAGE_SELF).ru_maxrss`` without ``/proc``): on Linux ``ru_maxrss``
  keeps the peak of the parent that spawned the process, which would count the benchmark driver.

Timings depend on the load of the machine: ``edge.benchmark_results.write_results`` records the
load average next to the machine description and package versions.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable, Dict, Iterable, List, Optional, Sequence, Tuple

import numpy as np

from edge.benchmark_results import ROW_FIELDS, slug
from edge.runtimes import FORMATS, KERAS_XLA, RUNTIMES, load
from edge.tflite_conversion import PRECISIONS

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
    call = load(runtime, path, threads, seed, import_module)
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
            keras_path = Path(tmp) / f"{slug(model.name)}.keras"
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
