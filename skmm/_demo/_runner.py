"""The demo's runner: encode once, cross-validate every method on the same folds,
inspect the best one with the models those folds fitted, fit it on every row."""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.metrics import confusion_matrix, get_scorer
from sklearn.model_selection import StratifiedKFold, cross_validate

from skmm._config import config_context
from skmm._demo._datasets import DATASETS, DemoTask
from skmm._demo._methods import DEMO_CV, Method, methods
from skmm._demo._report import DemoReport, write_report
from skmm.cache import open_cache
from skmm.encoders import BaseEncoder
from skmm.inspection import modality_importance

__all__ = ["run_demo"]


def _encoders(pipeline) -> list[BaseEncoder]:
    """The fitted encoders of a fitted union pipeline."""
    return [
        transformer
        for transformer in pipeline[0].named_transformers_.values()
        if isinstance(transformer, BaseEncoder)
    ]


def _progress(iterable=None, **kwargs):
    from tqdm.auto import tqdm

    return tqdm(iterable, **kwargs)


def run_demo(
    dataset: str = "reviews",
    *,
    quick: bool = False,
    n_samples: int | None = None,
    cv: int | None = None,
    out: str | Path | None = "skmm_demo_report",
    cache: str | Path | None = None,
    device: str = "auto",
    data_home: str | Path | None = None,
    random_state: int = 0,
    progress: bool = True,
    log: Callable[[str], None] = print,
) -> DemoReport:
    """Compare single modalities, early, late and neural fusion on one dataset.

    Encodes every modality once (into an embedding cache), cross-validates each
    method on the same stratified folds (scikit-learn's ``cross_validate``),
    inspects the best one out of fold with the models its folds fitted (confusion
    matrix, permutation importance of each modality: no model is fitted again for
    it), fits it on all rows and writes the report.

    Parameters
    ----------
    dataset : {"reviews", "av-digits"}, default="reviews"
        ``"reviews"``: women's clothing reviews, text + title + tabular; ships with
        skmm. ``"av-digits"``: MNIST images paired with spoken digits (FSDD), image +
        audio; read from ``data_home`` or downloaded there.
    quick : bool, default=False
        Fewer rows (600 reviews instead of 1,500), 3 folds instead of 5, two
        neural fusion types (concat, gated) instead of three (and attention),
        and the ensemble on 2 inner folds instead of 3, without late fusion.
    n_samples : int, default=None
        Rows; default 1500 (quick: 600 reviews, 300 digit pairs).
    cv : int, default=None
        Stratified folds; default 5 (quick: 3).
    out : str or Path or None, default="skmm_demo_report"
        Report folder (created); ``None`` writes nothing.
    cache : str or Path, default=None
        Embedding cache directory; default ``out/cache`` (a temporary one when
        ``out`` is None). A second run with the same cache encodes nothing.
    device : str, default="auto"
        Torch device of the encoders and the neural heads.
    data_home : str or Path, default=None
        Where ``"av-digits"`` is read from or downloaded to.
    random_state : int, default=0
        Seed of the sample, the folds and the heads.
    progress : bool, default=True
        Progress bars (on stderr) for encoding and cross-validation.
    log : callable, default=print
        Where the progress lines go.

    Returns
    -------
    report : DemoReport
        ``table`` (one row per method: score and std over folds, mean fit time per
        fold, the seconds spent encoding its modalities once, cache hits during its
        cross-validation), ``best`` (the best method's name), ``model`` (the best
        pipeline fitted on every row), ``out`` and ``files`` (what was written),
        ``importance`` and ``confusion`` (of the best method, out of fold: each
        fold's model on the rows it did not see), ``leaderboard`` (the
        ensemble's candidates).

    Examples
    --------
    >>> from skmm._demo import run_demo
    >>> report = run_demo(quick=True, out=None, progress=False)  # doctest: +SKIP
    >>> report.table[["method", "score"]]  # doctest: +SKIP
    """
    if dataset not in DATASETS:
        raise ValueError(
            f"Unknown dataset {dataset!r}; choose one of {', '.join(DATASETS)}"
        )
    if out is not None:
        try:
            import matplotlib  # noqa: F401
        except ImportError:
            raise ImportError(
                "The demo's report draws its plots with matplotlib: "
                "pip install 'skmm[demo]' (or pass out=None for the table alone)"
            ) from None
    loader, full_rows, quick_rows = DATASETS[dataset]
    n_samples = n_samples or (quick_rows if quick else full_rows)
    cv = cv or DEMO_CV[quick]
    out_dir = None if out is None else Path(out)
    # progress=False also quiets the heads' epoch bars, which follow the setting.
    quiet = {} if progress else {"progress": False}
    with (
        tempfile.TemporaryDirectory(prefix="skmm-demo-") as scratch,
        config_context(**quiet),
    ):
        if cache is None:
            cache = (out_dir / "cache") if out_dir is not None else Path(scratch)
        return _run(
            loader(n_samples, random_state, data_home),
            quick=quick,
            cv=cv,
            out=out_dir,
            cache=str(cache),
            device=device,
            random_state=random_state,
            progress=progress,
            log=log,
        )


