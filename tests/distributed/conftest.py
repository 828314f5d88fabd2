"""What the cluster tests share: a small image table and a cached image pipeline."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from PIL import Image
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skmm import ImageEncoder, MultimodalUnion
from tests.conftest import TINY_IMAGE_MODEL, make_image

N_ROWS = 24


@pytest.fixture(scope="module")
def table(tmp_path_factory) -> tuple[pd.DataFrame, np.ndarray]:
    folder = tmp_path_factory.mktemp("images")
    paths = []
    for i in range(N_ROWS):
        path = folder / f"img{i}.png"
        Image.fromarray(make_image(i, size=(32, 32))).save(path)
        paths.append(str(path))
    rng = np.random.default_rng(0)
    df = pd.DataFrame({"photo": paths, "price": rng.normal(size=N_ROWS)})
    y = np.arange(N_ROWS) % 2
    return df, y


def make_model(cache) -> object:
    """Tiny random image encoder (with ``cache``) and a price column -> LR."""
    union = MultimodalUnion(
        [
            (
                "image",
                ImageEncoder(
                    TINY_IMAGE_MODEL, pretrained=False, device="cpu", cache=cache
                ),
                "photo",
            ),
            ("tab", StandardScaler(), ["price"]),
        ]
    )
    return make_pipeline(union, LogisticRegression(max_iter=500))
