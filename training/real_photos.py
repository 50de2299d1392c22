"""Real multi-person photos as a training source of bottom-up models (OpenPose on group photos).

Two sources, each the training side of its dataset's fixed split (docs/evaluation.md), so never a
validation photo:

- ``coco_photos``: the shared COCO train2017 photos, coco-mini + coco-extra
  (``training.datasets.coco.load_coco_photos(split="train")``), COCO-17;
- ``mpii_photos``: the MPII subset's images with every person it labels in them
  (``training.datasets.mpii.load_mpii_photos(split="train")``), MPII-16.

A photo's people move into the model's skeleton by joint name (``training.composite.in_skeleton``),
and the joints its dataset does not label at all (the face on MPII people) are masked channel by
channel (``training.composite.channel_weights``), not taught as absent.

**Unlabelled people.** A person the dataset leaves unlabelled must not teach the model that a
person is background. COCO marks its crowds and people without keypoints (``ignore_segments``);
coco-extra marks none, and the MPII subset labels only some of an image's people. So the person
detector (``zoo.load("person-detector")``) looks at every training photo once
(``python -m tools.person_boxes``, cached as ``<folder>/<source>.npz``, by default
``runs/person_boxes/``, never committed), and training reads the cache: a detected box that matches
no labelled person (``unlabelled_boxes``) is added to the photo's ignore regions as a box polygon,
masked out of the confidence-map and field losses as COCO's crowds are
(``training.datasets.coco.loss_mask``, then ``training.pipeline.multi_person_dataset``).
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Dict, Optional, Tuple

import numpy as np

from training.datasets.base import DatasetError, MultiPersonSamples

#: The real-photo sources by name, and the command that caches their person boxes.
SOURCES = ("coco_photos", "mpii_photos")
BOXES_COMMAND = "python -m tools.person_boxes"

# The ignore rule. A detection holds a labelled person when its IoU with the person's box is at
# least MATCH_IOU (the detector's box of a labelled MPII person overlaps its labelled joints' box,
# smaller than the person, at IoU >= 0.5 for 95 % of the people of 46 training images), or when at
# least MATCH_INSIDE of its own area lies inside the person's box (a second, partial box of the same
# person: an upper body). Only detections scoring at least IGNORE_MIN_SCORE count. The other boxes
# are people nobody labelled, masked. The rule leans to masking: an unmatched box costs the
# supervision under it, while a person taught as background is the error masking exists to avoid;
# the error it accepts is an unlabelled person overlapping a labelled one at IoU >= 0.3, unmasked.
MATCH_IOU = 0.3
MATCH_INSIDE = 0.6
IGNORE_MIN_SCORE = 0.3


def load_source(name: str, root: Optional[str] = None, split: str = "train") -> MultiPersonSamples:
    """The photos of source ``name`` (``SOURCES``) in their dataset's own skeleton."""
    from training.datasets.coco import load_coco_photos
    from training.datasets.mpii import load_mpii_photos

    if name == "coco_photos":
        return load_coco_photos(root, split)
    if name == "mpii_photos":
        return load_mpii_photos(str(Path(root) / "mpii-subset") if root else None, split)
    raise ValueError(f"unknown photo source {name!r}; known: {SOURCES}")


def boxes_path(folder, source: str, split: str = "train") -> Path:
    """The box file of ``source``'s ``split``: ``<source>.npz`` for training photos, and
    ``<source>_val.npz`` for the validation photos (boxed only to score detector crops)."""
    return Path(folder) / (f"{source}.npz" if split == "train" else f"{source}_{split}.npz")


def read_person_boxes(path) -> Dict[int, Tuple[np.ndarray, np.ndarray]]:
    """``{image id: (boxes (N, 4) x1, y1, x2, y2 image pixels, scores (N,))}`` of a cache file, or
    ``{}`` when there is none."""
    path = Path(path)
    if not path.is_file():
        return {}
    try:
        with np.load(path) as data:
            ids, counts, boxes, scores = (data[k] for k in ("ids", "counts", "boxes", "scores"))
    except (OSError, KeyError, ValueError) as e:
        raise DatasetError(f"{path}: not a person-box file ({e}); delete it and run {BOXES_COMMAND}") from None
    ends = np.cumsum(counts)
    return {int(i): (boxes[e - c:e], scores[e - c:e]) for i, c, e in zip(ids, counts, ends)}


