"""Fine-tuning: frozen vs top-k with a cached prefix vs every block, score and time.

Two tasks, each with its real pretrained encoder:

- reviews: ``Recommended IND`` from Title + Review Text (one text per row, the two
  joined) with all-MiniLM-L6-v2, a fixed stratified split of our own (seed 0);
  F1 of "recommended" and PR AUC on the held-out rows;
- grocery: the coarse class (43) of the grocery photos (train split; the test
  split as held-out rows) with EfficientNet-Lite0; balanced accuracy.

For each, first the frozen pipeline a user would try by hand (the pretrained vectors,
standardised, into a ``LogisticRegression``), then ``FineTuneClassifier`` with
``k=0`` (frozen: the encoder's vectors),
``k=1`` and ``k=2`` (the last layers / stages trained on cached prefix
activations), and ``k`` = every layer / stage (only the embedding lookup or the
stem is cached). ``--ks`` picks the values, ``all`` among them (full fine-tuning:
every parameter, nothing cached). ``--augment`` adds, for each ``k`` other than 0
of the image task, a run with ``augment=True`` (random train transforms, the
prefix run on every batch) and prints its epoch time against the cached run's;
``--lora-rank N`` adds, for each ``k`` other than 0 of the text task, a run with
``lora_rank=N`` (``--lora-ks`` picks those k; EfficientNet-Lite0 has no linear layer
to adapt). Printed per
run: the score, the seconds per epoch with the backbone training (the mean over
such epochs, from ``history_``), the one-off prefix time (fit time less the
epochs) and the ratio of each run's epoch time to the every-block run's (and to
the ``k=all`` run's, when there is one).

    OMP_NUM_THREADS=1 python benchmarks/finetune_quality.py --quick  # ~30 min busy
    OMP_NUM_THREADS=1 python benchmarks/finetune_quality.py           # hours on 2 cores
    OMP_NUM_THREADS=1 python benchmarks/finetune_quality.py --quick --task grocery \
        --ks 0 1 all --augment            # frozen, cached, full, augmented
    OMP_NUM_THREADS=1 python benchmarks/finetune_quality.py --quick --task reviews \
        --ks 1 all --lora-rank 8          # cached, full, LoRA

On a GPU (``--device cuda``) the same runs go there.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time

import numpy as np
import pandas as pd
from _common import EFFICIENTNET_LITE0, GROCERY, REVIEWS, load
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import average_precision_score, balanced_accuracy_score, f1_score
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skmm import (
    EmbeddingCache,
    FineTuneClassifier,
    ImageEncoder,
    MultimodalUnion,
    TextEncoder,
)
from skmm.finetune import clear_activation_store


def _reviews(n_train: int, n_test: int):
    frame = pd.read_parquet(REVIEWS)
    title = frame["Title"].fillna("")
    review = frame["Review Text"].fillna("")
    text = (title + ". " + review).str.strip(". ")
    frame = pd.DataFrame({"text": text, "y": frame["Recommended IND"]})
    frame = frame[frame["text"] != ""].reset_index(drop=True)
    train, test = train_test_split(
        frame,
        train_size=n_train,
        test_size=n_test,
        stratify=frame["y"],
        random_state=0,
    )
    return train[["text"]], train["y"].to_numpy(), test[["text"]], test["y"].to_numpy()


def _grocery(n_train: int, n_test: int, seed: int = 0):
    def read(split, n):
        lines = (GROCERY / f"{split}.txt").read_text().splitlines()
        rows = [line.split(",") for line in lines if line]
        rng = np.random.default_rng(seed)
        pick = np.sort(rng.choice(len(rows), size=min(n, len(rows)), replace=False))
        paths = [str(GROCERY / rows[i][0].strip()) for i in pick]
        labels = np.array([int(rows[i][2]) for i in pick])
        return pd.DataFrame({"photo": paths}), labels

    X, y = read("train", n_train)
    Xt, yt = read("test", n_test)
    return X, y, Xt, yt


def _run(task, union, X, y, Xt, yt, k, args, score, augment=False, lora_rank=None):
    clear_activation_store()
    model = FineTuneClassifier(
        union,
        k=k,
        augment=augment,
        lora_rank=lora_rank,
        hidden=64,
        max_epochs=args.epochs,
        warmup_epochs=1,
        backbone_lr=args.backbone_lr,
        early_stopping=False,
        batch_size=32,
        device=args.device,
        random_state=0,
    )
    start = time.perf_counter()
    model.fit(X, y)
    fit = time.perf_counter() - start
    epochs = [r["seconds"] for r in model.history_]
    trained = [r["seconds"] for r in model.history_ if r["backbone_trained"]]
    per_epoch = float(np.mean(trained)) if trained else float(np.mean(epochs))
    result = score(model, Xt, yt)
    label = f"k={k}" + (" augment" if augment else "")
    label += f" lora_rank={lora_rank}" if lora_rank else ""
    label += f" backbone_lr={args.backbone_lr:g}" if args.backbone_lr != 1e-4 else ""
    print(
        f"{task} {label}: {result} | {per_epoch:.2f} s/epoch (backbone training), "
        f"prefix and union fit {fit - sum(epochs):.1f} s, fit {fit:.1f} s | {load()}"
    )
    return per_epoch


def _frozen_linear(task, union, X, y, Xt, yt, score):
    """The frozen pipeline a user tries first: the union's pretrained vectors,
    standardised, into a LogisticRegression."""
    model = make_pipeline(clone(union), StandardScaler(), LogisticRegression(C=0.1))
    start = time.perf_counter()
    model.fit(X, y)
    fit = time.perf_counter() - start
    print(
        f"{task} frozen + LogisticRegression(C=0.1): {score(model, Xt, yt)} | "
        f"fit {fit:.1f} s | {load()}"
    )


def reviews(args):
    n_train, n_test = (160, 300) if args.quick else (4000, 4000)
    n_train, n_test = args.n_train or n_train, args.n_test or n_test
    X, y, Xt, yt = _reviews(n_train, n_test)
    encoder = TextEncoder(max_length=128, device=args.device, cache=args.cache)
    union = MultimodalUnion([("text", encoder, "text")])

    def score(model, Xt, yt):
        proba = model.predict_proba(Xt)[:, 1]
        f1 = f1_score(yt, proba > 0.5)
        return f"F1 {f1:.3f}, PR AUC {average_precision_score(yt, proba):.3f}"

    print(f"reviews: {len(X)} train / {len(Xt)} test rows, {args.epochs} epochs")
    _frozen_linear("reviews", union, X, y, Xt, yt, score)
    ks = args.ks or [0, 1, 2, 6]
    times = {k: _run("reviews", union, X, y, Xt, yt, k, args, score) for k in ks}
    _ratios("reviews", times, every=6, unit="layer")
    if args.lora_rank:
        for k in args.lora_ks or ks:
            if k != 0:
                rank = args.lora_rank
                lora = _run(
                    "reviews", union, X, y, Xt, yt, k, args, score, lora_rank=rank
                )
                if k in times:
                    print(
                        f"reviews: epoch time k={k} lora_rank={args.lora_rank} / "
                        f"k={k}: {lora / times[k]:.3f}"
                    )


def grocery(args):
    n_train, n_test = (120, 240) if args.quick else (2640, 2485)
    n_train, n_test = args.n_train or n_train, args.n_test or n_test
    X, y, Xt, yt = _grocery(n_train, n_test)
    encoder = ImageEncoder(
        "tf_efficientnet_lite0",
        pretrained=EFFICIENTNET_LITE0,
        device=args.device,
        cache=args.cache,
    )
    union = MultimodalUnion([("image", encoder, "photo")])

    def score(model, Xt, yt):
        return f"balanced accuracy {balanced_accuracy_score(yt, model.predict(Xt)):.3f}"

    print(f"grocery: {len(X)} train / {len(Xt)} test photos, {args.epochs} epochs")
    _frozen_linear("grocery", union, X, y, Xt, yt, score)
    ks = args.ks or [0, 1, 2, 7]
    times = {k: _run("grocery", union, X, y, Xt, yt, k, args, score) for k in ks}
    _ratios("grocery", times, every=7, unit="stage")
    if args.augment:
        for k in ks:
            if k != 0:
                augmented = _run(
                    "grocery", union, X, y, Xt, yt, k, args, score, augment=True
                )
                print(
                    f"grocery: epoch time k={k} augment / k={k} "
                    f"{'(nothing cached either)' if k == 'all' else 'cached'}: "
                    f"{augmented / times[k]:.3f}"
                )
    if args.lora_rank:
        print("grocery: no LoRA run (EfficientNet-Lite0 has no linear layer)")


def _ratios(task, times, every, unit):
    """Each cached run's epoch time against the every-block and k=all runs'."""
    for base, name in ((every, f"every {unit} (k={every})"), ("all", "k=all")):
        if base not in times:
            continue
        for k in (1, 2, every):
            if k in times and k != base:
                ratio = times[k] / times[base]
                print(f"{task}: epoch time k={k} / {name}: {ratio:.3f}")


def _k(text: str):
    """A ``--ks`` value: an int or "all"."""
    return text if text == "all" else int(text)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a few hundred rows")
    parser.add_argument("--epochs", type=int, default=None)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--n-train", type=int, default=None)
    parser.add_argument("--n-test", type=int, default=None)
    parser.add_argument(
        "--ks", type=_k, nargs="+", default=None, help="k values (ints or 'all')"
    )
    parser.add_argument(
        "--augment", action="store_true", help="also augment=True (image task)"
    )
    parser.add_argument(
        "--lora-rank", type=int, default=None, help="also LoRA runs (text task)"
    )
    parser.add_argument(
        "--backbone-lr", type=float, default=1e-4, help="the backbones' learning rate"
    )
    parser.add_argument(
        "--lora-ks",
        type=_k,
        nargs="+",
        default=None,
        help="the k values of the LoRA runs (default: those of --ks)",
    )
    parser.add_argument(
        "--task", choices=["reviews", "grocery", "both"], default="both"
    )
    args = parser.parse_args()
    if args.epochs is None:
        args.epochs = 2 if args.quick else 10
    print(load())
    # The pretrained vectors (the union's fit, each run) once per item; each run's
    # prefix activations are computed by that run (the in-process store is
    # cleared before it), so its one-off prefix time is measured.
    args.cache = EmbeddingCache(tempfile.mkdtemp(prefix="skmm-finetune-bench-"))
    try:
        if args.task in ("reviews", "both"):
            reviews(args)
        if args.task in ("grocery", "both"):
            grocery(args)
    finally:
        shutil.rmtree(args.cache.directory, ignore_errors=True)


if __name__ == "__main__":
    main()
