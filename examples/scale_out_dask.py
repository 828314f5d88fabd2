"""Scale out with Dask: encode, predict and grid-search an skmm pipeline on a cluster.

A local cluster of 2 worker processes stands in for a real one: replace
``LocalCluster(...)`` by ``Client("tcp://scheduler:8786")`` and the rest is the
same. The data are generated images (reddish or bluish squares) with a price column;
the image model is timm's tiny random ``test_convnext``, so everything runs offline
in well under a minute. Needs ``pip install "skmm[distributed]"``.

    python examples/scale_out_dask.py [n_images]
"""

import sys
import tempfile
from pathlib import Path

import dask
import dask.dataframe as dd
import joblib
import numpy as np
import pandas as pd
from distributed import Client, LocalCluster
from PIL import Image
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skmm import FusionClassifier, ImageEncoder, MultimodalUnion
from skmm.distributed import MALLOC_CONFIG, ParallelPostFit, transform_to_npy


def make_images(folder: Path, n: int) -> tuple[pd.DataFrame, np.ndarray]:
    """n small PNGs: label 1 is reddish, label 0 bluish, with noise."""
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, size=n)
    paths = []
    for i, label in enumerate(y):
        pixels = rng.integers(0, 120, size=(48, 48, 3))
        pixels[..., 0 if label else 2] += 120
        path = folder / f"item{i:05d}.png"
        Image.fromarray(pixels.astype(np.uint8)).save(path)
        paths.append(str(path))
    price = rng.normal(20 + 5 * y, 8)  # a weak tabular signal
    return pd.DataFrame({"photo": paths, "price": price}), y


def main(work: Path, n: int) -> None:
    (work / "images").mkdir()
    df, y = make_images(work / "images", n)
    # On a real cluster: a directory every worker sees (a shared file system).
    cache = str(work / "embedding-cache")

    model = make_pipeline(
        MultimodalUnion(
            [
                ("image", ImageEncoder("test_convnext", pretrained=False), "photo"),
                ("tab", StandardScaler(), ["price"]),
            ]
        ),
        LogisticRegression(max_iter=1000),
    )
    model.set_params(multimodalunion__image__cache=cache)

    # Dask's workers set MALLOC_TRIM_THRESHOLD_, which slows torch down 2-3x:
    # unset it before the cluster starts its workers.
    with dask.config.set(MALLOC_CONFIG):
        cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True)
    with cluster, Client(cluster) as client:
        print(f"cluster: {len(client.nthreads())} workers")

        # 1. Distributed search: scikit-learn's GridSearchCV, run by the workers.
        # The cache makes every candidate after the first read the embeddings.
        with joblib.parallel_backend("dask"):
            search = GridSearchCV(
                model, {"logisticregression__C": [0.01, 1.0]}, cv=3, n_jobs=-1
            ).fit(df, y)
        print(
            f"grid search on the cluster: best {search.best_params_}, "
            f"accuracy {search.best_score_:.2f}"
        )

        # 2. Distributed prediction: the fitted pipeline runs partition by
        # partition; each worker loads the model once per call.
        ddf = dd.from_pandas(df, npartitions=4)
        parallel = ParallelPostFit(search.best_estimator_)
        predicted = parallel.predict(ddf).compute()  # a pandas Series
        same = (predicted.to_numpy() == search.best_estimator_.predict(df)).all()
        print(
            f"predicted {len(predicted)} rows on the workers; "
            f"same as in one process: {same}"
        )

        # 3. Out-of-core: embeddings written to disk chunk by chunk, then a
        # fusion head trained from the memory-mapped file.
        union = search.best_estimator_[0]
        embeddings = transform_to_npy(union, ddf, work / "embeddings.npy")
        print(f"embeddings on disk: {embeddings.shape} {embeddings.dtype}")

    head = FusionClassifier(
        hidden=16,
        max_epochs=30,
        random_state=0,
        device="cpu",
        modalities=union.output_indices_,
    )
    head.fit(embeddings, y)
    print(
        f"FusionClassifier from the memmap: blocks {head.layout_.names}, "
        f"training accuracy {head.score(embeddings, y):.2f}"
    )


if __name__ == "__main__":  # the workers are separate processes: guard the script
    with tempfile.TemporaryDirectory(prefix="skmm-scale-out-") as tmp:
        main(Path(tmp), int(sys.argv[1]) if len(sys.argv) > 1 else 200)
