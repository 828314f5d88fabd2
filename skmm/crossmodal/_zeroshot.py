"""ZeroShotClassifier: classify items by their nearest class description in the
shared space of a fitted CrossModalAligner."""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, _fit_context
from sklearn.exceptions import NotFittedError
from sklearn.utils._param_validation import HasMethods, Interval
from sklearn.utils.validation import check_is_fitted, column_or_1d

from skmm._docs import DocLinkMixin

__all__ = ["ZeroShotClassifier"]


class ZeroShotClassifier(DocLinkMixin, ClassifierMixin, BaseEstimator):
    """Classify items by the nearest class description (cosine similarity) in the
    shared space of a fitted :class:`CrossModalAligner`.

    ``fit`` takes one or more descriptions per class (e.g. a text embedding of each
    class's description, in any modality the aligner knows) and their class labels;
    it learns nothing: it embeds them with the aligner and keeps, per class, the
    unit-length mean of its descriptions' shared vectors. ``predict`` embeds the
    items (e.g. photos) and returns the class whose vector is nearest. The classes
    need not have been seen when the aligner was trained: that is zero-shot
    transfer (Radford et al. 2021).

    Parameters
    ----------
    aligner : CrossModalAligner (or a fitted transformer into a shared space)
        A fitted aligner. It is used as it is, never refitted. To keep it fitted
        through :func:`~sklearn.base.clone` (``GridSearchCV``,
        ``cross_val_score``), wrap it: ``ZeroShotClassifier(FrozenEstimator(
        aligner))`` (:class:`sklearn.frozen.FrozenEstimator`).
    temperature : float or None, default=None
        ``predict_proba`` is the softmax of the cosine similarities divided by
        this temperature. None: the aligner's ``temperature_`` (the learned one for
        a contrastive aligner), else 0.07.

    Attributes
    ----------
    classes_ : ndarray
        The class labels, sorted.
    class_embeddings_ : ndarray of shape (n_classes, n_components)
        The unit-length shared-space vector of each class.
    temperature_ : float
        The temperature of ``predict_proba``.

    Examples
    --------
    >>> import numpy as np
    >>> from skmm.crossmodal import CrossModalAligner, ZeroShotClassifier
    >>> rng = np.random.default_rng(0)
    >>> latent = rng.normal(size=(300, 4))
    >>> to_image, to_text = rng.normal(size=(4, 16)), rng.normal(size=(4, 8))
    >>> X = {"image": latent @ to_image, "text": latent @ to_text}
    >>> aligner = CrossModalAligner(n_components=4, lr=1e-2, random_state=0).fit(X)
    >>> new_classes = rng.normal(size=(3, 4))  # never seen by the aligner
    >>> zero_shot = ZeroShotClassifier(aligner).fit(
    ...     {"text": new_classes @ to_text}, ["a", "b", "c"])
    >>> zero_shot.predict({"image": new_classes @ to_image}).tolist()
    ['a', 'b', 'c']
    """

    _parameter_constraints: dict = {
        "aligner": [HasMethods(["transform"])],
        "temperature": [Interval(numbers.Real, 0, None, closed="neither"), None],
    }

    def __init__(self, aligner: Any, *, temperature: float | None = None):
        self.aligner = aligner
        self.temperature = temperature

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        return tags

    def _embed(self, X, what: str) -> np.ndarray:
        try:
            Z = np.asarray(self.aligner.transform(X), dtype=np.float64)
        except NotFittedError as exc:
            raise NotFittedError(
                "ZeroShotClassifier needs a fitted aligner: fit it first. clone() "
                "(GridSearchCV, cross_val_score) returns an unfitted copy; wrap the "
                "fitted aligner in sklearn.frozen.FrozenEstimator to keep it"
            ) from exc
        if Z.ndim != 2:
            raise ValueError(f"the aligner returned shape {Z.shape}; expected 2-D")
        empty = np.flatnonzero(np.isnan(Z).any(axis=1))
        if len(empty):
            raise ValueError(
                f"{what} rows {empty[:5].tolist()} have no modality the aligner "
                "knows (all absent): they cannot be placed in the shared space"
            )
        norm = np.linalg.norm(Z, axis=1, keepdims=True)
        return Z / np.where(norm < 1e-12, 1.0, norm)

    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, y) -> ZeroShotClassifier:
        """Embed the class descriptions.

        Parameters
        ----------
        X : DataFrame, array-like or dict of str to array-like
            One row per description, in the aligner's input form (e.g.
            ``{"text": T}``); several rows may describe the same class.
        y : array-like of shape (n_descriptions,)
            The class of each description.

        Returns
        -------
        self
        """
        # One description per class is the usual case: no classification-target
        # check (it warns when most labels are unique).
        y = column_or_1d(y, warn=True)
        Z = self._embed(X, "description")
        if len(Z) != len(y):
            raise ValueError(f"X has {len(Z)} descriptions but y has {len(y)}")
        self.classes_, index = np.unique(y, return_inverse=True)
        centroids = np.zeros((len(self.classes_), Z.shape[1]))
        np.add.at(centroids, index.reshape(-1), Z)
        norm = np.linalg.norm(centroids, axis=1, keepdims=True)
        self.class_embeddings_ = centroids / np.where(norm < 1e-12, 1.0, norm)
        if self.temperature is not None:
            self.temperature_ = float(self.temperature)
        else:
            self.temperature_ = float(getattr(self.aligner, "temperature_", 0.07))
        self.n_features_in_ = getattr(self.aligner, "n_features_in_", Z.shape[1])
        return self

    def decision_function(self, X) -> np.ndarray:
        """Cosine similarity of each item to each class.

        Parameters
        ----------
        X : DataFrame, array-like or dict of str to array-like
            Items in the aligner's input form (e.g. ``{"image": Z}``); each row
            must hold at least one modality the aligner knows.

        Returns
        -------
        scores : ndarray of shape (n_samples, n_classes)
            The dot product of each item's unit-length shared vector with each
            row of ``class_embeddings_``, columns in the order of ``classes_``.
        """
        check_is_fitted(self)
        return self._embed(X, "item") @ self.class_embeddings_.T

    def predict_proba(self, X) -> np.ndarray:
        """Class probabilities: the softmax of the cosine similarities over
        ``temperature_``.

        Parameters
        ----------
        X : DataFrame, array-like or dict of str to array-like
            Items in the aligner's input form (e.g. ``{"image": Z}``); each row
            must hold at least one modality the aligner knows.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            Each row sums to 1; columns in the order of ``classes_``. A lower
            temperature makes them sharper; the argmax is :meth:`predict`'s class.
        """
        logits = self.decision_function(X) / self.temperature_
        logits -= logits.max(axis=1, keepdims=True)
        proba = np.exp(logits)
        return proba / proba.sum(axis=1, keepdims=True)

    def predict(self, X) -> np.ndarray:
        """The class whose description is nearest to each item.

        Parameters
        ----------
        X : DataFrame, array-like or dict of str to array-like
            Items in the aligner's input form (e.g. ``{"image": Z}``); each row
            must hold at least one modality the aligner knows.

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
            The class of ``classes_`` with the highest cosine similarity
            (:meth:`decision_function`) for each item.
        """
        return self.classes_[np.argmax(self.decision_function(X), axis=1)]
