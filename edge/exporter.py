"""Versioned SavedModel export with the post-processing (decoding to input pixels) inside the graph.

    python -m tools.export hourglass-lsp --output exports

writes ``exports/hourglass-lsp/1/`` (a SavedModel) with a ``serving_default`` signature
``images: uint8 (N, S, S, 3) RGB -> {"keypoints": float32 (N, K, 2) input pixels,
"scores": float32 (N, K)}`` and ``metadata.json`` beside ``saved_model.pb``. The folder is
written to a temporary name and renamed, so a failed export leaves nothing half-written.

Bottom-up models (OpenPose: a ``people`` method, codec type ``paf``) take the whole image,
letterboxed to ``S`` (``zoo.preprocess.letterbox``), and return people instead, with the
grouping inside the graph: ``images -> {"people": float32 (N, P, K, 3) x, y input pixels and
joint score, "scores": float32 (N, P)}`` (``PEOPLE_OUTPUTS``; DESIGN.md "Edge contract").
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Dict, Tuple

import zoo
from zoo.registry import ModelSpec

METADATA_FILE = "metadata.json"
KEYPOINT_OUTPUTS = ("keypoints", "scores")
PEOPLE_OUTPUTS = ("people", "scores")
MAP_OUTPUTS = ("heatmaps", "pafs")

_GROUPING_BYPASSED = set()  # id() of bottom-up models exported as the network alone


def is_bottom_up(model) -> bool:
    """Whether ``model`` finds people in a whole image (``people(images)``, e.g. ``OpenPose``)
    instead of one person's keypoints in a crop (``keypoints(images)``)."""
    return hasattr(model, "people")


def output_names(model) -> Tuple[str, ...]:
    """Names of the exported graph's outputs (the signature's keys), in the order they are described."""
    if id(model) in _GROUPING_BYPASSED:
        return MAP_OUTPUTS
    return PEOPLE_OUTPUTS if is_bottom_up(model) else KEYPOINT_OUTPUTS


@contextlib.contextmanager
def grouping_bypassed(model):
    """Inside this block the exporters trace a bottom-up model without its decoder and grouping:
    ``images -> {"heatmaps": (N, S/8, S/8, K), "pafs": (N, S/8, S/8, 2L)}``, the last stage's maps
    (what an app would run if it grouped people itself). For measuring what the in-graph grouping
    costs (``edge.component_cost``)."""
    if not is_bottom_up(model):
        raise ValueError(f"{type(model).__name__} has no grouping to bypass (not a bottom-up model)")
    _GROUPING_BYPASSED.add(id(model))
    try:
        yield model
    finally:
        _GROUPING_BYPASSED.discard(id(model))


def serving_outputs(model, images) -> Dict:
    """The exported graph's outputs for float32 RGB ``images (N, S, S, 3)`` in ``[0, 255]``:
    ``{"keypoints", "scores"}`` (top-down), ``{"people", "scores"}`` (bottom-up, the grouping
    inside), or ``{"heatmaps", "pafs"}`` inside ``grouping_bypassed``. Shared by the SavedModel,
    TFLite and ONNX exporters, so the three graphs are the same function."""
    if id(model) in _GROUPING_BYPASSED:
        maps = model(images, training=False)
        return {"heatmaps": maps["heatmaps"][:, -1], "pafs": maps["pafs"][:, -1]}
    if is_bottom_up(model):
        people, scores = model.people(images)
        return {"people": people, "scores": scores}
    keypoints, scores = model.keypoints(images)
    return {"keypoints": keypoints, "scores": scores}


def _grouping_config(model) -> Dict:
    config = dict(model.grouping.get_config())
    for key in ("name", "trainable", "dtype"):  # Keras bookkeeping, not grouping parameters
        config.pop(key, None)
    return config


