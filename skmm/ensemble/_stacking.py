"""Stacking: a regularised linear model on the candidates' out-of-fold outputs.

The second way an ensemble combines its candidates (``combiner="stacking"``),
beside the greedy selection: where the selection can only average the
candidates' probabilities with non-negative weights, the stacker learns a
weight per candidate and class on their log-odds, an intercept that moves the
decision threshold, and (``passthrough=True``) terms in the raw tabular
columns. A candidate's output on a row it does not see (it reads a modality the
row lacks) is the prior, and an indicator column says so.

Classification: ``LogisticRegressionCV`` on each candidate's log-odds (binary)
or log-probabilities (more classes); regression: ``RidgeCV`` on the
predictions. The regularisation is chosen by an inner cross-validation, and
the stacker's own out-of-fold score (a second, nested cross-validation over the
same out-of-fold outputs) is what the ensemble reports as ``oof_score_``, so
that it compares with the selection's.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sklearn.linear_model import LogisticRegressionCV, RidgeCV
from sklearn.model_selection import KFold

from skmm.ensemble._candidates import _LOGISTIC_CV_KWARGS, InnerStratifiedKFold

__all__ = ["Stacker"]

# Probabilities are clipped here before their logarithm: a candidate that is
# certain (a tree's leaf of one class) must not give the stacker an infinity.
_EPS = 1e-4


class Stacker:
    """The stacked combination of a fitted ensemble's candidates.

    Parameters
    ----------
    classify : bool
        Classification (outputs are class probabilities) or regression.
    prior : ndarray of shape (k,)
        A candidate's output on a row it does not see.
    class_weight : dict of int to float, "balanced" or None
        Of the stacker's logistic regression (keys: encoded classes).
    random_state : int or None
        Seed of the inner folds.

    Examples
    --------
    >>> import numpy as np
    >>> from skmm.ensemble._stacking import Stacker
    >>> rng = np.random.default_rng(0)
    >>> y = rng.integers(0, 2, 200)
    >>> good = np.clip(y + rng.normal(0, 0.3, 200), 0.01, 0.99)
    >>> noise = rng.uniform(0.01, 0.99, 200)
    >>> preds = [np.c_[1 - good, good], np.c_[1 - noise, noise]]
    >>> seen = np.ones((200, 2), bool)
    >>> stack = Stacker(True, np.array([0.5, 0.5])).fit(preds, seen, y)
    >>> stack.weights_.round(2)  # the informative candidate carries the stack
    array([0.87, 0.13])
    >>> stack.predict(preds, seen).shape
    (200, 2)
    """

    def __init__(self, classify: bool, prior, class_weight=None, random_state=None):
        self.classify = classify
        self.prior = np.asarray(prior, dtype=float)
        self.class_weight = class_weight
        self.random_state = random_state

    # -- features ---------------------------------------------------------------
    def _columns(self, pred: np.ndarray) -> np.ndarray:
        """A candidate's stacking features: log-odds or log-probabilities."""
        if not self.classify:
            return pred
        p = np.clip(pred, _EPS, 1.0)
        if p.shape[1] == 2:
            return np.log(p[:, 1:] / p[:, :1])
        return np.log(p)

    def features(
        self,
        preds: Sequence[np.ndarray],
        seen: np.ndarray,
        extra: np.ndarray | None = None,
    ) -> np.ndarray:
        """The stacker's input: each candidate's columns (the prior where it does
        not see a row, and then an indicator), then ``extra``."""
        parts = []
        for j, pred in enumerate(preds):
            col = seen[:, j]
            filled = np.where(col[:, None], np.nan_to_num(pred), self.prior)
            parts.append(self._columns(filled))
            if self._indicators is not None and self._indicators[j]:
                parts.append((~col).astype(float)[:, None])
        if extra is not None:
            parts.append(extra)
        return np.hstack(parts) if parts else np.empty((len(seen), 0))

    # -- fit --------------------------------------------------------------------
    def _model(self):
        if self.classify:
            return LogisticRegressionCV(
                Cs=np.logspace(-3, 2, 6),
                cv=InnerStratifiedKFold(3, random_state=self.random_state),
                scoring="neg_log_loss",
                class_weight=self.class_weight,
                max_iter=2000,
                **_LOGISTIC_CV_KWARGS,
            )
        return RidgeCV(alphas=np.logspace(-3, 4, 15))

    def fit(
        self, preds, seen, target, sample_weight=None, extra=None, indicators=None
    ) -> Stacker:
        """Fit on the candidates' out-of-fold outputs.

        Parameters
        ----------
        preds : sequence of ndarray of shape (n_samples, k)
        seen : ndarray of bool, shape (n_samples, n_candidates)
        target : ndarray of shape (n_samples,)
            Encoded classes (int) or values.
        sample_weight : ndarray of shape (n_samples,), default=None
        extra : ndarray of shape (n_samples, m), default=None
            More columns (the raw tabular ones), standardised.
        indicators : ndarray of bool, shape (n_candidates,), default=None
            Which candidates get a "not seen" column; default: those that miss
            a row of ``seen``.

        Returns
        -------
        self : Stacker
        """
        self._indicators = ~seen.all(axis=0) if indicators is None else indicators
        X = self.features(preds, seen, extra)
        self.model_ = self._model().fit(X, target, sample_weight=sample_weight)
        coef = np.atleast_2d(self.model_.coef_)
        mass = []
        start = 0
        for j, pred in enumerate(preds):
            width = self._columns(pred[:1]).shape[1] + int(self._indicators[j])
            mass.append(float(np.abs(coef[:, start : start + width]).sum()))
            start += width
        mass = np.asarray(mass)
        total = mass.sum()
        self.weights_ = mass / total if total > 0 else np.zeros(len(mass))
        return self

    def predict(self, preds, seen, extra=None) -> np.ndarray:
        """The stacked output: (n_samples, k) probabilities or (n_samples, 1)."""
        X = self.features(preds, seen, extra)
        if self.classify:
            out = np.zeros((len(X), len(self.prior)))
            out[:, self.model_.classes_] = self.model_.predict_proba(X)
            return out
        return self.model_.predict(X)[:, None]

    def out_of_fold(
        self, preds, seen, target, sample_weight=None, extra=None, n_splits=5
    ) -> np.ndarray:
        """The stacker's own out-of-fold outputs: each row predicted by a stacker
        fitted without it (the score the ensemble reports)."""
        n = len(target)
        out = np.zeros((n, len(self.prior) if self.classify else 1))
        if self.classify:
            split = InnerStratifiedKFold(n_splits, random_state=self.random_state)
        else:
            split = KFold(n_splits, shuffle=True, random_state=self.random_state)
        folds = split.split(np.zeros(n), target)
        for train, test in folds:
            inner = Stacker(
                self.classify, self.prior, self.class_weight, self.random_state
            ).fit(
                [p[train] for p in preds],
                seen[train],
                target[train],
                None if sample_weight is None else sample_weight[train],
                None if extra is None else extra[train],
                indicators=self._indicators,
            )
            out[test] = inner.predict(
                [p[test] for p in preds],
                seen[test],
                None if extra is None else extra[test],
            )
        return out

    _indicators: np.ndarray | None = None
