"""ZeroShotClassifier: classes never seen by the aligner, probabilities, and the
scikit-learn contract (a frozen aligner survives clone)."""

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.frozen import FrozenEstimator
from sklearn.model_selection import cross_val_score

from skmm.crossmodal import CrossModalAligner, ZeroShotClassifier

FAST = dict(lr=1e-2, max_epochs=30, batch_size=64, device="cpu", random_state=0)


def world(seed=0, n_classes=10, per_class=30):
    """Classes are points in a 5-d latent space; an image is a noisy view of its
    class's point, a description an exact view through another map."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(n_classes, 5))
    to_image, to_text = rng.normal(size=(5, 16)), rng.normal(size=(5, 8))
    y = np.repeat(np.arange(n_classes), per_class)
    images = (centres[y] + 0.3 * rng.normal(size=(len(y), 5))) @ to_image
    descriptions = centres @ to_text
    return images, y, descriptions


def test_classifies_classes_the_aligner_never_saw():
    images, y, descriptions = world()
    seen, unseen = np.arange(6), np.arange(6, 10)
    rows = np.isin(y, seen)
    X_train = {"image": images[rows], "text": descriptions[y[rows]]}
    aligner = CrossModalAligner(n_components=5, **FAST).fit(X_train, y[rows])
    names = np.array([f"class {c}" for c in range(10)])
    zero_shot = ZeroShotClassifier(aligner).fit(
        {"text": descriptions[unseen]}, names[unseen]
    )
    test = np.isin(y, unseen)
    accuracy = zero_shot.score({"image": images[test]}, names[y[test]])
    random = CrossModalAligner("random", n_components=5, random_state=0)
    baseline = ZeroShotClassifier(random.fit(X_train, y[rows])).fit(
        {"text": descriptions[unseen]}, names[unseen]
    )
    # 4 unseen classes: chance is 0.25.
    assert accuracy > 0.8
    assert accuracy > baseline.score({"image": images[test]}, names[y[test]]) + 0.3
    assert list(zero_shot.classes_) == list(names[unseen])


def test_probabilities_similarities_and_several_descriptions_per_class():
    images, y, descriptions = world()
    X = {"image": images, "text": descriptions[y]}
    aligner = CrossModalAligner(n_components=5, **FAST).fit(X, y)
    # Two descriptions of each class (the exact one and a noisy one): averaged.
    rng = np.random.default_rng(1)
    noisy = descriptions + 0.1 * rng.normal(size=descriptions.shape)
    zero_shot = ZeroShotClassifier(aligner).fit(
        {"text": np.vstack([descriptions, noisy])}, np.tile(np.arange(10), 2)
    )
    assert zero_shot.class_embeddings_.shape == (10, 5)
    assert zero_shot.temperature_ == pytest.approx(aligner.temperature_)
    proba = zero_shot.predict_proba({"image": images[:20]})
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    similarity = zero_shot.decision_function({"image": images[:20]})
    assert np.all(np.abs(similarity) <= 1 + 1e-6)
    np.testing.assert_array_equal(proba.argmax(axis=1), similarity.argmax(axis=1))
    np.testing.assert_array_equal(
        zero_shot.predict({"image": images[:20]}), similarity.argmax(axis=1)
    )
    sharper = ZeroShotClassifier(aligner, temperature=0.01).fit(
        {"text": descriptions}, np.arange(10)
    )
    assert sharper.predict_proba({"image": images[:20]}).max(axis=1).mean() > (
        proba.max(axis=1).mean()
    )


def test_a_frozen_aligner_survives_clone_and_an_unfitted_one_is_named():
    images, y, descriptions = world()
    # The union's pandas output: cross-validation needs rows it can index.
    image_cols = [f"image__{i}" for i in range(16)]
    text_cols = [f"text__{i}" for i in range(8)]
    photos = pd.DataFrame(
        np.hstack([images, descriptions[y]]), columns=image_cols + text_cols
    )
    aligner = CrossModalAligner(n_components=5, **FAST).fit(photos, y)
    model = ZeroShotClassifier(FrozenEstimator(aligner))
    assert clone(model).get_params()["temperature"] is None
    # Cross-validation over the descriptions (no image) refits only the classes.
    texts = np.vstack([descriptions, descriptions])
    X_desc = pd.DataFrame(
        np.hstack([np.full((20, 16), np.nan), texts]), columns=image_cols + text_cols
    )
    scores = cross_val_score(model, X_desc, np.tile(np.arange(10), 2), cv=2)
    assert scores.min() > 0.9
    with pytest.raises(NotFittedError, match="FrozenEstimator"):
        clone(ZeroShotClassifier(aligner)).fit(X_desc, np.tile(np.arange(10), 2))


def test_items_with_no_modality_are_named():
    images, y, descriptions = world()
    aligner = CrossModalAligner(n_components=5, **FAST).fit(
        {"image": images, "text": descriptions[y]}, y
    )
    zero_shot = ZeroShotClassifier(aligner).fit({"text": descriptions}, np.arange(10))
    items = images[:3].copy()
    items[2] = np.nan
    with pytest.raises(ValueError, match=r"item rows \[2\]"):
        zero_shot.predict({"image": items})
