"""Neural fusion heads: scikit-learn estimators that train a
:class:`~skmm.fusion._network.FusionNetwork` with skorch.

The estimators own what scikit-learn users expect (parameters, validation, labels,
scaling, ``predict``/``predict_proba``, pickling) and hand the training loop and
early stopping to a skorch ``NeuralNet`` kept in ``net_``. What they share with
fine-tuning (the common parameters, the target encoding, the validation split, the
network, its loss and the training callbacks) is :class:`~skmm.fusion.NeuralFusionMixin`
(:mod:`skmm.fusion._base`). The other jobs live next to them: the block
standardisation in
:mod:`skmm.compose._scaling`, the target encoding shared by the three heads in
:mod:`skmm.fusion._targets`, the accelerate glue in :mod:`skmm.fusion._accelerate`,
and each fusion type, with the parameters of its own, in :mod:`skmm.fusion._modules`.
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np
import pandas as pd
import torch
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin, _fit_context
from sklearn.metrics import accuracy_score, r2_score
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions
from sklearn.utils.multiclass import type_of_target
from sklearn.utils.validation import check_is_fitted
from skorch.callbacks import EarlyStopping
from skorch.dataset import Dataset
from skorch.helper import predefined_split

from skmm._docs import DocLinkMixin
from skmm._torch import (
    auto_num_threads,
    limited_threads,
    resolve_device,
    seed_from,
    seeded,
)
from skmm.compose._blocks import split_blocks, validate_modality_input
from skmm.compose._scaling import BlockScaler
from skmm.fusion import _accelerate, _rows
from skmm.fusion._base import NeuralFusionMixin
from skmm.fusion._modules import FUSIONS
from skmm.fusion._targets import ClassificationTarget, RegressionTarget
from skmm.fusion._weights import check_sample_weight

__all__ = ["FusionClassifier", "FusionMultiTask", "FusionRegressor"]


class _BaseFusion(NeuralFusionMixin, DocLinkMixin, BaseEstimator):
    """Shared machinery of the neural fusion heads (what fine-tuning shares too
    is in :class:`NeuralFusionMixin`)."""

    _parameter_constraints: dict = {
        **NeuralFusionMixin._parameter_constraints,
        "modalities": [dict, None],
        "accelerator": [HasMethods(["prepare", "autocast", "unwrap_model"]), None],
        "n_threads": [Interval(numbers.Integral, 1, None, closed="left"), None],
    }

    def __init__(
        self,
        fusion: str = "concat",
        *,
        hidden: int = 64,
        dropout: float = 0.1,
        modality_dropout: float = 0.2,
        missing_embedding: str = "learned",
        n_heads: int = 4,
        n_layers: int = 1,
        rank: int = 4,
        lr: float = 1e-3,
        max_epochs: int = 100,
        batch_size: int = 64,
        weight_decay: float = 1e-4,
        early_stopping: bool = True,
        validation_fraction: float = 0.1,
        patience: int = 10,
        modalities: dict | None = None,
        device: str = "auto",
        random_state: Any = None,
        verbose: int = 0,
        accelerator: Any = None,
        n_threads: int | None = None,
    ):
        self.fusion = fusion
        self.hidden = hidden
        self.dropout = dropout
        self.modality_dropout = modality_dropout
        self.missing_embedding = missing_embedding
        self.n_heads = n_heads
        self.n_layers = n_layers
        self.rank = rank
        self.lr = lr
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.weight_decay = weight_decay
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.patience = patience
        self.modalities = modalities
        self.device = device
        self.random_state = random_state
        self.verbose = verbose
        self.accelerator = accelerator
        self.n_threads = n_threads

    # -- input ------------------------------------------------------------------
    def _validated(self, X, *, reset: bool):
        """``X`` checked (a float memory map stays one, not copied)."""
        X, _ = validate_modality_input(
            self,
            X,
            reset=reset,
            modalities=self.modalities,
            dtype=[np.float32, np.float64],
        )
        return X

    @property
    def block_means_(self) -> list[np.ndarray]:
        """Each block's feature means (float64), over the rows that have it."""
        return self.scaler_.means_

    @property
    def block_scales_(self) -> list[np.ndarray]:
        """What each block's features are divided by (float64; 1 for a constant)."""
        return self.scaler_.scales_

    def _scale(self, blocks, present, *, fit: bool) -> dict[str, np.ndarray]:
        """The network's inputs: each block standardised with the statistics of
        the rows that have it, and the presence mask.

        A NaN left inside a present row becomes the feature's mean (0 after
        scaling); an absent row is all zeros and masked in the network.
        """
        if fit:
            self._set_scaler(BlockScaler().fit(blocks, present), present)
        scaled = self.scaler_.transform(blocks, present)
        inputs = {f"x{j}": block for j, block in enumerate(scaled)}
        inputs["present"] = present.copy()
        return inputs

    # -- targets: one hook per estimator ------------------------------------------
    def _encode_targets(self, y) -> tuple[np.ndarray, list, list[float]]:
        """Return (target matrix, one ClassificationTarget or RegressionTarget per
        task, the tasks' loss weights)."""
        raise NotImplementedError

    # -- threads ----------------------------------------------------------------------
    def _threads(self) -> int | None:
        """Intra-op threads for this head's fit and predict: ``n_threads``, or by
        the multiply-adds of one batch (see :func:`skmm._torch.auto_num_threads`)."""
        if self.n_threads is not None:
            return self.n_threads
        hidden, widths = self.hidden, self.layout_.widths
        work = self.batch_size * (sum(widths) * hidden + 4 * len(widths) * hidden**2)
        return auto_num_threads(work)

    # -- training -------------------------------------------------------------------
    def _row_weights(self, sample_weight, n_rows, targets, encodings):
        """Per-row loss weights normalised to mean 1, or None when every row weighs
        the same (so that no weights, ones or any constant train alike, exactly)."""
        if sample_weight is None:
            return None
        weights = check_sample_weight(sample_weight, n_rows)
        col = 0
        for i, target in enumerate(encodings):
            if target.kind == "classification":
                labels = targets[:, col]
                weighed = np.unique(labels[(weights > 0) & (labels >= 0)]).astype(int)
                if len(weighed) < 2:
                    found = (
                        f"all of class {target.classes[weighed[0]]!r}"
                        if len(weighed)
                        else "none"
                    )
                    raise ValueError(
                        f"{self._target_name(i)} needs at least 2 classes with "
                        f"a positive sample_weight; the rows that weigh are {found}"
                    )
            col += 1 if target.kind == "classification" else target.n_outputs
        if np.all(weights == weights[0]):
            return None
        return (weights / weights.mean()).astype(np.float32)

    def _target_name(self, task: int) -> str:
        return type(self).__name__

    def _fit(self, X, y, sample_weight=None):
        if y is None:
            raise ValueError(
                f"{type(self).__name__} requires y to be passed, but the target y "
                "is None"
            )
        X = self._validated(X, reset=True)
        targets, encodings, loss_weights = self._encode_targets(y)
        n_rows = _rows.n_rows(X)
        if len(targets) != n_rows:
            raise ValueError(
                f"X has {n_rows} rows but y has {len(targets)}: they must match"
            )
        row_weights = self._row_weights(sample_weight, n_rows, targets, encodings)
        with limited_threads(self._threads()):
            return self._train(X, targets, encodings, loss_weights, row_weights)

    def _train(self, X, targets, encodings, loss_weights, row_weights):
        n_rows = _rows.n_rows(X)
        split_targets = targets
        if row_weights is not None:
            # The loss reads each row's weight from the target matrix's last column.
            targets = np.hstack([targets, row_weights[:, None]])
        # Past IN_MEMORY_BYTES the rows are read from X as training needs them (a
        # memory map stays on disk) instead of being standardised in a copy.
        stream = n_rows * _rows.row_bytes(self.layout_) > _rows.IN_MEMORY_BYTES
        if stream:
            scaler, present = _rows.streamed_scaler(X, self.layout_)
            self._set_scaler(scaler, present)

            def dataset(rows):
                return self._row_dataset(X, present, targets, rows)
        else:
            inputs = self._scale(*split_blocks(X, self.layout_), fit=True)

            def dataset(rows):
                return Dataset({k: v[rows] for k, v in inputs.items()}, targets[rows])

        accelerator = self.accelerator
        # With an accelerator, accelerate places the data and the model (one GPU
        # per process under ``accelerate launch``) and ``device`` is not used.
        self.device_ = (
            resolve_device(self.device)
            if accelerator is None
            else _accelerate.device_name(accelerator.device)
        )
        seed = seed_from(self.random_state)
        seed = _accelerate.shared_seed(accelerator, seed)
        train_idx, valid_idx = self._validation_split(split_targets, n_rows, seed)
        train_split = None
        if valid_idx is not None:
            train_split = predefined_split(dataset(valid_idx))
        callbacks = self._callbacks(
            valid_idx is not None,
            stopper=(
                EarlyStopping
                if accelerator is None
                else _accelerate.UnwrappedEarlyStopping
            ),
        )
        tasks = [(e.kind, e.n_outputs) for e in encodings]
        with seeded(seed, self.device_):
            net_params = {
                "module": self._network([n for _, n in tasks]),
                "criterion": self._criterion(
                    encodings, loss_weights, row_weights=row_weights is not None
                ),
                "optimizer": torch.optim.AdamW,
                "lr": self.lr,
                "optimizer__weight_decay": self.weight_decay,
                "max_epochs": self.max_epochs,
                "batch_size": self.batch_size,
                "iterator_train__shuffle": True,
                "train_split": train_split,
                "callbacks": callbacks,
                "verbose": self.verbose,
            }
            self.net_ = _accelerate.build_net(
                net_params,
                accelerator=accelerator,
                device=self.device_,
                verbose=self.verbose,
            )
            if stream:
                self.net_.fit(dataset(train_idx), None)
            else:
                self.net_.fit(
                    {k: v[train_idx] for k, v in inputs.items()}, targets[train_idx]
                )
            if accelerator is not None:
                self.net_ = _accelerate.plain_net(self.net_, net_params, self.device_)
            else:
                # The validation split holds the held-out rows (or, streamed, the
                # whole input): a saved head must not carry them.
                self.net_.train_split = None
        self.tasks_ = tasks
        self._encodings = encodings
        self.n_epochs_ = len(self.net_.history)
        self.best_epoch_ = self._best_epoch(valid_idx is not None)
        return self

    def _best_epoch(self, stopped_early: bool) -> int:
        """The epoch whose weights the network kept: early stopping's best
        validation loss, else the last one."""
        if stopped_early:
            best = [
                row["epoch"]
                for row in self.net_.history
                if row.get("valid_loss_best", False)
            ]
            if best:
                return int(best[-1])
        return self.n_epochs_

    def _row_dataset(self, X, present, targets, rows) -> _rows.ScaledRows:
        return _rows.ScaledRows(
            X,
            self.layout_,
            present,
            self.scaler_,
            targets,
            rows,
        )

    def _outputs(self, X) -> np.ndarray:
        """Raw network outputs (logits and scaled regression values), computed a
        chunk of rows at a time so that only one chunk is standardised in memory."""
        check_is_fitted(self)
        X = self._validated(X, reset=False)
        outs = []
        # A DataLoader draws its base seed from torch's global RNG even without
        # shuffling: fork_rng keeps predict free of that side effect.
        with (
            limited_threads(self._threads()),
            torch.random.fork_rng(devices=[]),
            torch.inference_mode(),
        ):
            for rows in _rows.chunks(_rows.n_rows(X), self.layout_, self.batch_size):
                blocks, present = split_blocks(_rows.take(X, rows), self.layout_)
                inputs = self._scale(blocks, present, fit=False)
                outs.append(self.net_.forward(inputs, training=False).float().numpy())
        if not outs:  # no rows
            width = sum(n for _, n in self.tasks_)
            return np.empty((0, width), dtype=np.float32)
        return np.concatenate(outs)

    def _split_outputs(self, out: np.ndarray) -> list[np.ndarray]:
        """The outputs of each task, in the order of ``tasks_``."""
        parts, col = [], 0
        for _, n_out in self.tasks_:
            parts.append(out[:, col : col + n_out])
            col += n_out
        return parts

    def __getstate__(self):
        # The accelerator is a handle on this process's devices and process group,
        # meaningless elsewhere: it is not saved (the trained net does not need it).
        state = dict(super().__getstate__())
        if state.get("accelerator") is not None:
            state["accelerator"] = None
        return state

    def __setstate__(self, state):
        super().__setstate__(state)
        net = state.get("net_")
        if net is not None:
            # skorch moved a CUDA-trained net to the CPU if this machine lacks CUDA.
            self.device_ = str(net.device)


