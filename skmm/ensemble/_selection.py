"""Greedy forward ensemble selection with replacement (Caruana et al., 2004).

Candidates are added one at a time, with replacement, each time the one whose
addition scores best; the weights are how often each was added, taken at the step
where the out-of-fold score peaked. A candidate that did not see a row (it reads a
modality the row lacks) takes no part in that row: the weights are renormalised
over the candidates that saw it, and a row that none of the chosen candidates saw
gets the prior.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

__all__ = ["combine", "greedy_selection"]


def combine(
    predictions: Sequence[np.ndarray],
    seen: np.ndarray,
    weights: np.ndarray,
    prior: np.ndarray,
) -> np.ndarray:
    """Per-row weighted mean of the candidates that saw each row.

    Parameters
    ----------
    predictions : sequence of ndarray of shape (n_samples, k)
        One per candidate; rows it did not see may hold anything (NaN).
    seen : ndarray of bool, shape (n_samples, n_candidates)
    weights : ndarray of shape (n_candidates,)
    prior : ndarray of shape (k,)
        The output of a row that no candidate with weight > 0 saw.

    Returns
    -------
    combined : ndarray of shape (n_samples, k)

    Examples
    --------
    >>> import numpy as np
    >>> from skmm.ensemble._selection import combine
    >>> a = np.array([[1.0], [np.nan], [np.nan]])
    >>> b = np.array([[3.0], [5.0], [np.nan]])
    >>> seen = np.array([[True, True], [False, True], [False, False]])
    >>> combine([a, b], seen, np.array([1.0, 1.0]), prior=np.array([0.0])).ravel()
    array([2., 5., 0.])
    """
    n, k = len(seen), len(prior)
    total = np.zeros((n, k))
    mass = np.zeros(n)
    for pred, col, w in zip(predictions, seen.T, weights, strict=True):
        if w <= 0:
            continue
        total[col] += w * pred[col]
        mass[col] += w
    out = np.tile(np.asarray(prior, dtype=float), (n, 1))
    has = mass > 0
    out[has] = total[has] / mass[has, None]
    return out


def greedy_selection(
    predictions: Sequence[np.ndarray],
    seen: np.ndarray,
    score: Callable[[np.ndarray], float],
    prior: np.ndarray,
    *,
    ensemble_size: int = 25,
) -> tuple[np.ndarray, list[float]]:
    """Weights of a greedy forward selection with replacement.

    Parameters
    ----------
    predictions : sequence of ndarray of shape (n_samples, k)
        Out-of-fold predictions of each candidate.
    seen : ndarray of bool, shape (n_samples, n_candidates)
        Which rows each candidate predicted.
    score : callable
        Combined predictions -> score, higher is better.
    prior : ndarray of shape (k,)
        The output of a row that no chosen candidate saw.
    ensemble_size : int, default=25
        Selection steps.

    Returns
    -------
    weights : ndarray of shape (n_candidates,)
        Non-negative, summing to 1: the counts at the best step, normalised. The
        first step picks the best single candidate, so the ensemble's
        out-of-fold score is never below it.
    trace : list of float
        The score after each step.

    Examples
    --------
    >>> import numpy as np
    >>> from skmm.ensemble._selection import greedy_selection
    >>> y = np.array([0.0, 1.0, 2.0, 3.0])
    >>> low, high = (y - 1)[:, None], (y + 1)[:, None]  # each off by one
    >>> seen = np.ones((4, 2), dtype=bool)
    >>> def score(pred):
    ...     return -float(np.mean((pred.ravel() - y) ** 2))
    >>> weights, trace = greedy_selection([low, high], seen, score, np.zeros(1))
    >>> weights.tolist(), [round(t, 6) + 0.0 for t in trace[:2]]
    ([0.5, 0.5], [-1.0, 0.0])
    """
    m = len(predictions)
    counts = np.zeros(m)
    best_counts, best_score = None, -np.inf
    trace = []
    for _ in range(ensemble_size):
        step_best, step_j = -np.inf, None
        for j in range(m):
            trial = counts.copy()
            trial[j] += 1
            value = score(combine(predictions, seen, trial, prior))
            if np.isfinite(value) and value > step_best:
                step_best, step_j = value, j
        if step_j is None:
            break
        counts[step_j] += 1
        trace.append(float(step_best))
        if step_best > best_score:
            best_score, best_counts = step_best, counts.copy()
    if best_counts is None:
        raise ValueError("no candidate has a finite out-of-fold score")
    return best_counts / best_counts.sum(), trace
