"""The content-addressed store of frozen-prefix activations.

An activation is keyed like an embedding: (the prefix's namespace: the encoder's
weights digest, preprocessing and split point; see ``Backbone.namespace``) x (the
item's content digest, as the embedding cache computes it). Two layers:

- in this process, a bounded least-recently-used map shared by every fit (epochs,
  cross-validation folds, grid-search candidates with the same backbone and ``k``),
  so the prefix of an item runs once per process;
- on disk, the embedding cache of the encoder (its ``cache`` parameter, else
  :func:`skmm.set_config`'s), when there is one: an activation is stored there as
  a flat vector under a fingerprint that adds its shape (a text's token count is
  part of its shape), so other processes and later sessions find it too.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from skmm.cache import BoundedLRU, EmbeddingCache, resolve_cache
from skmm.cache._keys import fingerprint_of, item_digest

__all__ = ["clear_activation_store", "prefix_activations"]

# The in-process layer's budget: the activations of EfficientNet-Lite0's last
# stage (7 x 7 x 192 float32) take 37 KiB an image, MiniLM's hidden states of a
# 100-token text 150 KiB.
MAX_BYTES = 2 << 30


# The byte-bounded LRU map of the embedding cache's in-memory store, keyed by
# (namespace, item digest) and holding arrays of any shape.
_STORE = BoundedLRU(MAX_BYTES)


def clear_activation_store() -> None:
    """Forget the frozen-prefix activations kept in this process.

    Examples
    --------
    >>> from skmm.finetune import clear_activation_store
    >>> clear_activation_store()
    """
    _STORE.clear()


def _disk_cache(encoder: Any) -> EmbeddingCache | None:
    """The encoder's cache when it is on disk: the in-process layer is ``_STORE``."""
    cache = resolve_cache(encoder.cache)
    return cache if isinstance(cache, EmbeddingCache) else None


def _shape_fingerprint(namespace: str, shape: tuple[int, ...]) -> str:
    return fingerprint_of({"prefix": namespace, "shape": list(shape)})


def prefix_activations(
    values: Sequence[Any],
    *,
    namespace: str,
    compute: Callable[[list], list[np.ndarray]],
    encoder: Any,
    paths: bool,
    batch_size: int,
    shape_of: Callable[[Any], tuple[int, ...]] | None = None,
) -> list[np.ndarray]:
    """The prefix activation of each value, computing only what no layer has.

    Parameters
    ----------
    values : sequence
        Non-missing raw values (images, texts).
    namespace : str
        The prefix's key (``Backbone.namespace()``).
    compute : callable
        ``compute(batch_of_values) -> list of arrays``: runs the prefix.
    encoder : BaseEncoder
        Whose cache (or the default one) is the disk layer.
    paths : bool
        Whether a str value is a file path (images) or the item (texts).
    batch_size : int
        Values per ``compute`` call.
    shape_of : callable, default=None
        The activation shape of a value without computing it (texts: from its
        token count), needed to read the disk layer before computing; None: the
        disk layer is read for the shapes met in this call only (images: one).

    Returns
    -------
    list of ndarray
        In the order of ``values``; equal items share one array.
    """
    keys = [item_digest(v, paths=paths) for v in values]
    out: list[np.ndarray | None] = [None] * len(values)
    todo: dict[bytes | int, list[int]] = {}
    for i, key in enumerate(keys):
        found = _STORE.get((namespace, key)) if key is not None else None
        if found is not None:
            out[i] = found
        else:
            todo.setdefault(key if key is not None else -1 - i, []).append(i)
    disk = _disk_cache(encoder) if todo else None
    if disk is not None and shape_of is not None:
        _read_disk(disk, namespace, values, keys, todo, out, shape_of)
    order = list(todo)
    for start in range(0, len(order), batch_size):
        chunk = order[start : start + batch_size]
        computed = compute([values[todo[k][0]] for k in chunk])
        by_shape: dict[tuple[int, ...], tuple[list[bytes], list[np.ndarray]]] = {}
        for k, activation in zip(chunk, computed, strict=True):
            activation = np.ascontiguousarray(activation, dtype=np.float32)
            for i in todo[k]:
                out[i] = activation
            if isinstance(k, bytes):
                _STORE.put((namespace, k), activation)
                group = by_shape.setdefault(activation.shape, ([], []))
                group[0].append(k)
                group[1].append(activation.reshape(-1))
        if disk is not None:
            for shape, (shape_keys, rows) in by_shape.items():
                disk.put_many(
                    _shape_fingerprint(namespace, shape),
                    shape_keys,
                    np.stack(rows),
                    description=f"skmm fine-tune prefix {namespace} {shape}",
                )
    return out  # type: ignore[return-value]


def _read_disk(
    disk: EmbeddingCache,
    namespace: str,
    values: Sequence[Any],
    keys: list,
    todo: dict,
    out: list,
    shape_of: Callable[[Any], tuple[int, ...]],
) -> None:
    """Fill ``out`` from the disk layer and drop what it had from ``todo``."""
    groups: dict[tuple[int, ...], list[bytes]] = {}
    for key in todo:
        if isinstance(key, bytes):
            groups.setdefault(shape_of(values[todo[key][0]]), []).append(key)
    for shape, shape_keys in groups.items():
        found, vectors = disk.get_many(
            _shape_fingerprint(namespace, shape), shape_keys, int(np.prod(shape))
        )
        hits = [k for k, hit in zip(shape_keys, found, strict=True) if hit]
        for key, vector in zip(hits, vectors, strict=True):
            activation = np.ascontiguousarray(vector, dtype=np.float32).reshape(shape)
            _STORE.put((namespace, key), activation)
            for i in todo.pop(key):
                out[i] = activation
