"""The model of ``skmm fit``: the pipeline built for a table, and its metrics.

A table (CSV, TSV or parquet) with a target column, columns that hold images, text,
audio or video (named on the command line), and any other columns (numbers and
categories, detected and preprocessed as scikit-learn users would). ``fit`` saves
one scikit-learn ``Pipeline`` (see :mod:`skmm.cli._files`): ``joblib.load`` gives a
model that ``predict`` works on in Python too.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from skmm.cli._common import CommandError
from skmm.cli._table import _check_columns, resolve_paths

__all__ = ["MEDIA", "Spec", "build_model", "evaluate_model", "prepare_inputs"]

#: Media kinds: command-line option -> modality name.
MEDIA = {"image": "image", "text": "text", "audio": "audio", "video": "video"}
# Media whose values are file paths, resolved against the table's folder.
_PATH_MEDIA = ("image", "audio", "video")
# A string column whose values are all distinct, or with more distinct values than
# this share of its rows and more than _MAX_CATEGORIES, is an identifier or free
# text, not a category.
_MAX_CATEGORIES = 50
_ID_SHARE = 0.5


@dataclass
class Spec:
    """What ``skmm fit`` was asked to build; saved with the model."""

    target: str
    task: str
    media: dict[str, list[str]]
    numbers: list[str]
    categories: list[str]
    dropped: dict[str, str]

    @property
    def path_columns(self) -> list[str]:
        return [c for kind in _PATH_MEDIA for c in self.media.get(kind, [])]

    @property
    def inputs(self) -> list[str]:
        columns = [c for cols in self.media.values() for c in cols]
        return columns + self.numbers + self.categories


def _guess_task(y: pd.Series) -> str:
    from sklearn.utils.multiclass import type_of_target

    if not pd.api.types.is_numeric_dtype(y) or pd.api.types.is_bool_dtype(y):
        return "classification"
    kind = type_of_target(y.to_numpy())
    if kind in ("binary", "multiclass") and y.nunique() <= 20:
        return "classification"
    return "regression"


def _split_other_columns(
    table: pd.DataFrame, columns: Sequence[str]
) -> tuple[list[str], list[str], dict[str, str]]:
    numbers, categories, dropped = [], [], {}
    n_rows = len(table)
    for column in columns:
        values = table[column]
        if values.isna().all():
            dropped[column] = "every value is missing"
        elif pd.api.types.is_bool_dtype(values) or pd.api.types.is_numeric_dtype(
            values
        ):
            numbers.append(column)
        elif pd.api.types.is_datetime64_any_dtype(values):
            dropped[column] = "a date (turn it into numbers to use it)"
        else:
            distinct = values.nunique()
            unique = distinct == values.notna().sum() and distinct > 10
            if unique or (distinct > _MAX_CATEGORIES and distinct > _ID_SHARE * n_rows):
                dropped[column] = (
                    f"{distinct} distinct values in {n_rows} rows: an identifier or "
                    f"free text (pass --text-col {column} to encode it as text)"
                )
            else:
                categories.append(column)
    return numbers, categories, dropped


def _categories_as_strings(X: pd.DataFrame, columns: Sequence[str]) -> pd.DataFrame:
    """Category values as str (None where missing), the same at fit and predict.

    A column read as numbers in one file and as strings in another still matches,
    and SimpleImputer(strategy="constant") takes the missing ones.
    """
    X = X.copy()
    for column in columns:
        values = [None if pd.isna(v) else str(v) for v in X[column]]
        X[column] = pd.Series(values, index=X.index, dtype=object)
    return X


def build_model(
    table: pd.DataFrame,
    target: str,
    *,
    image_cols: Sequence[str] = (),
    text_cols: Sequence[str] = (),
    audio_cols: Sequence[str] = (),
    video_cols: Sequence[str] = (),
    drop: Sequence[str] = (),
    task: str = "auto",
    head: str = "linear",
    fusion: str = "concat",
    image_model: str = "tf_efficientnet_lite0",
    image_weights: str | None = None,
    text_model: str = "all-MiniLM-L6-v2",
    device: str = "auto",
    cache: str | None = None,
    verbose: bool = True,
    random_state: int | None = 0,
    source: str = "the table",
):
    """Build the unfitted pipeline for ``skmm fit`` and check the table against it.

    Parameters
    ----------
    table : DataFrame
        The training table.
    target : str
        The column to predict.
    image_cols, text_cols, audio_cols, video_cols : sequence of str
        Columns of each medium (image, audio and video hold file paths).
    drop : sequence of str
        Columns to leave out.
    task : {"auto", "classification", "regression"}, default="auto"
        "auto": classification for strings, booleans and integers with at most 20
        values; regression otherwise.
    head : {"linear", "fusion", "late", "ensemble"}, default="linear"
        LogisticRegression / RidgeCV on the joined features; a neural
        FusionClassifier / FusionRegressor; late fusion; or an
        EnsembleClassifier / EnsembleRegressor (raw numbers and categorical
        codes, which its trees split on natively).
    fusion : str, default="concat"
        The fusion type of ``head="fusion"``.
    image_model, text_model : str
        timm and sentence-transformers model names.
    image_weights : str, default=None
        A local weights file for ``image_model``; None downloads timm's pretrained
        weights; "random" uses random weights (for tests).
    device : str, default="auto"
        Torch device.
    cache : str, default=None
        Embedding cache directory of the encoders.
    verbose : bool, default=True
        Progress bars while encoding.
    random_state : int, default=0
        Seed of the neural head.
    source : str
        How errors name the table.

    Returns
    -------
    model : Pipeline
    X : DataFrame
        The input columns, rows with a target.
    y : Series
    spec : Spec
    notes : list of str
        What was decided (dropped columns and rows), for the user.

    Examples
    --------
    >>> import pandas as pd
    >>> from skmm.cli._model import build_model
    >>> table = pd.DataFrame({"size": [1.0, 2.0, 3.0, 4.0], "colour": list("abab"),
    ...                       "y": [0, 1, 0, 1]})
    >>> model, X, y, spec, notes = build_model(table, "y")
    >>> spec.task, spec.numbers, spec.categories
    ('classification', ['size'], ['colour'])
    """
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression, RidgeCV
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    from skmm.compose import CategoricalEncoder, MultimodalUnion
    from skmm.encoders import AudioEncoder, ImageEncoder, TextEncoder, VideoEncoder
    from skmm.ensemble import EnsembleClassifier, EnsembleRegressor
    from skmm.fusion import (
        FusionClassifier,
        FusionRegressor,
        LateFusionClassifier,
        LateFusionRegressor,
    )

    _check_columns(table, [target], "--target", source)
    media = {
        "image": list(image_cols),
        "text": list(text_cols),
        "audio": list(audio_cols),
        "video": list(video_cols),
    }
    for kind, columns in media.items():
        _check_columns(table, columns, f"--{kind}-col", source)
    _check_columns(table, drop, "--drop", source)
    named = [c for cols in media.values() for c in cols]
    if target in named:
        raise CommandError(f"column {target!r} is the target and an input")
    twice = sorted({c for c in named if named.count(c) > 1})
    if twice:
        raise CommandError(f"column {twice[0]!r} is given as two kinds of media")

    notes = []
    y = table[target]
    unknown = y.isna().to_numpy()
    if unknown.all():
        raise CommandError(f"target {target!r} is missing in every row of {source}")
    if unknown.any():
        rows = np.flatnonzero(unknown)
        shown = ", ".join(map(str, rows[:5])) + (", ..." if len(rows) > 5 else "")
        notes.append(f"{len(rows)} rows without a target left out (rows {shown})")
    X = table.loc[~unknown].reset_index(drop=True)
    y = y.loc[~unknown].reset_index(drop=True)
    if task == "auto":
        task = _guess_task(y)
    if task == "classification":
        counts = y.value_counts()
        if len(counts) < 2:
            raise CommandError(
                f"target {target!r} has one class ({counts.index[0]!r}) in its "
                f"{len(y)} rows with a target: there is nothing to learn"
            )
    elif not pd.api.types.is_numeric_dtype(y):
        bad = y[pd.to_numeric(y, errors="coerce").isna()]
        raise CommandError(
            f"target {target!r} is not numeric, so it cannot be regressed: row "
            f"{bad.index[0]} is {bad.iloc[0]!r}"
        )

    others = [c for c in X.columns if c != target and c not in named and c not in drop]
    numbers, categories, dropped = _split_other_columns(X, others)
    for column, why in dropped.items():
        notes.append(f"column {column!r} left out: {why}")
    if not named and not numbers and not categories:
        raise CommandError(
            f"no input columns: name media with --image-col/--text-col/--audio-col/"
            f"--video-col, or keep some columns besides the target {target!r}"
        )

    weights: Any = True
    if image_weights == "random":
        weights = False
    elif image_weights is not None:
        weights = image_weights
    common = {"device": device, "cache": cache, "verbose": verbose}
    encoders: dict[str, Callable[[], Any]] = {
        "image": lambda: ImageEncoder(image_model, pretrained=weights, **common),
        "text": lambda: TextEncoder(text_model, **common),
        "audio": lambda: AudioEncoder(image_model, pretrained=weights, **common),
        "video": lambda: VideoEncoder(image_model, pretrained=weights, **common),
    }
    blocks = [
        (kind, encoders[kind](), columns) for kind, columns in media.items() if columns
    ]
    native = head == "ensemble"
    if numbers:
        # The ensemble's trees take raw numbers (NaN: missing) and its linear
        # candidates standardise and impute them themselves.
        blocks.append(
            (
                "numbers",
                "passthrough"
                if native
                else make_pipeline(SimpleImputer(strategy="median"), StandardScaler()),
                numbers,
            )
        )
    if categories:
        # Codes typed as categorical for the ensemble (trees split on them, its
        # linear candidates one-hot encode them); one-hot columns otherwise.
        blocks.append(
            (
                "categories",
                CategoricalEncoder(min_frequency=5)
                if native
                else make_pipeline(
                    SimpleImputer(strategy="constant", fill_value="missing"),
                    OneHotEncoder(
                        handle_unknown="ignore", min_frequency=5, sparse_output=False
                    ),
                ),
                categories,
            )
        )
    X = _categories_as_strings(X, categories)

    classify = task == "classification"
    if head == "linear":
        estimator = (
            LogisticRegression(max_iter=2000, class_weight="balanced")
            if classify
            else RidgeCV(alphas=np.logspace(-3, 3, 13))
        )
        estimator = make_pipeline(StandardScaler(), estimator)
    elif head == "fusion":
        cls = FusionClassifier if classify else FusionRegressor
        extra = {"class_weight": "balanced"} if classify else {}
        estimator = cls(fusion, device=device, random_state=random_state, **extra)
    elif head == "late":
        estimator = LateFusionClassifier() if classify else LateFusionRegressor()
    elif head == "ensemble":
        shared = {"device": device, "random_state": random_state, "verbose": verbose}
        estimator = (
            EnsembleClassifier(
                class_weight="balanced", scoring="balanced_accuracy", **shared
            )
            if classify
            else EnsembleRegressor(**shared)
        )
    else:
        raise CommandError(f"unknown head {head!r}: linear, fusion, late or ensemble")
    # Pandas output: the fusion heads read the blocks from the column prefixes.
    union = MultimodalUnion(blocks, missing="indicator").set_output(transform="pandas")
    model = make_pipeline(union, estimator)
    spec = Spec(
        target=target,
        task=task,
        media={k: v for k, v in media.items() if v},
        numbers=numbers,
        categories=categories,
        dropped=dropped,
    )
    return model, X[spec.inputs], y, spec, notes


def prepare_inputs(model, table: pd.DataFrame, base: Path, source: str) -> pd.DataFrame:
    """The columns a saved model needs, paths resolved, categories as strings."""
    spec: Spec = model.skmm_spec_
    missing = [c for c in spec.inputs if c not in table.columns]
    if missing:
        _check_columns(table, missing, "needed by the model", source)
    X = resolve_paths(table[spec.inputs], spec.path_columns, base)
    return _categories_as_strings(X, spec.categories)


def evaluate_model(model, X: pd.DataFrame, y: pd.Series) -> dict[str, float]:
    """The metrics ``skmm evaluate`` prints.

    Classification: accuracy, balanced accuracy, macro F1, and ROC AUC (one vs
    rest for several classes) when every class is present. Regression: R², mean
    absolute error, root mean squared error.
    """
    from sklearn import metrics

    predicted = model.predict(X)
    if model.skmm_spec_.task == "regression":
        return {
            "r2": metrics.r2_score(y, predicted),
            "mae": metrics.mean_absolute_error(y, predicted),
            "rmse": float(np.sqrt(metrics.mean_squared_error(y, predicted))),
            "n_rows": len(y),
        }
    result = {
        "accuracy": metrics.accuracy_score(y, predicted),
        "balanced_accuracy": metrics.balanced_accuracy_score(y, predicted),
        "f1_macro": metrics.f1_score(y, predicted, average="macro"),
    }
    classes = model.classes_
    if set(np.unique(y)) == set(classes):
        proba = model.predict_proba(X)
        if len(classes) == 2:
            result["roc_auc"] = metrics.roc_auc_score(y == classes[1], proba[:, 1])
        else:
            result["roc_auc"] = metrics.roc_auc_score(
                y, proba, multi_class="ovr", labels=classes
            )
    result["n_rows"] = len(y)
    return {k: float(v) if k != "n_rows" else int(v) for k, v in result.items()}
