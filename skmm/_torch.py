"""Torch helpers shared by the encoders, the fusion heads and the aligner.

Device and precision resolution, autocast, seeding that leaves the caller's random
state as it was, seeds drawn from a ``random_state``, out-of-memory detection and the
halving of a batch size after one (``retry_on_out_of_memory``, shared by the encoders
and fine-tuning), and thread limits scoped to a block (``limited_threads``).
A leaf module: it imports nothing from skmm, so that any part of the package can use
it without depending on the encoders.
"""

from __future__ import annotations

import contextlib
import os
import random
import warnings
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import numpy as np
import torch
from sklearn.utils import check_random_state
from threadpoolctl import threadpool_limits

__all__ = [
    "autocast",
    "auto_num_threads",
    "auto_num_workers",
    "free_device_memory",
    "is_out_of_memory",
    "limited_threads",
    "resolve_device",
    "resolve_num_workers",
    "resolve_precision",
    "retry_on_out_of_memory",
    "seed_from",
    "seeded",
]

PRECISIONS = ("auto", "fp32", "fp16", "bf16")

_T = TypeVar("_T")


def resolve_device(device: str | torch.device, *, fallback: bool = False) -> str:
    """Turn a ``device`` parameter into a torch device string.

    ``"auto"`` picks CUDA, then MPS, then the CPU. With ``fallback=True`` (used when
    a saved model is loaded), a device this machine lacks becomes the CPU instead of
    an error.

    Parameters
    ----------
    device : str or torch.device
        ``"auto"``, or any torch device name (``"cpu"``, ``"cuda"``, ``"cuda:1"``,
        ``"mps"``).
    fallback : bool, default=False
        What to do with a device this machine lacks: ``True`` returns ``"cpu"``,
        ``False`` raises ``ValueError``.

    Returns
    -------
    device : str
        The device to use: for ``"auto"`` one of ``"cuda"``, ``"mps"`` and
        ``"cpu"``; an available device comes back as its name (``"cuda:1"``); an
        unavailable one as ``"cpu"`` with ``fallback``.

    Raises
    ------
    ValueError
        When ``device`` is not a torch device name, or (without ``fallback``) is
        not available here.

    Examples
    --------
    >>> from skmm._torch import resolve_device
    >>> resolve_device("cpu")
    'cpu'
    """
    name = str(device)
    if name == "auto":
        if torch.cuda.is_available():
            return "cuda"
        mps = getattr(torch.backends, "mps", None)
        if mps is not None and mps.is_available():
            return "mps"
        return "cpu"
    try:
        parsed = torch.device(name)
    except RuntimeError as exc:
        raise ValueError(
            f"device={device!r} is not a torch device; use 'auto', 'cpu', 'cuda', "
            "'cuda:1' or 'mps'"
        ) from exc
    available = {
        "cpu": True,
        "cuda": torch.cuda.is_available()
        and (parsed.index or 0) < torch.cuda.device_count(),
        "mps": getattr(torch.backends, "mps", None) is not None
        and torch.backends.mps.is_available(),
    }.get(parsed.type, False)
    if not available:
        if fallback:
            return "cpu"
        raise ValueError(f"device={device!r} is not available on this machine")
    return name


def resolve_precision(precision: str, device: str) -> str:
    """Turn a ``precision`` parameter into "fp32", "fp16" or "bf16".

    ``"auto"`` is bf16 autocast on a CUDA device that supports it, fp16 autocast on
    other CUDA devices, and fp32 elsewhere (CPU, MPS), where reduced precision is
    rarely faster for inference.

    Parameters
    ----------
    precision : {"auto", "fp32", "fp16", "bf16"}
        The requested precision; anything but ``"auto"`` is returned as it is,
        whatever the device.
    device : str
        A resolved device (see :func:`resolve_device`); only its type matters.

    Returns
    -------
    precision : {"fp32", "fp16", "bf16"}
        The precision to run in, for :func:`autocast`.

    Raises
    ------
    ValueError
        When ``precision`` is not one of the four options.

    Examples
    --------
    >>> from skmm._torch import resolve_precision
    >>> resolve_precision("auto", "cpu"), resolve_precision("fp16", "cpu")
    ('fp32', 'fp16')
    """
    if precision not in PRECISIONS:
        raise ValueError(
            f"precision must be one of {', '.join(map(repr, PRECISIONS))}, "
            f"got {precision!r}"
        )
    if precision != "auto":
        return precision
    if torch.device(device).type == "cuda":
        return "bf16" if torch.cuda.is_bf16_supported() else "fp16"
    return "fp32"


