"""The spatial model of Tompson, Jain, LeCun, Bregler (NIPS 2014), https://arxiv.org/abs/1406.2984

A fully connected Markov random field over the joints, one round of sum-product message passing
in log space (Sec. 3.2, Eq. 2):

    log p^_A = log p_A + sum_{v != A} log( SoftPlus(e_{A|v}) * ReLU(p_v) + SoftPlus(b_{v->A}) )

``*`` is a 2D convolution; ``e_{A|v}`` is a learned kernel over displacements ``x_A - x_v`` of
side ``2 H - 1`` (every displacement on an ``H x H`` heatmap), ``b_{v->A}`` a learned bias; the
result is normalised over the map. The kernels start from the smoothed empirical histogram of joint
displacements on the training split (``displacement_histograms``), as in the paper.

Work in progress for the Tompson model (issue #5): the layer and its initialisation, checked
against a NumPy reference; the part detector and the joint training come next.
"""

from __future__ import annotations

import keras
import numpy as np
from keras import layers, ops


def softplus_inverse(y: np.ndarray, floor: float = 1e-6) -> np.ndarray:
    """``x`` with ``softplus(x) = y`` (``y`` clipped to ``floor`` first)."""
    y = np.maximum(np.asarray(y, np.float64), floor)
    return np.where(y > 20, y, np.log(np.expm1(y)))


def displacement_histograms(keypoints: np.ndarray, visible: np.ndarray, heatmap_size: int,
                            sigma: float = 1.0) -> np.ndarray:
    """Empirical distribution of ``x_A - x_v`` for every ordered pair of joints (Tompson et al.
    2014: the pairwise kernels are initialised from it).

    Args:
        keypoints: ``(N, K, 2)`` joint positions in heatmap cells (x, y).
        visible: ``(N, K)``, > 0 where labelled.
        heatmap_size: H; displacements span ``[-(H - 1), H - 1]`` cells.
        sigma: Gaussian smoothing of the histogram, in cells (0: none).

    Returns ``(2H - 1, 2H - 1, K, K)`` float32: ``[dy + H - 1, dx + H - 1, v, A]`` is the
    probability of ``x_A - x_v = (dx, dy)``; each ``(v, A)`` slice sums to 1 (uniform when the pair
    is never labelled together; the diagonal ``A = v`` is a delta at 0, unused by the model).
    """
    keypoints, visible = np.asarray(keypoints, np.float64), np.asarray(visible) > 0
    if keypoints.ndim != 3 or keypoints.shape[-1] != 2 or keypoints.shape[:2] != visible.shape:
        raise ValueError(f"keypoints must be (N, K, 2) with visible (N, K); got {keypoints.shape}, {visible.shape}")
    n, k, _ = keypoints.shape
    r = heatmap_size - 1
    side = 2 * r + 1
    hist = np.zeros((side, side, k, k))
    for v in range(k):
        for a in range(k):
            if a == v:
                hist[r, r, v, a] = 1.0
                continue
            both = visible[:, a] & visible[:, v]
            d = np.rint(keypoints[both, a] - keypoints[both, v]).astype(int)
            d = d[(np.abs(d) <= r).all(axis=1)]
            np.add.at(hist[:, :, v, a], (d[:, 1] + r, d[:, 0] + r), 1.0)
    if sigma > 0:
        g = np.arange(-int(np.ceil(3 * sigma)), int(np.ceil(3 * sigma)) + 1)
        g = np.exp(-g ** 2 / (2 * sigma ** 2))
        g /= g.sum()
        for axis in (0, 1):
            hist = np.apply_along_axis(lambda m: np.convolve(m, g, mode="same"), axis, hist)
    total = hist.sum(axis=(0, 1), keepdims=True)
    hist = np.where(total > 0, hist / np.where(total > 0, total, 1), 1.0 / side ** 2)
    return hist.astype("float32")


