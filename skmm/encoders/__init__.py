"""Per-modality encoders: raw values (paths, bytes, text) in, vectors out."""

from skmm.encoders._base import BaseEncoder, is_missing, resolve_device
from skmm.encoders._image import ImageEncoder
from skmm.encoders._registry import clear_model_registry
from skmm.encoders._text import TextEncoder

__all__ = [
    "BaseEncoder",
    "ImageEncoder",
    "TextEncoder",
    "clear_model_registry",
    "is_missing",
    "resolve_device",
]
