"""Benchmark results: the machine they were measured on, and the files and table they are written to.

``write_results`` writes the rows of ``edge.benchmark.run_benchmarks`` as JSON (with
``machine_header()``: machine, package versions, date, load average, since timings depend on
the load of the machine) and as a CSV that repeats the header's machine, date and versions on
every row; ``markdown_table`` prints them.
"""

from __future__ import annotations

import csv
import datetime
import io
import json
import os
import platform
import re
from pathlib import Path
from typing import Dict, List, Optional, Tuple

from training.records import cpu_model

#: The fields of one benchmark row, in order.
ROW_FIELDS = ("runtime", "artifact", "format", "precision", "threads", "median_ms", "p90_ms",
              "mean_ms", "min_ms", "runs", "warmup", "file_bytes", "peak_rss_mb", "cpu_util",
              "load_ms", "first_run_ms")
CSV_HEADER_FIELDS = ("machine", "date", "tensorflow", "keras", "ai_edge_litert", "onnxruntime")
PACKAGES = {"tensorflow": "tensorflow", "keras": "keras", "ai_edge_litert": "ai-edge-litert",
            "onnxruntime": "onnxruntime", "tf2onnx": "tf2onnx", "numpy": "numpy"}


def slug(text: str) -> str:
    """``text`` lower-cased and file-name-safe: ``(r)`` / ``(tm)`` dropped, other runs of
    characters than ``a-z0-9.`` turned into ``-`` (``unknown`` when nothing is left)."""
    text = re.sub(r"\((r|tm)\)", "", str(text).lower())
    return re.sub(r"[^a-z0-9.]+", "-", text).strip("-.") or "unknown"


def machine_slug() -> str:
    """File-name-safe machine id from the CPU model and core count, e.g.
    ``intel-xeon-platinum-8481c-2.70ghz-2cores`` (the host name when the CPU is unknown)."""
    cpu = re.sub(r"\bcpu\b|@", " ", cpu_model().lower())
    base = slug(cpu) if cpu_model() != "unknown CPU" else slug(platform.node())
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
    parts = ["benchmark"] + ([slug(name)] if name else []) + [
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
