"""Full fine-tuning (``k="all"``: no frozen prefix, nothing cached) and image
augmentation (``augment=True``: timm's random train transform, the prefix run on
every training batch)."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV
from sklearn.preprocessing import StandardScaler
from sklearn.utils._param_validation import InvalidParameterError

import skmm.finetune._backbones as backbones_module
from skmm import FineTuneClassifier, ImageEncoder, MultimodalUnion, TextEncoder
from skmm.finetune import Backbone, clear_activation_store, split_backbone
from tests.finetune.test_finetune import _frame, _model

N = 24


def _image_model(**params):
    union = MultimodalUnion(
        [
            (
                "image",
                ImageEncoder("test_efficientnet", pretrained=False, device="cpu"),
                "photo",
            ),
            ("tab", StandardScaler(), ["price"]),
        ]
    )
    params = {
        "hidden": 8,
        "warmup_epochs": 0,
        "max_epochs": 2,
        "early_stopping": False,
        "device": "cpu",
        "random_state": 0,
        **params,
    }
    return FineTuneClassifier(union, **params)


def _spy_prefix(monkeypatch) -> list:
    calls = []
    prefix = Backbone.prefix

    def counting(self, values):
        calls.append(("text" if self.is_text else "image", len(values)))
        return prefix(self, values)

    monkeypatch.setattr(Backbone, "prefix", counting)
    return calls


def _spy_train_transform(monkeypatch) -> list:
    """Each call of the augmented transform: (the image's bytes, the view)."""
    views = []
    make = backbones_module.train_transform

    def spying(data_config):
        transform = make(data_config)

        def recording(image):
            view = transform(image)
            views.append((image.tobytes(), view))
            return view

        return recording

    monkeypatch.setattr(backbones_module, "train_transform", spying)
    return views


def test_k_all_trains_every_parameter_and_caches_nothing(
    monkeypatch, two_layer_text_model
):
    clear_activation_store()
    calls = _spy_prefix(monkeypatch)
    X, y = _frame()
    model = _model(
        two_layer_text_model,
        k="all",
        backbone_lr=1e-2,
        warmup_epochs=0,
        max_epochs=2,
        early_stopping=False,
    ).fit(X, y)
    assert model.finetuned_blocks_ == ["image", "text"]
    assert calls == []  # no prefix, so no prefix store
    stems = {"image": ("photo", "conv_stem."), "text": ("review", "embeddings.")}
    for name, (column, stem) in stems.items():
        tuned = model.union_.named_transformers_[name]
        fresh = clone(tuned).fit(X[[column]])
        new = tuned.model_.torch_module.state_dict()
        old = fresh.model_.torch_module.state_dict()
        changed = [
            key for key in old if stem in key and not torch.equal(new[key], old[key])
        ]
        assert changed, f"{name}: no {stem}* parameter trained"
        values = X[[column]].iloc[3:7]
        assert not np.allclose(tuned.transform(values), fresh.transform(values))
    # The backbone's trained parameters (early stopping's best state) are all.
    encoder = clone(model.union_.named_transformers_["image"]).fit(X[["photo"]])
    full = split_backbone(encoder, "all", "cpu")
    assert full.raw and len(full.parameters) == len(list(full.module.parameters()))


def test_k_all_with_lora_adapts_every_linear_layer(two_layer_text_model):
    encoder = TextEncoder(two_layer_text_model, device="cpu").fit(["a"])
    n_linear = sum(
        isinstance(m, torch.nn.Linear) for m in encoder.model_.torch_module.modules()
    )
    lora = split_backbone(encoder, "all", "cpu", lora_rank=2)
    assert len(lora.parameters) == 2 * n_linear  # A and B of each linear layer
    texts = ["red dress", "a blue shirt"]
    with torch.no_grad():  # B = 0: the pretrained vectors at first
        np.testing.assert_allclose(
            lora.top(texts).numpy(), encoder.transform(texts), atol=1e-5
        )
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():  # a trained update, then merged into the weights
        for p in lora.parameters:
            p.add_(0.05 * torch.randn(p.shape, generator=generator))
        adapted = lora.top(texts).numpy()
    merged = lora.trained_model().torch_module
    assert not any(type(m).__module__.startswith("peft") for m in merged.modules())
    assert sum(isinstance(m, torch.nn.Linear) for m in merged.modules()) == n_linear
    with torch.no_grad():  # the merged plain model gives the adapted vectors
        np.testing.assert_allclose(lora.top(texts).numpy(), adapted, atol=1e-5)
    assert not np.allclose(adapted, encoder.transform(texts), atol=1e-3)


def test_augment_gives_new_views_each_epoch_without_the_cache(monkeypatch):
    clear_activation_store()
    calls = _spy_prefix(monkeypatch)
    views = _spy_train_transform(monkeypatch)
    X, y = _frame()
    model = _image_model(augment=True, warmup_epochs=1, max_epochs=3).fit(X, y)
    assert model.history_[0]["backbone_trained"] is False
    assert calls == []  # the image prefix is not cached
    # One view per photo per epoch that trained the backbone (not the warm-up).
    assert len(views) == (N - 1) * 2
    by_image: dict[bytes, list] = {}
    for image, view in views:
        by_image.setdefault(image, []).append(view)
    assert len(by_image) == N - 1
    for first, second in by_image.values():
        assert first.shape == second.shape and not torch.equal(first, second)

    # Without augment: no train transform, the prefix once per photo.
    views.clear()
    clear_activation_store()
    _image_model(augment=False, max_epochs=3).fit(X, y)
    assert views == [] and calls == [("image", 16), ("image", N - 1 - 16)]


def test_augment_with_random_state_repeats_and_leaves_global_rng():
    X, y = _frame()
    torch_state = torch.random.get_rng_state()
    numpy_state = np.random.get_state()[1].copy()  # noqa: NPY002
    python_state = random.getstate()
    a = _image_model(augment=True).fit(X, y).predict_proba(X)
    b = _image_model(augment=True).fit(X, y).predict_proba(X)
    np.testing.assert_array_equal(a, b)
    assert torch.equal(torch.random.get_rng_state(), torch_state)
    assert (np.random.get_state()[1] == numpy_state).all()  # noqa: NPY002
    assert random.getstate() == python_state
    c = _image_model(augment=True, random_state=1).fit(X, y).predict_proba(X)
    assert not np.array_equal(a, c)


def test_parameter_validation(two_layer_text_model):
    X, y = _frame()
    with pytest.raises(InvalidParameterError, match="'k'"):
        _image_model(k="every").fit(X, y)
    with pytest.raises(InvalidParameterError, match="'augment'"):
        _image_model(augment="yes").fit(X, y)
    with pytest.raises(ValueError, match=r"k\['image'\]='every'.*or 'all'"):
        _image_model(k={"image": "every"}).fit(X, y)
    with pytest.raises(ValueError, match=r"augment=True .* no ImageEncoder block"):
        _model(two_layer_text_model, k={"text": 1}, augment=True).fit(X, y)
    with pytest.raises(ValueError, match=r"augment=True"):
        _image_model(k=0, augment=True).fit(X, y)
    encoder = ImageEncoder("test_efficientnet", pretrained=False, device="cpu")
    encoder.fit([])
    with pytest.raises(ValueError, match=r"k=9 .* k must be in \[0, \d+\] or 'all'"):
        split_backbone(encoder, 9, "cpu")
    with pytest.raises(ValueError, match="the model of .* no linear layer"):
        split_backbone(encoder, "all", "cpu", lora_rank=2)


def test_grid_search_over_k():
    X, y = _frame(n=16)
    search = GridSearchCV(
        _image_model(max_epochs=1), {"k": [0, 1, "all"]}, cv=2, error_score="raise"
    ).fit(X, y)
    assert len(search.cv_results_["mean_test_score"]) == 3
    assert np.isfinite(search.cv_results_["mean_test_score"]).all()
    assert search.best_estimator_.predict(X).shape == (16,)
    assert search.best_params_["k"] in (0, 1, "all")


def test_k_all_takes_a_model_that_cannot_be_split():
    images = [
        np.random.default_rng(i).integers(0, 256, (30, 20, 3), np.uint8)
        for i in range(2)
    ]
    encoder = ImageEncoder("test_resnet", pretrained=False, device="cpu").fit(images)
    # A model whose group_matcher names no stages cannot be split.
    module = encoder.model_.torch_module
    matcher = module.group_matcher
    module.group_matcher = lambda coarse=False: {"stem": r"^conv1"}
    try:
        with pytest.raises(ValueError, match="ResNet is not supported"):
            split_backbone(encoder, 1, "cpu")
    finally:
        module.group_matcher = matcher
    full = split_backbone(encoder, "all", "cpu")
    with torch.no_grad():
        got = full.top(images).numpy()
    np.testing.assert_allclose(got, encoder.transform(images), atol=1e-5)


@pytest.mark.parametrize("model", ["test_resnet", "test_byobnet", "test_nfnet"])
def test_any_timm_model_with_stages_splits(model):
    """The stages come from timm's group_matcher, not a table of model classes."""
    images = [
        np.random.default_rng(i).integers(0, 256, (30, 20, 3), np.uint8)
        for i in range(2)
    ]
    encoder = ImageEncoder(model, pretrained=False, device="cpu").fit(images)
    backbone = split_backbone(encoder, 2, "cpu")
    with torch.no_grad():
        got = backbone.top(backbone.prefix(images)).numpy()
    np.testing.assert_allclose(got, encoder.transform(images), atol=1e-4)
    frozen = {id(p) for p in backbone._blocks[0].parameters()}
    assert not frozen & {id(p) for p in backbone.parameters}
