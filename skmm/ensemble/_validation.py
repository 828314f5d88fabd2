"""What an ensemble checks before it fits a candidate, and how it says what failed.

Each check names what is wrong (the candidate, the block, the column, the row and
its index label, the value) and runs before the first candidate is fitted, so a
mistake costs no fit.
"""

from __future__ import annotations

import difflib
import warnings
from collections import Counter
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.metrics import check_scoring, get_scorer_names

__all__ = [
    "RESERVED_NAMES",
    "check_input",
    "check_names",
    "check_partition",
    "check_scorers",
    "failure_message",
]

#: Names the ensemble gives its own rows of ``leaderboard_`` and ``oof_predictions_``.
RESERVED_NAMES = ("ensemble",)


def check_names(names: list[str], what: str = "candidates") -> None:
    """Refuse duplicate names, names with ``"__"`` and reserved names.

    As :class:`sklearn.pipeline.Pipeline` does (``_validate_names``): two
    candidates with one name would share a weight and a fitted model, and
    ``candidates__<name>__<param>`` could not reach a name holding ``"__"``.
    """
    dup = sorted(name for name, count in Counter(names).items() if count > 1)
    if dup:
        raise ValueError(
            f"{what} names must be unique, got {dup} more than once (in {names}); "
            "the names key weights_, estimators_ and the leaderboard"
        )
    dunder = [name for name in names if "__" in name]
    if dunder:
        raise ValueError(
            f"{what} names must not contain '__' (it separates "
            f"candidates__<name>__<param>), got {dunder}"
        )
    reserved = [name for name in names if name in RESERVED_NAMES]
    if reserved:
        raise ValueError(
            f"{what} names must not be {list(RESERVED_NAMES)}: the ensemble's own "
            f"row of leaderboard_ and oof_predictions_ has that name, got {reserved}"
        )


def check_partition(folds, n_rows: int, index=None) -> None:
    """Refuse folds whose test parts do not cover every row exactly once.

    The ensemble learns its weights from each candidate's out-of-fold
    predictions, as :func:`sklearn.model_selection.cross_val_predict` (and so
    :class:`~sklearn.ensemble.StackingClassifier`) does; like them, it needs
    the test folds to be a partition of the rows.
    """
    counts = np.zeros(n_rows, dtype=np.int64)
    for _, test in folds:
        np.add.at(counts, np.asarray(test, dtype=np.int64), 1)
    never, twice = np.flatnonzero(counts == 0), np.flatnonzero(counts > 1)
    if not len(never) and not len(twice):
        return
    parts = []
    if len(never):
        parts.append(
            f"{len(never)} rows are in no test fold (first: {_row(never[0], index)})"
        )
    if len(twice):
        parts.append(
            f"{len(twice)} rows are in several (first: {_row(twice[0], index)}, "
            f"{counts[twice[0]]} times)"
        )
    raise ValueError(
        f"cv must split the rows into test folds that hold each row exactly once, "
        f"as cross_val_predict requires: the ensemble is chosen on out-of-fold "
        f"predictions of every row, and here {' and '.join(parts)} of the "
        f"{n_rows}. Use an int, KFold, StratifiedKFold or GroupKFold (not a single "
        "train/test split or ShuffleSplit)"
    )


def check_scorers(ensemble, target, sample_weight=None):
    """``(scorer, selector)`` of ``scoring`` and ``selection_scoring``, each tried
    on the prior's predictions first, so that a scorer that cannot score this
    task fails before any candidate is fitted."""
    scorers = []
    for param in ("scoring", "selection_scoring"):
        value = getattr(ensemble, param)
        if param == "selection_scoring" and value is None:
            scorers.append(scorers[0])
            continue
        try:
            scorer = check_scoring(ensemble, scoring=value)
        except ValueError as exc:  # InvalidParameterError is a ValueError
            if not isinstance(value, str):
                raise
            close = difflib.get_close_matches(value, get_scorer_names(), n=3)
            hint = f"; did you mean {close}?" if close else ""
            raise ValueError(
                f"{param}={value!r} is not a scorer name{hint} (the names: "
                "sklearn.metrics.get_scorer_names())"
            ) from exc
        prior = np.tile(ensemble._prior, (len(target), 1))
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # constant predictions: ill-defined
                ensemble._score(
                    scorer,
                    [prior],
                    np.ones((len(target), 1), bool),
                    np.ones(1),
                    target,
                    sample_weight,
                )
        except Exception as exc:  # noqa: BLE001 - re-raised with the parameter
            hint = ""
            classes = getattr(ensemble, "classes_", ())
            if len(classes) > 2 and "multi_class" in str(exc):
                hint = f" ({len(classes)} classes: use e.g. '{value}_ovr')"
            raise ValueError(
                f"{param}={value!r} cannot score this task{hint}: "
                f"{type(exc).__name__}: {exc}"
            ) from exc
        scorers.append(scorer)
    return scorers[0], scorers[1]


