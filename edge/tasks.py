"""What the edge code does differently for each task (``zoo.tasks``): one table, ``EDGE_TASKS``,
keyed by ``Task.name``; ``edge_task(model.task)`` (or ``edge_task(zoo.registry.task_of(spec))``
without a model) is its entry.

A top-down model is calibrated on protocol crops, checked on validation crops (keypoints, PCK
drop) and its files describe keypoints; a bottom-up model is calibrated on composited scenes,
checked on held-out scenes (same people, OKS AP drop), its files describe people, the letterbox
and the grouping, and its grouping must stay float32 in int8 files. The person detector
(``zoo.tasks.DETECTION``) is converted by ``edge.detector_convert`` (box decoding and NMS inside,
float32 in int8 files), calibrated on letterboxed COCO photos, and its files describe boxes; its
files are measured by ``python -m tools.convert_detector export``, not by the pose parity.
"""

from __future__ import annotations

import dataclasses
from typing import Callable, Dict, Optional

from edge.agreement import keypoint_parity, keypoint_parity_table, people_parity, people_parity_table
from edge.calibration import DETECTOR_CALIBRATION_PHOTOS, crop_calibration, photo_calibration, scene_calibration
from edge.detector_convert import INT8_IO_DETECTION, convert_detector


@dataclasses.dataclass(frozen=True)
class EdgeTask:
    """The edge behaviour of one task.

    Args:
        calibration: ``(spec, count) -> (uint8 images (count, S, S, 3), description)``: the real
            images int8 exports are calibrated on.
        metadata: ``(spec, model or None) -> entries`` of every export's metadata that describe
            the outputs (``outputs``, and for people ``people`` / ``letterbox``).
        tflite_metadata: ``precision -> entries`` added to a ``.tflite`` file's metadata.
        int8_io: why int8 input / output tensors (or a quantised decoder) are refused; None: allowed.
        onnx_where: whether ``tf.where`` becomes an ONNX ``Where`` (``edge.onnx._select_as_where``:
            the grouping's ``-inf`` in the branch not taken would make NaN otherwise); the other
            graphs keep tf2onnx's default lowering, so their files stay as they were.
        parity: ``(model, [(path, runner)], count, data, evaluation set) -> report``: the files
            measured against the Keras model (``edge.agreement``).
        parity_measurement: the report's name among a published version's measurements.
        parity_table: ``report -> text`` printed by ``tools.parity``.
        grouping: whether the decoding groups joints into people (``tools.benchmark
            --grouping-cost`` times it).
        inside: what the exported graph holds beyond the network, in a few words (log lines).
        convert_tflite: ``(model, precision, calibration=None, int8_io=False) -> bytes``; None:
            ``edge.tflite.convert``, the pose models' converter (``edge.exporter`` calls it; it reads
            this table, so the table cannot import it).
        calibration_size: images an int8 file is calibrated on unless told otherwise.
    """

    calibration: Callable
    metadata: Callable[..., Dict]
    tflite_metadata: Callable[[str], Dict]
    int8_io: Optional[str]
    onnx_where: bool
    parity: Callable[..., Dict]
    parity_measurement: str
    parity_table: Callable[[Dict], str]
    grouping: bool
    inside: str = "decoding inside"
    convert_tflite: Optional[Callable[..., bytes]] = None
    calibration_size: int = 300


def keypoint_metadata(spec, model=None) -> Dict:
    """The ``outputs`` entry of a top-down model's metadata. Without a model, the architecture's
    class says what its network outputs (``raw_output_names``)."""
    from zoo.architectures import get_architecture

    network = model if model is not None else get_architecture(spec.architecture)
    scores = ("float32 (N, K): heatmap maximum per joint" if "heatmaps" in network.raw_output_names
              else "float32 (N, K): 1 for every joint (DeepPose regresses coordinates and has no confidence output)")
    return {"outputs": {"keypoints": "float32 (N, K, 2): x, y in input pixels (pixel centres at integers)",
                        "scores": scores}}


def _grouping_config(model) -> Dict:
    config = dict(model.grouping.get_config())
    for key in ("name", "trainable", "dtype"):  # Keras bookkeeping, not grouping parameters
        config.pop(key, None)
    return config


def people_metadata(spec, model=None) -> Dict:
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
            "input": _letterbox_input(spec.input_size),
            "to_image": ("x_image = (x - left + 0.5) * W / w - 0.5, y_image = (y - top + 0.5) * H / h - 0.5 "
                         "for joints with score > 0 (pixel centres at integers on both sides)"),
        },
    }


