"""The weak cases of issue 26 in fine-tuning, one case each, each asserting the
message names what is wrong, and each under a time limit.

| case | promise |
|---|---|
| k_is_a_bool | k=True is refused (InvalidParameterError), not taken as k=1 |
| warmup_covers_every_epoch | a warning; finetuned_blocks_ empty, weights pretrained |
| no_encoder_to_tune | ValueError: no ImageEncoder or TextEncoder block, the blocks |
| file_deleted_while_training | k="all": DecodeError naming column, row, label, path |
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from PIL import Image
from sklearn.preprocessing import StandardScaler
from sklearn.utils._param_validation import InvalidParameterError

from skmm import FineTuneClassifier, ImageEncoder, MultimodalUnion
from skmm.exceptions import DecodeError
from skmm.finetune import _estimator

N = 12


def _photos(folder):
    folder.mkdir()
    rng = np.random.default_rng(0)
    paths = []
    for i in range(N):
        pixels = rng.integers(0, 256, (20, 20, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(folder / f"{i}.png")
        paths.append(str(folder / f"{i}.png"))
    return paths


def _frame(ctx, index=None):
    X = pd.DataFrame(
        {"photo": _photos(ctx.tmp_path / "photos"), "price": np.arange(float(N))},
        index=index,
    )
    return X, np.array([0, 1] * (N // 2))


def _model(image=True, **params):
    blocks = [("tab", StandardScaler(), ["price"])]
    if image:
        encoder = ImageEncoder("test_efficientnet", pretrained=False, device="cpu")
        blocks.insert(0, ("image", encoder, "photo"))
    params = {
        "hidden": 8,
        "warmup_epochs": 0,
        "max_epochs": 1,
        "early_stopping": False,
        "device": "cpu",
        "random_state": 0,
        **params,
    }
    return FineTuneClassifier(MultimodalUnion(blocks), **params)


def k_is_a_bool(ctx):
    X, y = _frame(ctx)
    with pytest.raises(InvalidParameterError, match=r"'k' parameter .* Got True"):
        _model(k=True).fit(X, y)


def warmup_covers_every_epoch(ctx):
    X, y = _frame(ctx)
    model = _model(warmup_epochs=2, max_epochs=2)
    with pytest.warns(UserWarning, match=r"warmup_epochs=2 >= max_epochs=2.*'image'"):
        model.fit(X, y)
    assert model.finetuned_blocks_ == []
    tuned = model.union_.named_transformers_["image"]
    fresh = ImageEncoder("test_efficientnet", pretrained=False, device="cpu")
    assert tuned.model_ is fresh.fit(X[["photo"]]).model_  # the registry's model


def no_encoder_to_tune(ctx):
    X, y = _frame(ctx)
    with pytest.raises(ValueError, match=r"has none \(blocks: \{'tab': 'tabular'\}\)"):
        _model(image=False).fit(X[["price"]], y)


def file_deleted_while_training(ctx):
    X, y = _frame(ctx, index=range(100, 100 + N))
    prepare = _estimator._BaseFineTune._prepare_block

    def then_delete(self, *args, **kwargs):
        block = prepare(self, *args, **kwargs)
        (ctx.tmp_path / "photos" / "5.png").unlink()  # after the union read it
        return block

    ctx.monkeypatch.setattr(_estimator._BaseFineTune, "_prepare_block", then_delete)
    with pytest.raises(DecodeError) as info:
        _model(k="all").fit(X, y)
    message = str(info.value)
    assert "column 'photo', row 5 (index 105)" in message
    assert repr(X["photo"].iloc[5]) in message and "file not found" in message


CASES = {
    f.__name__: f
    for f in (
        k_is_a_bool,
        warmup_covers_every_epoch,
        no_encoder_to_tune,
        file_deleted_while_training,
    )
}


class _Context:
    def __init__(self, tmp_path, monkeypatch):
        self.tmp_path = tmp_path
        self.monkeypatch = monkeypatch


@pytest.mark.timeout(120)
@pytest.mark.parametrize("case", list(CASES))
def test_bad_input(case, tmp_path, monkeypatch):
    CASES[case](_Context(tmp_path, monkeypatch))