def _encode_once(
    task: DemoTask,
    found: list[Method],
    store: Any,
    progress: bool,
    log: Callable[[str], None],
) -> dict[str, float]:
    """Encode each modality once; return the seconds each took.

    The encoders are frozen, so the vectors do not depend on the fold: every later
    fit and predict finds them in the cache.
    """
    X = task.X
    encode_s: dict[str, float] = {}
    single = {m.modalities[0]: m.pipeline for m in found if m.kind == "single"}
    for modality, pipeline in single.items():
        for _, transformer, columns in pipeline[0].transformers:
            if not isinstance(transformer, BaseEncoder):
                continue
            log(f"encoding {modality} ({type(transformer).__name__}) ...")
            columns = [columns] if isinstance(columns, str) else list(columns)
            encoder = clone(transformer).set_params(verbose=progress)
            before = store.cache_info()
            start = time.perf_counter()
            encoder.fit(X[columns]).transform(X[columns])
            encode_s[modality] = time.perf_counter() - start
            after = store.cache_info()
            log(
                f"  {len(X)} rows in {encode_s[modality]:.1f} s on {encoder.device_}: "
                f"{after.misses - before.misses} encoded, "
                f"{after.hits - before.hits} found in the cache"
            )
    return encode_s


def _out_of_fold(
    task: DemoTask,
    estimators: list[Any],
    folds: list[tuple[np.ndarray, np.ndarray]],
    random_state: int,
) -> tuple[np.ndarray, pd.DataFrame]:
    """The confusion matrix and the modality importance of one method, out of fold.

    Each fold's model (fitted in the cross-validation) predicts the rows it did not
    see, and one permutation of each modality per fold is scored on them: nothing
    is fitted again.
    """
    X, y = task.X, task.y
    labels = np.unique(y)
    confusion = np.zeros((len(labels), len(labels)), dtype=np.int64)
    per_fold = []
    for fold, (estimator, (_, test)) in enumerate(zip(estimators, folds, strict=True)):
        X_test, y_test = X.iloc[test], y.iloc[test]
        confusion += confusion_matrix(y_test, estimator.predict(X_test), labels=labels)
        per_fold.append(
            modality_importance(
                estimator,
                X_test,
                y_test,
                scoring=task.scoring,
                n_repeats=1,
                random_state=random_state + fold,
            )
        )
    first = per_fold[0]
    importances = [
        np.concatenate([frame["importances"].iloc[i] for frame in per_fold])
        for i in range(len(first))
    ]
    importance = pd.DataFrame(
        {
            "modality": first["modality"],
            "importance_mean": [float(np.mean(v)) for v in importances],
            "importance_std": [float(np.std(v)) for v in importances],
            "baseline_score": np.mean(
                [frame["baseline_score"].to_numpy() for frame in per_fold], axis=0
            ),
            "importances": importances,
        }
    )
    return confusion, importance


