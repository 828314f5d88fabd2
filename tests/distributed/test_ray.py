"""skmm under Ray's joblib backend: a grid search over a cached image pipeline."""

from __future__ import annotations

import os
import signal
import sys

import numpy as np
import pytest
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.model_selection import GridSearchCV, cross_validate

from skmm.cache import open_cache
from tests.distributed.conftest import N_ROWS, make_model

ray = pytest.importorskip("ray")
joblib = pytest.importorskip("joblib")

# The limit only catches a hang: on 2 busy cores (another worker's tests beside
# it) starting the cluster and a grid search took more than 120 s.
pytestmark = pytest.mark.timeout(300)


@pytest.fixture(scope="module")
def ray_backend():
    from ray.util.joblib import register_ray

    environ, sigterm, path = (
        dict(os.environ),
        signal.getsignal(signal.SIGTERM),
        sys.path[:],
    )
    ray.init(
        num_cpus=2,
        include_dashboard=False,
        log_to_driver=False,
        configure_logging=False,
        # Each worker runs torch with one thread: two cores, two workers.
        runtime_env={"env_vars": {"OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}},
    )
    register_ray()
    try:
        yield
    finally:
        ray.shutdown()
        # ray.init sets variables (PYTHONBREAKPOINT, KMP_INIT_AT_FORK, ...), a
        # SIGTERM handler and a sys.path entry in this process; later tests and
        # their subprocesses must not inherit them.
        os.environ.clear()
        os.environ.update(environ)
        signal.signal(signal.SIGTERM, sigterm)
        sys.path[:] = path


class FittedIn(TransformerMixin, BaseEstimator):
    """Passthrough that remembers which process fitted it."""

    def fit(self, X, y=None):
        self.pid_ = os.getpid()
        return self

    def transform(self, X):
        return X


def test_grid_search_on_the_ray_backend(ray_backend, table, tmp_path):
    df, y = table
    grid = {"logisticregression__C": [0.1, 10.0]}
    local = GridSearchCV(make_model(None), grid, cv=2).fit(df, y)

    directory = str(tmp_path / "search-cache")
    with joblib.parallel_backend("ray"):
        search = GridSearchCV(make_model(directory), grid, cv=2, n_jobs=2).fit(df, y)

    np.testing.assert_allclose(
        search.cv_results_["mean_test_score"], local.cv_results_["mean_test_score"]
    )
    assert search.best_params_ == local.best_params_
    np.testing.assert_array_equal(search.predict(df), local.predict(df))
    # 2 candidates x 2 folds + the refit encoded the images 5 times over, in
    # several processes: the shared cache holds each image's vector once.
    assert len(open_cache(directory)) == N_ROWS


def test_fits_run_in_ray_workers(ray_backend, table):
    df, y = table
    model = make_model(None)
    model.steps.insert(1, ("fittedin", FittedIn()))
    with joblib.parallel_backend("ray"):
        result = cross_validate(model, df, y, cv=2, n_jobs=2, return_estimator=True)
    pids = {est.named_steps["fittedin"].pid_ for est in result["estimator"]}
    assert os.getpid() not in pids
    assert result["test_score"].shape == (2,)
