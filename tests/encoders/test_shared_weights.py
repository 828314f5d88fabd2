"""One copy of a model's weights per saved file, however many encoders share it."""

import io
import pickle

import joblib
import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline

from skmm import TextEncoder


def _dump(obj) -> bytes:
    buffer = io.BytesIO()
    joblib.dump(obj, buffer)
    return buffer.getvalue()


def _data():
    X = pd.DataFrame(
        {
            "title": ["red dress", "tax law", "blue shirt", "court ruling"] * 3,
            "text": ["summer wear", "legal text", "cotton top", "a judge"] * 3,
        }
    )
    return X, np.array([0, 1, 0, 1] * 3)


def _pipeline(model: str):
    union = ColumnTransformer(
        [
            ("title", TextEncoder(model, device="cpu"), "title"),
            ("text", TextEncoder(model, device="cpu", max_length=16), "text"),
        ]
    )
    return make_pipeline(union, LogisticRegression())


def test_two_encoders_on_one_model_save_one_copy(tiny_text_model):
    X, y = _data()
    pipe = _pipeline(tiny_text_model).fit(X, y)
    encoders = [pipe[0].named_transformers_[name] for name in ("title", "text")]
    assert encoders[0].model_ is encoders[1].model_  # one registry entry
    single = len(_dump(encoders[0]))
    saved = _dump(pipe)
    assert single > 1_000_000  # the weights are in it
    assert len(saved) < 1.1 * single

    loaded = joblib.load(io.BytesIO(saved))
    title, text = (loaded[0].named_transformers_[n] for n in ("title", "text"))
    assert title.model_ is text.model_  # still one model in memory
    np.testing.assert_array_equal(loaded.predict_proba(X), pipe.predict_proba(X))
    # Saved again, the loaded pair still writes one copy.
    assert len(pickle.dumps(loaded)) < 1.1 * single


def test_encoders_saved_in_separate_files_each_hold_the_weights(tiny_text_model):
    X, _ = _data()
    first = TextEncoder(tiny_text_model, device="cpu").fit(X["title"])
    second = TextEncoder(tiny_text_model, device="cpu", max_length=16).fit(X["text"])
    files = [_dump(first), _dump(second)]
    assert min(map(len, files)) > 1_000_000
    for data, encoder, column in zip(
        files, (first, second), ("title", "text"), strict=True
    ):
        loaded = joblib.load(io.BytesIO(data))
        np.testing.assert_array_equal(
            loaded.transform(X[column]), encoder.transform(X[column])
        )


def test_a_changed_copy_of_shared_weights_is_not_taken_for_the_original(
    tiny_text_model,
):
    encoder = TextEncoder(tiny_text_model, device="cpu").fit(["x"])
    state = encoder.__getstate__()
    files = dict(state["_saved_weights"]["files"])
    name = next(n for n in files if n.endswith(".safetensors"))
    files[name] = files[name][:-8] + b"\x00" * 8  # eight bytes of one tensor changed
    state["_saved_weights"] = {**state["_saved_weights"], "files": files}
    restored = TextEncoder.__new__(TextEncoder)
    restored.__setstate__(state)
    # Keyed by the digest of what was saved: its own model, not the original's.
    assert restored.model_ is not encoder.model_
    assert restored.model_.weights_digest() != encoder.model_.weights_digest()
