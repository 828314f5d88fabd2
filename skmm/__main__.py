"""The skmm command line: ``python -m skmm demo``."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence

__all__ = ["main"]


def _demo(args: argparse.Namespace) -> int:
    from skmm._demo import format_table, run_demo

    start = time.perf_counter()
    table = run_demo(
        n_samples=args.n_samples,
        cv=args.cv,
        device=args.device,
        random_state=args.random_state,
        log=lambda line: print(line, flush=True),
    )
    print()
    print(format_table(table))
    print()
    print(
        "encode s: one pass of the text encoder over the sample; fit s: mean fit time "
        "per fold, encoding of the training fold included."
    )
    print(f"total {time.perf_counter() - start:.0f} s")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run the skmm command line."""
    parser = argparse.ArgumentParser(
        prog="skmm", description="Multimodal learning inside scikit-learn."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    demo = commands.add_parser(
        "demo",
        help="compare text, tabular and text + tabular models on clothing reviews",
    )
    demo.add_argument("--n-samples", type=int, default=1000, help="rows (default 1000)")
    demo.add_argument("--cv", type=int, default=3, help="folds (default 3)")
    demo.add_argument("--device", default="auto", help="torch device (default auto)")
    demo.add_argument("--random-state", type=int, default=0)
    demo.set_defaults(run=_demo)
    args = parser.parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
