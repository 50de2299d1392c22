"""Multi-person training scenes composited from single-person LSPet samples, in core TF ops.

LSPet labels one person per image. A scene pastes 1..``max_people`` of them onto one canvas at
random scales and positions, each cut out by a soft silhouette drawn around its skeleton (thick
segments along the limbs and torso, a disc for the head), and keeps their joints. People pasted
later occlude earlier ones: an earlier person's joint under a later person's silhouette
(alpha > 0.5) becomes unlabelled, as it is no longer visible. The background is a heavily
blurred LSPet image (colours and light of a real scene, no recognisable person).

Every random choice of a scene is drawn from a stateless seed, so a held-out evaluation set is a
list of seeds over the validation split: the same scenes on every machine and run.
"""

from __future__ import annotations

import dataclasses
from typing import Optional

import numpy as np
import tensorflow as tf

from training.augment import AugmentConfig, crop_sample, warp_tf
from training.datasets.base import PoseSamples
from training.distribute import unsharded
from zoo.skeletons import get_skeleton, joint_mapping

# Extra silhouette segments beyond the drawn limbs: the torso's diagonals fill its quadrilateral.
_TORSO_DIAGONALS = (("right_shoulder", "left_hip"), ("left_shoulder", "right_hip"),
                    ("neck", "right_hip"), ("neck", "left_hip"))


@dataclasses.dataclass(frozen=True)
class SceneConfig:
    """How scenes are composed.

    Args:
        canvas: side of the square scene (the model input size).
        max_people: people per scene are drawn uniformly in ``[min_people, max_people]``.
        min_people: see ``max_people``.
        person_size: range of a person's size (largest extent of its labelled joints) as a
            fraction of the canvas.
        cutout: side of the intermediate person crop (the protocol box, augmented).
        augment: per-person crop augmentation (rotation, scale, flip; ``None`` for none); colour
            jitter is applied to each person, so people in one scene differ in light.
        background_cells: the background image is resized to this many cells per side and back
            (blur).
        photo_prob: probability that the background is the image itself (a real photo, zoomed
            to cover the canvas, its labelled person one more person of the scene, behind the
            pasted ones) instead of its blur. Its unlabelled bystanders, if any, stay unlabelled:
            LSPet labels one person per image.
        centre_range: range of a person's box centre as a fraction of the canvas; beyond
            (0.15, 0.85) people are cut by the frame (an upper body at the bottom edge).
        row_prob: probability that the people stand in a row, as in a group photo: similar
            sizes (one size +- 15 %), side by side at one height, overlapping when many.
    """

    canvas: int = 256
    max_people: int = 4
    min_people: int = 1
    person_size: tuple = (0.3, 0.85)
    cutout: int = 192
    augment: AugmentConfig = AugmentConfig(scale=0.0, rotation_deg=20.0, flip_prob=0.5, colour=0.2)
    background_cells: int = 8
    photo_prob: float = 0.0
    centre_range: tuple = (0.15, 0.85)
    row_prob: float = 0.0

    def __post_init__(self):
        for name in ("photo_prob", "row_prob"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"SceneConfig.{name} must be in [0, 1], got {getattr(self, name)}")


def _segment_distance(grid_x, grid_y, a, b):
    """Distance from every pixel of the grid to segments ``a -> b`` ``(S, 2)``: ``(S, H, W)``."""
    d = b - a
    dd = tf.maximum(tf.reduce_sum(d * d, -1), 1e-6)[:, None, None]
    rx = grid_x[None, None, :] - a[:, 0, None, None]
    ry = grid_y[None, :, None] - a[:, 1, None, None]
    t = tf.clip_by_value((rx * d[:, 0, None, None] + ry * d[:, 1, None, None]) / dd, 0.0, 1.0)
    return tf.sqrt(tf.square(rx - t * d[:, 0, None, None]) + tf.square(ry - t * d[:, 1, None, None]))