def photos_boxes(samples: MultiPersonSamples, path, command: str = "") -> Dict[int, Tuple[np.ndarray, np.ndarray]]:
    """The cached boxes of ``path`` (``read_person_boxes``), which must hold every photo of
    ``samples``: a clear error naming the command (``BOXES_COMMAND`` + ``command``) otherwise."""
    found = read_person_boxes(path)
    missing = [image_id for image_id in samples.image_ids if int(image_id) not in found]
    if missing:
        run = " ".join(filter(None, (BOXES_COMMAND, command, f"--folder {Path(path).parent}")))
        raise DatasetError(f"{path}: no person boxes for {len(missing)} of {len(samples)} photos (e.g. image ids "
                           f"{missing[:3]}); run {run} first")
    return found


def write_person_boxes(path, found: Dict[int, Tuple[np.ndarray, np.ndarray]], detector: str) -> None:
    """Writes ``found`` (``{image id: (boxes, scores)}``, as ``read_person_boxes`` returns it) to
    the cache ``path``."""
    from zoo.io import write_atomic

    ids = sorted(found)
    buffer = io.BytesIO()
    np.savez(buffer, ids=np.asarray(ids, np.int64), counts=np.asarray([len(found[i][0]) for i in ids], np.int64),
             boxes=np.concatenate([found[i][0] for i in ids] + [np.zeros((0, 4))]).astype(np.float32),
             scores=np.concatenate([found[i][1] for i in ids] + [np.zeros(0)]).astype(np.float32),
             detector=np.asarray(detector))
    write_atomic(path, buffer.getvalue())


def detect_photos(samples: MultiPersonSamples, path, detector=None, chunk: int = 100, progress: bool = True) -> Path:
    """Runs the person detector (default the published ``person-detector``) on every photo of
    ``samples`` not yet in the cache ``path``, saving after each ``chunk`` (a killed run keeps
    what it found). Every box at the detector's own threshold is kept; the rule applies later."""
    from zoo.detectors import load_detector
    from zoo.io import read_image

    detector = detector if detector is not None else load_detector()
    name = str(getattr(getattr(detector, "spec", None), "id", type(detector).__name__))
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    found = read_person_boxes(path)
    todo = [i for i, image_id in enumerate(samples.image_ids) if int(image_id) not in found]
    for start in range(0, len(todo), chunk):
        for i in todo[start:start + chunk]:
            boxes, scores = detector.detect(read_image(samples.image_paths[i]))
            found[int(samples.image_ids[i])] = (np.asarray(boxes, np.float32).reshape(-1, 4),
                                                np.asarray(scores, np.float32).reshape(-1))
        write_person_boxes(path, found, name)
        if progress:
            print(f"person boxes {path.name}: {len(found)} photos", flush=True)
    if not path.is_file():
        write_person_boxes(path, found, name)
    return path


def unlabelled_boxes(boxes, scores, people_boxes, min_score: float = IGNORE_MIN_SCORE) -> np.ndarray:
    """The detections ``boxes (N, 4)`` x1, y1, x2, y2 (``scores (N,)``) that hold none of the
    labelled people ``people_boxes (P, 4)`` x, y, width, height: the rule above (``MATCH_IOU``,
    ``MATCH_INSIDE``, ``IGNORE_MIN_SCORE``). Returns ``(M, 4)`` x1, y1, x2, y2."""
    from training.detector import box_iou

    boxes = np.asarray(boxes, np.float64).reshape(-1, 4)[np.asarray(scores).reshape(-1) >= min_score]
    people = np.asarray(people_boxes, np.float64).reshape(-1, 4)
    people = np.concatenate([people[:, :2], people[:, :2] + people[:, 2:]], 1)
    if not len(boxes) or not len(people):
        return boxes
    lo = np.maximum(boxes[:, None, :2], people[None, :, :2])
    hi = np.minimum(boxes[:, None, 2:], people[None, :, 2:])
    area = np.maximum(np.prod(boxes[:, 2:] - boxes[:, :2], -1), 1e-9)
    inside = np.prod(np.clip(hi - lo, 0, None), -1) / area[:, None]
    held = (box_iou(boxes, people) >= MATCH_IOU) | (inside >= MATCH_INSIDE)
    return boxes[~held.any(1)]


