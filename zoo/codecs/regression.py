"""Box-normalised coordinate codec for regression models (DeepPose, Toshev & Szegedy, CVPR 2014).

DeepPose regresses ``N(y; b) = (y - b_c) / b_size`` for a box ``b`` with centre ``b_c`` and
size ``b_size`` (Sec. 3, Eq. 1). For the holistic stage the box is the whole input crop, so a
keypoint ``(x, y)`` in input pixels maps to ``((x - c) / S, (y - c) / S)`` with
``c = (S - 1) / 2`` the crop centre in pixel-centre coordinates. The encoder runs in ``tf.data``
(mmpose's ``RegressionLabel`` plays the same role).
"""

from __future__ import annotations

import dataclasses


@dataclasses.dataclass(frozen=True)
class RegressionCodec:
    """Encodes keypoints to box-normalised coordinates and back.

    Args:
        input_size: side of the square model input, in pixels.
    """

    input_size: int = 128

    def __post_init__(self):
        if int(self.input_size) <= 0:
            raise ValueError(f"input_size must be positive, got {self.input_size!r}")

    @property
    def centre(self) -> float:
        return (self.input_size - 1) / 2.0

    def to_dict(self) -> dict:
        return {"type": "regression", **dataclasses.asdict(self)}

    def encode(self, keypoints, visible):
        """``(K, 2)`` input pixels -> ``(targets (K, 2) normalised, weights (K,))`` in TF ops;
        weight 0 for unlabelled joints and joints outside the crop."""
        import tensorflow as tf

        keypoints = tf.cast(keypoints, tf.float32)
        size = float(self.input_size)
        inside = tf.reduce_all((keypoints > -0.5) & (keypoints < size - 0.5), axis=-1)
        weights = tf.cast(inside & (tf.cast(visible, tf.float32) > 0), tf.float32)
        targets = (keypoints - self.centre) / size
        return targets * weights[:, None], weights

    def decode(self, normalised):
        """Normalised ``(..., 2)`` -> input pixels (any backend's tensors or NumPy)."""
        return normalised * float(self.input_size) + self.centre
