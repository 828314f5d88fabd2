"""CrossModalAligner: shapes, absent modalities, reproducibility, recall@k,
persistence, scikit-learn contract (clone, GridSearchCV), the classical methods."""

import pickle
import textwrap

import joblib
import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV

from skmm.crossmodal import CrossModalAligner, recall_at_k
from tests.conftest import run_python

FAST = dict(lr=1e-2, max_epochs=20, batch_size=64, device="cpu", random_state=0)


def paired(n=160, seed=0, n_latent=4):
    """Two views of one latent vector per row: image (12 features), text (6)."""
    rng = np.random.default_rng(seed)
    latent = rng.normal(size=(n, n_latent))
    to_image = rng.normal(size=(n_latent, 12))
    to_text = rng.normal(size=(n_latent, 6))
    image = latent @ to_image + 0.05 * rng.normal(size=(n, 12))
    text = latent @ to_text + 0.05 * rng.normal(size=(n, 6))
    return {"image": image, "text": text}


def as_frame(X, missing_text_rows=()):
    """The union's pandas output: prefixed columns and a text__missing indicator."""
    text = X["text"].copy()
    indicator = np.zeros(len(text))
    text[list(missing_text_rows)] = 0.0
    indicator[list(missing_text_rows)] = 1.0
    columns = {f"image__{i}": X["image"][:, i] for i in range(X["image"].shape[1])}
    columns |= {f"text__{i}": text[:, i] for i in range(text.shape[1])}
    columns["text__missing"] = indicator
    return pd.DataFrame(columns)


@pytest.mark.parametrize("method", ["contrastive", "cca", "pls", "random"])
def test_shapes_and_feature_names(method):
    X = paired()
    aligner = CrossModalAligner(method, n_components=3, **FAST).fit(X)
    assert aligner.modalities_ == ("image", "text")
    Z = aligner.transform(X)
    assert Z.shape == (160, 3) and Z.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(Z, axis=1), 1.0, rtol=1e-5)
    assert list(aligner.get_feature_names_out()) == [
        "shared__0",
        "shared__1",
        "shared__2",
    ]
    blocks = aligner.set_params(output="blocks").transform(X)
    assert blocks.shape == (160, 6)
    assert list(aligner.get_feature_names_out())[:4] == [
        "image__0",
        "image__1",
        "image__2",
        "text__0",
    ]


def test_learns_an_alignment_that_retrieval_shows():
    X = paired(n=300)
    aligner = CrossModalAligner(n_components=4, **FAST).fit(X)
    random = CrossModalAligner("random", n_components=4, random_state=0).fit(X)
    # 300 candidates: chance recall@5 is 5/300.
    assert aligner.set_params(k=5).score(X) > 0.8
    assert random.set_params(k=5).score(X) < 0.2
    assert 0.01 <= aligner.temperature_ < 1.0


def test_a_row_with_one_modality_gets_that_modality_vector():
    X = paired()
    aligner = CrossModalAligner(n_components=3, **FAST).fit(X)
    both = aligner.set_params(output="blocks").transform(X)
    image_part, text_part = both[:, :3], both[:, 3:]
    aligner.set_params(output="mean")
    # NaN block, dict with the block left out, and the union's indicator: the same.
    nan_text = {"image": X["image"], "text": np.full_like(X["text"], np.nan)}
    np.testing.assert_allclose(aligner.transform(nan_text), image_part, atol=1e-6)
    np.testing.assert_allclose(
        aligner.transform({"image": X["image"]}), image_part, atol=1e-6
    )
    np.testing.assert_allclose(
        aligner.transform({"text": X["text"]}), text_part, atol=1e-6
    )
    # Both present: the unit-length mean of the two unit vectors.
    mean = image_part + text_part
    mean /= np.linalg.norm(mean, axis=1, keepdims=True)
    np.testing.assert_allclose(aligner.transform(X), mean, atol=1e-5)
    # A row with neither modality is NaN, not an error and not a guess.
    none = {"image": X["image"][:2].copy(), "text": X["text"][:2].copy()}
    none["image"][1] = np.nan
    none["text"][1] = np.nan
    out = aligner.transform(none)
    assert np.isnan(out[1]).all() and not np.isnan(out[0]).any()
    blocks = aligner.set_params(output="blocks").transform(nan_text)
    assert np.isnan(blocks[:, 3:]).all() and not np.isnan(blocks[:, :3]).any()


