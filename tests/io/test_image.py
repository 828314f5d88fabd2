import io
import os
import warnings

import numpy as np
import pytest
from PIL import Image

from skmm.exceptions import DecodeError
from skmm.io import check_image, decode_image


def test_exif_orientation_is_applied():
    """A phone photo stored sideways with an EXIF rotation comes out upright."""
    image = Image.new("RGB", (40, 20), "red")
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise when shown
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", exif=exif)
    assert decode_image(buffer.getvalue()).size == (20, 40)


@pytest.mark.parametrize("mode", ["L", "P", "CMYK", "RGBA", "I;16", "1"])
def test_every_pil_mode_becomes_rgb(mode):
    image = Image.new(mode, (6, 4))
    decoded = decode_image(image)
    assert decoded.mode == "RGB" and decoded.size == (6, 4)


@pytest.mark.parametrize(
    "value, reason",
    [
        (np.zeros((0, 4), np.uint8), "empty array"),
        (np.zeros((4, 4, 3), np.float32), "dtype float32"),
        (b"not an image", "not a readable image"),
        ("/", "is a directory"),
        (3.5, "unsupported type float"),
    ],
)
def test_decode_errors_say_why(value, reason):
    with pytest.raises(DecodeError, match=reason):
        decode_image(value)


def test_16_bit_images_are_scaled_by_their_range_not_clipped(tmp_path):
    """A 16-bit PNG (mode I;16): before, 99.6% of its pixels became 255."""
    values = np.linspace(0, 65535, 64 * 64).reshape(64, 64).astype(np.uint16)
    Image.fromarray(values).save(tmp_path / "deep.png")
    assert Image.open(tmp_path / "deep.png").mode == "I;16"
    grey = np.asarray(decode_image(tmp_path / "deep.png"))[..., 0].astype(int)
    assert np.abs(grey - np.rint(values / 257.0)).max() <= 1
    assert (grey == 255).mean() < 0.01


@pytest.mark.parametrize("mode", ["F", "I"])
def test_float_and_32_bit_images_are_scaled_from_their_own_range(mode):
    values = np.linspace(-500.0, 4000.0, 32 * 32).reshape(32, 32)
    image = Image.fromarray(values.astype(np.float32 if mode == "F" else np.int32))
    assert image.mode == mode
    grey = np.asarray(decode_image(image))[..., 0].astype(int)
    expected = np.rint((values - values.min()) / np.ptp(values) * 255)
    assert np.abs(grey - expected).max() <= 1
    assert grey.min() == 0 and grey.max() == 255


def test_an_animated_gif_gives_its_first_frame(tmp_path):
    frames = [Image.new("RGB", (8, 8), c) for c in ("red", "lime", "blue")]
    frames[0].save(tmp_path / "a.gif", save_all=True, append_images=frames[1:])
    assert Image.open(tmp_path / "a.gif").n_frames == 3
    pixel = np.asarray(decode_image(tmp_path / "a.gif"))[0, 0]
    assert pixel.tolist() == [255, 0, 0]


def test_over_the_pixel_limit_a_jpeg_is_reduced_and_a_png_refused(
    tmp_path, monkeypatch
):
    """The limit is PIL's own (Image.MAX_IMAGE_PIXELS): lowered here to test it on
    small files. Before, both were decoded in full with only PIL's warning."""
    Image.new("RGB", (400, 200), "red").save(tmp_path / "big.jpg")
    Image.new("RGB", (400, 200), "red").save(tmp_path / "big.png")
    # 80,000 pixels: over the limit (PIL warns), then over twice it (PIL refuses).
    for limit in (50_000, 30_000):
        monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", limit)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            assert decode_image(tmp_path / "big.jpg").size == (200, 100)  # 1/2
            with pytest.raises(DecodeError, match=r"400x200 pixels|over twice"):
                decode_image(tmp_path / "big.png")
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", None)  # PIL's "no limit"
    assert decode_image(tmp_path / "big.png").size == (400, 200)


@pytest.mark.timeout(30)
def test_special_files_are_refused_before_they_are_opened(tmp_path):
    os.mkfifo(tmp_path / "pipe.png")
    for value in (tmp_path / "pipe.png", str(tmp_path / "pipe.png")):
        assert (
            check_image(value)
            == "not a regular file (a FIFO); only regular files are read"
        )
        with pytest.raises(DecodeError, match="not a regular file"):
            decode_image(value)


def test_path_reasons_say_what_is_wrong():
    assert check_image("") == "empty path"
    assert "does not fetch URLs" in check_image("http://example.com/a.jpg")
    assert check_image("/") == "is a directory, not an image file"
