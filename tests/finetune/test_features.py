"""FineTunedEmbeddings: out-of-fold fine-tuned features, their names in a union,
the pipeline's ``preset="best"``, and ``time_limit``."""

from __future__ import annotations

import joblib
import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.preprocessing import StandardScaler
from sklearn.utils._param_validation import InvalidParameterError

import skmm
from skmm import (
    FineTuneClassifier,
    FineTunedEmbeddings,
    FineTuneRegressor,
    MultimodalUnion,
    TextEncoder,
)
from skmm.exceptions import SkmmWarning
from skmm.finetune import _features

WORDS = ["red", "blue", "dress", "shirt", "soft", "rough", "great", "bad"]


def _frame(n=24, seed=0):
    """Two text columns whose words follow the label; a few missing values."""
    rng = np.random.default_rng(seed)
    y = np.array([0, 1] * (n // 2))
    review = [" ".join(rng.choice(WORDS[4 * t : 4 * t + 4], size=4)) for t in y]
    title = [" ".join(rng.choice(WORDS[4 * t : 4 * t + 4], size=2)) for t in y]
    review[2] = None
    title[5] = None
    X = pd.DataFrame({"review": review, "title": title})
    X.index = [f"r{i}" for i in range(n)]  # labels, to follow the rows
    return X, y


def _tuned(text_model, **params):
    params = {
        "n_components": 3,
        "cv": 2,
        "max_epochs": 2,
        "batch_size": 8,
        "device": "cpu",
        "random_state": 0,
        **params,
    }
    return FineTunedEmbeddings(TextEncoder(text_model, device="cpu"), **params)


class _Recording(FineTuneClassifier):
    """Records the rows (index labels) each fine-tuning fit trained on."""

    fits: list = []

    def fit(self, X, y):
        type(self).fits.append(list(X.index))
        return super().fit(X, y)


@pytest.fixture
def recording(monkeypatch):
    _Recording.fits = []
    monkeypatch.setattr(_features, "FineTuneClassifier", _Recording)
    return _Recording


def test_a_rows_features_come_from_an_encoder_that_never_trained_on_it(
    two_layer_text_model, recording
):
    X, y = _frame()
    tuned = _tuned(two_layer_text_model, cv=3)
    out = tuned.fit_transform(X, y)
    # The full fit first, then one per fold.
    assert len(recording.fits) == 4
    assert sorted(recording.fits[0]) == sorted(X.index)
    tested = np.concatenate([test for _, test in tuned.folds_])
    assert sorted(tested) == list(range(len(X)))  # each row out of fold once
    for fit_rows, (train, test) in zip(recording.fits[1:], tuned.folds_, strict=True):
        assert fit_rows == list(X.index[train])
        assert not set(fit_rows) & set(X.index[test])
    assert out.shape == (len(X), 2 * 3)
    # As TargetEncoder: the cross-fitted features are not the full fit's.
    full = tuned.transform(X)
    assert full.shape == out.shape
    assert not np.allclose(np.nan_to_num(out), np.nan_to_num(full))
    assert tuned.fallback_ is None
    assert len(tuned.fit_seconds_) == 4


def test_fit_alone_fine_tunes_once_and_transforms_with_it(
    two_layer_text_model, recording, tmp_path
):
    X, y = _frame()
    tuned = _tuned(two_layer_text_model).fit(X, y)
    assert len(recording.fits) == 1
    assert tuned.folds_ == []
    assert isinstance(tuned.finetuner_, FineTuneClassifier)
    assert tuned.union_ is tuned.finetuner_.union_
    out = tuned.transform(X)
    assert out.shape == (len(X), 6)
    # Saved and loaded (as skmm fit saves a pipeline): the same features.
    path = tmp_path / "tuned.joblib"
    joblib.dump(tuned, path)
    np.testing.assert_allclose(joblib.load(path).transform(X), out, equal_nan=True)


def test_missing_column_gives_nan_components_and_nothing_else(two_layer_text_model):
    X, y = _frame()
    tuned = _tuned(two_layer_text_model)
    for out in (tuned.fit_transform(X, y), tuned.transform(X)):
        review, title = out[:, :3], out[:, 3:]
        assert np.isnan(review[2]).all() and not np.isnan(np.delete(review, 2, 0)).any()
        assert np.isnan(title[5]).all() and not np.isnan(np.delete(title, 5, 0)).any()


def test_in_a_union_the_block_is_an_embedding_block(two_layer_text_model):
    from skmm.ensemble._views import is_embedding_block

    X, y = _frame()
    X["price"] = np.arange(len(X), dtype=float)
    union = MultimodalUnion(
        [
            ("text", TextEncoder(two_layer_text_model, device="cpu"), ["review"]),
            ("text_tuned", _tuned(two_layer_text_model), ["review", "title"]),
            ("tab", StandardScaler(), ["price"]),
        ]
    ).set_output(transform="pandas")
    out = union.fit_transform(X, y)
    tuned = [c for c in out.columns if c.startswith("text_tuned__")]
    assert tuned == [f"text_tuned__{i:04d}" for i in range(6)]
    assert is_embedding_block(tuned)
    assert union.transform(X).shape == out.shape


def test_a_continuous_target_fine_tunes_a_regressor(two_layer_text_model):
    X, y = _frame()
    target = y + np.random.default_rng(0).normal(0, 0.1, len(y))
    tuned = _tuned(two_layer_text_model).fit(X, target)
    assert isinstance(tuned.finetuner_, FineTuneRegressor)
    with pytest.raises(ValueError, match="1d array"):
        _tuned(two_layer_text_model).fit(X, np.c_[target, target])


class _Clock:
    """A fake clock: time moves only when a test moves it."""

    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


@pytest.fixture
def clock(monkeypatch):
    fake = _Clock()
    monkeypatch.setattr(_features, "_clock", fake)
    return fake


def test_time_limit_too_short_for_any_fine_tuning_falls_back_to_frozen(
    two_layer_text_model, clock, monkeypatch, recording
):
    monkeypatch.setattr(FineTunedEmbeddings, "_probe", lambda self, X: 1.0)
    X, y = _frame()
    tuned = _tuned(two_layer_text_model, time_limit=10)
    with pytest.warns(SkmmWarning, match="estimated at .* time_limit=10"):
        out = tuned.fit_transform(X, y)
    assert recording.fits == []  # nothing fine-tuned
    assert tuned.finetuner_ is None and "time_limit=10" in tuned.fallback_
    # The same frozen features for every row, in fit_transform and transform.
    np.testing.assert_allclose(out, tuned.transform(X), equal_nan=True)
    assert out.shape == (len(X), 6)


def test_time_limit_reached_after_the_full_fit_falls_back_for_every_row(
    two_layer_text_model, clock, monkeypatch
):
    vectors = _features._tuned_vectors

    def slow_vectors(finetuner, X):
        clock.now += 100.0  # each fit's vectors take 100 s
        return vectors(finetuner, X)

    monkeypatch.setattr(_features, "_tuned_vectors", slow_vectors)
    monkeypatch.setattr(FineTunedEmbeddings, "_probe", lambda self, X: 0.0)
    X, y = _frame()
    tuned = _tuned(two_layer_text_model, time_limit=150)
    with pytest.warns(SkmmWarning, match="after 1 of 3 fine-tuning fits"):
        out = tuned.fit_transform(X, y)
    assert tuned.finetuner_ is None and tuned.fallback_.startswith("after 1 of 3")
    np.testing.assert_allclose(out, tuned.transform(X), equal_nan=True)


@pytest.mark.parametrize(
    "params",
    [
        {"n_components": 0},
        {"cv": 1},
        {"max_epochs": 1},
        {"k": 0},
        {"target_type": "ordinal"},
        {"time_limit": 0},
        {"backbone_lr": 0.0},
    ],
)
def test_bad_parameters_are_refused_before_fitting(params, recording):
    X, y = _frame()
    tuned = FineTunedEmbeddings(TextEncoder(device="cpu"), **params)
    with pytest.raises(InvalidParameterError):
        tuned.fit_transform(X, y)
    assert recording.fits == []


def test_bad_inputs_say_what_is_wrong(two_layer_text_model):
    X, y = _frame()
    with pytest.raises(TypeError, match="ImageEncoder or a TextEncoder"):
        FineTunedEmbeddings(StandardScaler()).fit(X, y)
    with pytest.raises(TypeError, match="raw frame"):
        _tuned(two_layer_text_model).fit(X.to_numpy(), y)
    with pytest.raises(ValueError, match="requires y"):
        _tuned(two_layer_text_model).fit_transform(X)
    with pytest.raises(ValueError, match="24 rows but y has 3"):
        _tuned(two_layer_text_model).fit(X, y[:3])


def test_pipeline_best_preset_adds_a_tuned_block_and_splits_time_limit(
    two_layer_text_model,
):
    X, y = _frame(n=40)
    X["price"] = np.arange(len(X), dtype=float)
    encoder = TextEncoder(two_layer_text_model, device="cpu")
    pipe = skmm.make_multimodal_pipeline(
        X,
        y,
        head="ensemble",
        preset="best",
        time_limit=600,
        types={"review": "text", "title": "text"},
        encoders={"text": encoder},
        device="cpu",
    )
    union, ensemble = pipe[0], pipe[-1]
    blocks = {name: (t, c) for name, t, c in union.transformers}
    tuned, columns = blocks["text_tuned"]
    assert isinstance(tuned, FineTunedEmbeddings)
    assert columns == blocks["text"][1] == ["review", "title"]
    assert tuned.encoder.get_params() == encoder.get_params()
    assert tuned.time_limit == 300 and ensemble.time_limit == 300
    assert ensemble.preset == "best"
    # A plain scikit-learn estimator: cloned and its parameters reachable.
    copy = clone(pipe)
    assert copy.get_params()["multimodalunion__text_tuned__n_components"] == 30
    # Fitted end to end (one cheap candidate): the ensemble reads the block.
    copy.set_params(
        multimodalunion__text_tuned__cv=2,
        multimodalunion__text_tuned__n_components=3,
        multimodalunion__text_tuned__max_epochs=2,
        ensembleclassifier__candidates=[
            ("trees", HistGradientBoostingClassifier(max_iter=10), "text_tuned")
        ],
        ensembleclassifier__cv=2,
        ensembleclassifier__verbose=0,
    )
    copy.fit(X, y)
    assert list(copy[-1].layout_.names) == ["text", "numbers", "text_tuned"]
    assert copy.predict(X).shape == (40,)


def test_pipeline_default_preset_adds_nothing_and_other_heads_refuse_it(
    two_layer_text_model,
):
    X, y = _frame()
    types = {"review": "text", "title": "text"}
    plain = skmm.make_multimodal_pipeline(
        X, y, head="ensemble", time_limit=60, types=types
    )
    assert [name for name, _, _ in plain[0].transformers] == ["text"]
    assert plain[-1].time_limit == 60 and plain[-1].preset == "default"
    with pytest.raises(ValueError, match="preset= is the ensemble's"):
        skmm.make_multimodal_pipeline(X, y, preset="best")
    with pytest.raises(ValueError, match="time_limit= is the ensemble's"):
        skmm.make_multimodal_pipeline(X, y, head="fusion", time_limit=60)


def test_more_components_than_rows_or_width_are_capped(two_layer_text_model):
    X, y = _frame()
    tuned = _tuned(two_layer_text_model, n_components=500).fit(X, y)
    # At most the 24 rows (the encoder's width is 32); the title column, missing
    # in one row, has 23 rows for 24 components: the last one is 0.
    assert tuned.n_components_ == 24
    out = tuned.transform(X)
    assert out.shape == (24, 48)
    assert np.isnan(out).sum() == 2 * 24  # the two rows missing a column
    np.testing.assert_array_equal(np.delete(out[:, -1], 5), 0.0)