_FUSION_NAMES = ", ".join(f'"{name}"' for name in FUSIONS)

_COMMON_DOC = f"""
    fusion : {_FUSION_NAMES}, default="concat"
        How the modality vectors are combined; see :mod:`skmm.fusion` for each
        formula and its reference.
    hidden : int, default=64
        Width of each modality's projection and of the fused trunk.
    dropout : float, default=0.1
        Dropout after each projection and in the trunk.
    modality_dropout : float, default=0.2
        Training only: the probability of hiding each modality of a row (a row
        keeps at least one; no effect with one block). Makes predictions robust to
        a modality missing at predict time, and keeps a strong modality from
        drowning a weaker one: on the audio-visual digits benchmark 0.2 raised the
        accuracy of concat fusion from 0.972 to 0.985; on the reviews it changed
        balanced accuracy by less than the fold-to-fold spread.
    missing_embedding : {{"learned", "zero"}}, default="learned"
        An absent modality is always masked. "learned" also adds a trained vector
        per absent modality to the fused representation, so that absence itself
        can inform the prediction (no photo, no review); "zero" adds nothing.
    n_heads, n_layers : int, default=4, 1
        Attention heads and layers of ``fusion="transformer"``.
    rank : int, default=4
        Rank of ``fusion="lowrank"``.
    lr, max_epochs, batch_size, weight_decay : default=1e-3, 100, 64, 1e-4
        AdamW learning rate and weight decay, epochs and batch size.
    early_stopping : bool, default=True
        Hold out ``validation_fraction`` of the rows (stratified for
        classification) and stop when the validation loss has not improved for
        ``patience`` epochs, keeping the best epoch's weights. Needs at least 20
        rows; with fewer, all rows train for ``max_epochs``.
    validation_fraction : float, default=0.1
    patience : int, default=10
    modalities : dict, default=None
        Modality name to slice, column positions or column names of ``X``
        (``MultimodalUnion.output_indices_`` works as it is). By default the blocks
        come from the ``"{{modality}}__"`` prefixes of a DataFrame's columns or from
        the keys of a dict of arrays; any other input is one block.
    device : str, default="auto"
        "auto" (CUDA, then MPS, then CPU), "cpu", "cuda", "cuda:1", "mps".
    random_state : int, RandomState or None, default=None
        Seeds initialisation, shuffling, dropout and the validation split, without
        changing torch's global random state. Fixed, results repeat on the CPU.
    verbose : int, default=0
        1 prints skorch's per-epoch table.
    accelerator : accelerate.Accelerator, default=None
        Train through Hugging Face accelerate (skorch's ``AccelerateMixin``):
        data-parallel training on several GPUs when the script runs under
        ``accelerate launch``, and mixed precision (``Accelerator(mixed_precision=
        "bf16")``). ``device`` is then ignored: the accelerator places the model
        and the batches. After training the head keeps a plain skorch net with the
        trained float32 weights, so it pickles without the accelerator (a loaded
        head has ``accelerator=None``) and loads and predicts on a CPU-only
        machine. Under ``accelerate launch`` every process
        fits the same head; save it from one (``if accelerator.is_main_process``).
    n_threads : int, default=None
        Intra-op threads of torch (and of BLAS/OpenMP, through threadpoolctl)
        inside ``fit``, ``predict`` and ``predict_proba`` only: the caller's
        settings are restored when the call returns or raises. None: one thread
        per 2**25 multiply-adds of a training batch, at most torch's current
        number; a head on encoder embeddings gets 1, which on a busy 2-core
        machine fitted 5-40x faster than torch's default of 2 (see
        ``benchmarks/busy_threads.py``). ``torch.set_num_threads`` is
        process-wide, so another Python thread running torch meanwhile shares the
        limit."""

