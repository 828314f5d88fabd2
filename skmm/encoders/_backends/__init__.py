"""Model backends: loading, saving and running a pretrained model, apart from any
modality (see ``_common`` for the contract)."""

from skmm.encoders._backends._aisfx import AisfxBackend, AisfxModel
from skmm.encoders._backends._common import (
    Backend,
    LoadedModel,
    files_digest,
    pack_directory,
    unpacked_directory,
)
from skmm.encoders._backends._mfcc import MfccBackend, MfccModel
from skmm.encoders._backends._sentence import (
    SentenceModel,
    SentenceTransformersBackend,
    resolve_text_model,
)
from skmm.encoders._backends._timm import TimmBackend, TimmModel, is_timm_model
from skmm.encoders._backends._transformers import (
    TransformersAudioBackend,
    TransformersAudioModel,
)

__all__ = [
    "AisfxBackend",
    "AisfxModel",
    "Backend",
    "LoadedModel",
    "MfccBackend",
    "MfccModel",
    "SentenceModel",
    "SentenceTransformersBackend",
    "TimmBackend",
    "TimmModel",
    "TransformersAudioBackend",
    "TransformersAudioModel",
    "files_digest",
    "is_timm_model",
    "pack_directory",
    "resolve_text_model",
    "unpacked_directory",
]
