"""MultimodalUnion: a ColumnTransformer that knows modalities and missing values."""

from __future__ import annotations

import warnings

import numpy as np
from sklearn.compose import ColumnTransformer
from sklearn.pipeline import Pipeline
from sklearn.utils import get_tags
from sklearn.utils._param_validation import StrOptions
from sklearn.utils._set_output import _get_container_adapter
from sklearn.utils.validation import check_is_fitted

from skmm._docs import DocLinkMixin
from skmm.compose._blocks import MISSING_INDICATOR
from skmm.compose._categorical import CategoricalEncoder
from skmm.encoders._base import BaseEncoder
from skmm.exceptions import SkmmWarning

__all__ = ["MultimodalUnion"]

TABULAR = "tabular"
CATEGORICAL = "categorical"


def _encoder_in(transformer) -> BaseEncoder | None:
    """The skmm encoder a transformer is or starts with, if any."""
    if isinstance(transformer, BaseEncoder):
        return transformer
    if isinstance(transformer, Pipeline):
        for _, step in transformer.steps:
            if isinstance(step, BaseEncoder):
                return step
    return None


def _modality_of(transformer) -> str:
    encoder = _encoder_in(transformer)
    if encoder is not None:
        return encoder.modality
    last = transformer.steps[-1][1] if isinstance(transformer, Pipeline) else None
    if isinstance(transformer, CategoricalEncoder) or isinstance(
        last, CategoricalEncoder
    ):
        return CATEGORICAL
    return TABULAR


def _check_no_reserved_name(block: str, names) -> None:
    """Refuse a feature named ``missing``: its output column ``{block}__missing``
    would be read as the block's missing indicator by every head."""
    if any(str(n) == MISSING_INDICATOR for n in names):
        raise ValueError(
            f"MultimodalUnion: block {block!r} has a feature named "
            f"{MISSING_INDICATOR!r}, whose output column would be "
            f"'{block}__{MISSING_INDICATOR}': the name of the block's missing "
            "indicator, which the fusion heads and the inspection tools would read "
            "as 'this row has no such data' and drop as a feature. Rename the "
            f"column, e.g. X.rename(columns={{{MISSING_INDICATOR!r}: "
            f"'{MISSING_INDICATOR}_'}})."
        )


def _is_single_column(column) -> bool:
    return isinstance(column, (str, int, np.integer)) and not isinstance(column, bool)


