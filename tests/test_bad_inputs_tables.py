"""The weak cases of issue 26 on tables (detection, the union, the pipeline, the
command line), one case each, each asserting the message names what is wrong, and
each under a time limit.

| case | promise |
|---|---|
| url_values | detection: dropped with "skmm does not fetch URLs", the value shown |
| thousands_separators | "12,345.67" detected as numeric and read as 12345.67 |
| thousands_separators_given | types={"price": "numeric"} reads them too |
| non_number_at_predict | UnreadableValuesWarning: column, row, index label, value |
| non_number_at_predict_cli | skmm predict: exit 0, a warning names column and value |
| target_left_in_x | make_multimodal_pipeline drops it with a warning naming it |
| all_nan_tabular_column | MultimodalUnion.fit: a warning naming the column and block |
| all_missing_block | MultimodalUnion.fit: a warning naming the block |
| fit_out_unwritable | skmm fit --out /proc/m.joblib: exit 2 before the fit |
| fit_out_is_a_folder | skmm fit --out DIR: exit 2 before the fit |
| evaluate_unseen_label | skmm evaluate: a note naming it; in the per-class table |
| csv_as_the_model | skmm predict data.csv data.csv: refused before unpickling |
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import skmm
from skmm.exceptions import SkmmWarning, UnreadableValuesWarning


def _numbers_table(n=30):
    table = pd.DataFrame({"size": np.arange(float(n)), "label": ["a", "b", "c"] * 10})
    return table.assign(size=lambda t: t["size"] + (t["label"] == "a") * 100)


def _fit_cli(ctx, *extra, out=None):
    from skmm.cli import main

    data = ctx.tmp_path / "data.csv"
    _numbers_table().to_csv(data, index=False)
    out = ctx.tmp_path / "model.joblib" if out is None else out
    status = main(["fit", str(data), "--target", "label", "--out", str(out), *extra])
    return status, data, out


# -- detection and the tabular blocks ---------------------------------------------
def url_values(ctx):
    X = pd.DataFrame({"photo": [f"https://example.org/{i}.jpg" for i in range(12)]})
    types = skmm.detect_column_types(X)
    assert types["photo"] == "drop"
    why = types.reasons["photo"]
    assert "skmm does not fetch URLs" in why and "'https://example.org/0.jpg'" in why
    assert "relative to the cwd" not in why


PRICES = ["12,345.67", "1,234.00", "999.5", "2,000", "-3,100.25"]


def thousands_separators(ctx):
    X = pd.DataFrame({"price": PRICES * 3, "n": np.arange(15.0)})
    types = skmm.detect_column_types(X)
    assert types["price"] == "numeric", types.reasons["price"]
    assert "thousands separated by commas" in types.reasons["price"]
    union = skmm.make_multimodal_union(X, categories="native").fit(X)
    values = union.transform(X)["numbers__price"].to_numpy()[:5]
    np.testing.assert_allclose(values, [12345.67, 1234.0, 999.5, 2000.0, -3100.25])


def thousands_separators_given(ctx):
    # With one unreadable value the column is categorical; types= makes it numeric.
    X = pd.DataFrame({"price": [*PRICES, "n/a"] * 2})
    with pytest.warns(UnreadableValuesWarning, match="'n/a'"):
        Xt = skmm.make_multimodal_union(
            X, types={"price": "numeric"}, categories="native"
        ).fit_transform(X)
    assert Xt["numbers__price"].notna().sum() == 10


def non_number_at_predict(ctx):
    X = pd.DataFrame({"price": np.arange(12.0), "c": list("abc") * 4})
    y = [0, 1] * 6
    model = skmm.make_multimodal_pipeline(X, y).fit(X, y)
    new = X.astype({"price": object}).set_axis(range(100, 112))
    new.loc[102, "price"] = "abc"
    with pytest.warns(UnreadableValuesWarning) as record:
        model.predict(new)
    message = str(record[0].message)
    assert "column 'price', row 2 (index 102): 'abc'" in message
    assert "read as missing" in message


def non_number_at_predict_cli(ctx):
    from skmm.cli import main

    status, data, model = _fit_cli(ctx)
    assert status == 0
    table = _numbers_table().astype({"size": object})
    table.loc[4, "size"] = "abc"
    table.to_csv(data, index=False)
    # A warning (on stderr outside pytest), and the predictions.
    with pytest.warns(UnreadableValuesWarning, match="column 'size', row 4: 'abc'"):
        assert main(["predict", str(model), str(data)]) == 0
    assert len(ctx.capsys.readouterr().out.splitlines()) == 1 + len(table)


def target_left_in_x(ctx):
    X = pd.DataFrame({"price": np.arange(12.0), "label": ["a", "b", "c"] * 4})
    with pytest.warns(SkmmWarning, match="column 'label' of X holds the target y"):
        model = skmm.make_multimodal_pipeline(X, X["label"])
    assert [cols for _, _, cols in model[0].transformers] == [["price"]]
    # Named in types=, it is the user's choice: kept, without a warning.
    with warnings.catch_warnings():
        warnings.simplefilter("error", SkmmWarning)
        model = skmm.make_multimodal_pipeline(
            X, X["label"], types={"label": "categorical"}
        )
    assert ["label"] in [cols for _, _, cols in model[0].transformers]


def _fit_warnings(union, X) -> list[str]:
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        union.fit_transform(X)
    assert not [w for w in record if issubclass(w.category, RuntimeWarning)]
    return [str(w.message) for w in record if issubclass(w.category, SkmmWarning)]


def all_nan_tabular_column(ctx):
    X = pd.DataFrame({"p": [np.nan] * 8, "q": np.arange(8.0)})
    union = skmm.MultimodalUnion([("tab", "passthrough", ["p", "q"])])
    messages = _fit_warnings(union, X)
    assert len(messages) == 1
    assert "column 'tab__p' of block 'tab' is NaN in every row" in messages[0]


def all_missing_block(ctx):
    from tests.conftest import TINY_IMAGE_MODEL

    X = pd.DataFrame({"photo": [None] * 4, "q": np.arange(4.0)})
    encoder = skmm.ImageEncoder(TINY_IMAGE_MODEL, pretrained=False, device="cpu")
    union = skmm.MultimodalUnion(
        [("image", encoder, "photo"), ("tab", "passthrough", ["q"])]
    )
    messages = _fit_warnings(union, X)
    assert len(messages) == 1
    assert "block 'image' is missing in every row of the training data" in messages[0]
    # A prediction set without the block is normal: no warning at transform.
    with warnings.catch_warnings():
        warnings.simplefilter("error", SkmmWarning)
        union.transform(X)


# -- the command line -------------------------------------------------------------
def fit_out_unwritable(ctx):
    status, _, _ = _fit_cli(ctx, out="/proc/m.joblib")
    assert status == 2
    err = ctx.capsys.readouterr().err
    assert "skmm fit: error: --out /proc/m.joblib: cannot write a file in /proc" in err
    assert "classification of" not in err  # refused before building and fitting


def fit_out_is_a_folder(ctx):
    folder = ctx.tmp_path / "models"
    folder.mkdir()
    status, _, _ = _fit_cli(ctx, out=folder)
    assert status == 2
    err = ctx.capsys.readouterr().err
    assert f"--out {folder}: is a folder; give a file name" in err
    assert "classification of" not in err


def evaluate_unseen_label(ctx):
    from skmm.cli import main

    status, data, model = _fit_cli(ctx)
    assert status == 0
    table = _numbers_table()
    table.loc[:4, "label"] = "zzz"
    table.to_csv(data, index=False)
    ctx.capsys.readouterr()
    assert main(["evaluate", str(model), str(data)]) == 0
    captured = ctx.capsys.readouterr()
    assert "labels the model never saw in fit: 'zzz' (5 rows)" in captured.err
    rows = {line.split()[0]: line.split() for line in captured.out.splitlines() if line}
    assert rows["zzz"][1:] == ["0.000", "0.000", "0.000", "5"]


def csv_as_the_model(ctx):
    from skmm.cli import main

    data = ctx.tmp_path / "data.csv"
    _numbers_table().to_csv(data, index=False)
    assert main(["predict", str(data), str(data)]) == 2
    err = ctx.capsys.readouterr().err
    assert f"{data}: not a model saved by skmm fit (it starts with b'size,lab'" in err
    assert "not a pickle" in err and "ModuleNotFoundError" not in err


CASES = {
    f.__name__: f
    for f in (
        url_values,
        thousands_separators,
        thousands_separators_given,
        non_number_at_predict,
        non_number_at_predict_cli,
        target_left_in_x,
        all_nan_tabular_column,
        all_missing_block,
        fit_out_unwritable,
        fit_out_is_a_folder,
        evaluate_unseen_label,
        csv_as_the_model,
    )
}


class _Context:
    def __init__(self, tmp_path, capsys):
        self.tmp_path = tmp_path
        self.capsys = capsys


@pytest.mark.timeout(120)
@pytest.mark.parametrize("case", list(CASES))
def test_bad_input(case, tmp_path, capsys):
    CASES[case](_Context(tmp_path, capsys))
