"""The neural fusion heads: scikit-learn compatibility, the fusion modules, masking
of absent modalities, multi-task learning, persistence."""

import textwrap

import joblib
import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.base import clone
from sklearn.compose import ColumnTransformer
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

from skmm import (
    FusionClassifier,
    FusionMultiTask,
    FusionRegressor,
    ImageEncoder,
    MultimodalUnion,
)
from skmm.fusion import FUSIONS, FusionNetwork
from skmm.fusion._network import MultiTaskLoss
from tests.conftest import TINY_IMAGE_MODEL, make_image, run_python

_FLOAT32_BATCHES = (
    "float32 matrix products differ in the last bits with the batch's composition "
    "(about 3e-8); the check's rtol is 1e-7. test_predictions_do_not_depend_on_batch "
    "asserts invariance to 1e-5"
)
_BATCH_CHECKS = {
    "check_methods_subset_invariance": _FLOAT32_BATCHES,
    "check_methods_sample_order_invariance": _FLOAT32_BATCHES,
    # Every other sample-weight check runs and passes.
    "check_sample_weight_equivalence_on_dense_data": (
        "weights and repeated rows train different networks: minibatch AdamW in "
        "float32 sees other batches in another order (even full-batch, the sums "
        "differ in the last bits and Adam amplifies that over 100 epochs), and the "
        "block standardisation keeps unweighted statistics; on the check's data the "
        "probabilities differ by up to 0.17 (0.12 full-batch without dropout) "
        "while the check compares at rtol=1e-7. test_sample_weight.py asserts "
        "what weights must do: equal weights train exactly as none, and "
        "up-weighting a class moves the predictions toward it"
    ),
}


@parametrize_with_checks(
    [
        FusionClassifier(hidden=16, random_state=0, device="cpu"),
        FusionRegressor(hidden=16, max_epochs=40, random_state=0, device="cpu"),
    ],
    expected_failed_checks=lambda est: _BATCH_CHECKS,
)
def test_sklearn_compatible(estimator, check):
    check(estimator)


def _two_modalities(n=300, seed=0):
    """Modality "a" (20 features) and "b" (5) each carry half of the signal."""
    rng = np.random.default_rng(seed)
    X = {"a": rng.normal(size=(n, 20)), "b": rng.normal(size=(n, 5))}
    y = (X["a"][:, 0] + X["b"][:, 0] > 0).astype(int)
    return X, y


def _without(X, name, rows=slice(None)):
    out = {k: v.copy() for k, v in X.items()}
    out[name][rows] = np.nan
    return out


# -- the fusion modules ------------------------------------------------------------
@pytest.mark.parametrize("fusion", sorted(FUSIONS))
@pytest.mark.parametrize("missing_embedding", ["learned", "zero"])
def test_every_parameter_gets_a_gradient(fusion, missing_embedding):
    torch.random.manual_seed(0)  # test-local; library code never seeds globally
    dims = [7, 3, 5]
    net = FusionNetwork(
        dims,
        output_sizes=[3, 1],
        fusion=fusion,
        hidden=8,
        dropout=0.0,
        missing_embedding=missing_embedding,
        fusion_params={"n_heads": 2} if fusion == "transformer" else None,
    )
    batch = 16
    inputs = {f"x{i}": torch.randn(batch, d) for i, d in enumerate(dims)}
    present = torch.ones(batch, len(dims), dtype=torch.bool)
    present[:4, 1] = False  # some rows lack a modality: the missing embedding trains
    target = torch.cat(
        [torch.randint(0, 3, (batch, 1)).float(), torch.randn(batch, 1)], dim=1
    )
    loss = MultiTaskLoss(
        [("classification", 3), ("regression", 1)], [1.0, 0.5], [None, None]
    )(net(present=present, **inputs), target)
    loss.backward()
    params = dict(net.named_parameters())
    assert params, "the network registers its parameters"
    assert ("missing" in params) == (missing_embedding == "learned")
    no_grad = [
        name
        for name, p in params.items()
        if p.grad is None or not torch.any(p.grad != 0)
    ]
    assert no_grad == []


