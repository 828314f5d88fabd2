"""The encoder contract, for every encoder: scikit-learn citizenship and persistence.

Encoders take paths and strings, so scikit-learn's own estimator checks (which feed
numbers) do not apply; these tests are their counterpart.
"""

import pickle
import textwrap

import joblib
import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, cross_validate
from sklearn.pipeline import make_pipeline

from skmm import AudioEncoder, ImageEncoder, TextEncoder, VideoEncoder
from tests._media import tone, write_audio, write_video
from tests.conftest import TINY_BN_MODEL, make_image, run_python

TEXTS = [
    "great fit",
    "awful fabric",
    "lovely colour",
    "runs small",
    "perfect",
    "cheap seams",
    "soft and warm",
    "itchy",
] * 2
LABELS = [1, 0, 1, 0, 1, 0, 1, 0] * 2


def image_case():
    values = [make_image(i % 8) for i in range(16)]
    encoder = ImageEncoder(TINY_BN_MODEL, pretrained=False, device="cpu")
    return encoder, values, "batch_size", [2, 5]


def text_case(minilm_path):
    encoder = TextEncoder(minilm_path, device="cpu", max_length=16)
    return encoder, list(TEXTS), "normalize", [False, True]


def audio_case(tmp_path):
    pytest.importorskip("soundfile")
    paths = [
        write_audio(tmp_path / f"clip{i}.wav", tone(300 + 150 * i, 0.2 + 0.05 * i))
        for i in range(8)
    ]
    encoder = AudioEncoder(
        TINY_BN_MODEL, pretrained=False, device="cpu", max_seconds=0.5
    )
    return encoder, paths * 2, "max_seconds", [0.4, 0.5]


def video_case(tmp_path):
    pytest.importorskip("av")
    paths = [write_video(tmp_path / f"clip{i}.mp4", i % 3, n=4) for i in range(8)]
    encoder = VideoEncoder(TINY_BN_MODEL, pretrained=False, device="cpu", n_frames=2)
    return encoder, paths * 2, "pool", ["mean", "max"]


@pytest.fixture(params=["image", "text", "audio", "video"])
def case(request):
    if request.param == "image":
        return image_case()
    if request.param == "audio":
        return audio_case(request.getfixturevalue("tmp_path"))
    if request.param == "video":
        return video_case(request.getfixturevalue("tmp_path"))
    return text_case(request.getfixturevalue("minilm_path"))


def test_clone_and_params(case):
    encoder, values, param, options = case
    params = encoder.get_params()
    copy = clone(encoder)
    assert copy.get_params() == params and copy is not encoder
    copy.set_params(**{param: options[1]})
    assert copy.get_params()[param] == options[1]
    assert encoder.get_params()[param] == params[param]


def test_fit_returns_self_and_transform_is_repeatable(case):
    encoder, values, *_ = case
    assert encoder.fit(values) is encoder
    np.testing.assert_array_equal(encoder.transform(values), encoder.transform(values))


def test_pandas_polars_series_and_list_inputs_agree(case, df_module):
    encoder, values, *_ = case
    expected = encoder.fit_transform(values)
    if df_module.__name__ == "polars":
        if isinstance(values[0], np.ndarray):
            pytest.skip("polars holds no array objects")
        frame = df_module.DataFrame({"col": values})
    else:
        frame = df_module.DataFrame({"col": pd.Series(values, dtype=object)})
    np.testing.assert_allclose(encoder.fit_transform(frame), expected, atol=1e-6)
    np.testing.assert_allclose(encoder.fit_transform(frame["col"]), expected, atol=1e-6)


def test_set_output(case, df_module):
    encoder, values, *_ = case
    encoder.set_output(transform=df_module.__name__)
    out = encoder.fit_transform(values)
    assert isinstance(out, df_module.DataFrame)
    assert list(out.columns) == list(encoder.get_feature_names_out())


def test_pipeline_grid_search_and_cross_validate(case):
    encoder, values, param, options = case
    y = LABELS if len(values) == 16 else LABELS[: len(values)]
    pipe = make_pipeline(encoder, LogisticRegression(max_iter=500))
    name = type(encoder).__name__.lower()
    for n_jobs in (1, 2):
        search = GridSearchCV(
            pipe,
            {f"{name}__{param}": options},
            cv=2,
            n_jobs=n_jobs,
            error_score="raise",
        ).fit(values, y)
        assert search.best_params_[f"{name}__{param}"] in options
        assert search.predict(values).shape == (len(values),)
    scores = cross_validate(pipe, values, y, cv=2, error_score="raise")
    assert scores["test_score"].shape == (2,)


def test_pickle_keeps_the_weights(case):
    encoder, values, *_ = case
    encoder.fit(values)
    expected = encoder.transform(values)
    restored = pickle.loads(pickle.dumps(encoder))
    np.testing.assert_allclose(restored.transform(values), expected, atol=1e-6)


def test_joblib_round_trip_in_a_fresh_offline_process(case, tmp_path):
    encoder, values, *_ = case
    encoder.fit(values)
    joblib.dump((encoder, values), tmp_path / "encoder.joblib")
    np.save(tmp_path / "expected.npy", encoder.transform(values))
    script = textwrap.dedent(
        f"""
        import joblib, numpy as np
        encoder, values = joblib.load({str(tmp_path / "encoder.joblib")!r})
        expected = np.load({str(tmp_path / "expected.npy")!r})
        np.testing.assert_allclose(encoder.transform(values), expected, atol=1e-6)
        print("identical")
        """
    )
    result = run_python("-c", script, clean_env=True)
    assert "identical" in result.stdout


def test_save_weights_false_stores_a_reference_only(case):
    encoder, values, *_ = case
    encoder.fit(values)
    with_weights = len(pickle.dumps(encoder))
    encoder.set_params(save_weights=False)
    without = pickle.dumps(encoder)
    assert len(without) < with_weights / 10
    np.testing.assert_allclose(
        pickle.loads(without).transform(values), encoder.transform(values), atol=1e-6
    )


def test_unpickled_model_trained_elsewhere_runs_on_cpu(case):
    """A model saved with device="cuda" loads on a CPU-only machine."""
    encoder, values, *_ = case
    encoder.fit(values)
    state = encoder.__getstate__()
    state["device"] = "cuda:7"  # no machine of ours has eight GPUs
    state["batch_size_"] = 1024  # as chosen on that GPU machine
    restored = type(encoder).__new__(type(encoder))
    restored.__setstate__(state)
    assert restored.device_ == "cpu"
    if encoder.batch_size == "auto":
        assert restored.batch_size_ == encoder.batch_size_  # the CPU's choice
    np.testing.assert_allclose(
        restored.transform(values), encoder.transform(values), atol=1e-5
    )


@pytest.mark.parametrize(
    "cls",
    [ImageEncoder, TextEncoder, AudioEncoder, VideoEncoder],
    ids=lambda c: c.__name__,
)
def test_every_parameter_is_declared(cls):
    """Each parameter has a declared constraint, as the heads' have."""
    assert set(cls._parameter_constraints) == set(cls().get_params())
