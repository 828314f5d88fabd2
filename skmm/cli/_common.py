"""What every command shares: the error a user gets, and the messages on stderr."""

from __future__ import annotations

import sys

__all__ = ["CommandError", "echo"]


class CommandError(ValueError):
    """Bad input to a command: printed as one line, exit status 2."""


def echo(line: str) -> None:
    """A message for the user: on stderr, so that stdout stays data."""
    print(line, file=sys.stderr, flush=True)
