"""Saved models: the joblib pickle and its manifest.

A saved file is the joblib pickle followed by a short trailer, a JSON manifest (skmm
version, time, size and SHA-256 of the pickle) that pickle never reads: ``joblib.load``
takes the file as it is, and ``load_model`` checks the pickle against the manifest
before unpickling it, so a truncated or damaged file is an error, not a model that
predicts something else. The manifest is no protection against a file made to run
code: it is as easy to forge as the pickle. Load only model files you trust.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import os
import secrets
import struct
from collections.abc import Callable
from pathlib import Path
from typing import Any

from skmm.cli._common import CommandError

__all__ = [
    "check_model_out",
    "describe_model_file",
    "load_model",
    "read_manifest",
    "save_model",
]

# The trailer of a saved model: MAGIC, the manifest (JSON), its length, END.
_MANIFEST_MAGIC = b"\n#skmm-manifest\n"
_MANIFEST_END = b"SKMMEND1"
_MANIFEST_TAIL = struct.calcsize("<Q") + len(_MANIFEST_END)
_MANIFEST_MAX = 1 << 16
_HASH_CHUNK = 1 << 20
# How a joblib file starts: a pickle of protocol 2 or later, or one of joblib's
# compressors (zlib, gzip, bz2, xz, lzma, lz4).
_PICKLE_STARTS = (
    *(b"\x80" + bytes([p]) for p in range(2, 6)),
    b"\x78",
    b"\x1f\x8b",
    b"BZh",
    b"\xfd7zXZ",
    b"\x5d\x00\x00",
    b"\x04\x22\x4d\x18",
)


def _sha256(path: Path, size: int) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        left = size
        while left > 0:
            chunk = handle.read(min(_HASH_CHUNK, left))
            if not chunk:
                break
            digest.update(chunk)
            left -= len(chunk)
    return digest.hexdigest()


def _versions() -> dict[str, str]:
    import platform

    import sklearn
    import torch

    from skmm._version import __version__

    return {
        "skmm": __version__,
        "scikit-learn": sklearn.__version__,
        "torch": torch.__version__,
        "python": platform.python_version(),
    }


def save_model(model, path: str | os.PathLike) -> None:
    """``joblib.dump`` to a temporary file, renamed into place when complete.

    A crash while writing leaves any earlier file at ``path`` as it was. The file
    gets the mode a new file gets under the process's umask (0644 under the usual
    022), as ``joblib.dump`` would give it, and ends with a manifest (see
    :func:`read_manifest`).
    """
    import joblib

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    while True:
        temporary = path.parent / f".{path.name}.{secrets.token_hex(6)}.tmp"
        try:
            # 0o666 less the umask, unlike mkstemp's 0600.
            handle = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        except FileExistsError:
            continue
        os.close(handle)
        break
    try:
        joblib.dump(model, temporary)
        size = temporary.stat().st_size
        manifest = {
            "format": "skmm-model",
            "version": 1,
            "saved_at": datetime.datetime.now(datetime.timezone.utc).isoformat(
                timespec="seconds"
            ),
            **_versions(),
            "pickle_size": size,
            "pickle_sha256": _sha256(temporary, size),
        }
        text = json.dumps(manifest, sort_keys=True).encode()
        with open(temporary, "ab") as handle:
            handle.write(_MANIFEST_MAGIC + text)
            handle.write(struct.pack("<Q", len(text)) + _MANIFEST_END)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def check_model_out(path: str | os.PathLike) -> None:
    """Fail before fitting when ``skmm fit --out`` cannot be written.

    ``path`` must not be a folder, and a file must be creatable in its folder (the
    nearest existing one when the folders are to be made, as :func:`save_model`
    makes them): a probe file is created there and removed at once.

    Raises
    ------
    CommandError
        Naming ``--out`` and why.
    """
    import tempfile

    path = Path(path)
    if path.is_dir():
        raise CommandError(f"--out {path}: is a folder; give a file name")
    folder = path.parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    if not folder.is_dir():
        raise CommandError(f"--out {path}: {folder} is not a folder")
    try:
        with tempfile.NamedTemporaryFile(dir=folder, prefix=f".{path.name}."):
            pass
    except OSError as exc:
        raise CommandError(
            f"--out {path}: cannot write a file in {folder} "
            f"({exc.strerror or exc}); nothing was fitted"
        ) from None


def read_manifest(path: str | os.PathLike) -> dict[str, Any] | None:
    """The manifest that :func:`save_model` wrote at the end of ``path``, if any.

    Parameters
    ----------
    path : str or PathLike
        A model file.

    Returns
    -------
    manifest : dict or None
        skmm, scikit-learn, torch and Python versions, ``saved_at``, and the size
        and SHA-256 of the pickle; None for a file without one (saved by an
        older skmm, or not by ``skmm fit``).
    """
    path = Path(path)
    size = path.stat().st_size
    with open(path, "rb") as handle:
        if size < _MANIFEST_TAIL:
            return None
        handle.seek(size - _MANIFEST_TAIL)
        tail = handle.read(_MANIFEST_TAIL)
        (length,) = struct.unpack("<Q", tail[:8])
        if tail[8:] != _MANIFEST_END or length > _MANIFEST_MAX:
            return None
        start = size - _MANIFEST_TAIL - length - len(_MANIFEST_MAGIC)
        if start < 0:
            return None
        handle.seek(start)
        if handle.read(len(_MANIFEST_MAGIC)) != _MANIFEST_MAGIC:
            return None
        try:
            manifest = json.loads(handle.read(length))
        except ValueError:
            return None
    if not isinstance(manifest, dict) or manifest.get("format") != "skmm-model":
        return None
    manifest["file_size"] = size
    manifest["pickle_end"] = start
    return manifest


def _size(n_bytes: int) -> str:
    for unit in ("bytes", "KB", "MB", "GB"):
        if n_bytes < 1000 or unit == "GB":
            return (
                f"{n_bytes:.0f} {unit}" if unit == "bytes" else f"{n_bytes:.1f} {unit}"
            )
        n_bytes /= 1000
    return f"{n_bytes} bytes"


def describe_model_file(path: str | os.PathLike) -> str:
    """One line saying what file is about to be loaded (for ``predict``/``evaluate``).

    Also checks the file against its manifest before anything unpickles it.

    Raises
    ------
    CommandError
        When there is no such file, or the file does not match its manifest.
    """
    path = Path(path)
    if not path.is_file():
        raise CommandError(f"{path}: no such file")
    size = path.stat().st_size
    with open(path, "rb") as handle:
        start = handle.read(8)
    # Refused before unpickling: a CSV given as the model would be read as pickle
    # opcodes. A file cut within its first bytes is left to the unpickler's
    # "truncated" error.
    if not any(start.startswith(p) or p.startswith(start) for p in _PICKLE_STARTS):
        raise CommandError(
            f"{path}: not a model saved by skmm fit (it starts with {start!r}, not "
            "a pickle); the model comes first, then the data: skmm predict MODEL "
            "DATA"
        )
    manifest = read_manifest(path)
    if manifest is None:
        return (
            f"loading {path} ({_size(size)}; no skmm manifest: saved by an older skmm "
            "or not by skmm fit, so its integrity cannot be checked). A model file "
            "runs code when loaded: load only files you trust"
        )
    if manifest.get("pickle_size") != manifest["pickle_end"] or _sha256(
        path, manifest["pickle_end"]
    ) != manifest.get("pickle_sha256"):
        raise CommandError(
            f"{path}: the file does not match the checksum skmm fit saved in it "
            f"({_size(size)}, saved by skmm {manifest.get('skmm', '?')} on "
            f"{manifest.get('saved_at', '?')}): it was damaged or changed after it "
            "was saved. Copy it again or fit the model again"
        )
    return (
        f"loading {path} ({_size(size)}, saved by skmm {manifest.get('skmm', '?')} "
        f"on {manifest.get('saved_at', '?')}, scikit-learn "
        f"{manifest.get('scikit-learn', '?')}, torch {manifest.get('torch', '?')}; "
        "checksum verified). A model file runs code when loaded: load only files "
        "you trust"
    )


def load_model(path: str | os.PathLike, *, log: Callable[[str], None] | None = None):
    """Load a model saved by ``skmm fit``, with a clear error for anything else.

    The file is checked against its manifest first (:func:`describe_model_file`);
    ``log`` gets the line that says what is loaded.
    """
    import pickle

    import joblib

    path = Path(path)
    line = describe_model_file(path)
    if log is not None:
        log(line)
    try:
        model = joblib.load(path)
    except (EOFError, pickle.UnpicklingError, IndexError, struct.error) as exc:
        # A pickle cut short ends in any of these, depending on where it stops
        # (IndexError: an opcode without its argument byte).
        detail = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        raise CommandError(
            f"{path}: not a model saved by skmm fit, or a truncated or damaged one "
            f"({detail})"
        ) from None
    except (ValueError, OSError) as exc:
        # The encoders' own errors (weights that changed since the model was
        # saved, a missing weights file) say what to do.
        raise CommandError(f"{path}: cannot be loaded: {exc}") from None
    except Exception as exc:
        raise CommandError(
            f"{path}: not a model saved by skmm fit ({type(exc).__name__}: {exc})"
        ) from None
    if not hasattr(model, "skmm_spec_"):
        raise CommandError(f"{path}: not a model saved by skmm fit")
    return model
