import sys

import numpy as np
import pytest

from skmm.exceptions import DecodeError
from skmm.io import check_video, decode_video
from tests._media import write_video

pytest.importorskip("av")


def test_uniform_sampling_picks_segment_centres(tmp_path):
    path = write_video(tmp_path / "v.mp4", 0, n=16, fps=8)  # 2 s
    frames = decode_video(path, n_frames=4)
    assert len(frames) == 4
    assert all(f.shape == (48, 48, 3) and f.dtype == np.uint8 for f in frames)
    # The square moves right: its centre of mass moves right with time.
    xs = [np.nonzero(f[..., 0] > 128)[1].mean() for f in frames]
    assert xs == sorted(xs) and xs[-1] > xs[0]


def test_fps_sampling_and_short_videos(tmp_path):
    path = write_video(tmp_path / "v.mp4", 1, n=16, fps=8)  # 2 s
    assert len(decode_video(path, fps=2)) == 4
    assert len(decode_video(path, fps=0.1)) == 1
    # More frames asked than the video has: frames repeat, the count holds.
    assert len(decode_video(path, n_frames=40)) == 40


def test_bad_videos(tmp_path):
    assert check_video(tmp_path / "none.mp4") == "file not found"
    assert "unsupported type" in check_video(b"bytes")
    (tmp_path / "junk.mp4").write_bytes(b"not a video" * 50)
    with pytest.raises(DecodeError, match="not a readable video file"):
        decode_video(tmp_path / "junk.mp4")
    path = write_video(tmp_path / "v.mp4", 0, n=16)
    data = open(path, "rb").read()
    (tmp_path / "cut.mp4").write_bytes(data[: len(data) // 3])
    with pytest.raises(DecodeError):
        decode_video(tmp_path / "cut.mp4")


def test_audio_only_file_has_no_video_stream(tmp_path):
    import soundfile

    soundfile.write(tmp_path / "a.wav", np.zeros(800, np.float32), 8000)
    with pytest.raises(DecodeError, match="no video stream"):
        decode_video(tmp_path / "a.wav")


def test_missing_pyav_gives_an_install_hint(tmp_path, monkeypatch):
    path = write_video(tmp_path / "v.mp4", 0)
    monkeypatch.setitem(sys.modules, "av", None)
    with pytest.raises(ImportError, match=r"pip install 'skmm\[video\]'"):
        decode_video(path)


def test_frames_past_the_clip_cost_nothing(tmp_path):
    """16 frames, 5000 samples asked: each decoded frame is converted once (the
    samples share it), and distinct=True gives each once."""
    path = write_video(tmp_path / "v.mp4", 0, n=16, fps=8)
    frames = decode_video(path, n_frames=5000)
    assert len(frames) == 5000
    assert len({id(f) for f in frames}) <= 16
    distinct = decode_video(path, n_frames=5000, distinct=True)
    assert 1 < len(distinct) <= 16
    unique = list({id(f): f for f in frames}.values())
    assert len(distinct) == len(unique)
    assert all(np.array_equal(a, b) for a, b in zip(distinct, unique, strict=True))


def test_an_image_file_is_not_a_video_but_an_animated_gif_is(tmp_path):
    from PIL import Image

    Image.new("RGB", (32, 32), "red").save(tmp_path / "photo.jpg")
    with pytest.raises(DecodeError, match=r"an image file \(jpeg\), not a video"):
        decode_video(tmp_path / "photo.jpg")
    frames = [Image.new("RGB", (16, 16), c) for c in ("red", "lime", "blue")]
    frames[0].save(
        tmp_path / "a.gif", save_all=True, append_images=frames[1:], duration=100
    )
    # Sampled at the centres of 3 segments: the frames shown then, green and blue.
    decoded = decode_video(tmp_path / "a.gif", n_frames=3, distinct=True)
    assert [int(np.argmax(f[8, 8])) for f in decoded] == [1, 2]


@pytest.mark.parametrize("keep", [0.5, 0.9, 0.99])
def test_a_truncated_mp4_says_truncated(tmp_path, keep):
    path = write_video(tmp_path / "v.mp4", 0, n=16)
    data = open(path, "rb").read()
    (tmp_path / "cut.mp4").write_bytes(data[: int(len(data) * keep)])
    with pytest.raises(DecodeError, match="truncated video file"):
        decode_video(tmp_path / "cut.mp4")
