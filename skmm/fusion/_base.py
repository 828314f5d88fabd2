"""What the neural fusion heads and fine-tuning share: one mixin.

:class:`NeuralFusionMixin` holds what every estimator that trains a
:class:`~skmm.fusion.FusionNetwork` with skorch does alike: the training
parameters and their constraints, the target encoding, the held-out rows of early
stopping, the network, its loss and the training callbacks (early stopping that
keeps the best epoch, and the epoch bar). The neural heads
(:mod:`skmm.fusion._neural`) and the fine-tuning estimators
(:mod:`skmm.finetune`) both build on it, so that fine-tuning reads no private
module of this package.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from sklearn.model_selection import train_test_split
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import column_or_1d
from skorch.callbacks import Callback, EarlyStopping

from skmm.fusion._modules import FUSION_PARAMETERS, FUSIONS
from skmm.fusion._network import FusionNetwork, MultiTaskLoss
from skmm.fusion._progress import TrainingFeedback
from skmm.fusion._targets import (
    ClassificationTarget,
    RegressionTarget,
    check_regression_targets,
)

__all__ = ["MIN_ROWS_FOR_VALIDATION", "NeuralFusionMixin"]

# Below this many rows, early stopping would validate on a handful of samples: the
# whole data trains for max_epochs instead.
MIN_ROWS_FOR_VALIDATION = 20


class NeuralFusionMixin:
    """Mixin of the estimators that train a :class:`FusionNetwork` with skorch.

    The neural heads (:class:`FusionClassifier`, :class:`FusionRegressor`,
    :class:`FusionMultiTask`) and the fine-tuning estimators
    (:class:`~skmm.FineTuneClassifier`, :class:`~skmm.FineTuneRegressor`) share
    through it the constraints of their common parameters (``fusion``,
    ``hidden``, ``dropout``, ``modality_dropout``, ``missing_embedding``, the
    fusion types' own ``n_heads``, ``n_layers`` and ``rank``, ``lr``,
    ``max_epochs``, ``batch_size``, ``weight_decay``, ``early_stopping``,
    ``validation_fraction``, ``patience``, ``device``, ``random_state``,
    ``verbose``), their target encoding, the rows held out for early stopping
    (stratified for classification; none below 20 rows), the untrained
    network those parameters describe, its loss and the training callbacks
    (``EarlyStopping`` on the validation loss that restores the best epoch's
    weights, and the epoch bar of ``verbose=0``). It defines no ``__init__``:
    each estimator lists its parameters, as scikit-learn requires. Put it before
    ``BaseEstimator`` in the bases.

    See Also
    --------
    FusionNetwork : the network it builds.

    Examples
    --------
    >>> from skmm.fusion import FusionRegressor, NeuralFusionMixin
    >>> issubclass(FusionRegressor, NeuralFusionMixin)
    True
    >>> train, valid = FusionRegressor()._validation_split(None, 40, seed=0)
    >>> len(train), len(valid)
    (36, 4)
    >>> FusionRegressor()._validation_split(None, 19, seed=0)[1] is None  # too few
    True
    """

    _parameter_constraints: dict = {
        "fusion": [StrOptions(set(FUSIONS))],
        "hidden": [Interval(numbers.Integral, 1, None, closed="left")],
        "dropout": [Interval(numbers.Real, 0, 1, closed="left")],
        "modality_dropout": [Interval(numbers.Real, 0, 1, closed="left")],
        "missing_embedding": [StrOptions({"learned", "zero"})],
        # n_heads, n_layers, rank: declared by the fusion types that take them
        **FUSION_PARAMETERS,
        "lr": [Interval(numbers.Real, 0, None, closed="neither")],
        "max_epochs": [Interval(numbers.Integral, 1, None, closed="left")],
        "batch_size": [Interval(numbers.Integral, 1, None, closed="left")],
        "weight_decay": [Interval(numbers.Real, 0, None, closed="left")],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(numbers.Real, 0, 1, closed="neither")],
        "patience": [Interval(numbers.Integral, 1, None, closed="left")],
        "device": [str, torch.device],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        tags.non_deterministic = self.random_state is None
        return tags

    # -- targets ----------------------------------------------------------------------
    def _classification_target(
        self, y: Any, class_weight: Any = None
    ) -> tuple[np.ndarray, ClassificationTarget]:
        """``y`` as class labels: its column of the target matrix and its
        target; sets ``classes_``. One class is an error."""
        y = column_or_1d(y, warn=True)
        check_classification_targets(y)
        target, column = ClassificationTarget.fit(y, class_weight=class_weight)
        if target.n_outputs < 2:
            raise ValueError(
                f"{type(self).__name__} needs at least 2 classes in y; it has one "
                f"class: {target.classes[0]!r}"
            )
        self.classes_ = target.classes
        return column, target

    def _regression_target(self, y: Any) -> tuple[np.ndarray, RegressionTarget]:
        """``y`` as regression targets: their standardised columns and their
        target; sets ``n_outputs_`` (and whether ``predict`` gives 1-D)."""
        y = check_regression_targets(y)
        self._y_1d = y.ndim == 1
        target, columns = RegressionTarget.fit(y.reshape(len(y), -1))
        self.n_outputs_ = target.n_outputs
        return columns, target

    def _stratify_labels(self, targets: np.ndarray) -> np.ndarray | None:
        """The labels the validation split is stratified on (None: not
        stratified)."""
        return None

    # -- training -----------------------------------------------------------------
    def _validation_split(
        self, targets: np.ndarray, n_rows: int, seed: int
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """Training and held-out rows (None: no early stopping, all rows train)."""
        rows = np.arange(n_rows)
        if not self.early_stopping or n_rows < MIN_ROWS_FOR_VALIDATION:
            return rows, None
        try:
            return tuple(
                train_test_split(
                    rows,
                    test_size=self.validation_fraction,
                    random_state=seed,
                    stratify=self._stratify_labels(targets),
                )
            )
        except ValueError:  # a class too rare to stratify
            return tuple(
                train_test_split(
                    rows, test_size=self.validation_fraction, random_state=seed
                )
            )

    def _set_scaler(self, scaler: Any, present: np.ndarray) -> None:
        """Keep the fitted block scaler; a block absent from every row is an error."""
        for j, name in enumerate(self.layout_.names):
            if not present[:, j].any():
                raise ValueError(
                    f"modality {name!r} is absent from every row of the training data"
                )
        self.scaler_ = scaler

    def _network(self, output_sizes: Sequence[int]) -> FusionNetwork:
        """The untrained network; the fusion type's own parameters come from the
        names it declares."""
        fusion_params = {
            name: getattr(self, name)
            for name in getattr(FUSIONS[self.fusion], "hyperparameters", {})
        }
        return FusionNetwork(
            input_dims=self.layout_.widths,
            output_sizes=list(output_sizes),
            fusion=self.fusion,
            hidden=self.hidden,
            dropout=self.dropout,
            modality_dropout=self.modality_dropout,
            missing_embedding=self.missing_embedding,
            fusion_params=fusion_params,
        )

    def _criterion(
        self, encodings: Sequence[Any], loss_weights: Sequence[float], **options: Any
    ) -> MultiTaskLoss:
        """The loss of the tasks ``encodings`` (their class weights included);
        ``options``: :class:`MultiTaskLoss`'s (``row_weights``)."""
        tasks = [(e.kind, e.n_outputs) for e in encodings]
        class_weights = [e.class_weight for e in encodings]
        return MultiTaskLoss(tasks, loss_weights, class_weights, **options)

    def _callbacks(
        self, validate: bool, stopper: type[EarlyStopping] = EarlyStopping, **options
    ) -> list[Callback]:
        """With held-out rows (``validate``), early stopping on their loss that
        restores the best epoch's weights (``options``: the stopper's); always
        the epoch bar with time left (``verbose=0``), or an uncoloured table
        off a terminal."""
        callbacks: list[Callback] = []
        if validate:
            callbacks.append(
                stopper(
                    monitor="valid_loss",
                    patience=self.patience,
                    load_best=True,
                    **options,
                )
            )
        callbacks.append(TrainingFeedback(type(self).__name__))
        return callbacks
