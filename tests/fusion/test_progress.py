"""The neural heads' training feedback: an epoch bar on stderr, a plain table."""

import pickle

import numpy as np

import skmm
from skmm import FusionClassifier, _progress


def _data(n=60):
    rng = np.random.default_rng(0)
    X = {"a": rng.normal(size=(n, 4)), "b": rng.normal(size=(n, 3))}
    return X, (X["a"][:, 0] > 0).astype(int)


def _head(**params):
    return FusionClassifier(
        hidden=4, max_epochs=3, random_state=0, device="cpu", **params
    )


def test_a_long_fit_shows_an_epoch_bar_on_stderr_only(capsys, monkeypatch):
    X, y = _data()
    _head().fit(X, y)  # a short fit: no bar
    short = capsys.readouterr()
    assert short.out == "" and short.err == ""
    monkeypatch.setattr(_progress, "DELAY_S", 0.0)  # "a few seconds" in small
    head = _head().fit(X, y)
    long = capsys.readouterr()
    assert long.out == ""
    assert "FusionClassifier" in long.err and "epoch" in long.err
    assert "train_loss" in long.err  # the losses ride along
    assert "\x1b" not in long.err
    # The fitted head pickles without its bar.
    assert pickle.loads(pickle.dumps(head)).predict(X).shape == (len(y),)
    with skmm.config_context(progress=False):
        _head().fit(X, y)
    assert capsys.readouterr().err == ""


def test_verbose_table_has_no_colour_codes_off_a_terminal(capsys):
    X, y = _data()
    head = _head(verbose=1).fit(X, y)
    captured = capsys.readouterr()
    assert "train_loss" in captured.out  # skorch's table, as asked for
    assert "\x1b" not in captured.out and "\x1b" not in captured.err
    assert "epoch" not in captured.err  # no bar beside the table
    # The net keeps its own sink (not the wrapper) once fit returns.
    sinks = [cb.sink for _, cb in head.net_.callbacks_ if hasattr(cb, "sink")]
    assert sinks and all(sink is print for sink in sinks)
