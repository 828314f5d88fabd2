"""Odd audio gets the same treatment from every AudioEncoder backend.

Silent, hard-clipped and very short (0.01 s) clips are values: a finite vector
(silence the same vector whatever its length). A 6-hour clip with
``long_clips="crop"`` costs one window: only its start is decoded. A waveform with
NaN samples, or one without a sample rate, is a bad value naming the row; a sample
rate that is not positive is refused when fitting.
"""

from __future__ import annotations

import resource

import numpy as np
import pandas as pd
import pytest
from sklearn.utils._param_validation import InvalidParameterError

from skmm import AudioEncoder
from tests._media import tone

_LIMIT = 120
_INDEX = [3, 8]  # the bad value is row 1, index label 8
RATE = 8000

# (backend id, model, params): random weights, so that no package or file is needed
# (the real aisfx weights are tested in tests/encoders/test_audio_backends.py).
BACKENDS = [
    ("mfcc", "mfcc", {}),
    ("aisfx", "aisfx", {"pretrained": False}),
    ("timm", "test_convnext", {"pretrained": False}),
]


def _encoder(model: str, params: dict, **more) -> AudioEncoder:
    return AudioEncoder(
        model, sample_rate=RATE, max_seconds=0.5, device="cpu", cache=False,
        **params, **more,
    )  # fmt: skip


def _differ(a: np.ndarray, b: np.ndarray) -> bool:
    """Vectors apart by more than 0.1 % of their size (random weights give tiny
    outputs: no absolute tolerance fits every backend)."""
    scale = max(np.linalg.norm(a), np.linalg.norm(b), 1e-30)
    return bool(np.linalg.norm(a - b) > 1e-3 * scale)


def _peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _start() -> np.ndarray:
    """The first 2 s of the 6-hour file: a quiet tone, as int16 samples."""
    return (tone(440, 2.0) * 8000).astype(np.int16)


@pytest.fixture(scope="module")
def six_hours(tmp_path_factory) -> tuple[str, str]:
    """A 6-hour FLAC (8 kHz, a tone, then silence) written in blocks: 345 MB as
    int16 samples, about 1 MB on disk; and a 2 s file of its start."""
    soundfile = pytest.importorskip("soundfile")
    folder = tmp_path_factory.mktemp("long")
    path, start = folder / "six_hours.flac", folder / "start.flac"
    soundfile.write(start, _start(), RATE, subtype="PCM_16")
    block = np.zeros(RATE * 600, dtype=np.int16)
    with soundfile.SoundFile(
        path, "w", samplerate=RATE, channels=1, subtype="PCM_16"
    ) as out:
        out.write(_start())
        for _ in range(6 * 6):
            out.write(block)
    return str(path), str(start)


@pytest.mark.timeout(_LIMIT)
@pytest.mark.parametrize(
    "model, params", [b[1:] for b in BACKENDS], ids=[b[0] for b in BACKENDS]
)
def test_odd_clips_are_values(model, params):
    silent_short, silent_long = np.zeros(RATE // 10), np.zeros(3 * RATE)
    clipped = np.clip(20 * tone(300), -1.0, 1.0)  # a square-ish wave at full scale
    tiny = tone(300, 0.01)  # 80 samples
    encoder = _encoder(model, params).fit([tone(300)])
    X = encoder.transform([silent_short, silent_long, clipped, tiny, tone(300)])
    assert np.isfinite(X).all()
    np.testing.assert_allclose(X[0], X[1], atol=1e-6)  # silence is one vector
    assert _differ(X[2], X[0]) and _differ(X[3], X[0]) and _differ(X[2], X[4])


@pytest.mark.timeout(_LIMIT)
@pytest.mark.parametrize(
    "model, params", [b[1:] for b in BACKENDS], ids=[b[0] for b in BACKENDS]
)
def test_six_hours_cropped_cost_one_window(model, params, six_hours):
    long, start = six_hours
    encoder = _encoder(model, params, long_clips="crop").fit([tone(300)])
    expected = encoder.transform([start])
    before = _peak_rss_mib()
    X = encoder.transform([long])
    assert _peak_rss_mib() - before < 200  # the whole file is 345 MB of int16
    np.testing.assert_allclose(X, expected, rtol=1e-6, atol=1e-6)


@pytest.mark.timeout(_LIMIT)
@pytest.mark.parametrize(
    "model, params", [b[1:] for b in BACKENDS], ids=[b[0] for b in BACKENDS]
)
def test_nan_samples_and_missing_rate_are_bad_values(model, params):
    nan = tone(300)
    nan[100] = np.nan
    frame = pd.DataFrame({"clip": [tone(300), nan]}, index=_INDEX)
    encoder = _encoder(model, params).fit(frame)
    with pytest.raises(ValueError) as error:
        encoder.transform(frame)
    message = str(error.value)
    assert "column 'clip', row 1 (index 8)" in message
    assert "waveform holds NaN or infinite samples" in message
    X = encoder.set_params(on_error="missing")
    with pytest.warns(UserWarning, match="NaN or infinite"):
        X = encoder.transform(frame)
    assert np.isfinite(X[0]).all() and np.isnan(X[1]).all()

    no_rate = AudioEncoder(model, device="cpu", cache=False, **params).fit(frame)
    with pytest.raises(ValueError, match="needs the encoder's sample_rate"):
        no_rate.transform(frame)
    for rate in (0, -8000):
        with pytest.raises(InvalidParameterError, match="sample_rate"):
            _encoder(model, params).set_params(sample_rate=rate).fit(frame)
