"""The model of ``skmm fit``: the pipeline built for a table, and its metrics.

A table (CSV, TSV or parquet) with a target column and input columns whose kinds
(images, text, audio, video, numbers, dates, categories, columns to leave out) are
detected by :func:`skmm.detect_column_types` unless named on the command line; the
pipeline is the one :func:`skmm.make_multimodal_pipeline` builds. ``fit`` saves
one scikit-learn ``Pipeline`` (see :mod:`skmm.cli._files`): ``joblib.load`` gives a
model that ``predict`` works on in Python too.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from skmm.cli._common import CLASSIFICATION_METRICS, REGRESSION_METRICS, CommandError
from skmm.cli._table import _check_columns, resolve_paths

__all__ = [
    "CLASSIFICATION_METRICS",
    "MEDIA",
    "REGRESSION_METRICS",
    "TABULAR",
    "Spec",
    "build_model",
    "evaluate_model",
    "prepare_inputs",
]

#: Media kinds: command-line option -> modality name.
MEDIA = {"image": "image", "text": "text", "audio": "audio", "video": "video"}
#: Tabular kinds: command-line option -> detected kind.
TABULAR = {"categorical": "categorical", "numeric": "numeric", "datetime": "datetime"}
# Media whose values are file paths, resolved against the table's folder.
_PATH_MEDIA = ("image", "audio", "video")


@dataclass
class Spec:
    """What ``skmm fit`` was asked to build; saved with the model."""

    target: str
    task: str
    media: dict[str, list[str]]
    numbers: list[str]
    categories: list[str]
    dropped: dict[str, str]
    # A class default: models saved before dates were read have none.
    dates: Sequence[str] = ()

    @property
    def path_columns(self) -> list[str]:
        return [c for kind in _PATH_MEDIA for c in self.media.get(kind, [])]

    @property
    def inputs(self) -> list[str]:
        columns = [c for cols in self.media.values() for c in cols]
        return columns + self.numbers + list(self.dates) + self.categories


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
    categorical_cols: Sequence[str] = (),
    numeric_cols: Sequence[str] = (),
    datetime_cols: Sequence[str] = (),
    drop: Sequence[str] = (),
    task: str = "auto",
    head: str = "linear",
    fusion: str = "concat",
    time_limit: float | None = None,
    preset: str = "default",
    image_model: str = "tf_efficientnet_lite0",
    image_weights: str | None = None,
    text_model: str = "all-MiniLM-L6-v2",
    device: str = "auto",
    cache: str | None = None,
    verbose: bool = True,
    random_state: int | None = 0,
    base: str | os.PathLike | None = None,
    source: str = "the table",
):
    """Build the unfitted pipeline for ``skmm fit`` and check the table against it.

    The columns not named are detected as Python's
    :func:`~skmm.make_multimodal_pipeline` detects them
    (:func:`~skmm.detect_column_types`), and the pipeline is the one it builds
    from those types: the detected union and the head.

    Parameters
    ----------
    table : DataFrame
        The training table.
    target : str
        The column to predict.
    image_cols, text_cols, audio_cols, video_cols : sequence of str
        Columns of each medium (image, audio and video hold file paths).
    categorical_cols, numeric_cols, datetime_cols : sequence of str
        Columns of each tabular kind.
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
    time_limit : float, default=None
        Seconds each fit of the ensemble may take (its ``time_limit``; with
        ``preset="best"``, of the fine-tuned features and the ensemble together,
        see :func:`~skmm.make_multimodal_pipeline`); only with
        ``head="ensemble"``.
    preset : {"default", "fast", "best"}, default="default"
        The ensemble's preset (``head="ensemble"`` only); "best" also adds
        fine-tuned image and text features.
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
    base : str or PathLike, default=None
        The folder that relative file paths are read from (the table's folder);
        the paths of media columns are made relative to it.
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
        What was decided (each column's kind, dropped columns and rows), for the
        user.

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
    from skmm._pipeline import HEADS, guess_task, make_multimodal_pipeline
    from skmm.compose import detect_column_types
    from skmm.encoders import AudioEncoder, ImageEncoder, TextEncoder, VideoEncoder

    _check_columns(table, [target], "--target", source)
    named_kinds = {
        "image": list(image_cols),
        "text": list(text_cols),
        "audio": list(audio_cols),
        "video": list(video_cols),
        "categorical": list(categorical_cols),
        "numeric": list(numeric_cols),
        "datetime": list(datetime_cols),
    }
    for kind, columns in named_kinds.items():
        _check_columns(table, columns, f"--{kind}-col", source)
    _check_columns(table, drop, "--drop", source)
    named = [c for cols in named_kinds.values() for c in cols]
    if target in named:
        raise CommandError(f"column {target!r} is the target and an input")
    twice = sorted({c for c in named if named.count(c) > 1})
    if twice:
        raise CommandError(f"column {twice[0]!r} is given as two kinds of columns")
    if head not in HEADS:
        raise CommandError(f"unknown head {head!r}: linear, fusion, late or ensemble")
    if time_limit is not None and head != "ensemble":
        raise CommandError(
            f"--time-limit bounds the ensemble's fit (candidates that no longer "
            f"fit in it are skipped): pass it with --head ensemble, not --head {head}"
        )
    if preset != "default" and head != "ensemble":
        raise CommandError(
            f"--preset chooses the ensemble's candidates: pass it with --head "
            f"ensemble, not --head {head}"
        )
    if time_limit is not None and not time_limit > 0:
        raise CommandError(
            f"--time-limit must be a positive number of seconds, got {time_limit:g}"
        )

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
        task = guess_task(y)
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

    X = X.drop(columns=[target])
    given = {c: kind for kind, cols in named_kinds.items() for c in cols}
    given.update({c: "drop" for c in drop})
    types = detect_column_types(X, types=given, base=base)
    dropped = {}
    for column, kind in types.items():
        why = types.reasons[column]
        if column in drop:
            continue
        if kind == "drop":
            if "free text" in why:
                why += f" (pass --text-col {column} to encode it as text)"
            dropped[column] = why
            notes.append(f"column {column!r} left out: {why}")
        elif column not in given:
            notes.append(f"column {column!r}: {kind} ({why})")
    if all(kind == "drop" for kind in types.values()):
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
    encoders = {
        "image": ImageEncoder(image_model, pretrained=weights, **common),
        "text": TextEncoder(text_model, **common),
        "audio": AudioEncoder(image_model, pretrained=weights, **common),
        "video": VideoEncoder(image_model, pretrained=weights, **common),
    }
    # Every column has its kind in ``types``: nothing is detected again. The
    # ensemble's trees get raw numbers and categorical codes (its linear
    # candidates standardise, impute and one-hot encode them).
    model = make_multimodal_pipeline(
        X,
        task=task,
        head=head,
        types=types,
        encoders=encoders,
        fusion=fusion,
        preset=preset,
        time_limit=time_limit,
        device=device,
        random_state=random_state,
        verbose=verbose,
    )
    spec = Spec(
        target=target,
        task=task,
        media={k: types.columns(k) for k in MEDIA if types.columns(k)},
        numbers=types.columns("numeric"),
        categories=types.columns("categorical"),
        dropped=dropped,
        dates=types.columns("datetime"),
    )
    if base is not None:
        X = resolve_paths(X, spec.path_columns, base)
    X = _categories_as_strings(X, spec.categories)
    return model, X[spec.inputs], y, spec, notes


def prepare_inputs(model, table: pd.DataFrame, base: Path, source: str) -> pd.DataFrame:
    """The columns a saved model needs, paths resolved, categories as strings."""
    spec: Spec = model.skmm_spec_
    missing = [c for c in spec.inputs if c not in table.columns]
    if missing:
        _check_columns(table, missing, "needed by the model", source)
    X = resolve_paths(table[spec.inputs], spec.path_columns, base)
    return _categories_as_strings(X, spec.categories)


#: The metrics of ``skmm evaluate --metric``, computed from one prediction.
_DEFAULT_METRICS = {
    "classification": ("accuracy", "balanced_accuracy", "f1_macro", "roc_auc"),
    "regression": ("r2", "mae", "rmse"),
}


def evaluate_model(
    model, X: pd.DataFrame, y: pd.Series, metrics: Sequence[str] = ()
) -> dict[str, Any]:
    """The metrics ``skmm evaluate`` prints, and a report per class.

    Classification: accuracy, balanced accuracy, macro F1, and ROC AUC (one vs
    rest for several classes) when every class is present, and ``per_class``
    (precision, recall, F1 and support of each class, and of each label of ``y``
    the model never saw in fit, which ``unseen_labels`` counts). Regression: R², mean
    absolute error, root mean squared error. ``metrics`` names others (see
    :data:`CLASSIFICATION_METRICS`, :data:`REGRESSION_METRICS`). The model
    predicts once.
    """
    from sklearn import metrics as m

    task = model.skmm_spec_.task
    names = list(metrics) or list(_DEFAULT_METRICS[task])
    allowed = CLASSIFICATION_METRICS if task == "classification" else REGRESSION_METRICS
    wrong = [name for name in names if name not in allowed]
    if wrong:
        raise CommandError(
            f"--metric {wrong[0]} is not a {task} metric; {task} metrics: "
            f"{', '.join(allowed)}"
        )
    predicted = model.predict(X)
    result: dict[str, Any] = {}
    if task == "regression":
        functions = {
            "r2": m.r2_score,
            "mae": m.mean_absolute_error,
            "rmse": lambda a, b: np.sqrt(m.mean_squared_error(a, b)),
            "mse": m.mean_squared_error,
            "median_ae": m.median_absolute_error,
            "mape": m.mean_absolute_percentage_error,
        }
        for name in names:
            result[name] = float(functions[name](y, predicted))
        result["n_rows"] = len(y)
        return result
    functions = {
        "accuracy": m.accuracy_score,
        "balanced_accuracy": m.balanced_accuracy_score,
        "f1_macro": lambda a, b: m.f1_score(a, b, average="macro"),
        "f1_weighted": lambda a, b: m.f1_score(a, b, average="weighted"),
        "precision_macro": lambda a, b: m.precision_score(
            a, b, average="macro", zero_division=0
        ),
        "recall_macro": lambda a, b: m.recall_score(a, b, average="macro"),
        "matthews_corrcoef": m.matthews_corrcoef,
    }
    classes = model.classes_
    every_class = set(np.unique(y)) == set(classes)
    proba = None
    if {"roc_auc", "log_loss"} & set(names) and (every_class or "log_loss" in names):
        proba = model.predict_proba(X)
    for name in names:
        if name in functions:
            result[name] = float(functions[name](y, predicted))
        elif name == "log_loss":
            result[name] = float(m.log_loss(y, proba, labels=classes))
        elif every_class:  # roc_auc needs every class
            if len(classes) == 2:
                score = m.roc_auc_score(y == classes[1], proba[:, 1])
            else:
                score = m.roc_auc_score(y, proba, multi_class="ovr", labels=classes)
            result[name] = float(score)
    result["n_rows"] = len(y)
    # Labels the model never saw in fit: always errors, listed in the table too.
    known = {str(label) for label in classes}
    unseen = sorted({str(v) for v in np.unique(y) if str(v) not in known})
    labels = [*map(str, classes), *unseen]
    report = m.classification_report(
        np.asarray(y).astype(str),
        np.asarray(predicted).astype(str),
        labels=labels,
        output_dict=True,
        zero_division=0,
    )
    result["per_class"] = {
        label: {
            key: (int(value) if key == "support" else float(value))
            for key, value in report[label].items()
        }
        for label in labels
    }
    if unseen:
        result["unseen_labels"] = {
            label: int((y.astype(str) == label).sum()) for label in unseen
        }
    return result
