"""COCO keypoints (Lin et al., ECCV 2014, https://cocodataset.org/#keypoints-2017), multi-person.

Files follow COCO's layout: ``<root>/annotations/person_keypoints_<split>.json`` with the images in
``<root>/<split>/`` (the zoo's ``coco-mini`` is 80 train2017 images laid out the same way). The JSON
holds ``images`` (``id``, ``file_name``, ``height``, ``width``), ``annotations`` (one per person or
crowd: ``keypoints`` as 17 x ``[x, y, v]``, ``num_keypoints``, ``area``, ``bbox`` x, y, w, h,
``iscrowd``, ``segmentation``) and ``categories`` (the person category names its keypoints,
``zoo.skeletons.COCO17``'s order). ``v`` is 0 for an unlabelled joint (x = y = 0), 1 for labelled
but occluded, 2 for labelled and visible; the zoo keeps ``visible = v > 0``.

Non-crowd people with at least one labelled joint become the samples' keypoints. Crowds
(``iscrowd = 1``, an RLE segmentation) and people without a labelled joint are kept only as
regions where the training loss is switched off (``loss_mask``), as OpenPose does with its
"mask_miss" (Cao et al., CVPR 2017, https://arxiv.org/abs/1611.08050): there are people there,
but no labels, so a detector must be neither rewarded nor punished.
"""

from __future__ import annotations

import math
import zlib
from pathlib import Path
from typing import Optional

import numpy as np

from training.datasets.base import DatasetError, MultiPersonSamples, PoseSamples, data_root
from zoo.skeletons import COCO17, get_skeleton, joint_mapping

NUM_JOINTS = COCO17.num_joints
DEFAULT_ANNOTATIONS = ("coco-mini", "annotations", "person_keypoints_train2017.json")


def default_image_dir(annotations) -> Path:
    """Image folder of a COCO annotation file: ``<root>/<split>/`` for
    ``<root>/annotations/person_keypoints_<split>.json``, else the JSON's own folder."""
    annotations = Path(annotations)
    prefix = "person_keypoints_"
    if not annotations.stem.startswith(prefix):
        return annotations.parent
    root = annotations.parent.parent if annotations.parent.name == "annotations" else annotations.parent
    return root / annotations.stem[len(prefix):]


def _number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _check_segmentation(segm, height: int, width: int, where: str) -> None:
    """A polygon list (each ``[x0, y0, x1, y1, ...]``) or an RLE dict of the image's size."""
    if isinstance(segm, dict):
        if "counts" not in segm or "size" not in segm:
            raise DatasetError(f"{where}: field 'segmentation' is a dict without 'counts'/'size' "
                               f"(keys {sorted(segm)})")
        if list(segm["size"]) != [height, width]:
            raise DatasetError(f"{where}: field 'segmentation' RLE size {segm['size']} differs from "
                               f"the image's [height, width] = [{height}, {width}]")
        return
    if not isinstance(segm, list) or not all(
            isinstance(p, list) and len(p) % 2 == 0 and all(_number(c) for c in p) for p in segm):
        raise DatasetError(f"{where}: field 'segmentation' must be an RLE dict or a list of polygons "
                           f"[x0, y0, x1, y1, ...], got {str(segm)[:80]}")


def segment_mask(segmentation, height: int, width: int) -> np.ndarray:
    """Bool ``(height, width)`` mask of a COCO segmentation (polygons, or RLE with list or string
    counts), decoded with ``pycocotools.mask`` as ``COCO.annToMask`` does. Polygons are encoded
    one by one (``frPyObjects`` would read a 4-number polygon as a box) and degenerate ones, with
    fewer than 3 points, cover nothing."""
    from pycocotools import mask as mask_utils

    if isinstance(segmentation, dict):
        rle = segmentation
        if isinstance(rle["counts"], list):  # uncompressed RLE (crowds)
            rle = mask_utils.frPyObjects(rle, height, width)
        return mask_utils.decode(rle).astype(bool)
    out = np.zeros((height, width), bool)
    for polygon in segmentation:
        if len(polygon) >= 6:
            rles = mask_utils.frPyObjects([[float(c) for c in polygon]], height, width)
            out |= mask_utils.decode(mask_utils.merge(rles)).astype(bool)
    return out


