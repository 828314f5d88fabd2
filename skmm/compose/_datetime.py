"""Dates and numbers stored as strings, turned into numeric features.

The two tabular transformers of the automatic column types
(:mod:`skmm.compose._detect`): :class:`DatetimeFeatures` expands each date column
into numbers (days since 1970, and the calendar parts that vary), and
:func:`to_float` reads numbers stored as strings (``"12,345.67"`` too). A value
that cannot be read becomes NaN (missing), never an error, as a missing value
would; a number that is not one is named in a warning.
"""

from __future__ import annotations

import re
import warnings
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from skmm._dataframe import column_names, row_labels, to_numpy
from skmm.exceptions import UnreadableValuesWarning

__all__ = ["DatetimeFeatures", "parse_datetimes", "parse_numbers", "to_float"]

#: The calendar parts, in output order, and how to read them.
_PARTS = ("year", "month", "day", "weekday", "hour", "minute", "second")


def parse_datetimes(values: Any) -> pd.Series:
    """Values (datetimes, dates, or strings) as naive UTC timestamps; NaT if unreadable.

    Examples
    --------
    >>> from skmm.compose._datetime import parse_datetimes
    >>> parse_datetimes(["2024-01-31", None, "not a date"]).dt.day.tolist()
    [31.0, nan, nan]
    """
    series = pd.Series(list(values), dtype=object)
    parsed = pd.to_datetime(series, errors="coerce", utc=True, format="mixed")
    return parsed.dt.tz_convert(None)


def _columns(X: Any) -> tuple[list[str], np.ndarray]:
    names = column_names(X)
    values = to_numpy(X)
    if values.ndim == 1:
        values = values[:, None]
    if names is None:
        names = [f"x{j}" for j in range(values.shape[1])]
    return names, values


# "12,345.67", "-1,000": groups of three digits after the first, comma-separated.
_THOUSANDS = re.compile(r"^\s*[+-]?\d{1,3}(,\d{3})+(\.\d*)?\s*$")
_MAX_LISTED = 5


def parse_numbers(values: Any) -> pd.Series:
    """Values as float64: numbers, numbers stored as strings (thousands separated
    by commas included, ``"12,345.67"``); NaN for anything else.

    Examples
    --------
    >>> from skmm.compose._datetime import parse_numbers
    >>> parse_numbers(["12,345.67", "1e3", None, "abc"]).tolist()
    [12345.67, 1000.0, nan, nan]
    """
    series = pd.Series(list(values), dtype=object)
    text = series.map(lambda v: isinstance(v, str) and bool(_THOUSANDS.match(v)))
    if text.any():
        series = series.copy()
        series[text] = series[text].str.replace(",", "", regex=False)
    return pd.to_numeric(series, errors="coerce").astype(float)


def _unreadable(name: str, column: np.ndarray, parsed: pd.Series, labels) -> list:
    """Where a present value of a column did not read as a number."""
    bad = parsed.isna().to_numpy() & ~pd.isna(pd.Series(column, dtype=object))
    bad &= ~pd.Series(column, dtype=object).map(
        lambda v: isinstance(v, str) and not v.strip()
    ).to_numpy(dtype=bool)
    found = []
    for row in np.flatnonzero(bad):
        where = f"column {name!r}, row {row}"
        if labels is not None and labels[row] != row:
            where += f" (index {labels[row]!r})"
        found.append(f"{where}: {column[row]!r}")
    return found


