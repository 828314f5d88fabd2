"""``skmm fit / predict / evaluate``: multimodal models on a user's own table.

A table (CSV, TSV or parquet) with a target column, columns that hold images, text,
audio or video (named on the command line), and any other columns (numbers and
categories, detected and preprocessed as scikit-learn users would). ``fit`` saves
one scikit-learn ``Pipeline`` with joblib: ``joblib.load`` gives a model that
``predict`` works on in Python too.

A saved file is the joblib pickle followed by a short trailer, a JSON manifest (skmm
version, time, size and SHA-256 of the pickle) that pickle never reads: ``joblib.load``
takes the file as it is, and ``load_model`` checks the pickle against the manifest
before unpickling it, so a truncated or damaged file is an error, not a model that
predicts something else. The manifest is no protection against a file made to run
code: it is as easy to forge as the pickle. Load only model files you trust.
"""

from __future__ import annotations

import datetime
import difflib
import hashlib
import json
import os
import secrets
import struct
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

__all__ = [
    "CommandError",
    "build_model",
    "describe_model_file",
    "evaluate_model",
    "load_model",
    "read_manifest",
    "read_table",
    "save_model",
]

#: Media kinds: command-line option -> modality name.
MEDIA = {"image": "image", "text": "text", "audio": "audio", "video": "video"}
# Media whose values are file paths, resolved against the table's folder.
_PATH_MEDIA = ("image", "audio", "video")
# A string column whose values are all distinct, or with more distinct values than
# this share of its rows and more than _MAX_CATEGORIES, is an identifier or free
# text, not a category.
_MAX_CATEGORIES = 50
_ID_SHARE = 0.5


class CommandError(ValueError):
    """Bad input to a command: printed as one line, exit status 2."""


# The trailer of a saved model: MAGIC, the manifest (JSON), its length, END.
_MANIFEST_MAGIC = b"\n#skmm-manifest\n"
_MANIFEST_END = b"SKMMEND1"
_MANIFEST_TAIL = struct.calcsize("<Q") + len(_MANIFEST_END)
_MANIFEST_MAX = 1 << 16
_HASH_CHUNK = 1 << 20


# -- input ----------------------------------------------------------------------
def read_table(path: str | os.PathLike) -> pd.DataFrame:
    """Read a CSV (``.csv``, ``.csv.gz``), TSV (``.tsv``) or parquet file.

    Parameters
    ----------
    path : str or PathLike
        The file.

    Returns
    -------
    table : DataFrame

    Raises
    ------
    CommandError
        When the file does not exist, cannot be parsed, or has no rows.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from skmm._cli import read_table
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "t.csv"
    >>> _ = path.write_text("a,b\\n1,x\\n2,y\\n")
    >>> read_table(path).shape
    (2, 2)
    """
    path = Path(path)
    if not path.is_file():
        raise CommandError(f"{path}: no such file")
    name = path.name.lower()
    try:
        if name.endswith((".parquet", ".pq")):
            table = pd.read_parquet(path)
        else:
            sep = "\t" if name.endswith((".tsv", ".tsv.gz", ".tab")) else ","
            table = pd.read_csv(path, sep=sep)
    except pd.errors.EmptyDataError:
        raise CommandError(f"{path}: the file is empty") from None
    except (ValueError, OSError, pd.errors.ParserError) as exc:
        raise CommandError(f"{path}: cannot read it as a table: {exc}") from None
    if len(table) == 0:
        raise CommandError(
            f"{path}: the file has a header ({', '.join(map(str, table.columns))}) "
            "but no rows"
        )
    return table


