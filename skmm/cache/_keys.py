"""Content keys: what identifies one item, and what identifies one encoder's output.

An entry of the cache is keyed by (encoder fingerprint, item digest). The item digest
hashes the item's content: the UTF-8 bytes of a text, the bytes of a file or a bytes
value (the same key for a file and its bytes, since they decode the same), the dtype,
shape and bytes of an array, the mode, size and pixels of a PIL image. The fingerprint
hashes everything that changes the vectors: the model's weights, the preprocessing
parameters and the skmm version.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
from typing import Any

import numpy as np

__all__ = ["fingerprint_of", "item_digest", "weights_digest"]

_DIGEST_SIZE = 16
_CHUNK = 1 << 20


def _blake(*parts: bytes) -> bytes:
    h = hashlib.blake2b(digest_size=_DIGEST_SIZE)
    for part in parts:
        h.update(part)
    return h.digest()


def _file_digest(path: str | os.PathLike, file_key: str) -> bytes:
    if file_key == "stat":
        info = os.stat(path)
        if not stat.S_ISREG(info.st_mode):
            raise ValueError("not a regular file")
        ident = f"{os.path.abspath(path)}\0{info.st_size}\0{info.st_mtime_ns}"
        return _blake(b"s\0", ident.encode("utf-8", "surrogatepass"))
    # Opened without blocking (a FIFO's open waits for a writer) and checked on its
    # descriptor: only a regular file is read (/dev/zero would never end).
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    with os.fdopen(fd, "rb") as f:
        if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
            raise ValueError("not a regular file")
        h = hashlib.blake2b(digest_size=_DIGEST_SIZE)
        h.update(b"b\0")
        while chunk := f.read(_CHUNK):
            h.update(chunk)
    return h.digest()


def item_digest(value: Any, *, paths: bool, file_key: str = "content") -> bytes | None:
    """The 16-byte content key of one item, or None when it cannot be keyed.

    Parameters
    ----------
    value : str, os.PathLike, bytes, numpy.ndarray or PIL.Image.Image
        One non-missing value.
    paths : bool
        Whether a ``str`` is a file path (image encoders) or a text (text encoders).
    file_key : {"content", "stat"}
        How a file is keyed: by its bytes, or by its (path, size, mtime).

    Returns
    -------
    digest : bytes or None
        None for a value of an unknown type or a file that cannot be read, or is
        not a regular file (a FIFO, a device: never opened for reading, never
        hashed): it is then encoded without the cache, and the encoder reports the
        error.
    """
    try:
        if isinstance(value, str) and not paths:
            return _blake(b"t\0", value.encode("utf-8", "surrogatepass"))
        if isinstance(value, (str, os.PathLike)):
            return _file_digest(value, file_key)
        if isinstance(value, (bytes, bytearray, memoryview)):
            return _blake(b"b\0", bytes(value))
        if isinstance(value, np.ndarray):
            array = np.ascontiguousarray(value)
            head = f"{array.dtype.str}{array.shape}".encode()
            return _blake(b"a\0", head, b"\0", array.view(np.uint8).reshape(-1))
        from PIL import Image

        if isinstance(value, Image.Image):
            head = f"{value.mode}{value.size}".encode()
            return _blake(b"p\0", head, b"\0", value.tobytes())
    except (OSError, ValueError):
        return None
    return None


def weights_digest(module: Any) -> str:
    """Hash of a torch module's ``state_dict``: names, dtypes, shapes and values.

    Examples
    --------
    >>> import torch
    >>> from skmm.cache._keys import weights_digest
    >>> a, b = torch.nn.Linear(2, 2), torch.nn.Linear(2, 2)
    >>> weights_digest(a) == weights_digest(a), weights_digest(a) == weights_digest(b)
    (True, False)
    """
    import torch

    h = hashlib.blake2b(digest_size=_DIGEST_SIZE)
    for name, tensor in sorted(module.state_dict().items()):
        t = tensor.detach().cpu().contiguous().reshape(-1)
        h.update(f"{name}\0{t.dtype}\0{tuple(tensor.shape)}\0".encode())
        h.update(t.view(torch.uint8).numpy().tobytes())
    return h.hexdigest()


def fingerprint_of(parts: dict[str, Any]) -> str:
    """A stable hex digest of a JSON-able description of an encoder's output.

    Examples
    --------
    >>> from skmm.cache._keys import fingerprint_of
    >>> fingerprint_of({"a": 1, "b": 2}) == fingerprint_of({"b": 2, "a": 1})
    True
    """
    text = json.dumps(parts, sort_keys=True, default=str)
    return hashlib.blake2b(text.encode(), digest_size=_DIGEST_SIZE).hexdigest()
