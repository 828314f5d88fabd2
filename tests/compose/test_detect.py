"""Automatic column types: detect_column_types, make_multimodal_union(X),
make_multimodal_pipeline."""

import datetime
import io
import os
import time

import numpy as np
import pandas as pd
import pytest
from PIL import Image
from sklearn.preprocessing import OneHotEncoder

import skmm
from skmm import ImageEncoder, detect_column_types, make_multimodal_union
from skmm.compose import _detect
from skmm.compose._datetime import DatetimeFeatures
from tests._media import tone, write_audio, write_video
from tests.conftest import TINY_IMAGE_MODEL, make_image

N = 24


def tiny_image_encoder():
    return ImageEncoder(TINY_IMAGE_MODEL, pretrained=False, device="cpu")


def write_photos(folder, n=N, label=None):
    folder.mkdir(exist_ok=True)
    paths = []
    for i in range(n):
        pixels = make_image(i, (16, 16))
        if label is not None:
            pixels = (pixels // 4 + (180 if label[i] else 20)).astype(np.uint8)
        path = folder / f"{i}.png"
        Image.fromarray(pixels).save(path)
        paths.append(str(path))
    return paths


@pytest.fixture
def table(tmp_path):
    rng = np.random.default_rng(0)
    return {
        "photo": write_photos(tmp_path / "photos"),
        "review": [f"review number {i} says it fits well" for i in range(N)],
        "colour": rng.choice(["red", "blue", "green"], N).tolist(),
        "price": rng.normal(50, 10, N).round(2).tolist(),
        "stock": [str(v) for v in rng.integers(0, 9, N)],
        "sold": [f"2024-{1 + i % 12:02d}-{1 + i % 28:02d}" for i in range(N)],
        "made": [datetime.datetime(2020, 1, 1 + i, i % 24) for i in range(N)],
        "order": [f"order-{i:04d}" for i in range(N)],
        "shop": ["web"] * N,
        "empty": [None] * N,
    }


def test_each_kind_and_its_reason(table, df_module):
    X = df_module.DataFrame(table)
    types = detect_column_types(X)
    assert dict(types) == {
        "photo": "image",
        "review": "text",
        "colour": "categorical",
        "price": "numeric",
        "stock": "numeric",
        "sold": "datetime",
        "made": "datetime",
        "order": "drop",
        "shop": "drop",
        "empty": "drop",
    }
    assert types.reasons["photo"] == "10 of 10 sampled values decode as image"
    assert types.reasons["stock"] == "numbers stored as strings"
    assert types.reasons["made"] == "dates"
    assert types.reasons["order"].startswith("24 distinct values in 24 rows")
    assert types.reasons["shop"] == "one value ('web') in every row"
    assert types.reasons["empty"] == "every value is missing"
    frame = types.to_frame()
    assert frame.loc["photo", "kind"] == "image" and frame.index.name == "column"
    shown = str(types)
    assert shown.splitlines()[0].split() == ["column", "kind", "reason"]
    assert "photo   image" in shown


def test_every_choice_can_be_overridden(table):
    X = pd.DataFrame(table)
    types = detect_column_types(X, types={"order": "categorical", "photo": "drop"})
    assert types["order"] == "categorical" and types["photo"] == "drop"
    assert types.reasons["order"] == "given in types="
    with pytest.raises(ValueError, match="the kind 'picture'; the kinds are image"):
        detect_column_types(X, types={"photo": "picture"})
    with pytest.raises(ValueError, match="column 'foto', which is not in X"):
        detect_column_types(X, types={"foto": "image"})


def test_audio_video_and_image_bytes(tmp_path):
    pytest.importorskip("av")
    waves = [write_audio(tmp_path / f"{i}.wav", tone(200 + 50 * i)) for i in range(3)]
    clips = [write_video(tmp_path / f"{i}.mp4", i % 3, n=4) for i in range(3)]
    images = []
    for i in range(3):
        buffer = io.BytesIO()
        Image.fromarray(make_image(i, (8, 8))).save(buffer, format="PNG")
        images.append(buffer.getvalue())
    X = pd.DataFrame({"sound": waves, "clip": clips, "picture": images})
    assert dict(detect_column_types(X)) == {
        "sound": "audio",
        "clip": "video",
        "picture": "image",
    }


def test_files_that_do_not_decode_and_paths_from_elsewhere(tmp_path):
    fakes = []
    for i in range(5):
        path = tmp_path / f"fake{i}.png"
        path.write_text("not an image")
        fakes.append(str(path))
    X = pd.DataFrame(
        {"fake": fakes, "elsewhere": [f"photos/{i}.jpg" for i in range(5)]}
    )
    types = detect_column_types(X)
    assert dict(types) == {"fake": "drop", "elsewhere": "drop"}
    assert "only 0 of 5 sampled values decode" in types.reasons["fake"]
    assert "does not decode as an image, audio or video" in types.reasons["fake"]
    assert "file not found" in types.reasons["elsewhere"]
    assert "relative to the cwd" in types.reasons["elsewhere"]
    # Given the folder they are relative to, the paths are found.
    write_photos(tmp_path / "photos", n=5)
    for i in range(5):
        os.replace(tmp_path / "photos" / f"{i}.png", tmp_path / "photos" / f"{i}.jpg")
    types = detect_column_types(X, base=tmp_path)
    assert types["elsewhere"] == "image"


def test_probing_is_bounded(tmp_path, monkeypatch):
    """At most sample_size values decoded; no large file, FIFO or device opened."""
    paths = write_photos(tmp_path / "photos", n=40)
    calls = []
    real = _detect.decode_image
    monkeypatch.setattr(_detect, "decode_image", lambda v: calls.append(v) or real(v))
    X = pd.DataFrame({"photo": paths})
    assert detect_column_types(X, sample_size=4)["photo"] == "image"
    assert len(calls) == 4

    calls.clear()
    types = detect_column_types(X, max_file_size=10)
    assert types["photo"] == "drop" and calls == []
    assert "larger than max_file_size" in types.reasons["photo"]

    fifo = tmp_path / "pipe.png"
    os.mkfifo(fifo)
    start = time.monotonic()
    types = detect_column_types(pd.DataFrame({"odd": [str(fifo), "/dev/zero"] * 3}))
    assert time.monotonic() - start < 5  # neither was opened: no hang
    assert types["odd"] == "drop" and "not a regular file" in types.reasons["odd"]


def test_union_from_a_frame_with_explicit_blocks(table):
    X = pd.DataFrame(table)
    union = make_multimodal_union(
        X,
        (OneHotEncoder(sparse_output=False), ["shop"]),
        types={"order": "drop"},
        encoders={"image": tiny_image_encoder()},
    )
    blocks = {name: columns for name, _, columns in union.transformers}
    assert blocks == {
        "tabular": ["shop"],
        "image": ["photo"],
        "text": ["review"],
        "numbers": ["price", "stock"],
        "dates": ["sold", "made"],
        "categories": ["colour"],
    }
    with pytest.raises(TypeError, match="need a DataFrame as the first argument"):
        make_multimodal_union((OneHotEncoder(), ["shop"]), types={"shop": "drop"})


def test_tabular_blocks_fit_and_keep_missing_rows_apart(table, df_module):
    columns = ["colour", "price", "stock", "sold", "made"]
    data = {c: table[c] for c in columns}
    data["stock"] = [None, *data["stock"][1:]]
    X = df_module.DataFrame(data)
    union = make_multimodal_union(X)
    out = union.fit_transform(X)
    assert list(union.modalities_) == ["numbers", "dates", "categories"]
    assert "dates__sold_days" in out.columns and "dates__sold_month" in out.columns
    assert "dates__made_hour" in out.columns
    assert not out.isna().any().any()  # imputed, standardised
    assert out["numbers__stock"].std() > 0


def test_datetime_features_read_zones_and_missing_values():
    X = pd.DataFrame({"t": ["2024-01-01T12:00:00+02:00", None, "2024-01-02 11:00"]})
    dates = DatetimeFeatures().fit(X)
    names = dates.get_feature_names_out().tolist()
    assert names == ["t_days", "t_day", "t_weekday", "t_hour"]
    out = dates.transform(X)
    assert out[0, names.index("t_hour")] == 10.0  # converted to UTC
    assert np.isnan(out[1]).all()
    assert out[2, 0] - out[0, 0] == pytest.approx(1 + 1 / 24)


def test_five_lines_of_python(tmp_path):
    """A newcomer's first try: photos, text and numbers, no column named."""
    rng = np.random.default_rng(0)
    y = np.array([0, 1] * 12)
    words = {0: "poor fabric, sent it back", 1: "lovely fit and great quality"}
    X = pd.DataFrame(
        {
            "photo": write_photos(tmp_path / "p", label=y),
            "review": [words[v] for v in y],
            "price": rng.normal(50, 10, N),
        }
    )
    model = skmm.make_multimodal_pipeline(
        X, y, encoders={"image": tiny_image_encoder()}
    ).fit(X, y)
    assert (model.predict(X) == y).mean() >= 0.9
    assert list(model[0].modalities_) == ["image", "text", "numbers"]


def test_pipeline_head_and_task():
    X = pd.DataFrame({"size": list("SMLMSL") * 4, "price": np.arange(24.0)})
    with pytest.raises(ValueError, match="pass y"):
        skmm.make_multimodal_pipeline(X)
    model = skmm.make_multimodal_pipeline(X, np.arange(24.0) * 1.5)
    assert type(model[-1][-1]).__name__ == "RidgeCV"
    ensemble = skmm.make_multimodal_pipeline(X, task="classification", head="ensemble")
    assert type(ensemble[-1]).__name__ == "EnsembleClassifier"
    codes = dict((n, t) for n, t, _ in ensemble[0].transformers)["categories"]
    assert type(codes).__name__ == "CategoricalEncoder"  # native for the trees


def test_a_detection_result_builds_the_union(tmp_path):
    """detect_column_types with its own options (base=), then the union."""
    write_photos(tmp_path / "photos", n=5)
    X = pd.DataFrame({"photo": [f"photos/{i}.png" for i in range(5)]})
    types = detect_column_types(X, base=tmp_path)
    union = make_multimodal_union(
        X, types=types, encoders={"image": tiny_image_encoder()}
    )
    assert [(name, columns) for name, _, columns in union.transformers] == [
        ("image", ["photo"])
    ]


# -- issue 26: integer column names, empty strings ------------------------------
def test_integer_column_names_are_detected_and_used():
    # narwhals reads frame[0] as row 0: the columns are read with get_column.
    X = pd.DataFrame(np.random.default_rng(0).random((6, 2)))
    assert dict(detect_column_types(X)) == {"0": "numeric", "1": "numeric"}
    X = pd.DataFrame(
        {7: ["a", "b", "c"] * 4, 3: np.arange(12.0), 1: np.arange(12.0) ** 2}
    )
    assert dict(detect_column_types(X, types={7: "categorical"}))["7"] == (
        "categorical"
    )
    union = make_multimodal_union(X)
    # Selected by position: ColumnTransformer reads an int as a position.
    assert [(n, c) for n, _, c in union.transformers] == [
        ("numbers", [1, 2]),
        ("categories", [0]),
    ]
    y = [0, 1] * 6
    model = skmm.make_multimodal_pipeline(X, y).fit(X, y)
    Xt = model[0].transform(X)
    np.testing.assert_allclose(
        Xt.iloc[:, 0], (X[3] - X[3].mean()) / X[3].std(ddof=0), atol=1e-12
    )
    assert model.predict(X).shape == (12,)


def test_integer_column_names_reach_the_encoders(tmp_path):
    X = pd.DataFrame({0: write_photos(tmp_path / "p", 6), 1: np.arange(6.0)})
    y = [0, 1] * 3
    model = skmm.make_multimodal_pipeline(
        X, y, encoders={"image": tiny_image_encoder()}
    ).fit(X, y)
    assert [name for name, _, _ in model[0].transformers] == ["image", "numbers"]
    assert model.predict(X).shape == (6,)


def test_empty_strings_are_missing_values_for_detection():
    reviews = [
        "fits well and feels soft",
        "too small, sent it back",
        "lovely colour, would buy again",
        "the seams came apart quickly",
    ]
    # Half the values "" (Path("") is the working directory, a folder).
    X = pd.DataFrame(
        {"review": [r if i % 2 else "" for i, r in enumerate(reviews * 6)]}
    )
    types = detect_column_types(X)
    assert types["review"] == "text", types.reasons["review"]
    X = pd.DataFrame({"blank": ["", " ", ""] * 4, "n": np.arange(12.0)})
    types = detect_column_types(X)
    assert types["blank"] == "drop"
    assert types.reasons["blank"].startswith("every value is missing")
