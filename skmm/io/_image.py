"""Image decoding: every image form of the data model into an RGB ``PIL.Image``.

Bounded memory: a file whose header declares more pixels than PIL's decompression
bomb limit (``PIL.Image.MAX_IMAGE_PIXELS``, 89.5 megapixels unless changed) is not
decoded in full. A JPEG is decoded at 1/2, 1/4 or 1/8 of its size by the JPEG
decoder itself (``Image.draft``), which never holds the full image; any other format
is refused, since PIL decodes a PNG, TIFF, GIF or WebP only at full size.
"""

from __future__ import annotations

import io
import os

import numpy as np
from PIL import Image, ImageOps, JpegImagePlugin, UnidentifiedImageError

from skmm.exceptions import DecodeError
from skmm.io._files import check_path, open_regular

__all__ = ["check_image", "decode_image"]

_PATH_TYPES = (str, os.PathLike)


def check_image(value) -> str | None:
    """Cheap validation of an image value, without decoding it.

    Parameters
    ----------
    value : str, os.PathLike, bytes, PIL.Image.Image or numpy.ndarray
        A non-missing image value.

    Returns
    -------
    reason : str or None
        Why the value cannot be an image, or None when it may be one (a file can
        still fail to decode later).

    Examples
    --------
    >>> from skmm.io import check_image
    >>> check_image("no/such/file.jpg")
    'file not found'
    >>> check_image("https://example.com/cat.jpg")
    'a URL: skmm does not fetch URLs; download the image and give its local path'
    >>> check_image(b"any bytes") is None
    True
    """
    if isinstance(value, _PATH_TYPES):
        return check_path(value, "image")
    if isinstance(value, (bytes, bytearray, memoryview, Image.Image)):
        return None
    if isinstance(value, np.ndarray):
        return _check_array(value)
    return (
        f"unsupported type {type(value).__name__}; expected a path, bytes, a "
        "PIL.Image or a HxW(xC) uint8 array"
    )


def _check_array(array: np.ndarray) -> str | None:
    if array.dtype != np.uint8:
        return f"array of dtype {array.dtype}; expected uint8"
    if array.ndim == 2 or (array.ndim == 3 and array.shape[2] in (1, 3, 4)):
        if min(array.shape[:2]) == 0:
            return f"empty array of shape {array.shape}"
        return None
    return f"array of shape {array.shape}; expected HxW or HxWxC with C in 1, 3, 4"


def decode_image(value) -> Image.Image:
    """Decode one image value into an RGB ``PIL.Image``.

    Files and bytes are fully decoded here (a truncated file fails now, not later)
    and their EXIF orientation is applied. Only regular files are opened (a FIFO or
    a device is a bad value, refused before it is read). An animated image (GIF,
    APNG, WebP) gives its first frame, as PIL and torchvision read it. 16-bit images
    (modes ``I;16*``) are scaled by the 16-bit range (65535 becomes 255); 32-bit
    integer and float images (modes ``I``, ``F``), which have no nominal range, are
    scaled from their own minimum and maximum to 0-255 (a constant image becomes 0),
    never clipped. An image over PIL's pixel limit (``PIL.Image.MAX_IMAGE_PIXELS``)
    is decoded at a reduced size when it is a JPEG and refused otherwise; the limit
    is PIL's own setting, and None there means no limit here either.

    Parameters
    ----------
    value : str, os.PathLike, bytes, PIL.Image.Image or numpy.ndarray
        A path to an image file, its raw bytes, a PIL image, or a HxW or HxWxC
        uint8 array (C in 1, 3, 4).

    Returns
    -------
    image : PIL.Image.Image
        An RGB image.

    Raises
    ------
    skmm.exceptions.DecodeError
        With the reason the value cannot be decoded.

    Examples
    --------
    >>> import numpy as np
    >>> from skmm.io import decode_image
    >>> decode_image(np.zeros((4, 5), dtype=np.uint8)).size
    (5, 4)
    """
    reason = check_image(value)
    if reason is not None:
        raise DecodeError(reason)
    if isinstance(value, np.ndarray):
        array = value[:, :, 0] if value.ndim == 3 and value.shape[2] == 1 else value
        return Image.fromarray(np.ascontiguousarray(array)).convert("RGB")
    if isinstance(value, Image.Image):
        image = value
    elif isinstance(value, _PATH_TYPES):
        with open_regular(value) as file:
            image = _decode_file(file)
    else:
        image = _decode_file(io.BytesIO(bytes(value)))
    if image.mode.startswith("I") or image.mode == "F":
        image = _to_8bit(image)
    if image.mode != "RGB":
        image = image.convert("RGB")
    return image


def _decode_file(source) -> Image.Image:
    try:
        try:
            opened = Image.open(source)
        except Image.DecompressionBombError:
            # Over twice its limit PIL refuses at open, before a JPEG could be
            # drafted: open a JPEG with its plugin, which leaves the limit to us.
            source.seek(0)
            if source.read(3) != b"\xff\xd8\xff":
                raise
            source.seek(0)
            opened = JpegImagePlugin.JpegImageFile(source)
        with opened:
            _bound_size(opened)
            opened.load()
            return ImageOps.exif_transpose(opened)
    except DecodeError:
        raise
    except Image.DecompressionBombError:
        raise DecodeError(
            f"image too large to decode (over twice PIL's limit of "
            f"{Image.MAX_IMAGE_PIXELS:,} pixels, PIL.Image.MAX_IMAGE_PIXELS)"
        ) from None
    except UnidentifiedImageError:
        raise DecodeError("not a readable image file") from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise DecodeError(f"corrupt or truncated image ({exc})") from None


def _bound_size(opened: Image.Image) -> None:
    """Make an opened (not yet decoded) image decode within PIL's pixel limit: a
    JPEG at a reduced scale, anything else refused."""
    limit = Image.MAX_IMAGE_PIXELS
    width, height = opened.size
    if limit is None or width * height <= limit:
        return
    if opened.format == "JPEG":
        for factor in (2, 4, 8):
            if (width // factor) * (height // factor) <= limit:
                opened.draft(opened.mode, (width // factor, height // factor))
                return
    raise DecodeError(
        f"image of {width}x{height} pixels, over PIL's limit of {limit:,} "
        "(PIL.Image.MAX_IMAGE_PIXELS): decoding it would take "
        f"{width * height * 3 / 2**30:.1f} GiB; only a JPEG can be decoded at a "
        "reduced size"
    )


def _to_8bit(image: Image.Image) -> Image.Image:
    """A 16-bit, 32-bit integer or float image as 8-bit grey ("L"), scaled, never
    clipped: by the 16-bit range for ``I;16*``, by its own range otherwise."""
    array = np.asarray(image)
    if image.mode.startswith("I;16") and array.dtype.kind == "u":
        scaled = array.astype(np.float32) / 257.0
    else:
        values = array.astype(np.float64)
        finite = np.isfinite(values)
        values = np.where(finite, values, 0.0)
        low = values[finite].min() if finite.any() else 0.0
        high = values[finite].max() if finite.any() else 0.0
        span = high - low
        scaled = (values - low) * (255.0 / span) if span > 0 else values * 0.0
    return Image.fromarray(np.rint(scaled).clip(0, 255).astype(np.uint8))
