"""Feature distributions (`superpose_lib.features`): each variant's statistics — marginal probabilities, the
values' law, the co-occurrence structure — on CPU and CUDA, seeded; the finite dataset."""

import math

import pytest
import torch

from superpose_lib.features import FixedDataset, SparseFeatures
from superpose_lib.toy_models import ToyModel, _replicated, evaluate, train, train_best_of_seeds

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
N = 200_000


def _within(measured, expected, n, sigmas=5.0):
    """Every measured frequency within `sigmas` binomial standard errors of its expected probability."""
    expected = torch.as_tensor(expected, dtype=torch.float64).expand_as(measured)
    se = (expected * (1 - expected) / n).sqrt().clamp_min(1 / n)
    return bool(((measured.double() - expected).abs() <= sigmas * se).all())


def _draw(features, device, seed=0):
    return features.to(device).sample(N, torch.Generator(device=device).manual_seed(seed)).cpu()


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("correlation", ["independent", "correlated", "anticorrelated"])
def test_every_variant_keeps_each_features_probability_and_value_law(correlation, device):
    p = torch.tensor([[0.3, 0.3, 0.05, 0.05, 0.5, 0.5], [0.1, 0.1, 0.2, 0.2, 0.02, 0.02]])
    x = _draw(SparseFeatures(6, p, n_instances=2, correlation=correlation), device)
    assert x.shape == (2, N, 6)
    on = x > 0
    assert _within(on.double().mean(dim=1), p, N)
    assert ((x >= 0) & (x < 1)).all() and ((x == 0) | on).all()
    values = x[on]  # uniform on [0, 1): mean 1/2, variance 1/12, flat deciles
    assert abs(values.mean().item() - 0.5) < 5 * math.sqrt(1 / 12 / values.numel())
    assert abs(values.var().item() - 1 / 12) < 0.002
    deciles = torch.quantile(values[:100_000], torch.linspace(0.1, 0.9, 9))
    assert torch.allclose(deciles, torch.linspace(0.1, 0.9, 9), atol=0.01)


def _ks_distance(a: torch.Tensor, b: torch.Tensor) -> float:
    """The two-sample Kolmogorov-Smirnov statistic: the largest gap between the empirical distribution functions."""
    both = torch.cat([a, b]).double().sort().values
    cdf_a = torch.searchsorted(a.double().sort().values, both, right=True) / a.numel()
    cdf_b = torch.searchsorted(b.double().sort().values, both, right=True) / b.numel()
    return (cdf_a - cdf_b).abs().max().item()


@pytest.mark.parametrize("probability", [0.05, 0.002])
def test_one_draw_per_entry_has_the_law_of_a_coin_and_a_second_draw(probability):
    # the straightforward sampler (the paper's notebook, benchmarks/bench_toy_models.py's reference) tosses a coin
    # and draws the value separately; ours maps one float32 draw u to max(0, (u − (1 − p)) / p), which keeps fewer
    # bits of a value when p is small. Same presence rate (two-proportion z-test) and the same law of the values
    # (two-sample Kolmogorov-Smirnov, at a significance of 1e-6)
    n, F = 400_000, 10
    one = SparseFeatures(F, probability).sample(n, torch.Generator().manual_seed(0))[0]
    gen = torch.Generator().manual_seed(1)
    coin = torch.rand(n, F, generator=gen) <= probability
    two = torch.where(coin, torch.rand(n, F, generator=gen), torch.zeros(()))
    on_one, on_two = (one > 0).double().mean().item(), coin.double().mean().item()
    assert abs(on_one - on_two) <= 5 * math.sqrt(2 * probability * (1 - probability) / (n * F))
    a, b = one[one > 0], two[coin]
    critical = math.sqrt(-math.log(1e-6 / 2) / 2) * math.sqrt((a.numel() + b.numel()) / (a.numel() * b.numel()))
    assert _ks_distance(a, b) < critical
    assert abs(a.double().mean().item() - b.double().mean().item()) < 5 * math.sqrt(2 / 12 / min(a.numel(), b.numel()))


@pytest.mark.parametrize("device", DEVICES)
def test_independent_features_co_occur_by_chance(device):
    x = _draw(SparseFeatures(4, torch.tensor([0.3, 0.5, 0.2, 0.4])), device)[0] > 0
    both = (x[:, 0] & x[:, 1]).double().mean()
    assert _within(both.reshape(1), 0.3 * 0.5, N)
    corr = torch.corrcoef(x.T.double())
    assert (corr - torch.eye(4)).abs().max() < 0.02


