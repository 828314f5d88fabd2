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
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Protocol

import torch

__all__ = [
    "Backend",
    "LoadedModel",
    "check_saved",
    "files_digest",
    "pack_directory",
    "unpacked_directory",
]


@dataclass(eq=False)
class LoadedModel:
    """A loaded model, as the process-level registry holds it.

    Subclasses set ``backend`` and define ``module``, ``dim``, ``export`` and
    ``_compute_digest``; ``digest`` is filled once, on first use, and shared by
    every encoder (clones included) that uses this entry.
    """

    backend: ClassVar[str] = "unknown"
    dim: int
    device: str
    digest: str | None = field(default=None, kw_only=True, repr=False)

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

    def export(self) -> dict[str, Any]:
        """The model as plain data (``{"backend": ..., ...}``) for a pickle."""
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
    """The files that ``save(directory)`` writes, as ``{relative path: bytes}``."""
    with tempfile.TemporaryDirectory() as tmp:
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
