"""Per-modality encoders: raw values (paths, bytes, text) in, vectors out."""

from skmm._torch import autocast, is_out_of_memory, resolve_device, resolve_precision
from skmm.encoders._audio import AudioEncoder
from skmm.encoders._base import BaseEncoder, is_missing
from skmm.encoders._image import ImageEncoder
from skmm.encoders._registry import clear_model_registry
from skmm.encoders._text import TextEncoder
from skmm.encoders._video import VideoEncoder

__all__ = [
    "AudioEncoder",
    "BaseEncoder",
    "ImageEncoder",
    "TextEncoder",
    "VideoEncoder",
    "autocast",
    "clear_model_registry",
    "is_missing",
    "is_out_of_memory",
    "resolve_device",
    "resolve_precision",
]
