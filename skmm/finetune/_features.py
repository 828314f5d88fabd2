"""Target-aware embedding features: an encoder fine-tuned on the target, its
vectors reduced to a few principal components, fitted out of fold.

:class:`FineTunedEmbeddings` is to an image or text encoder what scikit-learn's
``TargetEncoder`` is to a category: ``fit_transform(X, y)`` cross-fits (each
row's features come from an encoder fine-tuned without that row's fold), while
``fit(X, y).transform(X)`` uses the encoder fine-tuned on every row. Put in a
:class:`~skmm.MultimodalUnion` beside the frozen block of the same columns, it
adds a block of numbered features (``text_tuned__0000``) that the ensemble reads
as an embedding block. It uses :class:`~skmm.FineTuneClassifier` /
:class:`~skmm.FineTuneRegressor` through their public API only.
"""

from __future__ import annotations

import numbers
import time
import warnings
from typing import Any

import numpy as np
from scipy.optimize import linear_sum_assignment
from sklearn.base import BaseEstimator, TransformerMixin, _fit_context, clone
from sklearn.decomposition import PCA
from sklearn.model_selection import KFold, StratifiedKFold
from sklearn.utils import _safe_indexing
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions
from sklearn.utils.multiclass import type_of_target
from sklearn.utils.validation import check_is_fitted, column_or_1d

from skmm._dataframe import is_dataframe, n_rows, to_numpy
from skmm._docs import DocLinkMixin
from skmm._torch import seed_from
from skmm.compose import MultimodalUnion
from skmm.encoders import ImageEncoder, TextEncoder
from skmm.exceptions import SkmmWarning
from skmm.finetune._estimator import FineTuneClassifier, FineTuneRegressor

__all__ = ["FineTunedEmbeddings"]

#: The clock of ``time_limit`` (a test may replace it).
_clock = time.perf_counter

# The name of the one block of the unions fine-tuned here.
_BLOCK = "tuned"
# Rows of the forward pass that times an encoder before anything is fine-tuned.
_PROBE_ROWS = 16
# One fine-tuning epoch of the last block on the cached prefix, in forward passes
# of the whole encoder over the same rows (benchmarks/README.md, "Fine-tuning":
# MiniLM's last two layers on 1,500 reviews, 69 s an epoch against 65 s to encode).
_EPOCH_COST = 1.2


def _tuned_vectors(finetuner, X) -> np.ndarray:
    """The vectors of ``X`` from a fitted fine-tuner's (or frozen union's)
    encoder: one column of ``dim`` values per input column, NaN where missing."""
    union = finetuner.union_ if hasattr(finetuner, "union_") else finetuner
    out = union.transform(X)
    return to_numpy(out, dtype=np.float64)


class _Budget:
    """The seconds left of a ``time_limit`` (None: no limit)."""

    def __init__(self, limit: float | None):
        self.limit = limit
        self.start = _clock()

    def left(self) -> float:
        if self.limit is None:
            return np.inf
        return self.limit - (_clock() - self.start)


