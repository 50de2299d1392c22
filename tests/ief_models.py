"""A tiny Iterative Error Feedback model whose iterations move the joints, shared by the model's
tests (tests/zoo/test_ief.py) and its export tests (tests/edge/test_ief_edge.py)."""

import keras
import numpy as np

from zoo.architectures.ief import IterativeErrorFeedback

TINY = dict(num_iterations=2, head_filters=8, units=16, dropout=0.0, input_size=32, skeleton="mpii16")
K, S, T = 16, 32, 2


def random_images(n=2, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (n, S, S, 3), dtype=np.uint8)


def random_mean_pose(seed=3):
    return np.random.default_rng(seed).uniform(-0.3, 0.3, (K, 2)).astype("float32")


def calibrate_batchnorm(model, images):
    """BatchNorm statistics of one batch: a randomly initialised EfficientNet in inference mode
    passes almost nothing (features ~1e-13), so the tests' corrections would not depend on the
    image or the maps; with these statistics they do."""
    norms = [layer for layer in model._flatten_layers() if isinstance(layer, keras.layers.BatchNormalization)]
    momenta = [layer.momentum for layer in norms]
    for layer in norms:
        layer.momentum = 0.0
    x = model.normalise(images)
    model.predict_correction(x, model.initial_estimate(x), training=True)
    for layer, momentum in zip(norms, momenta):
        layer.momentum = momentum


def tiny_ief(seed=0, randomise=True, **kwargs):
    """The tiny model on a random mean pose; ``randomise``: BatchNorm statistics of one batch and a
    random output layer (it starts at zero, so every iteration would keep the mean pose)."""
    keras.utils.set_random_seed(seed)
    model = IterativeErrorFeedback(**{**TINY, **kwargs})
    model.build()
    model.set_mean_pose(random_mean_pose())
    if randomise:
        calibrate_batchnorm(model, random_images(8, seed=11).astype("float32"))
        rng = np.random.default_rng(seed)
        out = model.head.out
        out.kernel.assign(rng.normal(0, 0.3, out.kernel.shape).astype("float32"))
        out.bias.assign(rng.normal(0, 0.02, out.bias.shape).astype("float32"))
    return model
