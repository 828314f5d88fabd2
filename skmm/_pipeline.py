"""One call from a table to a model: the detected union and a default head.

:func:`make_multimodal_pipeline` is what ``skmm fit`` builds, in Python: the
:class:`~skmm.MultimodalUnion` of the detected column types
(:func:`~skmm.make_multimodal_union` given a DataFrame) followed by a head chosen
by name. It stands above :mod:`skmm.compose` (the union, which knows no head),
:mod:`skmm.fusion` and :mod:`skmm.ensemble` (the heads); the heads are imported when
one is built, so that ``import skmm.compose`` loads none of them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from numbers import Real
from typing import Any

import numpy as np
import pandas as pd
from sklearn.utils._param_validation import (
    HasMethods,
    Interval,
    StrOptions,
    validate_params,
)

__all__ = [
    "FEATURES_SHARE",
    "HEADS",
    "PRESETS",
    "default_head",
    "guess_task",
    "make_multimodal_pipeline",
]

#: The heads by name.
HEADS = ("linear", "fusion", "late", "ensemble")

#: The ensemble's presets (``preset=``; "best" adds fine-tuned features).
PRESETS = ("default", "fast", "best")

#: The share of a ``time_limit`` that ``preset="best"`` gives its fine-tuned
#: features (split evenly between their blocks); the ensemble gets the rest.
FEATURES_SHARE = 0.5


def guess_task(y: Any) -> str:
    """ "classification" for strings, booleans and integers with at most 20 values;
    "regression" otherwise.

    Examples
    --------
    >>> from skmm._pipeline import guess_task
    >>> guess_task(["a", "b"]), guess_task([0, 1, 1]), guess_task([0.5, 1.7, 2.1])
    ('classification', 'classification', 'regression')
    """
    from sklearn.utils.multiclass import type_of_target

    y = pd.Series(np.asarray(y) if not hasattr(y, "to_numpy") else y.to_numpy())
    if not pd.api.types.is_numeric_dtype(y) or pd.api.types.is_bool_dtype(y):
        return "classification"
    kind = type_of_target(y.to_numpy())
    if kind in ("binary", "multiclass") and y.nunique() <= 20:
        return "classification"
    return "regression"


@validate_params(
    {
        "task": [StrOptions({"classification", "regression"})],
        "head": [StrOptions(set(HEADS))],
        "fusion": [str],
        "device": "no_validation",  # the heads' own check
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    },
    prefer_skip_nested_validation=True,
)
def default_head(
    task: str,
    head: str = "linear",
    *,
    fusion: str = "concat",
    device: str = "auto",
    random_state: int | None = 0,
    verbose: bool = True,
):
    """The head of a task by name: what ``make_multimodal_pipeline`` puts after the
    union.

    Parameters
    ----------
    task : {"classification", "regression"}
        The task of the head.
    head : {"linear", "fusion", "late", "ensemble"}, default="linear"
        "linear": ``StandardScaler`` then ``LogisticRegression(class_weight=
        "balanced")`` or ``RidgeCV``; "fusion": :class:`~skmm.FusionClassifier`
        (balanced classes) or :class:`~skmm.FusionRegressor` of type ``fusion``;
        "late": :class:`~skmm.LateFusionClassifier` or
        :class:`~skmm.LateFusionRegressor`; "ensemble":
        :class:`~skmm.EnsembleClassifier` (balanced classes, balanced accuracy)
        or :class:`~skmm.EnsembleRegressor`.
    fusion : str, default="concat"
        The fusion type of ``head="fusion"``.
    device : str, default="auto"
        Torch device of the neural heads and the ensemble.
    random_state : int, RandomState instance or None, default=0
        Seed of the neural heads and the ensemble.
    verbose : bool, default=True
        Progress of the ensemble.

    Returns
    -------
    estimator : estimator
        Unfitted; the heads of :mod:`skmm.fusion` and :mod:`skmm.ensemble` are
        imported only when one is asked for.

    Examples
    --------
    >>> from skmm._pipeline import default_head
    >>> [type(step).__name__ for step in default_head("regression")]
    ['StandardScaler', 'RidgeCV']
    >>> type(default_head("classification", "late")).__name__
    'LateFusionClassifier'
    """
    from sklearn.linear_model import LogisticRegression, RidgeCV
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    classify = task == "classification"
    if head == "linear":
        estimator = (
            LogisticRegression(max_iter=2000, class_weight="balanced")
            if classify
            else RidgeCV(alphas=np.logspace(-3, 3, 13))
        )
        return make_pipeline(StandardScaler(), estimator)
    if head == "fusion":
        from skmm.fusion import FusionClassifier, FusionRegressor

        if classify:
            return FusionClassifier(
                fusion,
                device=device,
                random_state=random_state,
                class_weight="balanced",
            )
        return FusionRegressor(fusion, device=device, random_state=random_state)
    if head == "late":
        from skmm.fusion import LateFusionClassifier, LateFusionRegressor

        return LateFusionClassifier() if classify else LateFusionRegressor()
    from skmm.ensemble import EnsembleClassifier, EnsembleRegressor  # "ensemble"

    shared = {"device": device, "random_state": random_state, "verbose": verbose}
    if classify:
        return EnsembleClassifier(
            class_weight="balanced", scoring="balanced_accuracy", **shared
        )
    return EnsembleRegressor(**shared)


def _without_target(X: Any, y: Any, types: Any, transformers: Sequence) -> Any:
    """``types`` with ``drop`` for a column of ``X`` that holds the target ``y``.

    Such a column would hand the answer to the head as a feature: it is left out
    with a warning naming it, unless ``types`` or a transformer names it.
    """
    import warnings

    import narwhals.stable.v2 as nw

    from skmm._dataframe import column_values
    from skmm.exceptions import SkmmWarning

    frame = nw.from_native(X, eager_only=True, pass_through=True)
    if y is None or not isinstance(frame, nw.DataFrame):
        return types
    target = column_values(y) if hasattr(y, "to_list") or hasattr(y, "tolist") else y
    target = list(target)
    if len(target) != len(frame) or not target:
        return types
    named = {str(c) for c in (types or {})}
    for _, cols in transformers:
        named |= {str(c) for c in ([cols] if isinstance(cols, (str, int)) else cols)}
    head = target[:10]
    found = []
    for label in frame.columns:
        if str(label) in named:
            continue
        column = frame.get_column(label)
        if column.head(10).to_list() == head and column.to_list() == target:
            found.append(str(label))
    if not found:
        return types
    warnings.warn(
        f"make_multimodal_pipeline: column {found[0]!r} of X holds the target y "
        "(the same value in every row); it is left out of the features, where it "
        "would hand the head the answer. Drop it from X, or name its kind in "
        "types= to keep it",
        SkmmWarning,
        stacklevel=3,
    )
    return {**dict(types or {}), **dict.fromkeys(found, "drop")}


@validate_params(
    {
        "X": "no_validation",  # make_multimodal_union's own check
        "y": ["array-like", None],
        "transformers": [list, tuple],
        "head": [StrOptions(set(HEADS)), HasMethods(["fit"])],
        "task": [StrOptions({"auto", "classification", "regression"})],
        "types": [Mapping, None],
        "encoders": [Mapping, None],
        "fusion": [str],
        "preset": [StrOptions(set(PRESETS))],
        "time_limit": [Interval(Real, 0, None, closed="neither"), None],
        "device": "no_validation",  # the heads' own check
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    },
    prefer_skip_nested_validation=True,
)
def make_multimodal_pipeline(
    X: Any,
    y: Any = None,
    *,
    transformers: Sequence[tuple[Any, Any]] = (),
    head: Any = "linear",
    task: str = "auto",
    types: Mapping[str, str] | None = None,
    encoders: Mapping[str, Any] | None = None,
    fusion: str = "concat",
    preset: str = "default",
    time_limit: float | None = None,
    device: str = "auto",
    random_state: int | None = 0,
    verbose: bool = True,
):
    """A pipeline for a table: the detected union and a default head.

    ``make_multimodal_union(X, *transformers, types=..., encoders=...)`` (the
    kind of each column detected, one default block per kind) followed by the
    head, as scikit-learn's ``make_pipeline`` would join them: fit it on
    ``X, y``. This is what ``skmm fit`` builds and saves.

    Parameters
    ----------
    X : pandas or polars DataFrame
        The input columns (without the target): looked at, not fitted on. A
        column holding ``y`` itself is left out with a warning.
    y : array-like, default=None
        The target, to tell classification from regression (``task="auto"``);
        not needed with a ``task`` or an estimator as ``head``.
    transformers : sequence of (transformer, columns), default=()
        Blocks given explicitly; their columns are not detected.
    head : {"linear", "fusion", "late", "ensemble"} or estimator, default="linear"
        "linear": standardised LogisticRegression (balanced classes) or RidgeCV;
        "fusion": FusionClassifier / FusionRegressor of type ``fusion``; "late":
        LateFusionClassifier / LateFusionRegressor; "ensemble":
        EnsembleClassifier / EnsembleRegressor (raw numbers, categories as
        codes its trees split on natively). An estimator is used as it is.
    task : {"auto", "classification", "regression"}, default="auto"
        "auto": classification when ``y`` holds strings, booleans, or integers
        with at most 20 values.
    types : mapping of str to str, default=None
        The kind of some columns (see :func:`~skmm.detect_column_types`).
    encoders : mapping of str to transformer, default=None
        The transformer of the image, text, audio or video block.
    fusion : str, default="concat"
        The fusion type of ``head="fusion"``.
    preset : {"default", "fast", "best"}, default="default"
        ``head="ensemble"`` only: the ensemble's ``preset``. ``"best"`` also adds,
        beside each :class:`~skmm.TextEncoder` and :class:`~skmm.ImageEncoder`
        block ``name``, a block ``name_tuned``: a
        :class:`~skmm.FineTunedEmbeddings` of a copy of that encoder on the same
        columns (its last block fine-tuned on ``y``, 30 principal components per
        column, out of fold in the pipeline's ``fit``), which the ensemble reads
        as one more embedding block. It costs four fine-tuning fits per block:
        minutes on a CPU.
    time_limit : float, default=None
        ``head="ensemble"`` only: seconds the fine-tuned features and the
        ensemble may take (the encoders' frozen vectors are not counted). With
        ``preset="best"``, half goes to the fine-tuned blocks (their
        ``time_limit``, split evenly; a block whose fine-tuning no longer fits
        falls back to the frozen vectors) and half to the ensemble's
        ``time_limit``; otherwise all of it is the ensemble's. None: no limit.
    device : str, default="auto"
        Torch device of the neural heads (and of the fine-tuning).
    random_state : int, default=0
        Seed of the neural heads (and of the fine-tuning).
    verbose : bool, default=True
        Progress of the ensemble.

    Returns
    -------
    pipeline : sklearn.pipeline.Pipeline
        ``[MultimodalUnion, head]``, unfitted.

    Raises
    ------
    ValueError
        When ``preset`` or ``time_limit`` is given with a head other than
        ``"ensemble"``.

    Examples
    --------
    >>> import pandas as pd
    >>> import skmm
    >>> X = pd.DataFrame({"size": list("SMLMSL"), "price": [1.0, 2, 3, 4, 5, 6]})
    >>> y = [0, 1, 1, 1, 0, 1]
    >>> model = skmm.make_multimodal_pipeline(X, y).fit(X, y)
    >>> [name for name, _, _ in model[0].transformers], model.predict(X).shape
    (['numbers', 'categories'], (6,))
    """
    from sklearn.pipeline import make_pipeline

    from skmm.compose import make_multimodal_union

    if head != "ensemble" and (preset != "default" or time_limit is not None):
        given = "preset" if preset != "default" else "time_limit"
        raise ValueError(
            f"make_multimodal_pipeline: {given}= is the ensemble's: pass it with "
            f"head='ensemble', not head={head!r}"
        )
    if isinstance(head, str):
        if task == "auto":
            if y is None:
                raise ValueError(
                    "make_multimodal_pipeline: pass y (or task='classification' / "
                    "'regression') to choose the head's task"
                )
            task = guess_task(y)
        estimator = default_head(
            task,
            head,
            fusion=fusion,
            device=device,
            random_state=random_state,
            verbose=verbose,
        )
        native = head == "ensemble"
    else:
        estimator = head
        native = False
    types = _without_target(X, y, types, transformers)
    union = make_multimodal_union(
        X,
        *transformers,
        types=types,
        encoders=encoders,
        categories="native" if native else "onehot",
    )
    if head == "ensemble":
        ensemble_time = time_limit
        if preset == "best":
            union, tuned = _with_tuned_blocks(
                union, time_limit, device=device, random_state=random_state
            )
            if tuned and time_limit is not None:
                ensemble_time = time_limit * (1 - FEATURES_SHARE)
        estimator.set_params(preset=preset, time_limit=ensemble_time)
    return make_pipeline(union, estimator)


def _with_tuned_blocks(union, time_limit, *, device, random_state):
    """``union`` with a :class:`~skmm.FineTunedEmbeddings` block beside each
    image and text encoder block (``{name}_tuned``), and how many it added."""
    from sklearn.base import clone

    from skmm.encoders import ImageEncoder, TextEncoder
    from skmm.finetune import FineTunedEmbeddings

    blocks = list(union.transformers)
    media = [
        (name, encoder, columns)
        for name, encoder, columns in blocks
        if isinstance(encoder, (ImageEncoder, TextEncoder))
    ]
    share = None
    if time_limit is not None and media:
        share = time_limit * FEATURES_SHARE / len(media)
    names = {name for name, _, _ in blocks}
    for name, encoder, columns in media:
        tuned = f"{name}_tuned"
        while tuned in names:
            tuned += "_"
        names.add(tuned)
        blocks.append(
            (
                tuned,
                FineTunedEmbeddings(
                    clone(encoder),
                    time_limit=share,
                    device=device,
                    random_state=random_state,
                ),
                [columns] if isinstance(columns, (str, int)) else list(columns),
            )
        )
    return union.set_params(transformers=blocks), len(media)
