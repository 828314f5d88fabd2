"""What the default ensemble costs: fit time over one concat head, and time_limit.

Run from the project root, WITHOUT ``OMP_NUM_THREADS`` (the candidates scope their
own threads): ``python benchmarks/ensemble_cost.py [--quick] [--rows 1500 10000]
[--cache DIR]``. Every figure prints the machine load beside it.

Data: women's clothing reviews (``../shared/data``), target ``Recommended IND``
(balanced accuracy), a stratified pool of 12,000 reviews (seed 0): 2,000 held out,
training rows the first ``n`` of the other 10,000. Blocks as in
``ensemble_quality.py``: review text and title (all-MiniLM-L6-v2 through a
:class:`~skmm.MultimodalUnion`, cached in ``--cache``), age and feedback count, and
division, department and class through :class:`~skmm.CategoricalEncoder`. The
features are encoded once, before any timing: every fit below reads the same
cached matrix.

Per training size: one ``FusionClassifier("concat")`` fit (the baseline), the
default ``EnsembleClassifier()`` (its default 3 folds, ``class_weight="balanced"``)
with its per-candidate seconds, and ``time_limit`` at 20, 60 and 180 s (seconds taken,
candidates fitted and skipped); each with its held-out score. Then the baseline and
the default ensemble again with two spinning processes beside them (busy cores),
and ``time_limit=40`` there (``--busy-limit``); on idle cores also the default with
``n_jobs=2`` (folds two at a time).
``--quick``: 1,500 rows, no 180 s budget.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
from sklearn.model_selection import train_test_split

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._common import REVIEWS, load  # noqa: E402
from skmm import (  # noqa: E402
    CategoricalEncoder,
    EnsembleClassifier,
    FusionClassifier,
    MultimodalUnion,
    TextEncoder,
)

NUMBERS = ["Age", "Positive Feedback Count"]
CATEGORIES = ["Division Name", "Department Name", "Class Name"]
TARGET = "Recommended IND"
POOL, HELD_OUT = 12_000, 2_000


def pool_split(seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(training pool of 10,000 reviews, 2,000 held out), stratified."""
    df = pd.read_parquet(REVIEWS)
    pool, _ = train_test_split(
        df, train_size=POOL, stratify=df[TARGET], random_state=seed
    )
    train, test = train_test_split(
        pool, test_size=HELD_OUT, stratify=pool[TARGET], random_state=seed
    )
    return train.reset_index(drop=True), test.reset_index(drop=True)


def _text(max_length: int, cache: str) -> TextEncoder:
    return TextEncoder(max_length=max_length, device="cpu", cache=cache)


def union(cache: str) -> MultimodalUnion:
    return MultimodalUnion(
        [
            ("text", _text(128, cache), "Review Text"),
            ("title", _text(32, cache), "Title"),
            ("tab", "passthrough", NUMBERS),
            ("cat", CategoricalEncoder(min_frequency=5), CATEGORIES),
        ]
    ).set_output(transform="pandas")  # fmt: skip


def features(n_train: int, cache: str):
    """Encoded training rows (the first ``n_train`` of the pool) and held-out rows."""
    train, test = pool_split()
    train = train.iloc[:n_train]
    start = time.perf_counter()
    encode = union(cache).fit(train)
    X_train, X_test = encode.transform(train), encode.transform(test)
    print(
        f"{n_train} training + {len(test)} held-out reviews encoded in "
        f"{time.perf_counter() - start:.0f} s"
    )
    return X_train, train[TARGET].to_numpy(), X_test, test[TARGET].to_numpy()


def spinners(n: int) -> list[subprocess.Popen]:
    """``n`` processes that each keep one core busy until terminated."""
    return [
        subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(n)
    ]


def balanced(model, X, y) -> float:
    from sklearn.metrics import balanced_accuracy_score

    return float(balanced_accuracy_score(y, model.predict(X)))


def timed(make, X, y, X_test, y_test):
    model = make()
    start = time.perf_counter()
    model.fit(X, y)
    seconds = time.perf_counter() - start
    return model, seconds, balanced(model, X_test, y_test)


def concat():
    return FusionClassifier(
        "concat", class_weight="balanced", device="cpu", random_state=0
    )


