"""Encoding items that are several model inputs each (audio windows, video frames).

An item (a clip, a video) becomes a stack of inputs; the stacks of consecutive items
are concatenated until a batch is full, run through the model together, and each
item's outputs are pooled into one vector. Item boundaries never depend on the
batch, so an item's vector does not either (the model runs in eval mode).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

import numpy as np
import torch

__all__ = ["POOLS", "encode_stacks", "pool"]

POOLS = ("mean", "max", "meanmax")


def pool(outputs: torch.Tensor, how: str) -> torch.Tensor:
    """Pool ``(n_inputs, dim)`` outputs into one ``(dim,)`` (``(2 * dim,)`` for
    "meanmax": the mean, then the max)."""
    if how == "mean":
        return outputs.mean(dim=0)
    if how == "max":
        return outputs.amax(dim=0)
    return torch.cat([outputs.mean(dim=0), outputs.amax(dim=0)])


def encode_stacks(
    items: Iterable[tuple[int, torch.Tensor | None, str | None]],
    forward: Callable[[torch.Tensor], np.ndarray],
    batch_size: Callable[[], int],
    how: str,
    fail: Callable[[int, str], None],
    progress=None,
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Yield ``(positions, vectors)``: each item's stack through ``forward``, pooled.

    ``items`` yields ``(position, stack, error)``; an item with an error is reported
    through ``fail``. ``batch_size()`` is read at each batch (it may shrink after an
    out-of-memory error).
    """
    positions: list[int] = []
    stacks: list[torch.Tensor] = []
    pending = 0

    def flush():
        outputs = torch.from_numpy(forward(torch.cat(stacks)))
        sizes = [len(s) for s in stacks]
        vectors = [pool(chunk, how) for chunk in torch.split(outputs, sizes)]
        return np.asarray(positions), torch.stack(vectors).numpy()

    for position, stack, error in items:
        if error is not None:
            fail(position, error)
        else:
            positions.append(position)
            stacks.append(stack)
            pending += len(stack)
            if pending >= batch_size():
                yield flush()
                positions, stacks, pending = [], [], 0
        if progress is not None:
            progress.update(1)
    if stacks:
        yield flush()
