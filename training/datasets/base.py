"""Common record types of the single- and multi-person datasets and the data-root setting."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Any, List, Optional

import numpy as np

DATA_ROOT_ENV = "POSEZOO_DATA"


def data_root() -> Path:
    """Root of the shared data: ``$POSEZOO_DATA``, default ``../shared/data`` beside the repo."""
    env = os.environ.get(DATA_ROOT_ENV)
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[2].parent / "shared" / "data"


class DatasetError(ValueError):
    """A dataset file or record is malformed; the message names the file and the record."""


@dataclasses.dataclass
class PoseSamples:
    """Single-person samples of one dataset.

    Attributes:
        image_paths: ``N`` image file paths.
        keypoints: float32 ``(N, K, 2)`` x, y in image pixels.
        visible: float32 ``(N, K)``, 1 where the joint is labelled, 0 otherwise.
        skeleton: skeleton name of the joint order.
        ids: ``N`` record identifiers used in error messages and splits.
        head_boxes: float32 ``(N, 4)`` head box ``x1, y1, x2, y2`` of each person in image pixels,
            the normaliser of PCKh (``training.metrics.pckh``), where the dataset labels one (the
            MPII release); None otherwise.
        head_sizes: float32 ``(N,)`` head segment length of each person in image pixels, the
            normaliser of PCKh where the dataset gives it directly instead of a head box (the MPII
            subset's ``head_size``: upper neck to head top); None otherwise.
        teacher_keypoints, teacher_scores: float32 ``(N, 17, 2)`` image pixels and ``(N, 17)``
            confidences of a teacher's COCO-17 pseudo-labels of each person
            (``training.teacher_labels``); None when the samples carry none.
        crop_boxes: float32 ``(N, 4)`` x1, y1, x2, y2 (image pixels, edge convention) of the box
            each sample's crop is made around, as top-down inference crops a person detector's box
            (``zoo.people``); None: the crop is the protocol's, around the labelled joints.
    """

    image_paths: List[str]
    keypoints: np.ndarray
    visible: np.ndarray
    skeleton: str
    ids: List[str]
    head_boxes: Optional[np.ndarray] = None
    head_sizes: Optional[np.ndarray] = None
    teacher_keypoints: Optional[np.ndarray] = None
    teacher_scores: Optional[np.ndarray] = None
    crop_boxes: Optional[np.ndarray] = None

    def __len__(self):
        return len(self.image_paths)

    def subset(self, index) -> "PoseSamples":
        index = np.asarray(index)
        def pick(values):
            return None if values is None else np.asarray(values)[index]

        return PoseSamples([self.image_paths[i] for i in index], self.keypoints[index],
                           self.visible[index], self.skeleton, [self.ids[i] for i in index], pick(self.head_boxes),
                           pick(self.head_sizes), pick(self.teacher_keypoints), pick(self.teacher_scores),
                           pick(self.crop_boxes))

    @property
    def pckh_normaliser(self) -> Optional[np.ndarray]:
        """What PCKh divides by (``training.metrics.pckh``): the head sizes where given, else the
        head boxes, else None (the dataset has no PCKh)."""
        return self.head_sizes if self.head_sizes is not None else self.head_boxes


@dataclasses.dataclass
class MultiPersonSamples:
    """Multi-person samples of one dataset, one entry per image (COCO-style).

    Attributes:
        image_paths: ``N`` image file paths.
        image_ids: ``N`` integer image ids (the dataset's own, e.g. COCO ``image_id``).
        sizes: int ``(N, 2)`` image height and width.
        keypoints: ``N`` float32 arrays ``(P_i, K, 2)``, x, y in image pixels, one row per
            labelled person (``P_i`` may be 0).
        visible: ``N`` float32 arrays ``(P_i, K)``, 1 where the joint is labelled, 0 otherwise.
        areas: ``N`` float32 arrays ``(P_i,)``: person segment area in pixels (the OKS scale).
        boxes: ``N`` float32 arrays ``(P_i, 4)``: person boxes ``x, y, width, height``.
        skeleton: skeleton name of the joint order.
        annotation_ids: ``N`` int64 arrays ``(P_i,)``: the annotation id of each person.
        ignore_segments: ``N`` lists of COCO-format segmentations (polygon lists or RLE dicts)
            of regions where the loss is not taken: crowds and people with no labelled joint.
    """

    image_paths: List[str]
    image_ids: List[int]
    sizes: np.ndarray
    keypoints: List[np.ndarray]
    visible: List[np.ndarray]
    areas: List[np.ndarray]
    boxes: List[np.ndarray]
    skeleton: str
    annotation_ids: List[np.ndarray]
    ignore_segments: List[List[Any]]

    def __len__(self):
        return len(self.image_paths)

    @property
    def num_people(self) -> int:
        """Labelled people over all images."""
        return int(sum(len(k) for k in self.keypoints))

    @staticmethod
    def concat(parts: List["MultiPersonSamples"]) -> "MultiPersonSamples":
        """The images of several sample sets of one skeleton, in order."""
        if not parts or len({p.skeleton for p in parts}) != 1:
            raise ValueError(f"cannot concatenate {len(parts)} sample sets of skeletons "
                             f"{sorted({p.skeleton for p in parts})}")
        lists = {f.name: [v for p in parts for v in getattr(p, f.name)] for f in dataclasses.fields(MultiPersonSamples)
                 if f.name not in ("sizes", "skeleton")}
        sizes = np.concatenate([np.asarray(p.sizes, np.int64).reshape(-1, 2) for p in parts])
        return MultiPersonSamples(sizes=sizes, skeleton=parts[0].skeleton, **lists)

    def subset(self, index) -> "MultiPersonSamples":
        index = np.asarray(index, dtype=np.int64).reshape(-1)

        def pick(values):
            return [values[i] for i in index]

        return MultiPersonSamples(pick(self.image_paths), pick(self.image_ids),
                                  np.asarray(self.sizes).reshape(-1, 2)[index], pick(self.keypoints),
                                  pick(self.visible), pick(self.areas), pick(self.boxes),
                                  self.skeleton, pick(self.annotation_ids),
                                  pick(self.ignore_segments))
