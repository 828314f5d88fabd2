import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import cross_val_score

from skmm import ImageEncoder, VideoEncoder
from skmm.encoders import clear_model_registry
from skmm.exceptions import UnreadableValuesWarning
from skmm.io import decode_video
from tests._media import write_undecodable_video, write_video
from tests.conftest import TINY_BN_MODEL, TINY_IMAGE_MODEL

pytest.importorskip("av")


def tiny(**params) -> VideoEncoder:
    params = {"pretrained": False, "device": "cpu", "n_frames": 3, **params}
    return VideoEncoder(TINY_IMAGE_MODEL, **params)


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    folder = tmp_path_factory.mktemp("videos")
    return [write_video(folder / f"{i}.mp4", i % 3, n=6 + i % 4) for i in range(12)]


def test_frames_go_through_the_image_encoder(clips):
    """Same model, same preprocessing: a video of one frame is that frame's image."""
    clear_model_registry()
    video = tiny(n_frames=3, pool="mean").fit(clips)
    image = ImageEncoder(TINY_IMAGE_MODEL, pretrained=False, device="cpu").fit([])
    assert video.model_ is image.model_  # one loaded model
    frames = decode_video(clips[0], 3)
    expected = image.transform(frames).mean(axis=0)
    np.testing.assert_allclose(video.transform(clips[:1])[0], expected, atol=1e-5)


def test_pooling_widths_and_values(clips):
    encoder = tiny().fit(clips)
    mean = encoder.set_params(pool="mean").transform(clips[:2])
    most = encoder.set_params(pool="max").transform(clips[:2])
    both = encoder.set_params(pool="meanmax").transform(clips[:2])
    assert mean.shape == most.shape == (2, 64) and both.shape == (2, 128)
    np.testing.assert_allclose(both, np.hstack([mean, most]), atol=1e-6)
    assert (most >= mean - 1e-6).all()
    assert len(tiny(pool="meanmax").fit(clips).get_feature_names_out()) == 128


def test_fps_sampling(clips):
    a = tiny(fps=4.0).fit_transform(clips[:2])
    assert a.shape == (2, 64) and np.isfinite(a).all()


def test_vectors_do_not_depend_on_the_batch(clips):
    encoder = VideoEncoder(TINY_BN_MODEL, pretrained=False, device="cpu", n_frames=3)
    one = encoder.set_params(batch_size=1).fit_transform(clips[:5])
    many = encoder.set_params(batch_size=7).fit_transform(clips[:5])
    np.testing.assert_allclose(one, many, atol=1e-5)


def test_moving_shapes_are_told_apart(clips):
    """Moving right, moving down, still: a linear probe tells them apart."""
    X = tiny(n_frames=4, pool="meanmax").fit_transform(clips)
    y = [i % 3 for i in range(12)]
    score = cross_val_score(LogisticRegression(max_iter=2000), X, y, cv=4).mean()
    assert score >= 0.9, score


def test_bad_and_missing_videos(clips, tmp_path):
    broken = write_undecodable_video(tmp_path / "zeros.mp4")
    (tmp_path / "junk.mp4").write_bytes(b"junk" * 100)
    frame = pd.DataFrame({"clip": [clips[0], None, broken, str(tmp_path / "junk.mp4")]})
    encoder = tiny().fit(frame)
    with pytest.raises(ValueError, match=r"column 'clip', row 2: .*no decodable video"):
        encoder.transform(frame)
    encoder.set_params(on_error="missing")
    with pytest.warns(UnreadableValuesWarning, match="2 value"):
        X = encoder.transform(frame)
    assert np.isfinite(X[0]).all() and np.isnan(X[1:]).all()
    with pytest.raises(ValueError, match="row 0: 3 \\(unsupported type int"):
        tiny().fit([3]).transform([3])


@pytest.mark.parametrize(
    ("params", "match"),
    [({"n_frames": 0}, "n_frames"), ({"fps": -1}, "fps"), ({"pool": "sum"}, "pool")],
)
def test_parameter_errors(params, match):
    with pytest.raises(ValueError, match=match):
        tiny(**params).fit([])


def test_cache_hits_skip_decoding(clips, tmp_path):
    encoder = tiny(cache=tmp_path / "cache").fit(clips[:3])
    first = encoder.transform(clips[:3])
    encoder._encode = lambda *a, **k: pytest.fail("a cached video was encoded again")
    np.testing.assert_array_equal(encoder.transform(clips[:3]), first)
    # Other sampling is another fingerprint: encoded again, not a stale hit.
    other = tiny(cache=tmp_path / "cache", n_frames=2).fit(clips[:3])
    assert not np.allclose(other.transform(clips[:3]), first)


@pytest.mark.timeout(60)
def test_n_frames_past_the_clip_costs_only_its_frames(tmp_path):
    """16 frames and n_frames=5000: before, 5000 preprocessed frames went through
    the model (+1.8 GB peak for 2000, 12.7 s); now each sampled frame once, the
    vector pooled over the frames the clip has (the same as n_frames=16 gives)."""
    import resource

    path = write_video(tmp_path / "v.mp4", 0, n=16, fps=8)
    video = VideoEncoder(TINY_IMAGE_MODEL, pretrained=False, device="cpu", n_frames=16)
    expected = video.fit_transform([path])
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    many = video.set_params(n_frames=5000).transform([path])
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 - before < 300
    np.testing.assert_allclose(many, expected, rtol=1e-5, atol=1e-6)
