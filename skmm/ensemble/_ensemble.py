"""Out-of-fold ensemble selection over a library of candidates.

Every candidate (gradient-boosted trees, linear models, late fusion, neural fusion
heads, any scikit-learn estimator) is fitted on the same K folds of the modality
blocks; their out-of-fold predictions are combined by greedy forward selection
with replacement under the user's ``scoring``; the chosen candidates are refitted
on every row. So the ensemble is never worse, out of fold, than its best
candidate, and a candidate costs one head fit, never another encoding.
"""

from __future__ import annotations

import inspect
import sys
import time
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from numbers import Integral, Real
from typing import Any

import numpy as np
import pandas as pd
from joblib import effective_n_jobs
from sklearn import config_context
from sklearn.base import (
    BaseEstimator,
    ClassifierMixin,
    MetaEstimatorMixin,
    RegressorMixin,
    _fit_context,
    clone,
    is_classifier,
)
from sklearn.impute import SimpleImputer
from sklearn.metrics import check_scoring
from sklearn.model_selection import check_cv
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import LabelEncoder, StandardScaler
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.metadata_routing import (
    MetadataRouter,
    MethodMapping,
    _raise_for_params,
    _routing_enabled,
    process_routing,
)
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.parallel import Parallel, delayed
from sklearn.utils.validation import (
    _check_method_params,
    check_is_fitted,
    column_or_1d,
)

from skmm._composition import NamedEstimatorsMixin
from skmm._dataframe import categorical_columns, category_codes
from skmm._docs import DocLinkMixin
from skmm._torch import auto_num_threads, limited_threads, seed_from
from skmm.compose._blocks import infer_layout, validate_modality_input
from skmm.ensemble._candidates import (
    PRESETS,
    SELECTORS,
    default_candidates,
    not_installed_candidates,
)
from skmm.ensemble._selection import combine, greedy_selection
from skmm.ensemble._stacking import Stacker
from skmm.ensemble._validation import (
    check_input,
    check_names,
    check_partition,
    check_scorers,
    failure_message,
)
from skmm.ensemble._views import (
    EmbeddingProjection,
    InputTable,
    is_embedding_block,
    takes_categories,
)
from skmm.fusion import (
    FusionClassifier,
    FusionRegressor,
    LateFusionClassifier,
    LateFusionRegressor,
)
from skmm.fusion._weights import check_sample_weight, requesting_weights, weight_params

__all__ = ["EnsembleClassifier", "EnsembleRegressor"]

_DROP = "drop"


class _Fixed(BaseEstimator):
    """Stands for the ensemble's predictions, so that any scorer can read them."""

    def __init__(self, output=None, classes=None):
        self.output = output
        self.classes = classes

    def __sklearn_is_fitted__(self):
        return True


class _FixedClassifier(ClassifierMixin, _Fixed):
    @property
    def classes_(self):
        return self.classes

    def predict_proba(self, X):
        return self.output

    def predict(self, X):
        return self.classes[np.argmax(self.output, axis=1)]


class _FixedRegressor(RegressorMixin, _Fixed):
    def predict(self, X):
        return self.output[:, 0]


#: The clock of ``time_limit`` and of the fit times (a test may replace it).
_clock = time.perf_counter


def _NO_COLUMNS(n_rows: int) -> np.ndarray:
    """A (n_rows, 0) stand-in for X, for ``_check_method_params``."""
    return np.empty((n_rows, 0))


def _threads_for(estimator, X) -> int | None:
    """Threads (torch, BLAS, OpenMP) for one candidate fit or predict on ``X``.

    One per ``skmm._torch.WORK_PER_THREAD`` cells of its matrix: one for the
    trees and linear models of a few thousand rows, whose OpenMP and BLAS
    threads otherwise wait on each other (and on every other process of a
    shared machine). None (left alone) for the neural heads, which scope
    their own by the work of a batch.
    """
    if _cost_class(estimator) == 2:
        return None
    return auto_num_threads(float(X.shape[0]) * max(1, X.shape[1]))


def _fit_predict(estimator, X_train, y_train, X_test, method, params):
    with limited_threads(_threads_for(estimator, X_train)):
        start = _clock()
        estimator.fit(X_train, y_train, **params)
        fit_s = _clock() - start
        start = _clock()
        pred = None if X_test is None else _predict(estimator, X_test, method)
    return estimator, pred, fit_s, _clock() - start


def _predict(estimator, X, method):
    if method == "predict_proba" and hasattr(estimator, "predict_proba"):
        return np.asarray(estimator.predict_proba(X), dtype=np.float64), estimator
    return np.asarray(estimator.predict(X)), estimator


class _Candidate:
    """One resolved candidate: a name, an unfitted estimator and its blocks."""

    def __init__(
        self, name, estimator, blocks, table: InputTable, user: bool, entry: str
    ):
        self.name = name
        self.entry = entry  # the library entry it comes from (routing's name)
        self.estimator = estimator
        self.blocks = list(blocks)
        self.columns = table.columns_of(self.blocks)
        self.native = takes_categories(estimator)
        self.user = user


@dataclass
class _Result:
    """What the out-of-fold stage made of one candidate."""

    cand: _Candidate
    j: int  # its column in the seen mask
    seen: np.ndarray | None = None  # (n_samples,) bool: the rows it reads
    pred: np.ndarray | None = None  # out-of-fold output; None: skipped
    models: list = field(default_factory=list)  # its fold models
    train_rows: int = 0  # rows its fold models were fitted on, summed
    fit_s: float = 0.0
    predict_s: float = 0.0
    score: float = float("nan")
    weight: float = 0.0
    status: str = "fitted"


class _Budget:
    """The seconds left of a ``time_limit`` (None: no limit)."""

    def __init__(self, limit):
        self.limit = limit
        self.start = _clock()

    def left(self) -> float:
        if self.limit is None:
            return float("inf")
        return self.limit - (_clock() - self.start)


def _cost_class(estimator) -> int:
    """0 for trees, linear models and the like, 1 for late fusion, 2 for the
    neural heads (alone or at the end of a pipeline)."""
    if isinstance(estimator, Pipeline):
        return max(_cost_class(step) for _, step in estimator.steps)
    if isinstance(estimator, (FusionClassifier, FusionRegressor)):
        return 2
    if isinstance(estimator, (LateFusionClassifier, LateFusionRegressor)):
        return 1
    return 0


def _neural_head(estimator) -> tuple[str, Any] | None:
    """(parameter prefix, head) of a neural fusion head, alone or the last step
    of a pipeline; None for anything else."""
    if isinstance(estimator, Pipeline):
        name, last = estimator.steps[-1]
        found = _neural_head(last)
        return None if found is None else (f"{name}__{found[0]}", found[1])
    if isinstance(estimator, (FusionClassifier, FusionRegressor)):
        return "", estimator
    return None


def _refit_epochs(estimator, fold_models) -> dict[str, Any]:
    """The parameters that refit a neural head on every row for the median of
    its fold models' best epochs, without early stopping (nothing held out to
    stop on; the folds found the epoch): ``{}`` for other candidates."""
    found = _neural_head(estimator)
    if found is None or not found[1].early_stopping or not fold_models:
        return {}
    epochs = [_neural_head(model)[1].best_epoch_ for model in fold_models]
    prefix = found[0]
    return {
        f"{prefix}early_stopping": False,
        f"{prefix}max_epochs": max(1, int(round(float(np.median(epochs))))),
    }