@pytest.mark.parametrize("device", DEVICES)
def test_correlated_sets_appear_together_and_sets_are_independent(device):
    p = torch.tensor([0.2, 0.2, 0.2, 0.1, 0.1, 0.1])
    x = _draw(SparseFeatures(6, p, correlation="correlated", set_size=3), device)[0]
    on = x > 0
    assert torch.equal(on[:, 0], on[:, 1]) and torch.equal(on[:, 0], on[:, 2]) and torch.equal(on[:, 3], on[:, 5])
    assert _within((on[:, 0] & on[:, 3]).double().mean().reshape(1), 0.2 * 0.1, N)  # across sets: by chance
    both = on[:, 0] & on[:, 1]
    values = x[both][:, :2]  # the values of a set are still independent of each other
    assert abs(torch.corrcoef(values.T.double())[0, 1].item()) < 0.02


@pytest.mark.parametrize("device", DEVICES)
def test_anticorrelated_sets_have_at_most_one_feature_on(device):
    p = torch.tensor([0.1, 0.3, 0.2, 0.25, 0.25, 0.4])
    x = _draw(SparseFeatures(6, p, correlation="anticorrelated", set_size=3), device)[0]
    on = x > 0
    per_set = on.view(N, 2, 3).sum(dim=2)
    assert (per_set <= 1).all()
    assert _within((per_set == 0).double().mean(dim=0), torch.tensor([0.4, 0.1]), N)  # none: 1 − Σ p
    assert _within((on[:, 1] & on[:, 4]).double().mean().reshape(1), 0.3 * 0.25, N)  # across sets: by chance


def test_anticorrelated_sets_never_have_two_features_on_even_at_the_interval_edges(monkeypatch):
    # one uniform draw per set picks the feature: draws within 64 float32 steps of every edge between two
    # features' intervals, for 200 sets of random probabilities, must still turn on at most one feature
    gen = torch.Generator().manual_seed(0)
    p = torch.rand(200, 3, generator=gen)
    p = (p / p.sum(dim=1, keepdim=True) * torch.rand(200, 1, generator=gen)).reshape(1, 600)
    features = SparseFeatures(600, p, correlation="anticorrelated", set_size=3)
    edges = p.view(200, 3).cumsum(dim=1)[:, :2].double()  # (sets, 2): the interior edges, as float32 sums
    steps = torch.arange(-64, 64, dtype=torch.float64) / 2**24
    u = (edges.T.unsqueeze(1) + steps.view(1, -1, 1)).reshape(256, 200)  # (draws, sets)
    u = ((u * 2**24).round() / 2**24).float()  # on torch.rand's grid
    rand = torch.rand

    def edge_draws(size, **kwargs):
        return u.view(1, 256, 200, 1).clone() if tuple(size) == (1, 256, 200, 1) else rand(size, **kwargs)

    monkeypatch.setattr(torch, "rand", edge_draws)
    on = features.sample(256)[0] > 0  # (draws, features)
    assert (on.view(256, 200, 3).sum(dim=2) <= 1).all()


@pytest.mark.parametrize(
    "change",
    ["in place", "assign the buffer", "assign .data", "write through .data", "load_state_dict", "to float64"],
)
def test_sampling_follows_the_probabilities_after_they_change(change):
    features = SparseFeatures(4, 0.5)
    features.sample(10, torch.Generator().manual_seed(0))  # a first draw, as in training
    new = torch.full((1, 4), 0.05)
    if change == "in place":
        with torch.no_grad():
            features.probability.copy_(new)
    elif change == "assign the buffer":
        features.probability = new
    elif change == "assign .data":
        features.probability.data = new
    elif change == "write through .data":
        features.probability.data.copy_(new)
    elif change == "load_state_dict":
        features.load_state_dict({"probability": new})
    else:
        features.probability.data.copy_(new)
        features.double()
    x = features.sample(N, torch.Generator().manual_seed(1))
    assert _within((x > 0).double().mean(dim=1), 0.05, N)


def test_values_on_minus_one_to_one_are_symmetric():
    x = _draw(SparseFeatures(3, 0.5, low=-1.0), "cpu")
    values = x[x != 0]
    assert values.min() >= -1 and values.max() < 1
    assert abs(values.mean().item()) < 0.01 and abs(values.abs().mean().item() - 0.5) < 0.01
    assert _within((x != 0).double().mean(dim=1), 0.5, N)


@pytest.mark.parametrize("correlation", ["independent", "correlated", "anticorrelated"])
def test_sampling_is_seeded(correlation):
    features = SparseFeatures(4, 0.2, n_instances=3, correlation=correlation)
    a = features.sample(100, torch.Generator().manual_seed(7))
    b = features.sample(100, torch.Generator().manual_seed(7))
    c = features.sample(100, torch.Generator().manual_seed(8))
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_a_fixed_dataset_is_drawn_once_and_batches_come_from_it():
    features = SparseFeatures(5, 0.3, n_instances=2)
    data = FixedDataset.draw(features, 20, seed=3)
    assert torch.equal(data.x, FixedDataset.draw(features, 20, seed=3).x)
    assert torch.equal(data.sample(20), data.x) and torch.equal(data.sample(64), data.x)  # full batch
    batch = data.sample(8, torch.Generator().manual_seed(0))
    rows = {tuple(r) for r in data.x[0].tolist()}
    assert batch.shape == (2, 8, 5) and all(tuple(r) in rows for r in batch[0].tolist())


