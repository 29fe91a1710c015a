"""The toy model of chapter 00 (Elhage et al. 2022): shapes, data, loss, and the pentagon it learns."""

import math

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
        ({"n_features": 5, "d_hidden": 2, "activation": "gelu"}, "activation must be one of 'relu', 'linear'"),
        ({"n_features": 5, "d_hidden": 2, "feature_probability": 0.0}, r"feature_probability must lie in \(0, 1\]"),
        ({"n_features": 5, "d_hidden": 2, "importance": torch.ones(3)}, "importance must be a number or broadcastable"),
        ({"n_features": 5, "d_hidden": 2, "importance": -1.0}, "importance must be >= 0 everywhere"),
    ],
)
def test_bad_arguments_raise_value_errors(kwargs, message):
    with pytest.raises(ValueError, match=message):
        ToyModel(**kwargs)


def test_train_rejects_bad_arguments():
    model = ToyModel(5, 2, seed=0)
    with pytest.raises(ValueError, match="lr must be a finite number > 0"):
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


# ---- the fast engine: hand-derived gradients, schedules, best of seeds, the paper's other models ----------

from superpose_lib.metrics import n_represented  # noqa: E402
from superpose_lib.toy_models import (  # noqa: E402
    AbsoluteValueModel,
    PrivilegedBasisModel,
    evaluate,
    phase_losses_2in1,
    train_best_of_seeds,
)

VARIANTS = [
    (ToyModel, {}),
    (ToyModel, {"activation": "linear"}),
    (PrivilegedBasisModel, {}),
    (AbsoluteValueModel, {}),
]


def _perturbed(cls, kwargs, device="cpu"):
    probability = torch.tensor([[1.0], [0.5], [0.1], [0.9]])
    model = cls(7, 3, 4, probability, 0.8 ** torch.arange(7.0), seed=0, device=device, **kwargs)
    with torch.no_grad():
        for param in model.parameters():
            param.add_(0.1 * torch.randn(param.shape, generator=torch.Generator().manual_seed(3)).to(device))
    return model


def test_absolute_value_batches_are_symmetric_and_sparse():
    model = AbsoluteValueModel(40, 6, 2, feature_probability=torch.tensor([[1.0], [0.2]]), seed=0)
    x = model.generate_batch(5_000, generator=torch.Generator().manual_seed(0))
    assert x.min() >= -1 and x.max() <= 1
    assert (x != 0).float().mean(dim=(0, 2)).tolist() == pytest.approx([1.0, 0.2], abs=0.01)
    present = x[:, 0][x[:, 0] != 0]
    assert present.mean().item() == pytest.approx(0.0, abs=0.02)
    assert present.abs().mean().item() == pytest.approx(0.5, abs=0.01)
    assert torch.equal(model.target(x), x.abs())


def test_cosine_schedule_and_arguments():
    model = ToyModel(5, 2, seed=0)
    history = train(model, steps=50, lr=1e-2, schedule="cosine", warmup=5, seed=0, progress=False)
    assert history.shape == (50, 1) and torch.isfinite(history).all()
    with pytest.raises(ValueError, match="schedule must be one of 'constant', 'cosine'"):
        train(model, steps=5, schedule="linear")
    with pytest.raises(ValueError, match="model must be a ToyModel"):
        train(torch.nn.Linear(2, 2), steps=5)


def test_best_of_seeds_keeps_the_lowest_loss_copy():
    model = ToyModel(5, 2, n_instances=2, feature_probability=torch.tensor([[0.05], [0.5]]), seed=0)
    history = train_best_of_seeds(model, n_seeds=4, steps=300, lr=1e-2, seed=0, progress=False)
    assert history.shape == (300, 2)
    # the winner is no worse than a single run with the same budget, on the same held-out samples
    single = ToyModel(5, 2, n_instances=2, feature_probability=torch.tensor([[0.05], [0.5]]), seed=0)
    train(single, steps=300, lr=1e-2, seed=0, progress=False)
    best, plain = evaluate(model, 50_000, seed=9), evaluate(single, 50_000, seed=9)
    assert (best <= plain * 1.02).all()


def test_evaluate_is_the_mean_loss_on_fresh_samples():
    model = ToyModel(5, 2, n_instances=3, seed=0)
    losses = evaluate(model, 10_000, batch_size=3_000, seed=0)
    assert losses.shape == (3,)
    x = model.generate_batch(20_000, generator=torch.Generator().manual_seed(1))
    assert torch.allclose(losses, model.loss(x, model(x), per_instance=True).detach(), rtol=0.05)


def test_phase_losses_match_monte_carlo():
    # each candidate's closed-form loss against a direct estimate on samples
    r, p = 0.6, 0.3
    model = ToyModel(2, 1, n_instances=3, feature_probability=p, importance=torch.tensor([1.0, r]), seed=0)
    with torch.no_grad():
        model.W.copy_(torch.tensor([[[1.0, 0.0]], [[0.0, 1.0]], [[1.0, -1.0]]]))
        mean = p / 2
        model.b.copy_(torch.tensor([[0.0, mean], [mean, 0.0], [0.0, 0.0]]))
    x = model.generate_batch(400_000, generator=torch.Generator().manual_seed(0))
    measured = 2 * model.loss(x, model(x), per_instance=True).detach()  # summed over the 2 features
    assert torch.allclose(measured, phase_losses_2in1(r, p), rtol=0.03)
    with pytest.raises(ValueError, match="density must lie in"):
        phase_losses_2in1(1.0, 0.0)


