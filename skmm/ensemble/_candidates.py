"""The default library of an ensemble: what won on real multimodal tables.

Gradient-boosted trees on the tabular blocks (categories split natively), trees on
the tabular blocks plus a few principal components of each embedding block, a
regularised linear model per embedding block and on all blocks, late fusion, and
(in the ``"default"`` preset) a neural concat fusion head; ``"best"`` adds the
gated fusion head, and LightGBM's and CatBoost's trees join them, in the presets
of ``BOOSTED_PRESETS``, when the libraries are installed (``pip install
skmm[boosting]``); ``not_installed_candidates`` names the ones left out.

Each default candidate is as cheap as it could be made at an equal held-out
score of the ensemble (``benchmarks/ensemble_quality.py``'s three tasks; the
figures are in benchmarks/README.md, "Ensemble cost"): on its 3 folds the
default ensemble costs about 4 concat head fits (4.3x on 1,500 cached reviews,
2.6x on 10,000) where it cost 22.
"""

from __future__ import annotations

import inspect
from typing import Any

import numpy as np
from sklearn.ensemble import (
    HistGradientBoostingClassifier,
    HistGradientBoostingRegressor,
)
from sklearn.linear_model import LogisticRegressionCV, RidgeCV
from sklearn.model_selection import StratifiedKFold
from sklearn.pipeline import make_pipeline

from skmm.ensemble._boosting import (
    INSTALL_HINT,
    LIBRARIES,
    BoostedTreesClassifier,
    BoostedTreesRegressor,
    is_installed,
)
from skmm.ensemble._views import BlockStandardizer, EmbeddingProjection
from skmm.fusion import (
    FusionClassifier,
    FusionRegressor,
    LateFusionClassifier,
    LateFusionRegressor,
)

__all__ = [
    "BOOSTED_PRESETS",
    "SELECTORS",
    "InnerStratifiedKFold",
    "default_candidates",
    "not_installed_candidates",
]

#: What the third element of a candidate may name besides block names.
SELECTORS = {
    "all": "every block",
    "fused": "every block, when there are at least two",
    "tabular": "the tabular blocks (feature names that are not numbers)",
    "embedding": "the embedding blocks (numbered features: an encoder's output)",
    "each": "one candidate per embedding block, named '{name}[{block}]'",
}

PRESETS = ("default", "fast", "best")

#: The presets each tree library's candidates are in (when it is installed).
BOOSTED_PRESETS = {"lightgbm": ("best",), "catboost": ("best",)}

# Chosen on 1,200 cached reviews, 5 folds (benchmarks/boosting_candidates.py; the
# figures are in benchmarks/README.md): LightGBM with 15 leaves (31: a worse
# out-of-fold log loss, 7: worse still) stopping early on a tenth of the rows;
# CatBoost 100 iterations of depth 4 at rate 0.1, without early stopping (its
# early stopping on a tenth of the rows lost log loss, and depth 6 or 300
# iterations cost about twice as much for as good a score).
_BOOSTED_SETTINGS: dict[str, dict[str, Any]] = {
    "lightgbm": {"params": {"num_leaves": 15}},
    "catboost": {
        "n_estimators": 100,
        "max_depth": 4,
        "learning_rate": 0.1,
        "early_stopping": False,
    },
}

# What made each default candidate cheap, at the same held-out score of the
# ensemble on the reviews, the digits and the synthetic task (3 splits each;
# benchmarks/README.md, "Ensemble cost"):
# - the trees: 50 iterations at rate 0.2 instead of 100 at 0.1 (half the trees;
#   early stopping on a tenth of the rows lost 0.006 on the digits, and cannot
#   split 50 classes of 3 rows);
# - the linear models: LogisticRegressionCV on 2 inner folds instead of 3, over
#   the same 5 values of C (3 values up to C = 0.1 lost 0.013 on the digits'
#   late fusion; a fixed C lost up to 0.05 there);
# - the neural head: batches of 128 at twice the learning rate, stopping after 3
#   epochs without a better validation loss (the heads' defaults: 64, 1e-3, 10):
#   a third of the fit; the gated head, which no task's ensemble needed beside
#   the concat head, moved to the "best" preset.
_TREE_SETTINGS: dict[str, Any] = {"learning_rate": 0.2, "max_iter": 50}
_INNER_FOLDS = 2
_NEURAL_SETTINGS: dict[str, Any] = {"batch_size": 128, "lr": 2e-3, "patience": 3}
#: The neural fusion types of each preset's candidates.
_NEURAL_PRESETS = {"fast": (), "default": ("concat",), "best": ("concat", "gated")}

# scikit-learn 1.9 changes LogisticRegressionCV's defaults and warns unless both
# are given; older releases lack the second and warn about the first.
_LOGISTIC_CV_KWARGS = (
    {"l1_ratios": (0.0,), "use_legacy_attributes": False}
    if "use_legacy_attributes" in inspect.signature(LogisticRegressionCV).parameters
    else {}
)


