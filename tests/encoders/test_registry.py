"""Clones share one loaded model per process."""

import numpy as np
import pytest
import timm
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline

from skmm import ImageEncoder, MultimodalUnion, TextEncoder
from skmm.encoders import clear_model_registry
from tests.conftest import TINY_IMAGE_MODEL, make_image


@pytest.fixture
def count_timm_loads(monkeypatch):
    clear_model_registry()
    calls = []
    original = timm.create_model

    def counting(*args, **kwargs):
        calls.append(args[0] if args else kwargs.get("model_name"))
        return original(*args, **kwargs)

    monkeypatch.setattr(timm, "create_model", counting)
    return calls


def test_grid_search_clones_load_the_image_model_once(count_timm_loads):
    import pandas as pd

    X = pd.DataFrame({"photo": [make_image(i % 4) for i in range(12)]})
    y = np.array([0, 1] * 6)
    pipe = make_pipeline(
        MultimodalUnion(
            [
                (
                    "image",
                    ImageEncoder(TINY_IMAGE_MODEL, pretrained=False, device="cpu"),
                    "photo",
                )
            ]
        ),
        LogisticRegression(),
    )
    search = GridSearchCV(pipe, {"logisticregression__C": [0.1, 1.0, 10.0]}, cv=3)
    search.fit(X, y)  # 3 candidates x 3 folds + the refit: 10 fits
    assert count_timm_loads == [TINY_IMAGE_MODEL]


def test_parameters_that_change_the_model_load_another(count_timm_loads):
    base = ImageEncoder(TINY_IMAGE_MODEL, pretrained=False, device="cpu")
    base.fit([make_image(0)])
    clone(base).set_params(batch_size=2).fit([make_image(0)])
    assert len(count_timm_loads) == 1  # batch size does not change the model
    clone(base).set_params(model="test_resnet").fit([make_image(0)])
    assert count_timm_loads == [TINY_IMAGE_MODEL, "test_resnet"]


def test_text_clones_share_one_sentence_transformer(minilm_path, monkeypatch):
    import sentence_transformers

    clear_model_registry()
    loads = []
    original = sentence_transformers.SentenceTransformer

    def counting(*args, **kwargs):
        loads.append(args[0])
        return original(*args, **kwargs)

    monkeypatch.setattr(sentence_transformers, "SentenceTransformer", counting)
    first = TextEncoder(minilm_path, device="cpu").fit(["a"])
    second = clone(first).set_params(normalize=True, max_length=8).fit(["b"])
    assert len(loads) == 1
    assert first.model_ is second.model_
