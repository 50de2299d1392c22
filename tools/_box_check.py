"""How often the person box holds the whole person: the figure of ``zoo.detect``'s docstring and
the README (28 of 38 labelled people with ``simplebaseline-lsp@2``).

    python -m tools._box_check                  # the default model; one line per person, then the total
    python -m tools._box_check --model cpm-lsp

The people: the 5 MPII sample photos, the COCO photos of ``coco-mini`` whose largest labelled
person has at least 8 joints and twice the box area of the next (the first 13), and 20 photos of
the MPII subset's training side, evenly spaced in name order (the person with the largest extent).
For each, ``find_person``'s box, whether it holds every labelled joint, and the limb PCK@0.2
(torso: left shoulder to right hip, else right shoulder to left hip) of the model's pose in it.
"""

from __future__ import annotations

import argparse
import json
import sys

from tools._cli import model_name, quiet_tensorflow_start, run

LIMBS = ("left_shoulder", "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist",
         "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle")


def people(root):
    """``(name, image path, {joint name: (x, y)})`` of the labelled people checked."""
    import numpy as np

    from training.datasets.mpii import subset_split
    from zoo.skeletons import COCO17, MPII16

    def named(names, joints, visible):
        return {n: np.asarray(j, float) for n, j, v in zip(names, joints, visible) if v > 0}

    out = []
    for r in json.loads((root / "mpii-sample" / "test_mpii.json").read_text()):
        out.append((f"mpii-sample/{r['image']}", root / "mpii-sample" / r["image"],
                    named(MPII16.joint_names, r["joints"], r["joints_vis"])))
    data = json.loads((root / "coco-mini" / "annotations" / "person_keypoints_train2017.json").read_text())
    files = {i["id"]: i["file_name"] for i in data["images"]}
    by_image = {}
    for a in data["annotations"]:
        if not a.get("iscrowd"):
            by_image.setdefault(a["image_id"], []).append(a)
    coco = []
    for image_id in sorted(by_image):
        anns = sorted(by_image[image_id], key=lambda a: -a["bbox"][2] * a["bbox"][3])
        area = [a["bbox"][2] * a["bbox"][3] for a in anns]
        if anns[0]["num_keypoints"] >= 8 and (len(anns) == 1 or area[0] >= 2 * area[1]):
            k = np.asarray(anns[0]["keypoints"], float).reshape(17, 3)
            coco.append((f"coco-mini/{files[image_id]}", root / "coco-mini" / "train2017" / files[image_id],
                         named(COCO17.joint_names, k[:, :2], k[:, 2])))
    out += coco[:13]
    records = json.loads((root / "mpii-subset" / "annotations.json").read_text())
    by_image = {}
    for r in records:
        by_image.setdefault(r["image"], []).append(r)
    train = sorted(k for k, v in by_image.items() if subset_split(str(v[0]["scene"])) == "train")
    for name in train[::max(1, len(train) // 20)][:20]:
        person = max((named(MPII16.joint_names, r["joints"], r["joints_vis"]) for r in by_image[name]),
                     key=lambda p: np.ptp(np.stack(list(p.values())), 0).max())
        out.append((f"mpii-subset/{name}", root / "mpii-subset" / name, person))
    return out


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m tools._box_check", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", help="zoo name[@version] (default: the most accurate single-person model)")
    args = p.parse_args(argv)
    name = model_name(args.model)
    quiet_tensorflow_start()
    import numpy as np

    import zoo
    from training.datasets.base import data_root
    from zoo.detect import find_person
    from zoo.io import read_image
    from zoo.preprocess import crop_matrix, to_image_coords, warp

    model = zoo.load(name or zoo.most_accurate())
    held, correct, counted, checked = 0, 0, 0, people(data_root())
    for label, path, joints in checked:
        image = read_image(path)
        box = find_person(image, model)
        xy = np.stack(list(joints.values()))
        inside = bool((np.abs(xy - np.asarray(box.center)) <= box.side / 2).all())
        m = crop_matrix(box.center, box.side, model.input_size)
        kps, _ = model.predict_keypoints(warp(image, m, model.input_size)[None])
        pred = dict(zip(model.skeleton.joint_names, to_image_coords(kps[0], m)))
        pair = next(((a, b) for a, b in (("left_shoulder", "right_hip"), ("right_shoulder", "left_hip"))
                     if a in joints and b in joints), None)
        ok = ([np.linalg.norm(joints[j] - pred[j]) <= 0.2 * np.linalg.norm(joints[pair[0]] - joints[pair[1]])
               for j in LIMBS if j in joints and j in pred] if pair else [])
        held, correct, counted = held + inside, correct + sum(ok), counted + len(ok)
        print(f"{'holds' if inside else 'cuts '} {label:40s} box side {box.side:6.0f}  people seen {box.people}  "
              f"limb PCK@0.2 {sum(ok)}/{len(ok)}", flush=True)
    print(f"{model.spec.id}: the box holds every labelled joint of {held} of {len(checked)} people; limb PCK@0.2 "
          f"in it {100 * correct / max(counted, 1):.1f} % ({correct}/{counted})")
    return 0


if __name__ == "__main__":
    sys.exit(run(main, start_tensorflow=False))
