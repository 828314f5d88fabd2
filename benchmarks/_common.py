"""Helpers shared by the benchmark scripts (run them from the project root)."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

# One line per figure, as it comes, even when the output goes to a file.
sys.stdout.reconfigure(line_buffering=True)

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
DATA = SHARED / "data"
GROCERY = DATA / "grocery"
REVIEWS = DATA / "womens_reviews" / "womens_clothing_reviews.parquet"
EFFICIENTNET_LITE0 = SHARED / "models" / "tf_efficientnet_lite0.safetensors"


def grocery_photos(n: int, split: str = "train") -> list[str]:
    """The first ``n`` grocery photos of a split (repeated when ``n`` is larger)."""
    lines = (GROCERY / f"{split}.txt").read_text().splitlines()
    paths = [str(GROCERY / line.split(",")[0].strip()) for line in lines if line]
    return [paths[i % len(paths)] for i in range(n)]


def load() -> str:
    """The load averages and torch threads, to print beside timings.

    On a machine that other programs keep busy, torch's threads wait on each other
    and multi-threaded timings collapse: run with ``OMP_NUM_THREADS=1`` there.
    """
    import torch

    one, five, fifteen = os.getloadavg()
    return (
        f"load {one:.2f} {five:.2f} {fifteen:.2f} on {os.cpu_count()} cores, "
        f"torch threads {torch.get_num_threads()}"
    )


def best_time(run: Callable[[], object], repeat: int = 2) -> float:
    """The fastest of ``repeat`` runs, in seconds (the least disturbed one)."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return min(times)