class InnerStratifiedKFold(StratifiedKFold):
    """The folds of a candidate's own cross-validation (LogisticRegressionCV's).

    Shuffled stratified K folds, so that a run of rows (of one class, of zero
    sample weight) lands in every fold, and no more folds than the smallest
    class has rows (at least 2), so that an outer training fold with 2 rows of
    a class still fits: the user never set this ``cv``.

    Examples
    --------
    >>> import numpy as np
    >>> from skmm.ensemble._candidates import InnerStratifiedKFold
    >>> y = np.repeat([0, 1, 2], 2)
    >>> len(list(InnerStratifiedKFold(3, random_state=0).split(y[:, None], y)))
    2
    """

    def __init__(self, n_splits=3, *, random_state=None):
        super().__init__(n_splits, shuffle=True, random_state=random_state)

    def _folds(self, y) -> int:
        smallest = np.unique(np.asarray(y), return_counts=True)[1].min()
        return int(max(2, min(self.n_splits, smallest)))

    def split(self, X, y, groups=None):
        folds = StratifiedKFold(
            self._folds(y), shuffle=True, random_state=self.random_state
        )
        return folds.split(X, y, groups)

    def get_n_splits(self, X=None, y=None, groups=None):
        return self.n_splits if y is None else self._folds(y)


def default_candidates(
    task: str = "classification",
    preset: str = "default",
    *,
    class_weight: Any = None,
    device: str = "auto",
    random_state: Any = None,
) -> list[tuple[str, Any, Any]]:
    """The candidates an ensemble fits when ``candidates`` does not replace them.

    Parameters
    ----------
    task : {"classification", "regression"}, default="classification"
    preset : {"default", "fast", "best"}, default="default"
        ``"fast"`` leaves the neural fusion head out; ``"best"`` adds, to the
        default, the gated fusion head and LightGBM's and CatBoost's trees
        when installed (``BOOSTED_PRESETS``): four more candidates, each about
        as costly as ``hgb_projected`` or less (benchmarks/README.md).
    class_weight : {"balanced"} or dict, default=None
        Passed to the classifiers that take it.
    device : str, default="auto"
        Torch device of the neural heads.
    random_state : int or None, default=None
        Seed of the candidates that draw random numbers.

    Returns
    -------
    candidates : list of (name, estimator, blocks)
        ``blocks`` is a block name, a list of them, or one of ``SELECTORS``:
        ``"all"``, ``"fused"``, ``"tabular"``, ``"embedding"``, ``"each"``.

    Examples
    --------
    >>> from skmm.ensemble import default_candidates
    >>> [(name, blocks) for name, _, blocks in default_candidates(preset="fast")]
    ... # doctest: +NORMALIZE_WHITESPACE
    [('hgb', 'tabular'), ('hgb_projected', 'all'), ('linear', 'each'),
     ('linear_all', 'all'), ('late', 'fused')]
    """
    if task not in ("classification", "regression"):
        raise ValueError(f"task must be 'classification' or 'regression', got {task!r}")
    if preset not in PRESETS:
        raise ValueError(f"preset must be one of {PRESETS}, got {preset!r}")
    classify = task == "classification"
    if classify:

        def tree():
            return HistGradientBoostingClassifier(
                class_weight=class_weight, random_state=random_state, **_TREE_SETTINGS
            )

        def linear():
            return make_pipeline(
                BlockStandardizer(),
                LogisticRegressionCV(
                    Cs=np.logspace(-3, 1, 5),
                    cv=InnerStratifiedKFold(_INNER_FOLDS, random_state=random_state),
                    scoring="neg_log_loss",
                    class_weight=class_weight,
                    max_iter=1000,
                    **_LOGISTIC_CV_KWARGS,
                ),
            )

        late = LateFusionClassifier(linear())
    else:

        def tree():
            return HistGradientBoostingRegressor(
                random_state=random_state, **_TREE_SETTINGS
            )

        def linear():
            return make_pipeline(
                BlockStandardizer(), RidgeCV(alphas=np.logspace(-3, 4, 15))
            )

        late = LateFusionRegressor(linear())

    def projected(estimator):
        return make_pipeline(
            EmbeddingProjection(16, random_state=random_state), estimator
        )

    candidates: list[tuple[str, Any, Any]] = [
        ("hgb", tree(), "tabular"),
        ("hgb_projected", projected(tree()), "all"),
    ]
    boosted = BoostedTreesClassifier if classify else BoostedTreesRegressor
    extra = {"class_weight": class_weight} if classify else {}
    for library in LIBRARIES:
        if preset in BOOSTED_PRESETS[library] and is_installed(library):
            for name, blocks in _boosted_names(library):
                est = boosted(
                    library,
                    random_state=random_state,
                    **_BOOSTED_SETTINGS[library],
                    **extra,
                )
                candidates.append(
                    (name, est if blocks == "tabular" else projected(est), blocks)
                )
    candidates += [
        ("linear", linear(), "each"),
        ("linear_all", linear(), "all"),
        ("late", late, "fused"),
    ]
    head = FusionClassifier if classify else FusionRegressor
    for fusion in _NEURAL_PRESETS[preset]:
        candidates.append(
            (
                f"fusion_{fusion}",
                head(
                    fusion,
                    device=device,
                    random_state=random_state,
                    **_NEURAL_SETTINGS,
                    **extra,
                ),
                "fused",
            )
        )
    return candidates


def _boosted_names(library: str) -> list[tuple[str, str]]:
    """(name, blocks) of a tree library's candidates: on the tabular blocks,
    and on every block with each embedding projected."""
    return [(library, "tabular"), (f"{library}_projected", "all")]


def not_installed_candidates(preset: str = "default") -> list[tuple[str, str, str]]:
    """The candidates ``default_candidates(preset=preset)`` leaves out because
    their library is not installed: (name, blocks, why).

    Examples
    --------
    >>> from skmm.ensemble._candidates import not_installed_candidates
    >>> not_installed_candidates("fast")
    []
    """
    return [
        (name, blocks, f"not installed: {INSTALL_HINT}")
        for library in LIBRARIES
        if preset in BOOSTED_PRESETS[library] and not is_installed(library)
        for name, blocks in _boosted_names(library)
    ]