_COMMON_ATTRS = """
    layout_ : BlockLayout
        The modality blocks found in ``X`` (names, columns, indicators).
    scaler_ : BlockScaler
        The standardisation of each block (``block_means_`` and ``block_scales_``
        are its float64 statistics).
    net_ : skorch.NeuralNet
        The trained network; ``net_.history`` holds the per-epoch losses.
    n_epochs_ : int
        Epochs trained (fewer than ``max_epochs`` when early stopping stopped).
    best_epoch_ : int
        The epoch whose weights were kept (1-based): the best validation loss with
        early stopping, else the last epoch. A refit on every row without early
        stopping can train ``max_epochs=best_epoch_``.
    device_ : str
        Device the network lives on.
    n_features_in_ : int
    feature_names_in_ : ndarray of str
        Only when ``X`` was a DataFrame."""


class FusionClassifier(ClassifierMixin, _BaseFusion):
    __doc__ = f"""Neural fusion classifier over modality blocks.

    Each modality block is standardised, projected to ``hidden`` features, fused by
    ``fusion`` and classified. A modality absent from a row (its indicator set, or
    all NaN) is masked, not read as zeros.

    Parameters
    ----------{_COMMON_DOC}
    class_weight : "balanced", dict or None, default=None
        Weights of the classes in the loss.

    Attributes
    ----------
    classes_ : ndarray
        The class labels.{_COMMON_ATTRS}

    Examples
    --------
    >>> import numpy as np
    >>> from skmm import FusionClassifier
    >>> rng = np.random.default_rng(0)
    >>> X = {{"image": rng.normal(size=(60, 8)), "text": rng.normal(size=(60, 4))}}
    >>> y = (X["image"][:, 0] + X["text"][:, 0] > 0).astype(int)
    >>> clf = FusionClassifier("gated", hidden=16, random_state=0).fit(X, y)
    >>> clf.predict_proba(X).shape
    (60, 2)
    """

    _parameter_constraints = {
        **_BaseFusion._parameter_constraints,
        "class_weight": [StrOptions({"balanced"}), dict, None],
    }

    def __init__(
        self,
        fusion: str = "concat",
        *,
        hidden: int = 64,
        dropout: float = 0.1,
        modality_dropout: float = 0.2,
        missing_embedding: str = "learned",
        n_heads: int = 4,
        n_layers: int = 1,
        rank: int = 4,
        lr: float = 1e-3,
        max_epochs: int = 100,
        batch_size: int = 64,
        weight_decay: float = 1e-4,
        early_stopping: bool = True,
        validation_fraction: float = 0.1,
        patience: int = 10,
        modalities: dict | None = None,
        device: str = "auto",
        random_state: Any = None,
        verbose: int = 0,
        accelerator: Any = None,
        n_threads: int | None = None,
        class_weight: dict | str | None = None,
    ):
        super().__init__(
            fusion,
            hidden=hidden,
            dropout=dropout,
            modality_dropout=modality_dropout,
            missing_embedding=missing_embedding,
            n_heads=n_heads,
            n_layers=n_layers,
            rank=rank,
            lr=lr,
            max_epochs=max_epochs,
            batch_size=batch_size,
            weight_decay=weight_decay,
            early_stopping=early_stopping,
            validation_fraction=validation_fraction,
            patience=patience,
            modalities=modalities,
            device=device,
            random_state=random_state,
            verbose=verbose,
            accelerator=accelerator,
            n_threads=n_threads,
        )
        self.class_weight = class_weight

    def _encode_targets(self, y):
        column, target = self._classification_target(y, self.class_weight)
        return column, [target], [1.0]

    def _stratify_labels(self, targets):
        return targets[:, 0]

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None) -> FusionClassifier:
        """Train on ``X`` and labels ``y``.

        Parameters
        ----------
        X : DataFrame, array-like or dict of str to array-like
            The modality blocks (see the class docstring for how they are found).
        y : array-like of shape (n_samples,)
            Class labels.
        sample_weight : array-like of shape (n_samples,), default=None
            Weighs each row's loss (in training and in early stopping's
            validation loss), as ``sum w_i l_i / sum w_i`` per batch; equal
            weights train exactly as none. The block and target standardisation
            keep unweighted statistics (a reparametrisation of the inputs, not
            part of the loss).

        Returns
        -------
        self : object
        """
        return self._fit(X, y, sample_weight)

    def predict_proba(self, X) -> np.ndarray:
        """Class probabilities, columns in the order of ``classes_``.

        Parameters
        ----------
        X : DataFrame, dict of str to array-like, or array-like
            The blocks, in the form the head was fitted on.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
        """
        logits = self._outputs(X)  # checks that the head is fitted
        return self._encodings[0].predict_proba(logits)

    def predict(self, X) -> np.ndarray:
        """The most probable class of each row.

        Parameters
        ----------
        X : DataFrame, dict of str to array-like, or array-like
            The blocks, in the form the head was fitted on.

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
        """
        logits = self._outputs(X)  # checks that the head is fitted
        return self._encodings[0].predict(logits)


class FusionRegressor(RegressorMixin, _BaseFusion):
    __doc__ = f"""Neural fusion regressor over modality blocks.

    Same network as :class:`FusionClassifier`; the targets are standardised inside
    (and the predictions scaled back), so neither X nor y needs a scaler.

    Parameters
    ----------{_COMMON_DOC}

    Attributes
    ----------
    n_outputs_ : int
        Number of targets (``predict`` returns 1-D when ``y`` was 1-D).{_COMMON_ATTRS}

    Examples
    --------
    >>> import numpy as np
    >>> from skmm import FusionRegressor
    >>> rng = np.random.default_rng(0)
    >>> X = {{"image": rng.normal(size=(60, 8)), "tab": rng.normal(size=(60, 2))}}
    >>> y = X["image"][:, 0] - 2 * X["tab"][:, 1]
    >>> reg = FusionRegressor("attention", hidden=16, random_state=0).fit(X, y)
    >>> reg.predict(X).shape
    (60,)
    """

    def _encode_targets(self, y):
        columns, target = self._regression_target(y)
        self.y_mean_, self.y_scale_ = target.mean, target.scale
        return columns, [target], [1.0]

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None) -> FusionRegressor:
        """Train on ``X`` and targets ``y``.

        Parameters
        ----------
        X : DataFrame, array-like or dict of str to array-like
            The modality blocks (see the class docstring for how they are found).
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            Targets.
        sample_weight : array-like of shape (n_samples,), default=None
            Weighs each row's loss (in training and in early stopping's
            validation loss), as ``sum w_i l_i / sum w_i`` per batch; equal
            weights train exactly as none. The block and target standardisation
            keep unweighted statistics (a reparametrisation of the inputs, not
            part of the loss).

        Returns
        -------
        self : object
        """
        return self._fit(X, y, sample_weight)

    def predict(self, X) -> np.ndarray:
        """Predicted targets: 1-D for a 1-D ``y``.

        Parameters
        ----------
        X : DataFrame, dict of str to array-like, or array-like
            The blocks, in the form the head was fitted on.

        Returns
        -------
        y_pred : ndarray of shape (n_samples,) or (n_samples, n_outputs)
        """
        outputs = self._outputs(X)  # checks that the head is fitted
        out = self._encodings[0].predict(outputs)
        return out[:, 0] if self._y_1d else out