def people_metadata(spec: ModelSpec, model=None) -> Dict:
    """The ``outputs`` / ``people`` / ``letterbox`` entries of a bottom-up model's metadata: what
    the outputs mean, how to prepare the input and map people back to the image, and the grouping
    parameters (``model.grouping.get_config()``; from the spec's build arguments without a model)."""
    from zoo.skeletons import get_skeleton

    skeleton = get_skeleton(spec.skeleton)
    args = dict(spec.model_args or {})
    people = {
        "max_people": int(model.max_people if model is not None else args.get("max_people", 10)),
        "num_joints": skeleton.num_joints,
        "limbs": [list(e) for e in skeleton.tree_index],
        "limb_names": [list(e) for e in skeleton.tree],
        "paf_channels": "limb l = limbs[l] = (parent a, child b) is PAF channels 2l (x), 2l + 1 (y), "
                        "pointing from a to b",
        "upsample": int(model.upsample if model is not None else args.get("upsample", 1)),
        "grouping": (_grouping_config(model) if model is not None else None),
        "grouping_reference": "zoo.codecs.paf_grouping (PafGrouping layer; group_people_numpy is its "
                              "NumPy reference). Cao et al., CVPR 2017, https://arxiv.org/abs/1611.08050, "
                              "Sec. 2.4-2.5",
    }
    s = spec.input_size
    return {
        "outputs": {
            "people": (f"float32 (N, P, K, 3), P = {people['max_people']}, K = {people['num_joints']}: per "
                       "person slot and joint, x, y in input pixels of the letterboxed image (pixel centres "
                       "at integers) and the joint's confidence-map peak; all three 0 for a joint the person "
                       "lacks and for an empty slot"),
            "scores": ("float32 (N, P): person score (sum of its joint scores + sum of its limb PAF scores) "
                       "/ (K + L); 0 for an empty slot; slots sorted by score, best first"),
        },
        "people": people,
        "letterbox": {
            "reference": "zoo.preprocess.letterbox",
            "input": (f"the whole RGB image (H, W), longer side scaled to {s}: (w, h) = "
                      f"(round(W * {s} / max(H, W)), round(H * {s} / max(H, W))), resampled with area "
                      f"interpolation when shrinking (bilinear when enlarging), pasted on black at "
                      f"left = ({s} - w) // 2, top = ({s} - h) // 2"),
            "to_image": ("x_image = (x - left + 0.5) * W / w - 0.5, y_image = (y - top + 0.5) * H / h - 0.5 "
                         "for joints with score > 0 (pixel centres at integers on both sides)"),
        },
    }


def model_metadata(spec: ModelSpec, model=None, **extra) -> Dict:
    """What every exported artifact records about its model (``model``, when given, supplies the
    bottom-up grouping parameters)."""
    from zoo.skeletons import get_skeleton

    skeleton = get_skeleton(spec.skeleton)
    bottom_up = spec.codec.get("type") == "paf" or (model is not None and is_bottom_up(model))
    meta = {
        "name": spec.name,
        "version": spec.version,
        "architecture": spec.architecture,
        "weights_sha256": spec.weights.sha256 if spec.weights else None,
        "skeleton": skeleton.to_dict(),
        "input": {"shape": [spec.input_size, spec.input_size, 3], "dtype": "uint8",
                  "layout": "NHWC RGB", "normalisation": spec.normalisation},
        "outputs": {"keypoints": "float32 (N, K, 2): x, y in input pixels (pixel centres at integers)",
                    "scores": ("float32 (N, K): 1 for every joint (DeepPose regresses coordinates "
                               "and has no confidence output)" if spec.codec.get("type") == "regression"
                               else "float32 (N, K): heatmap maximum per joint")},
        "codec": spec.codec,
        "training": spec.weights.training if spec.weights else None,
        "metrics": spec.weights.metrics if spec.weights else None,
        "paper": spec.paper,
        "zoo_version": zoo.__version__,
    }
    if bottom_up:
        meta.update(people_metadata(spec, model))
    meta.update(extra)
    return meta


def _check_writable(folder: Path) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise PermissionError(f"cannot create output directory {folder}: {e.strerror}") from None
    if not os.access(folder, os.W_OK):
        raise PermissionError(f"output directory {folder} is not writable")


def write_atomic(path: Path, data: bytes) -> Path:
    """Writes ``data`` to ``path`` through a temporary file in the same folder, then renames."""
    path = Path(path)
    _check_writable(path.parent)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".partial", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


def write_saved_model(model, folder, input_spec=None) -> None:
    """Writes ``model`` as a SavedModel whose ``serving_default`` is ``images -> {"keypoints",
    "scores"}`` (``{"people", "scores"}`` for a bottom-up model; ``serving_outputs``) with the
    decoding inside (``keras.export.ExportArchive`` tracks the variables)."""
    import keras
    import tensorflow as tf

    s = model.input_size
    spec = input_spec or tf.TensorSpec((None, s, s, 3), tf.uint8, name="images")

    def serve(images):
        return serving_outputs(model, tf.cast(images, tf.float32))

    archive = keras.export.ExportArchive()
    archive.track(model)
    archive.add_endpoint(name="serving_default", fn=serve, input_signature=[spec])
    archive.write_out(str(folder), verbose=False)


