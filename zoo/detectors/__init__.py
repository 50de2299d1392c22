"""Person detectors: whole images in, person boxes out (``zoo.tasks.DETECTION``).

``zoo.load("person-detector")`` is NanoDet-g (``zoo.detectors.nanodet``), converted once from
its TF.js graph by ``python -m tools.convert_detector`` and published like the zoo's own weights.
``person_boxes(image)`` is the call ``zoo.detect`` uses: the shipped detector, loaded once.
Nothing heavy is imported here.
"""

from __future__ import annotations

import functools
from typing import Optional, Tuple

import numpy as np

#: The published name of the person detector.
PERSON_DETECTOR = "person-detector"


@functools.lru_cache(maxsize=4)
def load_detector(name: str = PERSON_DETECTOR):
    """The detector ``name`` (``zoo.load``), loaded once per process and reused."""
    import zoo

    return zoo.load(name)


def person_boxes(image: np.ndarray, detector=None, min_score: Optional[float] = None
                 ) -> Tuple[np.ndarray, np.ndarray]:
    """The people in one RGB image ``(H, W, 3)`` of any size: ``(boxes (N, 4) float32 x1, y1,
    x2, y2 in image pixels, scores (N,) float32)``, best first; ``N = 0`` when nobody is found.

    Args:
        image: uint8 RGB (or float in ``[0, 255]``).
        detector: a loaded detector (anything with ``detect``); default the published
            ``person-detector``, loaded on the first call.
        min_score: the lowest score kept (default: the detector's own threshold).
    """
    detector = detector if detector is not None else load_detector()
    return detector.detect(image, min_score=min_score)
