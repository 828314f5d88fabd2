"""Encoders with an embedding cache: what hits, what misses, and what is shared."""

import os
import pickle
import warnings

import joblib
import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import skmm
from skmm import ImageEncoder, MultimodalUnion, TextEncoder
from skmm.cache import CacheInfo, EmbeddingCache, open_cache
from skmm.encoders import _image
from skmm.exceptions import CacheWarning
from tests.conftest import TINY_IMAGE_MODEL, make_image, run_python


def image_encoder(cache, **params):
    params.setdefault("pretrained", False)
    return ImageEncoder(TINY_IMAGE_MODEL, device="cpu", cache=cache, **params)


@pytest.fixture
def cache(tmp_path):
    return EmbeddingCache(tmp_path / "cache")


@pytest.fixture
def decodes(monkeypatch):
    """Counts the images the ImageEncoder decodes (num_workers=0: in this process)."""
    calls = []
    real = _image.decode_image

    def counting(value):
        calls.append(value)
        return real(value)

    monkeypatch.setattr(_image, "decode_image", counting)
    return calls


def test_hits_and_misses_are_counted(cache, image_paths):
    encoder = image_encoder(cache).fit(image_paths)
    values = [image_paths[0], None, image_paths[1], image_paths[0]]
    first = encoder.transform(values)
    # Missing values are not looked up; the duplicate is encoded once.
    assert cache.cache_info() == CacheInfo(hits=0, misses=3, writes=2)
    second = encoder.transform(values[::-1])
    assert cache.cache_info() == CacheInfo(hits=3, misses=3, writes=2)
    np.testing.assert_array_equal(second, first[::-1])
    assert len(cache) == 2


def test_cached_vectors_equal_uncached_ones(cache, image_paths):
    expected = image_encoder(None).fit_transform(image_paths)
    encoder = image_encoder(cache).fit(image_paths)
    np.testing.assert_allclose(encoder.transform(image_paths), expected, atol=1e-6)
    np.testing.assert_allclose(encoder.transform(image_paths), expected, atol=1e-6)
    assert cache.cache_info().hits == 4


def test_a_hit_skips_decoding(cache, image_paths, decodes):
    encoder = image_encoder(cache, batch_size=2).fit(image_paths)
    encoder.transform(image_paths[:2])
    assert len(decodes) == 2
    decodes.clear()
    encoder.transform(image_paths)
    assert sorted(decodes) == sorted(image_paths[2:])  # only the misses


def test_a_changed_file_misses(tmp_path, image_paths):
    for file_key in ("content", "stat"):
        cache = EmbeddingCache(tmp_path / file_key, file_key=file_key)
        encoder = image_encoder(cache).fit(image_paths)
        path = tmp_path / f"photo-{file_key}.png"
        Image.fromarray(make_image(0)).save(path)
        before = encoder.transform([str(path)])
        Image.fromarray(make_image(1)).save(path)
        os.utime(path, ns=(10**9, 10**9))  # a new mtime even on a coarse clock
        after = encoder.transform([str(path)])
        assert cache.cache_info().hits == 0, file_key
        assert np.abs(after - before).max() > 1e-3
        np.testing.assert_allclose(
            after, image_encoder(None).fit_transform([str(path)]), atol=1e-6
        )


def test_same_content_under_another_name_or_form_hits(cache, image_paths, tmp_path):
    encoder = image_encoder(cache).fit(image_paths)
    encoder.transform(image_paths[:1])
    copy = tmp_path / "renamed.png"
    copy.write_bytes(open(image_paths[0], "rb").read())
    encoder.transform([str(copy), copy.read_bytes()])
    assert cache.cache_info().hits == 2


def test_changed_encoder_parameters_miss(cache, image_paths, tmp_path):
    image_encoder(cache).fit(image_paths).transform(image_paths)
    assert cache.cache_info().misses == 4
    # Other weights under the same model name: a miss.
    other = tmp_path / "other.pth"
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(1)
        module = __import__("timm").create_model(TINY_IMAGE_MODEL, num_classes=0)
    torch.save(module.state_dict(), other)
    image_encoder(cache, pretrained=str(other)).fit(image_paths).transform(image_paths)
    assert cache.cache_info().hits == 0
    # Another precision changes the vectors: a miss.
    image_encoder(cache, precision="bf16").fit(image_paths).transform(image_paths)
    assert cache.cache_info().hits == 0
    # The same weights from a file: keyed by the weights' content, a hit.
    same = tmp_path / "same.pth"
    fitted = image_encoder(None).fit(image_paths)
    torch.save(fitted.model_.module.state_dict(), same)
    image_encoder(cache, pretrained=str(same)).fit(image_paths).transform(image_paths)
    assert cache.cache_info().hits == 4
    # Batch size does not change the vectors: a hit.
    image_encoder(cache, batch_size=3).fit(image_paths).transform(image_paths)
    assert cache.cache_info().hits == 8