def ensemble(cv: int, time_limit=None, n_jobs=None):
    return EnsembleClassifier(
        cv=cv,
        n_jobs=n_jobs,
        scoring="balanced_accuracy",
        class_weight="balanced",
        time_limit=time_limit,
        random_state=0,
        device="cpu",
        verbose=0,
    )


def run_limit(n, state, cv, limit, base_s, data) -> tuple:
    model, s, score = timed(lambda: ensemble(cv, limit), *data)
    status = model.leaderboard_.set_index("candidate")["status"]
    skipped = [c for c, v in status.items() if v.startswith("skip")]
    folds = [c for c, v in status.items() if v.startswith("fold")]
    print(
        f"time_limit={limit:g}: {s:.1f} s, held out {score:.4f}; skipped "
        f"{skipped or 'none'}; fold models {folds or 'none'}; {load()}"
    )
    return (n, state, f"time_limit={limit:g}", s, s / base_s, score)


def run_size(
    n: int, cache: str, cv: int, limits: list[float], busy: bool, busy_limit: float
) -> list:
    X, y, X_test, y_test = features(n, cache)
    rows = []
    states = ["no spinners"] + (["two spinners"] if busy else [])
    for state in states:
        procs = spinners(2) if state == "two spinners" else []
        try:
            if procs:
                time.sleep(2.0)
            print(f"\n== {n} rows, {cv} folds, {state}; {load()}")
            _, base_s, base_score = timed(concat, X, y, X_test, y_test)
            print(
                f"FusionClassifier('concat'): {base_s:.1f} s, held out {base_score:.4f}"
            )
            model, ens_s, ens_score = timed(lambda: ensemble(cv), X, y, X_test, y_test)
            print(
                f"EnsembleClassifier(): {ens_s:.1f} s ({ens_s / base_s:.1f}x), held "
                f"out {ens_score:.4f}, out of fold {model.oof_score_:.4f}; {load()}"
            )
            board = model.leaderboard_.set_index("candidate").drop(index="ensemble")
            print(f"{'candidate':<16}{'s per fold fit':>16}{'oof':>8}{'weight':>8}")
            for cand, row in board.iterrows():
                print(
                    f"{cand:<16}{row['fit_s'] / cv:>16.2f}{row['score']:>8.4f}"
                    f"{row['weight']:>8.2f}"
                )
            rows.append((n, state, "ensemble", ens_s, ens_s / base_s, ens_score))
            rows.append((n, state, "concat", base_s, 1.0, base_score))
            data = (X, y, X_test, y_test)
            if state == "no spinners":
                for limit in limits:
                    rows.append(run_limit(n, state, cv, limit, base_s, data))
                # Folds two at a time: what free cores would give.
                _, s, score = timed(lambda: ensemble(cv, n_jobs=2), *data)
                print(f"n_jobs=2: {s:.1f} s, held out {score:.4f}; {load()}")
                rows.append((n, state, "ensemble n_jobs=2", s, s / base_s, score))
            else:
                rows.append(run_limit(n, state, cv, busy_limit, base_s, data))
        finally:
            for proc in procs:
                proc.terminate()
            for proc in procs:
                proc.wait()
    return rows


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1,500 rows only")
    parser.add_argument("--rows", type=int, nargs="+", default=[1500, 10000])
    parser.add_argument("--limits", type=float, nargs="+", default=[20, 60, 180])
    parser.add_argument("--no-busy", action="store_true", help="skip the spinners")
    parser.add_argument(
        "--busy-limit", type=float, default=40, help="time_limit with the spinners"
    )
    parser.add_argument("--cache", help="embedding cache folder (default: temporary)")
    args = parser.parse_args(argv)
    rows_, cv, limits = args.rows, 3, args.limits  # 3: the ensemble's default
    if args.quick:
        rows_, limits = [1500], [20, 60]
    with tempfile.TemporaryDirectory(prefix="skmm-bench-") as scratch:
        cache = args.cache or scratch
        timed(concat, *features(200, cache))  # warm-up: imports, first allocations
        rows = []
        for n in rows_:
            rows += run_size(n, cache, cv, limits, not args.no_busy, args.busy_limit)
    table = pd.DataFrame(
        rows, columns=["rows", "cores", "fit", "seconds", "vs concat", "held out"]
    )
    print("\n" + table.round(4).to_string(index=False))


if __name__ == "__main__":
    main()
