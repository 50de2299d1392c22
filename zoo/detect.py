"""Finding the person to crop in a photo, for single-person (top-down) models.

Candidates are the boxes of the zoo's person detector (``zoo.detectors``, NanoDet); only where
it is not loaded, OpenCV's HOG pedestrian detections (Dalal & Triggs, CVPR 2005; ships inside
OpenCV, no download) plus a coarse grid of square windows at several scales, each scored by the
pose model itself (mean joint confidence). The best few distinct candidates are then refined
with the pose predicted in them, after MoveNet's cropping algorithm (Google, 2021): each round
predicts in a crop somewhat larger than the current box (``CONTEXT``), so a person the box cuts
shows the rest of their body, and the next box is the union of the protocol box of the confident
joints (1.25 x their extent) and a square around the hips sized by the torso (``TORSO_REACH``),
which reaches the legs of a seated or half-hidden person whose leg joints the model does not see
yet. The box returned is the protocol box of the last pose, ``FINAL_MARGIN`` larger. Refined boxes
that found the same person merge; those whose pose has a few confident joints (``PERSON_JOINTS``)
are the people seen, and the largest, most central of them is the one returned
(``PersonBox.people`` says how many were seen; 0: no person found, the box is the best guess).
``python -m tools._box_check`` measures how often the box holds every labelled joint of a person.
"""

from __future__ import annotations

import dataclasses
from typing import List, Optional, Sequence

import numpy as np

from zoo.preprocess import BOX_PADDING, crop_matrix, transform_points, warp

#: Each refinement predicts in a crop this much larger than the box (the rest of a cut person).
CONTEXT = 1.3
#: MoveNet's crop reach around the hips' midpoint: 1.9 x the torso's extent from it.
TORSO_REACH = 1.9
#: The box returned: the protocol box of the pose found, this much larger (the model places the
#: extremities, ankles and head top, a little short of where they are, and a joint outside the
#: crop is lost).
FINAL_MARGIN = 1.1
#: A refined pose counts as a person with at least ``PERSON_JOINTS`` joints scoring ``JOINT_SCORE``
#: or more (on photos without a person, noise included, no joint reached 0.3; a person half hidden
#: by a table or the photo's edge still shows three).
PERSON_JOINTS, JOINT_SCORE = 3, 0.3
#: How much a person's distance from the photo's centre counts against their size when choosing
#: one: a person in a corner counts as 1 - CENTRALITY times their size.
CENTRALITY = 0.7
#: Distinct candidates refined (best scores first).
HYPOTHESES = 5
#: Detector boxes scored at least this share of the best box count as people seen.
DETECTOR_PEOPLE = 0.3
TORSO_JOINTS = ("left_shoulder", "right_shoulder", "left_hip", "right_hip")


@dataclasses.dataclass(frozen=True)
class PersonBox:
    """A square crop around a person: centre (x, y) and side in image pixels, and a score.

    ``people``: how many people the search saw (``find_person``; 0: none, the box is its best
    guess); 1 for a box made otherwise (e.g. a tracked one)."""

    center: tuple
    side: float
    score: float
    source: str  # "detector", "hog", "grid", "refined" or "tracked"
    people: int = 1
    area: float = 0.0  # of the detector's own box, where it came from one (it is not square)


def hog_boxes(image: np.ndarray, max_side: int = 640) -> List[PersonBox]:
    """HOG pedestrian detections as squares (the 64x128 window's height holds the person with
    margins, about the protocol's 1.25 x the person's extent)."""
    import cv2

    h, w = image.shape[:2]
    scale = min(1.0, max_side / max(h, w))
    small = cv2.resize(image, (int(round(w * scale)), int(round(h * scale)))) if scale < 1 else image
    hog = cv2.HOGDescriptor()
    hog.setSVMDetector(cv2.HOGDescriptor_getDefaultPeopleDetector())
    rects, weights = hog.detectMultiScale(cv2.cvtColor(small, cv2.COLOR_RGB2GRAY), winStride=(8, 8),
                                          padding=(16, 16), scale=1.05)
    out = []
    for (x, y, bw, bh), wt in zip(rects, np.asarray(weights).reshape(-1)):
        x, y, bw, bh = (float(v) / scale for v in (x, y, bw, bh))
        out.append(PersonBox((x + bw / 2, y + bh / 2), max(bw, bh), float(wt), "hog"))
    return out


