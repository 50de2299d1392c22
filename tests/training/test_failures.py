"""training.failures: each kind of PCK miss counted where it is, and the worst crops drawn."""

import numpy as np

from training.failures import classify_misses, format_misses
from zoo.skeletons import get_skeleton

LSP = get_skeleton("lsp14")


def _person(shift=0.0):
    """A standing person with torso size 100 (left shoulder to right hip, LSP's torso pair)."""
    gt = np.zeros((14, 2))
    names = LSP.joint_names
    xs = {"right": 40.0, "left": 120.0}
    for j, name in enumerate(names):
        side = "left" if name.startswith("left") else "right" if name.startswith("right") else None
        y = {"ankle": 300, "knee": 240, "hip": 180, "wrist": 150, "elbow": 110, "shoulder": 60}.get(
            name.split("_")[-1], 30)
        gt[j] = (xs[side] if side else 80.0, y)
    return gt + shift


def test_every_kind_of_miss_is_counted_where_it_is():
    gt = np.stack([_person(), _person()])
    visible = np.ones((2, 14))
    torso = np.linalg.norm(gt[0, LSP.index("left_shoulder")] - gt[0, LSP.index("right_hip")])
    pred = gt.copy()
    lw, rw, lk, ra = (LSP.index(n) for n in ("left_wrist", "right_wrist", "left_knee", "right_ankle"))
    pred[0, lw] = gt[0, rw]                                    # swap: on the mirrored joint
    pred[0, lk] += (0.3 * torso, 0)                            # near: between 0.2 and 0.4 torso
    pred[0, ra] += (0, -1.5 * torso)                           # far: over one torso away
    pred[0, LSP.index("head_top")] += (0.6 * torso, 0)         # other (not a limb joint)
    visible[1, lk] = 0
    pred[1, lk] += 500                                         # unlabelled: never a miss
    report = classify_misses(pred, gt, visible, LSP)
    assert report["labelled"] == 27 and report["missed"] == 4
    assert {k: report[k] for k in ("swap", "near", "far", "other")} == {"swap": 1, "near": 1, "far": 1, "other": 1}
    assert report["limbs"]["missed"] == 3 and report["limbs"]["other"] == 0
    assert report["per_joint"]["left_wrist"]["swap"] == 1 and report["per_joint"]["right_wrist"]["missed"] == 0
    assert report["order"] == [0, 1] and report["correct_fraction"] == [round(10 / 14, 4), 1.0]
    assert "limb joints" in format_misses(report)


def test_cli_writes_the_worst_crops(tmp_path, lspet_root, capsys):
    from PIL import Image

    from tools.evaluate import main

    out = tmp_path / "failures"
    assert main(["cpm-lsp@1", "--limit", "10", "--data", str(lspet_root), "--failures", str(out), "--worst", "6"]) == 0
    printed = capsys.readouterr().out
    assert "misses by kind" in printed and "worst crops" in printed
    assert Image.open(out / "worst.jpg").size == (4 * 128, 2 * 128)  # cpm-lsp@1 crops are 128 px
    import json

    report = json.loads((out / "failures.json").read_text())
    assert len(report["worst"]) == 6 and len(report["images"]) == 10


def test_a_person_read_mirrored_is_a_whole_body_swap():
    """Every limb joint on its mirror partner: a whole-body swap, and the mirror-allowed bound
    counts that person as right; a person with one swapped wrist is not one."""
    gt = np.stack([_person(), _person(), _person()])
    visible = np.ones((3, 14))
    pred = gt.copy()
    pred[0] = gt[0, list(LSP.flip_index)]                       # read mirrored
    lw, rw = LSP.index("left_wrist"), LSP.index("right_wrist")
    pred[1, lw] = gt[1, rw]                                     # one swapped joint only
    report = classify_misses(pred, gt, visible, LSP)
    assert report["whole_body_swaps"] == [0] and report["people"] == 3
    assert report["limbs"]["missed"] == 12 + 1
    assert report["limbs_pck_mirror_allowed"] == round(100 * (36 - 1) / 36, 2)  # only person 1's wrist stays wrong
    text = format_misses(report)
    assert "whole-body left/right swaps: 1 of 3 people" in text and "97.2 % if each person's labels" in text
