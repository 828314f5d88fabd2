"""Warnings and errors raised by skmm."""

__all__ = ["DecodeError", "SkmmWarning", "UnreadableValuesWarning"]


class SkmmWarning(UserWarning):
    """Base class of the warnings skmm emits."""


class UnreadableValuesWarning(SkmmWarning):
    """Some values could not be read and were treated as missing.

    Emitted once per ``transform`` call by an encoder with ``on_error="missing"``.
    """


class DecodeError(ValueError):
    """A single value (a file, bytes, an array) could not be decoded.

    The message says why, without the column and row: encoders add those.
    """
