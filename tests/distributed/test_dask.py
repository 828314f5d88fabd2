"""skmm on a real Dask cluster: two worker processes on loopback.

One cluster serves the whole module (starting one costs seconds); the test that
kills a worker runs last.
"""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
import pytest
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.model_selection import GridSearchCV
from sklearn.preprocessing import StandardScaler

from skmm import ImageEncoder
from skmm.cache import open_cache
from tests.conftest import TINY_IMAGE_MODEL
from tests.distributed.conftest import N_ROWS, make_model

dask = pytest.importorskip("dask")
dd = pytest.importorskip("dask.dataframe")
distributed = pytest.importorskip("distributed")
joblib = pytest.importorskip("joblib")

from skmm.distributed import (  # noqa: E402
    MALLOC_CONFIG,
    ParallelPostFit,
    SlowWorkersWarning,
    transform_to_npy,
)

# The limit only catches a hang: leave room for 2 busy cores (another worker's
# tests beside it).
pytestmark = pytest.mark.timeout(300)


@pytest.fixture(scope="module")
def client():
    settings = {
        **MALLOC_CONFIG,  # torch runs 3x slower in Dask's default worker env
        "distributed.scheduler.allowed-failures": 3,
        # The tests' tasks are short: no work stealing between two workers.
        "distributed.scheduler.work-stealing": False,
    }
    environ = dict(os.environ)
    with dask.config.set(settings):  # read when the cluster starts
        cluster = distributed.LocalCluster(
            n_workers=2,
            processes=True,
            threads_per_worker=1,
            host="127.0.0.1",
            dashboard_address=":0",
            # Each worker runs torch with one thread: two cores, two workers.
            env={"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"},
        )
    with cluster, distributed.Client(cluster) as c:
        yield c
    _restore(environ)


def _restore(environ: dict) -> None:
    """Undo what Dask's nannies wrote into this process's environment.

    A nanny copies its workers' variables (``distributed.nanny.pre-spawn-environ``)
    into the os.environ of the process that runs it, where every later subprocess
    of the test session would inherit them.
    """
    os.environ.clear()
    os.environ.update(environ)


def _workers(client) -> list[str]:
    return sorted(client.nthreads())


def _cache_info(directory: str):
    return tuple(open_cache(directory).cache_info())


def test_same_output_as_one_process(client, table, tmp_path):
    df, y = table
    model = make_model(str(tmp_path / "cache")).fit(df, y)
    ddf = dd.from_pandas(df, npartitions=4)
    wrapped = ParallelPostFit(model)

    proba = wrapped.predict_proba(ddf).compute()
    np.testing.assert_allclose(proba.to_numpy(), model.predict_proba(df), rtol=1e-6)
    assert list(proba.columns) == list(model.classes_)
    pred = wrapped.predict(ddf).compute()
    assert pred.index.equals(df.index)
    np.testing.assert_array_equal(pred.to_numpy(), model.predict(df))

    union = model[0]
    lazy = ParallelPostFit(union).transform(ddf)
    assert list(lazy.columns) == list(union.get_feature_names_out())
    out = lazy.compute()
    assert out.index.equals(df.index)
    np.testing.assert_allclose(out.to_numpy(), union.transform(df), rtol=1e-6)
    # Both workers took part.
    assert len(_workers(client)) == 2


def test_cache_written_by_one_worker_is_read_by_the_other(client, table, tmp_path):
    df, _ = table
    directory = str(tmp_path / "shared-cache")
    encoder = ImageEncoder(
        TINY_IMAGE_MODEL, pretrained=False, device="cpu", cache=directory
    )
    encoder.fit(df[["photo"]])
    lazy = ParallelPostFit(encoder).transform(dd.from_pandas(df[["photo"]], 3))
    worker_a, worker_b = _workers(client)

    first = client.compute(lazy, workers=[worker_a]).result()
    before_b = client.run(_cache_info, directory, workers=[worker_b])[worker_b]
    second = client.compute(lazy, workers=[worker_b]).result()
    info_a = client.run(_cache_info, directory, workers=[worker_a])[worker_a]
    info_b = client.run(_cache_info, directory, workers=[worker_b])[worker_b]

    hits, misses, writes = (b - a for a, b in zip(before_b, info_b, strict=True))
    assert info_a[2] >= N_ROWS  # worker A encoded and stored every image
    assert (hits, misses, writes) == (N_ROWS, 0, 0)  # worker B encoded none
    np.testing.assert_array_equal(first.to_numpy(), second.to_numpy())


def test_grid_search_on_the_dask_backend(client, table, tmp_path):
    df, y = table
    grid = {"logisticregression__C": [0.1, 10.0]}
    local = GridSearchCV(make_model(None), grid, cv=2).fit(df, y)

    directory = str(tmp_path / "search-cache")
    before = client.run(_cache_info, directory)
    with joblib.parallel_backend("dask"):
        search = GridSearchCV(make_model(directory), grid, cv=2, n_jobs=-1).fit(df, y)
    after = client.run(_cache_info, directory)

    np.testing.assert_allclose(
        search.cv_results_["mean_test_score"], local.cv_results_["mean_test_score"]
    )
    assert search.best_params_ == local.best_params_
    # 2 candidates x 2 folds, each encoding all rows (fit on one half, score on
    # the other): at least 4 * N lookups on the workers. Each worker misses an
    # image at most once; every other lookup hits.
    delta = [[b - a for a, b in zip(before[w], after[w], strict=True)] for w in after]
    hits = sum(d[0] for d in delta)
    misses = sum(d[1] for d in delta)
    assert hits + misses >= 4 * N_ROWS
    assert misses <= 2 * N_ROWS and hits >= 2 * N_ROWS


def test_fusion_head_fits_from_a_memmap(client, table, tmp_path):
    from skmm import FusionClassifier

    df, y = table
    union = make_model(None)[0].fit(df, y)
    ddf = dd.from_pandas(df, npartitions=3)
    embeddings = transform_to_npy(union, ddf, tmp_path / "emb.npy")
    assert isinstance(embeddings, np.memmap)
    dense = union.transform(df)
    np.testing.assert_allclose(np.asarray(embeddings), dense, rtol=1e-6)

    params = {"hidden": 8, "max_epochs": 5, "random_state": 0, "device": "cpu"}
    blocks = {"modalities": union.output_indices_}
    from_disk = FusionClassifier(**params, **blocks).fit(embeddings, y)
    in_memory = FusionClassifier(**params, **blocks).fit(dense, y)
    assert from_disk.layout_.names == ("image", "tab")
    np.testing.assert_allclose(
        from_disk.predict_proba(dense), in_memory.predict_proba(dense), atol=1e-6
    )


def test_warns_about_workers_that_slow_torch_down(client):
    """Dask's default worker environment is flagged; the fixed one is not."""
    import warnings

    frame = dd.from_pandas(pd.DataFrame({"a": [1.0, 2.0]}), npartitions=1)
    scaler = ParallelPostFit(StandardScaler()).fit(frame)
    with warnings.catch_warnings():
        warnings.simplefilter("error", SlowWorkersWarning)
        scaler.transform(frame).compute()  # the module's cluster: no warning

    dask_default = {"distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": 65536}
    environ = dict(os.environ)
    with dask.config.set(dask_default):
        cluster = distributed.LocalCluster(
            n_workers=1, processes=True, threads_per_worker=1, dashboard_address=":0"
        )
    _restore(environ)  # torch would run 3x slower in later subprocesses
    with (
        cluster,
        distributed.Client(cluster, set_as_default=False) as other,
    ):
        with pytest.warns(SlowWorkersWarning, match="MALLOC_TRIM_THRESHOLD_=65536"):
            with other.as_current():
                lazy = scaler.transform(frame)
            out = other.compute(lazy).result()
    np.testing.assert_allclose(out.to_numpy()[:, 0], [-1.0, 1.0])


class _DieOnce(TransformerMixin, BaseEstimator):
    """Kills its own worker process the first time any copy of it transforms."""

    def __init__(self, inner=None, marker=None):
        self.inner = inner
        self.marker = marker

    def fit(self, X, y=None):
        return self

    def __sklearn_is_fitted__(self):
        return True

    def get_feature_names_out(self, input_features=None):
        return self.inner.get_feature_names_out(input_features)

    def transform(self, X):
        try:
            fd = os.open(self.marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            return self.inner.transform(X)
        os.write(fd, str(os.getpid()).encode())
        os.close(fd)
        os._exit(1)  # the worker dies mid-task, like an OOM kill


def test_killed_worker_task_is_retried(client, table, tmp_path):
    df, y = table
    union = make_model(str(tmp_path / "cache"))[0].fit(df, y)
    marker = tmp_path / "died"
    dying = _DieOnce(union, str(marker))
    pids_before = set(client.run(os.getpid).values())

    out = ParallelPostFit(dying).transform(dd.from_pandas(df, npartitions=4)).compute()

    assert marker.exists()
    assert int(marker.read_text()) in pids_before  # a worker really died
    assert out.index.equals(df.index)  # every row, once
    np.testing.assert_allclose(out.to_numpy(), union.transform(df), rtol=1e-6)