@pytest.mark.parametrize("fusion", sorted(FUSIONS))
def test_absent_block_values_are_ignored(fusion):
    """A masked block's numbers cannot leak into the prediction: NaN, zeros with
    the indicator set, or garbage with the indicator set give the same output."""
    X, y = _two_modalities(n=120)
    clf = FusionClassifier(
        fusion, hidden=8, max_epochs=3, random_state=0, device="cpu"
    ).fit(X, y)
    rows = np.arange(10)
    nan_rows = _without(X, "b", rows)
    base = clf.predict_proba({k: v[rows] for k, v in nan_rows.items()})

    cols = [f"a__{i}" for i in range(20)] + [f"b__{i}" for i in range(5)]
    frame = pd.DataFrame(np.hstack([X["a"], X["b"]])[rows], columns=cols)
    frame["b__missing"] = 1.0
    clf_df = clone(clf).fit(
        pd.DataFrame(
            np.hstack([X["a"], X["b"], np.zeros((len(y), 1))]),
            columns=[*cols, "b__missing"],
        ),
        y,
    )
    garbage = frame.copy()
    garbage.loc[:, [c for c in cols if c.startswith("b__")]] = 1e6
    zeros = frame.copy()
    zeros.loc[:, [c for c in cols if c.startswith("b__")]] = 0.0
    np.testing.assert_allclose(
        clf_df.predict_proba(garbage), clf_df.predict_proba(zeros), atol=1e-6
    )
    # ... and the DataFrame head saw the same blocks as the dict head.
    assert clf_df.layout_.names == ("a", "b")
    assert clf_df.layout_.indicators == (None, 25)
    np.testing.assert_allclose(clf_df.predict_proba(zeros), base, atol=1e-5)


@pytest.mark.parametrize("fusion", sorted(FUSIONS))
def test_modality_missing_at_predict_time_degrades_gracefully(fusion):
    """Trained on complete rows with modality dropout, a head asked to predict with
    modality "b" removed from every row still uses "a": with y = sign(a0 + b0), the
    best any model can do from "a" alone is 0.75."""
    X, y = _two_modalities(n=600)
    X_test, y_test = _two_modalities(n=400, seed=1)
    clf = FusionClassifier(
        fusion, hidden=16, modality_dropout=0.3, random_state=0, device="cpu"
    ).fit(X, y)
    full = clf.score(X_test, y_test)
    only_a = clf.score(_without(X_test, "b"), y_test)
    only_b = clf.score(_without(X_test, "a"), y_test)
    assert full > 0.85
    assert 0.62 < only_a <= full + 0.02
    assert 0.6 < only_b <= full + 0.02


def test_rows_with_no_modality_get_a_prediction():
    X, y = _two_modalities(n=100)
    clf = FusionClassifier(hidden=8, max_epochs=5, random_state=0, device="cpu")
    clf.fit(X, y)
    empty = {k: np.full_like(v[:3], np.nan) for k, v in X.items()}
    proba = clf.predict_proba(empty)
    assert np.isfinite(proba).all()
    np.testing.assert_allclose(proba, proba[[0, 0, 0]])  # all alike: nothing known


# -- the estimators -----------------------------------------------------------------
def test_string_labels_multiclass_and_class_weight():
    rng = np.random.default_rng(0)
    X = {"img": rng.normal(size=(240, 6)), "txt": rng.normal(size=(240, 3))}
    labels = np.array(["cat", "dog", "fish"])
    y = labels[np.argmax(X["img"][:, :3] + 0.5 * X["txt"], axis=1)]
    clf = FusionClassifier(
        "attention", hidden=16, class_weight="balanced", random_state=0, device="cpu"
    ).fit(X, y)
    assert list(clf.classes_) == ["cat", "dog", "fish"]
    proba = clf.predict_proba(X)
    assert proba.shape == (240, 3)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-5)
    assert set(clf.predict(X)) <= set(labels)
    assert clf.score(X, y) > 0.8


def test_early_stopping_stops_after_patience_epochs_without_progress():
    X, y = _two_modalities(n=300)
    clf = FusionClassifier(
        hidden=16, max_epochs=200, patience=3, random_state=0, device="cpu"
    ).fit(X, y)
    valid_loss = clf.net_.history[:, "valid_loss"]
    assert clf.n_epochs_ == len(valid_loss) < 200
    assert clf.n_epochs_ - 1 - int(np.argmin(valid_loss)) >= 3
    no_stop = clone(clf).set_params(early_stopping=False, max_epochs=4).fit(X, y)
    assert no_stop.n_epochs_ == 4
    assert "valid_loss" not in no_stop.net_.history[-1]


def test_random_state_repeats_results_and_leaves_global_rng_alone():
    X, y = _two_modalities(n=200)
    state = torch.random.get_rng_state()
    a = FusionClassifier("gated", hidden=8, modality_dropout=0.2, random_state=3)
    b = clone(a)
    pa = a.set_params(device="cpu").fit(X, y).predict_proba(X)
    pb = b.set_params(device="cpu").fit(X, y).predict_proba(X)
    np.testing.assert_array_equal(pa, pb)
    assert torch.equal(state, torch.random.get_rng_state())
    pc = clone(a).set_params(random_state=4).fit(X, y).predict_proba(X)
    assert not np.allclose(pa, pc)


def test_predictions_do_not_depend_on_batch():
    X, y = _two_modalities(n=200)
    clf = FusionClassifier("transformer", hidden=8, max_epochs=5, random_state=0)
    clf.set_params(device="cpu").fit(X, y)
    whole = clf.predict_proba(X)
    one_by_one = np.vstack(
        [clf.predict_proba({k: v[i : i + 1] for k, v in X.items()}) for i in range(20)]
    )
    np.testing.assert_allclose(whole[:20], one_by_one, atol=1e-5)


def test_regressor_multi_output_and_scaling():
    rng = np.random.default_rng(0)
    X = {"a": rng.normal(size=(300, 5)) * 1000.0, "b": rng.normal(size=(300, 2))}
    y = np.column_stack([X["a"][:, 0] / 10.0 + 5e4, X["b"][:, 1] * 3.0])
    reg = FusionRegressor("lowrank", hidden=16, random_state=0, device="cpu")
    reg.fit(X, y)
    pred = reg.predict(X)
    assert pred.shape == (300, 2)
    assert reg.n_outputs_ == 2
    assert reg.score(X, y) > 0.8  # unscaled inputs and targets: scaled inside
    one = clone(reg).fit(X, y[:, 0])
    assert one.predict(X).shape == (300,)


def test_multi_task_one_trunk_several_targets():
    rng = np.random.default_rng(0)
    n = 400
    X = {"image": rng.normal(size=(n, 10)), "text": rng.normal(size=(n, 6))}
    y = pd.DataFrame(
        {
            "category": np.where(X["image"][:, 0] + X["text"][:, 0] > 0, "a", "b"),
            "price": 20.0 * X["text"][:, 1] + 100.0,
        }
    )
    y.loc[::5, "price"] = np.nan  # unknown for a fifth of the rows
    model = FusionMultiTask(
        hidden=32, task_weights={"price": 2.0}, random_state=0, device="cpu"
    ).fit(X, y)
    assert model.task_types_ == {"category": "classification", "price": "regression"}
    pred = model.predict(X)
    assert list(pred.columns) == ["category", "price"]
    assert set(pred["category"]) <= {"a", "b"}
    known = y["price"].notna()
    assert np.corrcoef(pred["price"][known], y["price"][known])[0, 1] > 0.9
    assert (pred["category"] == y["category"]).mean() > 0.85
    assert model.predict_proba(X)["category"].shape == (n, 2)
    assert 0.85 < model.score(X, y) <= 1.0
    # One trunk: a single network, two outputs stacked.
    assert model.net_.module_.head.out_features == 2 + 1


