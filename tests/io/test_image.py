import io

import numpy as np
import pytest
from PIL import Image

from skmm.exceptions import DecodeError
from skmm.io import decode_image


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
