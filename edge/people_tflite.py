"""Every person in a photo on the phone's path: the person detector's ``.tflite`` and a
single-person pose model's ``.tflite``, run one after the other with LiteRT.

    people = TopDownPeopleTFLite("person-detector-v1-int8.tflite", "simplebaseline-coco-v1-int8.tflite")
    keypoints, scores = people.predict_people(image)   # uint8 RGB (H, W, 3), any size

The steps are the Keras path's (``TopDownPoseModel.predict_people``), with the two files in
place of the two Keras models:

1. the detector's file (``edge.detector_tflite.DetectorRunner``) on the photo letterboxed to its
   input: person boxes and scores in image pixels, best first;
2. ``zoo.people.top_down_people``: each box becomes the square crop of ``zoo.preprocess``
   (side ``BOX_PADDING`` x the box's longer side, centred on the box), every crop goes through
   the pose file (``edge.tflite.TFLiteRunner``), keypoints go back to image pixels through the
   inverse of the crop's affine matrix, and a box the confident joints leave is grown and
   predicted once more.

Nothing of the crop rule is repeated here: both paths call the same function, so they find the
same people in the same order.

The files: ``python -m tools.export NAME@V --format tflite --precision P`` (the pose model) and
``edge.detector_tflite.cached_detector_tflite`` (the detector; ``python -m tools.predict photo.jpg
--people --backend tflite`` writes both into ``exports/``).
"""

from __future__ import annotations

from typing import Optional, Tuple

import numpy as np

from edge.detector_tflite import DetectorRunner
from edge.tflite import DEFAULT_THREADS, TFLiteRunner


class TopDownPeopleTFLite:
    """The person detector's file and a single-person pose model's file, run in sequence.

    Args:
        detector: the detector's ``.tflite`` (path or bytes) or a ``DetectorRunner``.
        pose: a single-person (top-down) pose model's ``.tflite`` (path or bytes) or a
            ``TFLiteRunner`` of one; a multi-person file is refused (it finds people itself).
        num_threads: LiteRT threads of each file (when paths or bytes are given).
    """

    def __init__(self, detector, pose, num_threads: int = DEFAULT_THREADS):
        self.detector = detector if isinstance(detector, DetectorRunner) else DetectorRunner(detector, num_threads)
        self.pose = pose if isinstance(pose, TFLiteRunner) else TFLiteRunner(pose, num_threads)
        if self.pose.bottom_up:
            raise ValueError(f"{self.pose.source}: a multi-person file (outputs {list(self.pose.output_names)}); "
                             "the detector's boxes need a single-person file (keypoints, scores)")
        _, height, width, _ = self.pose.input_shape
        if height != width:
            raise ValueError(f"{self.pose.source}: input {height}x{width} is not square; the crops are squares")
        self.input_size = int(height)
        self.num_joints = int(self.pose.runner.get_output_details()["keypoints"]["shape"][1])

    def predict_people(self, image: np.ndarray, refine: bool = True, min_box_score: Optional[float] = None
                       ) -> Tuple[np.ndarray, np.ndarray]:
        """Every person in one uint8 RGB image ``(H, W, 3)`` of any size (a huge photo is
        letterboxed for the detector and cropped per person, never resized whole).

        Returns ``(people (P, K, 3) x, y image pixels and joint score, person scores (P,))``, best
        first, as ``TopDownPoseModel.predict_people``; ``P = 0`` when nobody is found.
        ``min_box_score``: the lowest detector score kept (default: the file's own threshold).
        """
        from zoo.people import top_down_people

        image = np.asarray(image)
        if image.ndim != 3 or image.shape[-1] != 3 or min(image.shape[:2]) < 1:
            raise ValueError(f"predict_people expects one RGB image (H, W, 3), got shape {image.shape}")
        if image.dtype != np.uint8:
            raise ValueError(f"predict_people expects uint8 pixels, got dtype {image.dtype}")
        boxes, box_scores = self.detector.detect(image, min_score=min_box_score)
        people, scores = top_down_people(image, boxes, box_scores, self.pose.predict, self.input_size, refine)
        if len(people) == 0:
            return np.zeros((0, self.num_joints, 3), np.float32), scores
        return people, scores
