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
``edge.exporter`` (``edge.tasks``' ``detection`` entry converts with
``edge.detector_convert.convert_detector``); ``cached_detector_tflite`` writes one file once
into an exports folder (the same layout) and reuses it; ``DetectorRunner`` runs a file like
``NanoDet.detect``; ``time_invoke`` times ``.tflite`` files' ``invoke()`` on fixed inputs,
taking turns (the detector and BlazePose alike).
"""

from __future__ import annotations

import os
import statistics
import time
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from edge.tflite import DEFAULT_THREADS
from edge.tflite_conversion import PRECISIONS
from zoo.tasks import DETECTION_OUTPUTS, INPUT_NAME


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