def silhouette(points, visible, size: int, skeleton: str = "lsp14", feather: float = 3.0):
    """Soft person mask ``(size, size)`` in [0, 1] around the labelled joints of one person.

    Limbs are segments of radius 7 % of the person's extent, torso diagonals 11 %, and the head
    a segment neck -> head top of radius 45 % of its length; ``feather`` pixels of soft edge.
    """
    sk = get_skeleton(skeleton)
    pairs = list(sk.limbs) + [p for p in _TORSO_DIAGONALS if p[0] in sk.joint_names and p[1] in sk.joint_names]
    ia = [sk.index(a) for a, _ in pairs]
    ib = [sk.index(b) for _, b in pairs]
    vis = tf.cast(visible > 0, tf.float32)
    labelled = tf.boolean_mask(points, vis > 0)
    extent = tf.reduce_max(tf.reduce_max(labelled, 0) - tf.reduce_min(labelled, 0))
    a, b = tf.gather(points, ia), tf.gather(points, ib)
    seg_len = tf.norm(b - a, axis=-1)
    radius = [0.07] * len(sk.limbs) + [0.11] * (len(pairs) - len(sk.limbs))
    radius = tf.constant(radius, tf.float32) * extent
    if "neck" in sk.joint_names and "head_top" in sk.joint_names:
        head = pairs.index(("neck", "head_top")) if ("neck", "head_top") in pairs else None
        if head is not None:
            radius = tf.tensor_scatter_nd_update(radius, [[head]], [0.45 * seg_len[head]])
    both = tf.gather(vis, ia) * tf.gather(vis, ib)
    grid = tf.range(size, dtype=tf.float32)
    dist = _segment_distance(grid, grid, a, b)  # (S, H, W)
    alpha = tf.clip_by_value((radius[:, None, None] - dist) / (2 * feather) + 0.5, 0.0, 1.0) * both[:, None, None]
    return tf.reduce_max(tf.concat([alpha, tf.zeros([1, size, size])], 0), axis=0)


def _paste_matrix(points, visible, canvas: int, size_fraction, centre_fraction):
    """Similarity ``(3, 3)`` cutout -> canvas scaling the person's extent to
    ``size_fraction * canvas`` and putting its box centre at ``centre_fraction * canvas``."""
    labelled = tf.boolean_mask(points, visible > 0)
    lo, hi = tf.reduce_min(labelled, 0), tf.reduce_max(labelled, 0)
    scale = size_fraction * canvas / tf.maximum(tf.reduce_max(hi - lo), 1.0)
    centre = (lo + hi) / 2.0
    t = centre_fraction * canvas - scale * centre
    zero = tf.zeros([])
    return tf.stack([tf.stack([scale, zero, t[0]]), tf.stack([zero, scale, t[1]]), tf.constant([0.0, 0.0, 1.0])])


def _row_layout(count, m: int, seed, config: SceneConfig):
    """Sizes ``(m,)`` and centres ``(m, 2)`` of ``count`` people standing in a row: one size
    +- 15 %, side by side across the middle of the canvas at one height +- 3 %."""
    seeds = tf.random.experimental.stateless_split(seed, 5)
    lo, hi = config.person_size
    base = tf.random.stateless_uniform([], seeds[0], lo, hi)
    sizes = base * tf.random.stateless_uniform([m], seeds[1], 0.85, 1.15)
    n = tf.cast(count, tf.float32)
    slot = (tf.range(m, dtype=tf.float32) + 0.5) / n  # the present people share the width
    x = 0.5 + (slot - 0.5) * tf.minimum(0.8, 0.3 * n) + tf.random.stateless_uniform([m], seeds[2], -0.03, 0.03)
    y = tf.random.stateless_uniform([], seeds[3], 0.35, 0.65) + tf.random.stateless_uniform([m], seeds[4], -0.03, 0.03)
    return sizes, tf.stack([x, y], -1)


