"""The model backends: the encoders of three modalities share the timm backend, and
the text and audio paths share one model-directory packer."""

import pickle
from pathlib import Path

import numpy as np
import pytest

from skmm import AudioEncoder, ImageEncoder, VideoEncoder
from skmm.encoders._backends import files_digest, pack_directory, unpacked_directory
from tests.conftest import TINY_IMAGE_MODEL, make_image


def test_audio_and_video_use_the_timm_backend_without_an_image_encoder(monkeypatch):
    """No ImageEncoder is built behind the user's back: audio and video compose
    the backend itself (fit, transform and a pickle round trip)."""
    pytest.importorskip("soundfile")

    def refuse(self, *args, **kwargs):
        raise AssertionError("an ImageEncoder was built")

    monkeypatch.setattr(ImageEncoder, "__init__", refuse)
    audio = AudioEncoder(
        TINY_IMAGE_MODEL, pretrained=False, device="cpu", sample_rate=8000
    )
    X = audio.fit_transform([np.sin(np.arange(4000) / 5.0), None])
    restored = pickle.loads(pickle.dumps(audio))
    np.testing.assert_allclose(restored.transform([np.sin(np.arange(4000) / 5.0)]),
                               X[:1], atol=1e-5)  # fmt: skip
    video = VideoEncoder(TINY_IMAGE_MODEL, pretrained=False, device="cpu")
    assert not isinstance(video, ImageEncoder)
    assert video.fit([None]).model_ is audio.model_  # one loaded model


def test_the_weights_digest_is_a_field_of_the_loaded_model():
    encoder = ImageEncoder(TINY_IMAGE_MODEL, pretrained=False, device="cpu")
    entry = encoder.fit([make_image(0)]).model_
    digest = entry.weights_digest()
    assert entry.digest == digest and len(digest) >= 32
    # A pickle without weights carries the digest it checks at load.
    state = encoder.set_params(save_weights=False).__getstate__()
    assert state["_saved_weights_digest"] == digest


def test_packed_directories_round_trip_with_one_digest(tmp_path):
    def save(directory):
        Path(directory, "sub").mkdir()
        Path(directory, "config.json").write_text("{}")
        Path(directory, "sub", "weights.bin").write_bytes(b"\x00\x01")

    files = pack_directory(save)
    assert files == {"config.json": b"{}", "sub/weights.bin": b"\x00\x01"}
    with unpacked_directory(files) as tmp:
        assert Path(tmp, "sub", "weights.bin").read_bytes() == b"\x00\x01"
    reordered = dict(reversed(list(files.items())))
    assert files_digest(reordered) == files_digest(files)
    changed = {**files, "sub/weights.bin": b"\x00\x02"}
    assert files_digest(changed) != files_digest(files)


def test_saved_weights_of_another_backend_are_refused():
    encoder = ImageEncoder(TINY_IMAGE_MODEL, pretrained=False, device="cpu")
    state = encoder.fit([None]).__getstate__()
    state["_saved_weights"] = {"backend": "transformers", "files": {}}
    with pytest.raises(ValueError, match="not those of a timm model"):
        ImageEncoder.__new__(ImageEncoder).__setstate__(state)
