"""The Women's E-Commerce Clothing Reviews (text + tabular, CC0), shipped with skmm."""

from __future__ import annotations

from importlib import resources

import pandas as pd
from sklearn.utils import Bunch

__all__ = ["load_womens_reviews"]

_FILE = "womens_clothing_reviews.csv.gz"
_TARGETS = ("Recommended IND", "Rating")
_FEATURES = [
    "Title",
    "Review Text",
    "Age",
    "Positive Feedback Count",
    "Division Name",
    "Department Name",
    "Class Name",
    "Clothing ID",
]
_DESCR = """Women's E-Commerce Clothing Reviews (CC0)
23,486 reviews; text: Title (3,810 missing), Review Text (845 missing); numbers: Age,
Positive Feedback Count; categories: Division Name, Department Name, Class Name (14
missing each), Clothing ID. Targets: Recommended IND (0/1: 4,172 / 19,314) and Rating
(1-5). The two targets are strongly related: never use one as an input for the other,
so the one not asked for is left out of ``data``.
Source and licence: skmm/datasets/data/README.md."""


def load_womens_reviews(
    *, target: str = "Recommended IND", return_X_y: bool = False
) -> Bunch | tuple[pd.DataFrame, pd.Series]:
    """Load the Women's E-Commerce Clothing Reviews (text + tabular).

    The data ships inside skmm (2.8 MB, CC0), so this works offline.

    Parameters
    ----------
    target : {"Recommended IND", "Rating"}, default="Recommended IND"
        The column to predict. The other one is left out of the inputs: the two are
        strongly related, and using one to predict the other leaks the answer.
    return_X_y : bool, default=False
        Return ``(data, target)`` instead of a Bunch.

    Returns
    -------
    dataset : Bunch
        ``data`` (DataFrame, 23,486 x 8: ``Title``, ``Review Text``, ``Age``,
        ``Positive Feedback Count``, ``Division Name``, ``Department Name``,
        ``Class Name``, ``Clothing ID``), ``target`` (Series), ``frame`` (both),
        ``feature_names``, ``target_name`` and ``DESCR``.
    (data, target) : tuple
        When ``return_X_y`` is True.

    Examples
    --------
    >>> from skmm.datasets import load_womens_reviews
    >>> X, y = load_womens_reviews(return_X_y=True)
    >>> X.shape, sorted(y.unique().tolist())
    ((23486, 8), [0, 1])
    """
    if target not in _TARGETS:
        raise ValueError(f"target must be one of {_TARGETS}, got {target!r}")
    with resources.files("skmm.datasets").joinpath("data", _FILE).open("rb") as f:
        frame = pd.read_csv(f, compression="gzip")
    frame = frame[[*_FEATURES, target]]
    data, y = frame[_FEATURES], frame[target]
    if return_X_y:
        return data, y
    return Bunch(
        data=data,
        target=y,
        frame=frame,
        feature_names=list(_FEATURES),
        target_name=target,
        DESCR=_DESCR,
    )
