"""Read a head's input a slice of rows at a time, so a memory map stays on disk.

A neural fusion head normally cuts its whole input into blocks and standardises
them in memory (two copies of the data). Past a size, it streams instead: the
per-block statistics come from one pass over chunks of rows (merged with Chan's
parallel formula), each training batch reads and standardises its own rows (one
read per batch), and predictions are made chunk by chunk. Only the presence mask
(one bool per row and block) is held whole.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np
import torch

from skmm.compose._blocks import BlockLayout, split_blocks

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


def streamed_statistics(
    X: Any, layout: BlockLayout
) -> tuple[list[np.ndarray], list[np.ndarray], np.ndarray]:
    """Per-block feature means and standard deviations over the rows that have the
    block (NaN ignored), from one pass over chunks; and the presence mask.

    Returns float64 means and standard deviations (0 for a feature with no value)
    and the bool presence mask of shape (n_rows, n_blocks).

    Examples
    --------
    >>> import numpy as np
    >>> from skmm.compose._blocks import infer_layout
    >>> from skmm.fusion import _rows
    >>> X = {"a": np.array([[1.0], [3.0], [np.nan]]), "b": np.arange(3.0)[:, None]}
    >>> means, stds, present = _rows.streamed_statistics(X, infer_layout(X))
    >>> [m.tolist() for m in means], [s.tolist() for s in stds]
    ([[2.0], [1.0]], [[1.0], [0.816496580927726]])
    >>> present[:, 0].tolist()
    [True, True, False]
    """
    total = n_rows(X)
    present = np.empty((total, len(layout.names)), dtype=bool)
    count = [np.zeros(w) for w in layout.widths]
    mean = [np.zeros(w) for w in layout.widths]
    m2 = [np.zeros(w) for w in layout.widths]
    for rows in chunks(total, layout):
        blocks, pres = split_blocks(take(X, rows), layout, dtype=np.float64)
        present[rows] = pres
        for j, block in enumerate(blocks):
            part = block[pres[:, j]]
            n_b = (~np.isnan(part)).sum(axis=0).astype(np.float64)
            if not n_b.any():
                continue
            with np.errstate(all="ignore"):
                mean_b = np.where(n_b > 0, np.nansum(part, axis=0) / n_b, 0.0)
                m2_b = np.nansum((part - mean_b) ** 2, axis=0)
                n = count[j] + n_b
                delta = mean_b - mean[j]
                ratio = np.where(n > 0, n_b / n, 0.0)
                mean[j] = mean[j] + delta * ratio
                m2[j] = m2[j] + m2_b + delta**2 * count[j] * ratio
            count[j] = n
    stds = []
    for j in range(len(layout.names)):
        with np.errstate(all="ignore"):
            stds.append(np.where(count[j] > 0, np.sqrt(m2[j] / count[j]), 0.0))
    return mean, stds, present


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
        means: list[np.ndarray],
        scales: list[np.ndarray],
        targets: np.ndarray,
        rows: np.ndarray,
    ):
        self.X, self.layout, self.present = X, layout, present
        self.means, self.scales = means, scales
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
        scaled = []
        for j, block in enumerate(blocks):
            block = (block - self.means[j]) / self.scales[j]
            block = np.nan_to_num(block, nan=0.0, posinf=0.0, neginf=0.0)
            block[~self.present[rows[order], j]] = 0.0
            scaled.append(block.astype(np.float32))
        position = np.empty_like(order)
        position[order] = np.arange(len(order))
        items = []
        for k, r in enumerate(rows):
            i = position[k]
            item = {f"x{j}": block[i] for j, block in enumerate(scaled)}
            item["present"] = self.present[r].copy()
            items.append((item, self.targets[r]))
        return items
