"""Progress feedback: when skmm shows a bar, where it goes, and other libraries' bars.

A bar goes to stderr, never stdout (stdout is for results a user may pipe). Whether
it is shown follows ``skmm.get_config()["progress"]`` ("auto": long work only) unless
an estimator's own ``verbose`` says otherwise. Third-party bars (transformers'
"Loading weights" and "Writing model shards") are silenced around skmm's own calls
by :func:`quiet_third_party`, which restores the libraries' state on exit: no global
logging setting is changed.
"""

from __future__ import annotations

import re
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from skmm._config import get_config

__all__ = [
    "isatty",
    "progress_bar",
    "progress_mode",
    "quiet_third_party",
    "strip_ansi",
]

# "auto": an encoder with more items than this shows its bar at once ...
MIN_ITEMS = 256
# ... and any other work shows it once it has run this many seconds.
DELAY_S = 3.0

_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def progress_mode(verbose: Any = None) -> bool | str:
    """True (always a bar), False (never) or "auto", for an estimator's ``verbose``.

    None defers to ``skmm.get_config()["progress"]``; any other value is read as a
    bool (``verbose=True`` shows the bar, ``verbose=False`` or 0 hides it).

    Examples
    --------
    >>> from skmm._progress import progress_mode
    >>> progress_mode(True), progress_mode(0), progress_mode(None)
    (True, False, 'auto')
    """
    if verbose is None:
        return get_config()["progress"]
    return bool(verbose)


def isatty(stream: Any) -> bool:
    """Whether ``stream`` is a terminal (False for anything that cannot say)."""
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError, OSError):
        return False


def strip_ansi(text: str) -> str:
    r"""``text`` without ANSI escape sequences (colours, cursor moves).

    Examples
    --------
    >>> from skmm._progress import strip_ansi
    >>> strip_ansi("\x1b[32m0.5000\x1b[0m")
    '0.5000'
    """
    return _ANSI.sub("", text)


def progress_bar(
    total: int | None,
    desc: str,
    verbose: Any = None,
    *,
    by_items: bool = True,
    unit: str = "it",
) -> Any:
    """A tqdm bar on stderr for ``total`` steps, shown as skmm's rules say.

    Parameters
    ----------
    total : int or None
        The number of steps.
    desc : str
        The bar's label.
    verbose : bool, int or None, default=None
        The estimator's ``verbose`` (see :func:`progress_mode`).
    by_items : bool, default=True
        In "auto" mode, whether more than ``MIN_ITEMS`` steps (256) show the bar
        at once; otherwise it appears once the work has run ``DELAY_S`` seconds
        (3).
    unit : str, default="it"
        What one step is.

    Returns
    -------
    bar : tqdm.tqdm
        A bar (disabled when it must not show); use it as a context manager.

    Examples
    --------
    >>> from skmm._progress import progress_bar
    >>> with progress_bar(3, "demo", verbose=False) as bar:
    ...     bar.update(3)
    """
    from tqdm.auto import tqdm

    mode = progress_mode(verbose)
    stream = sys.stderr
    many = by_items and total is not None and total > MIN_ITEMS
    delay = DELAY_S if mode == "auto" and not many else 0.0
    terminal = isatty(stream)
    return tqdm(
        total=total,
        desc=desc,
        unit=unit,
        file=stream,
        disable=mode is False,
        delay=delay,
        # On a terminal, an automatic bar goes when done; a log keeps its last line.
        leave=mode is True or not terminal,
        # Not a terminal (a log file, a CI job): few lines, not one per update.
        mininterval=0.1 if terminal else 10.0,
        dynamic_ncols=True,
    )


_QUIET_LOCK = threading.Lock()
_quiet_depth = 0
_restore: list = []


@contextmanager
def quiet_third_party() -> Iterator[None]:
    """Silence transformers' and huggingface_hub's progress bars inside the block.

    Used around skmm's calls into transformers (loading and saving models; it
    imports transformers). Their state is recorded on entry and put back on exit
    (nested and concurrent blocks restore it once, when the last one ends);
    nothing else is changed.

    Examples
    --------
    >>> from skmm._progress import quiet_third_party
    >>> with quiet_third_party():
    ...     pass
    """
    global _quiet_depth
    with _QUIET_LOCK:
        if _quiet_depth == 0:
            _restore[:] = _silence()
        _quiet_depth += 1
    try:
        yield
    finally:
        with _QUIET_LOCK:
            _quiet_depth -= 1
            if _quiet_depth == 0:
                for undo in reversed(_restore):
                    undo()
                _restore.clear()


def _silence() -> list:
    """Turn the libraries' bars off; return how to turn each back on."""
    undo = []
    try:
        from transformers.utils import logging as hf_logging
    except ImportError:
        return undo
    if hf_logging.is_progress_bar_enabled():
        from huggingface_hub import utils as hub

        hub_was_off = hub.are_progress_bars_disabled()
        hf_logging.disable_progress_bar()  # transformers' and the hub's

        def restore() -> None:
            hf_logging.enable_progress_bar()
            if hub_was_off:
                hub.disable_progress_bars()

        undo.append(restore)
    return undo
