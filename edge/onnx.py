"""ONNX export (tf2onnx) and an onnxruntime runner, with the heatmap decoding inside the graph.

The graph has the same contract as the SavedModel and ``.tflite`` exports: ``images`` uint8 RGB
``(N, S, S, 3)`` -> ``keypoints`` float32 ``(N, K, 2)`` in input pixels and ``scores`` float32
``(N, K)``. Unlike the ``.tflite`` files the batch dimension is free (named ``N``). A bottom-up
model (OpenPose) returns ``people`` float32 ``(N, P, K, 3)`` and ``scores`` ``(N, P)`` instead,
its grouping inside the graph: every exporter traces ``model.export_outputs``.

Only NumPy (and the names of ``zoo.tasks``) is imported at module level: TensorFlow and tf2onnx load
inside ``convert_onnx``, and
``OnnxRunner`` needs only onnxruntime, so a process that just runs an ``.onnx`` file stays small.
"""

from __future__ import annotations

import os
from typing import Optional, Tuple

import numpy as np

from zoo.tasks import INPUT_NAME, KEYPOINT_OUTPUTS, PEOPLE_OUTPUTS

#: The ONNX opset every export is written with, and the oldest ``convert_onnx`` accepts.
ONNX_OPSET = 17
MIN_OPSET = ONNX_OPSET
BATCH_DIM = "N"


def _max_opset() -> int:
    from tf2onnx.constants import OPSET_TO_IR_VERSION

    return max(OPSET_TO_IR_VERSION)


def _select_as_where(graph, ops):
    """tf2onnx rewriter: every ``Select`` / ``SelectV2`` (``tf.where``) becomes an ONNX ``Where``.

    tf2onnx lowers them to ``Cast(c) * x + Cast(!c) * y`` for speed (onnx/tensorflow-onnx PR
    #1199) and falls back to ``Where`` only when it sees a NaN / Inf *constant* among the inputs
    (PRs #1663, #2035; the ``handles_nan`` attribute, also set by tf2onnx's own TFLite rewriter).
    A ``-inf`` computed at run time in the branch not taken then gives ``0 * -inf = NaN``: the
    grouping of ``zoo.codecs.paf_grouping`` selects ``top_k`` values that are ``-inf`` for absent
    candidates and people (``tf.where(valid, top, 0.0)``), so every person came out NaN."""
    for op in ops:
        if op.type in ("Select", "SelectV2"):
            op.set_attr("handles_nan", True)
    return ops


def convert_onnx(model, opset: int = ONNX_OPSET, decode: bool = True) -> bytes:
    """Converts a zoo model to a serialized ONNX ``ModelProto``.

    The converted function is ``model.export_outputs(tf.cast(images, tf.float32), decode)`` on
    ``images: uint8 (None, S, S, 3)``: ``{"keypoints", "scores"}``, or ``{"people", "scores"}``
    for a bottom-up model (``model.export_output_names(decode)``); the names of the graph's input and
    outputs are checked after conversion.

    Args:
        model: a built zoo model (``zoo.architectures.base.PoseModel``).
        opset: ONNX opset, at least ``MIN_OPSET`` and at most what the installed tf2onnx can write.
        decode: the task's outputs; False: the network alone (``model.raw_output_names``).
    """
    if isinstance(opset, bool) or not isinstance(opset, (int, np.integer)) or opset < MIN_OPSET:
        raise ValueError(f"opset must be an integer >= {MIN_OPSET}, got {opset!r}")
    import tensorflow as tf
    import tf2onnx

    if opset > _max_opset():
        raise ValueError(f"opset {opset} is newer than tf2onnx {tf2onnx.__version__} can write "
                         f"(at most {_max_opset()})")
    from edge.tasks import edge_task
    from zoo.architectures.base import edge_formulation

    s = int(model.input_size)
    spec = [tf.TensorSpec((None, s, s, 3), tf.uint8, name=INPUT_NAME)]
    expected = model.export_output_names(decode)

    @tf.function(input_signature=spec)
    def serve(images):
        return model.export_outputs(tf.cast(images, tf.float32), decode)

    with edge_formulation(model):
        rewriters = [_select_as_where] if edge_task(model.task).onnx_where else None
        proto, _ = tf2onnx.convert.from_function(serve, input_signature=spec, opset=int(opset),
                                                 custom_rewriter=rewriters)
    inputs = [i.name for i in proto.graph.input]
    outputs = [o.name for o in proto.graph.output]
    if inputs != [INPUT_NAME] or sorted(outputs) != sorted(expected):
        raise RuntimeError(f"tf2onnx produced inputs {inputs} and outputs {outputs}; expected "
                           f"[{INPUT_NAME!r}] and {list(expected)}")
    for value in list(proto.graph.input) + list(proto.graph.output):
        value.type.tensor_type.shape.dim[0].dim_param = BATCH_DIM  # 'unk__123' -> 'N'
    return proto.SerializeToString()


