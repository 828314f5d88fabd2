"""Fusion heads: estimators that combine modality blocks.

Neural heads (:class:`FusionClassifier`, :class:`FusionRegressor`,
:class:`FusionMultiTask`) train a torch network with skorch; the fusion types
(``fusion=``) are the modules below, each with its formula and reference.
:class:`NeuralFusionMixin` is what the neural heads share with the fine-tuning
estimators of :mod:`skmm.finetune` (parameters, target encoding, validation split,
network, loss, training callbacks).
"""

from skmm.fusion._base import NeuralFusionMixin
from skmm.fusion._late import LateFusionClassifier, LateFusionRegressor
from skmm.fusion._modules import (
    FUSIONS,
    AttentionFusion,
    ConcatFusion,
    GatedFusion,
    LateFusion,
    LowRankFusion,
    TensorFusion,
    TransformerFusion,
)
from skmm.fusion._network import FusionNetwork
from skmm.fusion._neural import FusionClassifier, FusionMultiTask, FusionRegressor

__all__ = [
    "FUSIONS",
    "AttentionFusion",
    "ConcatFusion",
    "FusionClassifier",
    "FusionMultiTask",
    "FusionNetwork",
    "FusionRegressor",
    "GatedFusion",
    "LateFusion",
    "LateFusionClassifier",
    "LateFusionRegressor",
    "LowRankFusion",
    "NeuralFusionMixin",
    "TensorFusion",
    "TransformerFusion",
]
