"""Versioned exports: SavedModel, TFLite and ONNX files with the post-processing (decoding to input
pixels) inside the graph, each beside the metadata of its model.

    python -m tools.export hourglass-lsp --output exports

writes ``exports/hourglass-lsp/1/`` (a SavedModel) with a ``serving_default`` signature
``images: uint8 (N, S, S, 3) RGB -> {"keypoints": float32 (N, K, 2) input pixels,
"scores": float32 (N, K)}`` and ``metadata.json`` beside ``saved_model.pb``. Everything is written
to temporary names and renamed, ``saved_model.pb`` last, so a failed export leaves nothing
half-written.

Bottom-up models (OpenPose) take the whole image, letterboxed to ``S``
(``zoo.preprocess.letterbox``), and return people instead, with the grouping inside the graph:
``images -> {"people": float32 (N, P, K, 3) x, y input pixels and joint score, "scores": float32
(N, P)}`` (``zoo.tasks.PEOPLE_OUTPUTS``; docs/evaluation.md). The person detector (``person-detector``) takes
the whole image letterboxed too and returns ``{"boxes": float32 (N, M, 4), "scores": float32
(N, M)}`` with box decoding and NMS inside. Every graph is the model's ``export_outputs``; what
differs per task (calibration images, metadata entries, TFLite conversion) is in ``edge.tasks``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Dict, Optional

import zoo
from edge.tasks import edge_task
from zoo.registry import ModelSpec, task_of
from zoo.tasks import DETECTION, INPUT_NAME

METADATA_FILE = "metadata.json"


def model_metadata(spec: ModelSpec, model=None, **extra) -> Dict:
    """What every exported artifact records about its model (``model``, when given, supplies the
    bottom-up grouping parameters; the entries describing the outputs are its task's,
    ``edge.tasks``)."""
    from zoo.skeletons import get_skeleton

    task = model.task if model is not None else task_of(spec)
    entries = edge_task(task).metadata(spec, model)
    meta = {
        "name": spec.name,
        "version": spec.version,
        "architecture": spec.architecture,
        "weights_sha256": spec.weights.sha256 if spec.weights else None,
        # The person detector finds boxes: it has no skeleton.
        "skeleton": None if task is DETECTION else get_skeleton(spec.skeleton).to_dict(),
        "input": {"shape": [spec.input_size, spec.input_size, 3], "dtype": "uint8",
                  "layout": "NHWC RGB", "normalisation": spec.normalisation},
        "outputs": entries.pop("outputs"),
        "codec": spec.codec,
        "training": spec.weights.training if spec.weights else None,
        "metrics": spec.weights.metrics if spec.weights else None,
        "paper": spec.paper,
        "zoo_version": zoo.__version__,
    }
    meta.update(entries)
    meta.update(extra)
    return meta


def _check_writable(folder: Path) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise PermissionError(f"cannot create output directory {folder}: {e.strerror}") from None
    if not os.access(folder, os.W_OK):
        raise PermissionError(f"output directory {folder} is not writable")


def export_saved_model(name: str, output_dir, model=None, overwrite: bool = False) -> Path:
    """Exports zoo model ``name[@version]`` to ``<output_dir>/<name>/<version>/``; returns the path.

    ``model`` may be given to export an already loaded model (its ``spec`` must match ``name``).
    """
    import tempfile

    import tensorflow as tf

    from edge.saved_model import write_saved_model
    from zoo.io import atomic_path

    spec = zoo.get_spec(name)
    if spec.version is None:
        raise zoo.WeightsNotPublishedError(
            f"{spec.name} has no published weights, so there is no version to export; "
            f"published: {', '.join(zoo.list_models(published_only=True)) or 'none'}")
    model = model if model is not None else zoo.load(spec.id)
    final = Path(output_dir) / spec.name / str(spec.version)
    if (final / "saved_model.pb").exists() and not overwrite:
        raise FileExistsError(f"{final} already holds a SavedModel; a published version never changes "
                              "(pass overwrite=True / --overwrite to replace the export)")
    _check_writable(final)
    with tempfile.TemporaryDirectory(prefix=".saved_model.", suffix=".partial", dir=final) as tmp:
        write_saved_model(model, tmp)
        meta = model_metadata(spec, model, format="saved_model", signature="serving_default",
                              output_names=list(model.export_output_names()), tensorflow=tf.__version__)
        (Path(tmp) / METADATA_FILE).write_text(json.dumps(meta, indent=2) + "\n")
        # Each file or folder takes its place atomically, saved_model.pb last: a reader never sees
        # it before its variables.
        for child in sorted(Path(tmp).iterdir(), key=lambda p: p.name == "saved_model.pb"):
            with atomic_path(final / child.name) as target:
                child.rename(target)
    return final


FORMATS = ("saved_model", "tflite", "onnx")


def artifact_path(spec: ModelSpec, output_dir, format: str, precision: str = "float32") -> Path:
    """``<output_dir>/<name>/<version>/<name>-v<version>-<precision>.tflite`` (or ``.onnx``)."""
    folder = Path(output_dir) / spec.name / str(spec.version)
    if format == "tflite":
        return folder / f"{spec.name}-v{spec.version}-{precision}.tflite"
    if format == "onnx":
        return folder / f"{spec.name}-v{spec.version}.onnx"
    return folder


def export_is_current(spec: ModelSpec, output_dir, format: str, precision: str = "float32",
                      int8_io: bool = False) -> bool:
    """Whether ``output_dir`` already holds this export of ``spec`` made from its published
    weights (the sha256 its metadata records) with the same input type: then exporting again
    would only rewrite the same file."""
    path = artifact_path(spec, output_dir, format, precision)
    meta = path / METADATA_FILE if format == "saved_model" else path.with_suffix(".json")
    done = path / "saved_model.pb" if format == "saved_model" else path
    if not (done.is_file() and meta.is_file() and spec.weights):
        return False
    try:
        recorded = json.loads(meta.read_text())
    except (OSError, json.JSONDecodeError):  # a damaged metadata file: not current
        return False
    return (isinstance(recorded, dict) and recorded.get("weights_sha256") == spec.weights.sha256
            and str(recorded.get("input_dtype", "")).startswith("int8") == bool(int8_io))


def _check_export_options(format: str, precision: str, int8_io: bool) -> None:
    from edge.tflite_conversion import PRECISIONS

    if format not in FORMATS:
        raise ValueError(f"unknown export format {format!r}; choose from {list(FORMATS)}")
    if format == "tflite" and precision not in PRECISIONS:
        raise ValueError(f"unknown precision {precision!r}; choose from {list(PRECISIONS)}")
    if format != "tflite" and precision != "float32":
        raise ValueError(f"precision {precision!r} applies to TFLite only ({format} is float32)")
    if int8_io and precision != "int8":
        raise ValueError("int8_io applies to precision='int8' only")


def _convert(model, spec: ModelSpec, task, format: str, precision: str, int8_io: bool,
             calibration_size: Optional[int]):
    """The file's bytes and its format's metadata entries (``tflite`` or ``onnx``)."""
    extra = {"format": format, "precision": precision}
    if format == "tflite":
        from edge.tflite import convert
        from edge.tflite_conversion import check_builtin_only

        calib, calib_desc = (task.calibration(spec, calibration_size or task.calibration_size)
                             if precision == "int8" else (None, None))
        data = (task.convert_tflite or convert)(model, precision, calibration=calib, int8_io=int8_io)
        extra.update(operators=check_builtin_only(data), input_name=INPUT_NAME,
                     output_names=list(model.export_output_names()), batch=1,
                     input_dtype="int8 (pixel - 128)" if int8_io else "uint8",
                     output_dtype=("int8 (dequantise with each output's scale and zero point)"
                                   if int8_io else "float32"),
                     calibration=calib_desc)
        extra.update(task.tflite_metadata(precision))
    else:
        from edge.onnx import ONNX_OPSET, convert_onnx

        data = convert_onnx(model, opset=ONNX_OPSET)
        extra.update(input_name=INPUT_NAME, output_names=list(model.export_output_names()), opset=ONNX_OPSET)
    return data, extra


def export(name: str, format: str = "tflite", precision: str = "float32", output_dir="exports",
           int8_io: bool = False, calibration_size: Optional[int] = None, overwrite: bool = False,
           model=None) -> Path:
    """Exports zoo model ``name[@version]``; returns the written file's (or folder's) path.

    Args:
        name: published zoo name, optionally ``@version``.
        format: ``tflite``, ``onnx`` or ``saved_model``.
        precision: TFLite only: ``float32``, ``float16``, ``dynamic`` or ``int8``.
        output_dir: root of the exports; files go to ``<output_dir>/<name>/<version>/``.
        int8_io: int8 only: int8 input tensor instead of uint8 (top-down models only: the
            grouping of a bottom-up model must stay float; ``edge.tasks``).
        calibration_size: int8 only: number of real training images used for calibration
            (protocol crops, composited scenes for a bottom-up model, letterboxed COCO photos for
            the person detector; ``edge.tasks``); None: the task's ``calibration_size``.
        overwrite: replace an existing file (a published version's export otherwise never changes).

    Each file is written atomically next to ``<file stem>.json`` with the model's metadata, the
    precision and the sha256 of the weights and of the file.
    """
    import hashlib

    from zoo.io import write_atomic

    _check_export_options(format, precision, int8_io)
    if format == "saved_model":
        return export_saved_model(name, output_dir, model=model, overwrite=overwrite)
    spec = zoo.get_spec(name)
    task = edge_task(task_of(spec))
    if int8_io and task.int8_io:
        raise ValueError(f"{spec.name}: {task.int8_io}")
    if spec.version is None:
        raise zoo.WeightsNotPublishedError(
            f"{spec.name} has no published weights, so there is nothing to export; "
            f"published: {', '.join(zoo.list_models(published_only=True)) or 'none'}. "
            f"Train and publish it first (python -m tools.publish --help).")
    path = artifact_path(spec, output_dir, format, precision)
    if path.exists() and not overwrite:
        raise FileExistsError(f"{path} already exists (pass overwrite=True / --overwrite to replace it)")
    _check_writable(path.parent)
    model = model if model is not None else zoo.load(spec.id)
    data, extra = _convert(model, spec, task, format, precision, int8_io, calibration_size)
    import tensorflow as tf

    extra.update(file=path.name, file_sha256=hashlib.sha256(data).hexdigest(), file_bytes=len(data),
                 tensorflow=tf.__version__)
    meta = model_metadata(spec, model, **extra)
    write_atomic(path, data)
    write_atomic(path.with_suffix(".json"), json.dumps(meta, indent=2) + "\n")
    return path


def cached_tflite(model, precision: str = "int8", output_dir="exports", log=print) -> Path:
    """The TFLite file of the published ``model`` under ``output_dir``: reused when it was
    exported from these weights (the sha256 in its metadata), otherwise exported now (an int8
    file takes about a minute: calibration on real crops). ``log`` gets one line per step."""
    spec = model.spec
    path = artifact_path(spec, output_dir, "tflite", precision)
    if export_is_current(spec, output_dir, "tflite", precision):
        log(f"reusing {path}")
        return path
    inside = edge_task(model.task).inside
    log(f"exporting {spec.id} to TFLite {precision} ({inside}"
        + (", calibrating on real training images" if precision == "int8" else "") + "; about a minute) ...")
    path = export(spec.id, "tflite", precision, output_dir, overwrite=True, model=model)
    log(f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB)")
    return path
