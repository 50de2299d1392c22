"""The person detector as a TFLite file of builtin ops, run with LiteRT, and timed.

The file takes one letterboxed uint8 RGB image ``images (1, S, S, 3)`` (``zoo.preprocess.
letterbox``) and returns ``boxes (1, M, 4)`` x1, y1, x2, y2 in continuous input pixels and
``scores (1, M)`` (0: an empty slot), best first: the network, GFL decoding and the person
class's non-maximum suppression (builtin ``NON_MAX_SUPPRESSION_V5``) are all inside. An app maps
the boxes back with the letterbox's scale and offset (``zoo.detectors.nanodet.boxes_to_image``).

Precisions: ``float32``, ``float16`` (fp16 weights), ``dynamic`` (int8 weights, float
activations) and ``int8`` (int8 network calibrated on letterboxed COCO training photos; box
decoding and NMS stay float32, ``NanoDet.float_layers``). ``python -m tools.export
person-detector --all`` writes every file (and the SavedModel and ONNX file) through
``edge.exporter`` (``edge.tasks``' ``detection`` entry converts with ``convert_detector``);
``cached_detector_tflite`` writes one file once into an exports folder (the same layout) and
reuses it; ``DetectorRunner`` runs a file like ``NanoDet.detect``; ``time_invoke`` times
``.tflite`` files' ``invoke()`` on fixed inputs, taking turns (the detector and BlazePose alike).
"""

from __future__ import annotations

import os
import shutil
import statistics
import tempfile
import time
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

import numpy as np

from edge.tflite import DEFAULT_THREADS, PRECISIONS, check_builtin_only
from zoo.tasks import DETECTION_OUTPUTS, INPUT_NAME


def _write_saved_model(model, folder: str) -> None:
    """A batch-1 SavedModel: uint8 ``images`` -> ``{"boxes", "scores"}`` (``model.export_outputs``,
    i.e. ``model.detections``; ``edge.saved_model`` tracks the Keras variables)."""
    import tensorflow as tf

    from edge.saved_model import write_saved_model

    s = model.input_size
    write_saved_model(model, folder, tf.TensorSpec((1, s, s, 3), tf.uint8, name=INPUT_NAME))


