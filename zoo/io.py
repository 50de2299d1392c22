"""Files: reading images with clear errors (the file is always named), and writing files
atomically (``write_atomic``, ``atomic_path``), the one place that does so."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np


class ImageError(ValueError):
    """An image file is missing, empty, truncated or not an image."""


def read_image(path) -> np.ndarray:
    """Reads ``path`` as uint8 RGB ``(H, W, 3)``; grayscale and RGBA/palette images are converted.

    Raises ``ImageError`` naming the file when it is missing, empty, truncated or not an image.
    """
    from PIL import Image, UnidentifiedImageError

    path = Path(path)
    if not path.is_file():
        raise ImageError(f"{path}: no such image file")
    if path.stat().st_size == 0:
        raise ImageError(f"{path}: the file is empty")
    try:
        with Image.open(path) as im:
            im.load()  # decodes fully: a truncated file raises here
            if im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info):
                background = Image.new("RGBA", im.size, (0, 0, 0, 255))
                im = Image.alpha_composite(background, im.convert("RGBA"))
            rgb = np.asarray(im.convert("RGB"), dtype=np.uint8)
    except UnidentifiedImageError:
        raise ImageError(f"{path}: not an image file (unrecognised format)") from None
    except OSError as e:
        raise ImageError(f"{path}: damaged or truncated image ({e})") from None
    except Image.DecompressionBombError as e:
        raise ImageError(f"{path}: image too large ({e})") from None
    if rgb.ndim != 3 or rgb.shape[2] != 3 or min(rgb.shape[:2]) < 1:
        raise ImageError(f"{path}: unexpected image shape {rgb.shape}")
    return rgb


def read_json(path, expected: type, what: str, error: type = ValueError, keys=(), missing: type = None,
              hint: str = ""):
    """The parsed JSON file ``path``, checked to be an ``expected`` (``dict`` or ``list``) holding
    ``keys``. Every problem raises ``error`` naming the file and what was wrong; a file that is
    not there raises ``missing`` (default ``error``) as "``what`` not found: path ``hint``"."""
    path = Path(path)
    try:
        data = json.loads(path.read_bytes().decode("utf-8"))
    except FileNotFoundError:
        raise (missing or error)(f"{what} not found: {path}" + (f" ({hint})" if hint else "")) from None
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise error(f"{path}: not valid JSON ({e})") from None
    if not isinstance(data, expected):
        kind = "a JSON object" if expected is dict else f"a JSON {expected.__name__}"
        raise error(f"{path}: expected {kind}, got {type(data).__name__}")
    for key in keys:
        if key not in data:
            raise error(f"{path}: missing key {key!r} (found {sorted(data)})")
    return data


def write_image(path, image: np.ndarray) -> None:
    """Writes an RGB uint8 image atomically (``atomic_path``); format from the suffix."""
    from PIL import Image

    with atomic_path(path) as tmp:
        Image.fromarray(np.asarray(image, np.uint8)).save(tmp)


def write_atomic(path, data) -> Path:
    """Writes ``data`` (bytes or str) to ``path`` through a temporary file in the same folder,
    then renames it into place: a reader never sees a half-written file, and an existing file
    is replaced only once the new one is complete. Creates the folder; returns ``path``."""
    path = Path(path)
    with atomic_path(path) as tmp:
        tmp.write_bytes(data.encode() if isinstance(data, str) else bytes(data))
    return path


@contextlib.contextmanager
def atomic_path(path):
    """A temporary path beside ``path`` to write to (a file, or a folder for writers that make
    one); renamed to ``path`` when the block ends without error, removed otherwise. For writers
    that take a file name (``model.save_weights``, ``cv2.imwrite``): the temporary name keeps
    ``path``'s suffixes, so format detection by extension still works.

        with atomic_path("final.weights.h5") as tmp:
            model.save_weights(str(tmp))
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise PermissionError(f"cannot create output directory {path.parent}: {e.strerror}") from None
    if not os.access(path.parent, os.W_OK):
        raise PermissionError(f"output directory {path.parent} is not writable")
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".partial" + "".join(path.suffixes),
                                dir=path.parent)
    os.close(fd)
    tmp = Path(name)
    tmp.unlink()  # the writer creates it (some refuse to overwrite, some make a folder)
    try:
        yield tmp
        if path.is_dir() and tmp.is_dir():
            shutil.rmtree(path)
        os.replace(tmp, path)
    finally:
        if tmp.is_dir():
            shutil.rmtree(tmp, ignore_errors=True)
        elif tmp.exists():
            tmp.unlink()
