"""Target encoding of the neural fusion heads, shared by the three of them.

A target column becomes columns of the network's target matrix and a task of its
loss: a classification target the class index (-1 where unknown) and its class
weights, a regression target its standardised values (NaN where unknown).
:class:`FusionClassifier` has one classification target, :class:`FusionRegressor`
one regression target of one or more outputs, :class:`FusionMultiTask` one per
column of ``y``; each decodes the network's outputs back through the same object.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from sklearn.utils import compute_class_weight
from sklearn.utils.validation import column_or_1d

__all__ = [
    "ClassificationTarget",
    "RegressionTarget",
    "check_regression_targets",
    "softmax",
]


def softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax of a 2-D array of logits."""
    shifted = logits - logits.max(axis=1, keepdims=True)
    exp = np.exp(shifted)
    return exp / exp.sum(axis=1, keepdims=True)


def _mixed(values: np.ndarray) -> bool:
    """Whether an object column mixes types that np.unique cannot sort."""
    return len({type(v) for v in values}) > 1


class ClassificationTarget:
    """A classification target: its classes and their weights in the loss.

    Parameters
    ----------
    classes : ndarray
        The sorted class labels.
    class_weight : tensor or None
        Weight of each class in the cross-entropy.
    """

    kind = "classification"

    def __init__(self, classes: np.ndarray, class_weight: torch.Tensor | None):
        self.classes = classes
        self.class_weight = class_weight

    @property
    def n_outputs(self) -> int:
        """Logits the network gives this target: one per class."""
        return len(self.classes)

    @classmethod
    def fit(
        cls, labels: np.ndarray, known: np.ndarray | None = None, class_weight=None
    ) -> tuple[ClassificationTarget, np.ndarray]:
        """The target of ``labels`` and its column of the target matrix.

        Parameters
        ----------
        labels : ndarray of shape (n_samples,)
        known : ndarray of bool, default=None
            False where the label is unknown (left out of the loss); None: all
            known.
        class_weight : "balanced", dict or None, default=None

        Returns
        -------
        target : ClassificationTarget
        column : ndarray of float32, shape (n_samples, 1)
            The class index, -1 where unknown.
        """
        if known is None:
            known = np.ones(len(labels), dtype=bool)
        values = labels[known]
        classes, index = np.unique(
            values.astype(str) if _mixed(values) else values, return_inverse=True
        )
        column = np.full(len(labels), -1.0, dtype=np.float32)
        column[known] = index.reshape(-1)
        weights = _class_weight_tensor(class_weight, classes, column.astype(int))
        return cls(classes, weights), column[:, None]

    def predict(self, outputs: np.ndarray) -> np.ndarray:
        """The most probable class of each row of the target's logits."""
        return self.classes[np.argmax(outputs, axis=1)]

    def predict_proba(self, outputs: np.ndarray) -> np.ndarray:
        """Class probabilities, columns in the order of ``classes``."""
        return softmax(outputs)


class RegressionTarget:
    """A regression target of one or more outputs, standardised for training.

    Parameters
    ----------
    mean, scale : ndarray of shape (n_outputs,)
        What the targets were centred and divided by (1 for a constant target).
    """

    kind = "regression"
    class_weight = None

    def __init__(self, mean: np.ndarray, scale: np.ndarray):
        self.mean = mean
        self.scale = scale

    @property
    def n_outputs(self) -> int:
        """Outputs the network gives this target."""
        return len(self.mean)

    @classmethod
    def fit(cls, values: np.ndarray) -> tuple[RegressionTarget, np.ndarray]:
        """The target of ``values`` and its standardised columns.

        Parameters
        ----------
        values : ndarray of float64, shape (n_samples, n_outputs)
            NaN where the value is unknown (left out of the loss).

        Returns
        -------
        target : RegressionTarget
        columns : ndarray of float32, shape (n_samples, n_outputs)
        """
        mean = np.nanmean(values, axis=0)
        scale = np.nanstd(values, axis=0)
        scale = np.where(scale < 1e-12, 1.0, scale)
        return cls(mean, scale), ((values - mean) / scale).astype(np.float32)

    def predict(self, outputs: np.ndarray) -> np.ndarray:
        """The network's standardised outputs back in the target's units."""
        return outputs * self.scale + self.mean


def check_regression_targets(y: Any) -> np.ndarray:
    """``y`` as a finite float64 array of 1 or 2 dimensions (one column: 1-D).

    Parameters
    ----------
    y : array-like of shape (n_samples,) or (n_samples, n_outputs)

    Returns
    -------
    y : ndarray of float64
    """
    y = np.asarray(y, dtype=np.float64)
    if y.ndim == 2 and y.shape[1] == 1:
        y = column_or_1d(y, warn=True)
    if y.ndim not in (1, 2):
        raise ValueError(f"y must be 1-D or 2-D; got shape {y.shape}")
    if not np.isfinite(y).all():
        raise ValueError("y contains NaN or infinity")
    return y


def _class_weight_tensor(class_weight: Any, classes, y_index) -> torch.Tensor | None:
    if class_weight is None:
        return None
    known = y_index[y_index >= 0]
    weights = (
        compute_class_weight(class_weight, classes=np.arange(len(classes)), y=known)
        if class_weight == "balanced"
        else np.asarray([float(class_weight.get(c, 1.0)) for c in classes])
    )
    return torch.as_tensor(weights, dtype=torch.float32)
