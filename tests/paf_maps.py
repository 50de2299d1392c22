"""Synthetic part confidence maps and part affinity fields in NumPy, shared by the grouping tests
(tests/zoo/test_paf_grouping.py) and the bottom-up edge tests (tests/edge/conftest.py)."""

import numpy as np

# LSP14 joints around the hips' centre, in cells (x, y).
TEMPLATE = np.array([(-2, 12), (-2, 6), (-2, 0), (2, 0), (2, 6), (2, 12), (-5, 0), (-4, -4), (-3, -9),
                     (3, -9), (4, -4), (5, 0), (0, -10), (0, -13)], np.float64)


def confidence_maps(people, h, w, k, sigma=1.0):
    """Max over people of Gaussians at each joint; ``people`` (M, K, 2) cells, NaN = absent."""
    ys, xs = np.mgrid[0:h, 0:w]
    maps = np.zeros((h, w, k))
    for joints in people:
        for part, (x, y) in enumerate(joints):
            if not np.isnan(x):
                maps[:, :, part] = np.maximum(maps[:, :, part],
                                              np.exp(-((xs - x) ** 2 + (ys - y) ** 2) / (2 * sigma ** 2)))
    return maps.astype("float32")


def ideal_pafs(people, tree, h, w, width=1.0):
    """Unit vectors parent -> child on cells within ``width`` cells of each limb, averaged where
    limbs of different people overlap."""
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float64)
    pafs = np.zeros((h, w, 2 * len(tree)))
    for limb, (a, b) in enumerate(tree):
        total, count = np.zeros((h, w, 2)), np.zeros((h, w))
        for joints in people:
            pa, pb = joints[a], joints[b]
            if np.isnan(pa).any() or np.isnan(pb).any():
                continue
            d = pb - pa
            length = np.linalg.norm(d)
            unit = d / length
            rx, ry = xs - pa[0], ys - pa[1]
            along = rx * unit[0] + ry * unit[1]
            across = np.abs(rx * unit[1] - ry * unit[0])
            on = (along >= -width) & (along <= length + width) & (across <= width)
            total[on] += unit
            count += on
        pafs[:, :, 2 * limb:2 * limb + 2] = total / np.maximum(count, 1)[:, :, None]
    return pafs.astype("float32")
