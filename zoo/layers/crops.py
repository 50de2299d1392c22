"""Square windows cut out of images or feature maps inside the graph, with TFLite builtin ops only.

Bilinear sampling is written as two batched matrix products (rows, then columns) with weights
``max(0, 1 - |grid - source|)``: ``BATCH_MATMUL`` ops, no ``CropAndResize`` (a Flex op). Used by
the cascades that refine each joint in a window around its current estimate: DeepPose's
sub-images (Toshev & Szegedy 2014, Sec. 3.2) and Tompson et al. 2015's crops of shared features.
"""

from __future__ import annotations

import keras
from keras import layers, ops


def bilinear_weights(centres, sides, size: int, out: int):
    """Interpolation matrices of square windows along one axis.

    Args:
        centres: ``(M,)`` window centres in pixels (pixel ``i`` covers ``[i - 0.5, i + 0.5)``).
        sides: ``(M,)`` window sides in pixels.
        size: length of the source axis.
        out: number of samples across the window.

    Returns ``(M, out, size)``: row ``j`` holds the bilinear weights of sample ``j``, taken at
    ``centre + ((j + 0.5) / out - 0.5) * side``; samples outside the image get zero weight (zero
    padding, as the protocol crop).
    """
    offsets = (ops.cast(ops.arange(out), "float32") + 0.5) / out - 0.5  # (out,)
    source = centres[:, None] + offsets[None, :] * sides[:, None]  # (M, out)
    grid = ops.cast(ops.arange(size), "float32")  # (size,)
    return ops.relu(1.0 - ops.abs(source[:, :, None] - grid[None, None, :]))


def crop_windows(images, centres_x, centres_y, sides, out: int):
    """``K`` square windows per image, each resampled to ``out x out`` samples.

    Args:
        images: ``(N, S, S, C)``.
        centres_x, centres_y: ``(N, K)`` window centres in the images' pixels.
        sides: ``(N, K)`` window sides in the images' pixels.
        out: samples across each window.

    Returns ``(N*K, out, out, C)``, image-major (windows ``n*K .. n*K + K - 1`` are image
    ``n``'s). A window whose samples fall on pixel centres (integer
    centre offsets, ``side == out`` pixels) is an exact copy of those pixels.
    """
    s, c = images.shape[1], images.shape[3]
    k, p = centres_x.shape[1], out
    sides = ops.reshape(sides, (-1,))
    wy = bilinear_weights(ops.reshape(centres_y, (-1,)), sides, s, p)  # (N*K, P, S)
    wx = bilinear_weights(ops.reshape(centres_x, (-1,)), sides, s, p)  # (N*K, P, S)
    # Rows: (N, K*P, S) @ (N, S, S*C) -> (N, K*P, S*C)
    rows = ops.matmul(ops.reshape(wy, (-1, k * p, s)), ops.reshape(images, (-1, s, s * c)))
    rows = ops.transpose(ops.reshape(rows, (-1, p, s, c)), (0, 1, 3, 2))  # (N*K, P, C, S)
    # Columns: (N*K, P*C, S) @ (N*K, S, P) -> (N*K, P*C, P)
    cols = ops.matmul(ops.reshape(rows, (-1, p * c, s)), ops.transpose(wx, (0, 2, 1)))
    return ops.transpose(ops.reshape(cols, (-1, p, c, p)), (0, 1, 3, 2))  # (N*K, P, P, C)


@keras.saving.register_keras_serializable(package="zoo")
class JointPatches(layers.Layer):
    """Cuts one square patch per joint around its current estimate, of a side proportional to the
    torso diameter (DeepPose's sub-images, Toshev & Szegedy 2014, Sec. 3.2).

    Args:
        patch_size: side of each patch in samples.
        sigma: patch side as a multiple of the torso diameter of the estimate.
        torso: indices ``(a, b)`` of the two opposite torso joints defining the diameter.
        min_side, max_side: clamp of the patch side, as fractions of the input side.

    Call: ``(images (N, S, S, C), estimates (N, K, 2) box-normalised)`` ->
    ``(patches (N*K, P, P, C), sides (N, K, 1) normalised)``.
    """

    def __init__(self, patch_size: int, sigma: float, torso, min_side: float = 0.08,
                 max_side: float = 1.0, **kwargs):
        super().__init__(**kwargs)
        if int(patch_size) < 4:
            raise ValueError(f"patch_size must be >= 4, got {patch_size!r}")
        if not float(sigma) > 0:
            raise ValueError(f"sigma must be > 0, got {sigma!r}")
        self.patch_size, self.sigma = int(patch_size), float(sigma)
        self.torso = tuple(int(t) for t in torso)
        self.min_side, self.max_side = float(min_side), float(max_side)

    def call(self, images, estimates):
        s = images.shape[1]
        a, b = self.torso
        diam = ops.sqrt(ops.sum(ops.square(estimates[:, a] - estimates[:, b]), axis=-1) + 1e-12)  # (N,)
        side = ops.clip(self.sigma * diam, self.min_side, self.max_side)  # (N,) normalised
        sides = ops.zeros_like(estimates[..., :1]) + side[:, None, None]  # (N, K, 1)
        centre = (s - 1) / 2.0
        px, py = estimates[..., 0] * s + centre, estimates[..., 1] * s + centre  # (N, K)
        return crop_windows(images, px, py, sides[..., 0] * s, self.patch_size), sides

    def get_config(self):
        return {**super().get_config(), "patch_size": self.patch_size, "sigma": self.sigma,
                "torso": list(self.torso), "min_side": self.min_side, "max_side": self.max_side}
