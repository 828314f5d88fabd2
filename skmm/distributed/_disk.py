"""Out-of-core output: write a transform to a memory-mapped ``.npy`` file in chunks."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from skmm._dataframe import slice_rows, to_numpy
from skmm.distributed._postfit import (
    _current_client,
    _import_dask,
    is_dask_collection,
    ship_estimator,
)

__all__ = ["transform_to_npy"]


def _row_chunks(X: Any, chunk_size: int) -> Iterator[Any]:
    """Consecutive row slices of an in-memory table or array."""
    n_rows = len(X)
    for start in range(0, n_rows, chunk_size):
        yield slice_rows(X, start, min(start + chunk_size, n_rows))


def _transform_array(part, estimator):
    return to_numpy(estimator.transform(part)) if len(part) else None


def _dask_chunks(estimator: Any, X: Any) -> Iterator[tuple[int, np.ndarray]]:
    """(partition number, output) pairs, in completion order, a few in flight."""
    dask = _import_dask()
    handle = ship_estimator(estimator)
    tasks = [dask.delayed(_transform_array)(part, handle) for part in X.to_delayed()]
    client = _current_client()
    if client is None:
        for i, task in enumerate(tasks):
            yield i, task.compute()
        return
    from distributed import as_completed

    # Keep a bounded number of partitions in flight: results are written and
    # released as they come, so the cluster never holds the whole output.
    window = max(2, 2 * len(client.nthreads()))
    pending = iter(enumerate(tasks))
    index = {}
    running = as_completed()
    for i, task in pending:
        future = client.compute(task)
        index[future.key] = i
        running.add(future)
        if len(index) >= window:
            break
    for future in running:
        i = index.pop(future.key)
        yield i, future.result()
        future.release()
        nxt = next(pending, None)
        if nxt is not None:
            j, task = nxt
            new = client.compute(task)
            index[new.key] = j
            running.add(new)


def transform_to_npy(
    estimator: Any,
    X: Any,
    path: str | os.PathLike,
    *,
    chunk_size: int = 4096,
    dtype: Any = None,
) -> np.memmap:
    """Write ``estimator.transform(X)`` to a ``.npy`` file, chunk by chunk.

    For outputs larger than memory: only one chunk of rows (in-memory input) or a
    few partitions (dask input, encoded in parallel on the workers) are held at a
    time, and each is written into a memory-mapped ``.npy`` file
    (:func:`numpy.lib.format.open_memmap`). The file is written under a temporary
    name in the same directory and renamed to ``path`` only when complete: an
    interrupted run (an exception, a killed process) never leaves a file at
    ``path`` that looks finished, only a ``.partial-*`` file to delete.

    Parameters
    ----------
    estimator : fitted transformer
        An encoder, a :class:`~skmm.MultimodalUnion` or a pipeline of transformers.
    X : DataFrame (pandas, polars), array, list or dask DataFrame
        The raw input. A dask DataFrame's partitions are transformed on the
        workers (their lengths are computed first, to size the file).
    path : str or os.PathLike
        Destination, usually ending in ``.npy``; replaced if it exists.
    chunk_size : int, default=4096
        Rows per chunk for in-memory input (dask input uses its partitions).
    dtype : numpy dtype, default=None
        dtype of the file; by default the dtype of the transform's output
        (float32 for skmm encoders).

    Returns
    -------
    embeddings : numpy.memmap of shape (n_samples, n_features_out)
        The finished file, opened read-only (``np.load(path, mmap_mode="r")``):
        pages are read from disk as they are used. Give it to a head with
        ``modalities=union.output_indices_`` to keep the modality blocks.

    Notes
    -----
    What is in memory when a head fits from the returned memmap: a scikit-learn
    estimator that accepts float32 (``SGDClassifier``, ``LogisticRegression``)
    reads the memmap in place; ``SGDClassifier.partial_fit`` over row slices
    keeps only one slice in memory. :class:`~skmm.FusionClassifier` and the
    other neural heads stream an input larger than 512 MiB: the blocks'
    statistics come from one pass over 16 MiB chunks, each training batch reads
    its rows from the file, and predictions are made chunk by chunk; only the
    presence mask (one bool per row and block) is held whole. Below that size
    they standardise a copy in memory, which is faster.

    Examples
    --------
    >>> import tempfile
    >>> import numpy as np
    >>> import pandas as pd
    >>> from sklearn.preprocessing import StandardScaler
    >>> from skmm.distributed import transform_to_npy
    >>> X = pd.DataFrame({"a": np.arange(10.0), "b": np.ones(10)})
    >>> scaler = StandardScaler().fit(X)
    >>> path = tempfile.mkdtemp() + "/scaled.npy"
    >>> out = transform_to_npy(scaler, X, path, chunk_size=4)
    >>> out.shape, np.allclose(out, scaler.transform(X))
    ((10, 2), True)
    """
    if not (isinstance(chunk_size, int) and chunk_size >= 1):
        raise ValueError(f"chunk_size must be a positive int; got {chunk_size!r}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(f"{path.name}.partial-{uuid.uuid4().hex[:8]}.npy")

    if is_dask_collection(X):
        lengths = [int(n) for n in X.map_partitions(len).compute()]
        chunks = _dask_chunks(X=X, estimator=estimator)
    else:
        lengths = [
            min(chunk_size, len(X) - start) for start in range(0, len(X), chunk_size)
        ]
        chunks = enumerate(
            _transform_array(c, estimator) for c in _row_chunks(X, chunk_size)
        )
    offsets = np.concatenate([[0], np.cumsum(lengths, dtype=np.int64)])
    n_rows = int(offsets[-1])

    out = None
    try:
        for i, values in chunks:
            if values is None:  # an empty partition
                continue
            if len(values) != lengths[i]:
                raise ValueError(
                    f"chunk {i} has {lengths[i]} rows but its transform returned "
                    f"{len(values)}"
                )
            if out is None:
                out = np.lib.format.open_memmap(
                    temp,
                    mode="w+",
                    dtype=values.dtype if dtype is None else np.dtype(dtype),
                    shape=(n_rows, values.shape[1]),
                )
            elif values.shape[1] != out.shape[1]:
                raise ValueError(
                    f"chunk {i} has {values.shape[1]} output columns, the first had "
                    f"{out.shape[1]}"
                )
            out[offsets[i] : offsets[i + 1]] = values
        if out is None:
            raise ValueError("X has no rows: nothing to write")
        out.flush()
        del out
        os.replace(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    return np.load(path, mmap_mode="r")