def _check_columns(
    table: pd.DataFrame, columns: Sequence[str], option: str, source: str
) -> None:
    for column in columns:
        if column not in table.columns:
            close = difflib.get_close_matches(column, map(str, table.columns), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise CommandError(
                f"column {column!r} ({option}) is not in {source}{hint} Its columns "
                f"are: {', '.join(map(str, table.columns))}"
            )


def resolve_paths(
    table: pd.DataFrame, columns: Sequence[str], base: str | os.PathLike
) -> pd.DataFrame:
    """Make the relative file paths in ``columns`` relative to ``base``.

    Paths in a table are taken relative to the table's own folder, so that a
    table and its media can move together.
    """
    base = Path(base)
    table = table.copy()
    for column in columns:

        def resolve(value: Any) -> Any:
            if isinstance(value, str) and value and "://" not in value:
                path = Path(value).expanduser()
                if not path.is_absolute():
                    return str(base / path)
            return value

        table[column] = table[column].map(resolve)
    return table


# -- the model ------------------------------------------------------------------
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
    >>> from skmm._cli import build_model
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


def _sha256(path: Path, size: int) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        left = size
        while left > 0:
            chunk = handle.read(min(_HASH_CHUNK, left))
            if not chunk:
                break
            digest.update(chunk)
            left -= len(chunk)
    return digest.hexdigest()


def _versions() -> dict[str, str]:
    import platform

    import sklearn
    import torch

    from skmm import __version__

    return {
        "skmm": __version__,
        "scikit-learn": sklearn.__version__,
        "torch": torch.__version__,
        "python": platform.python_version(),
    }


def save_model(model, path: str | os.PathLike) -> None:
    """``joblib.dump`` to a temporary file, renamed into place when complete.

    A crash while writing leaves any earlier file at ``path`` as it was. The file
    gets the mode a new file gets under the process's umask (0644 under the usual
    022), as ``joblib.dump`` would give it, and ends with a manifest (see
    :func:`read_manifest`).
    """
    import joblib

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    while True:
        temporary = path.parent / f".{path.name}.{secrets.token_hex(6)}.tmp"
        try:
            # 0o666 less the umask, unlike mkstemp's 0600.
            handle = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        except FileExistsError:
            continue
        os.close(handle)
        break
    try:
        joblib.dump(model, temporary)
        size = temporary.stat().st_size
        manifest = {
            "format": "skmm-model",
            "version": 1,
            "saved_at": datetime.datetime.now(datetime.timezone.utc).isoformat(
                timespec="seconds"
            ),
            **_versions(),
            "pickle_size": size,
            "pickle_sha256": _sha256(temporary, size),
        }
        text = json.dumps(manifest, sort_keys=True).encode()
        with open(temporary, "ab") as handle:
            handle.write(_MANIFEST_MAGIC + text)
            handle.write(struct.pack("<Q", len(text)) + _MANIFEST_END)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def read_manifest(path: str | os.PathLike) -> dict[str, Any] | None:
    """The manifest that :func:`save_model` wrote at the end of ``path``, if any.

    Parameters
    ----------
    path : str or PathLike
        A model file.

    Returns
    -------
    manifest : dict or None
        skmm, scikit-learn, torch and Python versions, ``saved_at``, and the size
        and SHA-256 of the pickle; None for a file without one (saved by an
        older skmm, or not by ``skmm fit``).
    """
    path = Path(path)
    size = path.stat().st_size
    with open(path, "rb") as handle:
        if size < _MANIFEST_TAIL:
            return None
        handle.seek(size - _MANIFEST_TAIL)
        tail = handle.read(_MANIFEST_TAIL)
        (length,) = struct.unpack("<Q", tail[:8])
        if tail[8:] != _MANIFEST_END or length > _MANIFEST_MAX:
            return None
        start = size - _MANIFEST_TAIL - length - len(_MANIFEST_MAGIC)
        if start < 0:
            return None
        handle.seek(start)
        if handle.read(len(_MANIFEST_MAGIC)) != _MANIFEST_MAGIC:
            return None
        try:
            manifest = json.loads(handle.read(length))
        except ValueError:
            return None
    if not isinstance(manifest, dict) or manifest.get("format") != "skmm-model":
        return None
    manifest["file_size"] = size
    manifest["pickle_end"] = start
    return manifest


def _size(n_bytes: int) -> str:
    for unit in ("bytes", "KB", "MB", "GB"):
        if n_bytes < 1000 or unit == "GB":
            return (
                f"{n_bytes:.0f} {unit}" if unit == "bytes" else f"{n_bytes:.1f} {unit}"
            )
        n_bytes /= 1000
    return f"{n_bytes} bytes"


def describe_model_file(path: str | os.PathLike) -> str:
    """One line saying what file is about to be loaded (for ``predict``/``evaluate``).

    Also checks the file against its manifest before anything unpickles it.

    Raises
    ------
    CommandError
        When there is no such file, or the file does not match its manifest.
    """
    path = Path(path)
    if not path.is_file():
        raise CommandError(f"{path}: no such file")
    size = path.stat().st_size
    manifest = read_manifest(path)
    if manifest is None:
        return (
            f"loading {path} ({_size(size)}; no skmm manifest: saved by an older skmm "
            "or not by skmm fit, so its integrity cannot be checked). A model file "
            "runs code when loaded: load only files you trust"
        )
    if manifest.get("pickle_size") != manifest["pickle_end"] or _sha256(
        path, manifest["pickle_end"]
    ) != manifest.get("pickle_sha256"):
        raise CommandError(
            f"{path}: the file does not match the checksum skmm fit saved in it "
            f"({_size(size)}, saved by skmm {manifest.get('skmm', '?')} on "
            f"{manifest.get('saved_at', '?')}): it was damaged or changed after it "
            "was saved. Copy it again or fit the model again"
        )
    return (
        f"loading {path} ({_size(size)}, saved by skmm {manifest.get('skmm', '?')} "
        f"on {manifest.get('saved_at', '?')}, scikit-learn "
        f"{manifest.get('scikit-learn', '?')}, torch {manifest.get('torch', '?')}; "
        "checksum verified). A model file runs code when loaded: load only files "
        "you trust"
    )


def load_model(path: str | os.PathLike, *, log: Callable[[str], None] | None = None):
    """Load a model saved by ``skmm fit``, with a clear error for anything else.

    The file is checked against its manifest first (:func:`describe_model_file`);
    ``log`` gets the line that says what is loaded.
    """
    import pickle

    import joblib

    path = Path(path)
    line = describe_model_file(path)
    if log is not None:
        log(line)
    try:
        model = joblib.load(path)
    except (EOFError, pickle.UnpicklingError) as exc:
        detail = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        raise CommandError(
            f"{path}: not a model saved by skmm fit, or a truncated or damaged one "
            f"({detail})"
        ) from None
    except (ValueError, OSError) as exc:
        # The encoders' own errors (weights that changed since the model was
        # saved, a missing weights file) say what to do.
        raise CommandError(f"{path}: cannot be loaded: {exc}") from None
    except Exception as exc:
        raise CommandError(
            f"{path}: not a model saved by skmm fit ({type(exc).__name__}: {exc})"
        ) from None
    if not hasattr(model, "skmm_spec_"):
        raise CommandError(f"{path}: not a model saved by skmm fit")
    return model


# -- metrics --------------------------------------------------------------------
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


def echo(line: str) -> None:
    """A message for the user: on stderr, so that stdout stays data."""
    print(line, file=sys.stderr, flush=True)
