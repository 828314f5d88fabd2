"""Fitting a fusion head from a memory map: streamed vs copied into memory.

A FusionClassifier is fitted (3 epochs, early stopping's 10% hold-out) and then
predicts, on a float32 ``.npy`` memory map of N rows x 512 features in two blocks,
once on the in-memory path (the whole input standardised in a copy) and once on the
streaming path (statistics from one pass over 16 MiB chunks, training rows read as
batches need them, predictions chunk by chunk). Printed for each: wall time, and
the peak of numpy's allocations (tracemalloc; a second run, so that tracing does not
touch the timing). Then the ratios streamed / in memory.

The data are random (memory and time do not depend on the values). Run:
``OMP_NUM_THREADS=1 python benchmarks/fusion_out_of_core.py [n_rows]``.
"""

from __future__ import annotations

import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np
from _common import load

from skmm import FusionClassifier
from skmm.fusion import _rows

WIDTH = 512
MODALITIES = {"image": slice(0, 384), "text": slice(384, WIDTH)}


def write_memmap(path: Path, n: int) -> np.ndarray:
    out = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=(n, WIDTH))
    rng = np.random.default_rng(0)
    for start in range(0, n, 10_000):
        stop = min(start + 10_000, n)
        out[start:stop] = rng.normal(size=(stop - start, WIDTH))
    out.flush()
    del out
    return np.load(path, mmap_mode="r")


def fit_and_predict(X, y) -> float:
    head = FusionClassifier(
        "concat",
        hidden=64,
        max_epochs=3,
        batch_size=256,
        random_state=0,
        modalities=MODALITIES,
    )
    start = time.perf_counter()
    head.fit(X, y).predict(X)
    return time.perf_counter() - start


def peak_mib(X, y) -> float:
    tracemalloc.start()
    try:
        fit_and_predict(X, y)
        return tracemalloc.get_traced_memory()[1] / 2**20
    finally:
        tracemalloc.stop()


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    print(load())
    with tempfile.TemporaryDirectory() as tmp:
        X = write_memmap(Path(tmp) / "emb.npy", n)
        y = (X[:, 0] + X[:, 400] > 0).astype(int)
        print(f"{n:,} rows x {WIDTH} float32 = {X.nbytes / 2**20:.0f} MiB on disk")
        results = {}
        for path, budget in [("in memory", 2**62), ("streamed", 0)]:
            _rows.IN_MEMORY_BYTES = budget
            seconds = fit_and_predict(X, y)
            peak = peak_mib(X, y)
            results[path] = (seconds, peak)
            print(f"{path:>10}: {seconds:6.1f} s, numpy peak {peak:7.1f} MiB")
        (t_mem, p_mem), (t_str, p_str) = results["in memory"], results["streamed"]
        print(
            f"streamed / in memory: time {t_str / t_mem:.2f}, "
            f"numpy peak {p_str / p_mem:.3f}"
        )


if __name__ == "__main__":
    main()
