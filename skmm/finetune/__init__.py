"""Fine-tuning: image and text backbones trained with a fusion head on the raw
frame, their frozen prefix computed once per item (or, with ``k="all"`` or
``augment=True``, the raw values run through the model on every batch); and
``FineTunedEmbeddings``, their vectors reduced to a few components as features,
fitted out of fold."""

from skmm.finetune._backbones import (
    Backbone,
    n_blocks,
    split_backbone,
    train_transform,
)
from skmm.finetune._estimator import FineTuneClassifier, FineTuneRegressor
from skmm.finetune._features import FineTunedEmbeddings
from skmm.finetune._store import clear_activation_store

__all__ = [
    "Backbone",
    "FineTuneClassifier",
    "FineTuneRegressor",
    "FineTunedEmbeddings",
    "clear_activation_store",
    "n_blocks",
    "split_backbone",
    "train_transform",
]
