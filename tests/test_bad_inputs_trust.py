"""The bad inputs and faults of issue 15 (text, cache, saved models, trust), one case
each, each asserting the exact promise and each under a time limit: a case that hangs
fails instead of stalling the run.

| case | promise |
|---|---|
| text_lone_surrogate | ValueError naming column, row, index label and value |
| text_lone_surrogate_missing | on_error="missing": a NaN row, one warning |
| text_the_tokenizer_rejects | ValueError naming column, row, value (not TypeError) |
| text_the_tokenizer_rejects_missing | on_error="missing": NaN row, the rest encoded |
| max_length_beyond_the_model | ValueError at fit naming the limit (512) |
| model_changed_after_fit | transform asks for a refit (NotFittedError) |
| weights_replaced_after_save | save_weights=False: loading refuses other weights |
| cache_vector_damaged | a miss with one CacheWarning; the output is the encoder's own |
| model_file_truncated | skmm predict: a one-line error (exit 2), no EOFError |
| model_file_byte_changed | skmm predict: checksum error (exit 2), no predictions |
| model_file_runs_code | skmm predict says what it loads and that it runs code, first |
| unknown_timm_model | one-line error (exit 1), no traceback |
| timm_weights_offline | OSError naming the model and pretrained=PATH/--image-weights |
| text_model_offline | OSError naming the model and model=DIR/--text-model |
"""

from __future__ import annotations

import pickle
import warnings

import numpy as np
import pandas as pd
import pytest

from skmm import ImageEncoder, TextEncoder
from skmm.exceptions import CacheWarning, UnreadableValuesWarning
from tests.conftest import TINY_IMAGE_MODEL

SURROGATE = "abc\ud800def"  # what json.loads('"abc\\ud800def"') gives
REVIEWS = pd.DataFrame(
    {"review": ["fine", SURROGATE, None]}, index=[10, 11, 12], dtype=object
)


def _images(n=3):
    rng = np.random.default_rng(0)
    return [rng.integers(0, 256, (16, 16, 3), dtype=np.uint8) for _ in range(n)]


def _image_encoder(**params):
    return ImageEncoder(TINY_IMAGE_MODEL, pretrained=False, device="cpu", **params)


# -- text --------------------------------------------------------------------------
def text_lone_surrogate(ctx):
    with pytest.raises(ValueError) as info:
        TextEncoder(ctx.minilm(), device="cpu").fit_transform(REVIEWS)
    message = str(info.value)
    assert "column 'review', row 1 (index 11)" in message
    assert repr(SURROGATE) in message and "lone surrogate" in message


def text_lone_surrogate_missing(ctx):
    encoder = TextEncoder(ctx.minilm(), device="cpu", on_error="missing")
    expected = "(?s)1 value.*row 1 \\(index 11\\)"
    with pytest.warns(UnreadableValuesWarning, match=expected):
        X = encoder.fit_transform(REVIEWS)
    assert np.isfinite(X[0]).all() and np.isnan(X[1:]).all()


def _picky_tokenizer(encoder, monkeypatch):
    """The model's encode fails, as a tokenizer does, on any text with a "\\x07"."""
    model = encoder.model_.model
    original = model.encode

    def encode(texts, **kwargs):
        if any("\x07" in t for t in texts):
            raise TypeError("TextEncodeInput must be Union[TextInputSequence, ...]")
        return original(texts, **kwargs)

    monkeypatch.setattr(model, "encode", encode)


def text_the_tokenizer_rejects(ctx):
    encoder = TextEncoder(ctx.minilm(), device="cpu").fit(["x"])
    _picky_tokenizer(encoder, ctx.monkeypatch)
    with pytest.raises(ValueError) as info:
        encoder.transform(pd.DataFrame({"review": ["fine", "bell\x07", "good"]}))
    message = str(info.value)
    assert "column 'review', row 1" in message and "'bell\\x07'" in message
    assert "TypeError: TextEncodeInput" in message


