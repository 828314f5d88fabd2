"""Ensembles that choose and weight heads out of fold."""

from skmm.ensemble._boosting import BoostedTreesClassifier, BoostedTreesRegressor
from skmm.ensemble._candidates import default_candidates
from skmm.ensemble._ensemble import EnsembleClassifier, EnsembleRegressor

__all__ = [
    "BoostedTreesClassifier",
    "BoostedTreesRegressor",
    "EnsembleClassifier",
    "EnsembleRegressor",
    "default_candidates",
]
