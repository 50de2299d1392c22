"""zoo.io.read_image: colour conversions and clear errors naming the file."""

import numpy as np
import pytest
from PIL import Image

from zoo.io import ImageError, read_image, write_image


def _gradient(h=24, w=32):
    y, x = np.mgrid[0:h, 0:w]
    return np.stack([x * 8, y * 10, (x + y) * 4], axis=-1).astype(np.uint8)


def test_rgb_jpeg(tmp_path):
    img = _gradient()
    path = tmp_path / "a.jpg"
    Image.fromarray(img).save(path, quality=95)
    out = read_image(path)
    assert out.shape == (24, 32, 3) and out.dtype == np.uint8
    assert np.abs(out.astype(int) - img).mean() < 4  # lossy, but the same picture, channels in RGB order


def test_png_exact_and_write_image_round_trip(tmp_path):
    img = _gradient()
    path = tmp_path / "sub" / "b.png"
    write_image(path, img)
    np.testing.assert_array_equal(read_image(str(path)), img)
    assert [p.name for p in path.parent.iterdir()] == ["b.png"]  # no temp file left behind


def test_grayscale_png(tmp_path):
    grey = (np.arange(20 * 10) % 256).reshape(20, 10).astype(np.uint8)
    path = tmp_path / "g.png"
    Image.fromarray(grey, mode="L").save(path)
    out = read_image(path)
    assert out.shape == (20, 10, 3)
    for c in range(3):
        np.testing.assert_array_equal(out[..., c], grey)


def test_rgba_png(tmp_path):
    rgba = np.zeros((8, 6, 4), np.uint8)
    rgba[..., 0] = 200
    rgba[..., 3] = 255
    rgba[0, 0, 3] = 0  # one transparent pixel: composited on black
    path = tmp_path / "t.png"
    Image.fromarray(rgba, mode="RGBA").save(path)
    out = read_image(path)
    assert out.shape == (8, 6, 3)
    assert tuple(out[1, 1]) == (200, 0, 0)
    assert tuple(out[0, 0]) == (0, 0, 0)


def test_truncated_jpeg(tmp_path):
    path = tmp_path / "cut.jpg"
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)).save(path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ImageError, match="cut.jpg"):
        read_image(path)


def test_text_file_named_jpg(tmp_path):
    path = tmp_path / "x.jpg"
    path.write_text("this is not an image\n")
    with pytest.raises(ImageError, match="x.jpg.*not an image"):
        read_image(path)


def test_empty_file(tmp_path):
    path = tmp_path / "empty.png"
    path.write_bytes(b"")
    with pytest.raises(ImageError, match="empty.png.*empty"):
        read_image(path)


def test_missing_file(tmp_path):
    with pytest.raises(ImageError, match="nothere.jpg"):
        read_image(tmp_path / "nothere.jpg")
    with pytest.raises(ImageError):
        read_image(tmp_path)  # a folder is not an image file
