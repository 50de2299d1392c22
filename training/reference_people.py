"""Other projects' pose models on the COCO photos' validation split, scored by the code that scores
ours (``training.people_evaluation.evaluate_photo_people``: pycocotools OKS AP, all people, the
same per-joint accuracy and worst photos), as references beside our models' figures in their cards
(``zoo.card_people.reference_lines``). ``python -m tools.reference_people NAME --record`` measures
one and records it in ``zoo.card_people.REFERENCES_FILE`` (``benchmarks/``), with the date, the
command and the sha256 of the files that ran.

``REFERENCES``:

- ``movenet-multipose``: MoveNet MultiPose Lightning (``training.teacher.MoveNetMultiPose``, its
  TF.js graph converted to TensorFlow), bottom-up on the whole photo letterboxed to 256 x 256 (the
  longer side its model card recommends), every person slot it returns (at most 6, ranked by its
  person score: a low-scored slot only adds to the end of the ranking, which COCO's AP cannot
  lower); ``movenet-multipose-512`` the same at 512 x 512 (small people gain);
- ``movenet-thunder``: MoveNet SinglePose Thunder (``training.teacher.MoveNetThunder``) top-down
  through our person detector, exactly as our single-person models are
  (``zoo.detectors.person_boxes``, then ``zoo.people.top_down_people`` on 256 x 256 crops).

Both output COCO-17 (``zoo.skeletons.COCO17``), scored on all 17 joints.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
from pathlib import Path
from typing import Callable, Dict, Tuple

import numpy as np

from zoo.skeletons import COCO17

#: The split, in the words of the reference file (the counts are added when measured).
SPLIT = ("the COCO photos' validation split (docs/evaluation.md: the train2017 photos of the shared coco-mini + "
         "coco-extra whose crc32(image id) % 1000 < 153)")


@dataclasses.dataclass(frozen=True)
class Reference:
    """A reference model: its title, how it finds people, the graph files it runs
    (``training.teacher.FILES`` keys) and ``people_fn() -> (image -> (people, scores))``."""

    title: str
    how: str
    files: Tuple[str, ...]
    people_fn: Callable[[], Callable]


def _as_arrays(found) -> Tuple[np.ndarray, np.ndarray]:
    """``training.teacher.Person`` list -> ``(people (P, 17, 3), scores (P,))``."""
    if not found:
        return np.zeros((0, COCO17.num_joints, 3), np.float32), np.zeros((0,), np.float32)
    people = np.stack([np.concatenate([p.keypoints, p.scores[:, None]], 1) for p in found]).astype(np.float32)
    return people, np.asarray([p.score for p in found], np.float32)


def multipose_people_fn(cache_dir=None, input_size: int = 256, min_score: float = 0.0) -> Callable:
    """MoveNet MultiPose as a ``people_fn``: every person slot scored at least ``min_score``."""
    from training.teacher import MoveNetMultiPose

    model = MoveNetMultiPose(cache_dir, input_size)
    return lambda image: _as_arrays(model.predict(image, min_score))


def thunder_people_fn(cache_dir=None, detector=None, refine: bool = True) -> Callable:
    """MoveNet Thunder top-down as a ``people_fn``: our person detector's boxes (``detector``, default
    the published ``person-detector``), Thunder on each box's 256 x 256 crop, as
    ``TopDownPoseModel.predict_people`` runs our models."""
    from training.teacher import MoveNetThunder
    from zoo.detectors import load_detector, person_boxes
    from zoo.people import top_down_people

    thunder = MoveNetThunder(cache_dir)
    detector = detector or load_detector()

    def people_fn(image):
        boxes, box_scores = person_boxes(image, detector)
        people, scores = top_down_people(image, boxes, box_scores, thunder.predict, thunder.input_size, refine)
        return (people if len(people) else np.zeros((0, COCO17.num_joints, 3), np.float32)), scores

    return people_fn


_MULTIPOSE_FILES = ("models/movenet-multipose.json", "models/movenet-multipose.bin")
REFERENCES: Dict[str, Reference] = {
    "movenet-multipose": Reference(
        "MoveNet MultiPose Lightning (Google)",
        "bottom-up: the whole photo letterboxed to 256 (its recommended input), all 6 person slots", _MULTIPOSE_FILES,
        multipose_people_fn),
    "movenet-multipose-512": Reference(
        "MoveNet MultiPose Lightning (Google), 512 input",
        "bottom-up: the whole photo letterboxed to 512, all 6 person slots", _MULTIPOSE_FILES,
        lambda: multipose_people_fn(input_size=512)),
    "movenet-thunder": Reference(
        "MoveNet SinglePose Thunder (Google)",
        "top-down: our person detector's boxes, Thunder on each 256 x 256 crop", ("models/movenet-thunder.json",
                                                                                  "models/movenet-thunder.bin"),
        thunder_people_fn),
}


def reference(name: str) -> Reference:
    """The reference ``name``; a clear error listing the known ones."""
    if name not in REFERENCES:
        raise ValueError(f"unknown reference model {name!r}; known: {', '.join(REFERENCES)}")
    return REFERENCES[name]


def measure_reference(name: str, data=None, command: str = "") -> Dict:
    """Scores the reference ``name`` on the COCO photos' validation split under the data root
    ``data`` (``evaluate_photo_people``); returns the entry the reference file records: the
    result plus title, how, date, command and the source files' sha256."""
    from training import teacher
    from training.people_evaluation import evaluate_photo_people

    ref = reference(name)
    protocol = (f"{SPLIT}, every labelled person; {ref.title}, {ref.how}; its 17 COCO joints in image pixels; "
                "OKS AP by pycocotools, COCO's sigmas and areas")
    result = evaluate_photo_people(ref.people_fn(), COCO17, data, protocol=protocol)
    source = {"package": f"{teacher.PACKAGE}@{teacher.VERSION} (npm)", "licence": teacher.UPSTREAM_LICENCE,
              "package_licence": teacher.PACKAGE_LICENCE,
              "files": {f"package/{f}": teacher.FILES[f] for f in ref.files}}
    return {**result, "title": ref.title, "how": ref.how, "source": source,
            "measured": datetime.date.today().isoformat(),
            "command": command or f"python -m tools.reference_people {name} --record"}


def record_reference(name: str, entry: Dict, path=None) -> Path:
    """Writes ``entry`` as reference ``name`` into the reference file (``zoo.card_people.
    REFERENCES_FILE`` unless ``path``), keeping the others; returns its path."""
    from zoo.card_people import REFERENCES_FILE
    from zoo.io import write_atomic

    path = Path(path) if path else REFERENCES_FILE
    recorded = json.loads(path.read_text()) if path.is_file() else {}
    refs = {**recorded.get("references", {}), name: entry}
    data = f"{SPLIT}, {entry['images']} photos, {entry['people']} labelled people"
    return write_atomic(path, json.dumps({"data": data, "references": refs}, indent=2) + "\n")