def loss_mask(samples: MultiPersonSamples, index: int) -> np.ndarray:
    """Float32 ``(H, W)`` mask of image ``index`` at image resolution: 1 where the loss is kept,
    0 over crowds and over people without a labelled joint (OpenPose's "mask_miss")."""
    height, width = (int(v) for v in np.asarray(samples.sizes)[index])
    mask = np.ones((height, width), np.float32)
    for segm in samples.ignore_segments[index]:
        mask[segment_mask(segm, height, width)] = 0.0
    return mask


def labelled_joints(skeleton: str) -> np.ndarray:
    """Bool ``(K,)``: the joints of ``skeleton`` that COCO labels at all. An LSP-14 model's head
    top and neck have no COCO keypoint: their maps (and the fields of limbs touching them) are
    masked in training (``training.composite.channel_weights``), not taught as absent."""
    return np.asarray(joint_mapping(COCO17, get_skeleton(skeleton))) >= 0


def heldout_split(samples: MultiPersonSamples, count: int = 20):
    """``(train, heldout)``: a fixed ``count`` of the images (every ``len / count``-th by image
    id, so the same photos on every machine) set aside as a real-photo validation set."""
    if not 0 < count < len(samples):
        raise ValueError(f"cannot hold out {count} of {len(samples)} images")
    order = np.argsort(np.asarray(samples.image_ids), kind="stable")
    held = set(order[np.linspace(0, len(samples) - 1, count).round().astype(int)].tolist())
    return (samples.subset([i for i in range(len(samples)) if i not in held]),
            samples.subset(sorted(held)))


def _person_category(categories, json_path) -> int:
    """Id of the category whose keypoint names are COCO-17's."""
    keyed = [c for c in categories if isinstance(c, dict) and "keypoints" in c]
    if not keyed:
        raise DatasetError(f"{json_path}: no entry of 'categories' has a 'keypoints' field "
                           f"(not a COCO keypoint file?)")
    person = next((c for c in keyed if c.get("name") == "person"), keyed[0])
    if tuple(person["keypoints"]) != COCO17.joint_names:
        raise DatasetError(f"{json_path}: category {person.get('id')!r} field 'keypoints' is "
                           f"{person['keypoints']}, expected COCO-17's {list(COCO17.joint_names)}")
    if "id" not in person:
        raise DatasetError(f"{json_path}: person category has no field 'id'")
    return person["id"]


def _read_images(entries, json_path):
    """``{image_id: (file_name, height, width)}`` in file order, every entry checked."""
    images = {}
    for i, im in enumerate(entries):
        where = f"{json_path}: images[{i}]"
        if not isinstance(im, dict):
            raise DatasetError(f"{where}: expected an object, got {type(im).__name__}")
        for field in ("id", "file_name", "height", "width"):
            if field not in im:
                raise DatasetError(f"{where}: missing field {field!r}")
        where = f"{json_path}: image {im['id']}"
        for field in ("height", "width"):
            if not isinstance(im[field], int) or isinstance(im[field], bool) or im[field] <= 0:
                raise DatasetError(f"{where}: field {field!r} must be a positive integer, got {im[field]!r}")
        if im["id"] in images:
            raise DatasetError(f"{where}: duplicate image id (field 'id')")
        images[im["id"]] = (str(im["file_name"]), im["height"], im["width"])
    return images


