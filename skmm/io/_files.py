"""What a path must be before anything opens it: an existing, local, regular file.

A FIFO blocks its reader until a writer comes, and a device such as ``/dev/zero``
never ends: neither is opened, read or hashed. A URL is not fetched. The checks look
at the path only (``os.stat``), never at the file's content.
"""

from __future__ import annotations

import io
import os
import re
import stat

from skmm.exceptions import DecodeError

_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
_SPECIAL = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISFIFO, "a FIFO"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


def _special_kind(mode: int) -> str:
    for test, name in _SPECIAL:
        if test(mode):
            return name
    return "not a plain file"


def check_path(value: str | os.PathLike, kind: str) -> str | None:
    """Why ``value`` cannot be read as a ``kind`` file, or None when it may be.

    Only ``os.stat`` is called: a special file is refused without being opened.
    """
    text = os.fspath(value)
    if isinstance(text, bytes):
        text = os.fsdecode(text)
    if text == "":
        return "empty path"
    if _URL.match(text) and not os.path.lexists(text):
        return (
            f"a URL: skmm does not fetch URLs; download the {kind} and give its "
            "local path"
        )
    try:
        mode = os.stat(text).st_mode
    except (FileNotFoundError, NotADirectoryError):
        return "file not found"
    except OSError as exc:
        return f"cannot access the file ({exc.strerror or exc})"
    if stat.S_ISDIR(mode):
        article = "an" if kind[0] in "aeiou" else "a"
        return f"is a directory, not {article} {kind} file"
    if not stat.S_ISREG(mode):
        return (
            f"not a regular file ({_special_kind(mode)}); only regular files are read"
        )
    return None


def open_regular(path: str | os.PathLike) -> io.BufferedReader:
    """Open ``path`` for reading in binary, refusing anything but a regular file.

    The file is opened without blocking (a FIFO's open would wait for a writer) and
    checked on its descriptor, so that a path replaced by a special file after
    :func:`check_path` is refused too.

    Raises
    ------
    skmm.exceptions.DecodeError
        When ``path`` is not a regular file or cannot be opened.
    """
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        raise DecodeError("file not found") from None
    except OSError as exc:
        raise DecodeError(f"cannot open the file ({exc.strerror or exc})") from None
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise DecodeError(
                f"not a regular file ({_special_kind(mode)}); only regular files are "
                "read"
            )
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise
