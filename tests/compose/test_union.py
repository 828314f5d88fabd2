import textwrap

import joblib
import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

from skmm import ImageEncoder, MultimodalUnion, TextEncoder, make_multimodal_union
from tests.conftest import TINY_IMAGE_MODEL, make_image, run_python

# Checks that scikit-learn's own ColumnTransformer fails with the same transformers
# (scikit-learn 1.9.1): the union inherits its input handling and does not hide it.
_INHERITED = "ColumnTransformer itself fails this check"
_COLUMN_TRANSFORMER_FAILURES = {
    "check_estimator_sparse_array": _INHERITED,
    "check_estimator_sparse_matrix": _INHERITED,
    "check_fit1d": _INHERITED,
    "check_fit2d_predict1d": _INHERITED,
    "check_estimators_empty_data_messages": _INHERITED,
    "check_transformer_data_not_an_array": _INHERITED,
}


def _expected_failures(estimator):
    failures = dict(_COLUMN_TRANSFORMER_FAILURES)
    if estimator.remainder == "drop":  # only passthrough trips these two
        del failures["check_estimators_empty_data_messages"]
    if estimator.remainder != "passthrough":
        del failures["check_transformer_data_not_an_array"]
    return failures


@parametrize_with_checks(
    [
        MultimodalUnion([("tab", StandardScaler(with_mean=False), slice(0, None))]),
        MultimodalUnion(
            [("tab", StandardScaler(with_mean=False), [0])], remainder="passthrough"
        ),
        MultimodalUnion([], remainder=StandardScaler(with_mean=False), missing="nan"),
    ],
    expected_failed_checks=_expected_failures,
)
def test_sklearn_compatible_on_numeric_input(estimator, check):
    check(estimator)


def image_encoder(**params):
    return ImageEncoder(TINY_IMAGE_MODEL, pretrained=False, device="cpu", **params)


@pytest.fixture
def frame(minilm_path):
    return pd.DataFrame(
        {
            "photo": [make_image(0), None, make_image(2), make_image(3)],
            "review": ["lovely", "too small", None, "lovely"],
            "price": [10.0, 20.0, 30.0, 40.0],
            "colour": ["red", "blue", "red", "green"],
        }
    )


@pytest.fixture
def union(minilm_path):
    return MultimodalUnion(
        [
            ("image", image_encoder(), "photo"),
            ("text", TextEncoder(minilm_path, device="cpu"), ["review"]),
            ("tab", StandardScaler(), ["price"]),
        ]
    )


def test_blocks_names_and_indices(union, frame):
    X = union.fit_transform(frame)
    names = union.get_feature_names_out()
    assert X.shape == (4, len(names)) == (4, 64 + 1 + 384 + 1 + 1)
    assert union.modalities_ == {"image": "image", "text": "text", "tab": "tabular"}
    for block, cut in union.output_indices_.items():
        assert all(n.startswith(f"{block}__") for n in names[cut])
    assert names[union.output_indices_["image"]][-1] == "image__missing"
    assert names[union.output_indices_["text"]][[0, -2, -1]].tolist() == [
        "text__0000",
        "text__0383",
        "text__missing",
    ]
    assert names[-1] == "tab__price"


def test_indicator_policy_zeros_the_row_and_sets_the_flag(union, frame):
    X = union.fit_transform(frame)
    image, text = union.output_indices_["image"], union.output_indices_["text"]
    assert X[:, image][:, -1].tolist() == [0, 1, 0, 0]
    assert X[:, text][:, -1].tolist() == [0, 0, 1, 0]
    assert (X[1, image][:-1] == 0).all() and (X[2, text][:-1] == 0).all()
    assert np.isfinite(X).all()
    # Present rows hold the encoder's vectors, untouched.
    np.testing.assert_allclose(
        X[[0, 2, 3], image][:, :-1],
        image_encoder().fit_transform(frame["photo"].iloc[[0, 2, 3]].tolist()),
    )
    # The same text gives the same vector; nothing is copied from another row.
    np.testing.assert_array_equal(X[0, text], X[3, text])


def test_nan_policy_leaves_nan_rows_and_no_indicator(union, frame):
    union.set_params(missing="nan")
    X = union.fit_transform(frame)
    assert X.shape == (4, 64 + 384 + 1)
    image = union.output_indices_["image"]
    assert np.isnan(X[1, image]).all() and np.isfinite(X[0, image]).all()
    assert "image__missing" not in union.get_feature_names_out()
    model = make_pipeline(union, HistGradientBoostingClassifier(max_iter=5))
    model.fit(frame, [0, 1, 0, 1])


def test_single_column_as_str_or_list_is_the_same(frame):
    for column in ("price", ["price"]):
        union = MultimodalUnion([("tab", StandardScaler(), column)]).fit(frame)
        assert union.get_feature_names_out().tolist() == ["tab__price"]
    by_name = MultimodalUnion([("image", image_encoder(), "photo")]).fit_transform(
        frame
    )
    by_list = MultimodalUnion([("image", image_encoder(), ["photo"])]).fit_transform(
        frame
    )
    np.testing.assert_array_equal(by_name, by_list)