def load_coco_keypoints(annotations: Optional[str] = None, images: Optional[str] = None,
                        skeleton: str = "coco17", check_images: bool = True) -> MultiPersonSamples:
    """Loads a COCO person-keypoints file, one sample per image (images without people too).

    Args:
        annotations: ``person_keypoints_*.json`` (default
            ``<data root>/coco-mini/annotations/person_keypoints_train2017.json``).
        images: image folder (default ``default_image_dir(annotations)``, COCO's layout).
        skeleton: joint layout of the returned keypoints. ``"coco17"`` keeps the file's order;
            another skeleton (e.g. ``"lsp14"``) takes COCO's joints *by name*
            (``zoo.skeletons.joint_mapping``); joints COCO does not label (LSP's ``neck`` and
            ``head_top``) are unlabelled (visible 0, x = y = 0), and a person with no labelled
            joint left in that layout is masked (``loss_mask``) instead of kept.
        check_images: raise when an image file is missing.

    Every malformed entry raises ``DatasetError`` naming the file, the annotation (or image) id
    and the field.
    """
    json_path = Path(annotations) if annotations else data_root().joinpath(*DEFAULT_ANNOTATIONS)
    image_dir = Path(images) if images else default_image_dir(json_path)
    target = get_skeleton(skeleton)
    mapping = np.asarray(joint_mapping(COCO17, target))
    data = _read_annotation_file(json_path)
    person_id = _person_category(data["categories"], json_path)
    image_table = _read_images(data["images"], json_path)
    people = {image_id: [] for image_id in image_table}  # (annotation id, xy, visible, area, box)
    ignore = {image_id: [] for image_id in image_table}
    for n, ann in enumerate(data["annotations"]):
        where = _checked_annotation(ann, n, json_path)
        if ann["category_id"] != person_id:
            continue
        _add_person_annotation(ann, where, image_table, mapping, people, ignore)
    return _per_image_samples(image_table, people, ignore, image_dir, json_path, target, check_images)


def _checked_annotation(ann, n: int, json_path: Path) -> str:
    """Checks ``annotations[n]``'s fields 'id', 'image_id', 'category_id'; returns its ``where``."""
    if not isinstance(ann, dict):
        raise DatasetError(f"{json_path}: annotations[{n}]: expected an object, got {type(ann).__name__}")
    if "id" not in ann:
        raise DatasetError(f"{json_path}: annotations[{n}]: missing field 'id'")
    where = f"{json_path}: annotation {ann['id']}"
    for field in ("image_id", "category_id"):
        if field not in ann:
            raise DatasetError(f"{where}: missing field {field!r}")
    return where


def _add_person_annotation(ann: dict, where: str, image_table, mapping: np.ndarray, people, ignore) -> None:
    """Files a person annotation under its image: in ``people`` if labelled, else in ``ignore``."""
    if ann["image_id"] not in image_table:
        raise DatasetError(f"{where}: field 'image_id' = {ann['image_id']!r} is not in 'images'")
    where = f"{where} (image {ann['image_id']})"
    _, height, width = image_table[ann["image_id"]]
    if ann.get("iscrowd", 0):
        ignore[ann["image_id"]].append(_masked_region(ann, height, width, where,
                                                      "crowd annotation without field 'segmentation'"))
        return
    # A person whose labels all fall on joints the target lacks (e.g. only face points, for
    # LSP-14) has no labels there and is masked like one with none.
    xy, vis = _in_layout(_annotation_joints(ann, where), mapping)
    if not vis.any():
        ignore[ann["image_id"]].append(_masked_region(
            ann, height, width, where,
            "person without labelled joints and without field 'segmentation' (needed for the loss mask)"))
        return
    area, box = _person_area_and_box(ann, where)
    people[ann["image_id"]].append((ann["id"], xy, vis, area, box))


def _masked_region(ann: dict, height: int, width: int, where: str, missing: str):
    """The checked field 'segmentation' of a loss-masked annotation (``missing``: the error without it)."""
    if "segmentation" not in ann:
        raise DatasetError(f"{where}: {missing}")
    _check_segmentation(ann["segmentation"], height, width, where)
    return ann["segmentation"]


def _read_annotation_file(json_path: Path) -> dict:
    """The parsed annotation file, checked to hold the lists 'images', 'annotations', 'categories'."""
    from zoo.io import read_json

    keys = ("images", "annotations", "categories")
    data = read_json(json_path, dict, "COCO annotations", DatasetError, keys, hint="set $POSEZOO_DATA")
    for key in keys:
        if not isinstance(data[key], list):
            raise DatasetError(f"{json_path}: key {key!r} must be a list, got {type(data[key]).__name__}")
    return data


