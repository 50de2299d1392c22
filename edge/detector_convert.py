"""The person detector (``zoo.detectors.nanodet.NanoDet``) converted to a TFLite file of builtin
ops: the network, GFL box decoding and the person class's non-maximum suppression in one graph
(``edge.detector_tflite`` runs the file). ``edge.tasks``' ``detection`` entry converts with
``convert_detector``, which refuses ``int8_io`` (``INT8_IO_DETECTION``).
"""

from __future__ import annotations

import shutil
import tempfile
from typing import Iterable, Optional

import numpy as np

from edge.tflite_conversion import (
    PRECISIONS,
    check_builtin_only,
    float_region,
    quantise_around_float_region,
    quantised_ops_in,
)
from zoo.tasks import INPUT_NAME

INT8_IO_DETECTION = ("int8_io would quantise the detector's box decoding and NMS (box corners on an 8-bit "
                     "grid). Use precision='int8' with a uint8 input and float32 outputs (convolutions int8, "
                     "decoding and NMS float32)")


def _write_saved_model(model, folder: str) -> None:
    """A batch-1 SavedModel: uint8 ``images`` -> ``{"boxes", "scores"}`` (``model.export_outputs``,
    i.e. ``model.detections``; ``edge.saved_model`` tracks the Keras variables)."""
    import tensorflow as tf

    from edge.saved_model import write_saved_model

    s = model.input_size
    write_saved_model(model, folder, tf.TensorSpec((1, s, s, 3), tf.uint8, name=INPUT_NAME))


def convert_detector(model, precision: str = "float32", calibration: Optional[Iterable[np.ndarray]] = None,
                     int8_io: bool = False) -> bytes:
    """TFLite bytes of the detector ``model`` (``zoo.detectors.nanodet.NanoDet``).

    Args:
        precision: ``float32``, ``float16``, ``dynamic`` or ``int8``.
        calibration: int8 only: letterboxed uint8 RGB images ``(S, S, 3)``
            (``training.detector.calibration_images``).
        int8_io: refused (``INT8_IO_DETECTION``); there so that ``edge.exporter`` calls every
            task's converter alike (``EdgeTask.convert_tflite``).

    Raises ``ValueError`` when the file would need Flex (select TF) or custom ops.
    """
    import tensorflow as tf

    if int8_io:
        raise ValueError(f"{type(model).__name__}: {INT8_IO_DETECTION}")
    if precision not in PRECISIONS:
        raise ValueError(f"unknown precision {precision!r}; choose from {list(PRECISIONS)}")
    images = [np.asarray(c, np.uint8) for c in calibration] if calibration is not None else []
    if precision == "int8" and not images:
        raise ValueError("precision='int8' needs calibration images (letterboxed photos)")
    if precision == "int8":
        data = _int8_float_decoder(model, images)
        check_builtin_only(data)
        return data
    folder = tempfile.mkdtemp(prefix="posezoo_detector_")
    try:
        _write_saved_model(model, folder)
        conv = tf.lite.TFLiteConverter.from_saved_model(folder, signature_keys=["serving_default"])
        conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
        if precision in ("float16", "dynamic"):
            conv.optimizations = [tf.lite.Optimize.DEFAULT]
        if precision == "float16":
            conv.target_spec.supported_types = [tf.float16]
        data = conv.convert()
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    check_builtin_only(data)
    return data


def _int8_float_decoder(model, calibration) -> bytes:
    """int8 convolutions with the box decoding and NMS (``model.float_layers``) and the ops
    producing the outputs kept float32: ``edge.tflite_conversion``'s selective quantisation (calibrate,
    drop the float region's ranges, quantise with it denylisted), checked after. Quantised,
    the decoder would put box corners on an 8-bit grid (about 1.6 input pixels apart)."""
    fragments = tuple(model.float_layers)
    denylisted, internal, op_types = float_region(convert_detector(model, "float32"), fragments)
    data = quantise_around_float_region(model, calibration, denylisted, internal, op_types)
    leaked = quantised_ops_in(data, fragments)
    if leaked:
        raise RuntimeError(f"{len(leaked)} decoding ops were quantised anyway, e.g. {leaked[:5]}")
    return data
