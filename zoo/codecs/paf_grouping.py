"""Bottom-up greedy grouping of OpenPose (Cao et al., CVPR 2017, https://arxiv.org/abs/1611.08050,
Sec. 2.4-2.5): part confidence maps + part affinity fields (PAFs) -> people.

Written twice with the same semantics: ``group_people_numpy`` is the readable reference (NumPy,
Python loops, one image); ``PafGrouping`` is a Keras layer of TFLite builtin ops (batched, static
shapes, loops unrolled over limbs and matching rounds) that exports with the model.

Conventions: ``heatmaps (H, W, K)``, ``pafs (H, W, 2L)`` with channels ``2l, 2l + 1`` the (x, y)
field of limb ``l = tree[l] = (a, b)``, pointing from parent ``a`` to child ``b``. Map cell ``u``
is input pixel ``(u + 0.5) * stride - 0.5`` (as ``zoo.codecs.heatmap``).

The algorithm:

1. Candidates of part k: cells equal to their 3x3 max-pool (SAME) and ``> peak_threshold``; the
   ``max_candidates`` (C) highest are kept (ties: lower row-major cell first), each shifted a
   quarter cell toward its larger neighbour on each axis (out-of-map neighbours count as 0).
2. Limb ``a -> b``, candidate pair ``(i, j)``: ``d = p_j - p_i`` (refined cells), ``paf_samples``
   points ``p_i + t d``, ``t`` in ``linspace(0, 1)``, read at the nearest cell ``floor(p + 0.5)``
   (clipped to the map); ``e_t = PAF . d / max(|d|, 1e-6)``. Score = ``mean_t e_t + min(0.5 H /
   |d| - 1, 0)``; valid when ``#(e_t > paf_sample_threshold) >= min_sample_fraction *
   paf_samples`` (up to 1e-9, so that 0.7 * 10 means 7 samples) and score > 0.
3. Greedy one-to-one matching per limb: C rounds of "take the best valid pair whose row and column
   are still free" (ties: first in row-major ``(i, j)`` order).
4. Assembly in tree order: ``person[a][i]`` gets the new id ``a * C + i`` if unset, then
   ``person[b][j] = person[a][i]``.
5. A person keeps >= ``min_parts`` joints with mean joint score >= ``min_mean_score``; its score is
   ``(sum joint scores + sum connection scores) / (K + L)``; people are ordered by score, ties by
   lower id (which is what ``top_k`` does on the id axis), and the first ``max_people`` returned.

Sums are accumulated in the same order in both implementations (connections in limb order,
joints in part order, PAF samples in ``t`` order), so on the same float32 inputs they agree to
the last bit on CPU.
"""

from __future__ import annotations

import math
from typing import Sequence, Tuple

import keras
import numpy as np

DEFAULTS = dict(max_people=10, max_candidates=8, peak_threshold=0.1, paf_samples=10,
                paf_sample_threshold=0.05, min_sample_fraction=0.8, min_parts=3, min_mean_score=0.2)


def _check_tree(tree) -> Tuple[Tuple[int, int], ...]:
    try:
        edges = tuple((int(a), int(b)) for a, b in tree)
    except (TypeError, ValueError):
        raise ValueError(f"tree must be a sequence of (parent, child) index pairs, got {tree!r}") from None
    if not edges:
        raise ValueError(f"tree must have at least one (parent, child) pair, got {tree!r}")
    reached = {edges[0][0]}
    for a, b in edges:
        if a < 0 or b < 0:
            raise ValueError(f"tree joint indices must be >= 0, got edge {(a, b)!r}")
        if a not in reached:
            raise ValueError(f"tree edge {(a, b)!r} comes before any edge reaching joint {a}")
        if b in reached:
            raise ValueError(f"tree joint {b} is reached twice (edge {(a, b)!r})")
        reached.add(b)
    return edges


