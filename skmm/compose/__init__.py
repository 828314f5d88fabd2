"""Joining per-modality encoders and tabular transformers into one matrix."""

from skmm.compose._categorical import (
    CategoricalEncoder,
    categorical_columns,
    category_codes,
)
from skmm.compose._union import MultimodalUnion, make_multimodal_union

__all__ = [
    "CategoricalEncoder",
    "MultimodalUnion",
    "categorical_columns",
    "category_codes",
    "make_multimodal_union",
]
