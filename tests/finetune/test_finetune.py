"""FineTuneClassifier / FineTuneRegressor: the scikit-learn contract, the cached
prefix, and fitted encoders that carry the trained weights."""

from __future__ import annotations

import pickle

import joblib
import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.base import clone
from sklearn.metrics import log_loss
from sklearn.preprocessing import StandardScaler
from sklearn.utils._param_validation import InvalidParameterError

from skmm import (
    EmbeddingCache,
    FineTuneClassifier,
    FineTuneRegressor,
    ImageEncoder,
    MultimodalUnion,
    TextEncoder,
)
from skmm._torch import seed_from
from skmm.exceptions import OutOfMemoryWarning
from skmm.finetune import (
    Backbone,
    clear_activation_store,
    n_blocks,
    split_backbone,
)
from skmm.fusion._modules import FUSIONS

N = 24
WORDS = ["red", "blue", "dress", "shirt", "soft", "rough", "great", "bad"]


def _frame(df_module=None, n=N, seed=0):
    rng = np.random.default_rng(seed)
    y = np.array([0, 1] * (n // 2))
    photos = [
        np.full((20, 20, 3), 40 + 150 * label, dtype=np.uint8)
        + rng.integers(0, 30, (20, 20, 3), dtype=np.uint8)
        for label in y
    ]
    texts = [
        " ".join(rng.choice(WORDS[4 * label : 4 * label + 4], size=3)) for label in y
    ]
    photos[1] = None  # missing modalities are masked
    texts[2] = None
    data = {
        "photo": photos,
        "review": texts,
        "price": rng.normal(size=n) + y,
    }
    if df_module is None or df_module.__name__ == "pandas":
        return pd.DataFrame(data), y
    return df_module.DataFrame(data, schema_overrides={"photo": df_module.Object}), y


def _union(text_model, image_model="test_efficientnet", **text):
    return MultimodalUnion(
        [
            (
                "image",
                ImageEncoder(image_model, pretrained=False, device="cpu"),
                "photo",
            ),
            ("text", TextEncoder(text_model, device="cpu", **text), "review"),
            ("tab", StandardScaler(), ["price"]),
        ]
    )


def _model(text_model, image_model="test_efficientnet", **params):
    params = {
        "max_epochs": 3,
        "hidden": 8,
        "device": "cpu",
        "random_state": 0,
        **params,
    }
    return FineTuneClassifier(_union(text_model, image_model), **params)


@pytest.mark.parametrize("model", ["test_efficientnet", "test_convnext", "test_vit"])
def test_split_image_backbone_gives_the_encoders_vectors(model):
    images = [
        np.random.default_rng(i).integers(0, 256, (30, 20, 3), np.uint8)
        for i in range(3)
    ]
    encoder = ImageEncoder(model, pretrained=False, device="cpu").fit(images)
    for k in (1, n_blocks(encoder)):
        backbone = split_backbone(encoder, k, "cpu")
        with torch.no_grad():
            got = backbone.top(backbone.prefix(images)).numpy()
        np.testing.assert_allclose(got, encoder.transform(images), atol=1e-5)


def test_split_text_backbone_gives_the_encoders_vectors(two_layer_text_model):
    texts = ["red dress", "a much longer review of a blue shirt, soft", "x"]
    for normalize in (False, True):
        encoder = TextEncoder(two_layer_text_model, normalize=normalize, device="cpu")
        encoder.fit(texts)
        backbone = split_backbone(encoder, 1, "cpu")
        activations = backbone.prefix(texts)
        # Token-level hidden states of the real tokens only (no padding).
        assert [a.shape for a in activations] == [
            backbone.activation_shape(t) for t in texts
        ]
        with torch.no_grad():
            got = backbone.top(activations).numpy()
        np.testing.assert_allclose(got, encoder.transform(texts), atol=1e-5)


def test_k_out_of_range_names_the_range(two_layer_text_model):
    encoder = TextEncoder(two_layer_text_model, device="cpu").fit(["a"])
    with pytest.raises(ValueError, match=r"k=3 .* has 2 blocks; k must be in \[0, 2\]"):
        split_backbone(encoder, 3, "cpu")
    with pytest.raises(InvalidParameterError, match="'k'"):
        _model(two_layer_text_model, k=-1).fit(*_frame())


def test_fit_predict_on_pandas_and_polars(df_module, two_layer_text_model):
    X, y = _frame(df_module)
    model = _model(two_layer_text_model).fit(X, y)
    assert model.finetuned_blocks_ == ["image", "text"]
    proba = model.predict_proba(X)
    assert proba.shape == (N, 2) and np.allclose(proba.sum(axis=1), 1)
    assert set(model.predict(X)) <= {0, 1}
    # The first epoch warms the head up alone, then the backbones train.
    assert [r["backbone_trained"] for r in model.history_][:2] == [False, True]


def test_fitted_encoders_carry_the_trained_weights(two_layer_text_model):
    X, y = _frame()
    model = _model(two_layer_text_model, backbone_lr=1e-2, early_stopping=False).fit(
        X, y
    )
    for name, column in (("image", "photo"), ("text", "review")):
        tuned = model.union_.named_transformers_[name]
        fresh = clone(tuned).fit(X[[column]])
        assert tuned.model_.weights_digest() != fresh.model_.weights_digest()
        assert tuned._cache_key()[0] != fresh._cache_key()[0]
        values = X[[column]].iloc[:4]
        assert not np.allclose(
            tuned.transform(values), fresh.transform(values), equal_nan=True
        )
    # The registry's pretrained model is untouched by training.
    fresh = ImageEncoder("test_efficientnet", pretrained=False, device="cpu")
    assert (
        fresh.fit(X[["photo"]]).model_
        is not model.union_.named_transformers_["image"].model_
    )


def test_warmup_only_leaves_the_backbones_pretrained(two_layer_text_model):
    X, y = _frame()
    model = _model(two_layer_text_model, warmup_epochs=5, max_epochs=2)
    with pytest.warns(UserWarning, match="warmup_epochs=5 >= max_epochs=2"):
        model.fit(X, y)
    assert model.finetuned_blocks_ == []  # issue 26: it listed both blocks
    tuned = model.union_.named_transformers_["text"]
    fresh = clone(tuned).fit(X[["review"]])
    assert tuned.model_.weights_digest() == fresh.model_.weights_digest()


def test_prefix_runs_once_per_item_across_epochs_and_fits(
    monkeypatch, two_layer_text_model
):
    clear_activation_store()
    calls = []
    prefix = Backbone.prefix

    def counting(self, values):
        calls.append(len(values))
        return prefix(self, values)

    monkeypatch.setattr(Backbone, "prefix", counting)
    X, y = _frame()
    model = _model(two_layer_text_model, max_epochs=4, early_stopping=False).fit(X, y)
    assert model.n_epochs_ == 4
    distinct_texts = X["review"].dropna().nunique()
    assert sum(calls) == (N - 1) + distinct_texts  # one missing photo
    calls.clear()
    clone(model).fit(X, y)  # another fold, a grid-search candidate
    assert calls == []


def test_prefix_activations_are_in_the_embedding_cache(
    monkeypatch, tmp_path, two_layer_text_model
):
    cache = EmbeddingCache(tmp_path)
    union = _union(two_layer_text_model)
    union.set_params(image__cache=cache, text__cache=cache)
    X, y = _frame()
    clear_activation_store()
    FineTuneClassifier(union, max_epochs=1, device="cpu", random_state=0).fit(X, y)
    calls = []
    monkeypatch.setattr(Backbone, "prefix", lambda self, v: calls.append(v))
    clear_activation_store()  # a new process: only the disk has them
    FineTuneClassifier(union, max_epochs=1, device="cpu", random_state=0).fit(X, y)
    assert calls == []


def test_random_state_repeats_and_leaves_global_rng(two_layer_text_model):
    X, y = _frame()
    torch_state = torch.random.get_rng_state()
    numpy_state = np.random.get_state()[1].copy()  # noqa: NPY002
    a = _model(two_layer_text_model).fit(X, y).predict_proba(X)
    b = _model(two_layer_text_model).fit(X, y).predict_proba(X)
    np.testing.assert_array_equal(a, b)
    assert torch.equal(torch.random.get_rng_state(), torch_state)
    assert (np.random.get_state()[1] == numpy_state).all()  # noqa: NPY002


def test_joblib_roundtrip_keeps_one_copy_of_each_backbone(
    tmp_path, two_layer_text_model
):
    X, y = _frame()
    model = _model(two_layer_text_model, image_model="test_vit").fit(X, y)
    path = tmp_path / "model.joblib"
    joblib.dump(model, path)
    loaded = joblib.load(path)
    np.testing.assert_allclose(
        loaded.predict_proba(X), model.predict_proba(X), atol=1e-6
    )
    weights = sum(
        len(pickle.dumps(model.union_.named_transformers_[name].model_.export()))
        for name in ("image", "text")
    )
    assert path.stat().st_size < 1.3 * weights


def test_clone_and_params(two_layer_text_model):
    model = _model(two_layer_text_model, k={"text": 2}, fusion="gated")
    copy = clone(model)
    assert copy.get_params()["k"] == {"text": 2}
    assert copy.set_params(lr=0.01).lr == 0.01
    X, y = _frame()
    fitted = copy.fit(X, y)
    assert fitted.finetuned_blocks_ == ["text"]
    with pytest.raises(ValueError, match="k names unknown blocks"):
        clone(model).set_params(k={"photo": 1}).fit(X, y)
    with pytest.raises(TypeError, match="raw frame"):
        clone(model).fit(X.to_numpy(), y)


@pytest.mark.parametrize("fusion", sorted(FUSIONS))
def test_every_fusion_type_trains(fusion):
    X, y = _frame()
    union = MultimodalUnion(
        [
            (
                "image",
                ImageEncoder("test_convnext", pretrained=False, device="cpu"),
                "photo",
            ),
            ("tab", StandardScaler(), ["price"]),
        ]
    )
    model = FineTuneClassifier(
        union,
        fusion,
        hidden=8,
        n_heads=2,
        warmup_epochs=0,
        max_epochs=1,
        early_stopping=False,
        device="cpu",
        random_state=0,
    ).fit(X, y)
    assert model.history_[0]["backbone_trained"]
    assert model.predict_proba(X).shape == (N, 2)


def test_regressor(two_layer_text_model):
    X, y = _frame()
    target = X["price"].to_numpy() * 3
    model = FineTuneRegressor(
        _union(two_layer_text_model), max_epochs=2, device="cpu", random_state=0
    ).fit(X, target)
    assert model.predict(X).shape == (N,)


def test_lora_trains_adapters_and_merges_them(two_layer_text_model):
    X, y = _frame()
    encoder = TextEncoder(two_layer_text_model, device="cpu").fit(X[["review"]])
    plain = split_backbone(encoder, 1, "cpu")
    state = torch.random.get_rng_state()
    lora = split_backbone(encoder, 1, "cpu", lora_rank=2, seed=3)
    assert torch.equal(torch.random.get_rng_state(), state)  # global RNG untouched
    again = split_backbone(encoder, 1, "cpu", lora_rank=2, seed=3)
    other = split_backbone(encoder, 1, "cpu", lora_rank=2, seed=4)
    pairs = zip(lora.parameters, again.parameters, strict=True)
    assert all(torch.equal(a, b) for a, b in pairs)  # seeded by `seed`
    pairs = zip(lora.parameters, other.parameters, strict=True)
    assert not all(torch.equal(a, b) for a, b in pairs)
    assert (
        0
        < sum(p.numel() for p in lora.parameters)
        < sum(p.numel() for p in plain.parameters)
    )
    model = _model(
        two_layer_text_model,
        k={"text": 1},
        lora_rank=2,
        backbone_lr=1e-2,
        early_stopping=False,
    ).fit(X, y)
    tuned = model.union_.named_transformers_["text"]
    module = tuned.model_.torch_module  # merged: the plain architecture, no peft
    assert not any(type(m).__module__.startswith("peft") for m in module.modules())
    assert b"peft" not in pickle.dumps(module)
    fresh = clone(tuned).fit(X[["review"]])
    assert module.state_dict().keys() == fresh.model_.torch_module.state_dict().keys()
    assert tuned.model_.weights_digest() != fresh.model_.weights_digest()
    with pytest.raises(ValueError, match="no linear layer"):
        _model(two_layer_text_model, k={"image": 1}, lora_rank=2).fit(X, y)


def test_bf16_autocast_trains_on_cpu(two_layer_text_model):
    X, y = _frame()
    model = _model(
        two_layer_text_model, precision="bf16", max_epochs=2, early_stopping=False
    ).fit(X, y)
    assert model.precision_ == "bf16"
    assert np.isfinite(model.history_[-1]["train_loss"])
    assert np.isfinite(model.predict_proba(X)).all()


def test_bad_value_names_column_and_row(two_layer_text_model):
    X, y = _frame()
    X.loc[5, "photo"] = "/no/such/photo.jpg"
    with pytest.raises(ValueError, match=r"column 'photo', row 5.*no/such/photo"):
        _model(two_layer_text_model).fit(X, y)


def test_out_of_memory_halves_the_batch(monkeypatch, two_layer_text_model):
    top = Backbone.top

    def small_device(self, activations, **options):
        if len(activations) > 6:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory (simulated)")
        return top(self, activations, **options)

    monkeypatch.setattr(Backbone, "top", small_device)
    X, y = _frame()
    model = _model(
        two_layer_text_model, batch_size=24, warmup_epochs=0, early_stopping=False
    )
    with pytest.warns(OutOfMemoryWarning) as caught:
        model.fit(X, y)
    assert [str(w.message).split(": ", 1)[1] for w in caught] == [
        "cpu ran out of memory at batch size 24; retrying with 12",
        "cpu ran out of memory at batch size 12; retrying with 6",
    ]
    assert model.batch_size_ == 6 and model.n_epochs_ == 3


def test_early_stopping_keeps_the_best_epochs_head_and_backbones(
    two_layer_text_model,
):
    """The fitted model (head and fine-tuned encoders) is the best epoch's: its
    loss on the held-out rows is the best validation loss of the history."""
    X, y = _frame(n=40, seed=1)
    model = _model(
        two_layer_text_model,
        lr=0.05,
        backbone_lr=1e-2,
        warmup_epochs=0,
        patience=1,
        max_epochs=8,
    ).fit(X, y)
    losses = [r["valid_loss"] for r in model.history_]
    assert model.n_epochs_ < 8  # stopped: the last epoch was not the best
    best = int(np.argmin(losses))
    assert best == model.n_epochs_ - 2 and losses[-1] > 1.5 * losses[best]
    _, valid = model._validation_split(y[:, None].astype(float), len(y), seed_from(0))
    proba = model.predict_proba(X.iloc[valid])
    assert log_loss(y[valid], proba, labels=[0, 1]) == pytest.approx(
        losses[best], rel=0.01
    )


def test_verbose_prints_the_epoch_table(capsys, two_layer_text_model):
    X, y = _frame()
    _model(two_layer_text_model, k={"text": 1}, max_epochs=2).fit(X, y)
    assert capsys.readouterr().out == ""  # verbose=0: at most a bar on stderr
    _model(two_layer_text_model, k={"text": 1}, max_epochs=2, verbose=1).fit(X, y)
    table = capsys.readouterr().out.splitlines()
    assert table[0].split() == [
        "epoch",
        "backbone_trained",
        "train_loss",
        "valid_loss",
        "dur",
    ]
    assert [line.split()[0] for line in table[2:4]] == ["1", "2"]
