"""Joining per-modality encoders and tabular transformers into one matrix."""

from skmm.compose._categorical import (
    CategoricalEncoder,
    categorical_columns,
    category_codes,
)
from skmm.compose._detect import KINDS, ColumnTypes, detect_column_types
from skmm.compose._make import make_multimodal_union
from skmm.compose._union import MultimodalUnion

__all__ = [
    "KINDS",
    "CategoricalEncoder",
    "ColumnTypes",
    "MultimodalUnion",
    "categorical_columns",
    "category_codes",
    "detect_column_types",
    "make_multimodal_union",
]
