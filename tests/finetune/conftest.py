"""A tiny sentence-transformers model with two layers to split (BERT of width 32,
MiniLM's tokenizer), built offline once per session."""

from __future__ import annotations

import pytest

from tests.conftest import build_tiny_text_model


@pytest.fixture(scope="session")
def two_layer_text_model(tmp_path_factory) -> str:
    return build_tiny_text_model(
        tmp_path_factory, hidden=32, layers=2, max_seq_length=64
    )
