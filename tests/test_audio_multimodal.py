"""Audio beside other modalities: the default AudioEncoder (MFCC statistics) in a
MultimodalUnion, under the ensemble, on spoken digits (FSDD) with an image or a
text field."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline

from skmm import (
    AudioEncoder,
    EnsembleClassifier,
    ImageEncoder,
    MultimodalUnion,
    TextEncoder,
)
from tests._media import FSDD

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
pytestmark = pytest.mark.skipif(
    not FSDD.exists(), reason="needs the shared FSDD recordings (../shared/data/fsdd)"
)
FAST = dict(preset="fast", cv=3, random_state=0, verbose=0)


def _ensemble(blocks: list) -> object:
    union = MultimodalUnion(blocks).set_output(transform="pandas")
    return make_pipeline(union, EnsembleClassifier(**FAST))


def test_audio_visual_digits_through_the_union_and_the_ensemble():
    """120 pairs (seed 0), 80 to train: the ensemble's held-out accuracy with
    both blocks, and its audio-only candidate: audio alone separates the digits
    (the image block is a random-weight CNN, a weak block)."""
    pytest.importorskip("soundfile")
    from skmm.datasets import load_av_digits

    X, y = load_av_digits(DATA, n_samples=120, return_X_y=True, download=False)
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=40, stratify=y, random_state=0
    )
    model = _ensemble(
        [
            ("image", ImageEncoder("test_convnext", pretrained=False), "image"),
            ("audio", AudioEncoder(), "audio"),
        ]
    ).fit(X_train, y_train)
    ensemble = model[-1]
    board = ensemble.leaderboard_.set_index("candidate")
    assert board.loc["linear[audio]", "blocks"] == "audio"
    assert board.loc["linear[audio]", "score"] > 0.5  # measured 0.70 (chance 0.10)
    assert model.score(X_test, y_test) > 0.5
    # Without the audio the ensemble falls back on the image block.
    no_audio = X_test.assign(audio=None)
    assert model.predict(no_audio).shape == (40,)


def test_speech_and_text_through_the_union_and_the_ensemble(tiny_text_model):
    """A spoken digit and a text field that says only whether it is below five:
    together they beat the recording alone (the text settles the confusions
    across the halves)."""
    pytest.importorskip("soundfile")
    rows = []
    for path in sorted(FSDD.glob("*.wav")):
        digit, speaker, index = path.stem.split("_")
        if int(index) < 8 and speaker in ("jackson", "theo", "nicolas", "george"):
            note = "a small number" if int(digit) < 5 else "a large number"
            rows.append((str(path), note, int(digit), speaker))
    frame = pd.DataFrame(rows, columns=["speech", "note", "digit", "speaker"])
    # Another speaker at test time: the recordings alone are harder to tell apart.
    test = frame["speaker"] == "george"
    X_train, y_train = frame.loc[~test, ["speech", "note"]], frame["digit"][~test]
    X_test, y_test = frame.loc[test, ["speech", "note"]], frame["digit"][test]
    audio = _ensemble([("audio", AudioEncoder(), "speech")]).fit(X_train, y_train)
    both = _ensemble(
        [
            ("audio", AudioEncoder(), "speech"),
            ("text", TextEncoder(tiny_text_model, device="cpu"), "note"),
        ]
    ).fit(X_train, y_train)
    alone, joined = audio.score(X_test, y_test), both.score(X_test, y_test)
    print(f"speech alone {alone:.3f}, speech + text {joined:.3f}")
    assert alone > 0.3
    assert joined > alone  # measured 0.825 against 0.788
    assert np.isin(both[-1].leaderboard_["candidate"], ["linear[text]"]).any()
