"""Cross-modal grocery: photos against class descriptions, seen and unseen classes.

Run from the project root: ``OMP_NUM_THREADS=1 python benchmarks/crossmodal_grocery.py``
(``--help`` for the options). Data: the Grocery Store Dataset in ``../shared/data``
(81 fine classes; each has a product description and an iconic image).

1. Encode every train and test photo and the 81 iconic images with ImageEncoder
   (EfficientNet-Lite0, ImageNet weights from ``../shared/models``) and the 81
   descriptions with TextEncoder (all-MiniLM-L6-v2), through an embedding cache
   (``--cache``, by default in the system's temporary folder): the first run encodes
   about 5,200 images (2 minutes on one core), later runs read the cache.
2. Split the 81 classes with a fixed seed into 60 seen and 21 unseen (printed).
   The aligners are trained on the train photos of the 60 seen classes, each row a
   photo and its class's description, with ``y`` the class, so that all photos of
   a class and its description are positives (the description repeats on every
   photo row of its class: only 60 distinct texts).
3. On the test photos, report (a) accuracy among the 60 seen descriptions for the
   test photos of seen classes, (b) zero-shot accuracy among the 21 unseen
   descriptions for the test photos of unseen classes (chance 1/21 = 0.048), and
   (c) photo -> description recall@1 and @5 among all 81 descriptions, for every
   test photo (seen and unseen classes), and for the unseen classes alone.

Methods: the contrastive aligner (with and without the seen classes' iconic images
as extra image rows; and with each class described to the ZeroShotClassifier by
its text and its iconic image together), CCA, and a no-learning baseline (each
modality standardised and sent through its own fixed random projection to the same
width, then cosine). A reference that uses no text at all: each test photo's
nearest iconic image in the raw EfficientNet space. Recall (c) always retrieves
among the 81 descriptions (text only).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._common import DATA, EFFICIENTNET_LITE0, load  # noqa: E402
from skmm import ImageEncoder, TextEncoder  # noqa: E402
from skmm.crossmodal import (  # noqa: E402
    CrossModalAligner,
    ZeroShotClassifier,
    recall_at_k,
)
from skmm.datasets import load_grocery_store  # noqa: E402

N_SEEN = 60


def encode(cache: Path) -> tuple:
    grocery = load_grocery_store(DATA, subset=["train", "test"], download=False)
    classes = grocery.classes
    start = time.perf_counter()
    images = ImageEncoder(
        "tf_efficientnet_lite0",
        pretrained=str(EFFICIENTNET_LITE0),
        device="cpu",
        cache=str(cache),
    ).fit_transform(list(classes["iconic_image"]) + list(grocery.frame["photo"]))
    texts = TextEncoder(device="cpu", cache=str(cache)).fit_transform(
        list(classes["description"])
    )
    print(
        f"encoded {len(images)} images and {len(texts)} descriptions in "
        f"{time.perf_counter() - start:.0f} s (cache: {cache})"
    )
    iconic, photos = images[: len(classes)], images[len(classes) :]
    return grocery, iconic, photos, texts


def nan_like(block: np.ndarray) -> np.ndarray:
    return np.full_like(block, np.nan)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default_cache = (
        Path(tempfile.gettempdir()) / "skmm_benchmarks" / "crossmodal_grocery_cache"
    )
    parser.add_argument("--cache", type=Path, default=default_cache)
    parser.add_argument("--seed", type=int, default=0, help="seen/unseen split")
    parser.add_argument("--n-components", type=int, default=64)
    parser.add_argument("--cca-components", type=int, default=32)
    parser.add_argument("--epochs", type=int, default=50)
    args = parser.parse_args()
    print(load())
    total = time.perf_counter()

    grocery, iconic, photos, texts = encode(args.cache)
    frame, classes = grocery.frame, grocery.classes
    n_classes = len(classes)
    order = np.random.default_rng(args.seed).permutation(n_classes)
    seen, unseen = np.sort(order[:N_SEEN]), np.sort(order[N_SEEN:])
    print(f"seed {args.seed}: {len(unseen)} unseen classes (ids and names):")
    print(
        "  " + ", ".join(f"{i} {classes.loc[i, 'class_name']}" for i in unseen.tolist())
    )

    cid = frame["class_id"].to_numpy()
    is_train = (frame["split"] == "train").to_numpy()
    is_test = (frame["split"] == "test").to_numpy()
    train_rows = is_train & np.isin(cid, seen)
    test_seen = is_test & np.isin(cid, seen)
    test_unseen = is_test & np.isin(cid, unseen)
    print(
        f"training rows: {train_rows.sum()} photos of {N_SEEN} seen classes; test "
        f"photos: {test_seen.sum()} of seen classes, {test_unseen.sum()} of unseen"
    )

    X_train = {"image": photos[train_rows], "text": texts[cid[train_rows]]}
    y_train = cid[train_rows]
    X_iconic = {
        "image": np.vstack([photos[train_rows], iconic[seen]]),
        "text": np.vstack([texts[cid[train_rows]], texts[seen]]),
    }
    y_iconic = np.concatenate([y_train, seen])

    def contrastive() -> CrossModalAligner:
        return CrossModalAligner(
            n_components=args.n_components,
            max_epochs=args.epochs,
            device="cpu",
            random_state=0,
        )

    aligners = {
        "contrastive (InfoNCE, learned temperature)": (contrastive(), X_train, y_train),
        "contrastive + iconic images": (contrastive(), X_iconic, y_iconic),
        # The same aligner; each class is described by its text and its iconic
        # image (ZeroShotClassifier averages a class's descriptions).
        "contrastive + iconic images, classes = text + iconic": (
            contrastive(),
            X_iconic,
            y_iconic,
        ),
        f"CCA ({args.cca_components} components)": (
            CrossModalAligner("cca", n_components=args.cca_components, random_state=0),
            X_train,
            y_train,
        ),
        "no learning (fixed random projections)": (
            CrossModalAligner("random", n_components=args.n_components, random_state=0),
            X_train,
            y_train,
        ),
    }

    rows = []
    for name, (aligner, X, y) in aligners.items():
        start = time.perf_counter()
        aligner.fit(X, y)
        fit_s = time.perf_counter() - start
        desc = {"text": texts}  # the 81 descriptions, text only
        photo_z = aligner.transform({"image": photos[is_test]})
        desc_z = aligner.transform(desc)
        test_cid = cid[is_test]

        with_iconic = name.endswith("text + iconic")

        def accuracy(mask, class_ids, aligner=aligner, with_iconic=with_iconic):
            descriptions = {"text": texts[class_ids]}
            if with_iconic:  # one text row and one image row per class
                nan_text = np.full_like(texts[class_ids], np.nan)
                descriptions = {
                    "text": np.vstack([texts[class_ids], nan_text]),
                    "image": np.vstack(
                        [np.full_like(iconic[class_ids], np.nan), iconic[class_ids]]
                    ),
                }
                class_ids = np.concatenate([class_ids, class_ids])
            zero_shot = ZeroShotClassifier(aligner).fit(descriptions, class_ids)
            return zero_shot.score({"image": photos[mask]}, cid[mask])

        similarity = photo_z @ desc_z.T
        relevant = test_cid[:, None] == np.arange(n_classes)[None, :]
        unseen_q = np.isin(test_cid, unseen)
        rows.append(
            (
                name,
                accuracy(test_seen, seen),
                accuracy(test_unseen, unseen),
                recall_at_k(similarity, relevant, 1),
                recall_at_k(similarity, relevant, 5),
                recall_at_k(similarity[unseen_q], relevant[unseen_q], 1),
                recall_at_k(similarity[unseen_q], relevant[unseen_q], 5),
                fit_s,
                getattr(aligner, "temperature_", float("nan")),
            )
        )
        print(f"{name}: fitted in {fit_s:.1f} s", flush=True)

    # No text at all: nearest iconic image, raw EfficientNet features, cosine.
    def unit(a):
        return a / np.linalg.norm(a, axis=1, keepdims=True)

    raw = unit(photos[is_test]) @ unit(iconic).T
    test_cid = cid[is_test]
    seen_mask, unseen_mask = np.isin(test_cid, seen), np.isin(test_cid, unseen)
    acc_seen = np.mean(
        seen[np.argmax(raw[seen_mask][:, seen], 1)] == test_cid[seen_mask]
    )
    acc_unseen = np.mean(
        unseen[np.argmax(raw[unseen_mask][:, unseen], 1)] == test_cid[unseen_mask]
    )
    rows.append(
        ("reference, no text: nearest iconic image (raw cosine)", acc_seen, acc_unseen)
        + (float("nan"),) * 4
        + (0.0, float("nan"))
    )

    header = (
        "| method | (a) seen acc. (60-way) | (b) zero-shot acc. unseen (21-way) | "
        "(c) R@1 (81) | R@5 (81) | R@1 (81), unseen photos | R@5 (81), unseen "
        "photos | fit s | temperature |"
    )
    print()
    print(header)
    print("|---|" + "---|" * 8)

    def cell(v, digits=3):
        return "-" if np.isnan(v) else f"{v:.{digits}f}"

    for name, *values in rows:
        figures = [cell(v) for v in values[:6]] + [
            cell(values[6], 1),
            cell(values[7], 3),
        ]
        print(f"| {name} | " + " | ".join(figures) + " |")
    print(
        f"\nchance: (a) {1 / N_SEEN:.3f}, (b) {1 / (n_classes - N_SEEN):.3f}, "
        f"R@1 {1 / n_classes:.3f}, R@5 {5 / n_classes:.3f}"
    )
    print(f"total time {time.perf_counter() - total:.0f} s")


if __name__ == "__main__":
    main()
