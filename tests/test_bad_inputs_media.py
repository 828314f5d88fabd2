"""The matrix of bad media inputs: one case per input, each with the promise it gets.

With ``on_error="raise"`` a bad value raises a ``ValueError`` that names the encoder,
the column, the row, the frame's own index label and the value, and says why. With
``on_error="missing"`` it becomes a row of NaN and one ``UnreadableValuesWarning``
lists it; the good row beside it is encoded. Every case has a time limit: a special
file that is opened or read hangs, and must fail the case instead of stalling CI.
"""

from __future__ import annotations

import os
import resource
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from skmm import AudioEncoder, ImageEncoder, VideoEncoder
from skmm.cache._keys import item_digest
from skmm.exceptions import UnreadableValuesWarning
from tests._media import tone, write_audio, write_video

pytest.importorskip("av")
pytest.importorskip("soundfile")

_LIMIT = 60  # seconds per case; each takes well under 5 s when nothing hangs
_INDEX = [3, 8]  # a CV fold's labels: the bad value is row 1, index label 8
_HAS_DEV_ZERO = Path("/dev/zero").exists()


def _encoder(modality: str, **params):
    common = {"pretrained": False, "device": "cpu", **params}
    if modality == "image":
        return ImageEncoder("test_convnext", **common)
    if modality == "audio":
        return AudioEncoder("test_convnext", max_seconds=0.5, **common)
    return VideoEncoder("test_convnext", n_frames=2, **common)


def _good(modality: str, tmp_path: Path) -> str:
    if modality == "image":
        path = tmp_path / "good.png"
        Image.new("RGB", (40, 30), "red").save(path)
        return str(path)
    if modality == "audio":
        return write_audio(tmp_path / "good.wav", tone(440, 0.3))
    return write_video(tmp_path / "good.mp4", 0, n=8)


# -- the bad values -------------------------------------------------------------
def _fifo(tmp_path: Path, suffix: str) -> str:
    path = tmp_path / f"pipe{suffix}"
    os.mkfifo(path)  # nobody writes to it: opening it for reading would block
    return str(path)


def _truncated_mp4(tmp_path: Path) -> str:
    path = write_video(tmp_path / "whole.mp4", 1, n=16)
    data = Path(path).read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: len(data) * 99 // 100])  # FFmpeg still decodes frames
    return str(cut)


def _jpeg(tmp_path: Path) -> str:
    path = tmp_path / "photo.jpg"
    Image.new("RGB", (40, 30), "blue").save(path)
    return str(path)


def _huge_png(tmp_path: Path) -> str:
    path = tmp_path / "huge.png"
    Image.new("1", (12000, 12000)).save(path, optimize=True)  # 17 KB
    return str(path)


def _corrupt_png(tmp_path: Path) -> str:
    path = tmp_path / "corrupt.png"
    buffer = tmp_path / "whole.png"
    Image.new("RGB", (64, 64), "green").save(buffer)
    path.write_bytes(buffer.read_bytes()[:60])
    return str(path)


SUFFIX = {"image": ".jpg", "audio": ".wav", "video": ".mp4"}

# (id, modality, make the value from tmp_path, the reason in the message, params)
CASES = [
    *[
        (f"{m}-fifo", m, lambda t, m=m: _fifo(t, SUFFIX[m]), "not a regular file", {})
        for m in ("image", "audio", "video")
    ],
    *[
        (
            f"{m}-fifo-cached",
            m,
            lambda t, m=m: _fifo(t, SUFFIX[m]),
            "not a regular file (a FIFO)",
            {"cache": "CACHE"},
        )
        for m in ("image", "audio", "video")
    ],
    *[
        (
            f"{m}-dev-zero-cached",
            m,
            lambda t: "/dev/zero",
            "not a regular file (a character device)",
            {"cache": "CACHE"},
        )
        for m in ("image", "audio", "video")
    ],
    *[(f"{m}-empty-path", m, lambda t: "", "empty path", {}) for m in SUFFIX],
    *[
        (
            f"{m}-url",
            m,
            lambda t, m=m: f"https://example.com/data/x{SUFFIX[m]}",
            "skmm does not fetch URLs",
            {},
        )
        for m in SUFFIX
    ],
    ("image-huge-png", "image", _huge_png, "over PIL's limit", {}),
    # Decoded in a DataLoader worker: the row and label still come back right.
    ("image-corrupt-in-worker", "image", _corrupt_png, "corrupt", {"num_workers": 1}),
    ("video-truncated-mp4", "video", _truncated_mp4, "truncated video file", {}),
    ("video-jpeg", "video", _jpeg, "an image file (jpeg), not a video", {}),
]


