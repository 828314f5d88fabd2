import sys

import numpy as np
import pytest

from skmm.exceptions import DecodeError
from skmm.io import check_audio, decode_audio, resample_audio
from tests._media import FSDD, tone, write_audio

pytest.importorskip("soundfile")


@pytest.mark.parametrize("suffix", ["wav", "flac", "ogg", "mp3"])
def test_formats_decode_to_mono_float32(tmp_path, suffix):
    wave = tone(440, 0.5, 16000)
    path = write_audio(tmp_path / f"a.{suffix}", wave, 16000)
    decoded, rate = decode_audio(path)
    assert rate == 16000 and decoded.dtype == np.float32 and decoded.ndim == 1
    # Lossy codecs may add or drop a frame of priming samples.
    assert abs(len(decoded) - len(wave)) <= 1200
    if suffix in ("wav", "flac"):
        np.testing.assert_allclose(decoded, wave, atol=1e-4)


def test_stereo_is_mixed_down(tmp_path):
    left, right = tone(440), tone(660)
    path = write_audio(tmp_path / "s.wav", np.stack([left, right], axis=1))
    decoded, _ = decode_audio(path)
    np.testing.assert_allclose(decoded, (left + right) / 2, atol=1e-4)


def test_arrays_need_a_rate_and_keep_it():
    with pytest.raises(DecodeError, match="sample_rate"):
        decode_audio(np.zeros(10))
    wave, rate = decode_audio(np.zeros(10, dtype=np.float64), 22050)
    assert wave.dtype == np.float32 and rate == 22050


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("no/such.wav", "file not found"),
        (np.zeros((2, 10)), "expected a 1-D waveform"),
        (np.zeros(10, dtype=np.int16), "divide integer PCM"),
        (np.array([0.0, np.nan]), "NaN"),
        (3.5, "unsupported type float"),
    ],
)
def test_check_audio_reasons(value, reason):
    assert reason in check_audio(value)


def test_directory_is_not_audio(tmp_path):
    assert "directory" in check_audio(tmp_path)


def test_truncated_and_garbage_files_are_errors(tmp_path):
    path = write_audio(tmp_path / "a.wav", tone(440, 1.0))
    data = open(path, "rb").read()
    (tmp_path / "cut.wav").write_bytes(data[: len(data) // 2])
    with pytest.raises(DecodeError, match="truncated"):
        decode_audio(tmp_path / "cut.wav")
    (tmp_path / "junk.wav").write_bytes(b"not audio at all" * 20)
    with pytest.raises(DecodeError, match="not a readable audio file"):
        decode_audio(tmp_path / "junk.wav")
    flac = write_audio(tmp_path / "a.flac", tone(440, 1.0))
    data = open(flac, "rb").read()
    (tmp_path / "cut.flac").write_bytes(data[: len(data) // 2])
    with pytest.raises(DecodeError):
        decode_audio(tmp_path / "cut.flac")


def test_silent_and_empty_files_are_values(tmp_path):
    silent = write_audio(tmp_path / "silent.wav", np.zeros(800, dtype=np.float32))
    assert not decode_audio(silent)[0].any()
    empty = write_audio(tmp_path / "empty.wav", np.zeros(0, dtype=np.float32))
    assert decode_audio(empty)[0].shape == (0,)


def test_missing_soundfile_gives_an_install_hint(tmp_path, monkeypatch):
    path = write_audio(tmp_path / "a.wav", tone(440))
    monkeypatch.setitem(sys.modules, "soundfile", None)
    with pytest.raises(ImportError, match=r"pip install 'skmm\[audio\]'"):
        decode_audio(path)


def test_resample_keeps_the_tone():
    wave = tone(500, 1.0, 8000)
    up = resample_audio(wave, 8000, 16000)
    assert up.shape == (16000,) and up.dtype == np.float32
    spectrum = np.abs(np.fft.rfft(up))
    assert abs(np.argmax(spectrum) * 16000 / len(up) - 500) < 2
    assert resample_audio(wave, 8000, 8000) is not None
    assert resample_audio(np.zeros(0, np.float32), 8000, 16000).shape == (0,)


def test_fsdd_file():
    if not FSDD.exists():
        pytest.skip("needs the shared FSDD data")
    wave, rate = decode_audio(FSDD / "0_george_0.wav")
    assert rate == 8000 and wave.shape == (2384,) and np.abs(wave).max() <= 1


def test_formats_libsndfile_lacks_go_through_pyav(tmp_path):
    av = pytest.importorskip("av")
    wave = tone(440, 1.0, 16000)
    path = tmp_path / "a.m4a"
    with av.open(str(path), "w") as container:
        stream = container.add_stream("aac", rate=16000)
        stream.layout = "mono"
        frame = av.AudioFrame.from_ndarray(wave[None], format="fltp", layout="mono")
        frame.sample_rate = 16000
        for packet in [*stream.encode(frame), *stream.encode(None)]:
            container.mux(packet)
    decoded, rate = decode_audio(path)
    assert rate == 16000 and decoded.dtype == np.float32
    assert abs(len(decoded) - len(wave)) < 2048  # AAC priming samples
