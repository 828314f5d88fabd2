"""Scale out on engines you already run: Dask for data and search, accelerate for
multi-GPU fusion heads. skmm builds no scheduler.

Needs the optional extra: ``pip install "skmm[distributed]"`` (dask, distributed,
accelerate).

- **Before starting a cluster**: ``dask.config.set(MALLOC_CONFIG)``. Dask's
  workers otherwise run with ``MALLOC_TRIM_THRESHOLD_=65536``, which made torch
  inference 3x slower here (see :class:`SlowWorkersWarning`; skmm warns when it
  finds workers so configured).
- **Encoding and prediction of a dask DataFrame**:
  :class:`ParallelPostFit` wraps a fitted pipeline, union or encoder and runs it
  partition by partition on the workers; each worker loads the model once.
- **Distributed search**: scikit-learn's own ``GridSearchCV`` and
  ``cross_validate`` fan out through joblib, so a search over an skmm pipeline runs
  on a Dask cluster with no change but the backend::

      from distributed import Client
      import joblib

      client = Client("tcp://scheduler:8786")
      with joblib.parallel_backend("dask"):
          search = GridSearchCV(pipeline, grid, cv=5, n_jobs=-1).fit(X, y)

  Give the encoders an :class:`~skmm.EmbeddingCache` on a path every worker can
  read and write (a shared file system): each image or text is then encoded once
  on the cluster, and every other fold and candidate reads its vector. The cache
  is one SQLite file in WAL mode, safe with many processes writing at once;
  SQLite's locking needs a file system with working POSIX locks (a local disk or
  NFSv4 with locking; not every network file system has them). Ray's joblib
  backend (``ray.util.joblib.register_ray()``, then
  ``joblib.parallel_backend("ray")``, extra ``skmm[ray]``) works the same way.
- **Out-of-core output**: :func:`transform_to_npy` writes a transform larger than
  memory to a memory-mapped ``.npy`` file, chunk by chunk, renamed into place only
  when complete.
- **Multi-GPU fusion heads**: :class:`~skmm.FusionClassifier`,
  :class:`~skmm.FusionRegressor` and :class:`~skmm.FusionMultiTask` take
  ``accelerator=accelerate.Accelerator(...)`` (data parallel under
  ``accelerate launch --multi_gpu``, mixed precision); the fitted head pickles
  without it and predicts on a CPU-only machine.
"""

from skmm.distributed._disk import transform_to_npy
from skmm.distributed._postfit import (
    MALLOC_CONFIG,
    ParallelPostFit,
    SlowWorkersWarning,
    is_dask_collection,
    ship_estimator,
)

__all__ = [
    "MALLOC_CONFIG",
    "ParallelPostFit",
    "SlowWorkersWarning",
    "is_dask_collection",
    "ship_estimator",
    "transform_to_npy",
]
