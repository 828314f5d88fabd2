"""A head that cannot see modalities in its input says so, instead of fusing nothing.

The trap: a MultimodalUnion's default output is a plain array, which a fusion head
takes as one block "X"; late fusion then equals early fusion, to the digit.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skmm import FusionClassifier, LateFusionClassifier, MultimodalUnion

HEADS = [
    pytest.param(lambda **kw: LateFusionClassifier(**kw), id="late"),
    pytest.param(
        lambda **kw: FusionClassifier(max_epochs=2, hidden=8, random_state=0, **kw),
        id="neural",
    ),
]


def _frame(n=60):
    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(n, 4)), columns=["a", "b", "c", "d"])
    y = (X["a"] + X["c"] > 0).astype(int).to_numpy()
    return X, y


def _union():
    return MultimodalUnion(
        [
            ("left", StandardScaler(), ["a", "b"]),
            ("right", StandardScaler(), ["c", "d"]),
        ]
    )


@pytest.mark.parametrize("make_head", HEADS)
def test_union_with_numpy_output_warns(make_head):
    X, y = _frame()
    pipe = make_pipeline(_union(), make_head())
    with pytest.warns(UserWarning, match=r"one modality block 'X'.*set_output"):
        pipe.fit(X, y)
    assert pipe[-1].layout_.names == ("X",)


@pytest.mark.parametrize("make_head", HEADS)
def test_dataframe_without_prefixes_warns(make_head):
    X, y = _frame()
    with pytest.warns(UserWarning, match="no '{modality}__' prefix"):
        make_head().fit(X, y)


@pytest.mark.parametrize("make_head", HEADS)
@pytest.mark.parametrize("form", ["pandas", "output_indices", "one block on purpose"])
def test_named_modalities_fit_silently(make_head, form):
    X, y = _frame()
    union = _union()
    if form == "pandas":
        pipe = make_pipeline(union.set_output(transform="pandas"), make_head())
        expected = ("left", "right")
    elif form == "output_indices":
        Z = union.fit_transform(X)
        pipe = make_head(modalities=union.output_indices_)
        X, expected = Z, ("left", "right")
    else:
        pipe = make_head(modalities={"X": slice(None)})
        expected = ("X",)
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        pipe.fit(X, y)
    head = pipe[-1] if hasattr(pipe, "steps") else pipe
    assert head.layout_.names == expected
