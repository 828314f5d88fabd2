"""Read a head's input a slice of rows at a time, so a memory map stays on disk.

A neural fusion head normally cuts its whole input into blocks and standardises
them in memory (two copies of the data). Past a size, it streams instead: the
per-block statistics come from one pass over chunks of rows (a
:class:`~skmm.compose._scaling.BlockScaler`'s ``partial_fit``), each training
batch reads and standardises its own rows (one read per batch), and predictions
are made chunk by chunk. Only the presence mask (one bool per row and block) is
held whole.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np
import torch

from skmm.compose._blocks import BlockLayout, split_blocks
from skmm.compose._scaling import BlockScaler

# Inputs above this many bytes (as float32 blocks) are streamed, not copied.
IN_MEMORY_BYTES = 512 * 2**20
# Bytes of float32 blocks read at a time when streaming or predicting.
CHUNK_BYTES = 16 * 2**20


def n_rows(X: Any) -> int:
    """Rows of a validated input (2-D array or dict of arrays)."""
    if isinstance(X, Mapping):
        return len(next(iter(X.values())))
    return int(X.shape[0])


def row_bytes(layout: BlockLayout) -> int:
    """Bytes of one row's float32 blocks (at least 1)."""
    return max(1, 4 * sum(layout.widths))


def take(X: Any, rows: slice | np.ndarray) -> Any:
    """Rows ``rows`` (a slice, or sorted positions) of a 2-D array or of every
    array of a dict."""
    if isinstance(X, Mapping):
        return {k: v[rows] for k, v in X.items()}
    return X[rows]


def chunks(n: int, layout: BlockLayout, multiple: int = 1) -> Iterator[slice]:
    """Consecutive row slices of about ``CHUNK_BYTES`` (a multiple of ``multiple``)."""
    size = max(multiple, CHUNK_BYTES // row_bytes(layout))
    size -= size % multiple
    for start in range(0, n, size):
        yield slice(start, min(start + size, n))


def streamed_scaler(X: Any, layout: BlockLayout) -> tuple[BlockScaler, np.ndarray]:
    """A :class:`~skmm.compose._scaling.BlockScaler` fitted on ``X`` from one pass
    over chunks of rows, and the presence mask.

    Returns the fitted scaler (float64 statistics over the rows that have each
    block, NaN ignored) and the bool presence mask of shape (n_rows, n_blocks).

    Examples
    --------
    >>> import numpy as np
    >>> from skmm.compose._blocks import infer_layout
    >>> from skmm.fusion import _rows
    >>> X = {"a": np.array([[1.0], [3.0], [np.nan]]), "b": np.arange(3.0)[:, None]}
    >>> scaler, present = _rows.streamed_scaler(X, infer_layout(X))
    >>> [m.tolist() for m in scaler.means_], [s.tolist() for s in scaler.stds_]
    ([[2.0], [1.0]], [[1.0], [0.816496580927726]])
    >>> present[:, 0].tolist()
    [True, True, False]
    """
    total = n_rows(X)
    present = np.empty((total, len(layout.names)), dtype=bool)
    scaler = BlockScaler()
    for rows in chunks(total, layout):
        blocks, pres = split_blocks(take(X, rows), layout, dtype=np.float64)
        present[rows] = pres
        scaler.partial_fit(blocks, pres)
    if total == 0:
        scaler.fit([np.empty((0, w)) for w in layout.widths], present)
    return scaler, present


class ScaledRows(torch.utils.data.Dataset):
    """Rows ``rows`` of ``X``, standardised per block as the head does in memory.

    Item ``i`` is ``({"x0": ..., "present": ...}, target)`` for row ``rows[i]``,
    read from ``X`` when asked for (a memory map is paged in, not copied).
    """

    def __init__(
        self,
        X: Any,
        layout: BlockLayout,
        present: np.ndarray,
        scaler: BlockScaler,
        targets: np.ndarray,
        rows: np.ndarray,
    ):
        self.X, self.layout, self.present = X, layout, present
        self.scaler = scaler
        self.targets, self.rows = targets, np.asarray(rows)

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, i: int):
        return self.__getitems__([i])[0]

    def __getitems__(self, indices: list[int]) -> list:
        """A batch's items from one read of its rows: torch's DataLoader calls
        this rather than ``__getitem__`` once per row."""
        rows = self.rows[np.asarray(indices, dtype=np.intp)]
        order = np.argsort(rows, kind="stable")
        blocks, _ = split_blocks(take(self.X, rows[order]), self.layout)
        scaled = self.scaler.transform(blocks, self.present[rows[order]])
        position = np.empty_like(order)
        position[order] = np.arange(len(order))
        items = []
        for k, r in enumerate(rows):
            i = position[k]
            item = {f"x{j}": block[i] for j, block in enumerate(scaled)}
            item["present"] = self.present[r].copy()
            items.append((item, self.targets[r]))
        return items