def autocast(device: str, precision: str) -> contextlib.AbstractContextManager:
    """The autocast context of a resolved ``precision`` on ``device``.

    fp32 is no autocast at all; fp16 and bf16 run the model's matrix products and
    convolutions in that type (``torch.autocast``), the weights staying in fp32.

    Parameters
    ----------
    device : str
        The device the model runs on; its type (``"cuda"``, ``"cpu"``, ...) is the
        autocast device type.
    precision : {"fp32", "fp16", "bf16"}
        A resolved precision (see :func:`resolve_precision`).

    Returns
    -------
    context : context manager
        ``contextlib.nullcontext()`` for fp32, else a ``torch.autocast`` context
        in float16 or bfloat16.

    Examples
    --------
    >>> from skmm._torch import autocast
    >>> with autocast("cpu", "fp32"):
    ...     pass
    """
    if precision == "fp32":
        return contextlib.nullcontext()
    dtype = torch.bfloat16 if precision == "bf16" else torch.float16
    return torch.autocast(torch.device(device).type, dtype=dtype)


@contextlib.contextmanager
def seeded(
    seed: int, device: str = "cpu", *, python_random: bool = False
) -> Iterator[None]:
    """Seed torch's generators for a block, and give them back as they were.

    Inside, ``seed`` drives initialisation, shuffling and dropout; afterwards the
    caller's global random state is unchanged. ``torch.random.manual_seed`` seeds
    the CPU and every CUDA device, so whenever CUDA is in use every device's state
    is forked, not only the one of ``device``. With ``python_random=True``,
    Python's ``random`` module is seeded and restored too (timm's random crops
    draw from it).

    Examples
    --------
    >>> import torch
    >>> from skmm._torch import seeded
    >>> before = torch.random.get_rng_state()
    >>> with seeded(0):
    ...     a = torch.rand(2)
    >>> with seeded(0):
    ...     b = torch.rand(2)
    >>> bool((a == b).all()), bool((torch.random.get_rng_state() == before).all())
    (True, True)
    >>> import random
    >>> state = random.getstate()
    >>> with seeded(0, python_random=True):
    ...     c = random.random()
    >>> with seeded(0, python_random=True):
    ...     d = random.random()
    >>> c == d, random.getstate() == state
    (True, True)
    """
    cuda = torch.device(device).type == "cuda" or torch.cuda.is_initialized()
    devices = list(range(torch.cuda.device_count())) if cuda else []
    saved = random.getstate() if python_random else None
    try:
        with torch.random.fork_rng(devices=devices):
            torch.random.manual_seed(seed)
            if python_random:
                random.seed(seed)
            yield
    finally:
        if saved is not None:
            random.setstate(saved)


def is_out_of_memory(error: BaseException) -> bool:
    """Whether ``error`` is a device out-of-memory error (CUDA, or MPS's message).

    Parameters
    ----------
    error : BaseException
        The exception caught around a forward pass.

    Returns
    -------
    bool
        True for a ``torch.OutOfMemoryError`` (``torch.cuda.OutOfMemoryError``)
        and for a plain ``RuntimeError`` whose message says "MPS backend out of
        memory"; False otherwise, including other errors that mention memory.

    Examples
    --------
    >>> import torch
    >>> from skmm._torch import is_out_of_memory
    >>> is_out_of_memory(torch.cuda.OutOfMemoryError("CUDA out of memory"))
    True
    >>> is_out_of_memory(ValueError("out of memory"))
    False
    """
    oom = getattr(torch, "OutOfMemoryError", torch.cuda.OutOfMemoryError)
    if isinstance(error, (oom, torch.cuda.OutOfMemoryError)):
        return True
    return type(error) is RuntimeError and "MPS backend out of memory" in str(error)


def free_device_memory(device: str) -> None:
    """Give the cached blocks of ``device``'s allocator back (CUDA, MPS).

    Called after an out-of-memory error, before a retry at a smaller batch size;
    a no-op on the CPU.

    Examples
    --------
    >>> from skmm._torch import free_device_memory
    >>> free_device_memory("cpu")
    """
    kind = torch.device(device).type
    if kind == "cuda" and torch.cuda.is_available():
        torch.cuda.empty_cache()
    elif kind == "mps" and hasattr(torch, "mps"):
        torch.mps.empty_cache()


