"""Fine-tuned embedding features: does ``preset="best"`` beat the default ensemble?

Run from the project root, one core for torch (the 2 cores are shared):
``OMP_NUM_THREADS=1 python benchmarks/tuned_features.py [--splits 3] [--cache DIR]``.

The raw-text reviews task: 6,000 women's clothing reviews (``../shared/data``; a
stratified sample, seed 0, as ``ensemble_quality.py`` draws it), target
``Recommended IND`` (balanced accuracy), columns ``Review Text`` and ``Title``
(text), ``Age`` and ``Positive Feedback Count`` (numbers), ``Division Name``,
``Department Name`` and ``Class Name`` (categories). Each split (seed 0, 1, ...)
draws 1,500 stratified training rows and holds out ``--n-test`` of the rest.

Per split, ``skmm.make_multimodal_pipeline(X, y, head="ensemble",
preset="best")`` is built (the text block all-MiniLM-L6-v2, ``max_length=128``,
its frozen vectors from ``--cache``) and its union fitted once: the frozen blocks
and the ``text_tuned`` block (:class:`~skmm.FineTunedEmbeddings`: MiniLM's last
layer fine-tuned on the target, 30 principal components per column, out of fold
in 3 folds). Three ensembles are then fitted on that union's output, as the
pipeline's ``fit`` would: the default preset and ``"best"`` without the tuned
block, and ``"best"`` with it. Printed per split: each one's held-out balanced
accuracy and seconds, the tuned features' seconds (fit and held-out transform),
and the candidates that read the tuned block (out-of-fold score, weight); at the
end the means, their spread (standard deviation over splits) and the paired
differences.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.metrics import balanced_accuracy_score
from sklearn.model_selection import train_test_split

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._common import REVIEWS, load  # noqa: E402
from skmm import TextEncoder, make_multimodal_pipeline  # noqa: E402

TEXT = ["Review Text", "Title"]
NUMBERS = ["Age", "Positive Feedback Count"]
CATEGORIES = ["Division Name", "Department Name", "Class Name"]
TARGET = "Recommended IND"
TUNED = "text_tuned"


def reviews(n_rows: int) -> tuple[pd.DataFrame, np.ndarray]:
    df = pd.read_parquet(REVIEWS)
    df, _ = train_test_split(df, train_size=n_rows, stratify=df[TARGET], random_state=0)
    df = df.reset_index(drop=True)
    return df[TEXT + NUMBERS + CATEGORIES], df[TARGET].to_numpy()


def run_split(X, y, seed, *, n_train, n_test, cache, tuned_params):
    X_train, X_rest, y_train, y_rest = train_test_split(
        X, y, train_size=n_train, stratify=y, random_state=seed
    )
    X_test, _, y_test, _ = train_test_split(
        X_rest, y_rest, train_size=n_test, stratify=y_rest, random_state=seed
    )
    print(
        f"\n== split {seed}: {len(X_train)} training rows, {len(X_test)} held out; "
        f"{load()}"
    )
    types = {
        **dict.fromkeys(TEXT, "text"),
        **dict.fromkeys(NUMBERS, "numeric"),
        **dict.fromkeys(CATEGORIES, "categorical"),
    }
    encoder = TextEncoder(max_length=128, device="cpu", cache=cache, verbose=False)
    pipe = make_multimodal_pipeline(
        X_train,
        y_train,
        head="ensemble",
        preset="best",
        types=types,
        encoders={"text": encoder},
        device="cpu",
        random_state=seed,
        verbose=False,
    )
    union, head = pipe[0], pipe[-1]
    union.set_params(**{f"{TUNED}__{k}": v for k, v in tuned_params.items()})
    start = time.perf_counter()
    Z_train = union.fit_transform(X_train, y_train)
    features_s = time.perf_counter() - start
    start = time.perf_counter()
    Z_test = union.transform(X_test)
    transform_s = time.perf_counter() - start
    tuned = union.named_transformers_[TUNED]
    print(
        f"features: union fit {features_s:.0f} s (fine-tuning fits "
        f"{', '.join(f'{s:.0f}' for s in tuned.fit_seconds_)} s; "
        f"fallback: {tuned.fallback_}), held-out transform {transform_s:.0f} s; "
        f"{load()}"
    )
    frozen = [c for c in Z_train.columns if not c.startswith(f"{TUNED}__")]
    row = {"split": seed, "features_s": features_s, "transform_s": transform_s}
    for label, preset, columns in [
        ("default", "default", frozen),
        ("best", "best", frozen),
        ("best+tuned", "best", list(Z_train.columns)),
    ]:
        ensemble = clone(head).set_params(preset=preset, time_limit=None)
        start = time.perf_counter()
        ensemble.fit(Z_train[columns], y_train)
        seconds = time.perf_counter() - start
        score = balanced_accuracy_score(y_test, ensemble.predict(Z_test[columns]))
        row[label] = score
        row[f"{label}_s"] = seconds
        board = ensemble.leaderboard_
        reads = board[board["blocks"].str.contains(TUNED)]
        weights = board.set_index("candidate")["weight"]
        chosen = ", ".join(
            f"{c} {w:.2f}" for c, w in weights.drop("ensemble").items() if w > 0
        )
        print(
            f"{label:<12} held out {score:.4f}  oof {ensemble.oof_score_:.4f}  "
            f"{seconds:6.0f} s   weights: {chosen}"
        )
        for _, r in reads.iterrows():
            print(
                f"    {r['candidate']:<28}{r['blocks']:<36} oof {r['score']:.4f}"
                f"  weight {r['weight']:.2f}"
            )
    return row


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--splits", type=int, default=3, help="held-out splits")
    parser.add_argument("--first-split", type=int, default=0)
    parser.add_argument("--n-train", type=int, default=1500)
    parser.add_argument("--n-test", type=int, default=3000)
    parser.add_argument("--cache", help="embedding cache folder (default: temporary)")
    parser.add_argument("--lora-rank", type=int, help="FineTunedEmbeddings lora_rank")
    parser.add_argument("--backbone-lr", type=float, default=1e-4)
    parser.add_argument("--max-epochs", type=int, default=3)
    parser.add_argument("--cv", type=int, default=3, help="the tuned block's folds")
    args = parser.parse_args(argv)
    tuned_params = {
        "lora_rank": args.lora_rank,
        "backbone_lr": args.backbone_lr,
        "max_epochs": args.max_epochs,
        "cv": args.cv,
        "verbose": 1,
    }
    print(f"tuned block: {tuned_params}")
    X, y = reviews(6000)
    with tempfile.TemporaryDirectory(prefix="skmm-bench-") as scratch:
        cache = args.cache or scratch
        rows = pd.DataFrame(
            [
                run_split(
                    X,
                    y,
                    seed,
                    n_train=args.n_train,
                    n_test=args.n_test,
                    cache=cache,
                    tuned_params=tuned_params,
                )
                for seed in range(args.first_split, args.first_split + args.splits)
            ]
        )
    print(f"\n== {len(rows)} splits; {load()}")
    print(rows.round(4).to_string(index=False))
    for label in ("default", "best", "best+tuned"):
        print(
            f"{label:<12} held out {rows[label].mean():.4f} +- "
            f"{rows[label].std(ddof=1) if len(rows) > 1 else 0:.4f}, ensemble fit "
            f"{rows[f'{label}_s'].mean():.0f} s"
        )
    for a, b in [
        ("best", "default"),
        ("best+tuned", "default"),
        ("best+tuned", "best"),
    ]:
        diff = rows[a] - rows[b]
        print(
            f"{a} - {b}: {diff.mean():+.4f} +- "
            f"{diff.std(ddof=1) if len(rows) > 1 else 0:.4f} "
            f"(per split: {', '.join(f'{d:+.4f}' for d in diff)})"
        )
    print(
        f"tuned features: {rows['features_s'].mean():.0f} s to fit (union), "
        f"{rows['transform_s'].mean():.0f} s to transform {args.n_test} rows"
    )


if __name__ == "__main__":
    main()
