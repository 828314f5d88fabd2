"""What every model backend shares: the loaded-model base and the directory packer.

A backend is two objects: a *spec* (``TimmBackend``...), cheap, made from an
encoder's parameters, that knows the registry key and how to load or restore the
model; and the *loaded model* (``TimmModel``...), the registry entry, that knows
its output width, its weights digest, how to export its weights and how to run a
batch. Encoders hold the loaded model in ``model_`` and never look inside it
beyond these.
"""

from __future__ import annotations

import contextlib
import hashlib
import tempfile
import threading
import weakref
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Protocol

import torch

from skmm._progress import quiet_third_party

__all__ = [
    "Backend",
    "ExportedWeights",
    "LoadedModel",
    "check_saved",
    "files_digest",
    "pack_directory",
    "unpacked_directory",
]


class ExportedWeights(dict):
    """A model's weights as plain data (``{"backend": ..., ...}``), for a pickle.

    One object per loaded model for as long as something holds it: pickle memoises
    objects by identity within one dump, so the encoders of one saved file that
    share a model (a text and a title ``TextEncoder`` on one MiniLM) write its
    weights once, and load back sharing one object, hence one registry entry.
    Separate files each hold a full copy. A plain ``dict`` (older pickles) is
    read the same way.
    """

    __slots__ = ("__weakref__",)


@dataclass(eq=False)
class LoadedModel:
    """A loaded model, as the process-level registry holds it.

    Subclasses set ``backend`` and define ``module``, ``dim``, ``_export`` and
    ``_compute_digest``; ``digest`` is filled once, on first use, and shared by
    every encoder (clones included) that uses this entry.
    """

    backend: ClassVar[str] = "unknown"
    dim: int
    device: str
    digest: str | None = field(default=None, kw_only=True, repr=False)
    # The last export, while a pickle being written still holds it (see export).
    _exported: Any = field(default=None, init=False, repr=False)
    _export_lock: threading.Lock = field(
        default_factory=threading.Lock, init=False, repr=False
    )

    @property
    def torch_module(self) -> torch.nn.Module:
        """The torch module that computes the vectors."""
        raise NotImplementedError

    def weights_digest(self) -> str:
        """A hash of everything in the loaded model that shapes its output,
        computed once per loaded model."""
        if self.digest is None:
            self.digest = self._compute_digest()
        return self.digest

    def _compute_digest(self) -> str:
        raise NotImplementedError

    def export(self) -> ExportedWeights:
        """The model as plain data (``{"backend": ..., ...}``) for a pickle.

        While the object returned is alive (a pickle in progress holds it in its
        memo until the dump ends), every call returns that same object: each
        encoder of one file that shares this model refers to one copy of the
        weights. Only a weak reference is kept, so no copy outlives the dump.
        """
        with self._export_lock:
            exported = self._exported() if self._exported is not None else None
            if exported is None:
                exported = ExportedWeights(self._export())
                self._exported = weakref.ref(exported)
            return exported

    def _export(self) -> dict[str, Any]:
        """The weights as plain data, naming their backend (subclasses)."""
        raise NotImplementedError


class Backend(Protocol):
    """The spec of a model: what an encoder's parameters say to load."""

    name: str

    def key(self) -> tuple:
        """The registry key: everything that determines the weights and placement."""

    def load(self) -> LoadedModel:
        """The loaded model, once per process (through the registry)."""

    def restore(self, saved: dict[str, Any]) -> LoadedModel:
        """The model from what ``LoadedModel.export`` returned (through the
        registry)."""


def check_saved(saved: Any, backend: str) -> None:
    """Refuse saved weights of another backend (or of an older format)."""
    if not isinstance(saved, dict) or saved.get("backend") != backend:
        found = saved.get("backend") if isinstance(saved, dict) else type(saved)
        raise ValueError(
            f"the saved weights are not those of a {backend} model (found {found!r}); "
            "fit the pipeline again and save it"
        )


def pack_directory(save: Callable[[str], None]) -> dict[str, bytes]:
    """The files that ``save(directory)`` writes, as ``{relative path: bytes}``.

    transformers' "Writing model shards" bar is kept off the user's screen.
    """
    with tempfile.TemporaryDirectory() as tmp:
        with quiet_third_party():
            save(tmp)
        root = Path(tmp)
        return {
            str(p.relative_to(root)): p.read_bytes()
            for p in sorted(root.rglob("*"))
            if p.is_file()
        }


@contextlib.contextmanager
def unpacked_directory(files: dict[str, bytes]) -> Iterator[str]:
    """A temporary directory holding ``files`` (from :func:`pack_directory`)."""
    with tempfile.TemporaryDirectory() as tmp:
        for name, data in files.items():
            path = Path(tmp, name)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
        yield tmp


def files_digest(files: dict[str, bytes]) -> str:
    """A hash of packed files: their names and contents, in name order."""
    digest = hashlib.sha256()
    for name in sorted(files):
        digest.update(name.encode())
        digest.update(hashlib.sha256(files[name]).digest())
    return digest.hexdigest()
