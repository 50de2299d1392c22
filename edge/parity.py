"""Parity and accuracy-drop checks of exported files against the Keras model, on real images.

``check_parity(model, files)`` opens each ``.tflite`` / ``.onnx`` file with its runtime and
measures it as the model's task says (``edge.tasks``): keypoints on validation crops for a
top-down model, people on held-out scenes for a bottom-up one (``edge.agreement``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Dict, List, Optional

from edge.tasks import edge_task
from edge.tflite import DEFAULT_THREADS


def runner_for(path: Path, num_threads: int = DEFAULT_THREADS):
    """A runner with ``predict(uint8 images) -> (keypoints, scores)`` (or ``(people, scores)``)
    for a .tflite or .onnx file."""
    path = Path(path)
    if path.suffix == ".tflite":
        from edge.tflite import TFLiteRunner

        return TFLiteRunner(path, num_threads=num_threads)
    if path.suffix == ".onnx":
        from edge.onnx import OnnxRunner

        return OnnxRunner(path, num_threads=num_threads)
    raise ValueError(f"{path}: not a .tflite or .onnx file")


def check_parity(model, files: List[Path], count: Optional[int] = None, data: Optional[str] = None,
                 evaluation_set=None, **options) -> Dict:
    """Measures every file against ``model``; returns a JSON-able report.

    A top-down model is measured on ``count`` validation crops (default 200;
    ``edge.agreement.keypoint_parity``), a bottom-up model on ``count`` held-out scenes (default
    100; ``edge.agreement.people_parity``). ``evaluation_set`` (the crops of
    ``edge.agreement.validation_crops`` or the scenes of ``training.people_evaluation.scene_evaluation_set``)
    skips making them. ``options`` go to the task's measure (a bottom-up model's ``photos``)."""
    artifacts = ((f, runner_for(f)) for f in files)  # each file opened when it is measured
    return edge_task(model.task).parity(model, artifacts, count, data, evaluation_set, **options)
