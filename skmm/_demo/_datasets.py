"""The demo's datasets: each one a table, its target and its modality blocks."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split

from skmm.compose import detect_column_types, make_multimodal_union

__all__ = ["DATASETS", "DemoTask"]

#: A block factory: (device, cache) -> (transformer, columns).
BlockFactory = Callable[[str, Any], tuple[Any, Any]]


@dataclass
class DemoTask:
    """A dataset with its modalities: what the demo cross-validates on."""

    name: str
    description: str
    X: pd.DataFrame
    y: pd.Series
    # modality name -> factory (device, cache) -> (transformer, columns)
    blocks: dict[str, BlockFactory]
    scoring: str = "balanced_accuracy"
    class_weight: str | None = "balanced"
    label_names: dict[Any, str] = field(default_factory=dict)
    # Blocks the ensemble reads in another form: raw numbers and categorical
    # codes, which its trees split on natively (its linear candidates one-hot).
    native_blocks: dict[str, BlockFactory] = field(default_factory=dict)


def _tabular(X: pd.DataFrame, given: dict[str, str]) -> tuple[list[str], Any, Any]:
    """The tabular columns of ``X`` and their block, as the column-type detector
    builds it (:func:`~skmm.make_multimodal_union` given a frame): numbers imputed
    and standardised, categories one-hot; and the ensemble's native form (raw
    numbers, categorical codes)."""
    types = detect_column_types(X, types=given)
    columns = [
        c for c, kind in types.items() if kind in ("numeric", "categorical", "datetime")
    ]
    sample = X[columns].head(0)

    def block(categories: str) -> BlockFactory:
        def make(device: str, cache: Any):
            known = {c: types[c] for c in columns}
            return make_multimodal_union(
                sample, types=known, categories=categories
            ), columns

        return make

    return columns, block("onehot"), block("native")


def _reviews(n_samples: int, random_state: int, data_home: Any) -> DemoTask:
    from skmm.datasets import load_womens_reviews
    from skmm.encoders import TextEncoder

    X, y = load_womens_reviews(return_X_y=True)
    if n_samples < len(X):
        X, _, y, _ = train_test_split(
            X, y, train_size=n_samples, stratify=y, random_state=random_state
        )
    X, y = X.reset_index(drop=True), y.reset_index(drop=True)

    def text(column: str, max_length: int) -> BlockFactory:
        def make(device: str, cache: Any):
            # Reviews are short: max_length keeps almost every one whole, cheaper.
            encoder = TextEncoder(max_length=max_length, device=device, cache=cache)
            return encoder, column

        return make

    # The two text columns have their own encoders; "Clothing ID" is a product
    # identifier stored as a number, which the detector cannot tell from one.
    tabular, onehot, native = _tabular(
        X,
        {"Review Text": "drop", "Title": "drop", "Clothing ID": "drop"},
    )
    missing_text = int(X["Review Text"].isna().sum())
    missing_title = int(X["Title"].isna().sum())
    return DemoTask(
        name="reviews",
        description=(
            f"Women's clothing reviews (ships with skmm): {len(X)} of 23,486 rows "
            f"(stratified sample, {int((y == 0).sum())} not recommended), target "
            f"'Recommended IND', balanced accuracy. Modalities: text = 'Review Text' "
            f"({missing_text} missing) and title = 'Title' ({missing_title} missing), "
            f"each all-MiniLM-L6-v2; tabular = {', '.join(tabular)}."
        ),
        X=X,
        y=y,
        blocks={
            "text": text("Review Text", 128),
            "title": text("Title", 32),
            "tabular": onehot,
        },
        label_names={0: "not recommended", 1: "recommended"},
        native_blocks={"tabular": native},
    )


def _av_digits(n_samples: int, random_state: int, data_home: Any) -> DemoTask:
    from skmm.datasets import load_av_digits
    from skmm.encoders import AudioEncoder, ImageEncoder

    X, y = load_av_digits(
        data_home, n_samples=n_samples, random_state=random_state, return_X_y=True
    )
    weights: Any = True
    if data_home is not None:
        # The project's shared layout keeps EfficientNet-Lite0 beside the data.
        local = Path(data_home).parent / "models" / "tf_efficientnet_lite0.safetensors"
        weights = str(local) if local.exists() else True

    def image(device: str, cache: Any):
        encoder = ImageEncoder(
            "tf_efficientnet_lite0", pretrained=weights, device=device, cache=cache
        )
        return encoder, "image"

    def audio(device: str, cache: Any):
        encoder = AudioEncoder(
            "tf_efficientnet_lite0",
            pretrained=weights,
            max_seconds=1,
            device=device,
            cache=cache,
        )
        return encoder, "audio"

    return DemoTask(
        name="av-digits",
        description=(
            f"Audio-visual digits: {len(X)} MNIST images each paired with a spoken "
            f"digit from FSDD (pairs drawn by label, seed {random_state}), accuracy. "
            f"Modalities: image and audio (log-mel), each through ImageNet "
            f"EfficientNet-Lite0."
        ),
        X=X.reset_index(drop=True),
        y=pd.Series(np.asarray(y), name="label"),
        blocks={"image": image, "audio": audio},
        scoring="accuracy",
        class_weight=None,
    )


#: The demo's datasets: name -> (loader, default rows, quick rows).
DATASETS: dict[str, tuple[Callable[..., DemoTask], int, int]] = {
    "reviews": (_reviews, 1500, 600),
    "av-digits": (_av_digits, 1500, 300),
}