def test_set_output_pandas_and_polars(union, frame, df_module):
    if df_module.__name__ == "polars":  # polars holds no array objects
        frame = df_module.DataFrame(
            {
                col: [None if pd.isna(v) else v for v in frame[col]]
                for col in ("review", "price", "colour")
            }
        )
        union.set_params(transformers=union.transformers[1:])
    union.set_output(transform=df_module.__name__)
    out = union.fit_transform(frame)
    assert isinstance(out, df_module.DataFrame)
    assert list(out.columns) == list(union.get_feature_names_out())
    assert out["text__missing"].to_list() == [0.0, 0.0, 1.0, 0.0]
    if df_module.__name__ == "pandas":
        shifted = frame.set_index(pd.Index([7, 8, 9, 10]))
        assert list(union.transform(shifted).index) == [7, 8, 9, 10]


def test_polars_input(minilm_path, df_module):
    frame = df_module.DataFrame(
        {"review": ["nice", None, "bad"], "price": [1.0, 2.0, 3.0]}
    )
    union = MultimodalUnion(
        [
            ("text", TextEncoder(minilm_path, device="cpu"), "review"),
            ("tab", StandardScaler(), ["price"]),
        ]
    )
    X = union.fit_transform(frame)
    assert X.shape == (3, 386) and X[1, 384] == 1.0


def test_remainder_passthrough_is_a_tabular_block(frame):
    union = MultimodalUnion(
        [("image", image_encoder(), "photo")], remainder="passthrough"
    ).fit(frame.drop(columns=["review", "colour"]))
    assert union.modalities_ == {"image": "image", "remainder": "tabular"}
    assert union.get_feature_names_out()[-1] == "remainder__price"


def test_nested_params_and_grid_search(minilm_path, frame):
    pipe = Pipeline(
        [
            (
                "union",
                MultimodalUnion(
                    [
                        ("text", TextEncoder(minilm_path, device="cpu"), "review"),
                        ("tab", OneHotEncoder(), ["colour"]),
                    ]
                ),
            ),
            ("head", LogisticRegression()),
        ]
    )
    params = pipe.get_params()
    assert params["union__text__normalize"] is False
    pipe.set_params(union__text__normalize=True, union__missing="nan")
    assert pipe.named_steps["union"].transformers[0][1].normalize is True
    assert clone(pipe).get_params()["union__text__normalize"] is True
    data = pd.concat([frame] * 3, ignore_index=True).fillna({"review": "ok"})
    y = [0, 1] * 6
    search = GridSearchCV(
        pipe.set_params(union__missing="indicator"),
        {"union__text__normalize": [False, True], "head__C": [0.1, 1.0]},
        cv=2,
        error_score="raise",
    ).fit(data, y)
    assert set(search.best_params_) == {"union__text__normalize", "head__C"}


def test_make_multimodal_union_names_blocks_by_modality(minilm_path, frame):
    union = make_multimodal_union(
        (image_encoder(), "photo"),
        (TextEncoder(minilm_path, device="cpu"), "review"),
        (make_pipeline(TextEncoder(minilm_path, device="cpu")), "colour"),
        (StandardScaler(), ["price"]),
        missing="nan",
    )
    assert [n for n, _, _ in union.transformers] == [
        "image",
        "text-1",
        "text-2",
        "tabular",
    ]
    union.fit(frame)
    assert union.modalities_["text-2"] == "text"
    assert union.missing == "nan"


def test_is_a_column_transformer(union):
    assert isinstance(union, ColumnTransformer)
    assert "verbose_feature_names_out" not in union.get_params()
    with pytest.raises(ValueError, match="missing"):
        union.set_params(missing="zero").fit(pd.DataFrame({"photo": [None]}))


def test_saved_pipeline_predicts_identically_in_a_fresh_offline_process(
    minilm_path, frame, tmp_path
):
    data = pd.concat([frame] * 3, ignore_index=True)
    y = np.array([0, 1, 1, 0] * 3)
    model = make_pipeline(
        MultimodalUnion(
            [
                ("image", image_encoder(), "photo"),
                ("text", TextEncoder(minilm_path, device="cpu"), "review"),
                ("tab", make_pipeline(OneHotEncoder()), ["colour"]),
            ],
            remainder="passthrough",
        ),
        LogisticRegression(max_iter=1000),
    ).fit(data, y)
    joblib.dump(model, tmp_path / "model.joblib")
    data.to_pickle(tmp_path / "data.pkl")
    np.save(tmp_path / "proba.npy", model.predict_proba(data))
    script = textwrap.dedent(
        f"""
        import joblib, numpy as np, pandas as pd
        model = joblib.load({str(tmp_path / "model.joblib")!r})
        data = pd.read_pickle({str(tmp_path / "data.pkl")!r})
        expected = np.load({str(tmp_path / "proba.npy")!r})
        np.testing.assert_array_equal(model.predict_proba(data), expected)
        print("identical")
        """
    )
    result = run_python("-c", script, clean_env=True)
    assert "identical" in result.stdout