def _check_params(stride, max_people, max_candidates, peak_threshold, paf_samples,
                  paf_sample_threshold, min_sample_fraction, min_parts, min_mean_score) -> dict:
    if not float(stride) > 0:
        raise ValueError(f"stride must be > 0, got {stride!r}")
    for name, value, low in (("max_people", max_people, 1), ("max_candidates", max_candidates, 1),
                             ("paf_samples", paf_samples, 2), ("min_parts", min_parts, 1)):
        if int(value) != value or int(value) < low:
            raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")
    for name, value in (("peak_threshold", peak_threshold), ("paf_sample_threshold", paf_sample_threshold),
                        ("min_mean_score", min_mean_score)):
        if not math.isfinite(float(value)):
            raise ValueError(f"{name} must be a finite number, got {value!r}")
    if not 0.0 <= float(min_sample_fraction) <= 1.0:
        raise ValueError(f"min_sample_fraction must be in [0, 1], got {min_sample_fraction!r}")
    return dict(stride=float(stride), max_people=int(max_people), max_candidates=int(max_candidates),
                peak_threshold=float(peak_threshold), paf_samples=int(paf_samples),
                paf_sample_threshold=float(paf_sample_threshold),
                min_sample_fraction=float(min_sample_fraction), min_parts=int(min_parts),
                min_mean_score=float(min_mean_score))


def _check_shapes(tree, h, w, k, paf_channels, max_candidates):
    if paf_channels != 2 * len(tree):
        raise ValueError(f"pafs must have 2 * len(tree) = {2 * len(tree)} channels, got {paf_channels}")
    if max(max(e) for e in tree) >= k:
        raise ValueError(f"tree {tree!r} names joints beyond the {k} heatmap channels")
    if max_candidates > h * w:
        raise ValueError(f"max_candidates ({max_candidates}) exceeds the {h}x{w} map cells")


def _min_count(min_sample_fraction: float, paf_samples: int) -> int:
    """Samples above the threshold a valid pair needs (``ceil`` of the fraction, float noise aside)."""
    return int(math.ceil(min_sample_fraction * paf_samples - 1e-9))


def group_people_numpy(heatmaps, pafs, tree, stride, **params):
    """Reference grouping of one image (plain NumPy, Python loops; same result as ``PafGrouping``).

    Args:
        heatmaps: ``(H, W, K)`` part confidence maps.
        pafs: ``(H, W, 2L)`` part affinity fields, ``L = len(tree)``.
        tree: ``(parent, child)`` joint-index pairs, root first (limb ``l`` = ``tree[l]``).
        stride: input pixels per map cell.
        **params: ``max_people``, ``max_candidates``, ``peak_threshold``, ``paf_samples``,
            ``paf_sample_threshold``, ``min_sample_fraction``, ``min_parts``, ``min_mean_score``
            (defaults in ``DEFAULTS``).

    Returns ``people`` float32 ``(P, K, 3)`` (x, y in input pixels, score; zeros where a joint or
    a person is absent) and ``scores`` float32 ``(P,)``.
    """
    unknown = set(params) - set(DEFAULTS)
    if unknown:
        raise TypeError(f"unknown grouping parameters {sorted(unknown)}")
    tree = _check_tree(tree)
    p = _check_params(stride, **{**DEFAULTS, **params})
    hm = np.asarray(heatmaps, np.float32)
    paf = np.asarray(pafs, np.float32)
    if hm.ndim != 3 or paf.ndim != 3 or hm.shape[:2] != paf.shape[:2]:
        raise ValueError(f"heatmaps (H, W, K) and pafs (H, W, 2L) must share H, W, got {hm.shape}, {paf.shape}")
    h, w, k = hm.shape
    _check_shapes(tree, h, w, k, paf.shape[2], p["max_candidates"])
    cx, cy, cscore, cvalid = _candidates_numpy(hm, p["max_candidates"], p["peak_threshold"])
    person, connection_sum = _connect_limbs_numpy(paf, tree, cx, cy, cvalid, p)
    people, kept = _scored_people_numpy(person, cscore, connection_sum, len(tree), p)
    return _people_arrays_numpy(people, kept, cx, cy, cscore, p)