def test_text_parameters_miss_and_duplicates_are_encoded_once(cache, minilm_path):
    texts = ["a red dress", "too small", "a red dress", None]
    encoder = TextEncoder(minilm_path, device="cpu", cache=cache).fit(texts)
    plain = encoder.transform(texts)
    assert cache.cache_info() == CacheInfo(hits=0, misses=3, writes=2)
    encoder.set_params(normalize=True)  # changed after fit: still a miss
    normalized = encoder.transform(texts)
    assert cache.cache_info().hits == 0
    np.testing.assert_allclose(
        normalized[:3],
        plain[:3] / np.linalg.norm(plain[:3], axis=1, keepdims=True),
        atol=1e-5,
    )
    encoder.set_params(normalize=False, max_length=4)
    encoder.transform(texts)
    assert cache.cache_info().hits == 0
    encoder.set_params(max_length=None)
    np.testing.assert_array_equal(encoder.transform(texts), plain)
    assert cache.cache_info().hits == 3


def test_clones_share_the_cache(cache, image_paths):
    encoder = image_encoder(cache).fit(image_paths)
    encoder.transform(image_paths)
    copy = clone(encoder)
    assert copy.cache is cache
    copy.fit(image_paths).transform(image_paths)
    assert cache.cache_info().hits == 4
    by_path = image_encoder(str(cache.directory))
    assert clone(by_path).cache == str(cache.directory)
    by_path.fit(image_paths).transform(image_paths)
    assert open_cache(cache.directory).cache_info().hits == 4


def test_pickled_encoder_keeps_its_cache_not_a_connection(cache, image_paths, tmp_path):
    encoder = image_encoder(cache).fit(image_paths)
    expected = encoder.transform(image_paths)
    joblib.dump(encoder, tmp_path / "enc.joblib")
    loaded = joblib.load(tmp_path / "enc.joblib")
    assert isinstance(loaded.cache, EmbeddingCache)
    assert loaded.cache.directory == cache.directory
    np.testing.assert_array_equal(loaded.transform(image_paths), expected)
    assert loaded.cache.cache_info().hits == 4
    # The cache adds its settings to the pickle, not its contents.
    size = len(pickle.dumps(encoder))
    assert size - len(pickle.dumps(image_encoder(None).fit(image_paths))) < 1000


def test_global_config_and_context(tmp_path, image_paths):
    encoder = image_encoder(None).fit(image_paths)
    with skmm.config_context(cache=tmp_path / "global"):
        encoder.transform(image_paths)
        encoder.transform(image_paths)
        # cache=False opts out of the global default.
        image_encoder(False).fit(image_paths).transform(image_paths)
    assert open_cache(tmp_path / "global").cache_info() == CacheInfo(4, 4, 4)
    assert skmm.get_config()["cache"] is None
    encoder.transform(image_paths)
    assert open_cache(tmp_path / "global").cache_info().hits == 4
    with pytest.raises(TypeError, match="cache must be"):
        skmm.set_config(cache=3)
    with pytest.raises(TypeError, match="cache must be"):
        image_encoder(3).fit(image_paths)


def test_environment_variable_sets_the_default(tmp_path, monkeypatch):
    script = (
        "import skmm, numpy as np\n"
        "from skmm import ImageEncoder\n"
        f"assert skmm.get_config()['cache'] == {str(tmp_path)!r}\n"
        "enc = ImageEncoder('test_convnext', pretrained=False, device='cpu')\n"
        "enc.fit_transform([np.zeros((8, 8, 3), np.uint8)])\n"
        "from skmm.cache import open_cache\n"
        f"print(open_cache({str(tmp_path)!r}).cache_info().writes)\n"
    )
    monkeypatch.setenv("SKMM_CACHE", str(tmp_path))
    result = run_python("-c", script)
    assert result.stdout.strip() == "1"
    assert len(EmbeddingCache(tmp_path)) == 1


def test_unusable_cache_directory_falls_back_with_one_warning(tmp_path, image_paths):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    expected = image_encoder(None).fit_transform(image_paths)
    encoder = image_encoder(str(blocker / "cache")).fit(image_paths)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        X = encoder.transform(image_paths)
        X2 = encoder.transform(image_paths)
    assert len([w for w in caught if w.category is CacheWarning]) == 1
    np.testing.assert_allclose(X, expected, atol=1e-6)
    np.testing.assert_allclose(X2, expected, atol=1e-6)


def test_a_crash_mid_transform_keeps_finished_batches(cache, image_paths):
    """Vectors are stored batch by batch: an error after two batches loses nothing
    that was finished, and stores nothing half-done."""
    encoder = image_encoder(cache, batch_size=1).fit(image_paths)
    bad = image_paths[:2] + ["/no/such/file.png"]
    with pytest.raises(ValueError, match="row 2"):
        encoder.transform(bad)
    encoder_ok = image_encoder(cache, batch_size=1).fit(image_paths)
    expected = image_encoder(None).fit_transform(image_paths)
    np.testing.assert_allclose(encoder_ok.transform(image_paths), expected, atol=1e-6)


def test_undecodable_file_is_not_cached(cache, tmp_path, image_paths):
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"not an image")
    encoder = image_encoder(cache, on_error="missing").fit(image_paths)
    with pytest.warns(UserWarning, match="could not be read"):
        X = encoder.transform([str(broken), str(broken), image_paths[0]])
    assert np.isnan(X[:2]).all() and np.isfinite(X[2]).all()
    assert len(cache) == 1
    with pytest.raises(ValueError, match=r"row 1.*broken\.png"):
        image_encoder(cache).fit(image_paths).transform([image_paths[0], str(broken)])


def frame(image_paths, n=24):
    X = pd.DataFrame(
        {
            "photo": [image_paths[i % 4] for i in range(n)],
            "review": [f"review number {i % 6}" for i in range(n)],
            "price": np.arange(n, dtype=float),
        }
    )
    return X, np.arange(n) % 2


def test_gridsearch_pipeline_with_cache(tmp_path, image_paths, minilm_path):
    X, y = frame(image_paths)
    cache = EmbeddingCache(tmp_path / "cache")
    union = MultimodalUnion(
        [
            ("image", image_encoder(cache), "photo"),
            (
                "text",
                TextEncoder(minilm_path, device="cpu", max_length=8, cache=cache),
                "review",
            ),
            ("tab", StandardScaler(), ["price"]),
        ]
    )
    model = make_pipeline(union, LogisticRegression(max_iter=200))
    grid = {"logisticregression__C": [0.1, 1.0]}
    search = GridSearchCV(model, grid, cv=3).fit(X, y)
    # 4 photos and 6 texts are encoded once, in the first fold's training rows;
    # every later lookup (6 fits + the refit, 2 encoders, 24 rows each) hits.
    info = cache.cache_info()
    assert info.writes == 4 + 6
    assert info.misses == 2 * 16
    assert info.hits + info.misses == (6 + 1) * 2 * len(X)
    plain = clone(model).set_params(
        multimodalunion__image__cache=False, multimodalunion__text__cache=False
    )
    reference = GridSearchCV(plain, grid, cv=3).fit(X, y)
    np.testing.assert_allclose(
        search.cv_results_["mean_test_score"],
        reference.cv_results_["mean_test_score"],
    )
    np.testing.assert_allclose(
        search.best_estimator_.predict_proba(X),
        reference.best_estimator_.predict_proba(X),
        atol=1e-6,
    )


def test_gridsearch_worker_processes_share_the_cache(tmp_path, image_paths):
    """GridSearchCV(n_jobs=2): two processes write into one cache at once."""
    X, y = frame(image_paths)
    directory = str(tmp_path / "cache")
    model = make_pipeline(
        MultimodalUnion([("image", image_encoder(directory), "photo")]),
        LogisticRegression(max_iter=200),
    )
    grid = {"logisticregression__C": [0.1, 1.0]}
    search = GridSearchCV(model, grid, cv=3, n_jobs=2, refit=False).fit(X, y)
    assert len(EmbeddingCache(directory)) == 4
    plain = clone(model).set_params(multimodalunion__image__cache=False)
    reference = GridSearchCV(plain, grid, cv=3, refit=False).fit(X, y)
    np.testing.assert_allclose(
        search.cv_results_["mean_test_score"],
        reference.cv_results_["mean_test_score"],
    )
    # Every vector the workers stored is right.
    model.fit(X, y)
    assert open_cache(directory).cache_info().misses == 0
    cached, fresh = model[0].transform(X), plain.fit(X, y)[0].transform(X)
    np.testing.assert_allclose(cached, fresh, atol=1e-6)


def test_config_is_seen_by_other_threads(tmp_path):
    from concurrent.futures import ThreadPoolExecutor

    with skmm.config_context(cache=tmp_path), ThreadPoolExecutor(1) as pool:
        assert pool.submit(skmm.get_config).result()["cache"] == tmp_path
    assert skmm.get_config()["cache"] is None


def test_the_fingerprint_is_computed_once_per_transform(cache, minilm_path):
    """Three text columns, all misses: the model's description (a repr of the
    whole SentenceTransformer) is built once per call, not once per column."""
    frame = pd.DataFrame({"a": ["x", "y"], "b": ["z", "w"], "c": ["u", "v"]})
    encoder = TextEncoder(minilm_path, device="cpu", cache=cache).fit(frame)
    calls = []
    real = encoder._fingerprint_parts
    encoder._fingerprint_parts = lambda: calls.append(1) or real()
    X = encoder.transform(frame)
    assert len(calls) == 1 and cache.cache_info().misses == 6
    np.testing.assert_allclose(encoder.transform(frame), X, atol=1e-6)
    assert cache.cache_info().hits == 6
