"""Teacher pseudo-labels of training people, cached beside the runs, and how training uses them.

A teacher (``training.teacher.MoveNetThunder``, COCO-17) looks at each training person's protocol
crop (docs/evaluation.md: the box of the dataset's own labelled joints, 256 px), original and
mirrored, averaged (``predict_flip_averaged``); its keypoints go back to image pixels through the
inverse crop. The labels are cached as ``<folder>/<dataset>.npz`` (sample ids, keypoints, scores),
written in chunks (temp file, then rename) so a killed run keeps what it labelled, and never
committed.

Two uses, each a recipe switch (``Experiment.teacher``), applied after the crop in
``training.pipeline.training_examples`` (``merge_teacher``):

- ``fill``: joints the dataset does not label (COCO's face points on LSPet and MPII people) take
  the teacher's keypoint, its loss weighted by the teacher's score (scores under ``min_score``
  are dropped);
- ``only``: every joint from the teacher, weighted by its score: an extra stream of soft targets
  beside the dataset's own labels (``Experiment.teacher_soft_weight`` sets its share).
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import numpy as np

from training.datasets.base import DatasetError, PoseSamples
from zoo.io import write_atomic

#: The crop the teacher sees (MoveNet Thunder's input).
TEACHER_CROP = 256


def label_path(folder, dataset: str) -> Path:
    return Path(folder) / f"{dataset}.npz"


def _save(path: Path, ids, keypoints, scores) -> None:
    import io

    buffer = io.BytesIO()
    np.savez(buffer, ids=np.asarray(ids), keypoints=np.asarray(keypoints, np.float32),
             scores=np.asarray(scores, np.float32))
    write_atomic(path, buffer.getvalue())


def read_labels(path):
    """``(ids, keypoints (M, 17, 2), scores (M, 17))`` of a label file, or empty arrays if absent."""
    path = Path(path)
    if not path.is_file():
        return [], np.zeros((0, 17, 2), np.float32), np.zeros((0, 17), np.float32)
    try:
        with np.load(path) as data:
            return [str(i) for i in data["ids"]], data["keypoints"], data["scores"]
    except (OSError, KeyError, ValueError) as e:
        raise DatasetError(f"{path}: not a teacher label file ({e}); delete it to label again") from None


def label_samples(samples: PoseSamples, teacher, path, chunk: int = 256, progress: bool = True) -> Path:
    """Labels every person of ``samples`` not yet in ``path`` with ``teacher``
    (``predict_flip_averaged`` on the protocol crop), saving after each ``chunk``."""
    from training.pipeline import evaluation_dataset

    path = Path(path)
    ids, keypoints, scores = read_labels(path)
    done = set(ids)
    todo = [i for i, sid in enumerate(samples.ids) if sid not in done]
    keypoints, scores = list(keypoints), list(scores)
    for start in range(0, len(todo), chunk):
        part = samples.subset(todo[start:start + chunk])
        for batch in evaluation_dataset(part, TEACHER_CROP, batch_size=16):
            crops = np.clip(np.round(batch["image"].numpy()), 0, 255).astype(np.uint8)
            xy, sc = teacher.predict_flip_averaged(crops)
            inv = np.linalg.inv(batch["matrix"].numpy().astype(np.float64))
            image_xy = np.einsum("nij,nkj->nki", inv[:, :2, :2], xy) + inv[:, None, :2, 2]
            for k, index in enumerate(batch["index"].numpy()):
                ids.append(part.ids[index])
                keypoints.append(image_xy[k])
                scores.append(sc[k])
        _save(path, ids, keypoints, scores)
        if progress:
            print(f"teacher labels {path.name}: {len(ids)} of {len(samples)}", flush=True)
    return path


def with_teacher_labels(samples: PoseSamples, path) -> PoseSamples:
    """``samples`` carrying the teacher's labels of ``path`` (matched by sample id); every sample
    must be labelled."""
    ids, keypoints, scores = read_labels(path)
    row = {sid: i for i, sid in enumerate(ids)}
    missing = [sid for sid in samples.ids if sid not in row]
    if missing:
        raise DatasetError(f"{path}: no teacher labels for {len(missing)} of {len(samples)} samples "
                           f"(e.g. {missing[:3]}); run python -m tools.teacher_labels")
    order = np.asarray([row[sid] for sid in samples.ids], np.int64)
    out = samples.subset(np.arange(len(samples)))
    out.teacher_keypoints, out.teacher_scores = keypoints[order], scores[order]
    return out


def default_label_folder(workdir) -> Path:
    """Where a run looks for its teacher labels: ``teacher_labels/`` beside its workdir, shared
    by the runs of one folder (``runs/teacher_labels``)."""
    return Path(workdir).resolve().parent / "teacher_labels"


def teacher_samples(samples: PoseSamples, dataset: str, folder: Optional[Path], teacher=None) -> PoseSamples:
    """``samples`` with their teacher labels from ``folder``, labelling what is missing first
    (``teacher``: a ``MoveNetThunder``, made on demand)."""
    path = label_path(folder, dataset)
    ids, _, _ = read_labels(path)
    if set(samples.ids) - set(ids):
        if teacher is None:
            from training.teacher import MoveNetThunder

            teacher = MoveNetThunder()
        label_samples(samples, teacher, path)
    return with_teacher_labels(samples, path)