def _photo_background(background, points, visible, seed, canvas: int):
    """The photo zoomed to cover the canvas (1-1.3x past its shorter side, at a random place)
    and its person's joints carried along: ``(image (S, S, 3), points (K, 2), visible (K,))``."""
    seeds = tf.random.experimental.stateless_split(seed, 2)
    hw = tf.cast(tf.shape(background)[:2], tf.float32)
    scale = canvas / tf.reduce_min(hw) * tf.random.stateless_uniform([], seeds[0], 1.0, 1.3)
    room = tf.maximum(hw[::-1] * scale - canvas, 0.0)  # (x, y) slack of the scaled photo
    offset = tf.random.stateless_uniform([2], seeds[1], 0.0, 1.0) * room
    zero = tf.zeros([])
    matrix = tf.stack([tf.stack([scale, zero, -offset[0]]), tf.stack([zero, scale, -offset[1]]),
                       tf.constant([0.0, 0.0, 1.0])])
    image = warp_tf(tf.cast(background, tf.float32), matrix, canvas)
    return image, points @ tf.transpose(matrix[:2, :2]) + matrix[:2, 2], visible


def compose_scene(cutouts, points, visible, background, seed, config: SceneConfig, skeleton: str = "lsp14",
                  background_points=None, background_visible=None):
    """One scene from ``max_people`` person cutouts.

    Args:
        cutouts: float ``(M, C, C, 3)`` person crops (``C = config.cutout``), ``points (M, K, 2)``
            in cutout pixels, ``visible (M, K)``.
        background: float ``(h, w, 3)`` any image (blurred into the background, or with
            probability ``config.photo_prob`` the photo itself).
        seed: int32 ``(2,)`` stateless seed of every random choice.
        background_points, background_visible: the background photo's labelled person
            ``(K, 2)``, ``(K,)`` in its pixels: the scene's first person when the photo is shown
            (the pasted ones occlude it). Required when ``photo_prob > 0``.

    Returns:
        ``image (S, S, 3)`` float in [0, 255], ``keypoints (M', K, 2)`` canvas pixels,
        ``visible (M', K)`` (0 for absent people, joints outside the canvas or occluded),
        ``areas (M',)`` visible silhouette area in pixels (the OKS scale); ``M' = M`` people,
        ``M + 1`` when ``photo_prob > 0``, the photo's person first (absent on a blur).
    """
    m = config.max_people
    s = config.canvas
    present, sizes, centres, photo_seed = _scene_layout(seed, config)
    grid_alpha, people = [], []
    cells = config.background_cells
    image = tf.image.resize(tf.image.resize(tf.cast(background, tf.float32), [cells, cells], antialias=True), [s, s])
    if config.photo_prob > 0:
        if background_points is None or background_visible is None:
            raise ValueError("a photo background needs its person (background_points, background_visible)")
        photo_seeds = tf.random.experimental.stateless_split(photo_seed, 2)
        shown = tf.cast(tf.random.stateless_uniform([], photo_seeds[0]) < config.photo_prob, tf.float32)
        photo, bg_points, bg_vis = _photo_background(background, tf.cast(background_points, tf.float32),
                                                     tf.cast(background_visible, tf.float32), photo_seeds[1], s)
        image = shown * photo + (1.0 - shown) * image
        grid_alpha.append(silhouette(bg_points, bg_vis, s, skeleton) * shown)
        people.append((bg_points, bg_vis * shown))
    for i in range(m):
        vis = visible[i] * present[i]
        mat = _paste_matrix(points[i], tf.cast(visible[i] > 0, tf.float32), s, sizes[i], centres[i])
        alpha_cut = silhouette(points[i], visible[i], config.cutout, skeleton)
        warped = warp_tf(tf.concat([cutouts[i], alpha_cut[..., None]], -1), mat, s)
        alpha = warped[..., 3:] * present[i]
        image = alpha * warped[..., :3] + (1.0 - alpha) * image
        grid_alpha.append(alpha[..., 0])
        people.append((points[i] @ tf.transpose(mat[:2, :2]) + mat[:2, 2], vis))
    kps = tf.stack([p for p, _ in people])
    vis, areas = _unoccluded(kps, tf.stack([v for _, v in people]), tf.stack(grid_alpha), s)
    return tf.clip_by_value(image, 0.0, 255.0), kps, vis, areas


