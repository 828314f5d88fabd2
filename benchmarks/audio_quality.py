"""Audio quality: which AudioEncoder backend hears spoken digits best, per second?

Run from the project root, one core for torch (the 2 cores are shared):
``OMP_NUM_THREADS=1 python benchmarks/audio_quality.py [--quick] [--backends ...]``.

Each backend encodes the 3,000 recordings of the Free Spoken Digit Dataset
(``../shared/data/fsdd``, 8 kHz, 6 speakers) once, in 2 s windows, with no cache;
a standardised logistic regression (``StandardScaler`` + ``LogisticRegression``)
on the vectors is scored on the customary test split (the recordings with index
0-4, 300 clips) after training on

- 30 training clips per digit (300, drawn from index >= 5; five draws, seeds 0-4:
  mean and standard deviation), and
- the whole training split (2,700 clips).

Backends: ``tf_efficientnet_lite0`` (ImageNet EfficientNet-Lite0 on log-mel
spectrograms, weights from ``../shared/models``), ``aisfx`` (the aiSFX CNN whose
weights ship in the ``aisfx`` wheel) and ``mfcc`` (MFCC and log-mel statistics, no
weights). Printed per backend: the load time (``fit`` on one clip), encoding
throughput in clips per second (decoding, resampling and the model, one process)
and the accuracies.

Then the audio-visual digits task (``skmm.datasets.load_av_digits``, the first
``--av-pairs`` pairs, default 1,000): the images through EfficientNet-Lite0, the
recordings through each backend, 5-fold accuracy (seed 0) of a logistic regression on
the audio alone and on both blocks of a ``MultimodalUnion``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._common import DATA, EFFICIENTNET_LITE0, load  # noqa: E402
from skmm import AudioEncoder, ImageEncoder, MultimodalUnion  # noqa: E402

FSDD = DATA / "fsdd" / "recordings"
BACKENDS = ("tf_efficientnet_lite0", "aisfx", "mfcc")


def encoder(model: str) -> AudioEncoder:
    pretrained = EFFICIENTNET_LITE0 if model == "tf_efficientnet_lite0" else True
    return AudioEncoder(
        model, pretrained=pretrained, max_seconds=2.0, device="cpu", cache=False
    )


def fsdd_meta() -> pd.DataFrame:
    rows = []
    for path in sorted(FSDD.glob("*.wav")):
        digit, _speaker, index = path.stem.split("_")
        rows.append((str(path), int(digit), int(index)))
    return pd.DataFrame(rows, columns=["path", "digit", "index"])


def probe() -> list:
    """The linear probe's steps: standardised logistic regression."""
    return [StandardScaler(), LogisticRegression(max_iter=3000)]


def fsdd(model: str, meta: pd.DataFrame, quick: bool) -> dict:
    test = meta[meta["index"] < 5]
    train = meta[meta["index"] >= 5]
    draws = [
        train.groupby("digit", group_keys=False).sample(30, random_state=seed)
        for seed in range(1 if quick else 5)
    ]
    if quick:
        used = pd.concat([test, draws[0]])
    else:
        used = meta
    enc = encoder(model)
    start = time.perf_counter()
    enc.fit(used["path"].iloc[:1])
    loaded = time.perf_counter() - start
    start = time.perf_counter()
    X = enc.transform(used["path"])
    seconds = time.perf_counter() - start
    vectors = pd.DataFrame(X, index=used.index)

    def score(rows: pd.DataFrame) -> float:
        head = make_pipeline(*probe()).fit(vectors.loc[rows.index], rows["digit"])
        return head.score(vectors.loc[test.index], test["digit"])

    small = [score(d) for d in draws]
    return {
        "backend": model,
        "dim": X.shape[1],
        "load_s": loaded,
        "clips_per_s": len(used) / seconds,
        "acc_30": float(np.mean(small)),
        "acc_30_std": float(np.std(small)),
        "acc_full": float("nan") if quick else score(train),
    }


def av_digits(models: list[str], n_pairs: int) -> list[dict]:
    """5-fold accuracy on audio-visual digits: audio alone, image + audio through a
    MultimodalUnion (the images are encoded once: the in-memory cache)."""
    from skmm.datasets import load_av_digits

    X, y = load_av_digits(DATA, n_samples=n_pairs, return_X_y=True, download=False)
    folds = StratifiedKFold(5, shuffle=True, random_state=0)
    image = ImageEncoder(
        "tf_efficientnet_lite0", pretrained=EFFICIENTNET_LITE0, device="cpu"
    )
    image_only = cross_val_score(
        make_pipeline(MultimodalUnion([("image", image, "image")]), *probe()),
        X,
        y,
        cv=folds,
    )
    rows = [
        {
            "backend": "(image only)",
            "audio only": "",
            "image+audio": _mean_std(image_only),
        }
    ]
    for model in models:
        audio = encoder(model).set_params(cache=None)
        alone = cross_val_score(
            make_pipeline(MultimodalUnion([("audio", audio, "audio")]), *probe()),
            X,
            y,
            cv=folds,
        )
        union = MultimodalUnion([("image", image, "image"), ("audio", audio, "audio")])
        both = cross_val_score(make_pipeline(union, *probe()), X, y, cv=folds)
        rows.append(
            {
                "backend": model,
                "audio only": _mean_std(alone),
                "image+audio": _mean_std(both),
            }
        )
        print(rows[-1], flush=True)
    return rows


def _mean_std(scores: np.ndarray) -> str:
    return f"{scores.mean():.3f} ± {scores.std():.3f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backends", nargs="+", default=list(BACKENDS))
    parser.add_argument("--quick", action="store_true", help="600 clips, one draw")
    parser.add_argument("--av-pairs", type=int, default=1000)
    parser.add_argument("--no-av", action="store_true")
    args = parser.parse_args()
    if not FSDD.exists():
        sys.exit(f"needs the FSDD recordings in {FSDD}")
    print(load())
    meta = fsdd_meta()
    rows = []
    for model in args.backends:
        rows.append(fsdd(model, meta, args.quick))
        print(rows[-1], flush=True)
    table = pd.DataFrame(rows).set_index("backend")
    print(table.round(3).to_string())
    print(load())
    if not args.no_av:
        print(pd.DataFrame(av_digits(args.backends, args.av_pairs)).to_string())
        print(load())


if __name__ == "__main__":
    main()