def grid_boxes(image: np.ndarray, fractions=(1.0, 0.75, 0.5, 0.35)) -> List[PersonBox]:
    """Square windows whose side is a fraction of the image height, on a grid with a step of a quarter side."""
    h, w = image.shape[:2]
    out = []
    for f in fractions:
        side = f * max(h, w) if f == 1.0 else f * h
        step = side / 4
        ys = np.arange(side / 2, max(h - side / 2, side / 2) + 1, step)
        xs = np.arange(side / 2, max(w - side / 2, side / 2) + 1, step)
        for cy in ys:
            for cx in xs:
                out.append(PersonBox((float(cx), float(cy)), float(side), 0.0, "grid"))
    return out


def _poses(image, model, boxes: Sequence[PersonBox], factor: float = 1.0, batch: int = 64):
    """``model``'s poses in the squares ``boxes`` (sides x ``factor``), in image pixels:
    ``(keypoints (N, K, 2), scores (N, K))``."""
    size = model.input_size
    keypoints, scores = [], []
    for i in range(0, len(boxes), batch):
        mats = [crop_matrix(b.center, b.side * factor, size) for b in boxes[i:i + batch]]
        kps, sc = model.predict_keypoints(np.stack([warp(image, m, size) for m in mats]))
        keypoints += [transform_points(k, np.linalg.inv(m)) for k, m in zip(np.asarray(kps), mats)]
        scores.append(np.asarray(sc))
    return np.stack(keypoints), np.concatenate(scores)


def pose_box(points: np.ndarray, scores: np.ndarray, min_score: float, source: str) -> Optional[PersonBox]:
    """The protocol box (``BOX_PADDING`` x the longer side) of a pose's confident joints, in
    the pose's own coordinates; None with fewer than 4 joints at ``min_score``."""
    ok = scores >= min_score
    if ok.sum() < 4:
        return None
    lo, hi = points[ok].min(0), points[ok].max(0)
    return PersonBox(tuple(float(v) for v in (lo + hi) / 2), float(BOX_PADDING * max((hi - lo).max(), 1.0)),
                     float(scores.mean()), source)


def torso_box(points: np.ndarray, scores: np.ndarray, torso: Optional[Sequence[int]], min_score: float):
    """MoveNet's crop of a pose: a square centred on the hips' midpoint reaching ``TORSO_REACH``
    x the torso joints' furthest offset from it (a standing person's head and feet, a seated
    person's knees). ``(centre, side)``, or None without the four torso joints at ``min_score``."""
    if torso is None or not (scores[list(torso)] >= min_score).all():
        return None
    centre = points[list(torso[2:])].mean(0)
    reach = TORSO_REACH * np.abs(points[list(torso)] - centre).max()
    return centre, 2 * reach


def refined_box(points, scores, torso, min_score: float) -> Optional[PersonBox]:
    """The square holding both ``pose_box`` and ``torso_box`` of a pose (None like ``pose_box``)."""
    box = pose_box(points, scores, min_score, "refined")
    reach = torso_box(points, scores, torso, min_score)
    if box is None or reach is None:
        return box
    lo = np.minimum(np.asarray(box.center) - box.side / 2, reach[0] - reach[1] / 2)
    hi = np.maximum(np.asarray(box.center) + box.side / 2, reach[0] + reach[1] / 2)
    return dataclasses.replace(box, center=tuple(float(v) for v in (lo + hi) / 2), side=float((hi - lo).max()))


def overlap(a: PersonBox, b: PersonBox) -> float:
    """Intersection over union of two square boxes."""
    (ax, ay), (bx, by), ha, hb = a.center, b.center, a.side / 2, b.side / 2
    w = max(0.0, min(ax + ha, bx + hb) - max(ax - ha, bx - hb))
    h = max(0.0, min(ay + ha, by + hb) - max(ay - ha, by - hb))
    return w * h / (a.side ** 2 + b.side ** 2 - w * h)


def distinct(boxes: Sequence[PersonBox], scores, threshold: float) -> List[int]:
    """Indices of ``boxes``, best score first, leaving out any that overlaps a better one by more
    than ``threshold`` (non-maximum suppression)."""
    keep: List[int] = []
    for i in np.argsort(-np.asarray(scores), kind="stable"):
        if all(overlap(boxes[i], boxes[j]) <= threshold for j in keep):
            keep.append(int(i))
    return keep


def _torso_index(model) -> Optional[List[int]]:
    skeleton = getattr(model, "skeleton", None)
    names = list(getattr(skeleton, "joint_names", ()))
    return [names.index(j) for j in TORSO_JOINTS] if all(j in names for j in TORSO_JOINTS) else None


