"""Where a top-down model fails: the kinds of PCK misses and the worst crops, drawn.

A labelled joint missed at PCK@alpha (error > alpha x torso, ``training.metrics``) is counted as

* ``swap``: the estimate lies within alpha x torso of the *mirrored* joint (left wrist put on the
  right wrist): a left/right confusion, which flip test and more data address;
* ``near``: within 2 alpha x torso of the truth: a localisation miss, which resolution, feature
  stride and sub-pixel decoding address;
* ``far``: further than one torso from the truth: the joint is put on another body part or the
  background (Tompson et al. 2014 count these), an evidence miss;
* ``other``: the rest.

A *whole-body* swap is a person whose limb joints are mostly right only with left and right
exchanged (at least 3/4 of 8 or more labelled limb joints, against at most 1/4 as labelled): the
model saw the body but read it mirrored, or the label is observer-centric where the protocol is
person-centric (LSPet's annotations are noisy in this way). The report counts them and gives the
limb PCK with each person's labels taken mirrored where that scores more: a diagnostic bound on
what left/right costs, not the protocol.

The worst crops are the samples with the lowest fraction of correct labelled joints (ties: the
larger mean error), drawn as protocol crops with the truth in green and the estimate in the
skeleton's colours.
"""

from __future__ import annotations

from typing import Dict, List

import numpy as np

from training.metrics import LIMB_EXCLUDED, torso_sizes
from zoo.skeletons import Skeleton

KINDS = ("swap", "near", "far", "other")


def classify_misses(pred: np.ndarray, gt: np.ndarray, visible: np.ndarray, skeleton: Skeleton,
                    alpha: float = 0.2) -> Dict:
    """Counts of each kind of miss (module docstring), overall, over the limb joints and per joint,
    plus the worst samples: ``{"alpha", "labelled", "missed", "kinds", "limbs", "per_joint",
    "order"}``; ``order``: sample indices from worst to best (samples without a torso last)."""
    pred, gt, visible = np.asarray(pred, np.float64), np.asarray(gt, np.float64), np.asarray(visible) > 0
    torso = torso_sizes(gt, visible, skeleton)
    keep = np.isfinite(torso)
    t = np.where(keep, torso, 1.0)[:, None]
    lab = visible & keep[:, None]
    err = np.linalg.norm(pred - gt, axis=-1)
    mirrored = np.linalg.norm(pred - gt[:, list(skeleton.flip_index)], axis=-1)
    mirror_labelled = lab[:, list(skeleton.flip_index)]
    missed = lab & (err > alpha * t)
    kind = {
        "swap": missed & mirror_labelled & (mirrored <= alpha * t)
        & (np.arange(skeleton.num_joints) != np.array(skeleton.flip_index))[None],
    }
    kind["near"] = missed & ~kind["swap"] & (err <= 2 * alpha * t)
    kind["far"] = missed & ~kind["swap"] & (err > t)
    kind["other"] = missed & ~kind["swap"] & ~kind["near"] & ~kind["far"]

    def counts(cols) -> Dict:
        n_missed = int(missed[:, cols].sum())
        return {"labelled": int(lab[:, cols].sum()), "missed": n_missed,
                **{k: int(v[:, cols].sum()) for k, v in kind.items()}}

    limbs = [j for j, n in enumerate(skeleton.joint_names) if n not in LIMB_EXCLUDED]
    every = list(range(skeleton.num_joints))
    right = lab & ~missed
    # Whole-body swaps (module docstring): limb joints right as labelled vs right with labels mirrored.
    as_labelled = right[:, limbs].sum(1)
    as_mirrored = (mirror_labelled & (mirrored <= alpha * t))[:, limbs].sum(1)
    limb_labelled = lab[:, limbs].sum(1)
    whole = (limb_labelled >= 8) & (as_mirrored >= 0.75 * limb_labelled) & (as_labelled <= 0.25 * limb_labelled)
    correct = right.sum(1) / np.maximum(lab.sum(1), 1)
    mean_err = np.where(lab, err / t, 0).sum(1) / np.maximum(lab.sum(1), 1)
    order = np.lexsort((-mean_err, correct, ~keep))  # no torso last, then fewest correct, larger error
    return {"alpha": alpha, **counts(every), "limbs": counts(limbs),
            "per_joint": {name: counts([j]) for j, name in enumerate(skeleton.joint_names)},
            "whole_body_swaps": [int(i) for i in np.flatnonzero(whole)], "people": int(keep.sum()),
            "limbs_pck_mirror_allowed": round(100 * float(np.maximum(as_labelled, as_mirrored).sum())
                                              / max(int(limb_labelled.sum()), 1), 2),
            "order": [int(i) for i in order], "correct_fraction": [round(float(c), 4) for c in correct],
            "mean_error_torso": [round(float(e), 4) for e in mean_err]}