def _scene_layout(seed, config: SceneConfig):
    """Who is in the scene and where: ``present (M,)`` 1 for the drawn number of people, their
    ``sizes (M,)`` and ``centres (M, 2)`` (in a row with probability ``row_prob``), and the seed
    of the photo background's choices."""
    m = config.max_people
    seeds = tf.random.experimental.stateless_split(tf.cast(seed, tf.int64), 4)
    count = tf.random.stateless_uniform([], seeds[0], config.min_people, m + 1, dtype=tf.int32)
    present = tf.cast(tf.range(m) < count, tf.float32)
    lo, hi = config.person_size
    sizes = tf.random.stateless_uniform([m], seeds[1], lo, hi)
    centres = tf.random.stateless_uniform([m, 2], seeds[2], *config.centre_range)
    # seeds[3] (unused by the default scenes, so their held-out set stays as it was) feeds the rest.
    more = tf.random.experimental.stateless_split(seeds[3], 3)
    if config.row_prob > 0:
        row_sizes, row_centres = _row_layout(count, m, more[0], config)
        in_row = tf.random.stateless_uniform([], more[1]) < config.row_prob
        sizes = tf.where(in_row, row_sizes, sizes)
        centres = tf.where(in_row, row_centres, centres)
    return present, sizes, centres, more[2]


def _unoccluded(kps, vis, alphas, s: int):
    """Visibility ``(M', K)`` without the joints outside the canvas or covered by people pasted
    later, and each person's visible silhouette area ``(M',)``; ``alphas (M', S, S)``."""
    n = kps.shape[0]
    # Occlusion by people pasted later: what covers each pixel after person i.
    later = [tf.reduce_max(tf.concat([alphas[i + 1:], tf.zeros([1, s, s])], 0), 0) for i in range(n)]
    later = tf.stack(later)  # (M', S, S)
    cell = tf.cast(tf.clip_by_value(tf.floor(kps + 0.5), 0, s - 1), tf.int32)
    idx = tf.concat([tf.broadcast_to(tf.range(n)[:, None, None], [n, kps.shape[1], 1]), cell[..., ::-1]], -1)
    covered = tf.gather_nd(later, idx) > 0.5
    inside = tf.reduce_all((kps > -0.5) & (kps < s - 0.5), -1)
    vis = vis * tf.cast(inside & ~covered, tf.float32)
    return vis, tf.reduce_sum(alphas * (1.0 - later), axis=(1, 2))


def _decode(path):
    return tf.cast(tf.io.decode_image(tf.io.read_file(path), channels=3, expand_animations=False), tf.float32)


def person_dataset(samples: PoseSamples, config: SceneConfig, augment: bool, cache: bool = True):
    """Infinite shuffled stream of ``(cutout, points, visible)`` person crops (colour-jittered)."""
    flip_index = get_skeleton(samples.skeleton).flip_index
    ds = tf.data.Dataset.from_tensor_slices((samples.image_paths, samples.keypoints, samples.visible))
    ds = ds.map(lambda p, k, v: (_decode(p), k, v), num_parallel_calls=tf.data.AUTOTUNE)
    if cache:
        ds = ds.cache()
    ds = ds.shuffle(len(samples), reshuffle_each_iteration=True).repeat()
    aug = config.augment if augment else None

    def cut(image, keypoints, visible):
        crop, pts, vis, _ = crop_sample(image, keypoints, visible, config.cutout, flip_index, aug)
        return crop, pts, vis

    return ds.map(cut, num_parallel_calls=tf.data.AUTOTUNE)