def find_person(image: np.ndarray, model, min_score: float = 0.2, refinements: int = 3) -> PersonBox:
    """The square box of the largest, most central person in an RGB image, found with ``model``
    (anything with ``predict_keypoints`` and ``input_size``; its ``skeleton``, when it has one,
    names the torso joints); ``PersonBox.people`` is how many people were seen.

    With the person detector, "largest" is the square root of its box's area (a crouching batter's
    box is larger than a thin upright bystander's, whose square would be), weighted by centrality as
    below, among
    the boxes scored at least ``DETECTOR_PEOPLE`` x the best; the chosen box is then refined on its
    pose. Without it, HOG and the grid are searched as the module docstring says."""
    found = detector_boxes(image)
    if not found:
        return choose_person(image, model, candidates(image, model, min_score), min_score, refinements)
    people = [b for b in found if b.score >= DETECTOR_PEOPLE * found[0].score]
    chosen = max(people, key=lambda b: np.sqrt(b.area) * _centrality(b, image.shape))
    refined = choose_person(image, model, [chosen], min_score, refinements)
    return dataclasses.replace(refined, people=len(people) if refined.people else 0)


def detector_boxes(image: np.ndarray) -> Optional[List[PersonBox]]:
    """The published person detector's boxes (``zoo.detectors``, best first) as protocol squares
    (``BOX_PADDING`` x the box's longer side), or None when the detector cannot be loaded (not
    published in this install, or its weights fail their check): then HOG and the grid serve."""
    from zoo.specs import ModelNotFoundError, WeightsIntegrityError, WeightsNotPublishedError

    try:
        from zoo.detectors import person_boxes

        boxes, scores = person_boxes(image)
    except (ModelNotFoundError, WeightsNotPublishedError, WeightsIntegrityError, OSError):
        return None
    centres = (boxes[:, :2] + boxes[:, 2:]) / 2.0 - 0.5  # edges -> pixel centres (crop_matrix's convention)
    sides = BOX_PADDING * np.maximum((boxes[:, 2:] - boxes[:, :2]).max(1), 1.0)
    areas = np.prod(boxes[:, 2:] - boxes[:, :2], axis=1)
    return [PersonBox((float(c[0]), float(c[1])), float(side), float(score), "detector", area=float(area))
            for c, side, score, area in zip(centres, sides, scores, areas)]


def candidates(image: np.ndarray, model, min_score: float = 0.2) -> List[PersonBox]:
    """The person detector's ``HYPOTHESES`` best boxes (``detector_boxes``); where it is not
    loaded or finds nobody, the best distinct windows of HOG and the grid by the mean joint score
    of ``model``'s pose in them, those scoring ``min_score`` or more (else the best one)."""
    found = detector_boxes(image)
    if found:
        return found[:HYPOTHESES]
    boxes = hog_boxes(image) + grid_boxes(image)
    _, scores = _poses(image, model, boxes)
    mean = scores.mean(1)
    keep = [i for i in distinct(boxes, mean, 0.3) if mean[i] >= min_score][:HYPOTHESES]
    return [dataclasses.replace(boxes[i], score=float(mean[i])) for i in keep or [int(np.argmax(mean))]]


def choose_person(image: np.ndarray, model, boxes: Sequence[PersonBox], min_score: float = 0.2,
                  refinements: int = 3) -> PersonBox:
    """Refines each of ``boxes`` on its pose (module docstring) and returns the largest, most
    central person among them, with the number of people seen."""
    torso = _torso_index(model)
    boxes = list(boxes)
    for _ in range(refinements):
        points, scores = _poses(image, model, boxes, CONTEXT)
        boxes = [refined_box(p, s, torso, min_score) or b for b, p, s in zip(boxes, points, scores)]
    points, scores = _poses(image, model, boxes, CONTEXT)
    final = [pose_box(p, s, min_score, "refined") for p, s in zip(points, scores)]
    boxes = [dataclasses.replace(f, side=f.side * FINAL_MARGIN) if f else b for b, f in zip(boxes, final)]
    _, scores = _poses(image, model, boxes)
    boxes = [dataclasses.replace(b, score=float(s.mean())) for b, s in zip(boxes, scores)]
    keep = distinct(boxes, [b.score for b in boxes], 0.4)
    people = [boxes[i] for i in keep if (scores[i] >= JOINT_SCORE).sum() >= PERSON_JOINTS]
    boxes = [boxes[i] for i in keep]
    if not people:
        return dataclasses.replace(max(boxes, key=lambda b: b.score), people=0)
    return dataclasses.replace(max(people, key=lambda b: b.side * _centrality(b, image.shape)), people=len(people))


def _centrality(box: PersonBox, shape) -> float:
    """A weight from 1 at the image centre to ``1 - CENTRALITY`` at a corner."""
    h, w = shape[:2]
    return 1 - CENTRALITY * float(np.hypot(box.center[0] - w / 2, box.center[1] - h / 2)) / (float(np.hypot(w, h)) / 2)
