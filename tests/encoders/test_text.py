import numpy as np
import pandas as pd
import pytest

from skmm import TextEncoder
from skmm.exceptions import UnreadableValuesWarning


@pytest.fixture
def encoder(minilm_path):
    def make(**params):
        params.setdefault("device", "cpu")
        return TextEncoder(minilm_path, **params)

    return make


def test_shape_dtype_and_semantics(encoder):
    texts = ["a red summer dress", "a crimson dress for summer", "tax law of 1987"]
    X = encoder().fit_transform(texts)
    assert X.shape == (3, 384) and X.dtype == np.float32
    similar, unrelated = X[0] @ X[1], X[0] @ X[2]
    assert similar > unrelated + 0.3


def test_default_name_uses_the_packaged_minilm(minilm_path):
    X_default = TextEncoder(device="cpu").fit_transform(["hello"])
    X_path = TextEncoder(minilm_path, device="cpu").fit_transform(["hello"])
    np.testing.assert_array_equal(X_default, X_path)


def test_missing_values_give_nan_rows_and_empty_text_is_text(encoder):
    X = encoder().fit_transform(pd.Series(["nice", None, np.nan, pd.NA, ""]))
    assert np.isnan(X[1:4]).all()
    assert np.isfinite(X[[0, 4]]).all()


def test_each_distinct_text_is_encoded_once(encoder, monkeypatch):
    enc = encoder().fit(["x"])
    model = enc.model_.model
    seen = []
    original = model.encode

    def spy(texts, **kwargs):
        seen.append(list(texts))
        return original(texts, **kwargs)

    monkeypatch.setattr(model, "encode", spy)
    X = enc.transform(["b", "a", "b", None, "a", "c"])
    assert seen == [["b", "a", "c"]]
    np.testing.assert_array_equal(X[0], X[2])
    np.testing.assert_array_equal(X[1], X[4])
    fresh = encoder().fit(["x"])
    monkeypatch.setattr(model, "encode", original)
    np.testing.assert_allclose(X[5], fresh.transform(["c"])[0], atol=1e-6)


def test_normalize(encoder):
    X = encoder(normalize=True).fit_transform(["one text", "another, longer text"])
    np.testing.assert_allclose(np.linalg.norm(X, axis=1), 1.0, atol=1e-5)


def test_max_length_truncates_and_restores_the_shared_model(encoder):
    long = "the fit is good " * 50 + "but the colour is awful"
    short_enc = encoder(max_length=8).fit([long])
    model = short_enc.model_.model
    before = model.max_seq_length
    X_short = short_enc.transform([long, "the fit is good the fit"])
    assert model.max_seq_length == before
    X_full = encoder().fit_transform([long])
    assert np.abs(X_short[0] - X_full[0]).max() > 1e-3
    # 8 tokens of the long text are the same 8 tokens as the short one.
    np.testing.assert_allclose(X_short[0], X_short[1], atol=1e-5)


@pytest.mark.parametrize("value", [3, 2.5, b"bytes", ["a", "list"]])
def test_non_text_value_error_names_column_row_and_value(encoder, value):
    X = pd.DataFrame({"review": ["fine", None, value]})
    with pytest.raises(ValueError) as info:
        encoder().fit_transform(X)
    message = str(info.value)
    assert "column 'review', row 2" in message
    assert repr(value)[:10] in message and "expected a str" in message


def test_on_error_missing(encoder):
    with pytest.warns(UnreadableValuesWarning, match="1 value"):
        X = encoder(on_error="missing").fit_transform(["fine", 7, "good"])
    assert np.isnan(X[1]).all() and np.isfinite(X[[0, 2]]).all()


def test_invalid_max_length(encoder):
    with pytest.raises(ValueError, match="max_length"):
        encoder(max_length=0).fit(["a"])


def test_the_weights_digest_does_not_depend_on_what_was_tokenized(tiny_text_model):
    """Tokenizing with padding and truncation (as fine-tuning does) sets them on the
    tokenizer; a copy of such a model has the digest of one that never tokenized:
    the cache fingerprint follows the weights, not the call history."""
    import copy

    fresh = TextEncoder(tiny_text_model, device="cpu").fit(["a"]).model_
    module = copy.deepcopy(fresh.torch_module)
    module.tokenizer(["a text", "another one"], padding=True, truncation=True)
    assert fresh.with_module(module).weights_digest() == fresh.weights_digest()