class _BaseEnsemble(
    NamedEstimatorsMixin, DocLinkMixin, MetaEstimatorMixin, BaseEstimator
):
    """What the ensemble classifier and regressor share."""

    _composition_attr = "candidates"
    _composition_what = "candidate"

    _parameter_constraints: dict = {
        "candidates": [list, dict, None],
        "preset": [StrOptions(set(PRESETS))],
        "cv": ["cv_object"],
        "scoring": [str, callable, None],
        "selection_scoring": [str, callable, None],
        "ensemble_size": [Interval(Integral, 1, None, closed="left")],
        "combiner": [StrOptions({"greedy", "stacking"})],
        "passthrough": ["boolean"],
        "refit": ["boolean"],
        "categorical_features": [StrOptions({"auto"}), list, None],
        "modalities": [Mapping, None],
        "device": [str],
        "on_error": [StrOptions({"warn", "raise"})],
        "n_jobs": [Integral, None],
        "time_limit": [Interval(Real, 0, None, closed="neither"), None],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }

    def __init__(
        self,
        candidates=None,
        *,
        preset="default",
        cv=3,
        scoring=None,
        selection_scoring=None,
        ensemble_size=25,
        combiner="greedy",
        passthrough=False,
        refit=True,
        categorical_features="auto",
        modalities=None,
        device="auto",
        on_error="warn",
        n_jobs=None,
        time_limit=None,
        random_state=None,
        verbose=1,
    ):
        self.candidates = candidates
        self.preset = preset
        self.cv = cv
        self.scoring = scoring
        self.selection_scoring = selection_scoring
        self.ensemble_size = ensemble_size
        self.combiner = combiner
        self.passthrough = passthrough
        self.refit = refit
        self.categorical_features = categorical_features
        self.modalities = modalities
        self.device = device
        self.on_error = on_error
        self.n_jobs = n_jobs
        self.time_limit = time_limit
        self.random_state = random_state
        self.verbose = verbose

    # -- parameters: ``candidates__<name>__<param>`` reaches into the library ----
    def _library(
        self, random_state=None, fitting: bool = False
    ) -> list[tuple[str, Any, Any, bool]]:
        """(name, estimator, blocks, given_by_user) of every candidate; when
        ``fitting``, the default candidates' ``class_weight`` is keyed by the
        encoded classes that they are fitted on."""
        task = "classification" if is_classifier(self) else "regression"
        extra = {
            "class_weight": self._encoded_class_weight()
            if fitting
            else getattr(self, "class_weight", None)
        }
        if task == "regression":
            extra = {}
        if isinstance(self.candidates, list):
            return [(*_as_triple(item), True) for item in self.candidates]
        library = [
            (name, est, blocks, False)
            for name, est, blocks in default_candidates(
                task,
                self.preset,
                device=self.device,
                random_state=random_state,
                **extra,
            )
        ]
        for name, value in (self.candidates or {}).items():
            names = [entry[0] for entry in library]
            if isinstance(value, str) and value == _DROP:
                if name in {
                    entry[0] for entry in not_installed_candidates(self.preset)
                }:
                    continue  # dropping what is not installed: nothing to do
                if name not in names:
                    raise ValueError(
                        f"candidates drops {name!r}, which is not a candidate; the "
                        f"candidates are {names}"
                    )
                library = [entry for entry in library if entry[0] != name]
                continue
            est, blocks = value if isinstance(value, tuple) else (value, None)
            if name in names:
                i = names.index(name)
                library[i] = (name, est, blocks or library[i][2], True)
            else:
                library.append((name, est, blocks or "all", True))
        return library

    def _not_installed(self) -> dict[str, tuple[str, str]]:
        """Default candidates left out because their library is not installed
        (and not replaced or dropped by ``candidates``): name to (blocks, why)."""
        if isinstance(self.candidates, list):
            return {}
        given = set(self.candidates or {})
        return {
            name: (blocks, why)
            for name, blocks, why in not_installed_candidates(self.preset)
            if name not in given
        }

    def _named_estimators(self, editable: bool = False):
        """``[name, estimator, blocks]`` of the candidates ``candidates__<name>``
        reaches: a list's; to edit, the whole library (made explicit)."""
        if editable:
            return [
                [name, est, blocks]
                for name, est, blocks, _ in self._library(self.random_state)
            ]
        if not isinstance(self.candidates, list):
            return None
        return [
            [str(item[0]), item[1]]
            for item in self.candidates
            if isinstance(item, tuple) and len(item) in (2, 3)
        ]

    def _store_named_estimators(self, items) -> None:
        # The library becomes an explicit list that the keys can reach.
        self.candidates = [tuple(item) for item in items if not _is_drop(item[1])]

    # -- input ------------------------------------------------------------------
    def _table(self, X, y=None, *, reset: bool):
        """Validate ``X`` into an InputTable (and ``y`` in fit)."""
        cats: list[str] = []
        if reset:
            if self.categorical_features == "auto":
                cats = categorical_columns(X)
            elif isinstance(self.categorical_features, list):
                cats = [str(c) for c in self.categorical_features]
                if not categorical_columns(X) and not hasattr(X, "columns"):
                    raise ValueError(
                        "categorical_features names columns, so X must be a "
                        "pandas or polars DataFrame"
                    )
            self._categories = {}
        else:
            cats = list(self._categories)
        if cats:
            unknown = [c for c in cats if c not in list(map(str, X.columns))]
            if unknown:
                raise ValueError(f"X has no categorical columns {unknown}")
            X, learned = category_codes(X, cats, None if reset else self._categories)
            if reset:
                self._categories = learned
        check_input(X, None if reset else self.layout_)
        if reset:
            X, y = validate_modality_input(
                self,
                X,
                y,
                reset=True,
                modalities=self.modalities,
                warn_single_block=False,
            )
        else:
            X, _ = validate_modality_input(self, X, reset=False)
        layout = self.layout_
        if layout.from_dict:
            values = np.hstack([X[name] for name in layout.names])
            names = [
                f"{name}__{i:04d}"
                for name, width in zip(layout.names, layout.widths, strict=True)
                for i in range(width)
            ]
            embedding = dict.fromkeys(layout.names, True)
        else:
            given = getattr(self, "feature_names_in_", None)
            cols, names = [], []
            embedding = {}
            for name, feats, ind in zip(
                layout.names, layout.columns, layout.indicators, strict=True
            ):
                if given is not None:
                    feat_names = [str(given[c]) for c in feats]
                    embedding[name] = is_embedding_block(feat_names)
                    new = [f"{name}__{n.split('__', 1)[-1]}" for n in feat_names]
                else:
                    # An unnamed matrix: one block is a table; blocks from
                    # modalities= are embeddings.
                    embedding[name] = self.modalities is not None
                    new = [f"{name}__{i:04d}" for i in range(len(feats))]
                    if not embedding[name]:
                        new = [f"{name}__x{i}" for i in range(len(feats))]
                cols += list(feats)
                names += new
                if ind is not None:
                    cols.append(ind)
                    names.append(f"{name}__missing")
            values = np.asarray(X, dtype=np.float64)[:, cols]
        names = np.asarray(names, dtype=object)
        table_layout = infer_layout(values, feature_names=names)
        n_codes = {}
        if self._categories and not layout.from_dict:
            original = {str(c): i for i, c in enumerate(self.feature_names_in_)}
            moved = {int(p): i for i, p in enumerate(cols)}
            for col, categories in self._categories.items():
                if original.get(col) in moved:
                    n_codes[moved[original[col]]] = len(categories)
        return InputTable(values, names, table_layout, embedding, n_codes), y

    # -- fit --------------------------------------------------------------------
    def _resolve(self, table: InputTable, seed) -> list[_Candidate]:
        names = list(table.layout.names)
        tabular = [b for b in names if not table.embedding.get(b, False)]
        embedding = [b for b in names if table.embedding.get(b, False)]
        resolved: list[_Candidate] = []
        seen_defaults: set = set()
        library = self._library(seed, fitting=True)
        check_names([entry[0] for entry in library])
        for name, est, blocks, user in library:
            if not user:
                est = requesting_weights(est)
            if not hasattr(est, "fit"):
                raise TypeError(
                    f"candidate {name!r} must be an estimator or 'drop', got {est!r}"
                )
            groups = self._select(name, blocks, names, tabular, embedding)
            for cand_name, group in groups:
                if not group:
                    continue
                # A candidate that repeats an earlier one is left out: hgb_projected
                # without embedding blocks is hgb, linear_all on one block is
                # that block's linear candidate.
                key = (_identity(est, any(b in embedding for b in group)), tuple(group))
                if key in seen_defaults:
                    continue
                seen_defaults.add(key)
                resolved.append(
                    _Candidate(cand_name, clone(est), group, table, user, name)
                )
        check_names([c.name for c in resolved], "the expanded candidates'")
        if not resolved:
            raise ValueError(
                f"no candidate reads any of the input's blocks {names}; give "
                "candidates with blocks= naming them"
            )
        return resolved

    @staticmethod
    def _select(name, blocks, names, tabular, embedding):
        if blocks is None or blocks == "all":
            return [(name, names)]
        if blocks == "fused":
            return [(name, names if len(names) > 1 else [])]
        if blocks == "tabular":
            return [(name, tabular)]
        if blocks == "embedding":
            return [(name, embedding)]
        if blocks == "each":
            return [(f"{name}[{b}]", [b]) for b in embedding]
        chosen = [blocks] if isinstance(blocks, str) else list(blocks)
        unknown = [b for b in chosen if b not in names]
        if unknown:
            raise ValueError(
                f"candidate {name!r} reads blocks {unknown} that the input lacks; "
                f"its blocks are {names} (or use one of {sorted(SELECTORS)})"
            )
        return [(name, chosen)]

    def _say(self, line: str) -> None:
        if self.verbose:
            print(f"[{type(self).__name__}] {line}", file=sys.stderr, flush=True)

    # -- metadata routing -------------------------------------------------------
    def get_metadata_routing(self) -> MetadataRouter:
        """The metadata routing of this estimator: ``fit`` routes to every
        candidate, by its name in the library (``"linear"`` for all the
        ``linear[<block>]`` it expands to).

        Returns
        -------
        routing : MetadataRouter
        """
        # It consumes sample_weight itself too: in the scores and the prior.
        router = MetadataRouter(owner=self).add_self_request(self)
        for name, est, _, user in self._library(self.random_state):
            if hasattr(est, "fit"):
                router.add(
                    **{name: est if user else requesting_weights(est)},
                    method_mapping=MethodMapping().add(caller="fit", callee="fit"),
                )
        return router

    def _candidate_params(self, candidates, sample_weight, fit_params):
        """Each candidate's fit parameters, for all rows."""
        if _routing_enabled():
            if sample_weight is not None:
                fit_params = {**fit_params, "sample_weight": sample_weight}
            routed = process_routing(self, "fit", **fit_params)
            return [dict(routed[c.entry].fit) for c in candidates]
        return [
            weight_params(c.estimator, sample_weight, f"candidate {c.name!r}")
            for c in candidates
        ]

    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, y, sample_weight=None, **fit_params):
        """Fit every candidate out of fold, select the ensemble, refit it.

        Five stages, each a method of its own: the input table
        (``_prepare``), the out-of-fold fits (``_fit_out_of_fold``), the
        selection (``_select_ensemble``), the refit (``_refit``) and the
        leaderboard (``_leaderboard``).

        Parameters
        ----------
        X : DataFrame, array-like or dict of str to array-like
            The joined matrix of a :class:`~skmm.MultimodalUnion` (columns
            ``{modality}__{feature}``), a dict of arrays, or a matrix with
            ``modalities=``.
        y : array-like of shape (n_samples,)
            Target.
        sample_weight : array-like of shape (n_samples,), default=None
            Row weights: passed to every candidate in its fold fits and its
            refit (to each step of a pipeline that takes them, with metadata
            routing off; a candidate that takes none is an error), and used in
            the out-of-fold scores that the selection maximises and in the
            prior.
        **fit_params : dict
            Other metadata, only with metadata routing enabled
            (``sklearn.set_config(enable_metadata_routing=True)``), routed to
            the candidates that request it.

        Returns
        -------
        self : object
        """
        # Input and parameter checks: here, before anything is fitted.
        _raise_for_params(fit_params, self, "fit")
        if y is None:
            raise ValueError(
                f"{type(self).__name__} requires y to be passed, but the target y "
                "is None."
            )
        budget = _Budget(self.time_limit)
        table, target, sample_weight = self._prepare(X, y, sample_weight)
        candidates = self._order(self._resolve(table, seed_from(self.random_state)))
        params = self._candidate_params(candidates, sample_weight, fit_params)
        seen = self._seen(table, candidates)
        folds = list(
            check_cv(self.cv, target, classifier=is_classifier(self)).split(
                table.values, target
            )
        )
        check_partition(folds, len(target), getattr(X, "index", None))
        scorer, _ = check_scorers(self, target, sample_weight)
        self._say(
            f"{len(candidates)} candidates, {len(folds)} folds, {len(target)} rows, "
            f"blocks {list(table.layout.names)}"
            + ("" if self.time_limit is None else f", {self.time_limit:g} s")
        )
        results = self._fit_out_of_fold(
            candidates, table, target, folds, seen, params, scorer, sample_weight,
            budget,
        )  # fmt: skip
        kept = [r for r in results if r.pred is not None]
        if self.combiner == "stacking":
            weights = self._stack(kept, table, target, sample_weight, scorer)
        else:
            weights = self._select_ensemble(kept, target, sample_weight, scorer)
        self._refit(kept, weights, table, target, params, budget)
        self.leaderboard_ = self._leaderboard(results, weights)
        self._say(
            f"ensemble: {self.oof_score_:.4f} out of fold; weights "
            + ", ".join(f"{name} {w:.2f}" for name, w in self.weights_.items())
        )
        return self

    # -- stage 1: the input table ---------------------------------------------
    def _prepare(self, X, y, sample_weight):
        """The validated InputTable, the encoded target and the row weights."""
        table, y = self._table(X, y, reset=True)
        empty = np.flatnonzero(np.isnan(table.values).all(axis=0))
        if len(empty):
            names = [str(table.names[j]) for j in empty]
            warnings.warn(
                f"{type(self).__name__}: the columns {names} are NaN in every "
                "training row; no candidate reads them",
                UserWarning,
                stacklevel=3,
            )
            table.empty = frozenset(int(j) for j in empty)
        if sample_weight is not None:
            sample_weight = check_sample_weight(sample_weight, len(y))
        _, target = self._encode_y(y, sample_weight)
        return table, target, sample_weight

    def _order(self, candidates: list[_Candidate]) -> list[_Candidate]:
        """With a time limit, the cheap ones first: trees and linear models,
        then late fusion, then the neural heads (the library's order within
        each). Without one, the library's order."""
        if self.time_limit is None:
            return candidates
        return sorted(candidates, key=lambda c: _cost_class(c.estimator))

    @staticmethod
    def _seen(table: InputTable, candidates) -> np.ndarray:
        """(n_samples, n_candidates) bool: the rows each candidate reads."""
        present = table.present()
        index = {b: j for j, b in enumerate(table.layout.names)}
        return np.stack(
            [present[:, [index[b] for b in c.blocks]].any(axis=1) for c in candidates],
            axis=1,
        )

    # -- stage 2: the out-of-fold fits -----------------------------------------
    def _fit_out_of_fold(
        self, candidates, table, target, folds, seen, params, scorer, sample_weight,
        budget,
    ) -> list[_Result]:  # fmt: skip
        """Every candidate on every fold (or skipped, or failed and left out)."""
        results: list[_Result] = []
        for j, cand in enumerate(candidates):
            start = time.perf_counter()
            must_finish = not any(r.pred is not None for r in results)
            try:
                result = self._fit_candidate(
                    j, cand, table, target, folds, seen, params[j], budget,
                    must_finish,
                )  # fmt: skip
            except Exception as exc:  # noqa: BLE001 - reported, then left out
                if self.on_error == "raise":
                    raise
                warnings.warn(
                    failure_message(cand.name, cand.estimator, exc),
                    UserWarning,
                    stacklevel=3,
                )
                self._say(f"{cand.name}: failed ({type(exc).__name__}: {exc})")
                continue
            if result.pred is None:
                self._say(f"{cand.name}: {result.status}")
            else:
                result.score = self._score(
                    scorer, [result.pred], seen[:, [j]], np.ones(1), target,
                    sample_weight,
                )  # fmt: skip
                self._say(
                    f"{cand.name} ({' + '.join(cand.blocks)}): {result.score:.4f} "
                    f"out of fold in {time.perf_counter() - start:.1f} s"
                )
            results.append(result)
        if not any(r.pred is not None for r in results):
            raise ValueError("every candidate failed; see the warnings for why")
        return results

    def _fit_candidate(
        self, j, cand, table, target, folds, seen, params, budget, must_finish
    ) -> _Result:
        """One candidate's fold fits, in chunks of ``n_jobs`` folds (all at once
        without a time limit); skipped when its estimated cost no longer fits."""
        n, k = len(target), len(self._prior)
        result = _Result(cand, j, seen=seen[:, j])
        rows_of = [(tr[seen[tr, j]], te[seen[te, j]]) for tr, te in folds]
        if budget.limit is None:
            chunk = len(folds)
        else:
            chunk = max(1, effective_n_jobs(self.n_jobs))
            if budget.left() <= 0 and not must_finish:
                result.status = "skipped: the time limit was spent before it started"
                return result
        done: list[tuple] = []
        while len(done) < len(folds):
            if done and budget.limit is not None and not must_finish:
                rest = len(folds) - len(done)
                per_fold = float(np.mean([f + p for _, _, f, p in done]))
                need = -(-rest // chunk) * per_fold + self._refit_estimate(
                    done, rows_of, n
                )
                if need > budget.left():
                    result.status = (
                        f"skipped: {len(done)} fold(s) took {per_fold:.1f} s each; "
                        f"the other {rest} and its refit (about {need:.0f} s) do "
                        f"not fit the {max(budget.left(), 0):.0f} s left"
                    )
                    result.fit_s = sum(f for _, _, f, _ in done)
                    result.predict_s = sum(p for _, _, _, p in done)
                    return result
            # On the first fold of a time limit, alone: its time is the estimate.
            size = 1 if not done and budget.limit is not None else chunk
            batch = rows_of[len(done) : len(done) + size]
            done += Parallel(n_jobs=self.n_jobs)(
                delayed(_fit_predict)(
                    clone(cand.estimator),
                    table.frame(cand.columns, train, cand.native),
                    target[train],
                    table.frame(cand.columns, test, cand.native) if len(test) else None,
                    self._method,
                    _check_method_params(_NO_COLUMNS(n), params, train),
                )
                for train, test in batch
            )
        pred = np.full((n, k), np.nan)
        for (_, test), (_, out, _, _) in zip(rows_of, done, strict=True):
            if len(test):
                pred[test] = self._align(*out, len(test))
        result.pred = pred
        result.models = [model for model, *_ in done]
        result.train_rows = sum(len(train) for train, _ in rows_of)
        result.fit_s = sum(f for _, _, f, _ in done)
        result.predict_s = sum(p for _, _, _, p in done)
        return result

    def _refit_estimate(self, done, rows_of, n_rows) -> float:
        """Seconds a refit on every row would take, from the folds' fit times
        (linear in the rows); 0 without refit."""
        if not self.refit:
            return 0.0
        per_row = sum(f for _, _, f, _ in done) / max(
            1, sum(len(train) for train, _ in rows_of[: len(done)])
        )
        return per_row * n_rows

    # -- stage 3: the selection -------------------------------------------------
    def _select_ensemble(self, kept, target, sample_weight, scorer) -> np.ndarray:
        """Greedy selection over the kept candidates' out-of-fold predictions;
        sets ``selection_trace_``, ``oof_score_`` and ``oof_predictions_``."""
        n = len(target)
        oof = [r.pred for r in kept]
        seen = np.stack([r.seen for r in kept], axis=1)
        selector = (
            scorer
            if self.selection_scoring is None
            else check_scoring(self, scoring=self.selection_scoring)
        )
        everywhere = np.ones((n, 1), bool)
        weights, trace = greedy_selection(
            oof,
            seen,
            lambda p: self._score(
                selector, [p], everywhere, np.ones(1), target, sample_weight
            ),
            self._prior,
            ensemble_size=self.ensemble_size,
        )
        ensemble_oof = combine(oof, seen, weights, self._prior)
        self.oof_score_ = self._score(
            scorer, [ensemble_oof], everywhere, np.ones(1), target, sample_weight
        )
        self.selection_trace_ = trace
        self.stacker_ = None
        self.oof_predictions_ = {r.cand.name: self._unalign(r.pred) for r in kept}
        self.oof_predictions_["ensemble"] = self._unalign(ensemble_oof)
        return weights

    def _stack(self, kept, table, target, sample_weight, scorer) -> np.ndarray:
        """``combiner="stacking"``: a regularised linear model on every kept
        candidate's out-of-fold output (and, with ``passthrough``, the tabular
        columns); its own out-of-fold output, from a nested cross-validation
        over the same rows, gives ``oof_score_``. The weights are each
        candidate's share of the stacker's absolute coefficients."""
        oof = [r.pred for r in kept]
        seen = np.stack([r.seen for r in kept], axis=1)
        extra = self._fit_passthrough(table)
        stacker = Stacker(
            is_classifier(self),
            self._prior,
            self._encoded_class_weight(),
            random_state=seed_from(self.random_state),
        ).fit(oof, seen, target, sample_weight, extra)
        stacked = stacker.out_of_fold(oof, seen, target, sample_weight, extra)
        everywhere = np.ones((len(target), 1), bool)
        self.oof_score_ = self._score(
            scorer, [stacked], everywhere, np.ones(1), target, sample_weight
        )
        self.selection_trace_ = []
        self.stacker_ = stacker
        self.oof_predictions_ = {r.cand.name: self._unalign(r.pred) for r in kept}
        self.oof_predictions_["ensemble"] = self._unalign(stacked)
        return stacker.weights_

    def _encoded_class_weight(self):
        """The classifier's ``class_weight`` over the encoded classes (0 to
        k - 1, what the candidates and the stacker are fitted on)."""
        weight = getattr(self, "class_weight", None)
        if not isinstance(weight, Mapping):
            return weight
        codes = {label: i for i, label in enumerate(self.classes_)}
        return {codes[label]: w for label, w in weight.items() if label in codes}

    def _tabular_matrix(self, table: InputTable) -> np.ndarray:
        """Every row's tabular columns (categories one-hot): (n, 0) when the
        table has no tabular block."""
        tabular = [b for b in table.layout.names if not table.embedding.get(b, False)]
        if not tabular:
            return np.empty((len(table.values), 0))
        frame = table.frame(table.columns_of(tabular), slice(None), False)
        return frame.to_numpy(dtype=float)

    def _fit_passthrough(self, table: InputTable) -> np.ndarray | None:
        """``passthrough``: the tabular columns, missing values the training
        median, standardised (learnt here); None without them."""
        self._passthrough = None
        if not self.passthrough:
            return None
        matrix = self._tabular_matrix(table)
        if not matrix.shape[1]:
            return None
        self._passthrough = make_pipeline(
            SimpleImputer(strategy="median", keep_empty_features=True),
            StandardScaler(),
        )
        return self._passthrough.fit_transform(matrix)

    # -- stage 4: the refit -----------------------------------------------------
    def _refit(self, kept, weights, table, target, params, budget) -> None:
        """Refit each chosen candidate on every row it sees (``refit=True``),
        or keep every candidate's fold models; a chosen candidate whose refit
        no longer fits the time limit keeps its fold models."""
        self.estimators_ = {}
        self.weights_ = {}
        self._members = {}
        n = len(target)
        stacked = self.combiner == "stacking"  # the stacker reads every candidate
        for r, w in zip(kept, weights, strict=True):
            r.weight = float(w)
            if w <= 0 and self.refit and not stacked:
                continue
            fitted = r.models
            if self.refit:
                rows = np.flatnonzero(r.seen)
                fixed = _refit_epochs(r.cand.estimator, r.models)
                need = r.fit_s / max(1, r.train_rows) * len(rows)
                if fixed:
                    # Fewer epochs than the folds trained (no patience to wait).
                    epochs = next(v for k, v in fixed.items() if k.endswith("epochs"))
                    trained = [_neural_head(m)[1].n_epochs_ for m in r.models]
                    need *= min(1.0, epochs / max(1.0, float(np.mean(trained))))
                if budget.limit is not None and need > budget.left():
                    r.status = (
                        f"fold models: a refit (about {need:.0f} s) does not fit the "
                        f"{max(budget.left(), 0):.0f} s left"
                    )
                    self._say(f"{r.cand.name}: {r.status}")
                else:
                    frame = table.frame(r.cand.columns, rows, r.cand.native)
                    start = time.perf_counter()
                    try:
                        with limited_threads(_threads_for(r.cand.estimator, frame)):
                            model = clone(r.cand.estimator).set_params(**fixed)
                            fitted = model.fit(
                                frame,
                                target[rows],
                                **_check_method_params(
                                    _NO_COLUMNS(n), params[r.j], rows
                                ),
                            )
                    except Exception as exc:  # noqa: BLE001 - its fold models stay
                        if self.on_error == "raise":
                            raise
                        r.status = "fold models: its refit on every row failed"
                        warnings.warn(
                            failure_message(
                                r.cand.name,
                                r.cand.estimator,
                                exc,
                                "failed to refit on every row and keeps its fold "
                                "models",
                            ),
                            UserWarning,
                            stacklevel=3,
                        )
                        self._say(f"{r.cand.name}: {r.status}")
                    else:
                        self._say(
                            f"refitted {r.cand.name} (weight {w:.2f}) in "
                            f"{time.perf_counter() - start:.1f} s"
                        )
            self.estimators_[r.cand.name] = fitted
            if w > 0 or stacked:
                self.weights_[r.cand.name] = float(w)
            self._members[r.cand.name] = (r.cand.blocks, r.cand.columns, r.cand.native)

    # -- stage 5: the leaderboard -----------------------------------------------
    def _leaderboard(self, results, weights) -> pd.DataFrame:
        """One row per candidate (skipped ones too, with why) and the ensemble."""
        rows = [
            {
                "candidate": r.cand.name,
                "blocks": " + ".join(r.cand.blocks),
                "score": r.score,
                "fit_s": r.fit_s,
                "predict_s": r.predict_s,
                "weight": r.weight,
                "status": r.status,
            }
            for r in results
        ]
        rows += [
            {
                "candidate": name,
                "blocks": blocks,
                "score": float("nan"),
                "fit_s": 0.0,
                "predict_s": 0.0,
                "weight": 0.0,
                "status": why,
            }
            for name, (blocks, why) in self._not_installed().items()
        ]
        chosen = [r for r in results if r.weight > 0]
        ensemble = {
            "candidate": "ensemble",
            "blocks": " + ".join(self.weights_),
            "score": self.oof_score_,
            "fit_s": float(sum(r.fit_s for r in chosen)),
            "predict_s": float(sum(r.predict_s for r in chosen)),
            "weight": float("nan"),
            "status": "fitted",
        }
        board = pd.DataFrame([ensemble, *rows])
        return board.sort_values(
            "score", ascending=False, kind="stable", ignore_index=True
        )

    def _score(self, scorer, preds, seen, weights, target, sample_weight=None) -> float:
        """The (weighted) score of the combined predictions."""
        combined = combine(preds, seen, weights, self._prior)
        args = (self._fixed(combined), np.zeros((len(target), 1)), target)
        if sample_weight is None:
            return float(scorer(*args))
        params = inspect.signature(scorer).parameters
        takes = "sample_weight" in params or any(
            p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()
        )
        if not takes:
            raise TypeError(
                f"scoring {scorer!r} takes no sample_weight, so the out-of-fold "
                "scores cannot be weighted; give a scorer that takes it "
                "(sklearn.metrics.make_scorer) or fit without sample_weight"
            )
        # The weights are passed here, by the ensemble: not routed again.
        with config_context(enable_metadata_routing=False):
            return float(scorer(*args, sample_weight=sample_weight))

    # -- predict ----------------------------------------------------------------
    def _member_outputs(
        self, X, names, table: InputTable | None = None
    ) -> tuple[list[np.ndarray], np.ndarray]:
        """Each named candidate's output on ``X`` (NaN where it does not see a
        row) and the (n_samples, n_names) mask of the rows it sees."""
        check_is_fitted(self, "estimators_")
        if table is None:
            table, _ = self._table(X, reset=False)
        present = table.present()
        index = {b: j for j, b in enumerate(table.layout.names)}
        n, k = len(table.values), len(self._prior)
        preds, seen = [], []
        for name in names:
            blocks, columns, native = self._members[name]
            rows = present[:, [index[b] for b in blocks]].any(axis=1)
            pred = np.full((n, k), np.nan)
            if rows.any():
                frame = table.frame(columns, np.flatnonzero(rows), native)
                fitted = self.estimators_[name]
                models = fitted if isinstance(fitted, list) else [fitted]
                with limited_threads(_threads_for(models[0], frame)):
                    outs = [
                        self._align(*_predict(m, frame, self._method), int(rows.sum()))
                        for m in models
                    ]
                pred[rows] = np.mean(outs, axis=0)
            preds.append(pred)
            seen.append(rows)
        return preds, np.stack(seen, axis=1).reshape(n, len(names))

    def _combine(self, X) -> np.ndarray:
        if getattr(self, "stacker_", None) is not None:
            table, _ = self._table(X, reset=False)
            # weights_ names every stacked candidate, in the stacker's order.
            preds, seen = self._member_outputs(X, list(self.weights_), table)
            extra = self._passthrough
            if extra is not None:
                extra = extra.transform(self._tabular_matrix(table))
            return self.stacker_.predict(preds, seen, extra)
        names = list(getattr(self, "weights_", {}))
        preds, seen = self._member_outputs(X, names)
        weights = np.array([self.weights_[name] for name in names])
        return combine(preds, seen, weights, self._prior)

    def score_candidates(self, X, y) -> pd.DataFrame:
        """Score the ensemble and each fitted candidate on ``(X, y)``.

        With ``refit=True`` only the chosen candidates are kept (refitted on
        every row); with ``refit=False`` every candidate's fold models are kept
        and averaged, so held-out data can compare them all with the ensemble.
        A candidate is scored as a model of its own: rows it does not see get
        the prior.

        Parameters
        ----------
        X : DataFrame, array-like or dict of str to array-like
            Input laid out as in fit.
        y : array-like of shape (n_samples,)
            True targets.

        Returns
        -------
        scores : DataFrame
            ``candidate``, ``score`` (under ``scoring``) and ``weight``, best
            first; the first row of ties is the ensemble.
        """
        names = list(self._members)
        preds, seen = self._member_outputs(X, names)
        target = self._target_of(y)
        scorer = check_scoring(self, scoring=self.scoring)
        rows = [
            {
                "candidate": "ensemble",
                "score": float(scorer(self, X, y)),
                "weight": float("nan"),
            }
        ]
        for j, name in enumerate(names):
            value = self._score(scorer, [preds[j]], seen[:, [j]], np.ones(1), target)
            rows.append(
                {
                    "candidate": name,
                    "score": value,
                    "weight": self.weights_.get(name, 0.0),
                }
            )
        return pd.DataFrame(rows).sort_values(
            "score", ascending=False, kind="stable", ignore_index=True
        )

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        tags.input_tags.categorical = True
        return tags