@keras.saving.register_keras_serializable(package="zoo")
class SpatialModel(layers.Layer):
    """Fully connected pairwise MRF over joint heatmaps, one sum-product round in log space.

    Args:
        num_joints: K.
        heatmap_size: H (square maps); kernels are ``(2H - 1) x (2H - 1)``.
        pairs: ``None`` for every ordered pair ``(A, v), A != v`` (fully connected), or a list
            of ``(A, v)`` joint-index pairs to keep (e.g. a star around one root).
        epsilon: added inside the logarithms.

    Call: ``heatmaps (N, H, W, K)`` (the unaries ``p``, non-negative) -> ``(N, H, W, K)`` log
    marginals ``log p^``, normalised so that ``exp`` sums to 1 over each map.
    """

    def __init__(self, num_joints: int, heatmap_size: int, pairs=None, epsilon: float = 1e-6, **kwargs):
        super().__init__(**kwargs)
        if int(num_joints) < 2:
            raise ValueError(f"num_joints must be >= 2, got {num_joints!r}")
        if int(heatmap_size) < 1:
            raise ValueError(f"heatmap_size must be >= 1, got {heatmap_size!r}")
        self.num_joints, self.heatmap_size, self.epsilon = int(num_joints), int(heatmap_size), float(epsilon)
        k = self.num_joints
        mask = np.zeros((k, k), "float32")  # [v, A]: 1 where v sends a message to A
        for a, v in (pairs if pairs is not None else [(a, v) for a in range(k) for v in range(k) if a != v]):
            if not (0 <= a < k and 0 <= v < k) or a == v:
                raise ValueError(f"pair {(a, v)!r} is not two different joints of 0..{k - 1}")
            mask[v, a] = 1.0
        self.pairs = None if pairs is None else [tuple(int(i) for i in p) for p in pairs]
        self._mask = mask
        side = 2 * self.heatmap_size - 1
        self.kernel = self.add_weight(shape=(side, side, k, k), initializer="zeros", name="pairwise_kernel")
        self.bias = self.add_weight(shape=(k, k), initializer="zeros", name="pairwise_bias")

    def initialise_from_histograms(self, histograms: np.ndarray, bias: float = 1e-3):
        """Sets ``SoftPlus(e) = histograms`` (``displacement_histograms``) and
        ``SoftPlus(b) = bias``."""
        side = 2 * self.heatmap_size - 1
        shape = (side, side, self.num_joints, self.num_joints)
        if tuple(histograms.shape) != shape:
            raise ValueError(f"histograms must have shape {shape}, got {tuple(histograms.shape)}")
        self.kernel.assign(softplus_inverse(histograms).astype("float32"))
        self.bias.assign(np.full((self.num_joints, self.num_joints), softplus_inverse(bias), "float32"))

    def messages(self, unaries):
        """``(N, H, W, K)`` -> ``(N, H, W, K, K)``: ``[..., v, A] = (SoftPlus(e_{A|v}) *
        ReLU(p_v))`` (a true convolution: the kernel is indexed by ``x_A - x_v``)."""
        k = self.num_joints
        # Depthwise correlation with channel multiplier K: input channel v, output v*K + A.
        kernel = ops.flip(ops.softplus(self.kernel), axis=(0, 1))
        out = ops.depthwise_conv(ops.relu(unaries), kernel, padding="same")
        return ops.reshape(out, (-1, out.shape[1], out.shape[2], k, k))

    def call(self, unaries):
        unaries = ops.cast(unaries, "float32")
        mask = ops.convert_to_tensor(self._mask)
        terms = ops.log(self.messages(unaries) + ops.softplus(self.bias) + self.epsilon)  # [..., v, A]
        log_p = ops.log(ops.relu(unaries) + self.epsilon) + ops.sum(terms * mask, axis=-2)
        h, w = log_p.shape[1], log_p.shape[2]
        flat = ops.reshape(ops.transpose(log_p, (0, 3, 1, 2)), (-1, self.num_joints, h * w))
        flat = flat - ops.logsumexp(flat, axis=-1, keepdims=True)
        return ops.transpose(ops.reshape(flat, (-1, self.num_joints, h, w)), (0, 2, 3, 1))

    def get_config(self):
        return {**super().get_config(), "num_joints": self.num_joints, "heatmap_size": self.heatmap_size,
                "pairs": self.pairs, "epsilon": self.epsilon}


def star_pairs(num_joints: int, root: int):
    """Pairs of a star-shaped model: every joint exchanges messages with ``root`` only."""
    return [(a, root) for a in range(num_joints) if a != root] + [(root, v) for v in range(num_joints) if v != root]