def test_five_features_in_two_dims_go_from_two_to_five_as_density_falls():
    # Elhage et al. 2022, importance 0.9^i: dense → the top two features, orthogonal; sparse → all five.
    density = torch.tensor([[1.0], [0.03]])
    model = ToyModel(5, 2, 2, feature_probability=density, importance=0.9 ** torch.arange(5.0), seed=0)
    train_best_of_seeds(model, n_seeds=3, steps=2_000, lr=1e-2, schedule="cosine", seed=0, progress=False)
    W = model.W.detach()
    assert n_represented(W).tolist() == [2, 5]
    dense = W[0][:, :2]
    assert abs((dense[:, 0] @ dense[:, 1]).item()) < 0.05


def test_linear_model_represents_exactly_the_top_features():
    importance = 0.7 ** torch.arange(20.0)
    density = torch.tensor([[1.0], [0.01]])
    model = ToyModel(20, 5, 2, feature_probability=density, importance=importance, activation="linear", seed=0)
    train(model, steps=2_000, lr=1e-2, schedule="cosine", seed=0, progress=False)
    norms = model.W.detach().norm(dim=1)  # (instances, features)
    assert (norms[:, :5] > 0.9).all() and (norms[:, 5:] < 0.1).all()


def test_privileged_basis_neurons_are_monosemantic_when_dense_and_polysemantic_when_sparse():
    density = torch.tensor([[1.0], [0.01]])
    model = PrivilegedBasisModel(10, 5, 2, density, 0.75 ** torch.arange(10.0), seed=0)
    train(model, steps=4_000, batch_size=512, lr=2e-2, schedule="cosine", seed=0, progress=False)
    features_per_neuron = (model.W.detach().abs() > 0.3).sum(dim=2)  # (instances, neurons)
    assert features_per_neuron[0].float().mean() <= 1.5
    assert features_per_neuron[1].float().mean() >= 3


def test_absolute_value_model_uses_one_neuron_per_sign_per_feature():
    model = AbsoluteValueModel(3, 6, feature_probability=1.0, seed=0)
    train(model, steps=2_000, batch_size=512, lr=1e-2, schedule="cosine", seed=0, progress=False)
    W1 = model.W1.detach()[0]  # (neurons, features)
    owner = W1.abs().argmax(dim=1)
    signs = torch.sign(W1[torch.arange(6), owner])
    assert sorted(zip(owner.tolist(), signs.tolist())) == [(f, s) for f in range(3) for s in (-1.0, 1.0)]
    assert evaluate(model, 10_000, seed=0).item() < 1e-3


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize(("cls", "kwargs"), VARIANTS, ids=lambda v: getattr(v, "__name__", str(v)))
def test_best_of_seeds_trains_on_cuda(cls, kwargs):
    model = _perturbed(cls, kwargs, device="cuda")
    history = train_best_of_seeds(model, n_seeds=2, steps=50, lr=1e-2, seed=0, progress=False)
    assert history.shape == (50, 4) and model.W.device.type == "cuda"


def test_best_of_seeds_scores_the_copies_of_an_instance_on_the_same_samples():
    from superpose_lib.toy_models import _copies_loss, _replicated

    model = ToyModel(6, 2, n_instances=2, feature_probability=torch.tensor([[0.05], [0.3]]), seed=0)
    big = _replicated(model, 3, torch.Generator().manual_seed(0))
    with torch.no_grad():  # identical copies: the same samples must give them exactly the same loss
        big.W.copy_(big.W[::3].repeat_interleave(3, dim=0))
    losses = _copies_loss(big, model, 3, 5_000, torch.Generator().manual_seed(1))
    assert losses.shape == (2, 3) and (losses == losses[:, :1]).all()
    assert not torch.equal(losses[0], losses[1])


@pytest.mark.parametrize("cls", [ToyModel, AbsoluteValueModel])
def test_every_step_of_the_model_names_a_bad_batch(cls):
    """hidden, readout, target, forward and loss refuse another dtype, a wrong shape, NaN and an empty loss by name
    (hidden had no check: torch's einsum failed deep inside), and agree with each other on a good batch."""
    model = cls(4, 3, n_instances=2, seed=0)
    x = model.generate_batch(8, generator=torch.Generator().manual_seed(0))
    h = model.hidden(x)
    assert torch.equal(model.readout(h), model(x))
    assert torch.equal(model.loss(x, model(x), per_instance=True).sum(), model.loss(x, model(x)))
    with pytest.raises(ValueError, match=r"x must hold the model's dtype torch.float32, got torch.float64"):
        model.hidden(x.double())
    with pytest.raises(ValueError, match=r"x must be a tensor of shape \(batch, n_instances, n_features\) = "):
        model.hidden(x[..., :3])
    with pytest.raises(
        ValueError, match=r"h must be a tensor of shape \(batch, n_instances, d_hidden\) = \(batch, 2, 3\), got"
    ):
        model.readout(x)
    with pytest.raises(ValueError, match=r"x must be a tensor of shape"):
        model.target(x[0])
    nan = x.clone()
    nan[0, 0, 0] = math.nan
    for method, args in (("hidden", (nan,)), ("forward", (nan,)), ("target", (nan,)), ("loss", (nan, x))):
        with pytest.raises(ValueError, match="x must be finite"):
            getattr(model, method)(*args)
    with pytest.raises(ValueError, match="x_hat must be finite"):
        model.loss(x, nan)
    with pytest.raises(ValueError, match="x must hold at least one sample"):
        model.loss(x[:0], x[:0])


def test_reset_parameters_is_seeded_and_names_a_bad_generator():
    model = AbsoluteValueModel(4, 3, seed=0)
    first = [p.clone() for p in model.parameters()]
    model.reset_parameters(torch.Generator().manual_seed(0))
    assert all(torch.equal(a, b) for a, b in zip(first, model.parameters(), strict=True))
    with pytest.raises(ValueError, match="generator must be a torch.Generator, got int"):
        model.reset_parameters(0)