def check_input(X, layout=None) -> None:
    """Refuse text and infinity in the ensemble's input, and (``layout``, at
    predict) a dict that lacks a block seen in fit, naming the column or block,
    the row with its index label, and the value."""
    if sp.issparse(X):
        return  # refused later, as scikit-learn does
    if isinstance(X, Mapping):
        if layout is not None and layout.from_dict:
            missing = [name for name in layout.names if name not in X]
            if missing:
                raise ValueError(
                    f"X lacks the blocks {missing} seen in fit (it has {list(X)}); "
                    "give a block that no row has as an all-NaN array of its width"
                )
        for key, value in X.items():
            _check_array(np.asarray(value), f"block {key!r}", None)
        return
    if isinstance(X, pd.DataFrame):
        # Float columns (an encoder's output: most of them) in one pass; the
        # others (objects, strings, integers) one by one.
        dtypes = list(X.dtypes)
        floats = [
            j for j, t in enumerate(dtypes) if isinstance(t, np.dtype) and t.kind == "f"
        ]
        if floats:
            values = X.iloc[:, floats].to_numpy()
            for k in np.flatnonzero(np.isinf(values).any(axis=0))[:1]:
                name = f"column {str(X.columns[floats[k]])!r}"
                _check_column(values[:, k], name, X.index)
        done = set(floats)
        for j, column in enumerate(X.columns):
            if j in done or isinstance(dtypes[j], pd.CategoricalDtype):
                continue  # category codes: read by the ensemble itself
            _check_column(X.iloc[:, j].to_numpy(), f"column {str(column)!r}", X.index)
        return
    if hasattr(X, "columns") and hasattr(X, "to_pandas"):  # polars and the like
        return
    arr = np.asarray(X) if not hasattr(X, "toarray") else None
    if arr is not None and arr.ndim == 2:
        _check_array(arr, "X", None)


def _check_array(arr: np.ndarray, what: str, index) -> None:
    if arr.ndim == 1:
        arr = arr[:, None]
    arr = arr.reshape(len(arr), -1)
    for j in range(arr.shape[1]):
        name = f"{what}, column {j}" if arr.shape[1] > 1 or what == "X" else what
        _check_column(arr[:, j], name, index)


def _check_column(col: np.ndarray, what: str, index) -> None:
    if col.dtype.kind in "iub":
        return
    if col.dtype.kind in "fc":
        numbers = col
    else:  # object or strings: what np.asarray(dtype=float) would fail on
        numbers = pd.to_numeric(pd.Series(col), errors="coerce").to_numpy(float)
        # Text only: other objects get numpy's own error, as scikit-learn's.
        text = np.array([isinstance(v, str) for v in col], dtype=bool)
        bad = np.flatnonzero(np.isnan(numbers) & text)
        if len(bad):
            raise ValueError(
                f"{what} holds {col[bad[0]]!r} at {_row(bad[0], index)} "
                f"({len(bad)} such rows), which is not a number: the ensemble "
                "reads numbers (the output of a MultimodalUnion); encode text with "
                "a TextEncoder, categories with a CategoricalEncoder, or name the "
                "column in categorical_features"
            )
    bad = np.flatnonzero(np.isinf(numbers))
    if len(bad):
        raise ValueError(
            f"{what} holds {float(numbers[bad[0]].real)!r} at {_row(bad[0], index)} "
            f"({len(bad)} such rows): the ensemble reads NaN as missing but not "
            "infinity; replace it (X.replace([np.inf, -np.inf], np.nan))"
        )


def _row(i: int, index) -> str:
    if (
        index is None
        or isinstance(index, pd.RangeIndex)
        and index.equals(pd.RangeIndex(len(index)))
    ):
        return f"row {int(i)}"
    label = index[int(i)]
    label = label.item() if isinstance(label, np.generic) else label
    return f"row {int(i)} (index {label!r})"


def failure_message(
    name: str,
    estimator: Any,
    exc: BaseException,
    what: str = "failed and is left out of the ensemble",
) -> str:
    """Why candidate ``name`` failed, for the warning that leaves it out (or,
    ``what``, keeps its fold models)."""
    reason = f"{type(exc).__name__}: {exc}"
    text = str(exc)
    hint = ""
    if "n_splits" in text and "members in each class" in text:
        hint = (
            " (a cross-validation inside the candidate, not the ensemble's cv: "
            "an outer training fold has fewer rows of every class than its folds; "
            "give it a smaller cv, or the ensemble fewer folds)"
        )
    elif "Sample weights must contain at least one non-zero" in text:
        hint = " (a fit inside the candidate saw only rows of zero sample_weight)"
    return f"candidate {name!r} {what} ({_kind(estimator)}): {reason}{hint}"


def _kind(estimator: Any) -> str:
    steps = getattr(estimator, "steps", None)
    if steps:
        return " -> ".join(type(step).__name__ for _, step in steps)
    return type(estimator).__name__
