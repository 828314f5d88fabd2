"""``python -m skmm``: the skmm command line (:func:`skmm.cli.main`)."""

import sys

from skmm.cli import main

__all__ = ["main"]

if __name__ == "__main__":
    sys.exit(main())