def _annotation_joints(ann: dict, where: str) -> np.ndarray:
    """The checked ``(17, 3)`` x, y, v of a person annotation's field 'keypoints'."""
    if "keypoints" not in ann:
        raise DatasetError(f"{where}: missing field 'keypoints'")
    kps = ann["keypoints"]
    if not isinstance(kps, list) or len(kps) != 3 * NUM_JOINTS:
        got = len(kps) if isinstance(kps, list) else type(kps).__name__
        raise DatasetError(f"{where}: field 'keypoints' must hold {3 * NUM_JOINTS} numbers "
                           f"({NUM_JOINTS} joints x [x, y, v]), got {got}")
    if not all(_number(c) for c in kps):
        raise DatasetError(f"{where}: field 'keypoints' has non-numeric or non-finite values")
    kps = np.asarray(kps, np.float64).reshape(NUM_JOINTS, 3)
    if not np.all(np.isin(kps[:, 2], (0, 1, 2))):
        raise DatasetError(f"{where}: field 'keypoints' has visibility flags "
                           f"{kps[:, 2].tolist()}, expected 0/1/2")
    labelled = int(np.count_nonzero(kps[:, 2]))
    if "num_keypoints" in ann and ann["num_keypoints"] != labelled:
        raise DatasetError(f"{where}: field 'num_keypoints' = {ann['num_keypoints']!r} but "
                           f"'keypoints' labels {labelled} joints")
    return kps


def _in_layout(kps: np.ndarray, mapping: np.ndarray):
    """COCO joints ``kps (17, 3)`` in the target layout (``mapping``: the COCO joint of each target
    joint, -1 for none): ``xy (K, 2)`` (0 where unlabelled) and ``visible (K,)``."""
    shared = mapping >= 0
    xy = np.zeros((len(mapping), 2), np.float32)
    vis = np.zeros(len(mapping), np.float32)
    xy[shared] = kps[mapping[shared], :2]
    vis[shared] = kps[mapping[shared], 2] > 0
    xy[vis == 0] = 0.0
    return xy, vis


def _person_area_and_box(ann: dict, where: str):
    """The checked fields 'area' (a float) and 'bbox' ([x, y, width, height]) of a person."""
    for field in ("area", "bbox"):
        if field not in ann:
            raise DatasetError(f"{where}: missing field {field!r}")
    if not _number(ann["area"]) or ann["area"] < 0:
        raise DatasetError(f"{where}: field 'area' must be a number >= 0, got {ann['area']!r}")
    box = ann["bbox"]
    if not isinstance(box, list) or len(box) != 4 or not all(_number(c) for c in box):
        raise DatasetError(f"{where}: field 'bbox' must be [x, y, width, height], got {box!r}")
    return float(ann["area"]), box


def _per_image_samples(image_table, people, ignore, image_dir: Path, json_path: Path, target,
                       check_images: bool) -> MultiPersonSamples:
    """One sample per image of ``image_table``: its people's arrays and its ignored regions."""
    paths, ids, sizes, kps_out, vis_out, areas, boxes, ann_ids, ignores = ([] for _ in range(9))
    k = target.num_joints
    for image_id, (file_name, height, width) in image_table.items():
        image = image_dir / file_name
        if check_images and not image.is_file():
            raise DatasetError(f"{json_path}: image {image_id}: file {image} (field 'file_name') is missing")
        rows = people[image_id]
        paths.append(str(image))
        ids.append(int(image_id))
        sizes.append((height, width))
        kps_out.append(np.asarray([r[1] for r in rows], np.float32).reshape(-1, k, 2))
        vis_out.append(np.asarray([r[2] for r in rows], np.float32).reshape(-1, k))
        areas.append(np.asarray([r[3] for r in rows], np.float32).reshape(-1))
        boxes.append(np.asarray([r[4] for r in rows], np.float32).reshape(-1, 4))
        ann_ids.append(np.asarray([r[0] for r in rows], np.int64).reshape(-1))
        ignores.append(ignore[image_id])
    return MultiPersonSamples(paths, ids, np.asarray(sizes, np.int64).reshape(-1, 2), kps_out, vis_out,
                              areas, boxes, target.name, ann_ids, ignores)


# --- COCO people as single-person samples (top-down training and evaluation) --------------------

