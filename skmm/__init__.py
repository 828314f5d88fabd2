"""skmm: multimodal learning (images, text, tables) inside scikit-learn.

The public API is re-exported here; the implementation lives in private modules.
"""

# Before the other imports: a submodule may read it while the package is imported.
from skmm._version import __version__  # isort: skip
from skmm._config import config_context, get_config, set_config
from skmm._pipeline import make_multimodal_pipeline
from skmm.cache import EmbeddingCache
from skmm.compose import (
    CategoricalEncoder,
    ColumnTypes,
    MultimodalUnion,
    detect_column_types,
    make_multimodal_union,
)
from skmm.crossmodal import CrossModalAligner, ZeroShotClassifier
from skmm.encoders import AudioEncoder, ImageEncoder, TextEncoder, VideoEncoder
from skmm.ensemble import EnsembleClassifier, EnsembleRegressor
from skmm.finetune import FineTuneClassifier, FineTuneRegressor
from skmm.fusion import (
    FusionClassifier,
    FusionMultiTask,
    FusionRegressor,
    LateFusionClassifier,
    LateFusionRegressor,
)

__all__ = [
    "AudioEncoder",
    "CategoricalEncoder",
    "ColumnTypes",
    "CrossModalAligner",
    "EmbeddingCache",
    "EnsembleClassifier",
    "EnsembleRegressor",
    "FineTuneClassifier",
    "FineTuneRegressor",
    "FusionClassifier",
    "FusionMultiTask",
    "FusionRegressor",
    "ImageEncoder",
    "LateFusionClassifier",
    "LateFusionRegressor",
    "MultimodalUnion",
    "TextEncoder",
    "VideoEncoder",
    "ZeroShotClassifier",
    "__version__",
    "config_context",
    "detect_column_types",
    "get_config",
    "make_multimodal_pipeline",
    "make_multimodal_union",
    "set_config",
]