def _identity(estimator, has_embedding: bool) -> str:
    """What a candidate computes, for spotting repeats: its repr, without an
    embedding projection that has no embedding block to project."""
    if (
        not has_embedding
        and isinstance(estimator, Pipeline)
        and isinstance(estimator.steps[0][1], EmbeddingProjection)
    ):
        rest = estimator.steps[1:]
        estimator = rest[0][1] if len(rest) == 1 else Pipeline(rest)
    return _describe(estimator)


def _describe(value) -> str:
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(map(_describe, value)) + "]"
    if hasattr(value, "get_params") and not isinstance(value, type):
        params = value.get_params(deep=False)
        inner = ", ".join(f"{k}={_describe(v)}" for k, v in sorted(params.items()))
        return f"{type(value).__name__}({inner})"
    return repr(value)


def _as_triple(item) -> tuple[str, Any, Any]:
    if not isinstance(item, tuple) or len(item) not in (2, 3):
        raise ValueError(
            "candidates must be (name, estimator) or (name, estimator, blocks) "
            f"tuples, got {item!r}"
        )
    name, est, *blocks = item
    return str(name), est, (blocks[0] if blocks else "all")


def _is_drop(value) -> bool:
    return isinstance(value, str) and value == _DROP


class EnsembleClassifier(ClassifierMixin, _BaseEnsemble):
    """Choose and weight fusion heads, trees and linear models out of fold.

    Fits a library of candidates on the same K folds of the modality blocks,
    keeps their out-of-fold probabilities, builds a weighted ensemble by greedy
    forward selection with replacement (Caruana et al., 2004) under ``scoring``,
    and refits the chosen candidates on all rows. Its out-of-fold score is never
    below the best candidate's: the first selection step picks that one.

    The input is what every skmm head reads: the joined matrix of a
    :class:`~skmm.MultimodalUnion` (``{modality}__{feature}`` columns, a
    ``{modality}__missing`` indicator), a dict of arrays, or a matrix with
    ``modalities=``. A :class:`~skmm.CategoricalEncoder` block reaches the
    trees as native categories and the other candidates one-hot encoded.

    Each candidate reads some blocks; a row that lacks all of them is not shown
    to it, in fit or predict, and its weight is renormalised over the candidates
    that see the row. A row that no chosen candidate sees gets the training
    class frequencies. Nothing is filled from another row.

    Parameters
    ----------
    candidates : list or dict, default=None
        ``None``: the ``preset`` library (see :func:`~skmm.ensemble.default_candidates`:
        ``hgb``, ``hgb_projected``, ``linear[<block>]``, ``linear_all``,
        ``late``, ``fusion_concat``). A dict edits it: name to
        an estimator (replaces or adds; reads all blocks), to ``(estimator,
        blocks)``, or to ``"drop"``. A list of ``(name, estimator)`` or ``(name,
        estimator, blocks)`` replaces it. ``blocks`` is a block name, a list of
        them, ``"all"``, ``"fused"``, ``"tabular"``, ``"embedding"`` or
        ``"each"``. Parameters are reachable as ``candidates__<name>__<param>``.
    preset : {"default", "fast", "best"}, default="default"
        ``"fast"`` leaves out the neural fusion head; ``"best"`` adds the gated
        fusion head and LightGBM's and CatBoost's trees (``pip install
        skmm[boosting]``; without it the leaderboard says they were not
        installed).
    cv : int, cross-validation generator or iterable, default=3
        The folds every candidate is fitted on (stratified for an int). Their
        test parts must hold each row exactly once, as for ``cross_val_predict``.
    scoring : str or callable, default=None
        What the leaderboard reports and the selection maximises; None:
        accuracy (as ``score``).
    selection_scoring : str or callable, default=None
        What the greedy selection maximises instead of ``scoring`` (for
        example ``"neg_log_loss"``, smooth where accuracy-like scores are
        steps); None: ``scoring``. Then the ensemble's out-of-fold ``scoring``
        may fall below its best candidate's.
    ensemble_size : int, default=25
        Greedy selection steps (with replacement).
    combiner : {"greedy", "stacking"}, default="greedy"
        How the candidates' out-of-fold outputs become the ensemble's:
        ``"greedy"``, a weighted mean of the chosen candidates' probabilities
        (the selection above); ``"stacking"``, a regularised logistic regression
        on every candidate's log-odds (scikit-learn's ``StackingClassifier``
        idea on the folds already fitted), which can weigh a candidate per
        class, below zero, and move the decision threshold; its
        ``oof_score_`` comes from a nested cross-validation over the same
        out-of-fold outputs, and every candidate is refitted (they all feed
        it).
    passthrough : bool, default=False
        With ``combiner="stacking"``: the stacker also reads the tabular
        blocks' columns (categories one-hot, missing values the training
        median, standardised), as ``StackingClassifier(passthrough=True)``.
    refit : bool, default=True
        Refit each chosen candidate on all rows (one model per candidate);
        ``False`` keeps every candidate's K fold models (the chosen ones' are
        averaged at predict time; :meth:`score_candidates` compares them all).
    class_weight : {"balanced"} or dict, default=None
        Passed to the default candidates that take it.
    categorical_features : "auto", list of str or None, default="auto"
        Columns that hold categories: ``"auto"`` finds them by type (pandas
        ``category``, polars ``Categorical``/``Enum``); a list names them.
    modalities : dict, default=None
        Block name to a slice, column positions or column names; overrides the
        column prefixes.
    device : str, default="auto"
        Torch device of the default neural candidates.
    on_error : {"warn", "raise"}, default="warn"
        A candidate that fails to fit: left out with a warning, or raised.
    n_jobs : int, default=None
        Folds of a candidate fitted in parallel (joblib, through
        ``sklearn.utils.parallel`` so that scikit-learn's configuration reaches
        the workers). Each fit runs on one thread per 2**25 cells of its
        matrix (one for a few thousand rows), the caller's thread settings
        restored after.
    time_limit : float, default=None
        Seconds the fit may take (AutoGluon's ``time_limit``); None: fit every
        candidate. The candidates are fitted cheap ones first (trees and linear
        models, then late fusion, then the neural heads); a candidate whose
        estimated cost (from its first fold's time: the other folds and its
        refit) no longer fits what is left is skipped, and a chosen candidate
        whose refit no longer fits keeps its fold models. The first candidate
        is always fitted, so a working model comes back even from a limit too
        short for it. ``leaderboard_["status"]`` says what was skipped and why.
    random_state : int, RandomState instance or None, default=None
        Seed of the folds' shuffling (through ``cv``) and of the candidates.
    verbose : int, default=1
        One line per candidate on stderr (0: silent).

    Attributes
    ----------
    leaderboard_ : DataFrame
        One row per candidate and one for the ensemble: ``candidate``,
        ``blocks``, out-of-fold ``score``, ``fit_s`` and ``predict_s`` (summed
        over folds), ``weight``, ``status`` (``"fitted"``, ``"fold models:
        ..."`` when ``time_limit`` left no time to refit it, ``"skipped: ..."``
        with why; a skipped candidate has no score); best first.
    oof_predictions_ : dict of str to ndarray of shape (n_samples, n_classes)
        Out-of-fold probabilities of each candidate (NaN in rows it did not
        see) and of the ``"ensemble"``.
    oof_score_ : float
        The ensemble's out-of-fold score.
    weights_ : dict of str to float
        The chosen candidates' weights (summing to 1); with stacking, each
        candidate's share of the stacker's absolute coefficients.
    stacker_ : Stacker or None
        With ``combiner="stacking"``, the fitted stacker (its ``model_`` is
        the logistic regression); None otherwise.
    estimators_ : dict of str to estimator (or list of them with refit=False)
        The chosen candidates refitted on all rows, or (``refit=False``) every
        candidate's fold models.
    selection_trace_ : list of float
        Out-of-fold score after each selection step (empty with stacking).
    classes_ : ndarray of shape (n_classes,)
    class_prior_ : ndarray of shape (n_classes,)
        Training class frequencies: the prediction of a row no candidate sees.
    layout_ : BlockLayout
        The modality blocks found in the training input.
    n_features_in_ : int
    feature_names_in_ : ndarray of str

    See Also
    --------
    EnsembleRegressor : The regression counterpart.
    LateFusionClassifier : One estimator per modality, averaged.
    sklearn.ensemble.StackingClassifier : A learned combiner on the same features.

    Examples
    --------
    >>> import numpy as np
    >>> import pandas as pd
    >>> from skmm import EnsembleClassifier
    >>> rng = np.random.default_rng(0)
    >>> y = np.array([0, 1] * 40)
    >>> X = pd.DataFrame({
    ...     "text__0000": y + rng.normal(0, 1.0, 80),
    ...     "text__0001": rng.normal(size=80),
    ...     "tab__size": np.where(y == 1, 3.0, 1.0) + rng.normal(0, 0.3, 80),
    ... })
    >>> clf = EnsembleClassifier(preset="fast", cv=3, random_state=0, verbose=0)
    >>> clf = clf.fit(X, y)
    >>> sorted(clf.leaderboard_["candidate"])
    ['ensemble', 'hgb', 'hgb_projected', 'late', 'linear[text]', 'linear_all']
    >>> bool(clf.oof_score_ >= clf.leaderboard_["score"].max())
    True
    >>> bool(clf.score(X, y) > 0.9)
    True
    """

    _method = "predict_proba"

    _parameter_constraints: dict = {
        **_BaseEnsemble._parameter_constraints,
        "class_weight": [StrOptions({"balanced"}), dict, None],
    }

    def __init__(
        self,
        candidates=None,
        *,
        preset="default",
        cv=3,
        scoring=None,
        selection_scoring=None,
        ensemble_size=25,
        combiner="greedy",
        passthrough=False,
        refit=True,
        class_weight=None,
        categorical_features="auto",
        modalities=None,
        device="auto",
        on_error="warn",
        n_jobs=None,
        time_limit=None,
        random_state=None,
        verbose=1,
    ):
        super().__init__(
            candidates,
            preset=preset,
            cv=cv,
            scoring=scoring,
            selection_scoring=selection_scoring,
            ensemble_size=ensemble_size,
            combiner=combiner,
            passthrough=passthrough,
            refit=refit,
            categorical_features=categorical_features,
            modalities=modalities,
            device=device,
            on_error=on_error,
            n_jobs=n_jobs,
            time_limit=time_limit,
            random_state=random_state,
            verbose=verbose,
        )
        self.class_weight = class_weight

    def _encode_y(self, y, sample_weight=None):
        y = column_or_1d(y, warn=True)
        check_classification_targets(y)
        encoder = LabelEncoder().fit(y)
        self.classes_ = encoder.classes_
        if len(self.classes_) < 2:
            raise ValueError(
                f"{type(self).__name__} needs samples of at least 2 classes in the "
                f"data, but the data contains only one class: {self.classes_[0]!r}"
            )
        codes = encoder.transform(y)
        counts = np.bincount(
            codes, weights=sample_weight, minlength=len(self.classes_)
        ).astype(float)
        self.class_prior_ = counts / counts.sum()
        self._prior = self.class_prior_
        return y, codes

    def _fixed(self, proba):
        return _FixedClassifier(proba, np.arange(len(self.classes_)))

    def _target_of(self, y):
        y = column_or_1d(y)
        codes = np.searchsorted(self.classes_, y)
        codes = np.clip(codes, 0, len(self.classes_) - 1)
        if not np.array_equal(self.classes_[codes], y):
            unknown = sorted(set(np.unique(y)) - set(self.classes_))
            raise ValueError(f"y has labels not seen in fit: {unknown[:5]}")
        return codes

    def _align(self, out, estimator, n_rows) -> np.ndarray:
        """A candidate's output as (n_rows, n_classes) probabilities."""
        k = len(self.classes_)
        classes = np.asarray(getattr(estimator, "classes_", np.arange(k)), dtype=int)
        proba = np.zeros((n_rows, k))
        if out.ndim == 2:
            proba[:, classes] = out
        else:  # predict only: the predicted class gets probability 1
            proba[np.arange(n_rows), out.astype(int)] = 1.0
        return proba

    def _unalign(self, proba):
        return proba

    def predict_proba(self, X) -> np.ndarray:
        """Class probabilities: the weighted mean of the chosen candidates'.

        Parameters
        ----------
        X : DataFrame, array-like or dict of str to array-like
            Input laid out as in fit.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
        """
        proba = self._combine(X)
        return proba / proba.sum(axis=1, keepdims=True)

    def predict(self, X) -> np.ndarray:
        """The most probable class of each row.

        Parameters
        ----------
        X : DataFrame, array-like or dict of str to array-like
            Input laid out as in fit.

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
        """
        proba = self.predict_proba(X)
        return self.classes_[np.argmax(proba, axis=1)]


