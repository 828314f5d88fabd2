"""The block contract: a user feature is never mistaken for a missing indicator."""

import numpy as np
import pandas as pd
import pytest
from sklearn.preprocessing import StandardScaler

from skmm import FusionClassifier, MultimodalUnion
from skmm.compose._blocks import infer_layout, split_blocks


def _frame_with_a_feature_named_missing(n=60, seed=0):
    """An image block with its 0/1 indicator, and a tabular block whose feature
    ``tab__missing`` is a number (a count of missing documents, say)."""
    rng = np.random.default_rng(seed)
    absent = np.zeros(n, dtype=bool)
    absent[::5] = True
    X = pd.DataFrame(
        {
            "image__0": np.where(absent, 0.0, rng.normal(size=n)),
            "image__1": np.where(absent, 0.0, rng.normal(size=n)),
            "image__missing": absent.astype(float),
            "tab__age": rng.normal(size=n),
            "tab__missing": rng.poisson(3.0, size=n).astype(float),
        }
    )
    return X, absent


def test_a_numeric_feature_named_missing_is_a_feature_not_an_indicator():
    X, absent = _frame_with_a_feature_named_missing()
    layout = infer_layout(X.to_numpy(), feature_names=X.columns)
    assert layout.names == ("image", "tab")
    assert layout.indicators == (2, None)  # the image's 0/1 indicator only
    assert layout.widths == (2, 2)  # tab__missing is kept as a feature
    _, present = split_blocks(X.to_numpy(), layout)
    assert present[:, 0].tolist() == (~absent).tolist()
    assert present[:, 1].all()  # rows with tab__missing > 0.5 keep their tab data


def test_a_head_learns_from_a_feature_named_missing():
    X, _ = _frame_with_a_feature_named_missing(n=200)
    y = (X["tab__missing"] > 3).astype(int).to_numpy()
    head = FusionClassifier(hidden=16, max_epochs=60, random_state=0).fit(X, y)
    assert head.layout_.indicators == (2, None)
    assert head.layout_.widths == (2, 2)
    assert head.score(X, y) > 0.9


def test_the_union_refuses_a_feature_named_missing():
    X = pd.DataFrame({"price": [1.0, 2.0, 3.0], "missing": [0.0, 2.0, 5.0]})
    union = MultimodalUnion([("tab", StandardScaler(), ["price", "missing"])])
    union.set_output(transform="pandas")
    message = r"block 'tab' has a feature named 'missing'.*'tab__missing'.*Rename"
    with pytest.raises(ValueError, match=message):
        union.fit_transform(X)
    union = MultimodalUnion([("tab", StandardScaler(), ["price", "missing"])]).fit(X)
    with pytest.raises(ValueError, match=message):
        union.get_feature_names_out()
    renamed = X.rename(columns={"missing": "missing_"})
    union = MultimodalUnion([("tab", StandardScaler(), ["price", "missing_"])])
    names = union.fit(renamed).get_feature_names_out()
    assert names.tolist() == ["tab__price", "tab__missing_"]