def format_misses(report: Dict) -> str:
    """A table of the miss kinds, limb joints and per joint (shares of the labelled joints, %)."""
    def row(name, c):
        pct = lambda v: f"{100 * v / max(c['labelled'], 1):5.1f}"  # noqa: E731
        return f"{name:<15} {pct(c['missed'])}  " + "  ".join(f"{pct(c[k])}" for k in KINDS)

    head = f"{'misses (% of labelled)':<15} missed  " + "  ".join(f"{k:>5}" for k in KINDS)
    lines = [f"PCK@{report['alpha']:g} misses by kind: swap = on the mirrored joint, near = within 2x the "
             "threshold, far = over one torso away", head, row("limb joints", report["limbs"])]
    lines += [row(name, c) for name, c in report["per_joint"].items()]
    limbs = report["limbs"]
    pck = 100 * (limbs["labelled"] - limbs["missed"]) / max(limbs["labelled"], 1)
    lines.append(f"whole-body left/right swaps: {len(report['whole_body_swaps'])} of {report['people']} people; "
                 f"limb PCK@{report['alpha']:g} {pck:.1f} %, "
                 f"{report['limbs_pck_mirror_allowed']:.1f} % if each person's labels may be mirrored (a bound, "
                 "not the protocol)")
    return "\n".join(lines)


def worst_crops_image(model, samples, report: Dict, count: int = 16, columns: int = 4) -> np.ndarray:
    """The ``count`` worst protocol crops (``report["order"]``) in a grid, truth in green and the
    model's estimate in the skeleton's colours, each labelled with its image and correct share."""
    import cv2

    from training.pipeline import evaluation_dataset
    from zoo.preprocess import transform_points
    from zoo.visualize import draw_truth_and_prediction

    index = report["order"][:count]
    subset = samples.subset(index)
    tiles: List[np.ndarray] = []
    for batch in evaluation_dataset(subset, model.input_size, batch_size=len(index)):
        crops = np.clip(np.round(batch["image"].numpy()), 0, 255).astype(np.uint8)
        matrices = batch["matrix"].numpy().astype(np.float64)
        kp, _ = model.predict_keypoints(crops)
        for n, i in enumerate(index):
            gt = transform_points(subset.keypoints[n], matrices[n])
            vis = subset.visible[n] > 0
            tile = draw_truth_and_prediction(crops[n], np.where(vis[:, None], gt, np.nan), np.asarray(kp[n]),
                                             model.skeleton, truth_colour=(0, 200, 0), prediction_colour=None,
                                             truth_thickness=3, prediction_thickness=1)
            name = samples.image_paths[i].rsplit("/", 1)[-1]
            label = f"{name} {100 * report['correct_fraction'][i]:.0f}%"
            cv2.putText(tile, label, (3, 12), cv2.FONT_HERSHEY_SIMPLEX, 0.38, (255, 255, 255), 1, cv2.LINE_AA)
            tiles.append(tile)
    s = model.input_size
    rows = -(-len(tiles) // columns)
    grid = np.zeros((rows * s, columns * s, 3), np.uint8)
    for t, tile in enumerate(tiles):
        r, c = divmod(t, columns)
        grid[r * s:(r + 1) * s, c * s:(c + 1) * s] = tile
    return grid

