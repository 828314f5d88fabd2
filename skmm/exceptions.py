"""Warnings and errors raised by skmm."""

__all__ = [
    "CacheWarning",
    "DecodeError",
    "OutOfMemoryWarning",
    "SkmmWarning",
    "UnreadableValuesWarning",
]


class SkmmWarning(UserWarning):
    """Base class of the warnings skmm emits."""


class UnreadableValuesWarning(SkmmWarning):
    """Some values could not be read and were treated as missing.

    Emitted once per ``transform`` call by an encoder with ``on_error="missing"``.
    """


class CacheWarning(SkmmWarning):
    """The embedding cache cannot be used as asked; encoding goes on without it.

    Emitted once per cache handle and problem: a directory that cannot be written
    (the cache is used read-only) or read (the cache is skipped).
    """


class OutOfMemoryWarning(SkmmWarning):
    """The device ran out of memory; the batch was halved and the work retried.

    The smaller batch size is kept in the encoder's ``batch_size_``.
    """


class DecodeError(ValueError):
    """A single value (a file, bytes, an array) could not be decoded.

    The message says why, without the column and row: encoders add those.
    """