def _candidates_numpy(hm, c: int, peak_threshold: float):
    """Step 1: each part's C best peaks as ``(K, C)`` refined cell x, y, score and valid flag."""
    f32 = np.float32
    h, w, k = hm.shape
    padded = np.pad(hm, ((1, 1), (1, 1), (0, 0)), constant_values=-np.inf)
    pooled = np.max([padded[dy:dy + h, dx:dx + w] for dy in range(3) for dx in range(3)], axis=0)
    peak = (hm == pooled) & (hm > f32(peak_threshold))
    zero = np.pad(hm, ((1, 1), (1, 1), (0, 0)))
    sign_x = np.sign(zero[1:-1, 2:] - zero[1:-1, :-2])
    sign_y = np.sign(zero[2:, 1:-1] - zero[:-2, 1:-1])
    cx, cy = np.zeros((k, c), f32), np.zeros((k, c), f32)
    cscore, cvalid = np.zeros((k, c), f32), np.zeros((k, c), bool)
    for part in range(k):
        key = np.where(peak[:, :, part], hm[:, :, part], -np.inf).reshape(-1)
        order = np.argsort(-key, kind="stable")[:c]
        for slot, cell in enumerate(order):
            v, u = divmod(int(cell), w)
            cx[part, slot] = f32(u) + f32(0.25) * sign_x[v, u, part]
            cy[part, slot] = f32(v) + f32(0.25) * sign_y[v, u, part]
            if key[cell] > -np.inf:
                cscore[part, slot], cvalid[part, slot] = hm[v, u, part], True
    return cx, cy, cscore, cvalid


def _connect_limbs_numpy(paf, tree, cx, cy, cvalid, p: dict):
    """Steps 2-4: ``person (K, C)`` ids (-1: none) and each id's sum of connection scores."""
    f32 = np.float32
    h = paf.shape[0]
    n_samples = p["paf_samples"]
    t = np.linspace(0.0, 1.0, n_samples).astype(f32)
    min_count = _min_count(p["min_sample_fraction"], n_samples)
    half_height, sample_threshold = f32(0.5 * h), f32(p["paf_sample_threshold"])
    person = -np.ones(cx.shape, np.int64)
    connection_sum = {}  # id -> sum of its connection scores, in limb order
    for limb, (a, b) in enumerate(tree):
        score = _limb_scores_numpy(paf[:, :, 2 * limb:2 * limb + 2], (cx[a], cy[a], cvalid[a]),
                                   (cx[b], cy[b], cvalid[b]), t, min_count, half_height, sample_threshold)
        _match_limb_numpy(score, a, b, person, connection_sum)
    return person, connection_sum


def _limb_scores_numpy(field, parent, child, t, min_count: int, half_height, sample_threshold):
    """Step 2: the ``(C, C)`` scores of one limb's candidate pairs, -1 where a pair is not valid."""
    f32 = np.float32
    (ax, ay, a_valid), (bx, by, b_valid) = parent, child
    h, w = field.shape[:2]
    c = len(ax)
    score = np.full((c, c), -1.0, f32)
    for i in range(c):
        for j in range(c):
            if not (a_valid[i] and b_valid[j]):
                continue
            dx, dy = bx[j] - ax[i], by[j] - ay[i]
            norm = max(np.sqrt(dx * dx + dy * dy), f32(1e-6))
            total, above = f32(0.0), 0
            for tt in t:
                px, py = ax[i] + tt * dx, ay[i] + tt * dy
                u = int(min(max(np.floor(px + f32(0.5)), 0), w - 1))
                v = int(min(max(np.floor(py + f32(0.5)), 0), h - 1))
                e = (field[v, u, 0] * dx + field[v, u, 1] * dy) / norm
                total = total + e
                above += int(e > sample_threshold)
            s = total / f32(len(t)) + min(half_height / norm - f32(1.0), f32(0.0))
            if above >= min_count and s > 0:
                score[i, j] = s
    return score