def export_saved_model(name: str, output_dir, model=None, overwrite: bool = False) -> Path:
    """Exports zoo model ``name[@version]`` to ``<output_dir>/<name>/<version>/``; returns the path.

    ``model`` may be given to export an already loaded model (its ``spec`` must match ``name``).
    """
    import tensorflow as tf

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
    tmp = Path(tempfile.mkdtemp(prefix=".saved_model.", suffix=".partial", dir=final))
    try:
        write_saved_model(model, tmp)
        meta = model_metadata(spec, model, format="saved_model", signature="serving_default",
                              output_names=list(output_names(model)), tensorflow=tf.__version__)
        (tmp / METADATA_FILE).write_text(json.dumps(meta, indent=2) + "\n")
        # saved_model.pb goes in last: a reader never sees it before its variables.
        children = sorted(tmp.iterdir(), key=lambda p: p.name == "saved_model.pb")
        for child in children:
            target = final / child.name
            if target.is_dir():
                shutil.rmtree(target)
            os.replace(child, target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
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


def export(name: str, format: str = "tflite", precision: str = "float32", output_dir="exports",
           int8_io: bool = False, calibration_size: int = 300, overwrite: bool = False,
           model=None) -> Path:
    """Exports zoo model ``name[@version]``; returns the written file's (or folder's) path.

    Args:
        name: published zoo name, optionally ``@version``.
        format: ``tflite``, ``onnx`` or ``saved_model``.
        precision: TFLite only: ``float32``, ``float16``, ``dynamic`` or ``int8``.
        output_dir: root of the exports; files go to ``<output_dir>/<name>/<version>/``.
        int8_io: int8 only: int8 input tensor instead of uint8 (top-down models only: the
            grouping of a bottom-up model must stay float).
        calibration_size: int8 only: number of real training images used for calibration
            (protocol crops, or composited scenes for a bottom-up model; ``edge.calibration``).
        overwrite: replace an existing file (a published version's export otherwise never changes).

    Each file is written atomically next to ``<file stem>.json`` with the model's metadata, the
    precision and the sha256 of the weights and of the file.
    """
    import hashlib

    from edge.tflite import PRECISIONS

    if format not in FORMATS:
        raise ValueError(f"unknown export format {format!r}; choose from {list(FORMATS)}")
    if format == "tflite" and precision not in PRECISIONS:
        raise ValueError(f"unknown precision {precision!r}; choose from {list(PRECISIONS)}")
    if format != "tflite" and precision != "float32":
        raise ValueError(f"precision {precision!r} applies to TFLite only ({format} is float32)")
    if int8_io and precision != "int8":
        raise ValueError("int8_io applies to precision='int8' only")
    if format == "saved_model":
        return export_saved_model(name, output_dir, model=model, overwrite=overwrite)
    spec = zoo.get_spec(name)
    if int8_io and spec.codec.get("type") == "paf":
        from edge.tflite import INT8_IO_BOTTOM_UP

        raise ValueError(f"{spec.name}: {INT8_IO_BOTTOM_UP}")
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
    extra = {"format": format, "precision": precision}
    if format == "tflite":
        from edge.calibration import calibration_images
        from edge.tflite import INPUT_NAME, check_builtin_only, convert

        calib, calib_desc = (calibration_images(spec, calibration_size) if precision == "int8"
                             else (None, None))
        data = convert(model, precision, calibration=calib, int8_io=int8_io)
        extra.update(operators=check_builtin_only(data), input_name=INPUT_NAME,
                     output_names=list(output_names(model)), batch=1,
                     input_dtype="int8 (pixel - 128)" if int8_io else "uint8",
                     output_dtype=("int8 (dequantise with each output's scale and zero point)"
                                   if int8_io else "float32"),
                     calibration=calib_desc)
        if is_bottom_up(model):
            extra.update(batch_note="the .tflite input is (1, S, S, 3): one letterboxed image per call",
                         float_ops=("int8: every convolution in int8; the decoder (upsampling) and the "
                                    "grouping run in float32" if precision == "int8" else None))
    else:
        from edge.onnx import convert_onnx

        data = convert_onnx(model)
        extra.update(input_name="images", output_names=list(output_names(model)), opset=17)
    import tensorflow as tf

    extra.update(file=path.name, file_sha256=hashlib.sha256(data).hexdigest(), file_bytes=len(data),
                 tensorflow=tf.__version__)
    meta = model_metadata(spec, model, **extra)
    write_atomic(path, data)
    write_atomic(path.with_suffix(".json"), (json.dumps(meta, indent=2) + "\n").encode())
    return path
