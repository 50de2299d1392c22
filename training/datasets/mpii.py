"""MPII Human Pose (Andriluka et al., CVPR 2014, http://human-pose.mpi-inf.mpg.de), in two forms.

**The official release** ``mpii_human_pose_v1_u12_1.mat`` (``load_mpii_mat``): one struct
``RELEASE`` with ``annolist`` (one element per image: ``image.name``; ``annorect``, one element per
person, with the head box ``x1, y1, x2, y2``, ``scale``, ``objpos`` and, for annotated people,
``annopoints.point``, each point ``id`` 0-15, ``x``, ``y``, ``is_visible``; ``vididx``, the
source video), ``img_train`` (1 train, 0 test; test labels are not released), ``single_person``
(per image, the 1-based ``annorect`` indices of the sufficiently separated people of the
single-person benchmark) and ``act``. The samples are the single persons of the train images that
have joint annotations; joint ``id`` i goes to ``zoo.skeletons.MPII16`` slot i (the official order)
and a joint the record has no point for is unlabelled. Every annotated point counts as labelled
(``visible`` 1) whatever its ``is_visible``, as in the official PCKh, whose ``jnt_missing`` marks
only absent points. Each sample carries its head box (``PoseSamples.head_boxes``), the normaliser
of PCKh (``training.metrics.pckh``).

The release has no validation split (the test labels are withheld), so the zoo fixes one
(``mpii_split``): a train image is in ``val`` when ``crc32`` of its split key is 0 modulo
``VAL_MODULUS`` (10, about a tenth of the images), the key being its source video
(``annolist.vididx``) where the record names one, else its image name. Frames of one video never
straddle the split, and the split does not depend on the file's order. (The 2,958-image
validation set of Tompson et al. 2015 used by HRNet / mmpose is a list of images outside this
file; use its JSON form for that.)

**The common JSON form** (``load_mpii_json``): a list of records ``{"image", "joints" (16 x 2),
"joints_vis" (16), "center" (2), "scale"}``, the form used by most MPII loaders (e.g. the HRNet /
mmpose annotation files). ``scale`` is the person height / 200 px.

Coordinates are the files' own in both forms. ``load_mpii`` takes either: a ``.mat`` path (or a
folder holding ``RELEASE_FILE``) is read as the release, anything else as JSON.
"""

from __future__ import annotations

import zlib
from pathlib import Path
from typing import List, Optional

import numpy as np

from training.datasets import matlab
from training.datasets.base import DatasetError, MultiPersonSamples, PoseSamples, data_root

NUM_JOINTS = 16
RELEASE_FILE = "mpii_human_pose_v1_u12_1.mat"
VAL_MODULUS = 10
SPLITS = ("train", "val", "all")
SUBSET_FILE = "annotations.json"
#: Share of the MPII subset's scenes (so about that share of its images) held out for validation.
SUBSET_VAL_PERCENT = 12


def subset_split(scene: str) -> str:
    """``val`` or ``train`` for a record of the MPII subset, by its ``scene`` (frames of one video
    share it, so they stay on one side): ``val`` when ``crc32(scene) % 100 < SUBSET_VAL_PERCENT``."""
    return "val" if zlib.crc32(scene.encode("utf-8")) % 100 < SUBSET_VAL_PERCENT else "train"


def load_mpii_subset(root: Optional[str] = None, split: str = "train", check_images: bool = True) -> PoseSamples:
    """The MPII subset of the shared data (``<data root>/mpii-subset/annotations.json``): 1,727
    people of 1,133 images, with ``head_size`` (the PCKh normaliser) and ``scene``; ``split``
    ``train``, ``val`` (``subset_split``) or ``all``."""
    path = Path(root) if root else data_root() / "mpii-subset"
    return load_mpii_json(path / SUBSET_FILE if path.is_dir() else path, check_images=check_images, split=split)


