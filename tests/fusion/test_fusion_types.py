"""A fusion type declares its own parameters: the heads validate and pass them."""

import inspect

import numpy as np
import pytest

from skmm import FusionClassifier, FusionMultiTask, FusionRegressor
from skmm.fusion import FUSIONS

_SHARED = {"self", "n_modalities", "hidden", "dropout"}


@pytest.mark.parametrize("name", sorted(FUSIONS))
def test_each_fusion_type_declares_the_arguments_it_takes(name):
    fusion = FUSIONS[name]
    declared = set(getattr(fusion, "hyperparameters", {}))
    assert declared == set(inspect.signature(fusion).parameters) - _SHARED
    for head in (FusionClassifier, FusionRegressor, FusionMultiTask):
        assert declared <= set(head().get_params())
        assert declared <= set(head._parameter_constraints)


def test_the_heads_pass_a_fusion_types_own_parameters():
    rng = np.random.default_rng(0)
    X = {"a": rng.normal(size=(30, 4)), "b": rng.normal(size=(30, 3))}
    y = (X["a"][:, 0] > 0).astype(int)
    common = dict(hidden=8, max_epochs=1, early_stopping=False, random_state=0)
    lowrank = FusionClassifier("lowrank", rank=3, **common).fit(X, y)
    assert lowrank.net_.module_.fusion.factors.shape[1] == 3
    transformer = FusionClassifier("transformer", n_heads=2, n_layers=2, **common)
    encoder = transformer.fit(X, y).net_.module_.fusion.encoder
    assert len(encoder.layers) == 2
    assert encoder.layers[0].self_attn.num_heads == 2
    with pytest.raises(ValueError, match="rank"):
        FusionClassifier("lowrank", rank=0, **common).fit(X, y)