#: The COCO train2017 photos of the shared data, each a COCO-layout folder.
PHOTO_FOLDERS = ("coco-mini", "coco-extra")
#: Share (per mille) of the photos held out for validation, chosen by ``photo_split``.
VAL_PER_MILLE = 153


def photo_split(image_id: int) -> str:
    """``val`` or ``train`` for a COCO photo, by its image id alone (never by its content):
    ``val`` when ``crc32(str(image_id)) % 1000 < VAL_PER_MILLE`` (about 36 of the 236 photos)."""
    return "val" if zlib.crc32(str(int(image_id)).encode("ascii")) % 1000 < VAL_PER_MILLE else "train"


def people_samples(samples: MultiPersonSamples, min_joints: int = 1, min_body_joints: int = 0) -> PoseSamples:
    """One single-person sample per labelled person of ``samples`` (in its skeleton), keeping
    people with at least ``min_joints`` labelled joints and, of COCO-17's 12 body joints (no face
    points), at least ``min_body_joints``. Ids are ``"<image id>:<annotation id>"``."""
    skeleton = get_skeleton(samples.skeleton)
    body = np.asarray([n not in FACE_JOINTS for n in skeleton.joint_names])
    paths, kps, vis, ids = [], [], [], []
    for i in range(len(samples)):
        for p in range(len(samples.keypoints[i])):
            v = np.asarray(samples.visible[i][p])
            if v.sum() >= min_joints and v[body].sum() >= min_body_joints:
                paths.append(samples.image_paths[i])
                kps.append(samples.keypoints[i][p])
                vis.append(v)
                ids.append(f"{samples.image_ids[i]}:{samples.annotation_ids[i][p]}")
    k = skeleton.num_joints
    return PoseSamples(paths, np.asarray(kps, np.float32).reshape(-1, k, 2),
                       np.asarray(vis, np.float32).reshape(-1, k), skeleton.name, ids)


def load_coco_photos(root: Optional[str] = None, split: str = "all") -> MultiPersonSamples:
    """The shared data's COCO photos (``PHOTO_FOLDERS`` under the data root, or ``root``), one
    sample per photo, COCO-17; ``split`` ``train``, ``val`` (``photo_split``) or ``all``."""
    if split not in ("train", "val", "all"):
        raise ValueError(f"unknown COCO photo split {split!r}; choose from ('train', 'val', 'all')")
    base = Path(root) if root else data_root()
    parts = [load_coco_keypoints(str(base.joinpath(folder, *DEFAULT_ANNOTATIONS[1:]))) for folder in PHOTO_FOLDERS]
    merged = MultiPersonSamples.concat(parts)
    if len(set(merged.image_ids)) != len(merged):
        raise DatasetError(f"COCO photo folders {PHOTO_FOLDERS} under {base} share image ids")
    keep = [i for i, image_id in enumerate(merged.image_ids) if split == "all" or photo_split(image_id) == split]
    return merged.subset(keep)


def load_coco_people(root: Optional[str] = None, split: str = "train", min_body_joints: Optional[int] = None
                     ) -> PoseSamples:
    """COCO people of the shared photos (``load_coco_photos``) as single-person COCO-17 samples.

    Training (``split="train"``) keeps every person with at least ``TRAIN_MIN_JOINTS`` labelled
    joints; validation keeps people with at least ``VAL_MIN_BODY_JOINTS`` of the 12 body joints
    labelled (a person PCK can be scored on), as docs/evaluation.md says."""
    photos = load_coco_photos(root, split)
    if min_body_joints is None:
        min_body_joints = VAL_MIN_BODY_JOINTS if split == "val" else 0
    return people_samples(photos, min_joints=TRAIN_MIN_JOINTS, min_body_joints=min_body_joints)


#: COCO-17's face points; the other 12 joints are the body (limb) joints.
FACE_JOINTS = ("nose", "left_eye", "right_eye", "left_ear", "right_ear")
#: A training person needs this many labelled joints: fewer make a crop of a hand or a face.
TRAIN_MIN_JOINTS = 6
#: A validation person needs this many of the 12 body joints labelled.
VAL_MIN_BODY_JOINTS = 8