def load_mpii_photos(root: Optional[str] = None, split: str = "train", check_images: bool = True
                     ) -> MultiPersonSamples:
    """The MPII subset's images as multi-person samples (``MultiPersonSamples``, MPII-16): one per
    image, holding every person the subset labels in it (its records grouped by ``image``), on
    the ``split`` side of ``subset_split`` (a scene's images all on one side). Image ids are the
    file numbers MPII names its images by; ``boxes`` the labelled joints' box (x, y, width,
    height), ``areas`` its area. The subset marks no crowds or unlabelled people
    (``ignore_segments`` empty): its other people are found by the person detector
    (``training.real_photos``)."""
    from PIL import Image

    people = load_mpii_subset(root, split, check_images)
    order = list(dict.fromkeys(people.image_paths))
    rows = {path: [] for path in order}
    for i, path in enumerate(people.image_paths):
        rows[path].append(i)
    sizes, boxes, ids = [], [], []
    for path in order:
        with Image.open(path) as image:
            sizes.append((image.height, image.width))
        xy, vis = people.keypoints[rows[path]], people.visible[rows[path]] > 0
        lo = np.asarray([p[v].min(0) for p, v in zip(xy, vis)]).reshape(-1, 2)
        hi = np.asarray([p[v].max(0) for p, v in zip(xy, vis)]).reshape(-1, 2)
        boxes.append(np.concatenate([lo, hi - lo], 1).astype(np.float32))
        stem = Path(path).stem
        ids.append(int(stem) if stem.isdigit() else zlib.crc32(stem.encode("utf-8")))
    if len(set(ids)) != len(ids):
        raise DatasetError(f"MPII subset under {root or data_root()}: two images share the file number of an image id")
    return MultiPersonSamples(order, ids, np.asarray(sizes, np.int64).reshape(-1, 2),
                              [people.keypoints[rows[p]] for p in order], [people.visible[rows[p]] for p in order],
                              [b[:, 2] * b[:, 3] for b in boxes], boxes, "mpii16",
                              [np.asarray(rows[p], np.int64) for p in order], [[] for _ in order])


def load_mpii_json(json_path: Optional[str] = None, image_dir: Optional[str] = None,
                   check_images: bool = True, split: str = "all") -> PoseSamples:
    """Loads MPII-format records; every malformed record raises naming the file and index.

    Records with a ``head_size`` field (all of them, or none) give ``PoseSamples.head_sizes``.
    ``split`` other than ``all`` keeps the records of that side of ``subset_split``, which needs a
    ``scene`` field in every record."""
    json_path = Path(json_path) if json_path else data_root() / "mpii-sample" / "test_mpii.json"
    image_dir = Path(image_dir) if image_dir else json_path.parent
    records = _read_json_records(json_path)
    if split not in SPLITS:
        raise ValueError(f"unknown MPII split {split!r}; choose from {SPLITS}")
    paths, kps, vis, ids, heads = [], [], [], [], []  # heads: head_size of each kept record, if any
    for i, r in enumerate(records):
        where = _checked_record(r, f"{json_path}: record {i}", split)
        if split != "all" and subset_split(str(r["scene"])) != split:
            continue
        if paths and ("head_size" in r) != bool(heads):
            raise DatasetError(f"{where}: field 'head_size' must be in every record or in none")
        if "head_size" in r:
            heads.append(_head_size(r["head_size"], where))
        j, v = _record_joints(r, where)
        image = image_dir / str(r["image"])
        if check_images and not image.is_file():
            raise DatasetError(f"{where}: image {image} is missing")
        # MPII marks unlabelled joints with -1 coordinates; treat them as not visible.
        v = ((v > 0) & np.all(j >= 0, axis=1)).astype(np.float32)
        paths.append(str(image))
        kps.append(j)
        vis.append(v)
        ids.append(f"{i}:{r['image']}")
    return PoseSamples(paths, np.asarray(kps, np.float32).reshape(-1, NUM_JOINTS, 2),
                       np.asarray(vis, np.float32).reshape(-1, NUM_JOINTS), "mpii16", ids,
                       head_sizes=np.asarray(heads, np.float32) if heads else None)


def _read_json_records(json_path: Path) -> list:
    """The JSON list of records of an MPII-format file."""
    from zoo.io import read_json

    return read_json(json_path, list, "MPII annotations", DatasetError, missing=FileNotFoundError)


def _checked_record(r, where: str, split: str) -> str:
    """Checks record ``r``'s needed fields; returns ``where`` with its image name added."""
    if not isinstance(r, dict):
        raise DatasetError(f"{where}: expected an object, got {type(r).__name__}")
    for field in ("image", "joints", "joints_vis") + (("scene",) if split != "all" else ()):
        if field not in r:
            raise DatasetError(f"{where}: missing field {field!r}" +
                               (f" (needed for split {split!r})" if field == "scene" else ""))
    return f"{where} ({r['image']})"


def _head_size(size, where: str) -> float:
    """A record's checked field 'head_size', a positive finite number."""
    if not isinstance(size, (int, float)) or isinstance(size, bool) or not np.isfinite(size) or size <= 0:
        raise DatasetError(f"{where}: field 'head_size' must be a positive number, got {size!r}")
    return float(size)


