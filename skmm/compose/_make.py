"""Building the union: from ``(transformer, columns)`` pairs, or from a table.

:func:`make_multimodal_union` names each block after its modality, or, given a
DataFrame, detects the kind of each column (:mod:`skmm.compose._detect`) and
:func:`build_union` joins one default block per kind into a
:class:`~skmm.MultimodalUnion` (:mod:`skmm.compose._union`). The two modules it
joins do not import each other.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

from sklearn.base import clone
from sklearn.utils._param_validation import StrOptions, validate_params

from skmm._dataframe import is_dataframe
from skmm.compose._detect import (
    _MEDIA,
    BLOCK_NAMES,
    ColumnTypes,
    default_encoder,
    detect_column_types,
    tabular_block,
)
from skmm.compose._union import MultimodalUnion, _is_single_column, _modality_of

__all__ = ["build_union", "make_multimodal_union"]


@validate_params(
    {
        "transformers": "no_validation",  # a frame, or (transformer, columns)
        "remainder": "no_validation",  # MultimodalUnion's own
        "missing": "no_validation",  # MultimodalUnion's own
        "sparse_threshold": "no_validation",  # MultimodalUnion's own
        "n_jobs": "no_validation",  # MultimodalUnion's own
        "verbose": "no_validation",  # MultimodalUnion's own
        "types": [Mapping, None],
        "encoders": [Mapping, None],
        "categories": [StrOptions({"onehot", "native"})],
    },
    prefer_skip_nested_validation=True,
)
def make_multimodal_union(
    *transformers,
    remainder="drop",
    missing="indicator",
    sparse_threshold=0.3,
    n_jobs=None,
    verbose=False,
    types=None,
    encoders=None,
    categories="onehot",
) -> MultimodalUnion:
    """Build a :class:`MultimodalUnion` from ``(transformer, columns)`` pairs, or
    from a DataFrame whose column types are detected.

    Each block is named after its modality: an encoder's ``modality`` ("image",
    "text") or "tabular" for any other transformer; repeated names get ``-1``,
    ``-2``... suffixes.

    Given a DataFrame first, ``make_multimodal_union(X)`` detects the kind of
    each column (:func:`~skmm.detect_column_types`: images, audio and video by
    decoding a sample, free text, categories, numbers, dates, columns to drop)
    and builds one block per kind with its default transformer: ``image``,
    ``text``, ``audio``, ``video`` (the modality's encoder with its defaults, or
    ``encoders[kind]``), ``numbers`` (imputed, standardised), ``dates``
    (expanded into numbers) and ``categories`` (one-hot). ``(transformer,
    columns)`` pairs after ``X`` take their columns out of the detection;
    ``types=`` sets the kind of some columns. The union writes pandas output, in
    which the heads find the blocks. A frame is never a ``(transformer,
    columns)`` pair, so the two forms cannot be mistaken for each other.

    Parameters
    ----------
    *transformers : tuples of (transformer, columns), optionally after a DataFrame
        The transformers and the columns each one takes.
    remainder, missing, sparse_threshold, n_jobs, verbose
        As in :class:`MultimodalUnion` (``remainder`` and ``sparse_threshold``
        are not used with a DataFrame: undetected columns are dropped).
    types : mapping of str to str or ColumnTypes, default=None
        With a DataFrame: the kind of some columns ("image", "text", "audio",
        "video", "categorical", "numeric", "datetime", "drop"), or the whole
        result of :func:`~skmm.detect_column_types` (called with its own
        ``sample_size``, ``max_file_size`` or ``base`` for relative paths).
    encoders : mapping of str to transformer, default=None
        With a DataFrame: the transformer (cloned) of the image, text, audio or
        video block instead of the encoder's defaults.
    categories : {"onehot", "native"}, default="onehot"
        With a DataFrame: one-hot columns (for every head), or raw numbers and a
        :class:`~skmm.CategoricalEncoder` block whose codes typed as categorical
        the ensemble's trees split on natively.

    Returns
    -------
    union : MultimodalUnion

    Examples
    --------
    >>> from sklearn.preprocessing import OneHotEncoder
    >>> from skmm import ImageEncoder, TextEncoder, make_multimodal_union
    >>> union = make_multimodal_union(
    ...     (ImageEncoder(), "photo"),
    ...     (TextEncoder(), "title"),
    ...     (TextEncoder(), "description"),
    ...     (OneHotEncoder(), ["colour"]),
    ... )
    >>> [name for name, _, _ in union.transformers]
    ['image', 'text-1', 'text-2', 'tabular']

    Detected from a DataFrame (``print(skmm.detect_column_types(X))`` shows why):

    >>> import pandas as pd
    >>> X = pd.DataFrame({"size": ["S", "M", "L", "M"], "price": [1.0, 2.0, 3.0, 4.0]})
    >>> union = make_multimodal_union(X)
    >>> [(name, columns) for name, _, columns in union.transformers]
    [('numbers', ['price']), ('categories', ['size'])]
    """
    if transformers and is_dataframe(transformers[0]):
        X, pairs = transformers[0], transformers[1:]
        taken = {
            str(c)
            for _, cols in pairs
            for c in ([cols] if _is_single_column(cols) else cols)
        }
        given = {**dict(types or {}), **dict.fromkeys(taken, "drop")}
        detected = detect_column_types(X, types=given)
        reasons = {
            **detected.reasons,
            **getattr(types, "reasons", {}),
            **dict.fromkeys(taken, "has its own transformer"),
        }
        detected = ColumnTypes(detected.types, reasons)
        labels = list(X.columns)
        # Integer (or other non-str) column labels: ColumnTransformer reads an
        # int as a position, so every column is selected by its position.
        selectors = (
            None
            if all(isinstance(c, str) for c in labels)
            else {str(c): j for j, c in enumerate(labels)}
        )
        return build_union(
            detected,
            pairs,
            encoders=encoders,
            categories=categories,
            missing=missing,
            n_jobs=n_jobs,
            verbose=verbose,
            selectors=selectors,
        )
    if types is not None or encoders is not None or categories != "onehot":
        raise TypeError(
            "make_multimodal_union: types=, encoders= and categories= need a "
            "DataFrame as the first argument, whose column types are detected"
        )
    base = [_modality_of(trans) for trans, _ in transformers]
    counts = Counter(base)
    seen: Counter = Counter()
    names = []
    for name in base:
        if counts[name] > 1:
            seen[name] += 1
            name = f"{name}-{seen[name]}"
        names.append(name)
    return MultimodalUnion(
        [
            (name, trans, cols)
            for name, (trans, cols) in zip(names, transformers, strict=True)
        ],
        remainder=remainder,
        missing=missing,
        sparse_threshold=sparse_threshold,
        n_jobs=n_jobs,
        verbose=verbose,
    )


def build_union(
    types: ColumnTypes,
    transformers: Sequence[tuple[Any, Any]] = (),
    *,
    encoders: Mapping[str, Any] | None = None,
    categories: str = "onehot",
    missing: str = "indicator",
    n_jobs: int | None = None,
    verbose: bool = False,
    selectors: Mapping[str, Any] | None = None,
):
    """The :class:`~skmm.MultimodalUnion` of the detected kinds.

    One block per kind (all its columns): ``image``, ``text``, ``audio``,
    ``video`` (the kind's encoder: ``encoders[kind]`` or its defaults), then
    ``numbers`` (median-imputed and standardised; raw with
    ``categories="native"``), ``dates`` (:class:`DatetimeFeatures`, then as the
    numbers) and ``categories`` (one-hot, or a
    :class:`~skmm.CategoricalEncoder` with ``categories="native"``); the user's
    ``(transformer, columns)`` pairs come first, named after their modality.
    Repeated names get ``-1``, ``-2``... suffixes.

    Parameters
    ----------
    types : ColumnTypes
        The kind of each column (:func:`~skmm.detect_column_types`); columns of
        kind "drop" get no block.
    transformers : sequence of (transformer, columns), default=()
        The user's blocks, before the detected ones.
    encoders : mapping of str to transformer, default=None
        The transformer (cloned) of the image, text, audio or video block.
    categories : {"onehot", "native"}, default="onehot"
        The tabular blocks: for every head, or raw for the ensemble's trees.
    missing, n_jobs, verbose
        As in :class:`~skmm.MultimodalUnion`.
    selectors : mapping of str to column selector, default=None
        What the union selects a column by, keyed by its name as str (the key
        of ``types``): its position when the frame's column labels are not all
        strings. None: the name.

    Returns
    -------
    union : MultimodalUnion
        Unfitted, with pandas output (the heads find the blocks in the column
        names).

    Raises
    ------
    ValueError
        When every column is dropped, or ``encoders`` names another kind.

    Examples
    --------
    >>> import pandas as pd
    >>> from skmm.compose import detect_column_types
    >>> from skmm.compose._make import build_union
    >>> X = pd.DataFrame({"size": list("SMLM"), "price": [1.0, 2.0, 3.0, 4.0]})
    >>> union = build_union(detect_column_types(X), categories="native")
    >>> [(name, type(block).__name__) for name, block, _ in union.transformers]
    [('numbers', 'FunctionTransformer'), ('categories', 'CategoricalEncoder')]
    """
    encoders = dict(encoders or {})
    for kind in encoders:
        if kind not in _MEDIA + ("text",):
            raise ValueError(
                f"encoders= has the kind {kind!r}; it takes image, text, audio, video"
            )
    native = categories == "native"
    selectors = dict(selectors or {})

    def columns_of(kind: str) -> list:
        return [selectors.get(c, c) for c in types.columns(kind)]

    blocks = [(_modality_of(t), t, cols) for t, cols in transformers]
    for kind in ("image", "text", "audio", "video"):
        columns = columns_of(kind)
        if columns:
            encoder = encoders.get(kind)
            encoder = default_encoder(kind) if encoder is None else clone(encoder)
            blocks.append((BLOCK_NAMES[kind], encoder, columns))
    for kind in ("numeric", "datetime", "categorical"):
        columns = columns_of(kind)
        if columns:
            blocks.append((BLOCK_NAMES[kind], tabular_block(kind, native), columns))
    if not blocks:
        why = "; ".join(f"{c}: {types.reasons.get(c, k)}" for c, k in types.items())
        raise ValueError(f"no column to use: every column was dropped ({why})")
    names = [name for name, _, _ in blocks]
    seen: dict[str, int] = {}
    unique = []
    for name in names:
        if names.count(name) > 1:
            seen[name] = seen.get(name, 0) + 1
            name = f"{name}-{seen[name]}"
        unique.append(name)
    union = MultimodalUnion(
        [(n, t, c) for n, (_, t, c) in zip(unique, blocks, strict=True)],
        missing=missing,
        n_jobs=n_jobs,
        verbose=verbose,
    )
    # Pandas output: the heads find the blocks in the column names.
    return union.set_output(transform="pandas")