def test_multi_task_on_numpy_targets_and_overrides():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(120, 4))
    y = np.column_stack([(X[:, 0] > 0).astype(int), np.round(X[:, 1] * 3)])
    model = FusionMultiTask(
        hidden=8,
        max_epochs=5,
        tasks={"y1": "regression"},
        random_state=0,
        device="cpu",
    ).fit(X, y)
    assert model.targets_ == ["y0", "y1"]
    assert model.task_types_ == {"y0": "classification", "y1": "regression"}
    with pytest.raises(ValueError, match="unknown targets"):
        FusionMultiTask(tasks={"colour": "regression"}).fit(X, y)


def test_blocks_from_dataframe_prefixes_pandas_and_polars(df_module):
    X, y = _two_modalities(n=100)
    cols = [f"a__{i}" for i in range(20)] + [f"b__{i}" for i in range(5)]
    frame = df_module.DataFrame(
        {c: v for c, v in zip(cols, np.hstack([X["a"], X["b"]]).T, strict=True)}
    )
    clf = FusionClassifier(hidden=8, max_epochs=3, random_state=0, device="cpu")
    clf.fit(frame, y)
    assert clf.layout_.names == ("a", "b")
    assert clf.layout_.widths == (20, 5)
    assert list(clf.feature_names_in_) == cols
    assert clf.predict(frame).shape == (100,)


def test_blocks_from_explicit_modalities_and_bad_input():
    X, y = _two_modalities(n=60)
    matrix = np.hstack([X["a"], X["b"]])
    clf = FusionClassifier(
        hidden=8,
        max_epochs=2,
        modalities={"a": slice(0, 20), "b": slice(20, 25)},
        device="cpu",
    ).fit(matrix, y)
    assert clf.layout_.widths == (20, 5)
    with pytest.raises(ValueError, match="fitted on a dict"):
        FusionClassifier(hidden=8, max_epochs=1).fit(X, y).predict(matrix)
    with pytest.raises(ValueError, match=r"missing \['b'\]"):
        FusionClassifier(hidden=8, max_epochs=1).fit(X, y).predict({"a": X["a"]})
    with pytest.raises(ValueError, match="'b' is absent from every row"):
        FusionClassifier(hidden=8, max_epochs=1).fit(_without(X, "b"), y)
    with pytest.raises(ValueError, match="at least 2 classes"):
        FusionClassifier(hidden=8, max_epochs=1).fit(X, np.zeros(60))
    with pytest.raises(ValueError, match="multiple of n_heads"):
        FusionClassifier("transformer", hidden=6, n_heads=4, max_epochs=1).fit(X, y)