def text_the_tokenizer_rejects_missing(ctx):
    encoder = TextEncoder(ctx.minilm(), device="cpu", on_error="missing").fit(["x"])
    reference = encoder.transform(["fine", "good"])
    _picky_tokenizer(encoder, ctx.monkeypatch)
    with pytest.warns(UnreadableValuesWarning, match="1 value"):
        X = encoder.transform(["fine", "bell\x07", "good"])
    assert np.isnan(X[1]).all()
    np.testing.assert_allclose(X[[0, 2]], reference, atol=1e-6)


def max_length_beyond_the_model(ctx):
    with pytest.raises(ValueError, match="max_length=1000 .* at most 512 tokens"):
        TextEncoder(ctx.minilm(), max_length=1000, device="cpu").fit(["a"])


# -- the model behind an encoder -------------------------------------------------------
def model_changed_after_fit(ctx):
    from sklearn.exceptions import NotFittedError

    encoder = _image_encoder().fit(_images())
    encoder.set_params(model="test_vit")
    with pytest.raises(NotFittedError, match="model='test_vit'.*Call fit again"):
        encoder.transform(_images())
    assert encoder.fit(_images()).transform(_images()).shape[0] == 3


def weights_replaced_after_save(ctx):
    import timm
    from safetensors.torch import save_file

    path = ctx.tmp_path / "weights.safetensors"

    def write_weights(seed):
        import torch

        torch.manual_seed(seed)
        module = timm.create_model(TINY_IMAGE_MODEL, pretrained=False, num_classes=0)
        save_file(module.state_dict(), path)

    write_weights(1)
    encoder = ImageEncoder(
        TINY_IMAGE_MODEL, pretrained=path, device="cpu", save_weights=False
    ).fit(_images())
    saved = pickle.dumps(encoder)
    np.testing.assert_array_equal(
        pickle.loads(saved).transform(_images()), encoder.transform(_images())
    )
    write_weights(2)  # another file at the same path
    with pytest.raises(ValueError, match="save_weights=False.*weights digest"):
        pickle.loads(saved)


# -- the embedding cache ------------------------------------------------------------
def cache_vector_damaged(ctx):
    from skmm.cache import EmbeddingCache

    images = _images()
    expected = _image_encoder().fit(images).transform(images)
    cache = EmbeddingCache(ctx.tmp_path / "cache")
    _image_encoder(cache=cache).fit(images).transform(images)
    cache.close()
    raw = bytearray(cache.path.read_bytes())
    at = raw.find(expected[1].tobytes())
    assert at >= 0
    raw[at + 8 : at + 12] = np.float32(1234.5).tobytes()  # 4 bytes of a vector
    cache.path.write_bytes(bytes(raw))

    cache = EmbeddingCache(ctx.tmp_path / "cache")
    encoder = _image_encoder(cache=cache).fit(images)
    with pytest.warns(CacheWarning, match="do not match their checksum"):
        X = encoder.transform(images)
    np.testing.assert_allclose(X, expected, atol=1e-6)
    assert cache.cache_info().misses == 1
    with warnings.catch_warnings():
        warnings.simplefilter("error", CacheWarning)
        np.testing.assert_allclose(encoder.transform(images), expected, atol=1e-6)


# -- model files ------------------------------------------------------------------
def _saved_model(ctx):
    from skmm.cli import main

    table = pd.DataFrame(
        {"size": np.arange(30.0), "label": ["a", "b", "c"] * 10}
    ).assign(size=lambda t: t["size"] + (t["label"] == "a") * 100)
    data = ctx.tmp_path / "data.csv"
    table.to_csv(data, index=False)
    model = ctx.tmp_path / "model.joblib"
    assert main(["fit", str(data), "--target", "label", "--out", str(model)]) == 0
    ctx.capsys.readouterr()
    return model, data


