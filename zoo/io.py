"""Reading images with clear errors (the file is always named)."""

from __future__ import annotations

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


def write_image(path, image: np.ndarray) -> None:
    """Writes an RGB uint8 image atomically (temp file, then rename); format from the suffix."""
    import os
    import tempfile

    from PIL import Image

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=path.suffix, dir=path.parent)
    os.close(fd)
    try:
        Image.fromarray(np.asarray(image, np.uint8)).save(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