def _record_joints(r: dict, where: str):
    """A record's checked fields 'joints' (16 x 2, finite) and 'joints_vis' (16) as float64 arrays."""
    try:
        j = np.asarray(r["joints"], dtype=np.float64)
        v = np.asarray(r["joints_vis"], dtype=np.float64)
    except (TypeError, ValueError):
        raise DatasetError(f"{where}: fields 'joints'/'joints_vis' must be numbers") from None
    if j.shape != (NUM_JOINTS, 2):
        raise DatasetError(f"{where}: field 'joints' must be 16 x 2, got shape {j.shape}")
    if v.shape != (NUM_JOINTS,):
        raise DatasetError(f"{where}: field 'joints_vis' must have 16 values, got shape {v.shape}")
    if not np.all(np.isfinite(j)):
        raise DatasetError(f"{where}: field 'joints' has non-finite values")
    return j, v


# ------------------------------------------------------------------------ the official release

def is_release_path(data) -> bool:
    """Whether ``data`` names the MPII release: a ``.mat`` file, or a folder holding ``RELEASE_FILE``."""
    if data is None:
        return False
    path = Path(data)
    return path.suffix.lower() == ".mat" or (path.is_dir() and (path / RELEASE_FILE).is_file())


def default_image_dir(mat_path) -> Path:
    """``images/`` beside the release file, or beside its folder (the official archives unpack to
    ``mpii_human_pose_v1_u12_2/<file>`` and ``images/`` side by side) when only that one exists."""
    mat_path = Path(mat_path)
    beside = mat_path.parent / "images"
    above = mat_path.parent.parent / "images"
    return above if not beside.is_dir() and above.is_dir() else beside


def mpii_split(key: str) -> str:
    """``val`` or ``train`` for a split key (``"video <vididx>"`` or ``"image <name>"``)."""
    return "val" if zlib.crc32(key.encode("utf-8")) % VAL_MODULUS == 0 else "train"


def _per_image(release, name: str, count: int, where: str) -> List:
    """``RELEASE.<name>`` as one entry per image (a 1-image file's field is squeezed to its entry)."""
    value = matlab.field(release, name, where)
    if count != 1 and isinstance(value, np.ndarray):
        entries = list(value.ravel())  # an object array (a cell) or a numeric vector
    else:
        entries = [value]
    if len(entries) != count:
        raise DatasetError(f"{where}: field {name!r} has {len(entries)} entries for {count} images "
                           f"in 'annolist'")
    return entries


def _person_indices(value, count: int, where: str) -> List[int]:
    """The 1-based ``annorect`` indices of ``single_person`` for one image."""
    try:
        arr = np.asarray(value, np.float64).ravel()
    except (TypeError, ValueError):
        raise DatasetError(f"{where}: field 'single_person' must hold annorect indices, got {value!r}") from None
    out = []
    for v in arr:
        if not (np.isfinite(v) and v == int(v) and 1 <= v <= count):
            raise DatasetError(f"{where}: field 'single_person' index {v:g} is not one of the "
                               f"image's {count} annorect entries (1-based)")
        out.append(int(v))
    return out


def _split_key(record, name: str, where: str) -> str:
    if matlab.has_content(record, "vididx"):
        return f"video {int(matlab.number(record.vididx, where, 'vididx'))}"
    return f"image {name}"


def _person(rect, where: str):
    """``(xy (16, 2), labelled (16,), head box (4,))`` of an annotated ``annorect`` element, or None
    when it has no joint annotation (no or empty ``annopoints``)."""
    if not matlab.has_content(rect, "annopoints"):
        return None
    points = matlab.items(matlab.field(rect.annopoints, "point", f"{where}.annopoints"))
    if not points:
        return None
    box = np.asarray([matlab.number(matlab.field(rect, c, where), where, c) for c in ("x1", "y1", "x2", "y2")])
    xy = np.zeros((NUM_JOINTS, 2))
    labelled = np.zeros(NUM_JOINTS, bool)
    for k, point in enumerate(points):
        pw = f"{where}.annopoints.point({k + 1})"
        jid = matlab.number(matlab.field(point, "id", pw), pw, "id")
        if jid != int(jid) or not 0 <= jid < NUM_JOINTS:
            raise DatasetError(f"{pw}: field 'id' must be a joint id 0-{NUM_JOINTS - 1}, got {jid:g}")
        jid = int(jid)
        if labelled[jid]:
            raise DatasetError(f"{pw}: field 'id' {jid} appears twice in the person's points")
        xy[jid] = [matlab.number(matlab.field(point, c, pw), pw, c) for c in ("x", "y")]
        labelled[jid] = True
    return xy, labelled, box