def _match_limb_numpy(score, a: int, b: int, person, connection_sum: dict) -> None:
    """Steps 3-4: greedy one-to-one matching of limb ``a -> b``, into ``person`` and ``connection_sum``."""
    f32 = np.float32
    c = score.shape[0]
    available = score > 0
    for _ in range(c):
        flat = int(np.argmax(np.where(available, score, f32(-1.0))))
        i, j = divmod(flat, c)
        if not available[i, j]:
            break
        available[i, :], available[:, j] = False, False
        if person[a, i] < 0:
            person[a, i] = a * c + i
        person[b, j] = person[a, i]
        pid = int(person[a, i])
        connection_sum[pid] = connection_sum.get(pid, f32(0.0)) + score[i, j]


def _scored_people_numpy(person, cscore, connection_sum: dict, n_limbs: int, p: dict):
    """Step 5: each id's ``(part, slot)`` joints, and the kept ``(score, id)`` pairs, best first."""
    f32 = np.float32
    k, c = person.shape
    people = {}
    for part in range(k):  # joints in part order, so the score sums run in part order
        for slot in range(c):
            pid = int(person[part, slot])
            if pid >= 0:
                people.setdefault(pid, []).append((part, slot))
    kept = []
    for pid, joints in people.items():
        joint_sum = f32(0.0)
        for part, slot in joints:
            joint_sum = joint_sum + cscore[part, slot]
        mean = joint_sum / f32(len(joints))
        if len(joints) >= p["min_parts"] and mean >= f32(p["min_mean_score"]):
            kept.append(((joint_sum + connection_sum.get(pid, f32(0.0))) / f32(k + n_limbs), pid))
    kept.sort(key=lambda item: (-item[0], item[1]))
    return people, kept


def _people_arrays_numpy(people: dict, kept, cx, cy, cscore, p: dict):
    """Step 6: the first ``max_people`` kept people as ``(P, K, 3)`` input-pixel joints and ``(P,)`` scores."""
    f32 = np.float32
    n_people, k = p["max_people"], cx.shape[0]
    out = np.zeros((n_people, k, 3), f32)
    scores = np.zeros((n_people,), f32)
    s = f32(p["stride"])
    for rank, (person_score, pid) in enumerate(kept[:n_people]):
        scores[rank] = person_score
        for part, slot in people[pid]:
            out[rank, part] = ((cx[part, slot] + f32(0.5)) * s - f32(0.5),
                               (cy[part, slot] + f32(0.5)) * s - f32(0.5), cscore[part, slot])
    return out, scores