def scene_dataset(samples: PoseSamples, codec, batch_size: Optional[int], config: SceneConfig = SceneConfig(),
                  cache: bool = True, per_channel_masks: bool = False) -> tf.data.Dataset:
    """Infinite training batches ``(images, {"pafs": (B, H, W, 2L + 1), "heatmaps": (B, H, W, K + 1)})``:
    targets with the loss mask as the last channel (all ones: every composited person is labelled).
    ``per_channel_masks``: one mask channel per target channel instead (``2L + 2L``, ``K + K``),
    to mix with a dataset that lacks some joints (``scene_targets``). ``batch_size`` None:
    single examples. A model of another skeleton than the people's (a COCO-17 model on LSPet
    people) gets the scene's joints moved into its own by name (``in_skeleton``), which needs
    ``per_channel_masks``: the joints the people lack (COCO's face) are then masked, not taught
    as absent."""
    if config.canvas != codec.input_size:
        raise ValueError(f"scene canvas {config.canvas} differs from the codec's input size {codec.input_size}")
    if codec.skeleton != samples.skeleton and not per_channel_masks:
        raise ValueError(f"scenes of {samples.skeleton} people for a {codec.skeleton} model need per_channel_masks "
                         f"(the joints {samples.skeleton} lacks must be masked, not taught as absent)")
    people = person_dataset(samples, config, augment=True, cache=cache).batch(config.max_people)
    backgrounds = tf.data.Dataset.from_tensor_slices((samples.image_paths, samples.keypoints, samples.visible))
    backgrounds = backgrounds.shuffle(len(samples)).repeat()
    backgrounds = backgrounds.map(lambda p, k, v: (_decode(p), k, v), num_parallel_calls=tf.data.AUTOTUNE)
    seeds = tf.data.Dataset.random().batch(2)
    ds = tf.data.Dataset.zip((people, backgrounds, seeds))

    def make(person, background, seed):
        cutouts, pts, vis = person
        photo, photo_points, photo_visible = background
        image, kps, v, _ = compose_scene(cutouts, pts, vis, photo, seed, config, samples.skeleton,
                                         photo_points, photo_visible)
        kps, v = in_skeleton(kps, v, samples.skeleton, codec.skeleton)
        return (image,) + scene_targets(codec, kps, v, labelled=labelled)

    labelled = labelled_joints(samples.skeleton, codec.skeleton) if per_channel_masks else None
    ds = ds.map(make, num_parallel_calls=tf.data.AUTOTUNE)
    ds = ds.map(lambda image, pafs, heatmaps: (image, {"pafs": pafs, "heatmaps": heatmaps}))
    if batch_size is not None:
        ds = ds.batch(batch_size, drop_remainder=True).prefetch(tf.data.AUTOTUNE)
    return unsharded(ds)


def labelled_joints(source: str, target: str) -> np.ndarray:
    """Bool ``(K,)``: the joints of skeleton ``target`` that people of skeleton ``source`` carry
    (by name, ``zoo.skeletons.joint_mapping``)."""
    return np.asarray(joint_mapping(get_skeleton(source), get_skeleton(target))) >= 0


def in_skeleton(keypoints, visible, source: str, target: str):
    """People ``keypoints (M, K, 2)``, ``visible (M, K)`` of skeleton ``source`` moved into
    ``target`` by joint name; a joint ``source`` lacks is unlabelled (0). TF ops or NumPy."""
    if source == target:
        return keypoints, visible
    mapping = np.asarray(joint_mapping(get_skeleton(source), get_skeleton(target)))
    index, known = np.maximum(mapping, 0), (mapping >= 0).astype(np.float32)
    if isinstance(keypoints, np.ndarray):
        return keypoints[..., index, :] * known[:, None], visible[..., index] * known
    return (tf.gather(keypoints, index, axis=-2) * known[:, None], tf.gather(visible, index, axis=-1) * known)


