"""Gaussian heatmap codec (Tompson et al., NIPS 2014; Newell et al., ECCV 2016).

Coordinates convention: a keypoint ``(x, y)`` is in *input pixels* of the crop, pixel ``i``
covering ``[i - 0.5, i + 0.5)``. Heatmap cell ``u`` covers input pixels
``[u * stride - 0.5, (u + 1) * stride - 0.5)``, so ``x_hm = (x + 0.5) / stride - 0.5``.

``encode`` runs inside ``tf.data`` (TF ops, one sample). ``decode`` is a Keras layer made of
builtin-friendly ops (the argmax as a mask of the maximum, no ArgMax or Gather) so it exports to TFLite: it takes the
argmax, shifts it a quarter pixel toward the larger neighbour (Newell et al., Sec. 4) and maps it
back to input pixels. The same codec object feeds the data pipeline and the model head (the
mmpose ``MSRAHeatmap`` pattern), so they cannot drift.
"""

from __future__ import annotations

import dataclasses

import keras
from keras import ops


@dataclasses.dataclass(frozen=True)
class HeatmapCodec:
    """Encodes keypoints to Gaussian heatmaps and decodes heatmaps to keypoints.

    Args:
        input_size: side of the square model input, in pixels.
        heatmap_size: side of the square heatmap.
        sigma: Gaussian standard deviation in heatmap cells.
    """

    input_size: int = 128
    heatmap_size: int = 32
    sigma: float = 1.0

    def __post_init__(self):
        if self.input_size <= 0 or self.heatmap_size <= 0:
            raise ValueError(
                f"input_size and heatmap_size must be positive, got {self.input_size}, "
                f"{self.heatmap_size}"
            )
        if self.input_size % self.heatmap_size:
            raise ValueError(
                f"input_size ({self.input_size}) must be a multiple of heatmap_size "
                f"({self.heatmap_size})"
            )
        if not self.sigma > 0:
            raise ValueError(f"sigma must be > 0, got {self.sigma}")

    @property
    def stride(self) -> int:
        return self.input_size // self.heatmap_size

    def to_dict(self) -> dict:
        return {"type": "heatmap", **dataclasses.asdict(self)}

    def encode(self, keypoints, visible):
        """Gaussian targets for one sample, in TF ops (usable in ``tf.data``).

        Args:
            keypoints: float ``(K, 2)`` x, y in input pixels.
            visible: ``(K,)``, > 0 where the joint is labelled; a value below 1 is the label's
                confidence (a teacher's score) and weights its loss.

        Returns:
            ``heatmaps`` float32 ``(H, W, K)`` with peak 1 at each labelled joint inside the map
            (all zeros otherwise) and ``weights`` float32 ``(K,)``: ``min(visible, 1)`` for
            labelled joints inside the map (1 for a dataset's own labels), 0 otherwise (no loss).
        """
        import tensorflow as tf

        keypoints = tf.cast(keypoints, tf.float32)
        s = float(self.stride)
        hm = (keypoints + 0.5) / s - 0.5  # (K, 2) heatmap coordinates
        size = float(self.heatmap_size)
        inside = tf.reduce_all((hm > -0.5) & (hm < size - 0.5), axis=-1)
        visible = tf.cast(visible, tf.float32)
        present = tf.cast(inside & (visible > 0), tf.float32)
        weights = present * tf.minimum(visible, 1.0)
        grid = tf.range(self.heatmap_size, dtype=tf.float32)
        gx = tf.exp(-tf.square(grid[None, :] - hm[:, 0:1]) / (2.0 * self.sigma**2))  # (K, W)
        gy = tf.exp(-tf.square(grid[None, :] - hm[:, 1:2]) / (2.0 * self.sigma**2))  # (K, H)
        maps = gy[:, :, None] * gx[:, None, :] * present[:, None, None]  # (K, H, W)
        return tf.transpose(maps, (1, 2, 0)), weights

    def decoder(self, blur_sigma: float = 0.0, subpixel: str = "quarter",
                name: str = "heatmap_decoder") -> "HeatmapDecoder":
        """The decoding layer of these heatmaps (``HeatmapDecoder`` at this codec's stride)."""
        return HeatmapDecoder(stride=self.stride, blur_sigma=blur_sigma, subpixel=subpixel, name=name)

    def decode(self, heatmaps):
        """``(N, H, W, K)`` heatmaps -> ``(keypoints (N, K, 2) input pixels, scores (N, K))``."""
        return self.decoder()(heatmaps)


