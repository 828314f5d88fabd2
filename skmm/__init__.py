"""skmm: multimodal learning (images, text, tables) inside scikit-learn.

The public API is re-exported here; the implementation lives in private modules.
Names are imported on first use (PEP 562), so that ``import skmm`` and the command
line's ``--help`` do not load torch, scikit-learn and timm until a name needs them.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

# Before the other imports: a submodule may read it while the package is imported.
from skmm._version import __version__  # isort: skip
from skmm._config import config_context, get_config, set_config

# Public name -> the subpackage that defines it.
_LAZY = {
    "EmbeddingCache": "skmm.cache",
    "CategoricalEncoder": "skmm.compose",
    "ColumnTypes": "skmm.compose",
    "MultimodalUnion": "skmm.compose",
    "detect_column_types": "skmm.compose",
    "make_multimodal_pipeline": "skmm._pipeline",
    "make_multimodal_union": "skmm.compose",
    "CrossModalAligner": "skmm.crossmodal",
    "ZeroShotClassifier": "skmm.crossmodal",
    "AudioEncoder": "skmm.encoders",
    "ImageEncoder": "skmm.encoders",
    "TextEncoder": "skmm.encoders",
    "VideoEncoder": "skmm.encoders",
    "EnsembleClassifier": "skmm.ensemble",
    "EnsembleRegressor": "skmm.ensemble",
    "FineTuneClassifier": "skmm.finetune",
    "FineTuneRegressor": "skmm.finetune",
    "FineTunedEmbeddings": "skmm.finetune",
    "FusionClassifier": "skmm.fusion",
    "FusionMultiTask": "skmm.fusion",
    "FusionRegressor": "skmm.fusion",
    "LateFusionClassifier": "skmm.fusion",
    "LateFusionRegressor": "skmm.fusion",
}
# Subpackages that ``skmm.<name>`` reaches without an import statement.
_SUBPACKAGES = (
    "cache",
    "cli",
    "compose",
    "crossmodal",
    "datasets",
    "distributed",
    "encoders",
    "ensemble",
    "exceptions",
    "finetune",
    "fusion",
    "inspection",
    "io",
)

if TYPE_CHECKING:  # what type checkers and IDEs see
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
    from skmm.finetune import (
        FineTuneClassifier,
        FineTunedEmbeddings,
        FineTuneRegressor,
    )
    from skmm.fusion import (
        FusionClassifier,
        FusionMultiTask,
        FusionRegressor,
        LateFusionClassifier,
        LateFusionRegressor,
    )


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is not None:
        value = getattr(importlib.import_module(module), name)
        globals()[name] = value
        return value
    if name in _SUBPACKAGES:
        return importlib.import_module(f"skmm.{name}")
    raise AttributeError(f"module 'skmm' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__, *_SUBPACKAGES})


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
    "FineTunedEmbeddings",
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