class FineTunedEmbeddings(DocLinkMixin, TransformerMixin, BaseEstimator):
    """Embeddings fine-tuned on the target, reduced by PCA, fitted out of fold.

    The image or text ``encoder``'s last ``k`` blocks are trained with a small
    fusion head on ``y`` (:class:`~skmm.FineTuneClassifier`, or
    :class:`~skmm.FineTuneRegressor` for a continuous target; the frozen prefix
    is computed once per item and shared by every fit), and each input column's
    fine-tuned vectors are reduced to ``n_components`` principal components: a
    few target-aware features for trees and linear models (MulTaBench, 2026,
    found such features beat frozen ones inside gradient-boosted trees).

    As scikit-learn's :class:`~sklearn.preprocessing.TargetEncoder`,
    ``fit_transform(X, y)`` cross-fits: the rows are split into ``cv`` folds,
    and a row's features come from an encoder fine-tuned, and a PCA fitted, on
    the other folds only, so a model trained on them has not seen its own rows'
    answers. ``fit(X, y)`` fine-tunes on every row; ``transform`` uses that
    encoder (so ``fit(X, y).transform(X)`` is not ``fit_transform(X, y)``).
    Each fold's components are matched to the full fit's (order and sign) so
    that a feature means the same in every fold. ``fit_transform`` fine-tunes
    ``cv + 1`` times: this is the costly part of ``preset="best"``.

    A row missing a column gets NaN in that column's components; nothing is
    filled from another row.

    Parameters
    ----------
    encoder : ImageEncoder or TextEncoder
        The encoder of the columns of ``X`` (cloned); every column of ``X`` is
        encoded by it, as in a :class:`~skmm.MultimodalUnion` block.
    n_components : int, default=30
        Principal components per input column (fewer when the encoder's vectors
        or the rows of a fold have fewer).
    cv : int, default=3
        Folds of ``fit_transform`` (stratified for a classification target).
    shuffle : bool, default=True
        Shuffle the rows before splitting them into folds.
    target_type : {"auto", "binary", "multiclass", "continuous"}, default="auto"
        "continuous" fine-tunes a regressor, the others a classifier; "auto"
        reads it from ``y`` (``sklearn.utils.multiclass.type_of_target``).
    k : int, default=1
        The last ``k`` blocks (timm stages, transformer layers) that train.
    lora_rank : int or None, default=None
        A rank-``r`` LoRA update of the trained blocks' linear layers instead of
        their weights (see :class:`~skmm.FineTuneClassifier`).
    backbone_lr : float, default=1e-4
        Learning rate of the trained blocks (LoRA wants about 1e-3).
    max_epochs : int, default=3
        Epochs of each fine-tuning fit, the first of which trains the head alone.
    batch_size : int, default=32
    time_limit : float, default=None
        Seconds ``fit`` / ``fit_transform`` may take; None: no limit. Before
        fine-tuning, the cost is estimated from a forward pass of the encoder
        over 16 rows, and after each fit from the seconds per row of the
        training epochs and of the encoding so far. When what is
        left no longer fits, nothing more is fine-tuned: the features are the
        frozen encoder's vectors reduced the same way (for every row, in
        ``fit_transform`` and ``transform`` alike), with a ``SkmmWarning``;
        ``fallback_`` says why.
    device : str, default="auto"
        Torch device of the fine-tuning.
    random_state : int, RandomState instance or None, default=None
        Seeds the folds and the fine-tuning fits.
    verbose : int, default=0
        1 prints each fit's time.

    Attributes
    ----------
    finetuner_ : FineTuneClassifier, FineTuneRegressor or None
        The fit on every row, whose fitted union gives ``transform``'s vectors
        (None after a fallback).
    union_ : MultimodalUnion
        What ``transform`` encodes with: ``finetuner_.union_``, or the frozen
        encoder's union after a fallback.
    pcas_ : list of PCA
        Per input column, the full fit's PCA.
    folds_ : list of (ndarray, ndarray)
        The (training rows, rows whose features came from that fold) of each
        fold of the last ``fit_transform``; empty after ``fit``.
    fallback_ : str or None
        Why the features are the frozen encoder's (``time_limit``), or None.
    fit_seconds_ : list of float
        Seconds of each fine-tuning fit and its vectors (the full fit first; it
        also encodes the frozen vectors and the prefix, which the later fits
        find cached).
    n_components_ : int
        Components per input column.
    n_features_in_ : int
    feature_names_in_ : ndarray of str

    See Also
    --------
    FineTuneClassifier : The fine-tuning estimator this transformer fits.
    sklearn.preprocessing.TargetEncoder : The same cross-fitting, for categories.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from skmm import FineTunedEmbeddings, ImageEncoder
    >>> rng = np.random.default_rng(0)
    >>> y = np.array([0, 1] * 6)
    >>> X = pd.DataFrame({"photo": [np.full((24, 24, 3), 60 + 120 * label,
    ...                                      dtype=np.uint8) for label in y]})
    >>> tuned = FineTunedEmbeddings(
    ...     ImageEncoder("test_convnext", pretrained=False, device="cpu"),
    ...     n_components=4, cv=2, max_epochs=2, device="cpu", random_state=0)
    >>> features = tuned.fit_transform(X, y)  # out of fold
    >>> features.shape, tuned.get_feature_names_out()[:2].tolist()
    ((12, 4), ['0000', '0001'])
    >>> tuned.transform(X).shape  # the encoder fine-tuned on every row
    (12, 4)
    """

    _parameter_constraints: dict = {
        "encoder": [HasMethods(["fit", "transform"])],
        "n_components": [Interval(numbers.Integral, 1, None, closed="left")],
        "cv": [Interval(numbers.Integral, 2, None, closed="left")],
        "shuffle": ["boolean"],
        "target_type": [StrOptions({"auto", "binary", "multiclass", "continuous"})],
        "k": [Interval(numbers.Integral, 1, None, closed="left")],
        "lora_rank": [Interval(numbers.Integral, 1, None, closed="left"), None],
        "backbone_lr": [Interval(numbers.Real, 0, None, closed="neither")],
        "max_epochs": [Interval(numbers.Integral, 2, None, closed="left")],
        "batch_size": [Interval(numbers.Integral, 1, None, closed="left")],
        "time_limit": [Interval(numbers.Real, 0, None, closed="neither"), None],
        "device": [str],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }

    def __init__(
        self,
        encoder: Any,
        *,
        n_components: int = 30,
        cv: int = 3,
        shuffle: bool = True,
        target_type: str = "auto",
        k: int = 1,
        lora_rank: int | None = None,
        backbone_lr: float = 1e-4,
        max_epochs: int = 3,
        batch_size: int = 32,
        time_limit: float | None = None,
        device: str = "auto",
        random_state: Any = None,
        verbose: int = 0,
    ):
        self.encoder = encoder
        self.n_components = n_components
        self.cv = cv
        self.shuffle = shuffle
        self.target_type = target_type
        self.k = k
        self.lora_rank = lora_rank
        self.backbone_lr = backbone_lr
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.time_limit = time_limit
        self.device = device
        self.random_state = random_state
        self.verbose = verbose

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        tags.input_tags.string = True
        tags.input_tags.two_d_array = False
        tags.target_tags.required = True
        tags.non_deterministic = self.random_state is None
        return tags

    # -- input ----------------------------------------------------------------------
    def _check_input(self, X, y):
        if not isinstance(self.encoder, (ImageEncoder, TextEncoder)):
            raise TypeError(
                "FineTunedEmbeddings fine-tunes an ImageEncoder or a TextEncoder; "
                f"encoder is a {type(self.encoder).__name__}"
            )
        if not is_dataframe(X):
            raise TypeError(
                "FineTunedEmbeddings takes the raw frame (a pandas or polars "
                f"DataFrame of the encoder's columns), got {type(X).__name__}"
            )
        if y is None:
            raise ValueError("FineTunedEmbeddings requires y: it fine-tunes on it")
        y = column_or_1d(y, warn=True)
        if len(y) != n_rows(X):
            raise ValueError(
                f"X has {n_rows(X)} rows but y has {len(y)}: they must match"
            )
        kind = self.target_type
        if kind == "auto":
            kind = type_of_target(y, input_name="y")
            if kind not in ("binary", "multiclass", "continuous"):
                raise ValueError(
                    f"FineTunedEmbeddings: y is {kind!r}; it takes a binary, "
                    "multiclass or continuous target (or set target_type)"
                )
        self._classify = kind != "continuous"
        columns = list(X.columns)
        self.n_features_in_ = len(columns)
        if all(isinstance(c, str) for c in columns):
            self.feature_names_in_ = np.asarray(columns, dtype=object)
        return y

    def _union(self, encoder) -> MultimodalUnion:
        return MultimodalUnion(
            [(_BLOCK, encoder, list(range(self.n_features_in_)))], missing="nan"
        )

    def _finetuner(self, seed: int):
        estimator = FineTuneClassifier if self._classify else FineTuneRegressor
        return estimator(
            self._union(clone(self.encoder)),
            k={_BLOCK: int(self.k)},
            lora_rank=self.lora_rank,
            backbone_lr=self.backbone_lr,
            max_epochs=self.max_epochs,
            batch_size=self.batch_size,
            device=self.device,
            random_state=seed,
        )

    def _say(self, line: str) -> None:
        if self.verbose:
            print(f"FineTunedEmbeddings: {line}", flush=True)

    # -- fit ------------------------------------------------------------------------
    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, y) -> FineTunedEmbeddings:
        """Fine-tune the encoder on every row, and fit each column's PCA.

        Parameters
        ----------
        X : DataFrame (pandas or polars)
            The raw columns the encoder reads (None or NaN where a row lacks one).
        y : array-like of shape (n_samples,)
            The target.

        Returns
        -------
        self : FineTunedEmbeddings
        """
        self._fit(X, y, cross_fit=False)
        return self

    @_fit_context(prefer_skip_nested_validation=False)
    def fit_transform(self, X, y=None, **fit_params) -> np.ndarray:
        """Fit on every row, and give each row its out-of-fold features.

        Parameters
        ----------
        X : DataFrame (pandas or polars)
            The raw columns the encoder reads (None or NaN where a row lacks one).
        y : array-like of shape (n_samples,)
            The target.
        **fit_params : dict
            Not used; for the ``fit_transform`` signature of a union's block.

        Returns
        -------
        X_out : ndarray of shape (n_samples, n_features_in_ * n_components_)
            Each row's components from the fold that did not train on it.
        """
        return self._fit(X, y, cross_fit=True)

    def _fit(self, X, y, *, cross_fit: bool) -> np.ndarray | None:
        y = self._check_input(X, y)
        budget = _Budget(self.time_limit)
        n = len(y)
        seed = seed_from(self.random_state)
        folds = self._folds(y, seed) if cross_fit else []
        self.folds_ = folds
        self.fit_seconds_ = []
        self.fallback_ = None
        self.finetuner_ = None
        self.n_components_ = self._n_components(X, folds)
        # Rows fine-tuned on and rows encoded by each fit: the full fit, then folds.
        work = [(n, n)] + [(len(train), n) for train, _ in folds]
        # Seconds and rows of the training epochs and of the encoding so far.
        spent = {"train": [0.0, 0], "encode": [0.0, 0]}
        if self.time_limit is not None:
            probe = self._probe(X)
            # Before any fit: the prefix (a forward pass) and the epochs that
            # train the backbone, each _EPOCH_COST forward passes.
            train = probe * (1 + _EPOCH_COST * (self.max_epochs - 1))
            estimate = sum(m * train + t * probe for m, t in work)
            if estimate > budget.left():
                return self._fall_back(
                    X,
                    f"fine-tuning {len(work)} times was estimated at "
                    f"{estimate:.0f} s (from a forward pass over {_PROBE_ROWS} "
                    f"rows), more than the {budget.left():.0f} s left of "
                    f"time_limit={self.time_limit:g}",
                    cross_fit,
                )
        finetuner, vectors = self._fit_one(X, y, np.arange(n), seed, spent, X)
        self.finetuner_ = finetuner
        self.union_ = finetuner.union_
        self.n_components_ = min(self.n_components_, self._dim(vectors))
        self.pcas_ = self._fit_pcas(vectors, np.arange(n))
        if not cross_fit:
            return None
        out = np.full((n, self.n_features_in_ * self.n_components_), np.nan)
        for i, (train, test) in enumerate(folds):
            estimate = sum(
                m * _rate(spent["train"]) + t * _rate(spent["encode"])
                for m, t in work[i + 1 :]
            )
            if estimate > budget.left():
                return self._fall_back(
                    X,
                    f"after {i + 1} of {len(work)} fine-tuning fits, the other "
                    f"{len(work) - i - 1} were estimated at {estimate:.0f} s, more "
                    f"than the {budget.left():.0f} s left of "
                    f"time_limit={self.time_limit:g}",
                    cross_fit,
                )
            _, vectors = self._fit_one(
                _safe_indexing(X, train), y[train], train, seed + 1 + i, spent, X
            )
            pcas = self._fit_pcas(vectors, train)
            out[test] = self._reduce(vectors[test], pcas, align=self.pcas_)
        return out

    def _fit_one(self, X_fit, y_fit, rows, seed, spent, X):
        """One fine-tuning fit on ``X_fit`` and its vectors of every row of
        ``X``; its seconds go to ``fit_seconds_`` and ``spent``."""
        start = _clock()
        finetuner = self._finetuner(seed).fit(X_fit, y_fit)
        trained = sum(h["seconds"] for h in finetuner.history_)
        spent["train"][0] += trained
        spent["train"][1] += len(rows)
        if len(rows) < n_rows(X):
            # A fold's encoder writes nothing to the cache: no later call asks
            # for its vectors.
            finetuner.union_.named_transformers_[_BLOCK].set_params(cache=False)
        encoding = _clock()
        vectors = _tuned_vectors(finetuner, X)
        spent["encode"][0] += _clock() - encoding
        spent["encode"][1] += n_rows(X)
        self.fit_seconds_.append(_clock() - start)
        self._say(
            f"fit {len(self.fit_seconds_)} on {len(rows)} rows in "
            f"{self.fit_seconds_[-1]:.1f} s (epochs {trained:.1f} s, vectors of "
            f"{n_rows(X)} rows {_clock() - encoding:.1f} s)"
        )
        return finetuner, vectors

    def _folds(self, y, seed) -> list[tuple[np.ndarray, np.ndarray]]:
        shuffle = dict(shuffle=True, random_state=seed) if self.shuffle else {}
        splitter = (
            StratifiedKFold(self.cv, **shuffle)
            if self._classify
            else KFold(self.cv, **shuffle)
        )
        rows = np.zeros((len(y), 1))
        return [(tr, te) for tr, te in splitter.split(rows, y)]

    def _probe(self, X) -> float:
        """Seconds of a forward pass of the encoder over one row (uncached)."""
        rows = _safe_indexing(X, np.arange(min(_PROBE_ROWS, n_rows(X))))
        union = self._union(clone(self.encoder).set_params(cache=False))
        union.fit(rows)
        start = _clock()
        union.transform(rows)
        return (_clock() - start) / max(1, n_rows(rows))

    def _n_components(self, X, folds) -> int:
        """Components per column: no more than the encoder's width, nor the rows
        that have the column in the smallest fit."""
        smallest = min([n_rows(X)] + [len(train) for train, _ in folds])
        return int(max(1, min(self.n_components, smallest)))

    def _dim(self, vectors: np.ndarray) -> int:
        return vectors.shape[1] // self.n_features_in_

    def _fit_pcas(self, vectors: np.ndarray, rows: np.ndarray) -> list[PCA]:
        dim = self._dim(vectors)
        pcas = []
        for c in range(self.n_features_in_):
            block = vectors[rows, c * dim : (c + 1) * dim]
            block = block[~np.isnan(block).any(axis=1)]
            n_comp = min(self.n_components_, dim, max(1, len(block)))
            if len(block) == 0:
                raise ValueError(
                    f"FineTunedEmbeddings: column {self._column_name(c)!r} is "
                    "missing in every row of a fit; it has no vectors to reduce"
                )
            pcas.append(PCA(n_comp, random_state=0).fit(block))
        return pcas

    def _column_name(self, c: int) -> Any:
        names = getattr(self, "feature_names_in_", None)
        return names[c] if names is not None else c

    def _reduce(self, vectors, pcas, align=None) -> np.ndarray:
        """Each column's components (NaN where the column is missing; 0, the
        mean, for a component that a fit with fewer rows could not estimate);
        with ``align``, in the order and sign of the matching components there."""
        dim = self._dim(vectors)
        width = self.n_components_
        out = np.full((len(vectors), self.n_features_in_ * width), np.nan)
        for c, pca in enumerate(pcas):
            block = vectors[:, c * dim : (c + 1) * dim]
            have = ~np.isnan(block).any(axis=1)
            if not have.any():
                continue
            comps = pca.transform(block[have])
            if align is not None:
                comps = comps @ _matching(pca.components_, align[c].components_)
            filled = np.zeros((len(comps), width))
            filled[:, : comps.shape[1]] = comps[:, :width]
            out[np.flatnonzero(have), c * width : (c + 1) * width] = filled
        return out

    def _fall_back(self, X, reason: str, cross_fit: bool) -> np.ndarray | None:
        """The frozen encoder's components for every row (``time_limit``)."""
        warnings.warn(
            f"FineTunedEmbeddings: {reason}; the features are the frozen "
            "encoder's vectors reduced by PCA (nothing fine-tuned)",
            SkmmWarning,
            stacklevel=3,
        )
        self.fallback_ = reason
        self.finetuner_ = None
        self.union_ = self._union(clone(self.encoder))
        vectors = to_numpy(self.union_.fit_transform(X), dtype=np.float64)
        self.n_components_ = min(self.n_components_, self._dim(vectors))
        self.pcas_ = self._fit_pcas(vectors, np.arange(len(vectors)))
        return self._reduce(vectors, self.pcas_) if cross_fit else None

    # -- transform ------------------------------------------------------------------
    def transform(self, X) -> np.ndarray:
        """The components of the encoder fine-tuned on every row.

        Parameters
        ----------
        X : DataFrame (pandas or polars)
            The raw columns the encoder reads.

        Returns
        -------
        X_out : ndarray of shape (n_samples, n_features_in_ * n_components_)
        """
        check_is_fitted(self, "pcas_")
        if not is_dataframe(X):
            raise TypeError(
                "FineTunedEmbeddings takes the raw frame (a pandas or polars "
                f"DataFrame of the encoder's columns), got {type(X).__name__}"
            )
        if len(X.columns) != self.n_features_in_:
            raise ValueError(
                f"X has {len(X.columns)} columns; FineTunedEmbeddings was fitted "
                f"on {self.n_features_in_}"
            )
        return self._reduce(_tuned_vectors(self.union_, X), self.pcas_)

    def get_feature_names_out(self, input_features=None) -> np.ndarray:
        """Numbered features (``0000``, ``0001``...): each column's components,
        column after column, so that a union names them as an embedding block.

        Parameters
        ----------
        input_features : array-like of str, default=None
            Not used; for scikit-learn's API.

        Returns
        -------
        feature_names_out : ndarray of str
        """
        check_is_fitted(self, "pcas_")
        width = self.n_features_in_ * self.n_components_
        return np.asarray([f"{i:04d}" for i in range(width)], dtype=object)


def _rate(spent: list) -> float:
    """Seconds per row of what was spent so far."""
    return spent[0] / max(1, spent[1])


def _matching(fold: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """The signed permutation that maps a fold's components onto the reference
    components they point along most (|cosine|), as a (fold, reference) matrix."""
    cosine = fold @ reference.T
    rows, cols = linear_sum_assignment(-np.abs(cosine))
    mapping = np.zeros((len(fold), len(reference)))
    mapping[rows, cols] = np.sign(cosine[rows, cols])
    return mapping
