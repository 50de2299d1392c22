"""The runtimes a benchmark measures, each loading one artifact into a call on one fixed input.

``load(runtime, path, threads, seed)`` returns a zero-argument callable that runs one batch-1
inference; ``edge.benchmark`` times it. One call is, per runtime:

- ``litert-xnnpack`` (``.tflite``): one call of the ``serving_default`` signature runner of
  ``edge.tflite.TFLiteRunner(path, num_threads=n)`` (stock LiteRT interpreter with its default
  XNNPACK delegate): input copy, ``Invoke``, output copy. A bottom-up file (OpenPose) has the
  same one-image input (noise: the grouping's static shapes make its work independent of the
  image); a file without an ``images`` input (a component alone) gets uniform noise in
  ``[0, 1)`` for each input (``fixed_inputs``).
- ``onnxruntime`` (``.onnx``): one ``InferenceSession.run`` of ``edge.onnx.OnnxRunner`` on the
  ``CPUExecutionProvider`` with ``intra_op_num_threads=n``.
- ``keras-xla``: the model's exported graph ``export_outputs(tf.cast(images, tf.float32))``
  (decoding included; for a bottom-up model the grouping too) compiled with
  ``tf.function(jit_compile=True)`` for a ``(1, S, S, 3)`` uint8 input, outputs copied to NumPy;
  TensorFlow's intra-op pool set to ``n`` threads (inter-op 1).

Each loader imports only its own runtime, so a measuring process of LiteRT or onnxruntime never
loads TensorFlow.
"""

from __future__ import annotations

from typing import Callable, Dict, Optional, Tuple

import numpy as np

LITERT = "litert-xnnpack"
ONNXRUNTIME = "onnxruntime"
KERAS_XLA = "keras-xla"
RUNTIMES = (LITERT, ONNXRUNTIME, KERAS_XLA)
#: File suffix -> (runtime, format name) of the exported artifacts.
FORMATS = {".tflite": (LITERT, "tflite"), ".onnx": (ONNXRUNTIME, "onnx")}


def fixed_image(size: Tuple[int, int], seed: int = 0) -> np.ndarray:
    """The benchmark input: one uint8 RGB image ``(1, H, W, 3)`` of uniform noise from ``seed``."""
    h, w = size
    return np.random.RandomState(seed).randint(0, 256, (1, h, w, 3)).astype(np.uint8)


def fixed_inputs(details: Dict, seed: int = 0) -> Dict[str, np.ndarray]:
    """Inputs of a file that takes something else than an image (e.g. the grouping alone on
    ``heatmaps`` / ``pafs``): uniform noise in ``[0, 1)`` of each input's shape and dtype, seeded."""
    rng = np.random.RandomState(seed)
    return {name: rng.uniform(0, 1, tuple(d["shape"])).astype(d["dtype"]) for name, d in sorted(details.items())}


def _load_litert(path: str, threads: int, seed: int):
    from ai_edge_litert.interpreter import Interpreter

    from edge.tflite import TFLiteRunner
    from zoo.tasks import INPUT_NAME

    try:
        runner = TFLiteRunner(path, num_threads=threads)
    except ValueError:  # no `images` input: a component alone, or another project's file
        interpreter = Interpreter(model_path=path, num_threads=threads)
        signatures = interpreter.get_signature_list()
        if signatures:
            signature = interpreter.get_signature_runner("serving_default" if "serving_default" in signatures else None)
            inputs = fixed_inputs(signature.get_input_details(), seed)
            return lambda: signature(**inputs)
        # No signature (e.g. MediaPipe's files): the input tensors by index, then invoke().
        interpreter.allocate_tensors()
        details = {str(d["index"]): d for d in interpreter.get_input_details()}
        for index, value in fixed_inputs(details, seed).items():
            interpreter.set_tensor(int(index), value)
        return interpreter.invoke
    x = fixed_image(runner.input_shape[1:3], seed)
    if runner.input_dtype == np.int8:  # int8_io files take pixel - 128
        x = (x.astype(np.int16) - 128).astype(np.int8)
    signature = runner.runner
    return lambda: signature(**{INPUT_NAME: x})


def _load_onnxruntime(path: str, threads: int, seed: int):
    from edge.onnx import OnnxRunner
    from zoo.tasks import INPUT_NAME

    runner = OnnxRunner(path, num_threads=threads)
    _, h, w, _ = runner.input_shape
    x = fixed_image((h, w), seed)
    session = runner.session
    return lambda: session.run(None, {INPUT_NAME: x})


def _load_keras_xla(path: str, threads: int, seed: int, import_module: Optional[str] = None):
    import importlib

    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    if import_module:  # registers the model's class for deserialisation
        importlib.import_module(import_module)
    import keras

    model = keras.saving.load_model(path, compile=False)
    s = int(model.input_size)

    @tf.function(jit_compile=True, input_signature=[tf.TensorSpec((1, s, s, 3), tf.uint8)])
    def serve(images):
        return model.export_outputs(tf.cast(images, tf.float32))

    x = fixed_image((s, s), seed)
    return lambda: [t.numpy() for t in serve(x).values()]


def load(runtime: str, path: str, threads: int, seed: int = 0,
         import_module: Optional[str] = None) -> Callable[[], object]:
    """Loads ``path`` in ``runtime`` with ``threads`` threads; returns one inference on the fixed
    input of ``seed`` as a zero-argument call. ``import_module`` (Keras only) registers the model's
    class for deserialisation."""
    if runtime == LITERT:
        return _load_litert(path, threads, seed)
    if runtime == ONNXRUNTIME:
        return _load_onnxruntime(path, threads, seed)
    if runtime == KERAS_XLA:
        return _load_keras_xla(path, threads, seed, import_module)
    raise ValueError(f"unknown runtime {runtime!r}; choose from {list(RUNTIMES)}")