def load_mpii_mat(mat_path: Optional[str] = None, image_dir: Optional[str] = None, split: str = "train",
                  check_images: bool = True) -> PoseSamples:
    """Loads the single persons of the train images of the MPII release file.

    Args:
        mat_path: ``mpii_human_pose_v1_u12_1.mat``, or a folder holding it (default
            ``<data root>/mpii/mpii_human_pose_v1_u12_1.mat``).
        image_dir: image folder (default ``default_image_dir``: ``images/`` beside the file).
        split: ``train`` or ``val`` (the zoo's fixed split of the train images, ``mpii_split``),
            or ``all`` (both).
        check_images: raise when an image file of the split is missing.

    Returns ``mpii16`` samples with ``head_boxes``; ids are ``"<image name>:<annorect index>"``
    (1-based, as ``single_person`` counts). A missing file raises ``FileNotFoundError``; a file
    without ``RELEASE`` or a record missing a field raises ``DatasetError`` naming the file, the
    record (``RELEASE.annolist(i).annorect(j)``, MATLAB's 1-based indices) and the field.
    """
    if split not in SPLITS:
        raise ValueError(f"Unknown MPII split {split!r}; choose from {list(SPLITS)}")
    mat_path = Path(mat_path) if mat_path else data_root() / "mpii" / RELEASE_FILE
    if mat_path.is_dir():
        mat_path = mat_path / RELEASE_FILE
    image_dir = Path(image_dir) if image_dir else default_image_dir(mat_path)
    release, where = _load_release(mat_path)
    annolist = matlab.items(matlab.field(release, "annolist", where))
    train_flags = _per_image(release, "img_train", len(annolist), where)
    singles = _per_image(release, "single_person", len(annolist), where)
    paths, kps, vis, heads, ids = [], [], [], [], []
    for i, (record, is_train) in enumerate(zip(annolist, train_flags)):
        if not _train_flag(is_train, i, where):
            continue
        name, rw, rects = _image_record(record, f"{where}.annolist({i + 1})")
        people = _person_indices(singles[i], len(rects), rw)
        if not people:
            continue
        if split != "all" and mpii_split(_split_key(record, name, rw)) != split:
            continue
        image = image_dir / name
        for r, (xy, labelled, box) in _annotated_people(rects, people, image, rw, check_images):
            paths.append(str(image))
            kps.append(xy)
            vis.append(labelled)
            heads.append(box)
            ids.append(f"{name}:{r}")
    return PoseSamples(paths, np.asarray(kps, np.float32).reshape(-1, NUM_JOINTS, 2),
                       np.asarray(vis, np.float32).reshape(-1, NUM_JOINTS), "mpii16", ids,
                       np.asarray(heads, np.float32).reshape(-1, 4))


def _load_release(mat_path: Path):
    """The release file's ``RELEASE`` struct and the ``where`` that names it in messages."""
    release = matlab.load_variable(mat_path, "RELEASE", "MPII", " (set $POSEZOO_DATA or pass the file)")
    where = f"{mat_path}: RELEASE"
    if not matlab.is_struct(release):
        raise DatasetError(f"{where}: expected a struct, got {type(release).__name__}")
    return release, where


def _train_flag(value, i: int, where: str) -> float:
    """Image ``i``'s (0-based) checked ``img_train`` flag: 1 for a train image, 0 for a test one."""
    flag = matlab.number(value, f"{where}: image {i + 1}", "img_train")
    if flag not in (0.0, 1.0):
        raise DatasetError(f"{where}: field 'img_train' of image {i + 1} must be 0 or 1, got {flag:g}")
    return flag


def _image_record(record, rw: str):
    """An ``annolist`` record's image name, ``rw`` with that name added, and its ``annorect`` elements."""
    name = matlab.text(matlab.field(matlab.field(record, "image", rw), "name", f"{rw}.image"),
                       f"{rw}.image", "name")
    rw = f"{rw} ({name})"
    rects = matlab.items(matlab.field(record, "annorect", rw)) if matlab.has_content(record, "annorect") else []
    return name, rw, rects


def _annotated_people(rects, people, image: Path, rw: str, check_images: bool):
    """Yields ``(annorect index, (xy, labelled, head box))`` of each annotated one of ``people``."""
    for r in people:
        person = _person(rects[r - 1], f"{rw}.annorect({r})")
        if person is None:
            continue
        if check_images and not image.is_file():
            raise DatasetError(f"{rw}: image {image} (field 'image.name') is missing")
        yield r, person


def load_mpii(data: Optional[str] = None, split: str = "train", image_dir: Optional[str] = None,
              check_images: bool = True) -> PoseSamples:
    """MPII samples from either form: the release (``is_release_path``: ``split`` of
    ``load_mpii_mat``) or an MPII-format JSON (``load_mpii_json``; the file is the user's own split,
    so ``split`` does not apply). The default (no ``data``) is the JSON sample."""
    if is_release_path(data):
        return load_mpii_mat(data, image_dir, split=split, check_images=check_images)
    return load_mpii_json(data, image_dir, check_images=check_images)
