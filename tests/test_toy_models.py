"""The toy model of chapter 00 (Elhage et al. 2022): shapes, data, loss, and the pentagon it learns."""

import pytest
import torch

from superpose_lib.toy_models import ToyModel, train


def test_shapes_follow_the_library_contract():
    model = ToyModel(5, 2, n_instances=3, seed=0)
    assert model.W.shape == (3, 2, 5) and model.b.shape == (3, 5)
    x = model.generate_batch(16)
    assert x.shape == (16, 3, 5)
    assert model(x).shape == (16, 3, 5)
    assert model.loss(x, model(x), per_instance=True).shape == (3,)


def test_batch_has_the_requested_sparsity_and_uniform_values():
    probability = torch.tensor([[1.0], [0.3], [0.05]])
    model = ToyModel(50, 5, n_instances=3, feature_probability=probability, seed=0)
    x = model.generate_batch(4_000, generator=torch.Generator().manual_seed(0))
    fractions = (x != 0).float().mean(dim=(0, 2))
    assert torch.allclose(fractions, probability.squeeze(1), atol=0.01)
    assert x.min() >= 0 and x.max() <= 1
    assert x[x != 0].mean().item() == pytest.approx(0.5, abs=0.01)


def test_forward_is_relu_of_wt_w_x_plus_b():
    model = ToyModel(4, 2, n_instances=2, seed=1)
    with torch.no_grad():
        model.b.copy_(torch.randn(2, 4))
    x = torch.rand(3, 2, 4)
    for i in range(2):
        expected = torch.relu(x[:, i] @ model.W[i].T @ model.W[i] + model.b[i])
        assert torch.allclose(model(x)[:, i], expected, atol=1e-6)


def test_loss_is_importance_weighted_mean_summed_over_instances():
    importance = 0.7 ** torch.arange(3.0)
    model = ToyModel(3, 2, n_instances=2, importance=importance, seed=0)
    x, x_hat = torch.rand(10, 2, 3), torch.rand(10, 2, 3)
    per = [(importance * (x[:, i] - x_hat[:, i]) ** 2).mean() for i in range(2)]
    assert model.loss(x, x_hat).item() == pytest.approx(sum(per).item(), rel=1e-6)


def test_same_seed_same_training():
    histories = []
    for _ in range(2):
        model = ToyModel(5, 2, seed=0)
        histories.append(train(model, steps=20, seed=1, progress=False))
    assert torch.equal(histories[0], histories[1])


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_sparse_features_form_a_pentagon(seed):
    # Elhage et al. 2022: 5 equally important features in 2 dimensions, when sparse, sit at the
    # vertices of a regular pentagon (all represented, adjacent features 72° apart), and every bias is
    # negative, filtering the positive interference between neighbours.
    model = ToyModel(5, 2, feature_probability=0.03, seed=seed)
    train(model, steps=2_000, lr=1e-2, seed=seed, progress=False)
    assert (model.b < 0).all()
    W = model.W.detach()[0]
    assert (W.norm(dim=0) > 0.9).all()
    angles = torch.atan2(W[1], W[0]).sort().values
    gaps = torch.diff(torch.cat([angles, angles[:1] + 2 * torch.pi])) * 180 / torch.pi
    assert torch.allclose(gaps, torch.full((5,), 72.0), atol=4.0)


def test_dense_features_are_not_superposed():
    model = ToyModel(5, 2, feature_probability=1.0, importance=0.7 ** torch.arange(5.0), seed=0)
    train(model, steps=2_000, lr=1e-2, seed=0, progress=False)
    norms = model.W.detach()[0].norm(dim=0)
    # the two most important features are represented, the rest are dropped
    assert (norms[:2] > 0.9).all() and (norms[2:] < 0.2).all()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"n_features": 0, "d_hidden": 2}, "n_features must be an integer >= 1"),
        ({"n_features": 5, "d_hidden": 2, "activation": "gelu"}, 'activation must be "relu" or "linear"'),
        ({"n_features": 5, "d_hidden": 2, "feature_probability": 0.0}, r"feature_probability must lie in \(0, 1\]"),
        ({"n_features": 5, "d_hidden": 2, "importance": torch.ones(3)}, "importance must be a number or broadcastable"),
        ({"n_features": 5, "d_hidden": 2, "importance": -1.0}, "importance must be non-negative"),
    ],
)
def test_bad_arguments_raise_value_errors(kwargs, message):
    with pytest.raises(ValueError, match=message):
        ToyModel(**kwargs)


def test_train_rejects_bad_arguments():
    model = ToyModel(5, 2, seed=0)
    with pytest.raises(ValueError, match="lr must be a positive number"):
        train(model, lr=0)
    with pytest.raises(ValueError, match="steps must be an integer"):
        train(model, steps=0)


def test_forward_names_the_expected_batch_shape():
    model = ToyModel(5, 2, n_instances=3, seed=0)
    with pytest.raises(ValueError, match=r"x must be a tensor of shape \(batch, n_instances, n_features\)"):
        model(torch.rand(8, 5))
    with pytest.raises(ValueError, match="x_hat must be a tensor"):
        model.loss(torch.rand(8, 3, 5), torch.rand(8, 5))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_trains_on_cuda_like_on_the_cpu():
    model = ToyModel(5, 2, n_instances=2, feature_probability=0.03, seed=0, device="cuda")
    assert model.W.device.type == "cuda" and model.feature_probability.device.type == "cuda"
    history = train(model, steps=300, lr=1e-2, seed=0, progress=False)
    assert history.shape == (300, 2) and history[-50:].mean() < history[:50].mean()