def test_a_toy_model_memorises_a_small_fixed_dataset():
    # fewer samples than it has room for: training loss far below the loss on fresh samples
    model = ToyModel(10, 3, feature_probability=0.1, seed=0)
    data = FixedDataset.draw(model.data, 4, seed=0)
    history = train(model, steps=1_500, batch_size=4, lr=1e-2, seed=0, data=data, progress=False)
    assert history[-1].item() < 0.2 * evaluate(model, 20_000, seed=1).item()
    with pytest.raises(ValueError, match="data must have a sample"):
        train(model, steps=2, data=FixedDataset.draw(ToyModel(9, 3).data, 4, seed=0), progress=False)


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        (dict(probability=0.0), "probability"),
        (dict(probability=torch.ones(5)), "probability"),
        (dict(low=1.0), "low"),
        (dict(correlation="sometimes"), "correlation"),
        (dict(correlation="correlated", set_size=4), "set_size"),
        (dict(correlation="correlated", probability=torch.tensor([0.1, 0.2, 0.1, 0.1, 0.1, 0.1])), "equal within"),
        (dict(correlation="anticorrelated", set_size=3, probability=0.5), "sum to at most 1"),
    ],
)
def test_bad_arguments_name_themselves(kwargs, name):
    with pytest.raises(ValueError, match=name):
        SparseFeatures(6, **kwargs)


@pytest.mark.parametrize("correlation", ["independent", "correlated", "anticorrelated"])
def test_sampling_into_a_buffer_gives_the_same_batch(correlation):
    features = SparseFeatures(4, 0.2, n_instances=3, correlation=correlation, low=-1.0)
    fresh = features.sample(50, torch.Generator().manual_seed(3))
    buffer = torch.full((3, 50, 4), 7.0)
    assert features.sample(50, torch.Generator().manual_seed(3), out=buffer) is buffer
    assert torch.equal(buffer, fresh)
    with pytest.raises(ValueError, match="out must be"):
        features.sample(49, out=buffer)


class _PaperLayout:
    """A data source that returns (batch, n_instances, n_features), the models' public layout, not the engine's."""

    n_instances, n_features = 2, 5

    def sample(self, n, generator=None):
        return torch.rand(n, 2, 5, generator=generator)


@pytest.mark.parametrize(
    "data",
    [FixedDataset(torch.rand(2, 10, 5, dtype=torch.float64)), _PaperLayout()],
    ids=["float64 dataset", "batch-major samples"],
)
def test_train_names_data_whose_batches_do_not_fit_the_model(data):
    model = ToyModel(5, 2, n_instances=2, feature_probability=0.3, seed=0)
    with pytest.raises(ValueError, match=r"data\.sample"):
        train(model, steps=3, batch_size=4, seed=0, data=data, progress=False)


def test_best_of_seeds_trains_its_copies_on_the_models_own_distribution():
    model = ToyModel(6, 2, 2, torch.tensor([[0.1], [0.3]]), correlation="anticorrelated", set_size=3, seed=0)
    big = _replicated(model, 3, torch.Generator().manual_seed(0))  # what train_best_of_seeds trains
    assert (big.data.correlation, big.data.set_size, big.data.n_instances) == ("anticorrelated", 3, 6)
    assert torch.equal(big.data.probability, model.data.probability.repeat_interleave(3, dim=0))
    on = big.data.sample(N, torch.Generator().manual_seed(0)) > 0  # (6, N, 6)
    assert (on.view(6, N, 2, 3).sum(dim=3) <= 1).all()
    assert _within(on.double().mean(dim=1), big.data.probability, N)
    history = train_best_of_seeds(model, 3, 30, 64, 1e-2, seed=0, progress=False)
    assert history.shape == (30, 2) and torch.isfinite(history).all()


def test_sample_names_a_bad_size_generator_or_buffer():
    features = SparseFeatures(4, 0.3, n_instances=2)
    gen = torch.Generator().manual_seed(0)
    out = torch.empty(2, 8, 4)
    assert features.sample(8, gen, out=out) is out
    with pytest.raises(ValueError, match="n must be an integer >= 1, got 0"):
        features.sample(0)
    with pytest.raises(ValueError, match="generator must be a torch.Generator, got int"):
        features.sample(8, 0)
    with pytest.raises(ValueError, match=r"out must be a contiguous torch.float32 tensor of shape \(2, 8, 4\)"):
        features.sample(8, gen, out=torch.empty(2, 4, 8).transpose(1, 2))
    with pytest.raises(ValueError, match="n is too large: the call would need about"):
        features.sample(10**13)
    data = FixedDataset(features.sample(10, gen))
    with pytest.raises(ValueError, match="generator must be a torch.Generator"):
        data.sample(3, "seed")
    with pytest.raises(ValueError, match="n_samples is too large"):
        FixedDataset.draw(features, 10**13)
