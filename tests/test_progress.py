"""Progress feedback: bars for long work only, on stderr, switchable, plain."""

import numpy as np
import pytest

import skmm
from skmm import ImageEncoder, _progress
from tests.conftest import TINY_IMAGE_MODEL, make_image


def _encoder(**params):
    params.setdefault("cache", False)  # every call encodes
    return ImageEncoder(TINY_IMAGE_MODEL, pretrained=False, device="cpu", **params)


def _images(n):
    return [make_image(i, size=(8, 8)) for i in range(n)]


def test_many_items_show_a_bar_on_stderr_and_nothing_on_stdout(capsys, monkeypatch):
    images = _images(12)
    encoder = _encoder().fit(images[:1])
    capsys.readouterr()
    encoder.transform(images[:3])  # short work: no bar
    short = capsys.readouterr()
    assert short.out == "" and short.err == ""
    monkeypatch.setattr(_progress, "MIN_ITEMS", 10)  # "a few hundred" in small
    encoder.transform(images)
    long = capsys.readouterr()
    assert long.out == ""
    assert "ImageEncoder" in long.err and "12/12" in long.err
    assert "\x1b" not in long.err  # stderr is not a terminal: no escape codes


def test_long_running_work_shows_a_bar_after_the_delay(capsys, monkeypatch):
    images = _images(3)
    encoder = _encoder().fit(images[:1])
    capsys.readouterr()
    monkeypatch.setattr(_progress, "DELAY_S", 0.0)  # "a few seconds" in small
    encoder.transform(images)
    assert "3/3" in capsys.readouterr().err


def test_the_global_switch_and_verbose(capsys, monkeypatch):
    monkeypatch.setattr(_progress, "MIN_ITEMS", 2)
    images = _images(3)
    encoder = _encoder().fit(images[:1])
    capsys.readouterr()
    with skmm.config_context(progress=False):
        encoder.transform(images)
        assert capsys.readouterr().err == ""
        encoder.set_params(verbose=True).transform(images)  # its own choice wins
        assert "3/3" in capsys.readouterr().err
    encoder.set_params(verbose=False).transform(images)
    assert capsys.readouterr().err == ""
    monkeypatch.setattr(_progress, "MIN_ITEMS", 100)
    with skmm.config_context(progress=True):  # every bar, short work included
        encoder.set_params(verbose=None).transform(images)
        assert "3/3" in capsys.readouterr().err
    assert skmm.get_config()["progress"] == "auto"
    with pytest.raises(ValueError, match="progress must be"):
        skmm.set_config(progress="yes")


def test_third_party_bars_are_silenced_and_their_state_restored(capsys):
    logging = pytest.importorskip("transformers.utils.logging")
    assert logging.is_progress_bar_enabled()
    with _progress.quiet_third_party():
        with _progress.quiet_third_party():  # nested: restored once, at the end
            assert not logging.is_progress_bar_enabled()
        assert not logging.is_progress_bar_enabled()
    assert logging.is_progress_bar_enabled()
    logging.disable_progress_bar()  # a user's own choice is kept
    try:
        with _progress.quiet_third_party():
            pass
        assert not logging.is_progress_bar_enabled()
    finally:
        logging.enable_progress_bar()


def test_loading_and_saving_a_text_model_prints_no_bar(capsys, tiny_text_model):
    import pickle

    from skmm import TextEncoder

    capsys.readouterr()  # the fixture's own output
    encoder = TextEncoder(tiny_text_model, device="cpu", max_length=8).fit(["a"])
    restored = pickle.loads(pickle.dumps(encoder))
    captured = capsys.readouterr()
    assert "Loading weights" not in captured.err
    assert "Writing model shards" not in captured.err
    assert captured.out == ""
    np.testing.assert_array_equal(restored.transform(["b"]), encoder.transform(["b"]))
