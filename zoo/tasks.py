"""The two tasks a zoo model can do, as data: what goes in, what comes out, how it is predicted.

Every architecture names its task (``PoseModel.task``); code outside ``zoo/`` asks the model for
it, and looks up what differs per task (evaluation, calibration data, parity, training loop) in
one table keyed by ``Task.name``, instead of probing the model.

* ``TOP_DOWN``: single-person. A square crop of one person in (the evaluation protocol's crop,
  ``zoo.preprocess.crop_person``), one keypoint per joint out.
* ``BOTTOM_UP``: multi-person. The whole image in, letterboxed to the input size
  (``zoo.preprocess.letterbox``), a fixed number of people out, grouped inside the graph.
"""

from __future__ import annotations

import dataclasses
from typing import Dict, Tuple

#: Names of the exported graphs' outputs, defined once (SavedModel signature keys, TFLite and
#: ONNX output names).
KEYPOINT_OUTPUTS: Tuple[str, str] = ("keypoints", "scores")
PEOPLE_OUTPUTS: Tuple[str, str] = ("people", "scores")
DETECTION_OUTPUTS: Tuple[str, str] = ("boxes", "scores")
#: The input tensor's name in every exported graph.
INPUT_NAME = "images"


@dataclasses.dataclass(frozen=True)
class Task:
    """What a model does, independent of its architecture.

    Args:
        name: ``top_down`` or ``bottom_up`` (the key of every per-task table).
        summary: one line for cards and error messages.
        model_input: what the model's input image is.
        output_names: the decoded outputs of the exported graph, in order.
        graph_method: the model method that computes them in the graph (``keypoints`` or
            ``people``); ``PoseModel.graph_function(graph_method)`` is its compiled form.
        predict_method: the NumPy-in, NumPy-out prediction method users call.
    """

    name: str
    summary: str
    model_input: str
    output_names: Tuple[str, ...]
    graph_method: str
    predict_method: str

    @property
    def title(self) -> str:
        """The kind of model in a few words (``single-person``), the head of ``summary``."""
        return self.summary.split(",")[0].split(":")[0]

    @property
    def multi_person(self) -> bool:
        return self.name == "bottom_up"


TOP_DOWN = Task(
    name="top_down",
    summary="single-person, top-down: a crop of one person in, one keypoint per joint out",
    model_input="a square crop of one person (zoo.preprocess.crop_person), uint8 RGB",
    output_names=KEYPOINT_OUTPUTS,
    graph_method="keypoints",
    predict_method="predict_keypoints",
)

BOTTOM_UP = Task(
    name="bottom_up",
    summary="multi-person, bottom-up: the whole image in, people out (grouping inside the graph)",
    model_input="the whole image letterboxed to the input size (zoo.preprocess.letterbox), uint8 RGB",
    output_names=PEOPLE_OUTPUTS,
    graph_method="people",
    predict_method="predict_people",
)

TASKS: Dict[str, Task] = {t.name: t for t in (TOP_DOWN, BOTTOM_UP)}

#: The person detector's task (``zoo.detectors``). Not in ``TASKS``, the pose tasks whose tables
#: (training loops, evaluations, edge behaviour) must cover every entry: the detector is converted,
#: not trained, and its recall and TFLite export have their own modules
#: (``training.detector_recall``, ``edge.detector_tflite``).
DETECTION = Task(
    name="detection",
    summary="person detection: the whole image in, person boxes and scores out (NMS inside the graph)",
    model_input="the whole image letterboxed to the input size (zoo.preprocess.letterbox), uint8 RGB",
    output_names=DETECTION_OUTPUTS,
    graph_method="detections",
    predict_method="detect",
)


def get_task(name: str) -> Task:
    if name not in TASKS:
        raise KeyError(f"unknown task {name!r}; known: {sorted(TASKS)}")
    return TASKS[name]