def to_float(X: Any) -> np.ndarray:
    """The columns of ``X`` as float64; a value that is not a number becomes NaN.

    For numbers stored as strings (``"12.5"``, ``"12,345.67"``); used in a
    ``FunctionTransformer``. A present value that is not a number (``"abc"``) is
    read as missing with an :class:`~skmm.exceptions.UnreadableValuesWarning`
    naming its column, row (and index label) and value.

    Examples
    --------
    >>> import pandas as pd
    >>> from skmm.compose._datetime import to_float
    >>> to_float(pd.DataFrame({"a": ["1.5", None, "1,200"]})).ravel().tolist()
    [1.5, nan, 1200.0]
    """
    names, values = _columns(X)
    labels = row_labels(X)
    out = np.empty(values.shape, dtype=np.float64)
    failures: list[str] = []
    for j in range(values.shape[1]):
        column = values[:, j]
        if column.dtype.kind in "fiub":
            out[:, j] = column.astype(float)
            continue
        parsed = parse_numbers(column)
        failures += _unreadable(names[j], column, parsed, labels)
        out[:, j] = parsed.to_numpy()
    if failures:
        listed = "\n  ".join(failures[:_MAX_LISTED])
        more = len(failures) - _MAX_LISTED
        warnings.warn(
            f"{len(failures)} value(s) of numeric columns are not numbers and were "
            f"read as missing:\n  {listed}"
            + (f"\n  ... and {more} more" if more > 0 else ""),
            UnreadableValuesWarning,
            stacklevel=2,
        )
    return out


class DatetimeFeatures(TransformerMixin, BaseEstimator):
    """Expand date columns into numeric features.

    Each column gives ``{column}_days`` (days since 1970-01-01, with the time of
    day as a fraction) and each calendar part (``year``, ``month``, ``day``,
    ``weekday``, ``hour``, ``minute``, ``second``) that takes more than one value
    in ``fit``. Strings are parsed (ISO 8601 and the other forms pandas reads);
    time zones are converted to UTC. A missing or unreadable value gives NaN.

    Attributes
    ----------
    parts_ : dict of str to list of str
        The calendar parts kept for each column.
    feature_names_in_ : ndarray of str
        The input columns.
    n_features_in_ : int

    Examples
    --------
    >>> import pandas as pd
    >>> from skmm.compose._datetime import DatetimeFeatures
    >>> X = pd.DataFrame({"sold": ["2024-01-31", "2024-03-01", None]})
    >>> dates = DatetimeFeatures().fit(X)
    >>> dates.get_feature_names_out().tolist()
    ['sold_days', 'sold_month', 'sold_day', 'sold_weekday']
    >>> dates.transform(X)[0].tolist()
    [19753.0, 1.0, 31.0, 2.0]
    """

    def fit(self, X, y=None):
        """Find the calendar parts that vary in each column."""
        names, values = _columns(X)
        self.feature_names_in_ = np.asarray(names, dtype=object)
        self.n_features_in_ = len(names)
        self.parts_ = {}
        for j, name in enumerate(names):
            parsed = parse_datetimes(values[:, j])
            self.parts_[name] = [
                part
                for part in _PARTS
                if getattr(parsed.dt, part if part != "weekday" else "day_of_week")
                .dropna()
                .nunique()
                > 1
            ]
        return self

    def transform(self, X):
        """The numeric features, NaN where a date is missing or unreadable."""
        check_is_fitted(self)
        names, values = _columns(X)
        if len(names) != self.n_features_in_:
            raise ValueError(
                f"X has {len(names)} columns, but DatetimeFeatures was fitted with "
                f"{self.n_features_in_}"
            )
        out = []
        for j, name in enumerate(self.feature_names_in_):
            parsed = parse_datetimes(values[:, j])
            epoch = (parsed - pd.Timestamp(0)) / pd.Timedelta(days=1)
            out.append(epoch.to_numpy(dtype=float, na_value=np.nan))
            for part in self.parts_[name]:
                field = getattr(parsed.dt, part if part != "weekday" else "day_of_week")
                out.append(field.to_numpy(dtype=float, na_value=np.nan))
        return np.column_stack(out) if out else np.empty((len(values), 0))

    def get_feature_names_out(self, input_features=None):
        """``{column}_days`` and ``{column}_{part}`` for each kept part."""
        check_is_fitted(self)
        return np.asarray(
            [
                f"{name}_{part}"
                for name in self.feature_names_in_
                for part in ("days", *self.parts_[name])
            ],
            dtype=object,
        )

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        tags.input_tags.string = True
        return tags