def test_dataframe_with_missing_indicator_in_fit_and_transform():
    X = paired()
    missing = [0, 5, 7]
    frame = as_frame(X, missing_text_rows=missing)
    aligner = CrossModalAligner(n_components=3, **FAST).fit(frame)
    assert aligner.modalities_ == ("image", "text")
    assert aligner.layout_.widths == (12, 6)
    blocks = aligner.set_params(output="blocks").transform(frame)
    assert np.isnan(blocks[missing, 3:]).all()
    assert not np.isnan(np.delete(blocks, missing, axis=0)).any()
    # The zeros under the indicator are not read: other values change nothing.
    other = frame.copy()
    other.loc[missing, [f"text__{i}" for i in range(6)]] = 123.0
    np.testing.assert_array_equal(aligner.transform(other), blocks)


def test_modalities_picks_two_blocks_and_errors_name_them():
    X = paired() | {"tab": np.ones((160, 2))}
    with pytest.raises(ValueError, match=r"3 blocks: \['image', 'text', 'tab'\]"):
        CrossModalAligner(**FAST).fit(X)
    aligner = CrossModalAligner(n_components=2, modalities=["text", "image"], **FAST)
    aligner.fit(X)
    assert aligner.modalities_ == ("text", "image")
    assert aligner.transform({"image": X["image"][:4]}).shape == (4, 2)
    with pytest.raises(ValueError, match="two different blocks.*'audio'"):
        CrossModalAligner(modalities=["image", "audio"]).fit(X)
    # A plain matrix with explicit column positions.
    matrix = np.hstack([X["image"], X["text"]])
    by_columns = CrossModalAligner(
        n_components=2,
        modalities={"image": slice(0, 12), "text": slice(12, 18)},
        **FAST,
    ).fit(matrix)
    assert by_columns.transform(matrix).shape == (160, 2)
    with pytest.raises(ValueError, match="'text' is absent from every row"):
        CrossModalAligner(**FAST).fit(
            {"image": X["image"], "text": np.full_like(X["text"], np.nan)}
        )


def test_random_state_repeats_bit_for_bit_and_leaves_global_rng_alone():
    X = paired()
    torch.random.manual_seed(123)
    before = torch.random.get_rng_state().clone()
    first = CrossModalAligner(n_components=3, dropout=0.2, **FAST).fit(X).transform(X)
    assert torch.equal(torch.random.get_rng_state(), before)
    second = CrossModalAligner(n_components=3, dropout=0.2, **FAST).fit(X).transform(X)
    np.testing.assert_array_equal(first, second)
    other = CrossModalAligner(
        n_components=3, dropout=0.2, **(FAST | {"random_state": 1})
    )
    assert not np.array_equal(other.fit(X).transform(X), first)


def test_recall_at_k_on_a_hand_made_case():
    similarity = np.array(
        [
            [0.9, 0.8, 0.1, 0.0],  # relevant 1: rank 2
            [0.1, 0.2, 0.3, 0.4],  # relevant 0: rank 4
            [0.5, 0.5, 0.9, 0.1],  # relevant 2: rank 1
            [0.3, 0.3, 0.3, 0.3],  # no relevant candidate: left out
        ]
    )
    relevant = np.zeros((4, 4), dtype=bool)
    relevant[0, 1] = relevant[1, 0] = relevant[2, 2] = True
    assert recall_at_k(similarity, relevant, 1) == pytest.approx(1 / 3)
    assert recall_at_k(similarity, relevant, 2) == pytest.approx(2 / 3)
    assert recall_at_k(similarity, relevant, 3) == pytest.approx(2 / 3)
    assert recall_at_k(similarity, relevant, 10) == 1.0
    with pytest.raises(ValueError, match="same shape"):
        recall_at_k(similarity, relevant[:2], 1)


