"""The spatial model of Tompson, Jain, LeCun, Bregler (NIPS 2014), https://arxiv.org/abs/1406.2984

A fully connected Markov random field over the joints, one round of sum-product message passing
in log space (Sec. 3.2, Eq. 2):

    log p^_A = log p_A + sum_{v != A} log( SoftPlus(e_{A|v}) * ReLU(p_v) + SoftPlus(b_{v->A}) )

``*`` is a 2D convolution; ``e_{A|v}`` is a learned kernel over displacements ``x_A - x_v`` of
side ``2 H - 1`` (every displacement on an ``H x H`` heatmap), ``b_{v->A}`` a learned bias; the
result is normalised over the map. The kernels start from the smoothed empirical histogram of joint
displacements on the training split (``displacement_histograms``), as in the paper.

Only the pairs in use are computed (a star model costs ``2 (K - 1)`` convolutions, the fully
connected one ``K (K - 1)``), each as one channel of a depthwise convolution, which TFLite runs as
the builtin DEPTHWISE_CONV_2D.
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
        heatmap_size: H (square maps).
        pairs: ``None`` for every ordered pair ``(A, v), A != v`` (fully connected), or a list
            of ``(A, v)`` joint-index pairs to keep (e.g. a star around one root). Only these
            pairs are computed.
        message_stride: 1 computes the messages on the ``H x H`` maps with ``(2H - 1)^2``
            kernels (the paper); 2 computes them on 2x2 sum-pooled maps with kernels of side
            ``2 ceil(H / 2) - 1`` and upsamples them bilinearly (about 16x fewer multiply-adds;
            the unary term keeps the full resolution).
        positive: how the unaries are made non-negative, ``"relu"`` or ``"softplus"``
            (``SoftPlus(beta p) / beta``). With ReLU the gradient of ``log(ReLU(p) + eps)`` reaches
            ``1 / eps`` where a unary is barely positive, which swamps the part detector's own
            gradient in joint training; SoftPlus bounds it by ``beta``.
        beta: sharpness of the SoftPlus.
        epsilon: added inside the logarithms.

    Call: ``heatmaps (N, H, W, K)`` (the unaries ``p``, non-negative) -> ``(N, H, W, K)`` log
    marginals ``log p^``, normalised so that ``exp`` sums to 1 over each map.

    The kernel weight is ``(side, side, K, K)``, ``[dy + R, dx + R, v, A]`` for ``x_A - x_v =
    (dx, dy)`` (``R = side // 2``), whatever ``pairs`` holds; unused slices stay untouched.
    """

    def __init__(self, num_joints: int, heatmap_size: int, pairs=None, message_stride: int = 1,
                 positive: str = "relu", beta: float = 10.0, epsilon: float = 1e-6, **kwargs):
        super().__init__(**kwargs)
        if int(num_joints) < 2:
            raise ValueError(f"num_joints must be >= 2, got {num_joints!r}")
        if int(heatmap_size) < 1:
            raise ValueError(f"heatmap_size must be >= 1, got {heatmap_size!r}")
        if positive not in ("relu", "softplus"):
            raise ValueError(f"positive must be 'relu' or 'softplus', got {positive!r}")
        if float(beta) <= 0:
            raise ValueError(f"beta must be > 0, got {beta!r}")
        self.positive, self.beta = positive, float(beta)
        if int(message_stride) not in (1, 2):
            raise ValueError(f"message_stride must be 1 or 2, got {message_stride!r}")
        self.num_joints, self.heatmap_size, self.epsilon = int(num_joints), int(heatmap_size), float(epsilon)
        self.message_stride = int(message_stride)
        k = self.num_joints
        if pairs is None:
            pairs = [(a, v) for a in range(k) for v in range(k) if a != v]
            self.pairs = None
        else:
            self.pairs = [tuple(int(i) for i in p) for p in pairs]
        mask = np.zeros((k, k), "float32")  # [v, A]: 1 where v sends a message to A
        for a, v in pairs:
            if not (0 <= a < k and 0 <= v < k) or a == v:
                raise ValueError(f"pair {(a, v)!r} is not two different joints of 0..{k - 1}")
            mask[v, a] = 1.0
        self._mask = mask
        senders, receivers = np.nonzero(mask)  # one entry per (v, A) pair, v-major order
        self._senders, self._receivers = senders.astype("int32"), receivers.astype("int32")
        self._pair_index = (senders * k + receivers).astype("int32")  # into the flattened [v, A]
        # Sums each pair's log-message into its receiver A.
        self._to_receiver = np.eye(k, dtype="float32")[receivers]  # (P, K)
        # False: FFT convolutions (TensorFlow); True: depthwise ones (TFLite / ONNX builtin ops).
        # Set by ``zoo.architectures.base.edge_formulation`` while exporting; not a config field.
        self.edge_ops = False
        side = self.kernel_side
        self.kernel = self.add_weight(shape=(side, side, k, k), initializer="zeros", name="pairwise_kernel")
        self.bias = self.add_weight(shape=(k, k), initializer="zeros", name="pairwise_bias")

    @property
    def message_size(self) -> int:
        """Side of the grid the messages are computed on."""
        return -(-self.heatmap_size // self.message_stride)

    @property
    def kernel_side(self) -> int:
        return 2 * self.message_size - 1

    @property
    def num_pairs(self) -> int:
        return int(self._pair_index.size)

    def initialise_from_histograms(self, histograms: np.ndarray, bias: float = 1e-3):
        """Sets ``SoftPlus(e) = histograms`` (``displacement_histograms`` on the message grid,
        i.e. joints in cells divided by ``message_stride``) and ``SoftPlus(b) = bias``."""
        side = self.kernel_side
        shape = (side, side, self.num_joints, self.num_joints)
        if tuple(histograms.shape) != shape:
            raise ValueError(f"histograms must have shape {shape}, got {tuple(histograms.shape)}")
        self.kernel.assign(softplus_inverse(histograms).astype("float32"))
        self.bias.assign(np.full((self.num_joints, self.num_joints), softplus_inverse(bias), "float32"))

    def _positive(self, x):
        if self.positive == "relu":
            return ops.relu(x)
        return ops.softplus(self.beta * x) / self.beta

    def pairwise_kernels(self):
        """``SoftPlus(e)``, ``(side, side, K, K)`` indexed ``[dy + R, dx + R, v, A]``."""
        return ops.softplus(self.kernel)

    def messages(self, unaries, fft: bool = False):
        """``(N, H, W, K)`` -> ``(N, H, W, P)``: for each pair ``(A, v)`` in ``v``-major order,
        ``SoftPlus(e_{A|v}) * ReLU(p_v)`` (a true convolution: the kernel is indexed by
        ``x_A - x_v``), on the message grid and upsampled to ``H x W`` when ``message_stride`` is 2.

        ``fft=False``: one depthwise convolution (builtin DEPTHWISE_CONV_2D in TFLite).
        ``fft=True``: the same linear convolution through zero-padded 2D FFTs, as the paper
        computes it. With 63x63 kernels on a CPU the FFT form trains and runs many times faster
        in TensorFlow, so TensorFlow uses the FFT; TFLite / ONNX graphs use the depthwise form
        (``edge_ops``), which LiteRT runs fast."""
        k, side = self.num_joints, self.kernel_side
        sent = ops.take(self._positive(unaries), self._senders, axis=-1)  # (N, H, W, P)
        h, w = sent.shape[1], sent.shape[2]
        if self.message_stride == 2:
            # Sum pooling keeps each map's mass, so the histogram kernels keep their meaning.
            sent = 4.0 * ops.average_pool(sent, 2, strides=2, padding="same")
        kernel = ops.reshape(self.pairwise_kernels(), (side, side, k * k))
        kernel = ops.take(kernel, self._pair_index, axis=-1)  # (side, side, P)
        if fft:
            out = _fft_convolve_same(sent, kernel)
        else:
            # Depthwise correlation with the flipped kernel = convolution with the kernel.
            out = ops.depthwise_conv(sent, ops.expand_dims(ops.flip(kernel, axis=(0, 1)), -1), padding="same")
        if self.message_stride == 2:
            out = ops.image.resize(out, (h, w), interpolation="bilinear")
        return out

    def call(self, unaries, training=None):
        unaries = ops.cast(unaries, "float32")
        bias = ops.take(ops.reshape(ops.softplus(self.bias), (-1,)), self._pair_index)
        terms = ops.log(self.messages(unaries, fft=not self.edge_ops) + bias + self.epsilon)  # (N, H, W, P)
        to_receiver = ops.convert_to_tensor(self._to_receiver)
        log_p = ops.log(self._positive(unaries) + self.epsilon) + ops.matmul(terms, to_receiver)
        h, w = log_p.shape[1], log_p.shape[2]
        flat = ops.reshape(ops.transpose(log_p, (0, 3, 1, 2)), (-1, self.num_joints, h * w))
        flat = flat - ops.logsumexp(flat, axis=-1, keepdims=True)
        return ops.transpose(ops.reshape(flat, (-1, self.num_joints, h, w)), (0, 2, 3, 1))

    def get_config(self):
        return {**super().get_config(), "num_joints": self.num_joints, "heatmap_size": self.heatmap_size,
                "pairs": self.pairs, "message_stride": self.message_stride, "positive": self.positive,
                "beta": self.beta, "epsilon": self.epsilon}


def _fft_convolve_same(maps, kernel):
    """Linear 2D convolution of ``maps (N, H, W, P)`` with ``kernel (S, S, P)`` (odd ``S``),
    channel by channel, cropped to ``H x W`` like a "same" convolution; via FFTs zero-padded to
    ``H + S - 1`` (so the circular convolution is the linear one)."""
    import tensorflow as tf

    h, w = maps.shape[1], maps.shape[2]
    s = kernel.shape[0]
    r = s // 2
    size = [h + s - 1, w + s - 1]
    x = tf.signal.rfft2d(tf.transpose(maps, (0, 3, 1, 2)), fft_length=size)  # (N, P, ., .)
    e = tf.signal.rfft2d(tf.transpose(kernel, (2, 0, 1)), fft_length=size)  # (P, ., .)
    full = tf.signal.irfft2d(x * e[None], fft_length=size)
    return tf.transpose(full[:, :, r:r + h, r:r + w], (0, 2, 3, 1))


def star_pairs(num_joints: int, root: int):
    """Pairs of a star-shaped model: every joint exchanges messages with ``root`` only."""
    return [(a, root) for a in range(num_joints) if a != root] + [(root, v) for v in range(num_joints) if v != root]