def _run(
    task: DemoTask,
    *,
    quick: bool,
    cv: int,
    out: Path | None,
    cache: str,
    device: str,
    random_state: int,
    progress: bool,
    log: Callable[[str], None],
) -> DemoReport:
    log(task.description)
    log(f"{cv}-fold stratified cross-validation; embedding cache: {cache}")
    X, y = task.X, task.y
    store = open_cache(cache)
    found = methods(
        task, quick=quick, device=device, cache=cache, random_state=random_state
    )

    # 1. Encode each modality once.
    encode_s = _encode_once(task, found, store, progress, log)

    # 2. Cross-validate every method on the same folds, keeping the fold models of
    # the best method so far (for its inspection) and the ensemble's (its
    # leaderboard, when another method wins).
    folds = list(
        StratifiedKFold(cv, shuffle=True, random_state=random_state).split(X, y)
    )
    scorer = get_scorer(task.scoring)
    rows = []
    best_estimators: list[Any] = []
    ensemble_fold: Any = None
    bar = _progress(total=len(found), desc="cross-validating", disable=not progress)
    # Lines printed through the bar do not break it.
    emit = bar.write if progress and log is print else log
    for method in found:
        before = store.cache_info()
        result = cross_validate(
            method.pipeline,
            X,
            y,
            cv=folds,
            scoring=scorer,
            return_estimator=True,
            error_score="raise",
        )
        bar.update()
        after = store.cache_info()
        row = {
            "method": method.name,
            "kind": method.kind,
            "modalities": " + ".join(method.modalities),
            "score": float(np.mean(result["test_score"])),
            "score_std": float(np.std(result["test_score"])),
            "fit_s": float(np.mean(result["fit_time"])),
            "encode_s": float(sum(encode_s.get(m, 0.0) for m in method.modalities)),
            "cache_hits": after.hits - before.hits,
            "cache_misses": after.misses - before.misses,
        }
        if not rows or row["score"] > max(r["score"] for r in rows):
            best_estimators = result["estimator"]
        if method.kind == "ensemble":
            ensemble_fold = result["estimator"][0]
        rows.append(row)
        emit(
            f"{method.name}: {row['score']:.3f} ± {row['score_std']:.3f} "
            f"({row['fit_s']:.1f} s per fit)"
        )
    bar.close()
    table = pd.DataFrame(rows)
    table.attrs["scoring"] = task.scoring
    table.attrs["dataset"] = task.name

    # 3. The best method: inspected out of fold with its fold models, then fitted
    # on every row (the one fit on all of them).
    best = found[int(table["score"].idxmax())]
    log(f"best: {best.name}; inspecting it out of fold with its {cv} fold models ...")
    confusion, importance = _out_of_fold(task, best_estimators, folds, random_state)
    log(f"fitting {best.name} on all {len(X)} rows ...")
    model = clone(best.pipeline).fit(X, y)
    # The ensemble's leaderboard: its candidates out of fold, from the fit on every
    # row when it is the best method, else from its first fold's fit.
    leaderboard, board_rows = None, 0
    if best.kind == "ensemble":
        leaderboard, board_rows = model[-1].leaderboard_, len(X)
    elif ensemble_fold is not None:
        leaderboard, board_rows = ensemble_fold[-1].leaderboard_, len(folds[0][0])
    for encoder in _encoders(model):
        # The saved model must not point at this run's cache folder.
        encoder.set_params(cache=None)

    report = DemoReport(
        table=table,
        best=best.name,
        model=model,
        out=out,
        importance=importance,
        confusion=confusion,
        leaderboard=leaderboard,
        leaderboard_rows=board_rows,
    )
    if out is not None:
        report.files = write_report(report, task, np.unique(y), cv)
    return report
