"""Fusion quality: every fusion head against the unimodal baselines, on two real tasks.

Run from the project root: ``python benchmarks/fusion_quality.py [--quick]``.

1. **reviews**: women's clothing reviews (``../shared/data``), target
   ``Recommended IND`` (18% not recommended; balanced accuracy). Modalities: the
   review text and the title (each all-MiniLM-L6-v2; 16% of titles and 4% of texts
   are missing, so those rows exercise masking) and the tabular columns (age,
   feedback count, division/department/class one-hot).
2. **digits**: audio-visual digits, AV-MNIST style: each FSDD recording (3,000) is
   paired with an MNIST-5k image of the same digit, drawn without replacement with
   seed 0. Image features: the 784 pixels / 255. Audio features: simple spectral
   statistics (mean and standard deviation over time of 40 log-power bands of a
   256-point STFT, plus the duration), so this benchmark does not need an audio
   encoder.

The frozen encoders are run once on all rows (they learn nothing from the labels);
5-fold stratified CV (seed 0) then fits every head on the same folds. Printed per
method: score mean +- std over the folds, the mean fit time per fold, and, for the
heads that take the modality blocks, the score of the same fitted models when one
modality is removed from every test row (missing at predict time).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.io import wavfile
from scipy.signal import stft
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, balanced_accuracy_score
from sklearn.model_selection import StratifiedKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._common import DATA, REVIEWS, load  # noqa: E402
from skmm import FusionClassifier, LateFusionClassifier, TextEncoder  # noqa: E402
from skmm.fusion import FUSIONS  # noqa: E402

CATEGORIES = ["Division Name", "Department Name", "Class Name"]


def reviews_blocks(n_rows: int, seed: int = 0) -> tuple[dict, np.ndarray]:
    df = pd.read_parquet(REVIEWS)
    y_all = df["Recommended IND"].to_numpy()
    rng = np.random.default_rng(seed)
    picked = np.concatenate(
        [
            rng.choice(np.flatnonzero(y_all == c), round(n_rows * np.mean(y_all == c)))
            for c in (0, 1)
        ]
    )
    df = df.iloc[np.sort(picked)].reset_index(drop=True)
    encoder = TextEncoder(max_length=128, device="cpu")
    start = time.perf_counter()
    text = encoder.fit_transform(df[["Review Text"]])
    title = encoder.fit_transform(df[["Title"]])
    print(
        f"reviews: encoded {2 * len(df)} texts in {time.perf_counter() - start:.0f} s"
    )
    numbers = np.column_stack(
        [df["Age"], np.log1p(df["Positive Feedback Count"])]
    ).astype(float)
    onehot = pd.get_dummies(df[CATEGORIES].astype("object"), dtype=float).to_numpy()
    blocks = {"text": text, "title": title, "tab": np.hstack([numbers, onehot])}
    return blocks, df["Recommended IND"].to_numpy()


def _spectral_stats(path: Path) -> np.ndarray:
    rate, wave = wavfile.read(path)
    wave = wave.astype(np.float64) / 32768.0
    _, _, spec = stft(wave, fs=rate, nperseg=256, noverlap=128)
    power = np.log(np.abs(spec[1:]) ** 2 + 1e-10)  # 128 frequency bins
    bands = np.stack([b.mean(axis=0) for b in np.array_split(power, 40, axis=0)])
    return np.concatenate([bands.mean(axis=1), bands.std(axis=1), [len(wave) / rate]])


def digits_blocks(n_rows: int | None, seed: int = 0) -> tuple[dict, np.ndarray]:
    mnist = pd.read_csv(DATA / "mnist5k" / "mnist_5k.csv.gz", header=None).to_numpy()
    pixels, image_labels = mnist[:, :784] / 255.0, mnist[:, 784].astype(int)
    recordings = sorted((DATA / "fsdd" / "recordings").glob("*.wav"))
    rng = np.random.default_rng(seed)
    if n_rows is not None and n_rows < len(recordings):
        recordings = [
            recordings[i] for i in sorted(rng.choice(len(recordings), n_rows))
        ]
    labels = np.array([int(p.name.split("_")[0]) for p in recordings])
    start = time.perf_counter()
    audio = np.stack([_spectral_stats(p) for p in recordings])
    print(
        f"digits: {len(recordings)} recordings in {time.perf_counter() - start:.0f} s"
    )
    image_rows = np.empty(len(labels), dtype=int)
    for digit in range(10):
        need = np.flatnonzero(labels == digit)
        pool = rng.permutation(np.flatnonzero(image_labels == digit))
        image_rows[need] = pool[: len(need)]  # 500 images per digit >= 300 recordings
    return {"image": pixels[image_rows], "audio": audio}, labels


def _joined(blocks: dict, names: list[str]) -> np.ndarray:
    """Early-fusion matrix: NaN rows to zeros plus one missing indicator per block."""
    parts = []
    for name in names:
        block = blocks[name]
        absent = np.isnan(block).all(axis=1)
        parts.append(np.nan_to_num(block))
        if absent.any():
            parts.append(absent[:, None].astype(float))
    return np.hstack(parts)


def evaluate(task: str, blocks: dict, y: np.ndarray, metric, folds: int, seed: int):
    names = list(blocks)
    cv = list(StratifiedKFold(folds, shuffle=True, random_state=seed).split(y, y))
    weight = "balanced" if task == "reviews" else None
    linear = make_pipeline(
        StandardScaler(), LogisticRegression(max_iter=2000, class_weight=weight)
    )
    methods = []
    for name in names:
        methods.append((f"{name} only: logistic regression", "matrix", [name], linear))
    for name in names:
        methods.append(
            (
                f"{name} only: FusionClassifier",
                "dict",
                [name],
                FusionClassifier(class_weight=weight, random_state=seed),
            )
        )
    methods.append(("early fusion: logistic regression", "matrix", names, linear))
    late = LateFusionClassifier()
    if weight:
        late.set_params(estimator=clone(linear))
    methods.append(("LateFusionClassifier (mean)", "dict", names, late))
    for fusion in FUSIONS:
        head = FusionClassifier(fusion, class_weight=weight, random_state=seed)
        methods.append((f"FusionClassifier({fusion!r})", "dict", names, head))

    rows = []
    for label, kind, used, estimator in methods:
        scores, times = [], []
        # Robustness: the same fitted model, one modality removed from every test row.
        removed: dict[str, list[float]] = {
            n: [] for n in used if kind == "dict" and len(used) > 1
        }
        for train, test in cv:
            if kind == "matrix":
                X = _joined(blocks, used)
                X_train, X_test = X[train], X[test]
            else:
                X_train = {n: blocks[n][train] for n in used}
                X_test = {n: blocks[n][test] for n in used}
            model = clone(estimator)
            start = time.perf_counter()
            model.fit(X_train, y[train])
            times.append(time.perf_counter() - start)
            scores.append(metric(y[test], model.predict(X_test)))
            if kind == "dict":
                for name in removed:
                    hidden = dict(X_test, **{name: np.full_like(X_test[name], np.nan)})
                    removed[name].append(metric(y[test], model.predict(hidden)))
        rows.append(
            {
                "task": task,
                "method": label,
                "score": np.mean(scores),
                "std": np.std(scores),
                "fit_s": np.mean(times),
                "without": {n: np.mean(v) for n, v in removed.items()},
            }
        )
        robustness = "".join(
            f"   without {n}: {np.mean(v):.3f}" for n, v in removed.items()
        )
        print(
            f"{task:8s} {label:40s} {np.mean(scores):.3f} +- {np.std(scores):.3f}"
            f"   fit {np.mean(times):6.1f} s/fold{robustness}",
            flush=True,
        )
    return rows


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer rows, 3 folds")
    parser.add_argument("--markdown", type=Path, help="also write the table here")
    args = parser.parse_args(argv)
    folds = 3 if args.quick else 5
    print(load())
    rows = []
    blocks, y = digits_blocks(600 if args.quick else None)
    rows += evaluate("digits", blocks, y, accuracy_score, folds, seed=0)
    blocks, y = reviews_blocks(600 if args.quick else 2000)
    rows += evaluate("reviews", blocks, y, balanced_accuracy_score, folds, seed=0)
    table = pd.DataFrame(rows)
    for task, part in table.groupby("task", sort=False):
        unimodal = part[part["method"].str.contains(" only")]["score"].max()
        fused = part[~part["method"].str.contains(" only")]["score"].max()
        print(
            f"{task}: best fused / best single modality = {fused:.3f} / "
            f"{unimodal:.3f} = {fused / unimodal:.3f}"
        )
    if args.markdown:
        lines = [
            "| task | method | score | fit s/fold | one modality removed |",
            "|---|---|---|---|---|",
        ]
        lines += [
            f"| {r.task} | {r.method} | {r.score:.3f} ± {r.std:.3f} | {r.fit_s:.1f} | "
            + ", ".join(f"no {n}: {v:.3f}" for n, v in r.without.items())
            + " |"
            for r in table.itertuples()
        ]
        args.markdown.write_text("\n".join(lines) + "\n")
    print(load())


if __name__ == "__main__":
    main()