def model_file_truncated(ctx):
    from skmm.cli import main

    model, data = _saved_model(ctx)
    model.write_bytes(model.read_bytes()[: model.stat().st_size // 2])
    assert main(["predict", str(model), str(data)]) == 2
    err = ctx.capsys.readouterr().err
    assert "skmm predict: error:" in err and "truncated or damaged" in err
    assert "Traceback" not in err


def model_file_byte_changed(ctx):
    from skmm.cli import main

    model, data = _saved_model(ctx)
    raw = bytearray(model.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    model.write_bytes(bytes(raw))
    assert main(["predict", str(model), str(data)]) == 2
    captured = ctx.capsys.readouterr()
    assert "does not match the checksum skmm fit saved in it" in captured.err
    assert captured.out == ""  # no predictions from a damaged model


class _RunsCode:
    def __reduce__(self):
        import builtins

        return builtins.print, ("CODE RAN WHILE LOADING",)


def model_file_runs_code(ctx):
    import joblib

    from skmm.cli import main

    _, data = _saved_model(ctx)
    evil = ctx.tmp_path / "evil.joblib"
    joblib.dump(_RunsCode(), evil)
    assert main(["predict", str(evil), str(data)]) == 2
    captured = ctx.capsys.readouterr()
    # Nothing can stop a pickle from running code: the CLI says what it loads and
    # that model files run code, before it loads them.
    assert "loading " + str(evil) in captured.err
    assert "runs code when loaded: load only files you trust" in captured.err
    assert "not a model saved by skmm fit" in captured.err


def unknown_timm_model(ctx):
    from skmm.cli import main

    data = ctx.tmp_path / "data.csv"
    photo = ctx.tmp_path / "p.png"
    from PIL import Image

    Image.fromarray(_images(1)[0]).save(photo)
    pd.DataFrame({"photo": ["p.png"] * 4, "label": [0, 1] * 2}).to_csv(data)
    argv = ["fit", str(data), "--target", "label", "--image-col", "photo"]
    argv += ["--image-model", "no_such_model", "--image-weights", "random"]
    assert main([*argv, "--quiet", "--out", str(ctx.tmp_path / "m.joblib")]) == 1
    err = ctx.capsys.readouterr().err
    assert "skmm fit: error: unknown timm model 'no_such_model'" in err
    assert "Traceback" not in err


def timm_weights_offline(ctx):
    import timm
    from huggingface_hub.errors import LocalEntryNotFoundError

    def offline(*args, **kwargs):
        raise LocalEntryNotFoundError("cannot find the requested files in the cache")

    ctx.monkeypatch.setattr(timm, "create_model", offline)
    with pytest.raises(OSError) as info:
        ImageEncoder("resnet18", device="cpu").fit(_images())
    message = str(info.value)
    assert "'resnet18'" in message and "pretrained=PATH" in message
    assert "--image-weights" in message


def text_model_offline(ctx):
    # The hub is offline for the whole test session (tests/conftest.py).
    name = "sentence-transformers/paraphrase-MiniLM-L3-v2"
    with pytest.raises(OSError) as info:
        TextEncoder(name, device="cpu").fit(["a"])
    message = str(info.value)
    assert repr(name) in message and "model=DIR" in message
    assert "--text-model" in message


CASES = {
    f.__name__: f
    for f in (
        text_lone_surrogate,
        text_lone_surrogate_missing,
        text_the_tokenizer_rejects,
        text_the_tokenizer_rejects_missing,
        max_length_beyond_the_model,
        model_changed_after_fit,
        weights_replaced_after_save,
        cache_vector_damaged,
        model_file_truncated,
        model_file_byte_changed,
        model_file_runs_code,
        unknown_timm_model,
        timm_weights_offline,
        text_model_offline,
    )
}


class _Context:
    def __init__(self, request, tmp_path, monkeypatch, capsys):
        self.request = request
        self.tmp_path = tmp_path
        self.monkeypatch = monkeypatch
        self.capsys = capsys

    def minilm(self) -> str:
        return self.request.getfixturevalue("minilm_path")


@pytest.mark.timeout(120)
@pytest.mark.parametrize("case", list(CASES))
def test_bad_input(case, request, tmp_path, monkeypatch, capsys):
    CASES[case](_Context(request, tmp_path, monkeypatch, capsys))
