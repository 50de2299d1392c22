"""Tompson et al.'s spatial model: the message formula against a NumPy reference, and the
histogram initialisation on synthetic joints with a known displacement."""

import numpy as np
import pytest

from zoo.layers.spatial_model import SpatialModel, displacement_histograms, softplus_inverse, star_pairs


def _softplus(x):
    return np.log1p(np.exp(x))


def _bilinear_upsample2(x):
    """(m, m) -> (2m, 2m), half-pixel centres (as tf.image.resize 'bilinear')."""
    m = x.shape[0]
    c = np.clip((np.arange(2 * m) + 0.5) / 2 - 0.5, 0, m - 1)
    i0 = np.floor(c).astype(int)
    i1 = np.minimum(i0 + 1, m - 1)
    f = c - i0
    rows = x[i0] * (1 - f)[:, None] + x[i1] * f[:, None]
    return rows[:, i0] * (1 - f)[None] + rows[:, i1] * f[None]


def reference(unaries, kernel, bias, mask, eps=1e-6, stride=1, positive="relu", beta=10.0):
    """Eq. 2 of Tompson et al. 2014 written out with loops: kernel[dy + R, dx + R, v, A] is the
    pairwise term for a displacement x_A - x_v = (dx, dy). With ``stride`` 2 the messages are
    computed on 2x2 sums of the maps and upsampled bilinearly."""
    n, h, w, k = unaries.shape
    u = unaries.astype(np.float64)
    p = np.maximum(u, 0) if positive == "relu" else _softplus(beta * u) / beta
    e, b = _softplus(kernel.astype(np.float64)), _softplus(bias.astype(np.float64))
    out = np.zeros((n, h, w, k))
    for i in range(n):
        for a in range(k):
            log_p = np.log(p[i, :, :, a] + eps)
            for v in range(k):
                if not mask[v, a]:
                    continue
                sent = p[i, :, :, v]
                if stride == 2:
                    sent = sent.reshape(h // 2, 2, w // 2, 2).sum(axis=(1, 3))
                m = sent.shape[0]
                r = m - 1
                conv = np.zeros((m, m))
                for ya in range(m):
                    for xa in range(m):
                        for yv in range(m):
                            for xv in range(m):
                                conv[ya, xa] += sent[yv, xv] * e[ya - yv + r, xa - xv + r, v, a]
                if stride == 2:
                    conv = _bilinear_upsample2(conv)
                log_p = log_p + np.log(conv + b[v, a] + eps)
            log_p -= np.log(np.exp(log_p - log_p.max()).sum()) + log_p.max()
            out[i, :, :, a] = log_p
    return out


@pytest.mark.parametrize("edge_ops", [False, True], ids=["fft", "depthwise"])
@pytest.mark.parametrize("pairs,stride,positive", [(None, 1, "relu"), (star_pairs(3, root=1), 1, "relu"),
                                                   (None, 2, "relu"), (None, 2, "softplus")],
                         ids=["full", "star", "full-stride2", "full-stride2-softplus"])
def test_message_passing_matches_the_numpy_reference(pairs, stride, positive, edge_ops):
    rng = np.random.default_rng(0)
    h, k = (5, 3) if stride == 1 else (6, 3)
    layer = SpatialModel(k, h, pairs=pairs, message_stride=stride, positive=positive, beta=4.0)
    layer.edge_ops = edge_ops  # the FFT form (TensorFlow) and the depthwise one (TFLite, ONNX)
    side = layer.kernel_side
    assert side == (2 * h - 1 if stride == 1 else h - 1)
    unaries = rng.normal(0.3, 0.5, (2, h, h, k)).astype("float32")
    kernel = rng.normal(-1, 1, (side, side, k, k)).astype("float32")
    bias = rng.normal(-2, 1, (k, k)).astype("float32")
    layer(unaries)  # build
    layer.kernel.assign(kernel)
    layer.bias.assign(bias)
    got = np.asarray(layer(unaries))
    want = reference(unaries, kernel, bias, layer._mask, stride=stride, positive=positive, beta=4.0)
    np.testing.assert_allclose(got, want, atol=1e-4)
    assert layer.num_pairs == (k * (k - 1) if pairs is None else len(pairs))
    np.testing.assert_allclose(np.exp(got).sum(axis=(1, 2)), 1.0, atol=1e-5)  # normalised maps
    if pairs is not None:  # a star: joints 0 and 2 exchange no message
        assert layer._mask[0, 2] == 0 and layer._mask[2, 0] == 0 and layer._mask[1, 0] == 1


def test_histograms_of_a_known_displacement():
    # joint 1 is always at joint 0 + (3, -2) cells; joint 2 is unlabelled in half the samples.
    rng = np.random.default_rng(1)
    base = rng.uniform(4, 10, (20, 2))
    kp = np.stack([base, base + [3, -2], base + [-1, 4]], axis=1)
    vis = np.ones((20, 3))
    vis[::2, 2] = 0
    h = 16
    r = h - 1
    hist = displacement_histograms(kp, vis, h, sigma=0)
    assert hist.shape == (2 * h - 1, 2 * h - 1, 3, 3)
    assert hist[-2 + r, 3 + r, 0, 1] == pytest.approx(1.0)  # [dy, dx, v, A]: x_1 - x_0 = (3, -2)
    assert hist[2 + r, -3 + r, 1, 0] == pytest.approx(1.0)  # and x_0 - x_1 = (-3, 2)
    assert hist[4 + r, -1 + r, 0, 2] == pytest.approx(1.0)  # only the 10 labelled samples count
    np.testing.assert_allclose(hist.sum(axis=(0, 1)), 1.0, atol=1e-6)
    smooth = displacement_histograms(kp, vis, h, sigma=1.0)
    assert np.unravel_index(np.argmax(smooth[:, :, 0, 1]), smooth.shape[:2]) == (-2 + r, 3 + r)
    assert 0 < smooth[-2 + r, 3 + r, 0, 1] < 1  # spread by the smoothing


def test_initialisation_from_histograms_sets_softplus_of_the_kernel():
    h, k = 6, 3
    rng = np.random.default_rng(2)
    kp = rng.uniform(0, h - 1, (50, k, 2))
    hist = displacement_histograms(kp, np.ones((50, k)), h, sigma=1.0)
    layer = SpatialModel(k, h)
    layer.initialise_from_histograms(hist)
    np.testing.assert_allclose(_softplus(np.asarray(layer.kernel, np.float64)), np.maximum(hist, 1e-6),
                               rtol=1e-3, atol=1e-7)
    with pytest.raises(ValueError, match="shape"):
        layer.initialise_from_histograms(hist[:-1])


def test_argument_errors_and_config():
    with pytest.raises(ValueError, match="1"):
        SpatialModel(1, 8)
    with pytest.raises(ValueError, match=r"\(2, 2\)"):
        SpatialModel(3, 8, pairs=[(2, 2)])
    with pytest.raises(ValueError, match="'tanh'"):
        SpatialModel(3, 8, positive="tanh")
    with pytest.raises(ValueError, match="beta"):
        SpatialModel(3, 8, positive="softplus", beta=0)
    layer = SpatialModel(3, 4, pairs=[(0, 1)])
    clone = SpatialModel.from_config(layer.get_config())
    assert clone.pairs == [(0, 1)] and clone.heatmap_size == 4
    soft = SpatialModel.from_config(SpatialModel(3, 4, positive="softplus", beta=3.0).get_config())
    assert (soft.positive, soft.beta) == ("softplus", 3.0)
    assert softplus_inverse(np.array([0.5]))[0] == pytest.approx(np.log(np.expm1(0.5)))