class MultimodalUnion(DocLinkMixin, ColumnTransformer):
    """Join per-modality encoders into one matrix whose columns carry their modality.

    The ColumnTransformer API (``(name, transformer, columns)`` triples, ``remainder``,
    ``n_jobs``, ``set_output``, ``output_indices_``, ``named_transformers_``) with
    three additions:

    - the name of each triple is its **modality block**: output columns are named
      ``{name}__{feature}`` (``image__0000``, ``text__0383``, ``tab__price``), so a
      downstream head can find the blocks, and ``modalities_`` gives each block's
      kind (``"image"``, ``"text"``, ``"tabular"``, or ``"categorical"`` for a
      :class:`~skmm.CategoricalEncoder` block, whose columns stay typed as
      categorical in pandas and polars output);
    - a **missing** value in an encoder's column (None, NaN) is never an error and
      never filled from another row: ``missing="indicator"`` writes zeros in that
      row of the block and sets the block's extra ``{name}__missing`` column to 1
      (works with every estimator); ``missing="nan"`` leaves the row as NaN (for
      HistGradientBoosting and the fusion heads);
    - a single column may be named as ``"col"`` or ``["col"]``: both hand the
      transformer a one-column 2-D input.

    Parameters
    ----------
    transformers : list of (str, transformer, columns) tuples
        As in :class:`~sklearn.compose.ColumnTransformer`; the name is the modality
        block's name. Transformers are skmm encoders (``ImageEncoder``,
        ``TextEncoder``) or any scikit-learn transformer, "passthrough" or "drop".
    remainder : {"drop", "passthrough"} or transformer, default="drop"
        What happens to the columns no transformer names (a ``tabular`` block).
    missing : {"indicator", "nan"}, default="indicator"
        How a missing value of an encoder's column appears in the output.
    sparse_threshold : float, default=0.3
        As in ColumnTransformer.
    n_jobs : int, default=None
        Transformers fitted in parallel. Encoders are best left at ``None``: they
        share one loaded model per process.
    transformer_weights : dict, default=None
        Multiplicative weights per block.
    verbose : bool, default=False
        Print the time each transformer takes to fit.

    Attributes
    ----------
    transformers_ : list
        The fitted transformers, as ``(name, fitted_transformer, columns)``.
    named_transformers_ : Bunch
        The fitted transformers by name.
    output_indices_ : dict
        Name to the slice of output columns of its block (the ``missing`` column
        included).
    modalities_ : dict
        Name to the block's kind: the encoder's modality, ``"categorical"`` (a
        :class:`~skmm.CategoricalEncoder`, alone or ending a Pipeline) or
        ``"tabular"``.
    n_features_in_ : int
        Number of input columns.
    feature_names_in_ : ndarray of str
        Input column names, when ``X`` had them.

    See Also
    --------
    make_multimodal_union : Build a union with names derived from the transformers.

    Examples
    --------
    >>> import pandas as pd
    >>> from sklearn.preprocessing import StandardScaler
    >>> from skmm import MultimodalUnion, TextEncoder
    >>> X = pd.DataFrame({"review": ["nice", None], "price": [10.0, 30.0]})
    >>> union = MultimodalUnion(
    ...     [("text", TextEncoder(device="cpu"), "review"),
    ...      ("tab", StandardScaler(), ["price"])]
    ... )
    >>> Xt = union.fit_transform(X)
    >>> Xt.shape
    (2, 386)
    >>> union.get_feature_names_out()[[0, 383, 384, 385]].tolist()
    ['text__0000', 'text__0383', 'text__missing', 'tab__price']
    >>> Xt[:, 384].tolist()  # text__missing
    [0.0, 1.0]
    >>> union.modalities_
    {'text': 'text', 'tab': 'tabular'}
    """

    _parameter_constraints: dict = {
        **ColumnTransformer._parameter_constraints,
        "missing": [StrOptions({"indicator", "nan"})],
    }
    _parameter_constraints.pop("verbose_feature_names_out")
    _parameter_constraints.pop("force_int_remainder_cols", None)

    # The "{modality}__{feature}" names are the contract heads rely on.
    verbose_feature_names_out = True
    # scikit-learn < 1.9 reads this parameter (removed in 1.9): the remainder's
    # columns are kept as given, as newer releases always do.
    force_int_remainder_cols = False

    def __init__(
        self,
        transformers,
        *,
        remainder="drop",
        missing="indicator",
        sparse_threshold=0.3,
        n_jobs=None,
        transformer_weights=None,
        verbose=False,
    ):
        self.transformers = transformers
        self.remainder = remainder
        self.missing = missing
        self.sparse_threshold = sparse_threshold
        self.n_jobs = n_jobs
        self.transformer_weights = transformer_weights
        self.verbose = verbose

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        try:
            estimators = [
                trans
                for trans in [*(t for _, t, _ in self.transformers), self.remainder]
                if not isinstance(trans, str)
            ]
        except (TypeError, ValueError):  # malformed; fit's validation says why
            return tags
        # Missing values are part of the data model: NaN passes when every
        # transformer takes it (skmm encoders do).
        tags.input_tags.allow_nan = all(
            get_tags(trans).input_tags.allow_nan for trans in estimators
        )
        tags.input_tags.string = any(
            get_tags(trans).input_tags.string for trans in estimators
        )
        return tags

    @property
    def modalities_(self) -> dict[str, str]:
        """Name of each output block to its kind ("image", "text", "tabular", ...)."""
        check_is_fitted(self)
        return {name: _modality_of(trans) for name, trans in self._output_blocks()}

    def _output_blocks(self) -> list[tuple[str, object]]:
        """(name, fitted transformer) of each block, in output order."""
        return [
            (name, trans)
            for name, trans, *_ in self._iter(
                fitted=True,
                column_as_labels=False,
                skip_drop=True,
                skip_empty_columns=True,
            )
        ]

    def _indicates(self, transformer) -> bool:
        """Whether the block of ``transformer`` gets a ``missing`` column."""
        return self.missing == "indicator" and _encoder_in(transformer) is not None

    def fit_transform(self, X, y=None, **params):
        """Fit every transformer and join their outputs, as ColumnTransformer does.

        A block, or a column of a tabular block, that is missing in every
        training row gets a ``SkmmWarning`` naming it (no head can learn from it).

        Parameters
        ----------
        X : DataFrame or array-like
            The input columns.
        y : array-like, default=None
            The target, passed to the transformers.
        **params : dict
            Fit parameters, routed as ColumnTransformer routes them.

        Returns
        -------
        X_out : ndarray, sparse matrix or DataFrame
            The joined blocks.
        """
        out = super().fit_transform(X, y, **params)
        self._warn_empty_blocks(out)
        return out

    def _warn_empty_blocks(self, out) -> None:
        if hasattr(out, "toarray") or not hasattr(self, "output_indices_"):
            return  # sparse output: no NaN from skmm's encoders to look for
        values = out.to_numpy() if hasattr(out, "to_numpy") else np.asarray(out)
        try:
            values = np.asarray(values, dtype=np.float64)
        except (TypeError, ValueError):  # categorical codes in a polars frame
            return
        for name, trans in self._output_blocks():
            block = values[:, self.output_indices_[name]]
            if block.shape[1] == 0 or len(block) == 0:
                continue
            if self._indicates(trans):
                absent = block[:, -1] == 1
            else:
                absent = np.isnan(block).all(axis=1)
            if absent.all():
                warnings.warn(
                    f"MultimodalUnion: block {name!r} is missing in every row of the "
                    "training data (all values None/NaN): no head can learn from it; "
                    "check its columns or leave the block out",
                    SkmmWarning,
                    stacklevel=3,
                )
                continue
            empty = np.isnan(block).all(axis=0)
            if empty.any() and not self._indicates(trans):
                try:
                    names = self.get_feature_names_out()
                    columns = names[self.output_indices_[name]][empty]
                except (AttributeError, ValueError):  # no names; transform says why
                    start = self.output_indices_[name].start
                    columns = [
                        f"output column {start + j}" for j in np.flatnonzero(empty)
                    ]
                warnings.warn(
                    f"MultimodalUnion: column {str(columns[0])!r} of block {name!r} "
                    f"is NaN in every row of the training data"
                    + (f" ({len(columns)} such columns)" if len(columns) > 1 else "")
                    + ": no head can learn from it",
                    SkmmWarning,
                    stacklevel=3,
                )

    # -- the four places where ColumnTransformer is extended --------------------
    def _validate_column_callables(self, X):
        super()._validate_column_callables(X)
        # "col" and ["col"] mean the same: a one-column 2-D input.
        self._columns = [[c] if _is_single_column(c) else c for c in self._columns]

    def _record_output_indices(self, Xs):
        widths = [
            X.shape[1] + self._indicates(trans)
            for X, (_, trans) in zip(Xs, self._output_blocks(), strict=True)
        ]
        super()._record_output_indices([np.empty((0, w)) for w in widths])

    def _get_feature_name_out_for_transformer(self, name, trans, feature_names_in):
        try:
            names = super()._get_feature_name_out_for_transformer(
                name, trans, feature_names_in
            )
        except ValueError:
            # A frame whose column labels are not strings has no feature names:
            # the steps of a block's pipeline named its columns x0, x1... within
            # the block, not by their positions in X.
            if hasattr(self, "feature_names_in_") or not hasattr(
                trans, "get_feature_names_out"
            ):
                raise
            names = trans.get_feature_names_out()
        if names is None:
            return names
        _check_no_reserved_name(name, names)
        if self._indicates(trans):
            names = np.append(np.asarray(names, dtype=object), MISSING_INDICATOR)
        return names

    def _hstack(self, Xs, *, n_samples):
        blocks = self._output_blocks()
        for X, (name, _) in zip(Xs, blocks, strict=True):
            # scikit-learn < 1.7 names a dataframe output from the blocks' columns
            # without get_feature_names_out.
            if hasattr(X, "columns"):
                _check_no_reserved_name(name, X.columns)
        Xs = [
            self._with_indicator(X) if self._indicates(trans) else X
            for X, (_, trans) in zip(Xs, blocks, strict=True)
        ]
        return super()._hstack(Xs, n_samples=n_samples)

    def _with_indicator(self, X):
        """Zero the missing rows of an encoder's block and append its indicator."""
        values = np.array(X.to_numpy() if hasattr(X, "to_numpy") else X, copy=True)
        missing = np.isnan(values).all(axis=1)
        values[missing] = 0.0
        values = np.hstack([values, missing[:, None].astype(values.dtype)])
        adapter = _get_container_adapter("transform", self)
        if adapter is not None and adapter.is_supported_container(X):
            columns = [*map(str, X.columns), MISSING_INDICATOR]
            return adapter.create_container(values, X, columns=columns, inplace=False)
        return values