class FusionMultiTask(_BaseFusion):
    __doc__ = f"""One fused trunk, several targets: a head and a loss per target.

    ``y`` is a DataFrame (pandas or polars) or 2-D array with one column per
    target. Each target is a classification task (strings, booleans, integers,
    categories) or a regression task (floats); ``tasks`` overrides the guess.
    The loss is the weighted sum ``sum_t w_t L_t`` (cross-entropy for
    classification, MSE on standardised targets for regression). A missing target
    value (None/NaN) leaves that row out of that task's loss only, so rows labelled
    for some tasks still train the trunk.

    Parameters
    ----------{_COMMON_DOC}
    tasks : dict, default=None
        Target name to "classification" or "regression"; unnamed targets are
        guessed with :func:`sklearn.utils.multiclass.type_of_target`.
    task_weights : dict, default=None
        Target name to its loss weight (default 1 each).
    class_weight : "balanced" or None, default=None
        Applied to every classification task.

    Attributes
    ----------
    targets_ : list of str
        Target names (DataFrame columns, else ``"y0", "y1", ...``).
    task_types_ : dict
        Target name to "classification" or "regression".
    classes_ : dict
        Target name to its class labels, for classification targets.{_COMMON_ATTRS}

    Examples
    --------
    >>> import numpy as np
    >>> import pandas as pd
    >>> from skmm import FusionMultiTask
    >>> rng = np.random.default_rng(0)
    >>> X = {{"image": rng.normal(size=(80, 8)), "text": rng.normal(size=(80, 4))}}
    >>> y = pd.DataFrame({{"colour": np.where(X["image"][:, 0] > 0, "red", "blue"),
    ...                   "price": X["text"][:, 0] * 10.0}})
    >>> model = FusionMultiTask(hidden=16, random_state=0).fit(X, y)
    >>> model.task_types_
    {{'colour': 'classification', 'price': 'regression'}}
    >>> list(model.predict(X).columns)
    ['colour', 'price']
    """

    _parameter_constraints = {
        **_BaseFusion._parameter_constraints,
        "tasks": [dict, None],
        "task_weights": [dict, None],
        "class_weight": [StrOptions({"balanced"}), None],
    }

    def __init__(
        self,
        fusion: str = "concat",
        *,
        hidden: int = 64,
        dropout: float = 0.1,
        modality_dropout: float = 0.2,
        missing_embedding: str = "learned",
        n_heads: int = 4,
        n_layers: int = 1,
        rank: int = 4,
        lr: float = 1e-3,
        max_epochs: int = 100,
        batch_size: int = 64,
        weight_decay: float = 1e-4,
        early_stopping: bool = True,
        validation_fraction: float = 0.1,
        patience: int = 10,
        modalities: dict | None = None,
        device: str = "auto",
        random_state: Any = None,
        verbose: int = 0,
        accelerator: Any = None,
        n_threads: int | None = None,
        tasks: dict | None = None,
        task_weights: dict | None = None,
        class_weight: str | None = None,
    ):
        super().__init__(
            fusion,
            hidden=hidden,
            dropout=dropout,
            modality_dropout=modality_dropout,
            missing_embedding=missing_embedding,
            n_heads=n_heads,
            n_layers=n_layers,
            rank=rank,
            lr=lr,
            max_epochs=max_epochs,
            batch_size=batch_size,
            weight_decay=weight_decay,
            early_stopping=early_stopping,
            validation_fraction=validation_fraction,
            patience=patience,
            modalities=modalities,
            device=device,
            random_state=random_state,
            verbose=verbose,
            accelerator=accelerator,
            n_threads=n_threads,
        )
        self.tasks = tasks
        self.task_weights = task_weights
        self.class_weight = class_weight

    def _target_columns(self, y) -> tuple[list[str], list[np.ndarray]]:
        if hasattr(y, "columns") and not isinstance(y, np.ndarray):
            names = [str(c) for c in y.columns]
            return names, [np.asarray(y[c].to_numpy()) for c in y.columns]
        arr = np.asarray(y)
        if arr.ndim == 1:
            arr = arr[:, None]
        if arr.ndim != 2:
            raise ValueError(f"y must be 2-D (one column per target); got {arr.shape}")
        return [f"y{i}" for i in range(arr.shape[1])], list(arr.T)

    def _encode_targets(self, y):
        names, columns = self._target_columns(y)
        unknown = set(self.tasks or {}) - set(names)
        unknown |= set(self.task_weights or {}) - set(names)
        if unknown:
            raise ValueError(
                f"tasks/task_weights name unknown targets {sorted(unknown)}"
            )
        self.targets_, self.task_types_, self.classes_ = names, {}, {}
        matrices, encodings, weights = [], [], []
        for name, col in zip(names, columns, strict=True):
            missing = pd.isna(pd.Series(col, dtype=object)).to_numpy()
            known = col[~missing]
            if len(known) == 0:
                raise ValueError(f"target {name!r} has no known value")
            kind = (self.tasks or {}).get(name)
            if kind is None:
                kind = (
                    "regression"
                    if type_of_target(known) in ("continuous", "continuous-multioutput")
                    else "classification"
                )
            if kind not in ("classification", "regression"):
                raise ValueError(
                    f"tasks[{name!r}] must be 'classification' or 'regression'; "
                    f"got {kind!r}"
                )
            self.task_types_[name] = kind
            if kind == "classification":
                target, matrix = ClassificationTarget.fit(
                    col, ~missing, class_weight=self.class_weight
                )
                if target.n_outputs < 2:
                    raise ValueError(
                        f"target {name!r} has one class ({target.classes[0]!r}); a "
                        "classification task needs at least 2"
                    )
                self.classes_[name] = target.classes
            else:
                values = np.full(len(col), np.nan)
                try:
                    values[~missing] = known.astype(np.float64)
                except (TypeError, ValueError) as exc:
                    raise ValueError(
                        f"target {name!r} is a regression task but holds non-numbers"
                    ) from exc
                target, matrix = RegressionTarget.fit(values[:, None])
            matrices.append(matrix)
            encodings.append(target)
            weights.append(float((self.task_weights or {}).get(name, 1.0)))
        return np.hstack(matrices), encodings, weights

    def _stratify_labels(self, targets):
        for name, col in zip(self.targets_, targets.T, strict=True):
            if self.task_types_[name] == "classification" and (col >= 0).all():
                return col
        return None

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None) -> FusionMultiTask:
        """Train on ``X`` and the targets in the columns of ``y``.

        Parameters
        ----------
        X : DataFrame, array-like or dict of str to array-like
            The modality blocks (see the class docstring for how they are found).
        y : DataFrame or array-like of shape (n_samples, n_targets)
            One column per target; None/NaN where a target is unknown.
        sample_weight : array-like of shape (n_samples,), default=None
            Weighs each row's loss in every task, as ``sum w_i l_i / sum w_i``
            per batch; equal weights train exactly as none. The block and target
            standardisation keep unweighted statistics (a reparametrisation of
            the inputs, not part of the loss).

        Returns
        -------
        self : object
        """
        return self._fit(X, y, sample_weight)

    def _target_name(self, task: int) -> str:
        return f"target {self.targets_[task]!r}"

    def predict(self, X) -> pd.DataFrame:
        """A DataFrame with one column per target.

        Parameters
        ----------
        X : DataFrame, dict of str to array-like, or array-like
            The blocks, in the form the head was fitted on.

        Returns
        -------
        y_pred : DataFrame of shape (n_samples, n_targets)
        """
        parts = self._split_outputs(self._outputs(X))
        out = {}
        for name, target, part in zip(
            self.targets_, self._encodings, parts, strict=True
        ):
            guess = target.predict(part)
            out[name] = guess if target.kind == "classification" else guess[:, 0]
        return pd.DataFrame(out)

    def predict_proba(self, X) -> dict[str, np.ndarray]:
        """Target name to class probabilities, for each classification target.

        Parameters
        ----------
        X : DataFrame, dict of str to array-like, or array-like
            The blocks, in the form the head was fitted on.

        Returns
        -------
        proba : dict of str to ndarray of shape (n_samples, n_classes)
        """
        parts = self._split_outputs(self._outputs(X))
        return {
            name: target.predict_proba(part)
            for name, target, part in zip(
                self.targets_, self._encodings, parts, strict=True
            )
            if target.kind == "classification"
        }

    def score(self, X, y, sample_weight=None) -> float:
        """Mean over targets of accuracy (classification) and R^2 (regression),
        each on the rows where that target is known.

        Parameters
        ----------
        X : DataFrame, dict of str to array-like, or array-like
            The blocks, in the form the head was fitted on.
        y : DataFrame or dict of str to array-like
            The targets, named as in fit; None or NaN where unknown.
        sample_weight : array-like of shape (n_samples,), default=None
            Weighs each row in every target's score.

        Returns
        -------
        score : float
        """
        names, columns = self._target_columns(y)
        if names != self.targets_:
            raise ValueError(f"y has targets {names}; fitted on {self.targets_}")
        pred = self.predict(X)
        if sample_weight is not None:
            sample_weight = check_sample_weight(sample_weight, len(pred))
        scores = []
        for name, col in zip(names, columns, strict=True):
            known = ~pd.isna(pd.Series(col, dtype=object)).to_numpy()
            truth, guess = col[known], pred[name].to_numpy()[known]
            w = None if sample_weight is None else sample_weight[known]
            if self.task_types_[name] == "classification":
                scores.append(
                    accuracy_score(truth.astype(guess.dtype), guess, sample_weight=w)
                )
            else:
                scores.append(r2_score(truth.astype(float), guess, sample_weight=w))
        return float(np.mean(scores))
