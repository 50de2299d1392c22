"""The people of the training photos as the person detector boxes them: the crops top-down
inference sees, as single-person samples.

A top-down model is run on a detector's box (``zoo.people``: the box's longer side padded by
``BOX_PADDING``, centred), and in a group photo that crop holds neighbours and cut-off people
beside the person in its centre. Protocol crops (around one person's labelled joints) never teach
the model which of them to report. These samples do: one per detector box of a training photo
(``training.real_photos``' cached boxes, ``python -m tools.person_boxes``), cropped around the box
(``PoseSamples.crop_boxes``).

- A box that holds a labelled person (IoU with its box at least ``LABEL_IOU``, each person taken
  by one box at most, best overlap first) carries that person's labels.
- A box that holds nobody the dataset labels (``training.real_photos.unlabelled_boxes``) carries
  no label of its own: with the teacher (``Experiment.teacher`` ``fill``) every joint is MoveNet
  Thunder's on the same crop, weighted by its score. Most of the MPII photos' people are such.
- A box between the two (overlapping a labelled person, but not enough to be theirs: an upper
  body, a box over two people) is left out: whose joints it should report is unclear.

Only boxes scored at least ``MIN_SCORE`` and at least ``MIN_SIDE`` pixels high count. Sources:
``coco_boxes`` (the COCO training photos, COCO-17) and ``mpii_boxes`` (the MPII subset's training
photos, MPII-16). The validation side (``split="val"``) holds the labelled validation people as
the detector boxes them (their own box file, ``python -m tools.person_boxes --split val``), to
score during training what top-down inference sees; it never teaches.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Optional

import numpy as np

from training.datasets.base import PoseSamples
from training.real_photos import (
    IGNORE_MIN_SCORE,
    boxes_path,
    load_source,
    photos_boxes,
    unlabelled_boxes,
)

#: The photo source of each box dataset.
BOX_SOURCES = {"coco_boxes": "coco_photos", "mpii_boxes": "mpii_photos"}
#: ... and its skeleton (the source dataset's own).
BOX_SKELETONS = {"coco_boxes": "coco17", "mpii_boxes": "mpii16"}
#: How a model card names each box dataset among the training data.
DATASET_DESCRIPTIONS = {
    "coco_boxes": "the COCO training photos' people as the person detector boxes them, labelled people with their "
                  "labels, unlabelled ones for the teacher (training/box_people.py)",
    "mpii_boxes": "the MPII subset's training photos' people as the person detector boxes them, likewise",
}
#: Environment variable naming the person-box cache folder; default ``runs/person_boxes``.
BOXES_ENV = "POSEZOO_PERSON_BOXES"
#: A detection counts from this score (the rule that masks unlabelled people for bottom-up training)
MIN_SCORE = IGNORE_MIN_SCORE
#: ... and this height in pixels (smaller ones are mostly parts of people and clutter).
MIN_SIDE = 32.0
#: A detection carries a labelled person's joints from this IoU with the person's box. COCO's
#: boxes cover the whole person; MPII's are its labelled joints' box, smaller than the person.
LABEL_IOU = 0.45


def default_boxes_folder() -> Path:
    """``$POSEZOO_PERSON_BOXES``, else ``runs/person_boxes`` of the repository."""
    env = os.environ.get(BOXES_ENV)
    return Path(env) if env else Path(__file__).resolve().parents[1] / "runs" / "person_boxes"


def _assign(boxes: np.ndarray, people_boxes: np.ndarray) -> np.ndarray:
    """For each detection ``(N, 4)`` x1, y1, x2, y2, the labelled person (index into
    ``people_boxes (P, 4)`` x, y, w, h) it carries, or -1: greedy by IoU, at least ``LABEL_IOU``."""
    from training.detector import box_iou

    owner = np.full(len(boxes), -1, np.int64)
    people = np.asarray(people_boxes, np.float64).reshape(-1, 4)
    if not len(boxes) or not len(people):
        return owner
    iou = box_iou(boxes, np.concatenate([people[:, :2], people[:, :2] + people[:, 2:]], 1))
    while True:
        d, p = np.unravel_index(np.argmax(iou), iou.shape)
        if iou[d, p] < LABEL_IOU:
            return owner
        owner[d] = p
        iou[d, :], iou[:, p] = -1.0, -1.0


def load_box_people(name: str, root: Optional[str] = None, split: str = "train", folder=None) -> PoseSamples:
    """The box samples of ``name`` (``BOX_SOURCES``) under the data root ``root``, the boxes read
    from ``folder`` (``default_boxes_folder``). Ids are ``"<image id>:box<i>"``; unlabelled boxes
    have no visible joint. The validation side keeps the labelled boxes only (nothing to score
    in the others)."""
    if name not in BOX_SOURCES:
        raise ValueError(f"unknown box dataset {name!r}; known: {sorted(BOX_SOURCES)}")
    if split not in ("train", "val"):
        raise ValueError(f"box datasets have a train and a val side, got split {split!r}")
    from zoo.skeletons import get_skeleton

    skeleton, source = BOX_SKELETONS[name], BOX_SOURCES[name]
    joints = get_skeleton(skeleton).num_joints
    photos = load_source(source, root, split)
    found = photos_boxes(photos, boxes_path(folder or default_boxes_folder(), source, split),
                         command=f"{source} --split val" if split == "val" else source)
    paths, kps, vis, ids, crops = [], [], [], [], []
    for i, image_id in enumerate(photos.image_ids):
        boxes, scores = found[int(image_id)]
        keep = (scores >= MIN_SCORE) & (boxes[:, 3] - boxes[:, 1] >= MIN_SIDE)
        boxes = np.asarray(boxes, np.float64)[keep]
        owner = _assign(boxes, photos.boxes[i])
        nobody = set() if split == "val" else \
            {tuple(b) for b in unlabelled_boxes(boxes, np.ones(len(boxes)), photos.boxes[i], 0.0)}
        for b, (box, person) in enumerate(zip(boxes, owner)):
            if person >= 0:
                kps.append(photos.keypoints[i][person])
                vis.append(photos.visible[i][person])
            elif tuple(box) in nobody:
                kps.append(np.zeros((joints, 2), np.float32))
                vis.append(np.zeros(joints, np.float32))
            else:
                continue
            paths.append(photos.image_paths[i])
            ids.append(f"{image_id}:box{b}")
            crops.append(box)
    return PoseSamples(paths, np.asarray(kps, np.float32).reshape(-1, joints, 2),
                       np.asarray(vis, np.float32).reshape(-1, joints), photos.skeleton, ids,
                       crop_boxes=np.asarray(crops, np.float32).reshape(-1, 4))


def load_coco_boxes(data: Optional[str] = None, split: str = "train") -> PoseSamples:
    """``coco_boxes``: the COCO training photos' people as the detector boxes them."""
    return load_box_people("coco_boxes", data, split)


def load_mpii_boxes(data: Optional[str] = None, split: str = "train") -> PoseSamples:
    """``mpii_boxes``: the MPII subset's training photos' people as the detector boxes them."""
    return load_box_people("mpii_boxes", data, split)