class EnsembleRegressor(RegressorMixin, _BaseEnsemble):
    """Choose and weight fusion heads, trees and linear models out of fold.

    The regression counterpart of :class:`EnsembleClassifier`: the same
    candidates (regressors), folds, greedy selection under ``scoring`` (default
    R², as ``score``) and missing policy; a row that no chosen candidate sees
    gets the training mean of ``y``.

    Parameters
    ----------
    candidates : list or dict, default=None
        As in :class:`EnsembleClassifier`, with regressors.
    preset : {"default", "fast", "best"}, default="default"
        ``"fast"`` leaves out the neural fusion head; ``"best"`` adds the gated
        fusion head and LightGBM's and CatBoost's trees (``pip install
        skmm[boosting]``; without it the leaderboard says they were not
        installed).
    cv : int, cross-validation generator or iterable, default=3
        The folds every candidate is fitted on; their test parts must hold
        each row exactly once.
    scoring : str or callable, default=None
        What the leaderboard reports and the selection maximises; None: R²
        (as ``score``).
    selection_scoring : str or callable, default=None
        What the greedy selection maximises instead of ``scoring``; None:
        ``scoring``.
    ensemble_size : int, default=25
        Greedy selection steps (with replacement).
    combiner : {"greedy", "stacking"}, default="greedy"
        ``"greedy"``: a weighted mean of the chosen candidates' predictions;
        ``"stacking"``: ``RidgeCV`` on every candidate's out-of-fold
        predictions, which can rescale and shift them (see
        :class:`EnsembleClassifier`).
    passthrough : bool, default=False
        With ``combiner="stacking"``, the stacker also reads the tabular
        columns.
    refit : bool, default=True
        Refit each chosen candidate on all rows, or keep every candidate's
        fold models (see :class:`EnsembleClassifier`).
    categorical_features : "auto", list of str or None, default="auto"
        Columns that hold categories (see :class:`EnsembleClassifier`).
    modalities : dict, default=None
        Block name to a slice, column positions or column names.
    device : str, default="auto"
        Torch device of the default neural candidates.
    on_error : {"warn", "raise"}, default="warn"
        A candidate that fails to fit: left out with a warning, or raised.
    n_jobs : int, default=None
        Folds of a candidate fitted in parallel (joblib, through
        ``sklearn.utils.parallel`` so that scikit-learn's configuration reaches
        the workers). Each fit runs on one thread per 2**25 cells of its
        matrix (one for a few thousand rows), the caller's thread settings
        restored after.
    time_limit : float, default=None
        Seconds the fit may take (AutoGluon's ``time_limit``); None: fit every
        candidate. The candidates are fitted cheap ones first (trees and linear
        models, then late fusion, then the neural heads); a candidate whose
        estimated cost (from its first fold's time: the other folds and its
        refit) no longer fits what is left is skipped, and a chosen candidate
        whose refit no longer fits keeps its fold models. The first candidate
        is always fitted, so a working model comes back even from a limit too
        short for it. ``leaderboard_["status"]`` says what was skipped and why.
    random_state : int, RandomState instance or None, default=None
        Seed of the candidates (and of ``cv`` when it shuffles).
    verbose : int, default=1
        One line per candidate on stderr (0: silent).

    Attributes
    ----------
    leaderboard_ : DataFrame
        As in :class:`EnsembleClassifier`.
    oof_predictions_ : dict of str to ndarray of shape (n_samples,)
        Out-of-fold predictions of each candidate (NaN where it did not see the
        row) and of the ``"ensemble"``.
    oof_score_ : float
    weights_ : dict of str to float
    estimators_ : dict of str to estimator (or list of them with refit=False)
    stacker_ : Stacker or None
        With ``combiner="stacking"``, the fitted stacker.
    selection_trace_ : list of float
    y_mean_ : float
        Training mean of ``y``: the prediction of a row no candidate sees.
    layout_ : BlockLayout
    n_features_in_ : int
    feature_names_in_ : ndarray of str

    See Also
    --------
    EnsembleClassifier : The classification counterpart.

    Examples
    --------
    >>> import numpy as np
    >>> from skmm import EnsembleRegressor
    >>> rng = np.random.default_rng(0)
    >>> X = {"image": rng.normal(size=(60, 4)), "audio": rng.normal(size=(60, 3))}
    >>> y = X["image"][:, 0] + np.sin(3 * X["audio"][:, 0])
    >>> reg = EnsembleRegressor(preset="fast", cv=3, random_state=0, verbose=0)
    >>> reg = reg.fit(X, y)
    >>> bool(reg.oof_score_ >= reg.leaderboard_["score"].iloc[1:].max())
    True
    """

    _method = "predict"

    def _encode_y(self, y, sample_weight=None):
        y = column_or_1d(np.asarray(y, dtype=np.float64), warn=True)
        self.y_mean_ = float(np.average(y, weights=sample_weight))
        self._prior = np.array([self.y_mean_])
        return y, y

    def _fixed(self, pred):
        return _FixedRegressor(pred)

    def _target_of(self, y):
        return column_or_1d(np.asarray(y, dtype=np.float64))

    def _align(self, out, estimator, n_rows) -> np.ndarray:
        return np.asarray(out, dtype=np.float64).reshape(n_rows, 1)

    def _unalign(self, pred):
        return pred[:, 0]

    def predict(self, X) -> np.ndarray:
        """The weighted mean of the chosen candidates' predictions.

        Parameters
        ----------
        X : DataFrame, array-like or dict of str to array-like
            Input laid out as in fit.

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
        """
        return self._combine(X)[:, 0]
