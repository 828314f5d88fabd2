"""Image decoding: every image form of the data model into an RGB ``PIL.Image``."""

from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from skmm.exceptions import DecodeError

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
    >>> check_image(b"any bytes") is None
    True
    """
    if isinstance(value, _PATH_TYPES):
        path = Path(value)
        if not path.exists():
            return "file not found"
        if path.is_dir():
            return "is a directory, not an image file"
        return None
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
    and their EXIF orientation is applied.

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
    else:
        source = value if isinstance(value, _PATH_TYPES) else io.BytesIO(bytes(value))
        try:
            with Image.open(source) as opened:
                opened.load()
                image = ImageOps.exif_transpose(opened)
        except UnidentifiedImageError:
            raise DecodeError("not a readable image file") from None
        except (OSError, SyntaxError, ValueError) as exc:
            raise DecodeError(f"corrupt or truncated image ({exc})") from None
    if image.mode != "RGB":
        image = image.convert("RGB")
    return image
