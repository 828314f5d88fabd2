"""skmm: multimodal learning (images, text, tables) inside scikit-learn.

The public API is re-exported here; the implementation lives in private modules.
"""

from skmm.compose import MultimodalUnion, make_multimodal_union
from skmm.encoders import ImageEncoder, TextEncoder
from skmm.fusion import (
    FusionClassifier,
    FusionMultiTask,
    FusionRegressor,
    LateFusionClassifier,
    LateFusionRegressor,
)

__version__ = "0.1.0"

__all__ = [
    "FusionClassifier",
    "FusionMultiTask",
    "FusionRegressor",
    "ImageEncoder",
    "LateFusionClassifier",
    "LateFusionRegressor",
    "MultimodalUnion",
    "TextEncoder",
    "__version__",
    "make_multimodal_union",
]
