"""The optional L1 penalty on a toy model's hidden layer (`hidden_l1`): unchanged numbers when it is 0, and its
effect (fewer features share the hidden space). Its hand-written gradient is checked in tests/test_engine.py."""

import pytest
import torch

from superpose_lib import metrics
from superpose_lib.toy_models import ToyModel, evaluate, train


def _perturbed(cls, hidden_l1, n_instances=3):
    model = cls(8, 3, n_instances, feature_probability=0.3, importance=0.9 ** torch.arange(8.0), seed=0,
                hidden_l1=hidden_l1)  # fmt: skip
    with torch.no_grad():
        model.b.normal_(0.0, 0.1, generator=torch.Generator().manual_seed(2))
    return model


def test_zero_penalty_changes_nothing():
    plain = ToyModel(8, 3, 2, feature_probability=0.2, seed=0)
    zero = ToyModel(8, 3, 2, feature_probability=0.2, seed=0, hidden_l1=0.0)
    a = train(plain, steps=30, batch_size=64, lr=1e-2, seed=1, progress=False)
    b = train(zero, steps=30, batch_size=64, lr=1e-2, seed=1, progress=False)
    assert torch.equal(a, b) and torch.equal(plain.W, zero.W) and torch.equal(plain.b, zero.b)
    assert torch.equal(zero.hidden_l1, torch.zeros(2))


def test_a_stronger_penalty_leaves_fewer_features_in_superposition():
    lams = torch.tensor([0.0, 0.03, 0.3])
    model = ToyModel(20, 5, 3, feature_probability=0.05, importance=0.9 ** torch.arange(20.0), seed=0,
                     hidden_l1=lams)  # fmt: skip
    train(model, steps=2_000, batch_size=512, lr=1e-2, schedule="cosine", seed=0, progress=False)
    dims = metrics.dimensions_per_feature(model.W.detach())  # (instances,)
    losses = evaluate(model, 8_192, seed=0)  # reconstruction only, without the penalty
    assert dims[0] < dims[1] < dims[2]
    assert losses[0] < losses[2]


def test_hidden_l1_is_checked():
    for bad in (-0.1, float("nan"), torch.ones(3), torch.ones(2, 1)):
        with pytest.raises(ValueError, match="hidden_l1 must"):
            ToyModel(5, 2, 2, hidden_l1=bad)
