"""Categorical columns that a head can recognise as categorical.

A :class:`CategoricalEncoder` block hands its columns to the head as integer codes
*typed* as categorical (a pandas ``category`` column, a polars ``Enum``), so that a
head can treat them natively: a gradient-boosted tree splits on categories, a linear
model gets them one-hot encoded. :func:`categorical_columns` finds such columns in a
DataFrame and :func:`category_codes` turns them into float codes with NaN for
missing, the form in which the heads compute.
"""

from __future__ import annotations

from numbers import Integral, Real
from typing import Any

import numpy as np
from sklearn.base import (
    BaseEstimator,
    OneToOneFeatureMixin,
    TransformerMixin,
    _fit_context,
)
from sklearn.preprocessing import OrdinalEncoder
from sklearn.utils._param_validation import Interval
from sklearn.utils._set_output import _get_output_config
from sklearn.utils.validation import check_is_fitted

from skmm._dataframe import categorical_columns, category_codes
from skmm._docs import DocLinkMixin

__all__ = ["CategoricalEncoder", "categorical_columns", "category_codes"]


class CategoricalEncoder(
    DocLinkMixin, OneToOneFeatureMixin, TransformerMixin, BaseEstimator
):
    """Encode categories as integer codes typed as categorical.

    An :class:`~sklearn.preprocessing.OrdinalEncoder` whose output says it is
    categorical: with ``set_output(transform="pandas")`` each column is a pandas
    ``category`` column whose categories are the codes ``0 .. k-1`` (a polars
    ``Enum`` with ``set_output(transform="polars")``). Inside a
    :class:`~skmm.MultimodalUnion` the block's kind is ``"categorical"``, and
    :class:`~skmm.EnsembleClassifier` / :class:`~skmm.EnsembleRegressor` find the
    columns by their type: gradient-boosted trees split on the categories
    natively, linear and neural candidates get them one-hot encoded. Other
    estimators read the codes as numbers, as they would an ``OrdinalEncoder``'s.

    A missing value (None, NaN) and a category not seen in fit become a missing
    code (NaN); nothing is filled from another row.

    Parameters
    ----------
    min_frequency : int or float, default=None
        Categories seen fewer times (an int) or in a smaller share of the rows (a
        float) share one code, as in ``OrdinalEncoder``.
    max_categories : int, default=None
        At most this many codes per column, the rarest categories sharing one.
        HistGradientBoosting takes at most 255 categories natively (wider
        columns reach it as numbers); the ensemble's LightGBM and CatBoost
        trees take any number.

    Attributes
    ----------
    categories_ : list of ndarray
        The categories of each column, in code order (before grouping rare ones).
    n_codes_ : list of int
        The number of codes of each column.
    n_features_in_ : int
        Number of input columns.
    feature_names_in_ : ndarray of str
        Input column names, when ``X`` had them.

    See Also
    --------
    sklearn.preprocessing.OrdinalEncoder : The same codes, typed as numbers.
    sklearn.preprocessing.OneHotEncoder : One column per category.

    Examples
    --------
    >>> import pandas as pd
    >>> from skmm import CategoricalEncoder
    >>> X = pd.DataFrame({"colour": ["red", "blue", None, "red"]})
    >>> enc = CategoricalEncoder().set_output(transform="pandas").fit(X)
    >>> Xt = enc.transform(pd.DataFrame({"colour": ["red", "green"]}))
    >>> Xt["colour"].tolist()  # "green" was not seen in fit: missing
    [1, nan]
    >>> str(Xt["colour"].dtype), enc.n_codes_
    ('category', [2])
    """

    _parameter_constraints: dict = {
        "min_frequency": [
            Interval(Integral, 1, None, closed="left"),
            Interval(Real, 0, 1, closed="neither"),
            None,
        ],
        "max_categories": [Interval(Integral, 1, None, closed="left"), None],
    }

    def __init__(self, *, min_frequency=None, max_categories=None):
        self.min_frequency = min_frequency
        self.max_categories = max_categories

    # The parameters are the inner OrdinalEncoder's, checked here.
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Learn the categories of each column.

        Parameters
        ----------
        X : array-like or DataFrame of shape (n_samples, n_features)
            Category values (strings, numbers); None and NaN are missing.
        y : None
            Ignored.

        Returns
        -------
        self : object
        """
        self._encoder = OrdinalEncoder(
            handle_unknown="use_encoded_value",
            unknown_value=np.nan,
            encoded_missing_value=np.nan,
            min_frequency=self.min_frequency,
            max_categories=self.max_categories,
        ).fit(X)
        for attr in ("n_features_in_", "feature_names_in_"):
            if hasattr(self._encoder, attr):
                setattr(self, attr, getattr(self._encoder, attr))
            elif hasattr(self, attr):
                delattr(self, attr)
        self.categories_ = self._encoder.categories_
        self.n_codes_ = [
            len(cats)
            - int(_has_missing(cats))
            - (0 if infrequent is None else len(infrequent) - 1)
            for cats, infrequent in zip(
                self.categories_, self._infrequent(), strict=True
            )
        ]
        return self

    def _infrequent(self) -> list[Any]:
        found = getattr(self._encoder, "infrequent_categories_", None)
        return list(found) if found is not None else [None] * len(self.categories_)

    def transform(self, X):
        """Codes of ``X``'s categories, typed as categorical.

        Parameters
        ----------
        X : array-like or DataFrame of shape (n_samples, n_features)

        Returns
        -------
        X_out : ndarray of float (codes, NaN for missing or unseen) or, with
            ``set_output``, a DataFrame of categorical columns
        """
        check_is_fitted(self, "categories_")
        codes = self._encoder.transform(X)
        container = _get_output_config("transform", self)["dense"]
        names = self.get_feature_names_out()
        if container == "pandas":
            import pandas as pd

            index = getattr(X, "index", None)
            return pd.DataFrame(
                {
                    name: pd.Categorical(col, categories=np.arange(n))
                    for name, col, n in zip(names, codes.T, self.n_codes_, strict=True)
                },
                index=index if isinstance(X, pd.DataFrame) else None,
            )
        if container == "polars":
            import polars as pl

            return pl.DataFrame(
                {
                    name: pl.Series(
                        [None if np.isnan(v) else str(int(v)) for v in col],
                        dtype=pl.Enum([str(i) for i in range(n)]),
                    )
                    for name, col, n in zip(names, codes.T, self.n_codes_, strict=True)
                }
            )
        return codes

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        tags.input_tags.string = True
        tags.input_tags.categorical = True
        return tags


def _has_missing(categories: np.ndarray) -> bool:
    """Whether OrdinalEncoder listed the missing value among the categories."""
    if not len(categories):
        return False
    last = categories[-1]
    return last is None or (isinstance(last, float) and np.isnan(last))