def retry_on_out_of_memory(
    run: Callable[[], _T],
    owner: Any,
    category: type[Warning],
    *,
    stacklevel: int = 1,
) -> _T:
    """Call ``run()``; after a device out-of-memory error, halve the batch size
    and call it again, down to batch size 1.

    ``run`` reads ``owner.batch_size_`` (and keeps its own progress: a retry
    goes on from where the error stopped it). Each halving frees the cached
    memory of ``owner.device_`` and warns ``category`` with the device and both
    sizes; the smaller size stays in ``owner.batch_size_`` for the rest of the
    work. Any other error, or one at batch size 1, propagates.

    Parameters
    ----------
    run : callable
        The work, without arguments.
    owner : object
        Has ``batch_size_`` (int, halved here) and ``device_`` (str); its class
        name begins the warning.
    category : Warning subclass
        The warning's category (the caller's ``OutOfMemoryWarning``: this leaf
        module imports nothing of skmm).
    stacklevel : int, default=1
        As :func:`warnings.warn`'s, counted from the caller of this function.

    Returns
    -------
    result
        What ``run()`` returned.

    Examples
    --------
    >>> import warnings
    >>> import torch
    >>> from skmm._torch import retry_on_out_of_memory
    >>> class Encoder:
    ...     batch_size_, device_ = 8, "cpu"
    >>> encoder = Encoder()
    >>> def encode():
    ...     if encoder.batch_size_ > 2:
    ...         raise torch.cuda.OutOfMemoryError("CUDA out of memory")
    ...     return encoder.batch_size_
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     retry_on_out_of_memory(encode, encoder, ResourceWarning)
    2
    >>> str(caught[0].message)
    'Encoder: cpu ran out of memory at batch size 8; retrying with 4'
    """
    while True:
        try:
            return run()
        except Exception as exc:
            if not is_out_of_memory(exc) or owner.batch_size_ <= 1:
                raise
            old = owner.batch_size_
            owner.batch_size_ = max(1, old // 2)
            del exc  # its traceback holds the failed batch's tensors
            free_device_memory(owner.device_)
            warnings.warn(
                f"{type(owner).__name__}: {owner.device_} ran out of memory at "
                f"batch size {old}; retrying with {owner.batch_size_}",
                category,
                stacklevel=stacklevel + 1,
            )


def seed_from(random_state: Any) -> int:
    """One torch seed drawn from a scikit-learn ``random_state``.

    An int gives the same seed at every call; a ``RandomState`` advances; None
    draws from numpy's global generator.

    Examples
    --------
    >>> from skmm._torch import seed_from
    >>> seed_from(0) == seed_from(0)
    True
    """
    return int(check_random_state(random_state).randint(np.iinfo(np.int32).max))


def auto_num_workers(device_type: str) -> int:
    """DataLoader workers for ``num_workers="auto"``.

    None on a CPU: the model's forward pass already keeps every core busy (on 2
    cores, one decoding worker slowed EfficientNet-Lite0 down). Up to 4 on CUDA,
    where the CPU would otherwise leave the GPU waiting.

    Examples
    --------
    >>> from skmm._torch import auto_num_workers
    >>> auto_num_workers("cpu")
    0
    """
    if device_type != "cuda":
        return 0
    return max(0, min(4, (os.cpu_count() or 1) - 1))


def resolve_num_workers(num_workers: int | str, device: str) -> int:
    """Turn a ``num_workers`` parameter into a number of DataLoader workers.

    Examples
    --------
    >>> from skmm._torch import resolve_num_workers
    >>> resolve_num_workers("auto", "cpu"), resolve_num_workers(2, "cpu")
    (0, 2)
    """
    if num_workers == "auto":
        return auto_num_workers(torch.device(device).type)
    return int(num_workers)


# Multiply-adds per thread below which another intra-op thread costs more than it
# saves: on 2 cores a fusion head's batch (a few million multiply-adds) ran 5-40x
# slower with 2 threads than with 1 once another process kept the cores busy.
WORK_PER_THREAD = 2**25


def auto_num_threads(work: float) -> int:
    """Intra-op threads for a step of ``work`` multiply-adds.

    One thread per ``WORK_PER_THREAD`` multiply-adds (at least 1), never more than
    torch uses now: small networks run on one thread, where a second one only
    waits on the first (and, on a busy machine, on every other process).

    Examples
    --------
    >>> from skmm._torch import auto_num_threads
    >>> auto_num_threads(5e6)
    1
    """
    return int(max(1, min(torch.get_num_threads(), work // WORK_PER_THREAD)))


@contextlib.contextmanager
def limited_threads(n_threads: int | None) -> Iterator[None]:
    """Run a block with ``n_threads`` intra-op threads, then restore the caller's.

    Inside, torch's intra-op pool (``torch.set_num_threads``) and the BLAS and
    OpenMP libraries that threadpoolctl finds are limited to ``n_threads``; on
    exit, normal or by an exception, both are as they were. ``None`` changes
    nothing. torch's inter-op pool is left alone (it can be set only once per
    process). ``torch.set_num_threads`` is process-wide: another Python thread
    running torch at the same time sees the limit too.

    Examples
    --------
    >>> import torch
    >>> from skmm._torch import limited_threads
    >>> before = torch.get_num_threads()
    >>> with limited_threads(1):
    ...     torch.get_num_threads()
    1
    >>> torch.get_num_threads() == before
    True
    """
    if n_threads is None:
        yield
        return
    n_threads = max(1, int(n_threads))
    before = torch.get_num_threads()
    with threadpool_limits(limits=n_threads):
        torch.set_num_threads(n_threads)
        try:
            yield
        finally:
            torch.set_num_threads(before)
