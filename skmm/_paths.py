"""Where skmm keeps files of its own: the user's cache directory.

A leaf: imports nothing of skmm.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["user_cache_dir"]


def user_cache_dir(*parts: str) -> Path:
    """skmm's folder in the user's cache directory, or a folder inside it.

    The platform's place (platformdirs): ``$XDG_CACHE_HOME/skmm`` or
    ``~/.cache/skmm`` on Linux, ``~/Library/Caches/skmm`` on macOS,
    ``%LOCALAPPDATA%\\skmm\\Cache`` on Windows. Nothing is created.

    Examples
    --------
    >>> from skmm._paths import user_cache_dir
    >>> user_cache_dir("weights").name
    'weights'
    """
    import platformdirs

    return Path(platformdirs.user_cache_dir("skmm", appauthor=False), *parts)
