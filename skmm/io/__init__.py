"""Decoding of raw values (paths, bytes, arrays) into model inputs, precise errors."""

from skmm.io._audio import check_audio, decode_audio, resample_audio
from skmm.io._image import check_image, decode_image
from skmm.io._video import check_video, decode_video

__all__ = [
    "check_audio",
    "check_image",
    "check_video",
    "decode_audio",
    "decode_image",
    "decode_video",
    "resample_audio",
]
