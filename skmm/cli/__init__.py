"""The skmm command line: ``skmm demo``, ``skmm fit``, ``skmm predict``,
``skmm evaluate`` (also as ``python -m skmm ...``).

The parser is in ``_parser``, the commands in ``_commands``; ``fit``'s pipeline and
the metrics in ``_model``, saved model files in ``_files``, input tables in
``_table``.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Sequence

from skmm._config import config_context
from skmm.cli._common import CommandError
from skmm.cli._parser import build_parser

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    """Run the skmm command line.

    Parameters
    ----------
    argv : sequence of str, default=None
        The arguments; default ``sys.argv[1:]``.

    Returns
    -------
    status : int
        0 on success, 2 for bad input (a missing column, an empty file, a target
        with one class, a damaged model file), 1 for a value the encoders could not
        read and any other error (printed as one line; ``SKMM_TRACEBACK=1`` shows
        the traceback), 130 when interrupted.
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    quiet = getattr(args, "quiet", False) or getattr(args, "no_progress", False)
    try:
        # --quiet / --no-progress: no bar anywhere, the heads' epoch bars included.
        with config_context(**({"progress": False} if quiet else {})):
            return args.run(args)
    except CommandError as exc:
        print(f"skmm {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        # The reader of stdout went away (``skmm predict ... | head``).
        # Python would report it again when flushing stdout at exit.
        with contextlib.suppress(OSError, ValueError, AttributeError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except (ValueError, OSError) as exc:
        # The encoders' errors name the column, the row and the value.
        print(f"skmm {args.command}: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"skmm {args.command}: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        if os.environ.get("SKMM_TRACEBACK"):
            raise
        # An unknown model, a failed safetensors write...: one line, not a trace.
        print(
            f"skmm {args.command}: error: {type(exc).__name__}: {exc} "
            "(SKMM_TRACEBACK=1 shows the traceback)",
            file=sys.stderr,
        )
        return 1