def test_score_is_recall_in_both_directions():
    X = paired(n=60)
    aligner = CrossModalAligner(n_components=3, k=2, **FAST).fit(X)
    blocks = aligner.set_params(output="blocks").transform(X)
    image, text = blocks[:, :3], blocks[:, 3:]
    eye = np.eye(60, dtype=bool)
    expected = (
        recall_at_k(image @ text.T, eye, 2) + recall_at_k(text @ image.T, eye, 2)
    ) / 2
    assert aligner.score(X) == pytest.approx(expected)
    # With y, a class's repeated description counts once among the candidates.
    y = np.repeat(np.arange(6), 10)
    X_cls = {"image": X["image"], "text": np.repeat(X["text"][::10], 10, axis=0)}
    aligner.set_params(output="blocks", k=1).fit(X_cls, y)
    z = aligner.transform(X_cls)
    img, txt = z[:, :3], z[:, 3:][::10]
    classes = np.arange(6)
    image_to_text = recall_at_k(img @ txt.T, y[:, None] == classes, 1)
    text_to_image = recall_at_k(txt @ img.T, classes[:, None] == y, 1)
    assert aligner.score(X_cls, y) == pytest.approx((image_to_text + text_to_image) / 2)


def test_pairs_from_labels_with_one_modality_per_row():
    """Photo rows without text and description rows without image, matched by y."""
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(8, 4))
    to_image, to_text = rng.normal(size=(4, 12)), rng.normal(size=(4, 6))
    y_photo = np.repeat(np.arange(8), 20)
    photos = (centres[y_photo] + 0.3 * rng.normal(size=(160, 4))) @ to_image
    photos += 0.05 * rng.normal(size=photos.shape)
    texts = centres @ to_text + 0.05 * rng.normal(size=(8, 6))
    X = {
        "image": np.vstack([photos, np.full((8, 12), np.nan)]),
        "text": np.vstack([np.full((160, 6), np.nan), texts]),
    }
    y = np.concatenate([y_photo, np.arange(8)])
    # Few description rows per batch: fewer positives per step, more epochs.
    for method in ("contrastive", "cca"):
        params = FAST | {"max_epochs": 60}
        aligner = CrossModalAligner(method, n_components=4, **params).fit(X, y)
        assert aligner.score(X, y) > 0.8, method
    with pytest.raises(ValueError, match="no matched pair"):
        CrossModalAligner(**FAST).fit(X)  # without y nothing is matched


def test_classical_methods_check_n_components():
    X = paired(n=40)
    with pytest.raises(ValueError, match=r"n_components <= 6"):
        CrossModalAligner("cca", n_components=7).fit(X)
    assert CrossModalAligner("cca", n_components=4).fit(X).score(X) > 0.8


def test_clone_get_params_and_validation():
    aligner = CrossModalAligner("pls", n_components=5, temperature=0.1, k=3)
    params = clone(aligner).get_params()
    assert params["method"] == "pls" and params["n_components"] == 5
    assert params["temperature"] == 0.1 and params["k"] == 3
    with pytest.raises(ValueError, match="method"):
        CrossModalAligner("nope").fit(paired())
    with pytest.raises(ValueError, match="temperature"):
        CrossModalAligner(temperature=0).fit(paired())
    fitted = CrossModalAligner(**FAST).fit(paired())
    assert not hasattr(clone(fitted), "net_")


def test_grid_search_over_n_components_and_temperature():
    X = paired(n=120)
    frame = as_frame(X)
    search = GridSearchCV(
        CrossModalAligner(**FAST),
        {"n_components": [2, 4], "temperature": [0.05, 0.5]},
        cv=2,
    ).fit(frame)
    assert search.cv_results_["mean_test_score"].shape == (4,)
    assert search.best_params_["n_components"] in (2, 4)
    assert 0.0 <= search.score(frame) <= 1.0


def test_pickle_round_trip_gives_identical_outputs():
    X = paired()
    for method in ("contrastive", "cca", "random"):
        aligner = CrossModalAligner(method, n_components=3, **FAST).fit(X)
        loaded = pickle.loads(pickle.dumps(aligner))
        np.testing.assert_array_equal(loaded.transform(X), aligner.transform(X))


@pytest.mark.slow
def test_joblib_round_trip_in_a_fresh_process(tmp_path):
    X = paired()
    aligner = CrossModalAligner(n_components=3, **FAST).fit(X)
    np.save(tmp_path / "image.npy", X["image"])
    np.save(tmp_path / "expected.npy", aligner.transform({"image": X["image"]}))
    joblib.dump(aligner, tmp_path / "aligner.joblib")
    run_python(
        "-c",
        textwrap.dedent(
            f"""
            import joblib, numpy as np
            d = {str(tmp_path)!r}
            aligner = joblib.load(d + "/aligner.joblib")
            out = aligner.transform({{"image": np.load(d + "/image.npy")}})
            np.testing.assert_array_equal(out, np.load(d + "/expected.npy"))
            """
        ),
    )
