"""Which modality matters? Permutation importance and ablation by modality block.

Both functions find the modalities of a fitted estimator the same way:

1. a :class:`~sklearn.pipeline.Pipeline` whose first step is a fitted
   :class:`~skmm.MultimodalUnion` (or any ColumnTransformer), scored on the raw
   DataFrame: the modalities are the union's blocks (its transformers, and the
   remainder when it is kept);
2. anything else is scored on the joined matrix: the blocks are those of the
   estimator's ``layout_`` when it has one (the skmm heads), else the
   ``"{modality}__{feature}"`` column prefixes or the keys of a dict of arrays
   (:func:`~skmm.compose._blocks.infer_layout`).

``modalities=`` may name a subset of those blocks (a list of names) or define the
groups itself (a dict of name to columns: raw input columns in case 1, joined
columns in case 2).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from numbers import Integral
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.compose import ColumnTransformer
from sklearn.metrics import check_scoring
from sklearn.pipeline import Pipeline
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import HasMethods, Interval, validate_params
from sklearn.utils.parallel import Parallel, delayed
from sklearn.utils.validation import check_is_fitted

from skmm._dataframe import (
    assign_columns,
    column_names,
    n_rows,
    permute_columns,
    set_missing,
    to_numpy,
)
from skmm.compose._blocks import _as_positions, infer_layout, remove_blocks

__all__ = ["modality_ablation", "modality_importance"]


# -- finding the modalities ---------------------------------------------------
@dataclass
class _Plan:
    """How to score ``X`` with one modality permuted or removed.

    ``target`` and ``data`` are what the scorer gets for permutation (for a union
    pipeline: the pipeline after the union, on the union's output, so the
    encoders run once); ``permute`` and ``remove`` return edited inputs.
    """

    names: list[str]
    target: Any
    data: Any
    permute: Callable[[Any, str, np.ndarray], Any]
    full: Any
    full_data: Any
    remove: Callable[[str], Any]
    removal: Callable[[str], str]


def _first_union(estimator) -> ColumnTransformer | None:
    if isinstance(estimator, Pipeline) and len(estimator.steps) > 1:
        first = estimator.steps[0][1]
        if isinstance(first, ColumnTransformer) and hasattr(first, "transformers_"):
            return first
    return None


def _select(found: dict[str, Any], modalities) -> dict[str, Any]:
    if modalities is None:
        return found
    names = [modalities] if isinstance(modalities, str) else list(modalities)
    unknown = [n for n in names if n not in found]
    if unknown:
        raise ValueError(
            f"unknown modalities {unknown}; the estimator's modalities are "
            f"{list(found)}"
        )
    return {n: found[n] for n in names}


def _explicit_groups(X, modalities: Mapping) -> dict[str, np.ndarray]:
    names = column_names(X)
    n_features = np.shape(X)[1]
    groups = {}
    for key, spec in modalities.items():
        pos = _as_positions(spec, n_features, names, key)
        if pos.size:
            groups[str(key)] = pos
    if not groups:
        raise ValueError("modalities selects no columns")
    return groups


def _union_plan(pipeline: Pipeline, union: ColumnTransformer, X, modalities) -> _Plan:
    head = pipeline[1:]
    raw_names = column_names(X)

    def describe(pos):
        cols = [raw_names[p] for p in pos] if raw_names else pos.tolist()
        return f"its input columns {cols} set to missing"

    if isinstance(modalities, Mapping):
        # Groups of raw columns: permute and remove them in the raw input.
        groups = _explicit_groups(X, modalities)
        return _Plan(
            names=list(groups),
            target=pipeline,
            data=X,
            permute=lambda data, name, perm: permute_columns(data, groups[name], perm),
            full=pipeline,
            full_data=X,
            remove=lambda name: set_missing(X, groups[name]),
            removal=lambda name: describe(groups[name]),
        )

    inputs = getattr(union, "_transformer_to_input_indices", {})
    outputs = {
        name: np.arange(sl.start, sl.stop)
        for name, sl in union.output_indices_.items()
        if sl.stop > sl.start
    }
    outputs = _select(outputs, modalities)
    # Encoders and tabular transformers work row by row, so shuffling the rows
    # of a modality's input columns together shuffles the rows of its output
    # block: permute there, and the encoders run once instead of once a repeat.
    Xt = union.transform(X)

    def remove(name):
        pos = np.asarray(inputs.get(name, []), dtype=int)
        if pos.size == 0:
            raise ValueError(f"cannot find the input columns of modality {name!r}")
        return set_missing(X, pos)

    return _Plan(
        names=list(outputs),
        target=head,
        data=Xt,
        permute=lambda data, name, perm: permute_columns(data, outputs[name], perm),
        full=pipeline,
        full_data=X,
        remove=remove,
        removal=lambda name: describe(np.asarray(inputs.get(name, []), dtype=int)),
    )


def _matrix_plan(estimator, X, modalities) -> _Plan:
    if sp.issparse(X):
        X = X.toarray()
    names = column_names(X)
    if isinstance(modalities, Mapping):
        layout = infer_layout(X, modalities=modalities, feature_names=names)
    elif getattr(estimator, "layout_", None) is not None:
        layout = estimator.layout_
    else:
        layout = infer_layout(X, feature_names=names)
    slices = layout.slices()
    selected = dict.fromkeys(layout.names)
    if not isinstance(modalities, Mapping):
        selected = _select(selected, modalities)

    if layout.from_dict:
        if not isinstance(X, Mapping):
            raise ValueError(
                "the estimator was fitted on a dict of modality arrays; pass X as "
                f"a dict with the keys {list(layout.names)}"
            )

        def permute(data, name, perm):
            out = dict(data)
            out[name] = np.asarray(data[name])[perm]
            return out

        def remove(name):
            return remove_blocks(X, layout, [name])

    else:

        def permute(data, name, perm):
            return permute_columns(data, slices[name], perm)

        def remove(name):
            values = remove_blocks(to_numpy(X, dtype=np.float64), layout, [name])
            return assign_columns(X, slices[name], values)

    def removal(name):
        j = layout.names.index(name)
        if layout.from_dict or layout.indicators[j] is None:
            return "its block set to NaN (it has no missing indicator)"
        return "its block zeroed and its missing indicator set"

    return _Plan(
        names=list(selected),
        target=estimator,
        data=X,
        permute=permute,
        full=estimator,
        full_data=X,
        remove=remove,
        removal=removal,
    )


def _plan(estimator, X, modalities) -> _Plan:
    fitted = getattr(estimator, "best_estimator_", estimator)
    check_is_fitted(fitted)
    union = _first_union(fitted)
    if union is not None:
        return _union_plan(fitted, union, X, modalities)
    return _matrix_plan(fitted, X, modalities)


def _scorer(estimator, scoring, search=None):
    if scoring is None and callable(getattr(search, "scorer_", None)):
        return search.scorer_  # a fitted search scores with its own metric
    if isinstance(scoring, (list, tuple, set, dict)):
        raise ValueError(
            "scoring must name one metric (a string or a callable); call the "
            "function once per metric"
        )
    return check_scoring(estimator, scoring=scoring)


def _permuted_scores(scorer, plan: _Plan, name, y, seed, n_repeats) -> np.ndarray:
    rng = np.random.RandomState(seed)
    n = n_rows(plan.data)
    scores = np.empty(n_repeats)
    for r in range(n_repeats):
        perm = rng.permutation(n)
        scores[r] = scorer(plan.target, plan.permute(plan.data, name, perm), y)
    return scores


_COMMON = {
    "estimator": [HasMethods(["fit"])],
    "X": [object],
    "y": [object],
    "scoring": [str, callable, None, list, tuple, set, dict],
    "modalities": [list, tuple, dict, str, None],
}


@validate_params(
    {
        **_COMMON,
        "n_repeats": [Interval(Integral, 1, None, closed="left")],
        "random_state": ["random_state"],
        "n_jobs": [Integral, None],
    },
    prefer_skip_nested_validation=True,
)
def modality_importance(
    estimator,
    X,
    y,
    *,
    scoring: str | Callable | None = None,
    n_repeats: int = 5,
    random_state: int | np.random.RandomState | None = None,
    modalities: Sequence[str] | Mapping[str, Any] | None = None,
    n_jobs: int | None = None,
) -> pd.DataFrame:
    """Permutation importance of whole modalities.

    For each modality, the rows of all its columns are shuffled together (one
    permutation for the block, so the block's values stay intact but no longer
    match the row's other modalities and target) and the fitted estimator is
    scored again. The importance is the baseline score minus the permuted score:
    near 0 for a modality the estimator does not use.

    Parameters
    ----------
    estimator : fitted estimator
        A Pipeline whose first step is a fitted :class:`~skmm.MultimodalUnion`
        (X is then the raw DataFrame), a skmm head (its ``layout_`` gives the
        blocks), or any estimator fitted on the joined matrix (blocks from the
        ``"{modality}__"`` column prefixes or the keys of a dict). A fitted
        search (``GridSearchCV``) is inspected through its ``best_estimator_``.
    X : DataFrame (pandas or polars), array-like or dict of arrays
        Data to score on, in the form the estimator takes.
    y : array-like
        Targets.
    scoring : str or callable, default=None
        One scikit-learn scorer; ``None`` uses the estimator's ``score`` (a
        fitted search's own ``scorer_``).
    n_repeats : int, default=5
        Permutations per modality.
    random_state : int, RandomState instance or None, default=None
        Seeds the permutations; every modality gets the same ones.
    modalities : list of str or dict, default=None
        A list names the modalities to inspect (default: all). A dict defines
        the groups: name to columns of ``X`` (names, positions or a slice).
    n_jobs : int, default=None
        Modalities scored in parallel (joblib, through ``sklearn.utils.parallel``).

    Returns
    -------
    result : pandas.DataFrame
        One row per modality, in block order, with columns ``modality``,
        ``importance_mean``, ``importance_std`` (over the repeats),
        ``baseline_score`` (the unpermuted score) and ``importances`` (an array
        of the ``n_repeats`` score drops).

    Notes
    -----
    For a union pipeline the union transforms ``X`` once and the rows of each
    block of its output are shuffled, which equals shuffling the block's input
    columns (encoders and tabular transformers work row by row) without running
    the encoders again for every repeat.

    See Also
    --------
    modality_ablation : Score with each modality removed.
    sklearn.inspection.permutation_importance : The same, one feature at a time.

    Examples
    --------
    >>> import numpy as np
    >>> import pandas as pd
    >>> from sklearn.linear_model import LogisticRegression
    >>> from skmm.inspection import modality_importance
    >>> rng = np.random.default_rng(0)
    >>> y = rng.integers(0, 2, 200)
    >>> X = pd.DataFrame({
    ...     "image__0": y + rng.normal(0, 0.3, 200),
    ...     "text__0": rng.normal(size=200),
    ...     "text__1": rng.normal(size=200),
    ... })
    >>> model = LogisticRegression().fit(X, y)
    >>> result = modality_importance(model, X, y, random_state=0)
    >>> result[["modality", "importance_mean"]].round(1)
      modality  importance_mean
    0    image              0.5
    1     text              0.0
    """
    plan = _plan(estimator, X, modalities)
    scorer = _scorer(plan.target, scoring, estimator)
    baseline = scorer(plan.target, plan.data, y)
    seed = check_random_state(random_state).randint(np.iinfo(np.int32).max + 1)
    scores = Parallel(n_jobs=n_jobs)(
        delayed(_permuted_scores)(scorer, plan, name, y, seed, n_repeats)
        for name in plan.names
    )
    drops = [baseline - s for s in scores]
    return pd.DataFrame(
        {
            "modality": pd.Series(plan.names, dtype=object),
            "importance_mean": [float(d.mean()) for d in drops],
            "importance_std": [float(d.std()) for d in drops],
            "baseline_score": float(baseline),
            "importances": pd.Series(drops, dtype=object),
        }
    )


@validate_params(_COMMON, prefer_skip_nested_validation=True)
def modality_ablation(
    estimator,
    X,
    y,
    *,
    scoring: str | Callable | None = None,
    modalities: Sequence[str] | Mapping[str, Any] | None = None,
) -> pd.DataFrame:
    """Score of a fitted estimator with each modality removed, one at a time.

    Removing a modality makes it absent from every row, the way missing data
    looks to the estimator, so the score shows what the estimator can do
    without it (the estimator is not refitted):

    - union pipeline on the raw DataFrame: the modality's input columns are set
      to missing (NaN for numeric columns, None otherwise), so its encoder
      emits its missing output (indicator or NaN, per the union's ``missing=``);
    - joined matrix: the block is written absent as the union writes it (zeros
      and its ``{modality}__missing`` indicator set, or NaN without one), with
      :func:`~skmm.compose._blocks.remove_blocks`.

    Parameters
    ----------
    estimator : fitted estimator
        As in :func:`modality_importance`.
    X : DataFrame (pandas or polars), array-like or dict of arrays
        Data to score on, in the form the estimator takes.
    y : array-like
        Targets.
    scoring : str or callable, default=None
        One scikit-learn scorer; ``None`` uses the estimator's ``score``.
    modalities : list of str or dict, default=None
        As in :func:`modality_importance`.

    Returns
    -------
    result : pandas.DataFrame
        One row per modality, in block order, with columns ``modality``,
        ``full_score`` (all modalities), ``ablated_score`` (this one removed)
        and ``drop`` (``full_score - ablated_score``).

    Raises
    ------
    ValueError
        When the estimator cannot score the data without a modality, for
        example a tabular block whose transformer or final estimator cannot
        take NaN. The message names the modality and what was removed; give
        that block an imputer, use the union's ``missing="indicator"`` for
        encoder blocks, or leave the modality out with ``modalities=[...]``.

    See Also
    --------
    modality_importance : Permutation importance by modality.

    Examples
    --------
    >>> import numpy as np
    >>> from skmm import LateFusionClassifier
    >>> from skmm.inspection import modality_ablation
    >>> rng = np.random.default_rng(0)
    >>> y = rng.integers(0, 2, 100)
    >>> X = {"image": y[:, None] + rng.normal(0, 0.3, (100, 2)),
    ...      "text": rng.normal(size=(100, 3))}
    >>> model = LateFusionClassifier().fit(X, y)
    >>> result = modality_ablation(model, X, y)
    >>> result[["modality", "full_score", "ablated_score"]].round(2)
      modality  full_score  ablated_score
    0    image        0.97           0.55
    1     text        0.97           0.99
    """
    plan = _plan(estimator, X, modalities)
    scorer = _scorer(plan.full, scoring, estimator)
    full = scorer(plan.full, plan.full_data, y)
    ablated = []
    for name in plan.names:
        X_removed = plan.remove(name)
        try:
            ablated.append(float(scorer(plan.full, X_removed, y)))
        except (ValueError, TypeError) as exc:
            raise ValueError(
                f"scoring failed with modality {name!r} removed "
                f"({plan.removal(name)}): {exc}. The estimator cannot take this "
                "modality missing: add an imputer to its transformer (or use a "
                "head that takes NaN), or leave it out with modalities=[...]"
            ) from exc
    ablated = np.asarray(ablated)
    return pd.DataFrame(
        {
            "modality": pd.Series(plan.names, dtype=object),
            "full_score": float(full),
            "ablated_score": ablated,
            "drop": float(full) - ablated,
        }
    )
