"""Encoding on a local Dask cluster: 1 vs 2 workers, and the cost of the Dask path.

ImageEncoder (EfficientNet-Lite0, ImageNet weights from ../shared/models, CPU, fp32,
otherwise defaults) on grocery photos, all in this one process, same photos, same
fitted encoder, no embedding cache:

(a) plain ``encoder.transform(df)`` in this process;
(b) ``ParallelPostFit(encoder).transform(ddf).compute()`` on a ``LocalCluster`` of
    1 worker process (1 thread): (a)/(b) is the overhead of the Dask path
    (shipping the fitted encoder, partitions, result transfer);
(c) the same on 2 worker processes: (c)/(b) is the scaling.

The clusters start after ``dask.config.set(skmm.distributed.MALLOC_CONFIG)``; (b) is
also run once with Dask's default worker environment (``MALLOC_TRIM_THRESHOLD_=65536``,
which slows torch down: see ``skmm.distributed.SlowWorkersWarning``).

Each cluster's first call is timed apart ("cold": workers import torch, unpickle the
encoder and load the weights); the warm figure is the best of ``REPEAT`` calls, each
of which ships the encoder again. Every worker and this process run torch with one
thread (OMP_NUM_THREADS=1). Without the shared data the script falls back to 224 px
random images and timm's tiny random ``test_efficientnet`` (the figures are then
only about overhead).

Run: ``OMP_NUM_THREADS=1 python benchmarks/scale_out.py [n_images] [n_partitions]``.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
import warnings

import numpy as np
import pandas as pd
from _common import EFFICIENTNET_LITE0, GROCERY, best_time, grocery_photos, load
from PIL import Image

from skmm import ImageEncoder

ROUNDS = 3
ENV = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}


def photos(n: int) -> tuple[list[str], str]:
    if GROCERY.exists() and EFFICIENTNET_LITE0.exists():
        return grocery_photos(n), "grocery photos, EfficientNet-Lite0"
    folder = tempfile.mkdtemp()
    rng = np.random.default_rng(0)
    paths = []
    for i in range(n):
        path = os.path.join(folder, f"{i}.png")
        pixels = rng.integers(0, 256, size=(224, 224, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(path)
        paths.append(path)
    return paths, "random 224 px images, tiny random model (no shared data)"


def main() -> None:
    import dask
    import dask.dataframe as dd
    from distributed import Client, LocalCluster

    from skmm.distributed import MALLOC_CONFIG, ParallelPostFit, SlowWorkersWarning

    n = int(sys.argv[1]) if len(sys.argv) > 1 else 192
    n_partitions = int(sys.argv[2]) if len(sys.argv) > 2 else 8
    paths, what = photos(n)
    df = pd.DataFrame({"photo": paths})
    if EFFICIENTNET_LITE0.exists() and GROCERY.exists():
        encoder = ImageEncoder(pretrained=EFFICIENTNET_LITE0, precision="fp32")
    else:
        encoder = ImageEncoder("test_efficientnet", pretrained=False)
    encoder.set_params(device="cpu").fit(df)
    print(f"{n} {what}; {n_partitions} partitions; {load()}")

    expected = encoder.transform(df)
    ddf = dd.from_pandas(df, npartitions=n_partitions)
    wrapped = ParallelPostFit(encoder)
    configs = {
        "1 worker": (1, True),
        "2 workers": (2, True),
        "1 worker, Dask's default worker environment": (1, False),
    }
    environ = dict(os.environ)
    best = dict.fromkeys(["plain", *configs], 0.0)
    ratios: dict[str, list[float]] = {name: [] for name in configs}
    for name, (workers, fixed) in configs.items():
        settings = MALLOC_CONFIG if fixed else {}
        with dask.config.set(settings), warnings.catch_warnings():
            warnings.simplefilter("ignore", SlowWorkersWarning)
            cluster = LocalCluster(
                n_workers=workers,
                processes=True,
                threads_per_worker=1,
                host="127.0.0.1",
                dashboard_address=":0",
                env=ENV,
            )
            # A nanny copies its workers' environment into this process's
            # os.environ (Dask's documented behaviour): undo it after each cluster.
            os.environ.clear()
            os.environ.update(environ)
            with cluster, Client(cluster):
                start = time.perf_counter()
                out = wrapped.transform(ddf).compute()
                cold = time.perf_counter() - start
                np.testing.assert_allclose(
                    out.to_numpy(), expected, rtol=1e-5, atol=1e-6
                )
                # Plain and Dask back to back in each round, so that both see the
                # same load from the other programs on the machine.
                for _ in range(ROUNDS):
                    plain = n / best_time(lambda: encoder.transform(df), 1)
                    rate = n / best_time(lambda: wrapped.transform(ddf).compute(), 1)
                    best["plain"] = max(best["plain"], plain)
                    best[name] = max(best[name], rate)
                    ratios[name].append(rate / plain)
        print(
            f"Dask, {name}: best {best[name]:.1f} img/s; per round Dask / plain = "
            f"{', '.join(f'{r:.2f}' for r in ratios[name])}; first call {cold:.1f} s "
            "(workers import torch, load the model)"
        )
    print(f"plain transform, this process: best {best['plain']:.1f} img/s")
    print(f"load after: {load()}")
    one, two, default = (np.median(ratios[name]) for name in configs)
    print(f"(b)/(a) Dask path, 1 worker, vs plain: {one:.2f} (median of rounds)")
    print(f"        the same with Dask's default worker environment: {default:.2f}")
    print(f"(c)/(a) 2 workers vs plain: {two:.2f}")
    print(
        f"(c)/(b) scaling 2 vs 1 worker: {two / one:.2f} (ideal 2.00 on 2 idle cores)"
    )


if __name__ == "__main__":
    main()
