"""Decoding of raw values (paths, bytes, arrays) into model inputs, precise errors."""

from skmm.io._image import check_image, decode_image

__all__ = ["check_image", "decode_image"]
