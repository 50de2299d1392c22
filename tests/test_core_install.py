"""The core install (``pip install -e .``, no extras) loads a published model, predicts and runs a
TFLite file: in a subprocess where importing an extra's package (tf2onnx, onnxruntime, pycocotools,
tensorboard) raises ImportError, every module of zoo and edge and those of the README's main job
(``tools.demo``: TFLite export with calibration data, LiteRT) import, ``zoo.load(...).predict_keypoints``
runs, and a small convolution converted to TFLite runs in ``ai_edge_litert``."""

import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EXTRAS_ONLY = ("tf2onnx", "onnxruntime", "pycocotools", "tensorboard")

SCRIPT = textwrap.dedent("""
    import sys

    EXTRAS_ONLY = {extras!r}


    class BlockExtras:
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in EXTRAS_ONLY:
                raise ImportError(f"{{name}} is not installed (an extra's package)")
            return None


    sys.meta_path.insert(0, BlockExtras())
    try:
        import pycocotools  # noqa: F401
    except ImportError:
        pass
    else:
        raise AssertionError("the import hook does not block")

    import importlib
    import pkgutil

    import numpy as np

    import zoo

    import edge

    for package in (zoo, edge):
        for found in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
            importlib.import_module(found.name)
    for name in ("tools.demo", "training.datasets", "training.pipeline", "training.augment", "training.composite"):
        importlib.import_module(name)

    model = zoo.load("hourglass-lsp")
    keypoints, scores = model.predict_keypoints(np.zeros((2, 128, 128, 3), np.uint8))
    assert keypoints.shape == (2, 14, 2) and scores.shape == (2, 14)

    import tensorflow as tf
    from ai_edge_litert.interpreter import Interpreter

    kernel = tf.constant(np.random.default_rng(0).normal(0, 0.1, (3, 3, 3, 4)), tf.float32)
    network = tf.function(lambda images: {{"maps": tf.nn.relu(tf.nn.conv2d(images, kernel, 1, "SAME"))}},
                          input_signature=[tf.TensorSpec((1, 16, 16, 3), tf.float32, name="images")])
    module = tf.Module()
    module.network = network
    concrete = network.get_concrete_function()
    converter = tf.lite.TFLiteConverter.from_concrete_functions([concrete], module)
    run = Interpreter(model_content=converter.convert()).get_signature_runner()
    images = np.random.default_rng(1).uniform(0, 255, (1, 16, 16, 3)).astype(np.float32)
    np.testing.assert_allclose(run(images=images)["maps"], concrete(tf.constant(images))["maps"].numpy(),
                               rtol=1e-5, atol=1e-3)
    leaked = sorted(m for m in sys.modules if m.split(".")[0] in EXTRAS_ONLY)
    assert not leaked, leaked
    print("ok")
""").format(extras=EXTRAS_ONLY)


def test_load_predict_and_tflite_runtime_need_no_extra():
    out = subprocess.run([sys.executable, "-c", SCRIPT], cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert out.returncode == 0, out.stderr[-4000:]
    assert out.stdout.strip().splitlines()[-1] == "ok"