@keras.saving.register_keras_serializable(package="zoo")
class PafGrouping(keras.layers.Layer):
    """OpenPose's greedy bottom-up grouping (Cao et al., CVPR 2017, Sec. 2.4-2.5) as a layer of
    TFLite builtin ops; ``group_people_numpy`` is its reference (same algorithm and tie rules,
    described in this module's docstring).

    Args:
        tree: ``(parent, child)`` joint-index pairs, root first; limb ``l`` reads PAF channels
            ``2l, 2l + 1`` (e.g. ``LSP14.tree_index``).
        stride: input pixels per map cell.
        max_people: P, output slots; the people beyond the P best are dropped.
        max_candidates: C, peaks kept per part (the C highest); weaker peaks are dropped.
        peak_threshold, paf_samples, paf_sample_threshold, min_sample_fraction, min_parts,
            min_mean_score: see the module docstring.

    Call: ``heatmaps (N, H, W, K)``, ``pafs (N, H, W, 2L)`` -> ``people (N, P, K, 3)`` (x, y in
    input pixels, joint score; zeros for missing joints and empty slots) and ``scores (N, P)``
    (0 for empty slots), people sorted by score. Shapes are static: no data-dependent loops.
    """

    def __init__(self, tree: Sequence[Tuple[int, int]], stride: float, max_people: int = 10,
                 max_candidates: int = 8, peak_threshold: float = 0.1, paf_samples: int = 10,
                 paf_sample_threshold: float = 0.05, min_sample_fraction: float = 0.8,
                 min_parts: int = 3, min_mean_score: float = 0.2, **kwargs):
        super().__init__(**kwargs)
        self.tree = _check_tree(tree)
        params = _check_params(stride, max_people, max_candidates, peak_threshold, paf_samples,
                               paf_sample_threshold, min_sample_fraction, min_parts, min_mean_score)
        for name, value in params.items():
            setattr(self, name, value)

    def compute_output_shape(self, heatmaps_shape, pafs_shape=None):
        n, k = heatmaps_shape[0], heatmaps_shape[-1]
        return (n, self.max_people, k, 3), (n, self.max_people)

    def get_config(self):
        return {**super().get_config(), "tree": [list(e) for e in self.tree], "stride": self.stride,
                **{name: getattr(self, name) for name in DEFAULTS}}

    def call(self, heatmaps, pafs):
        import tensorflow as tf

        f32 = tf.float32
        heatmaps, pafs = tf.cast(heatmaps, f32), tf.cast(pafs, f32)
        _, h, w, k = heatmaps.shape
        if None in (h, w, k) or pafs.shape[-1] is None:
            raise ValueError(f"PafGrouping needs static H, W, K, 2L, got {heatmaps.shape}, {pafs.shape}")
        _check_shapes(self.tree, h, w, k, pafs.shape[-1], self.max_candidates)
        neg_inf = tf.constant(-np.inf, f32)
        # The helpers run in this order and create their ops in the order the steps describe, so
        # the graph (and its TFLite and ONNX exports) has the same ops in the same order.
        cx, cy, cscore, valid = self._candidates(heatmaps, neg_inf)
        person, connection_sum, slot_range = self._connect_limbs(pafs, cx, cy, valid, h, w)
        return self._top_people(person, connection_sum, slot_range, cx, cy, cscore, neg_inf)

    def _candidates(self, heatmaps, neg_inf):
        """Step 1: candidates ``(N, K, C)``: refined cell x, y, score (0 when invalid), valid."""
        import tensorflow as tf

        f32 = tf.float32
        _, h, w, k = heatmaps.shape
        c, hw = self.max_candidates, h * w
        pooled = tf.nn.max_pool2d(heatmaps, 3, 1, "SAME")
        peak = tf.logical_and(tf.equal(heatmaps, pooled), heatmaps > self.peak_threshold)
        key = tf.where(peak, heatmaps, neg_inf)
        key = tf.reshape(tf.transpose(key, (0, 3, 1, 2)), (-1, k, hw))
        top, cell = tf.math.top_k(key, c)  # ties: lower cell first
        valid = top > neg_inf
        cscore = tf.where(valid, top, 0.0)
        zero = tf.pad(heatmaps, ((0, 0), (1, 1), (1, 1), (0, 0)))
        sign_x = tf.sign(zero[:, 1:-1, 2:] - zero[:, 1:-1, :-2])
        sign_y = tf.sign(zero[:, 2:, 1:-1] - zero[:, :-2, 1:-1])
        signs = tf.reshape(tf.transpose(tf.stack([sign_x, sign_y], -1), (0, 3, 1, 2, 4)), (-1, k, hw, 2))
        signs = tf.gather(signs, cell, batch_dims=2)  # (N, K, C, 2)
        cx = tf.cast(tf.math.floormod(cell, w), f32) + 0.25 * signs[..., 0]
        cy = tf.cast(tf.math.floordiv(cell, w), f32) + 0.25 * signs[..., 1]
        return cx, cy, cscore, valid

    def _connect_limbs(self, pafs, cx, cy, valid, h: int, w: int):
        """Steps 2-4, limbs in tree order: K id maps ``(N, C)``, ``connection_sum (N, K*C)``, slot range."""
        import tensorflow as tf

        f32 = tf.float32
        k, c, n_limbs, n_samples = cx.shape[1], self.max_candidates, len(self.tree), self.paf_samples
        slots = k * c
        t = tf.constant(np.linspace(0.0, 1.0, n_samples).astype("float32"))
        min_count = float(_min_count(self.min_sample_fraction, n_samples))
        pafs = tf.reshape(pafs, (-1, h * w, 2 * n_limbs))
        flat_row = tf.constant(np.arange(c * c) // c, tf.int32)
        flat_col = tf.constant(np.arange(c * c) % c, tf.int32)
        flat_range = tf.range(c * c, dtype=tf.int32)
        slot_range = tf.range(slots, dtype=f32)
        person = [tf.fill(tf.shape(cx[:, 0]), -1.0) for _ in range(k)]  # K x (N, C) ids
        connection_sum = tf.zeros_like(cx[:, 0, :1]) + tf.zeros((slots,))  # (N, K*C)
        for limb, (a, b) in enumerate(self.tree):
            score, available = self._limb_scores(pafs, limb, cx, cy, valid, t, min_count, h, w)
            matched = self._greedy_match(score, available, flat_row, flat_col, flat_range)
            connection_sum = self._assign_ids(person, a, b, matched, score, slot_range, connection_sum)
        return person, connection_sum, slot_range

    def _limb_scores(self, pafs, limb: int, cx, cy, valid, t, min_count: float, h: int, w: int):
        """Step 2 for one limb: pair scores ``(N, C*C)`` (-1 where not valid) and the valid pairs."""
        import tensorflow as tf

        f32 = tf.float32
        (a, b), c, n_samples = self.tree[limb], self.max_candidates, self.paf_samples
        dx = cx[:, b, None, :] - cx[:, a, :, None]  # (N, C_a, C_b)
        dy = cy[:, b, None, :] - cy[:, a, :, None]
        norm = tf.maximum(tf.sqrt(dx * dx + dy * dy), 1e-6)
        px = cx[:, a, :, None, None] + t * dx[..., None]  # (N, C, C, S)
        py = cy[:, a, :, None, None] + t * dy[..., None]
        u = tf.cast(tf.clip_by_value(tf.floor(px + 0.5), 0.0, w - 1.0), tf.int32)
        v = tf.cast(tf.clip_by_value(tf.floor(py + 0.5), 0.0, h - 1.0), tf.int32)
        index = tf.reshape(v * w + u, (-1, c * c * n_samples))
        field = tf.gather(pafs[:, :, 2 * limb:2 * limb + 2], index, batch_dims=1)
        field = tf.reshape(field, (-1, c, c, n_samples, 2))
        e = (field[..., 0] * dx[..., None] + field[..., 1] * dy[..., None]) / norm[..., None]
        samples = tf.unstack(e, axis=-1)
        total = samples[0]
        for sample in samples[1:]:  # in t order, as the reference
            total = total + sample
        above = tf.reduce_sum(tf.cast(e > self.paf_sample_threshold, f32), axis=-1)
        score = total / float(n_samples) + tf.minimum(0.5 * h / norm - 1.0, 0.0)
        ok = tf.logical_and(above >= min_count, score > 0.0)
        ok = tf.logical_and(ok, tf.logical_and(valid[:, a, :, None], valid[:, b, None, :]))
        score = tf.reshape(tf.where(ok, score, -1.0), (-1, c * c))
        available = tf.reshape(ok, (-1, c * c))
        return score, available

    def _greedy_match(self, score, available, flat_row, flat_col, flat_range):
        """Step 3: C unrolled rounds of greedy one-to-one matching; the matched pairs ``(N, C, C)`` as 0/1."""
        import tensorflow as tf

        f32 = tf.float32
        c = self.max_candidates
        matched = tf.zeros_like(score)
        for _ in range(c):
            best, pick = tf.math.top_k(tf.where(available, score, -1.0), 1)  # ties: first (i, j)
            found = best > 0.0
            hit = tf.logical_and(tf.equal(flat_range, pick), found)
            matched = matched + tf.cast(hit, f32)
            same = tf.logical_or(tf.equal(flat_row, pick // c), tf.equal(flat_col, pick % c))
            available = tf.logical_and(available, tf.logical_not(tf.logical_and(same, found)))
        return tf.reshape(matched, (-1, c, c))

    def _assign_ids(self, person, a: int, b: int, matched, score, slot_range, connection_sum):
        """Step 4 for limb ``a -> b``: sets ``person[a]``, ``person[b]``; returns the new ``connection_sum``."""
        import tensorflow as tf

        f32 = tf.float32
        c = self.max_candidates
        row_has = tf.reduce_sum(matched, axis=2)  # (N, C_a), 0 or 1
        col_has = tf.reduce_sum(matched, axis=1)  # (N, C_b)
        id_a = tf.where(tf.logical_and(person[a] < 0, row_has > 0),
                        tf.constant(a * c + np.arange(c), f32), person[a])
        person[a] = id_a
        id_b = tf.reduce_sum(matched * id_a[:, :, None], axis=1)  # one term per column
        person[b] = tf.where(col_has > 0, id_b, person[b])
        row_score = tf.reduce_sum(matched * tf.reshape(tf.maximum(score, 0.0), (-1, c, c)), axis=2)
        member = tf.cast(tf.equal(id_a[:, :, None], slot_range), f32) * row_has[:, :, None]
        return connection_sum + tf.reduce_sum(member * row_score[:, :, None], axis=1)

    def _top_people(self, person, connection_sum, slot_range, cx, cy, cscore, neg_inf):
        """Steps 5-6: people per id slot, then the top P as ``people (N, P, K, 3)`` and ``scores (N, P)``."""
        import tensorflow as tf

        f32 = tf.float32
        k, slots, n_limbs = cx.shape[1], slot_range.shape[0], len(self.tree)
        ids = tf.stack(person, axis=1)  # (N, K, C)
        member = tf.cast(tf.equal(ids[..., None], slot_range), f32)  # (N, K, C, K*C)
        s = self.stride
        px = (cx + 0.5) * s - 0.5
        py = (cy + 0.5) * s - 0.5
        joints = tf.stack([tf.reduce_sum(member * q[..., None], axis=2) for q in (px, py, cscore)],
                          axis=-1)  # (N, K, K*C, 3), one term per sum
        count = tf.reduce_sum(member, axis=(1, 2))  # (N, K*C)
        part_scores = tf.unstack(joints[..., 2], axis=1)
        joint_sum = part_scores[0]
        for part_score in part_scores[1:]:  # in part order, as the reference
            joint_sum = joint_sum + part_score
        mean = joint_sum / tf.maximum(count, 1.0)
        keep = tf.logical_and(count >= self.min_parts, mean >= self.min_mean_score)
        person_score = (joint_sum + connection_sum) / float(k + n_limbs)
        n_top = min(self.max_people, slots)
        best, order = tf.math.top_k(tf.where(keep, person_score, neg_inf), n_top)  # ties: lower id
        found = best > neg_inf
        people = tf.gather(tf.transpose(joints, (0, 2, 1, 3)), order, batch_dims=1)  # (N, P, K, 3)
        people = tf.where(found[:, :, None, None], people, 0.0)
        scores = tf.where(found, best, 0.0)
        if n_top < self.max_people:
            pad = self.max_people - n_top
            people = tf.pad(people, ((0, 0), (0, pad), (0, 0), (0, 0)))
            scores = tf.pad(scores, ((0, 0), (0, pad)))
        return people, scores