def _case_params(tmp_path: Path, params: dict) -> dict:
    return {k: (tmp_path / "cache" if v == "CACHE" else v) for k, v in params.items()}


@pytest.mark.timeout(_LIMIT)
@pytest.mark.parametrize(
    "modality, make, reason, params",
    [c[1:] for c in CASES],
    ids=[c[0] for c in CASES],
)
def test_bad_value_raises_naming_column_row_label_and_value(
    tmp_path, modality, make, reason, params
):
    bad = make(tmp_path)
    if bad == "/dev/zero" and not _HAS_DEV_ZERO:
        pytest.skip("no /dev/zero here")
    frame = pd.DataFrame({"media": [_good(modality, tmp_path), bad]}, index=_INDEX)
    encoder = _encoder(modality, **_case_params(tmp_path, params)).fit(frame)
    with pytest.raises(ValueError) as error:
        encoder.transform(frame)
    message = str(error.value)
    assert f"cannot read column 'media', row 1 (index 8): {bad!r}" in message
    assert reason in message


@pytest.mark.timeout(_LIMIT)
@pytest.mark.parametrize(
    "modality, make, reason, params",
    [c[1:] for c in CASES],
    ids=[c[0] for c in CASES],
)
def test_bad_value_is_missing_with_one_warning(
    tmp_path, modality, make, reason, params
):
    bad = make(tmp_path)
    if bad == "/dev/zero" and not _HAS_DEV_ZERO:
        pytest.skip("no /dev/zero here")
    frame = pd.DataFrame({"media": [_good(modality, tmp_path), bad]}, index=_INDEX)
    params = {"on_error": "missing", **_case_params(tmp_path, params)}
    encoder = _encoder(modality, **params).fit(frame)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        X = encoder.transform(frame)
    unreadable = [w for w in caught if issubclass(w.category, UnreadableValuesWarning)]
    assert len(unreadable) == 1
    assert reason in str(unreadable[0].message)
    assert "row 1 (index 8)" in str(unreadable[0].message)
    assert np.isfinite(X[0]).all() and np.isnan(X[1]).all()


@pytest.mark.timeout(_LIMIT)
@pytest.mark.parametrize("kind", ["fifo", "dev-zero"])
@pytest.mark.parametrize("file_key", ["content", "stat"])
def test_cache_key_never_reads_a_special_file(tmp_path, kind, file_key):
    if kind == "dev-zero" and not _HAS_DEV_ZERO:
        pytest.skip("no /dev/zero here")
    path = _fifo(tmp_path, ".jpg") if kind == "fifo" else "/dev/zero"
    assert item_digest(path, paths=True, file_key=file_key) is None


def _peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


@pytest.mark.timeout(_LIMIT)
@pytest.mark.parametrize("size", [(15000, 1), (1, 15000)], ids=["wide", "tall"])
def test_extreme_aspect_ratio_encodes_without_blowing_memory(tmp_path, size):
    """A 94-byte PNG of 15000 x 1 pixels: before, resizing its short side to the
    model's 256 pixels made a 3.84-megapixel-long strip (+3.9 GB peak, 10-19 s)."""
    path = tmp_path / "strip.png"
    Image.new("L", size, 200).save(path, optimize=True)
    encoder = ImageEncoder("test_convnext", pretrained=False, device="cpu").fit([None])
    encoder.transform([np.zeros((8, 8, 3), np.uint8)])  # warm up
    before = _peak_rss_mib()
    X = encoder.transform([str(path)])
    assert np.isfinite(X).all()
    assert _peak_rss_mib() - before < 300
