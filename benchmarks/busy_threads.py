"""FusionClassifier fit + predict with torch's default threads vs the head's own
thread setting (``n_threads=None``: one thread for a head this size), on idle cores
and with every core kept busy by spinning processes that this script starts.

Run WITHOUT ``OMP_NUM_THREADS=1`` (it would make torch's default one thread too)::

    python benchmarks/busy_threads.py     # [n_rows=2000] [max_epochs=3] [repeat=2]

About 8 minutes on a 2-core machine that other work keeps at load 6-8: torch's
default threads are that slow there.

The input is demo-sized and synthetic: two 384-wide embedding blocks (as MiniLM's)
and four tabular columns, three classes.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time

import numpy as np
import pandas as pd
import torch
from _common import load

from skmm import FusionClassifier


def frame(n: int, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    text, title = rng.normal(size=(n, 384)), rng.normal(size=(n, 384))
    tab = rng.normal(size=(n, 4))
    score = text[:, :3].sum(1) + title[:, :2].sum(1) + tab[:, 0]
    y = np.digitize(score, np.quantile(score, [1 / 3, 2 / 3]))
    columns = {f"text__{i:04d}": text[:, i] for i in range(384)}
    columns |= {f"title__{i:04d}": title[:, i] for i in range(384)}
    columns |= {f"tab__x{i}": tab[:, i] for i in range(4)}
    return pd.DataFrame(columns), y


def fit_predict(X, y, n_threads, max_epochs) -> float:
    start = time.perf_counter()
    head = FusionClassifier(
        max_epochs=max_epochs,
        early_stopping=False,
        random_state=0,
        device="cpu",
        n_threads=n_threads,
    )
    head.fit(X, y)
    head.predict_proba(X)
    return time.perf_counter() - start


def spinners(n: int) -> list[subprocess.Popen]:
    """``n`` processes that each keep one core busy until terminated."""
    return [
        subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(n)
    ]


def main(n_rows: int = 2000, max_epochs: int = 3, repeat: int = 2) -> None:
    X, y = frame(n_rows)
    cores = os.cpu_count() or 1
    default = torch.get_num_threads()
    print(
        f"{n_rows} rows, widths 384 + 384 + 4, {max_epochs} epochs, fit + "
        f"predict_proba; torch default threads {default}"
    )
    configs = {f"torch default ({default} threads)": default, "n_threads=None": None}
    fit_predict(X[:200], y[:200], None, 1)  # warm-up: imports, first allocations
    results = {}
    for state in ("idle", "busy"):
        procs = spinners(cores) if state == "busy" else []
        try:
            if procs:
                time.sleep(2.0)
            for name, n_threads in configs.items():
                times = []
                for _ in range(repeat):
                    times.append(fit_predict(X, y, n_threads, max_epochs))
                    assert torch.get_num_threads() == default
                results[state, name] = times
                runs = ", ".join(f"{t:.2f}" for t in times)
                median = statistics.median(times)
                print(f"{state} ({load()}): {name}: {median:.2f} s (runs {runs})")
        finally:
            for proc in procs:
                proc.terminate()
            for proc in procs:
                proc.wait()
    (base, auto) = configs
    for state in ("idle", "busy"):
        ratio = statistics.median(results[state, base]) / statistics.median(
            results[state, auto]
        )
        print(f"{state}: torch default / n_threads=None = {ratio:.2f}x")
    for name in configs:
        slow = statistics.median(results["busy", name]) / statistics.median(
            results["idle", name]
        )
        print(f"{name}: busy / idle = {slow:.2f}x")


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:]))
