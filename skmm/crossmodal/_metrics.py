"""Retrieval metrics for cross-modal aligners."""

from __future__ import annotations

import numpy as np

__all__ = ["recall_at_k"]


def recall_at_k(similarity, relevant, k: int = 1) -> float:
    """Recall@k of a retrieval: the share of queries with a relevant item among
    their ``k`` most similar candidates.

    Queries without any relevant candidate are left out. Ties are broken by the
    candidate's position (the first one ranks higher).

    Parameters
    ----------
    similarity : array-like of shape (n_queries, n_candidates)
        Higher is more similar (e.g. cosine similarity).
    relevant : array-like of bool, shape (n_queries, n_candidates)
        True where the candidate is a right answer for the query.
    k : int, default=1
        How many of the top candidates count.

    Returns
    -------
    float
        In [0, 1].

    Examples
    --------
    >>> import numpy as np
    >>> from skmm.crossmodal import recall_at_k
    >>> similarity = np.array([[0.9, 0.1, 0.5], [0.2, 0.3, 0.8]])
    >>> relevant = np.array([[True, False, False], [True, False, False]])
    >>> recall_at_k(similarity, relevant, k=1), recall_at_k(similarity, relevant, k=3)
    (0.5, 1.0)
    """
    similarity = np.asarray(similarity, dtype=np.float64)
    relevant = np.asarray(relevant, dtype=bool)
    if similarity.ndim != 2 or similarity.shape != relevant.shape:
        raise ValueError(
            "similarity and relevant must be 2-D arrays of the same shape; got "
            f"{similarity.shape} and {relevant.shape}"
        )
    if int(k) < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    has_answer = relevant.any(axis=1)
    if not has_answer.any():
        raise ValueError("no query has a relevant candidate: recall is undefined")
    similarity, relevant = similarity[has_answer], relevant[has_answer]
    if np.isnan(similarity).any():
        raise ValueError("similarity contains NaN")
    k = min(int(k), similarity.shape[1])
    order = np.argsort(-similarity, axis=1, kind="stable")[:, :k]
    hits = np.take_along_axis(relevant, order, axis=1).any(axis=1)
    return float(hits.mean())
