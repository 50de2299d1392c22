"""Part confidence maps and part affinity fields (Cao, Hidalgo, Simon, Wei, Sheikh, CVPR 2017 /
TPAMI 2019, https://arxiv.org/abs/1812.08008, Sec. 3.3-3.4): the targets of bottom-up models.

Coordinates follow ``zoo.codecs.heatmap``: map cell ``u`` is centred on input pixel
``(u + 0.5) * stride - 0.5``. ``encode`` runs inside ``tf.data`` on one image with any number of
people; the decoder -- peaks, PAF line integrals, greedy matching and assembly into people -- is
``zoo.codecs.paf_grouping.PafGrouping`` (TF ops, static shapes), which this codec configures so
that targets and decoding share the stride and the limb list.
"""

from __future__ import annotations

import dataclasses

from zoo.skeletons import get_skeleton


@dataclasses.dataclass(frozen=True)
class PafCodec:
    """Encodes the keypoints of several people to confidence maps and part affinity fields.

    Args:
        skeleton: skeleton name; its ``tree`` lists the limbs, one field (2 channels) each.
        input_size: side of the square model input, in pixels.
        stride: input pixels per map cell.
        sigma: Gaussian standard deviation of the confidence maps, in cells.
        limb_width: half-width of a limb's field, in cells (the paper's sigma_l).
    """

    skeleton: str = "lsp14"
    input_size: int = 256
    stride: int = 8
    sigma: float = 1.0
    limb_width: float = 1.0

    def __post_init__(self):
        tree = get_skeleton(self.skeleton).tree
        if not tree:
            raise ValueError(f"skeleton {self.skeleton!r} defines no tree of limbs for part affinity fields")
        if int(self.stride) <= 0 or self.input_size <= 0 or self.input_size % self.stride:
            raise ValueError(f"input_size ({self.input_size!r}) must be a positive multiple of "
                             f"stride ({self.stride!r})")
        if not self.sigma > 0:
            raise ValueError(f"sigma must be > 0, got {self.sigma!r}")
        if not self.limb_width > 0:
            raise ValueError(f"limb_width must be > 0, got {self.limb_width!r}")

    @property
    def map_size(self) -> int:
        return self.input_size // self.stride

    @property
    def limbs(self):
        """``(parent, child)`` joint indices, one part affinity field each (channels 2l, 2l + 1)."""
        return get_skeleton(self.skeleton).tree_index

    @property
    def num_joints(self) -> int:
        return get_skeleton(self.skeleton).num_joints

    def to_dict(self) -> dict:
        return {"type": "paf", **dataclasses.asdict(self)}

    def encode(self, keypoints, visible):
        """Targets of one image, in TF ops.

        Args:
            keypoints: float ``(P, K, 2)`` x, y of ``P`` people in input pixels.
            visible: ``(P, K)``, > 0 where the joint is labelled.

        Returns:
            ``heatmaps (H, W, K)``: per person and joint a Gaussian of peak 1, maximum over people
            (Eq. 7); ``pafs (H, W, 2L)``: on cells within ``limb_width`` of a limb's segment
            (0 <= v . (p - a) <= |b - a| and |v_perp . (p - a)| <= limb_width) the limb's unit
            vector v, averaged over the people whose limb covers the cell (Eq. 8-9); zero elsewhere.
        """
        import tensorflow as tf

        size = self.map_size
        pts = (tf.cast(keypoints, tf.float32) + 0.5) / float(self.stride) - 0.5  # (P, K, 2) cells
        vis = tf.cast(tf.cast(visible, tf.float32) > 0, tf.float32)  # (P, K)
        grid = tf.range(size, dtype=tf.float32)
        gx = tf.exp(-tf.square(grid - pts[..., 0:1]) / (2.0 * self.sigma ** 2))  # (P, K, W)
        gy = tf.exp(-tf.square(grid - pts[..., 1:2]) / (2.0 * self.sigma ** 2))  # (P, K, H)
        maps = gy[..., :, None] * gx[..., None, :] * vis[..., None, None]  # (P, K, H, W)
        empty = tf.zeros([1, self.num_joints, size, size])  # the maximum over no people is 0
        heatmaps = tf.transpose(tf.reduce_max(tf.concat([maps, empty], 0), axis=0), (1, 2, 0))

        parent, child = zip(*self.limbs)
        a = tf.gather(pts, parent, axis=1)  # (P, L, 2)
        b = tf.gather(pts, child, axis=1)
        both = tf.gather(vis, parent, axis=1) * tf.gather(vis, child, axis=1)  # (P, L)
        d = b - a
        length = tf.norm(d, axis=-1)  # (P, L)
        unit = d / tf.maximum(length, 1e-6)[..., None]
        valid = both * tf.cast(length > 1e-6, tf.float32)
        rx = grid[None, None, None, :] - a[..., 0, None, None]  # (P, L, 1, W)
        ry = grid[None, None, :, None] - a[..., 1, None, None]  # (P, L, H, 1)
        ux, uy = unit[..., 0, None, None], unit[..., 1, None, None]
        along = rx * ux + ry * uy  # (P, L, H, W)
        across = tf.abs(rx * uy - ry * ux)
        on = tf.cast((along >= 0) & (along <= length[..., None, None]) & (across <= self.limb_width), tf.float32)
        on = on * valid[..., None, None]
        count = tf.reduce_sum(on, axis=0)  # (L, H, W)
        fx = tf.reduce_sum(on * ux, axis=0) / tf.maximum(count, 1.0)
        fy = tf.reduce_sum(on * uy, axis=0) / tf.maximum(count, 1.0)
        pafs = tf.reshape(tf.transpose(tf.stack([fx, fy], axis=-1), (1, 2, 0, 3)), (size, size, 2 * len(self.limbs)))
        return heatmaps, pafs