def channel_weights(codec, labelled):
    """Per-channel loss weights ``(pafs (2L,), heatmaps (K,))`` of a dataset that labels only the
    joints where ``labelled (K,)`` is true (COCO has no head top or neck of LSP-14): a joint's
    confidence map and the fields of the limbs touching it are left out, not taught as absent."""
    labelled = tf.cast(tf.convert_to_tensor(labelled), tf.float32)
    parent, child = zip(*codec.limbs)
    limb = tf.gather(labelled, list(parent)) * tf.gather(labelled, list(child))  # (L,)
    return tf.repeat(limb, 2), labelled  # the x, y channels of limb l are 2l, 2l + 1


def scene_targets(codec, keypoints, visible, mask=None, labelled=None):
    """``(pafs, heatmaps)`` targets, each followed by its loss mask.

    ``mask (H, W)``: 0 on regions of unlabelled people (None: ones). Without ``labelled`` the
    mask is one channel (``(H, W, C + 1)`` targets); with ``labelled (K,)``, the joints the
    image's dataset labels at all, it is one channel per target channel (``(H, W, 2C)``, the
    spatial mask times ``channel_weights``), the form every source of a mixed dataset shares.
    """
    heatmaps, pafs = codec.encode(keypoints, visible)
    if mask is None:
        mask = tf.ones_like(heatmaps[..., :1])
    else:
        mask = tf.reshape(tf.cast(mask, tf.float32), [codec.map_size, codec.map_size, 1])
    if labelled is None:
        return tf.concat([pafs, mask], -1), tf.concat([heatmaps, mask], -1)
    paf_weights, map_weights = channel_weights(codec, labelled)
    return tf.concat([pafs, mask * paf_weights], -1), tf.concat([heatmaps, mask * map_weights], -1)


def heldout_scenes(samples: PoseSamples, count: int, config: SceneConfig = SceneConfig(), seed: int = 2017):
    """A fixed list of ``count`` scenes from ``samples`` (e.g. the LSPet validation split): the
    same people, scales and positions on every run. Returns NumPy arrays
    ``images (N, S, S, 3) uint8, keypoints (N, M, K, 2), visible (N, M, K), areas (N, M)``."""
    rng = np.random.default_rng(seed)
    m = config.max_people
    order = rng.permutation(len(samples))
    needed = count * m
    picks = np.concatenate([order] * (needed // len(samples) + 1))[:needed].reshape(count, m)
    backgrounds = rng.integers(0, len(samples), count)
    flip_index = get_skeleton(samples.skeleton).flip_index
    cutouts = {}

    def cutout(i):
        if i not in cutouts:
            crop, pts, vis, _ = crop_sample(_decode(samples.image_paths[i]), samples.keypoints[i],
                                            samples.visible[i], config.cutout, flip_index, None)
            cutouts[i] = (crop, pts, vis)
        return cutouts[i]

    compose = tf.function(lambda c, p, v, b, s, bp, bv: compose_scene(c, p, v, b, s, config, samples.skeleton, bp, bv),
                          reduce_retracing=True)
    out = ([], [], [], [])
    for n in range(count):
        parts = [cutout(int(i)) for i in picks[n]]
        c, p, v = (tf.stack([x[j] for x in parts]) for j in range(3))
        b = int(backgrounds[n])
        bg = _decode(samples.image_paths[b])
        image, kps, vis, areas = compose(c, p, v, bg, tf.constant([seed, n], tf.int32), samples.keypoints[b],
                                         samples.visible[b])
        for store, value in zip(out, (np.round(image.numpy()).astype(np.uint8), kps.numpy(), vis.numpy(),
                                      areas.numpy())):
            store.append(value)
    return tuple(np.stack(x) for x in out)