def _letterbox_input(s: int) -> str:
    """How a whole image becomes the ``s`` x ``s`` input (``zoo.preprocess.letterbox``)."""
    return (f"the whole RGB image (H, W), longer side scaled to {s}: (w, h) = "
            f"(round(W * {s} / max(H, W)), round(H * {s} / max(H, W))), resampled with area "
            f"interpolation when shrinking (bilinear when enlarging), pasted on black at "
            f"left = ({s} - w) // 2, top = ({s} - h) // 2")


def detection_metadata(spec, model=None) -> Dict:
    """The ``outputs`` / ``detection`` / ``letterbox`` entries of the person detector's metadata
    (from the spec's build arguments without a model)."""
    args = dict(spec.model_args or {})

    def setting(name, default):
        return getattr(model, name) if model is not None else args.get(name, default)

    slots = int(setting("max_boxes", 32))
    return {
        "outputs": {
            "boxes": (f"float32 (N, {slots}, 4): x1, y1, x2, y2 in continuous pixels of the letterboxed input "
                      "(0 and S are its edges)"),
            "scores": f"float32 (N, {slots}): person score, best first; 0 for an empty slot",
        },
        "detection": {
            "max_boxes": slots, "score_threshold": float(setting("score_threshold", 0.2)),
            "iou_threshold": float(setting("iou_threshold", 0.6)),
            "inside": ("GFL box decoding and greedy non-maximum suppression of the person class "
                       "(zoo.detectors.gfl; NON_MAX_SUPPRESSION_V5 in .tflite files)"),
        },
        "letterbox": {
            "reference": "zoo.preprocess.letterbox",
            "input": _letterbox_input(spec.input_size),
            "to_image": ("x_image = (x - left) * W / w, y_image = (y - top) * H / h for box edges "
                         "(zoo.detectors.nanodet.boxes_to_image)"),
        },
    }


def _detection_tflite_metadata(precision: str) -> Dict:
    return {"batch_note": "the .tflite input is (1, S, S, 3): one letterboxed image per call",
            "float_ops": ("int8: every convolution in int8; the box decoding and NMS run in float32"
                          if precision == "int8" else None)}


def _no_detector_parity(*args, **kwargs):
    raise ValueError("the person detector has no keypoint parity; its files' recall and latency are measured by "
                     "python -m tools.convert_detector export")


def _people_tflite_metadata(precision: str) -> Dict:
    return {"batch_note": "the .tflite input is (1, S, S, 3): one letterboxed image per call",
            "float_ops": ("int8: every convolution in int8; the decoder (upsampling) and the grouping run in "
                          "float32" if precision == "int8" else None)}


INT8_IO_PEOPLE = ("int8_io (and float_decoder=False) would quantise the grouping of a bottom-up model: "
                  "candidate ranking, PAF line integrals and person scores on an 8-bit grid, and one "
                  "int8 scale shared by pixel coordinates and joint scores in 'people'. Use "
                  "precision='int8' with a uint8 input and float32 outputs (convolutions int8, "
                  "grouping float32)")

EDGE_TASKS: Dict[str, EdgeTask] = {
    "top_down": EdgeTask(
        calibration=crop_calibration, metadata=keypoint_metadata, tflite_metadata=lambda precision: {},
        int8_io=None, onnx_where=False, parity=keypoint_parity, parity_measurement="parity",
        parity_table=keypoint_parity_table, grouping=False),
    "bottom_up": EdgeTask(
        calibration=scene_calibration, metadata=people_metadata, tflite_metadata=_people_tflite_metadata,
        int8_io=INT8_IO_PEOPLE, onnx_where=True, parity=people_parity, parity_measurement="people_parity",
        parity_table=people_parity_table, grouping=True, inside="network + grouping into people in one graph"),
    "detection": EdgeTask(
        calibration=photo_calibration, metadata=detection_metadata, tflite_metadata=_detection_tflite_metadata,
        int8_io=INT8_IO_DETECTION, onnx_where=False, parity=_no_detector_parity,
        parity_measurement="detector_files", parity_table=_no_detector_parity, grouping=False,
        inside="box decoding and NMS inside", convert_tflite=convert_detector,
        calibration_size=DETECTOR_CALIBRATION_PHOTOS),
}


def edge_task(task) -> EdgeTask:
    """The entry of ``task`` (a ``zoo.tasks.Task``: ``model.task``, or ``task_of(spec)``)."""
    return EDGE_TASKS[task.name]