def test_grid_search_over_fusion_and_hidden_in_a_full_pipeline(tmp_path):
    """Raw images and numbers -> MultimodalUnion (indicator for missing images) ->
    FusionClassifier, tuned by GridSearchCV, with one image missing."""
    rng = np.random.default_rng(0)
    n = 48
    y = np.tile(["red", "blue"], n // 2)
    images = []
    for i, label in enumerate(y):
        img = make_image(i, size=(24, 24))
        img[..., 0 if label == "red" else 2] = 255
        images.append(img)
    images[5] = None
    df = pd.DataFrame(
        {
            "photo": images,
            "price": rng.normal(size=n) + (y == "red"),
            "weight": rng.normal(size=n),
        }
    )
    union = MultimodalUnion(
        [
            (
                "image",
                ImageEncoder(TINY_IMAGE_MODEL, pretrained=False, device="cpu"),
                "photo",
            ),
            ("tab", StandardScaler(), ["price", "weight"]),
        ]
    ).set_output(transform="pandas")
    pipe = make_pipeline(
        union, FusionClassifier(max_epochs=15, random_state=0, device="cpu")
    )
    search = GridSearchCV(
        pipe,
        {
            "fusionclassifier__fusion": ["concat", "attention"],
            "fusionclassifier__hidden": [8, 16],
        },
        cv=2,
    ).fit(df, y)
    assert len(search.cv_results_["params"]) == 4
    head = search.best_estimator_[-1]
    assert head.layout_.names == ("image", "tab")
    assert head.layout_.indicators[0] is not None  # image__missing is an indicator
    assert search.predict(df).shape == (n,)
    path = tmp_path / "search.joblib"
    joblib.dump(search.best_estimator_, path)
    np.testing.assert_allclose(
        joblib.load(path).predict_proba(df), search.predict_proba(df), atol=1e-6
    )


def test_union_output_indices_work_as_modalities():
    rng = np.random.default_rng(0)
    df = pd.DataFrame(rng.normal(size=(80, 5)), columns=list("abcde"))
    y = (df["a"] + df["d"] > 0).astype(int)
    union = ColumnTransformer(
        [("one", StandardScaler(), ["a", "b", "c"]), ("two", "passthrough", ["d", "e"])]
    ).fit(df)
    clf = FusionClassifier(
        hidden=8, max_epochs=5, modalities=union.output_indices_, device="cpu"
    ).fit(union.transform(df), y)
    assert clf.layout_.names == ("one", "two")  # empty "remainder" entry skipped


@pytest.mark.parametrize("fusion", ["concat", "transformer", "late"])
def test_joblib_round_trip_in_a_fresh_process(tmp_path, fusion):
    X, y = _two_modalities(n=100)
    clf = FusionClassifier(fusion, hidden=8, max_epochs=3, random_state=0)
    clf.set_params(device="cpu").fit(X, y)
    np.save(tmp_path / "a.npy", X["a"])
    np.save(tmp_path / "b.npy", X["b"])
    np.save(tmp_path / "expected.npy", clf.predict_proba(X))
    joblib.dump(clf, tmp_path / "model.joblib")
    run_python(
        "-c",
        textwrap.dedent(
            f"""
            import joblib, numpy as np
            d = {str(tmp_path)!r}
            clf = joblib.load(d + "/model.joblib")
            X = {{"a": np.load(d + "/a.npy"), "b": np.load(d + "/b.npy")}}
            np.testing.assert_allclose(
                clf.predict_proba(X), np.load(d + "/expected.npy"), atol=1e-6
            )
            """
        ),
    )


def test_a_head_saved_on_gpu_loads_on_a_cpu_only_machine(tmp_path):
    """skorch records the device in the pickle; a CUDA-trained head (simulated by
    recording device "cuda") must load and predict where there is no CUDA."""
    X, y = _two_modalities(n=100)
    clf = FusionClassifier(hidden=8, max_epochs=2, random_state=0, device="cpu")
    clf.fit(X, y)
    expected = clf.predict_proba(X)
    clf.net_.device = "cuda"
    clf.device_ = "cuda"
    joblib.dump(clf, tmp_path / "gpu.joblib")
    np.save(tmp_path / "expected.npy", expected)
    np.save(tmp_path / "a.npy", X["a"])
    np.save(tmp_path / "b.npy", X["b"])
    run_python(
        "-c",
        textwrap.dedent(
            f"""
            import os, warnings
            os.environ["CUDA_VISIBLE_DEVICES"] = ""
            import joblib, numpy as np
            d = {str(tmp_path)!r}
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # skorch says it moved to the CPU
                clf = joblib.load(d + "/gpu.joblib")
            assert clf.device_ == "cpu", clf.device_
            X = {{"a": np.load(d + "/a.npy"), "b": np.load(d + "/b.npy")}}
            np.testing.assert_allclose(
                clf.predict_proba(X), np.load(d + "/expected.npy"), atol=1e-6
            )
            """
        ),
    )