@keras.saving.register_keras_serializable(package="zoo")
class HeatmapDecoder(keras.layers.Layer):
    """Argmax + sub-pixel refinement decoding as a layer of TFLite builtin ops.

    Args:
        stride: input pixels per heatmap cell.
        blur_sigma: when > 0, each map is first smoothed by a Gaussian of this many cells (a
            depthwise convolution with a fixed 5x5 kernel, as DARK's modulation, Zhang et al.
            CVPR 2020); it makes the maximum robust to small perturbations such as int8 noise.
        subpixel: ``quarter``: a quarter cell toward the larger neighbour (Newell et al. 2016,
            Sec. 4); ``dark``: DARK's Taylor step (Zhang, Zhu, Dai, Ye, Zhu, "Distribution-Aware
            Coordinate Representation for Human Pose Estimation", CVPR 2020, Eq. 6-8): the
            Newton step ``-H^-1 g`` of the log-heatmap at the maximum, from finite differences
            (two-cell spacing for the second derivatives, as the authors' code); where the
            Hessian is not negative definite (no Gaussian-like peak) it falls back to the quarter
            shift, and the step is clipped to one cell.

    Call: ``heatmaps (N, H, W, K)`` -> ``(keypoints (N, K, 2), scores (N, K))``, keypoints in
    input pixels, score = the heatmap maximum (of the smoothed maps when ``blur_sigma`` > 0).
    """

    SUBPIXEL = ("quarter", "dark")
    #: DARK's floor under the maps before the log (the authors' code: 1e-10). 1e-10 is 0 in
    #: float16, so float16 .tflite files took log(0) = -inf and fell back to the quarter shift;
    #: 1e-4 is a normal float16 number.
    LOG_FLOOR = 1e-4

    def __init__(self, stride: int, blur_sigma: float = 0.0, subpixel: str = "quarter", **kwargs):
        super().__init__(**kwargs)
        if int(stride) <= 0:
            raise ValueError(f"stride must be a positive integer, got {stride!r}")
        if not float(blur_sigma) >= 0:
            raise ValueError(f"blur_sigma must be >= 0, got {blur_sigma!r}")
        if subpixel not in self.SUBPIXEL:
            raise ValueError(f"subpixel must be one of {self.SUBPIXEL}, got {subpixel!r}")
        self.stride = int(stride)
        self.blur_sigma = float(blur_sigma)
        self.subpixel = subpixel

    def _blur(self, heatmaps):
        import numpy as np

        r = np.arange(-2, 3, dtype=np.float64)
        g = np.exp(-r ** 2 / (2 * self.blur_sigma ** 2))
        kernel = np.outer(g, g) / np.outer(g, g).sum()
        k = heatmaps.shape[-1]
        kernel = np.tile(kernel[:, :, None, None], (1, 1, k, 1)).astype("float32")
        return ops.depthwise_conv(heatmaps, ops.convert_to_tensor(kernel), padding="same")

    def call(self, heatmaps):
        heatmaps = ops.cast(heatmaps, "float32")
        if self.blur_sigma > 0:
            heatmaps = self._blur(heatmaps)
        h, w, k = heatmaps.shape[1], heatmaps.shape[2], heatmaps.shape[3]
        maps = ops.transpose(heatmaps, (0, 3, 1, 2))  # (N, K, H, W)
        flat = ops.reshape(maps, (-1, k, h * w))
        scores = ops.max(flat, axis=-1)
        # Mask of the maximum (no ArgMax/Gather: only builtin, delegate- and int8-friendly ops);
        # tied maxima, common once heatmaps are quantised, are averaged.
        mask = ops.cast(ops.greater_equal(flat, scores[..., None]), "float32")
        mask = ops.reshape(mask / ops.sum(mask, axis=-1, keepdims=True), (-1, k, h, w))
        # Horizontal / vertical neighbour differences, zero at the border.
        pad_x = ops.pad(maps, ((0, 0), (0, 0), (0, 0), (1, 1)))
        dx = pad_x[:, :, :, 2:] - pad_x[:, :, :, :-2]
        pad_y = ops.pad(maps, ((0, 0), (0, 0), (1, 1), (0, 0)))
        dy = pad_y[:, :, 2:, :] - pad_y[:, :, :-2, :]
        col = ops.cast(ops.arange(w), "float32")[None, None, None, :]
        row = ops.cast(ops.arange(h), "float32")[None, None, :, None]
        qx = 0.25 * ops.sign(ops.sum(mask * dx, axis=(2, 3)))
        qy = 0.25 * ops.sign(ops.sum(mask * dy, axis=(2, 3)))
        if self.subpixel == "dark":
            qx, qy = self._taylor_step(maps, mask, qx, qy)
        x = ops.sum(mask * col, axis=(2, 3)) + qx
        y = ops.sum(mask * row, axis=(2, 3)) + qy
        s = float(self.stride)
        keypoints = ops.stack([(x + 0.5) * s - 0.5, (y + 0.5) * s - 0.5], axis=-1)
        return keypoints, scores

    def _taylor_step(self, maps, mask, fallback_x, fallback_y):
        """DARK's offset ``-H^-1 g`` of ``log(maps)`` at the maximum (``mask``), ``(N, K)`` each."""
        log = ops.log(ops.maximum(maps, self.LOG_FLOOR))
        padded = ops.pad(log, ((0, 0), (0, 0), (2, 2), (2, 2)), mode="symmetric")
        h, w = maps.shape[2], maps.shape[3]

        def at(dy, dx):  # log-map value at (max + (dy, dx)), read through the mask of the max
            return ops.sum(mask * padded[:, :, 2 + dy:2 + dy + h, 2 + dx:2 + dx + w], axis=(2, 3))

        centre = at(0, 0)
        gx, gy = 0.5 * (at(0, 1) - at(0, -1)), 0.5 * (at(1, 0) - at(-1, 0))
        hxx = 0.25 * (at(0, 2) - 2 * centre + at(0, -2))
        hyy = 0.25 * (at(2, 0) - 2 * centre + at(-2, 0))
        hxy = 0.25 * (at(1, 1) - at(-1, 1) - at(1, -1) + at(-1, -1))
        det = hxx * hyy - hxy * hxy
        peak = ops.logical_and(hxx < 0, det > 1e-6)  # negative definite: a maximum
        safe = ops.where(peak, det, ops.ones_like(det))
        step_x = -(hyy * gx - hxy * gy) / safe
        step_y = -(hxx * gy - hxy * gx) / safe
        return (ops.where(peak, ops.clip(step_x, -1.0, 1.0), fallback_x),
                ops.where(peak, ops.clip(step_y, -1.0, 1.0), fallback_y))

    def compute_output_shape(self, input_shape):
        n, _, _, k = input_shape
        return (n, k, 2), (n, k)

    def get_config(self):
        return {**super().get_config(), "stride": self.stride, "blur_sigma": self.blur_sigma,
                "subpixel": self.subpixel}
