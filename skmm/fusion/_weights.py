"""Sample weights in the heads: validation, and how a meta-estimator passes them
to the estimators it fits (late fusion, the ensemble).

With metadata routing off (scikit-learn's default), a meta-estimator passes
``sample_weight`` itself, as scikit-learn's ``StackingClassifier`` does: to an
estimator whose ``fit`` takes it, or to every step of a pipeline that takes it;
an estimator that takes none is an error that names it. With routing on, the
weights go where the estimators request them (``process_routing``), and the
defaults that skmm builds, which the user never sees, request them.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.pipeline import Pipeline
from sklearn.utils.metadata_routing import _routing_enabled
from sklearn.utils.validation import _check_sample_weight, has_fit_parameter

__all__ = ["check_sample_weight", "requesting_weights", "weight_params"]


def check_sample_weight(sample_weight, n_samples: int) -> np.ndarray:
    """``sample_weight`` validated as scikit-learn does: shape ``(n_samples,)``,
    finite, non-negative and not all zero (scikit-learn's own errors).

    Examples
    --------
    >>> from skmm.fusion._weights import check_sample_weight
    >>> check_sample_weight([1, 2], 2)
    array([1., 2.])
    """
    weights = _check_sample_weight(
        sample_weight, np.empty((n_samples, 0)), ensure_non_negative=True
    )
    if not weights.any():  # scikit-learn < 1.7 lets all zeros through
        raise ValueError("Sample weights must contain at least one non-zero number.")
    return weights


def weight_params(estimator: Any, sample_weight, what: str) -> dict:
    """The ``fit`` keyword arguments that pass ``sample_weight`` to ``estimator``
    when metadata routing is off.

    A pipeline gets it in every step whose ``fit`` takes it
    (``step__sample_weight``; its last step must take it); another estimator as
    ``sample_weight``. ``what`` names the estimator in the error raised when it
    cannot take weights.

    Examples
    --------
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.preprocessing import StandardScaler
    >>> from skmm.fusion._weights import weight_params
    >>> pipe = make_pipeline(StandardScaler(), LogisticRegression())
    >>> sorted(weight_params(pipe, [1.0, 2.0], "the model"))
    ['logisticregression__sample_weight', 'standardscaler__sample_weight']
    """
    if sample_weight is None:
        return {}
    if isinstance(estimator, Pipeline):
        steps = [(n, s) for n, s in estimator.steps if s not in (None, "passthrough")]
        if steps and has_fit_parameter(steps[-1][1], "sample_weight"):
            return {
                f"{name}__sample_weight": sample_weight
                for name, step in steps
                if has_fit_parameter(step, "sample_weight")
            }
    elif has_fit_parameter(estimator, "sample_weight"):
        return {"sample_weight": sample_weight}
    raise TypeError(
        f"{what} ({type(estimator).__name__}) does not accept sample_weight in fit; "
        "give an estimator that does, or fit without sample_weight"
    )


def requesting_weights(estimator: Any) -> Any:
    """``estimator`` (a default that skmm made, not the user) set to request
    ``sample_weight`` in ``fit`` wherever it takes it, when metadata routing is
    on; unchanged when it is off. Walks pipeline steps and the ``estimator`` and
    ``final_estimator`` of a meta-estimator.

    Examples
    --------
    >>> from sklearn.linear_model import LogisticRegression
    >>> from skmm.fusion._weights import requesting_weights
    >>> requesting_weights(LogisticRegression())
    LogisticRegression()
    """
    if not _routing_enabled():
        return estimator
    if isinstance(estimator, Pipeline):
        for _, step in estimator.steps:
            if step not in (None, "passthrough"):
                requesting_weights(step)
        return estimator
    if has_fit_parameter(estimator, "sample_weight"):
        estimator.set_fit_request(sample_weight=True)
    for attr in ("estimator", "final_estimator"):
        inner = getattr(estimator, attr, None)
        if inner is not None and hasattr(inner, "fit"):
            requesting_weights(inner)
    return estimator