def box_polygon(box) -> list:
    """A box x1, y1, x2, y2 as a COCO segmentation (one polygon): an ignore region."""
    x1, y1, x2, y2 = (float(v) for v in box)
    return [[x1, y1, x2, y1, x2, y2, x1, y2]]


def with_ignore_boxes(samples: MultiPersonSamples, path) -> MultiPersonSamples:
    """``samples`` with the unlabelled people the cache ``path`` found added to each photo's
    ignore regions (``unlabelled_boxes``); every photo must be in the cache."""
    found = photos_boxes(samples, path)
    out = samples.subset(np.arange(len(samples)))
    out.ignore_segments = [list(segments) + [box_polygon(b) for b in unlabelled_boxes(*found[int(image_id)], people)]
                           for image_id, segments, people in zip(samples.image_ids, samples.ignore_segments,
                                                                 samples.boxes)]
    return out


def in_model_skeleton(samples: MultiPersonSamples, target: str) -> MultiPersonSamples:
    """``samples`` with their people's joints moved into skeleton ``target`` by name
    (``training.composite.in_skeleton``); a person left without a labelled joint becomes an
    ignore region (its box)."""
    from training.composite import in_skeleton

    if samples.skeleton == target:
        return samples
    out = samples.subset(np.arange(len(samples)))
    out.skeleton, out.ignore_segments = target, [list(s) for s in samples.ignore_segments]
    for i in range(len(samples)):
        kps, vis = in_skeleton(np.asarray(samples.keypoints[i]), np.asarray(samples.visible[i]), samples.skeleton,
                               target)
        keep = vis.sum(1) > 0
        box = np.asarray(samples.boxes[i]).reshape(-1, 4)
        out.ignore_segments[i] += [box_polygon([*b[:2], *(b[:2] + b[2:])]) for b in box[~keep]]
        out.keypoints[i], out.visible[i] = kps[keep], vis[keep]
        out.areas[i], out.boxes[i] = np.asarray(samples.areas[i])[keep], box[keep]
        out.annotation_ids[i] = np.asarray(samples.annotation_ids[i])[keep]
    return out


def training_photos(name: str, skeleton: str, folder, root: Optional[str] = None, max_photos: int = 0):
    """The training photos of source ``name``, unlabelled people masked (the cache in ``folder``),
    in ``skeleton``: ``(samples, labelled (K,))``, the joints of ``skeleton`` the source labels."""
    from training.composite import labelled_joints

    samples = load_source(name, root, "train")
    if max_photos:
        samples = samples.subset(range(min(max_photos, len(samples))))
    labelled = labelled_joints(samples.skeleton, skeleton)
    return in_model_skeleton(with_ignore_boxes(samples, boxes_path(folder, name)), skeleton), labelled


def photo_stream(name: str, codec, augment, folder, root: Optional[str] = None, max_photos: int = 0):
    """Endless unbatched ``(image, {"pafs", "heatmaps"})`` examples of source ``name`` for a model
    with ``codec`` (``training.pipeline.multi_person_dataset``, masks per channel), augmented."""
    from training.pipeline import multi_person_dataset

    samples, labelled = training_photos(name, codec.skeleton, folder, root, max_photos)
    return multi_person_dataset(samples, codec, None, augment=augment, labelled=labelled, repeat=True)
