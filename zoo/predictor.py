"""Poses on whole photos and video frames, from the Keras model or a runner of its exported file.

A multi-person (bottom-up) model runs on the whole frame, letterboxed. A single-person (top-down)
model runs on the person ``zoo.detect.find_person`` finds; in a video the next frame's crop is
the box of the previous pose (as top-down trackers re-centre), with a new search when the pose is
lost. Optionally each person's keypoints go through a One Euro filter (``zoo.smoothing``), people
matched from frame to frame by their nearest centre.

    predictor = PosePredictor(zoo.load("simplebaseline-lsp"))
    people = predictor(image)                # (P, K, 3): x, y in image pixels, joint score
    people = predictor(frame, time_s=0.04)   # a video frame: tracked (and smoothed if asked)

The phone's path on the desktop: ``runner=edge.tflite.TFLiteRunner(path)`` of the model's exported
file (``tools.predict --backend tflite``); any object with that ``predict(images)`` will do.
Every person with a single-person model: ``people=model.predict_people`` (the person detector's
boxes, top-down), or ``people=edge.people_tflite.TopDownPeopleTFLite(...).predict_people`` (the
detector's and the model's files in sequence; ``tools.predict --people``).
"""

from __future__ import annotations

import dataclasses
from typing import Callable, List, Optional

import numpy as np

from zoo.detect import PersonBox, find_person, pose_box
from zoo.preprocess import crop_matrix, letterbox, people_to_image, to_image_coords, warp
from zoo.smoothing import OneEuroFilter


class _RunnerKeypoints:
    """A top-down model's exported file with ``predict_keypoints``'s interface (what
    ``find_person`` calls): ``runner.predict(crops) -> (keypoints, scores)``."""

    def __init__(self, runner, input_size: int, skeleton=None):
        self.runner, self.input_size, self.skeleton = runner, input_size, skeleton

    def predict_keypoints(self, images):
        return self.runner.predict(images)


@dataclasses.dataclass
class _Track:
    centre: np.ndarray
    filter: OneEuroFilter
    seen: float


class PosePredictor:
    """Poses of a zoo model on RGB uint8 images of any size.

    Args:
        model: a loaded zoo model (``zoo.load``).
        runner: None: the Keras model itself; else a runner of its exported file (e.g.
            ``edge.tflite.TFLiteRunner``) whose ``predict(uint8 images)`` returns the model's
            decoded outputs, ``(keypoints, scores)`` of crops or ``(people, scores)`` of a
            letterboxed image.
        smoothing: a ``OneEuroFilter`` to copy per person for video, or None.
        min_score: a tracked single-person pose whose mean joint score falls below this is
            searched for again in the whole frame.
        people: a single-person model only: ``image -> (people (P, K, 3), scores (P,))`` that finds
            every person in the frame (e.g. ``model.predict_people``); None: the one person
            ``find_person`` finds.
    """

    def __init__(self, model, runner=None, smoothing: Optional[OneEuroFilter] = None, min_score: float = 0.2,
                 people: Optional[Callable] = None):
        if people is not None and model.task.multi_person:
            raise ValueError(f"{type(model).__name__} finds people on the whole frame itself; people= is for "
                             "single-person models")
        self.model, self.runner, self.top_down_people = model, runner, people
        self.skeleton = model.skeleton
        # People found on the whole frame (bottom-up, or top-down from the detector's boxes), not one crop.
        self.whole_frame = model.task.multi_person or people is not None
        self.smoothing, self.min_score = smoothing, min_score
        self._keypoints = model if runner is None else _RunnerKeypoints(runner, model.input_size, model.skeleton)
        self.reset()

    def reset(self) -> None:
        """Forgets the video so far (tracked box, people and filters)."""
        self._box: Optional[PersonBox] = None
        self._tracks: List[_Track] = []
        #: A single-person model's crop of the last image (``PersonBox``: centre, side, source).
        self.last_box: Optional[PersonBox] = None

    def __call__(self, image: np.ndarray, time_s: Optional[float] = None) -> np.ndarray:
        """The people in ``image``: ``(P, K, 3)`` x, y in image pixels and joint score, best first.

        ``time_s``: the frame's time in a video (seconds); the pose is then tracked from the
        previous call's and smoothed if the predictor smooths. None: an independent photo.
        """
        image = np.asarray(image)
        if image.ndim != 3 or image.shape[-1] != 3 or image.dtype != np.uint8:
            raise ValueError(f"expected one RGB uint8 image (H, W, 3), got {image.dtype} {image.shape}")
        people = self._people(image) if self.whole_frame else self._person(image, tracking=time_s is not None)
        if time_s is not None and self.smoothing is not None:
            people = self._smooth(people, time_s)
        return people

    def _people(self, image):
        if self.top_down_people is not None:
            return self.top_down_people(image)[0]
        if self.runner is None:
            people, _ = self.model.predict_people(image)
            return people
        boxed, to_image = letterbox(image, self.model.input_size)
        people, scores = self.runner.predict(boxed[None])
        return people_to_image(people[0], scores[0], to_image)[0]

    def _person(self, image, tracking: bool):
        size = self.model.input_size
        box = self._box if tracking else None
        for attempt in range(2):
            if box is None:
                box = find_person(image, self._keypoints)
            matrix = crop_matrix(box.center, box.side, size)
            kps, scores = self._keypoints.predict_keypoints(warp(image, matrix, size)[None])
            if scores[0].mean() >= self.min_score or attempt == 1 or box.source != "tracked":
                break
            box = None  # lost: search the whole frame again
        keypoints = to_image_coords(kps[0], matrix)
        self.last_box = box
        if tracking:
            # The next frame's crop: the box of this frame's confident joints.
            self._box = pose_box(keypoints, scores[0], self.min_score, "tracked")
        return np.concatenate([keypoints, scores[0][:, None]], -1)[None].astype(np.float32)

    def _smooth(self, people, time_s):
        """Each person's keypoints through their track's filter; a person matches the unclaimed
        track with the nearest centre within their size, else starts a new one."""
        out = people.copy()
        claimed = set()
        for i, person in enumerate(people):
            seen = person[:, 2] > 0
            if not seen.any():
                continue
            xy = person[seen, :2]
            centre, size = xy.mean(0), max(float(np.ptp(xy, 0).max()), 1.0)
            free = [j for j in range(len(self._tracks)) if j not in claimed]
            dists = [np.linalg.norm(self._tracks[j].centre - centre) for j in free]
            if dists and min(dists) <= size:
                j = free[int(np.argmin(dists))]
            else:
                self._tracks.append(_Track(centre, self.smoothing.fresh(), time_s))
                j = len(self._tracks) - 1
            claimed.add(j)
            track = self._tracks[j]
            out[i, :, :2] = track.filter.filter(person[:, :2], time_s, mask=np.repeat(seen[:, None], 2, 1))
            track.centre, track.seen = centre, time_s
        # Tracks unseen for a second are dropped (the person left).
        self._tracks = [t for t in self._tracks if time_s - t.seen <= 1.0]
        return out