def convert_detector(model, precision: str = "float32", calibration: Optional[Iterable[np.ndarray]] = None) -> bytes:
    """TFLite bytes of the detector ``model`` (``zoo.detectors.nanodet.NanoDet``).

    Args:
        precision: ``float32``, ``float16``, ``dynamic`` or ``int8``.
        calibration: int8 only: letterboxed uint8 RGB images ``(S, S, 3)``
            (``training.detector.calibration_images``).

    Raises ``ValueError`` when the file would need Flex (select TF) or custom ops.
    """
    import tensorflow as tf

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
    producing the outputs kept float32: ``edge.tflite``'s selective quantisation (calibrate,
    drop the float region's ranges, quantise with it denylisted), checked after. Quantised,
    the decoder would put box corners on an 8-bit grid (about 1.6 input pixels apart)."""
    from edge.tflite import _float_region, quantise_around_float_region, quantised_ops_in

    fragments = tuple(model.float_layers)
    denylisted, internal, op_types = _float_region(convert_detector(model, "float32"), fragments)
    data = quantise_around_float_region(model, calibration, denylisted, internal, op_types)
    leaked = quantised_ops_in(data, fragments)
    if leaked:
        raise RuntimeError(f"{len(leaked)} decoding ops were quantised anyway, e.g. {leaked[:5]}")
    return data


class DetectorRunner:
    """A detector ``.tflite`` run with the stock LiteRT interpreter (XNNPACK).

    ``detect(image)``: any RGB image -> ``(boxes (N, 4), scores (N,))`` in image pixels, as
    ``NanoDet.detect``; ``detections(boxed)``: the file's own outputs for one letterboxed input.
    """

    def __init__(self, path_or_bytes, num_threads: int = DEFAULT_THREADS, min_score: float = 0.0):
        from ai_edge_litert.interpreter import Interpreter

        if isinstance(path_or_bytes, (bytes, bytearray)):
            self.interpreter = Interpreter(model_content=bytes(path_or_bytes), num_threads=num_threads)
            self.source = f"TFLite model ({len(path_or_bytes)} bytes)"
        else:
            if not os.path.isfile(path_or_bytes):
                raise FileNotFoundError(f"TFLite file not found: {path_or_bytes}")
            self.interpreter = Interpreter(model_path=str(path_or_bytes), num_threads=num_threads)
            self.source = str(path_or_bytes)
        self.runner = self.interpreter.get_signature_runner("serving_default")
        inputs, outputs = self.runner.get_input_details(), self.runner.get_output_details()
        if INPUT_NAME not in inputs or set(outputs) != set(DETECTION_OUTPUTS):
            raise ValueError(f"{self.source}: inputs {sorted(inputs)}, outputs {sorted(outputs)} are not a "
                             f"detector's ({INPUT_NAME!r} -> {list(DETECTION_OUTPUTS)})")
        self.input_size = int(inputs[INPUT_NAME]["shape"][1])
        self.min_score = float(min_score)

    def detections(self, boxed: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        """``(boxes (M, 4), scores (M,))`` of one letterboxed uint8 image ``(S, S, 3)``."""
        out = self.runner(**{INPUT_NAME: np.asarray(boxed, np.uint8)[None]})
        return out["boxes"][0], out["scores"][0]

    def detect(self, image: np.ndarray, min_score: Optional[float] = None) -> Tuple[np.ndarray, np.ndarray]:
        from zoo.detectors.nanodet import boxes_to_image
        from zoo.preprocess import letterbox

        image = np.asarray(image)
        boxed, to_image = letterbox(image, self.input_size)
        boxes, scores = self.detections(boxed)
        return boxes_to_image(boxes, scores, to_image, image.shape[:2],
                              self.min_score if min_score is None else min_score)


def cached_detector_tflite(model, precision: str = "float32", output_dir="exports", log=print):
    """The TFLite file of the published detector ``model`` under ``output_dir``, in the pose
    models' layout (``edge.exporter.artifact_path``: ``<output_dir>/person-detector/<version>/
    person-detector-v<version>-<precision>.tflite``, a ``.json`` beside it), as ``python -m
    tools.export person-detector --precision <precision>`` writes it: reused when its metadata
    records these weights' sha256, otherwise exported now (``edge.exporter.cached_tflite``); int8
    is calibrated on letterboxed COCO training photos (the shared data)."""
    from edge.exporter import cached_tflite

    if precision not in PRECISIONS:
        raise ValueError(f"the person detector has no {precision!r} file; choose from {list(PRECISIONS)}")
    return cached_tflite(model, precision, output_dir, log=log)


def _prepared(path, num_threads: int, image: Optional[np.ndarray], rng):
    """A LiteRT interpreter of ``path`` with its inputs set (``image`` for the first if given)."""
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=str(path), num_threads=num_threads)
    interpreter.allocate_tensors()
    for i, detail in enumerate(interpreter.get_input_details()):
        dtype = np.dtype(detail["dtype"])
        if i == 0 and image is not None:
            value = np.asarray(image).reshape(detail["shape"]).astype(dtype)
        elif np.issubdtype(dtype, np.integer):
            info = np.iinfo(dtype)
            value = rng.integers(max(info.min, 0), min(info.max, 255) + 1, detail["shape"]).astype(dtype)
        else:
            value = rng.random(detail["shape"]).astype(dtype)
        interpreter.set_tensor(detail["index"], value)
    return interpreter


def time_invoke(entries: Sequence[Tuple[object, Optional[np.ndarray]]], num_threads: int = DEFAULT_THREADS,
                runs: int = 100, warmup: int = 10, seed: int = 0) -> List[Dict]:
    """Milliseconds of ``invoke()`` of ``.tflite`` files (LiteRT with XNNPACK, ``num_threads``),
    each on one fixed input: ``entries`` are ``(path, image)``, the image (e.g. a letterboxed photo:
    the detector's NMS costs more with people in it) feeding the first input tensor, or None for
    random values (as every other input gets). The files take turns, one ``invoke()`` each per
    round, so a machine whose load changes during the measurement slows them alike.

    Returns one ``{"median_ms", "p90_ms", "runs", "threads", "bytes"}`` per entry, in order."""
    rng = np.random.default_rng(seed)
    interpreters = [_prepared(path, num_threads, image, rng) for path, image in entries]
    for _ in range(warmup):
        for it in interpreters:
            it.invoke()
    times: List[List[float]] = [[] for _ in interpreters]
    for _ in range(runs):
        for it, spent in zip(interpreters, times):
            start = time.perf_counter()
            it.invoke()
            spent.append(1000 * (time.perf_counter() - start))
    out = []
    for (path, _), spent in zip(entries, times):
        spent.sort()
        out.append({"median_ms": round(statistics.median(spent), 3),
                    "p90_ms": round(spent[int(0.9 * (len(spent) - 1))], 3),
                    "runs": runs, "threads": num_threads, "bytes": os.path.getsize(path)})
    return out