class OnnxRunner:
    """Runs an exported ``.onnx`` with onnxruntime on the CPU (``CPUExecutionProvider``).

    ``predict(images)``: uint8 RGB ``(N, S, S, 3)`` -> ``(keypoints (N, K, 2), scores (N, K))``
    in one ``session.run`` for the whole batch; for a bottom-up file ``(people (N, P, K, 3),
    scores (N, P))``. Which of the two a file is, the file itself says: its output names
    (``zoo.tasks.KEYPOINT_OUTPUTS`` or ``PEOPLE_OUTPUTS``; ``bottom_up`` is True for people).

    Args:
        path_or_bytes: path of an ``.onnx`` file, or its bytes.
        num_threads: intra-op threads of the session (onnxruntime's default, one per physical
            core, when None).
    """

    def __init__(self, path_or_bytes, num_threads: Optional[int] = None):
        import onnxruntime as ort

        if isinstance(path_or_bytes, (bytes, bytearray)):
            source, what = bytes(path_or_bytes), f"ONNX model ({len(path_or_bytes)} bytes)"
        else:
            if not os.path.isfile(path_or_bytes):
                raise FileNotFoundError(f"ONNX file not found: {path_or_bytes}")
            source, what = str(path_or_bytes), str(path_or_bytes)
        options = ort.SessionOptions()
        if num_threads is not None:
            if isinstance(num_threads, bool) or not isinstance(num_threads, (int, np.integer)) or num_threads < 1:
                raise ValueError(f"num_threads must be a positive integer or None, got {num_threads!r}")
            options.intra_op_num_threads = int(num_threads)
        try:
            self.session = ort.InferenceSession(source, sess_options=options,
                                                providers=["CPUExecutionProvider"])
        except Exception as e:  # onnxruntime raises its own exception types for unreadable models
            raise ValueError(f"{what}: onnxruntime cannot load it ({type(e).__name__}: {e})") from None
        inputs = {i.name: i for i in self.session.get_inputs()}
        outputs = [o.name for o in self.session.get_outputs()]
        if list(inputs) != [INPUT_NAME] or sorted(outputs) not in (sorted(KEYPOINT_OUTPUTS), sorted(PEOPLE_OUTPUTS)):
            raise ValueError(f"{what}: expected input [{INPUT_NAME!r}] and outputs {list(KEYPOINT_OUTPUTS)} "
                             f"or {list(PEOPLE_OUTPUTS)}, found inputs {list(inputs)} and outputs {outputs}")
        self.bottom_up = PEOPLE_OUTPUTS[0] in outputs
        self.output_names = PEOPLE_OUTPUTS if self.bottom_up else KEYPOINT_OUTPUTS
        shape = inputs[INPUT_NAME].shape
        if len(shape) != 4:
            raise ValueError(f"{what}: expected a 4-D {INPUT_NAME!r} input (N, S, S, 3), found shape {shape}")
        self.input_shape = tuple(d if isinstance(d, int) else None for d in shape)
        self.source = what

    def predict(self, images: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        images = np.asarray(images)
        _, h, w, c = self.input_shape
        if images.ndim != 4 or images.shape[1:] != (h, w, c):
            raise ValueError(f"{self.source}: expected uint8 images (N, {h}, {w}, {c}), got shape {images.shape}")
        if images.dtype != np.uint8:
            raise ValueError(f"{self.source}: expected uint8 RGB pixels, got dtype {images.dtype}")
        values, scores = self.session.run(list(self.output_names), {INPUT_NAME: images})
        return values.astype(np.float32, copy=False), scores.astype(np.float32, copy=False)
