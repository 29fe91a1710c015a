"""Interference: the readout's algebra, the exact expected error against Monte Carlo, the ReLU bias trade-off,
and the closed-form losses of the dedicated and antipodal arrangements against simulation."""

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from superpose_lib.geometry import random_unit_vectors
from superpose_lib.interference import (
    antipodal_arrangement,
    antipodal_loss,
    bias_tradeoff,
    crossover_density,
    dedicated_arrangement,
    dedicated_loss,
    expected_loss,
    expected_readout_error,
    interference,
    neuron_weights,
    readout,
    sparse_features,
)

seeds = st.integers(min_value=0, max_value=2**31 - 1)


@given(k=st.integers(1, 12), n=st.integers(1, 8), seed=seeds)
@settings(max_examples=40, deadline=None)
def test_readout_is_true_activation_plus_interference_for_unit_columns(k, n, seed):
    W = random_unit_vectors(k, n, seed=seed).T.double()  # (n, k)
    W = W / W.norm(dim=0)  # unit length in float64 too: float32's rounding alone would leave ~1e-7
    x = sparse_features(5, k, 0.5, seed=seed).double()
    assert torch.allclose(readout(W, x), x + interference(W, x), atol=1e-10)


@given(n=st.integers(1, 8), data=st.data(), seed=seeds)
@settings(max_examples=40, deadline=None)
def test_a_neuron_reads_exactly_its_coefficients_from_independent_directions(n, data, seed):
    k = data.draw(st.integers(1, n))
    gen = torch.Generator().manual_seed(seed)
    W = torch.randn(n, k, generator=gen, dtype=torch.float64)  # skewed, of any length; independent almost surely
    c = torch.randn(k, generator=gen, dtype=torch.float64)
    v = neuron_weights(W, c)
    assert torch.allclose(W.T @ v, c, atol=1e-8)  # v·wᵢ = cᵢ
    assert torch.allclose(v, W @ torch.linalg.solve(W.T @ W, c), atol=1e-8)  # the minimum-norm form W (WᵀW)⁻¹ c


@given(n=st.integers(1, 6), extra=st.integers(1, 6), seed=seeds)
@settings(max_examples=40, deadline=None)
def test_with_more_features_than_dimensions_the_neuron_is_the_least_squares_fit(n, extra, seed):
    gen = torch.Generator().manual_seed(seed)
    W = torch.randn(n, n + extra, generator=gen, dtype=torch.float64)
    c = torch.randn(n + extra, generator=gen, dtype=torch.float64)
    v = neuron_weights(W, c)
    assert torch.allclose(W @ (W.T @ v - c), torch.zeros(n, dtype=torch.float64), atol=1e-8)  # normal equations


def test_neuron_weights_names_a_mismatched_coefficient_count():
    with pytest.raises(ValueError, match="coefficients must have one entry per feature"):
        neuron_weights(torch.eye(3), torch.ones(2))


def test_orthonormal_features_read_back_exactly():
    x = sparse_features(10, 4, 0.7, seed=0)
    assert torch.allclose(readout(torch.eye(4), x), x)
    assert torch.equal(interference(torch.eye(4), x), torch.zeros(10, 4))


def test_sparse_features_have_the_right_density_and_range():
    x = sparse_features(20_000, 10, 0.2, seed=0)
    assert (x > 0).float().mean().item() == pytest.approx(0.2, abs=0.01)
    assert x.min() >= 0 and x.max() <= 1
    assert (x[x > 0].mean().item()) == pytest.approx(0.5, abs=0.01)
    assert torch.equal(x, sparse_features(20_000, 10, 0.2, seed=0))


@pytest.mark.parametrize("p", [1.0, 0.3, 0.05])
def test_expected_readout_error_matches_monte_carlo(p):
    gen = torch.Generator().manual_seed(1)
    W = torch.randn(6, 15, generator=gen, dtype=torch.float64) / 3  # not unit columns: the diagonal term counts
    x = sparse_features(200_000, 15, p, generator=gen).double()
    measured = ((readout(W, x) - x) ** 2).mean(dim=0)
    assert torch.allclose(measured, expected_readout_error(W, p), rtol=0.05)


def test_expected_readout_error_of_random_directions_is_p_k_over_3n():
    n, k, p = 64, 512, 0.1
    W = random_unit_vectors(k, n, seed=0).T
    assert expected_readout_error(W, p).mean().item() == pytest.approx(p / 3 * (k - 1) / n, rel=0.05)


def test_relu_bias_trades_false_activations_for_shrinkage():
    W = random_unit_vectors(256, 64, seed=0).T.double()
    x = sparse_features(4_000, 256, 0.01, seed=1).double()
    biases = [0.0, -0.1, -0.2, -0.3, -0.4]
    table = bias_tradeoff(W, x, biases)
    active, inactive = table[:, 0], table[:, 1]
    assert (active.diff() > 0).all() and (inactive.diff() < 0).all()
    total = table.sum(dim=1)
    linear = ((readout(W, x) - x) ** 2).sum(dim=1).mean()
    assert total[0] < 0.6 * linear  # the ReLU alone removes the negative interference
    assert total.min() < 0.5 * total[0]  # a negative bias removes much of the positive
    relu = ((readout(W, x, -0.2, "relu") - x) ** 2).sum(dim=1).mean()
    assert total[2].item() == pytest.approx(relu.item())


@pytest.mark.parametrize("p", [1.0, 0.4, 0.1, 0.02])
def test_closed_form_losses_match_simulation(p):
    importance = 0.9 ** torch.arange(12.0)
    W, b = dedicated_arrangement(12, 4, p)
    assert expected_loss(W, b, p, importance, seed=0) == pytest.approx(dedicated_loss(importance, 4, p), rel=0.03)
    W, b = antipodal_arrangement(12, 4, p)
    assert expected_loss(W, b, p, importance, seed=0) == pytest.approx(antipodal_loss(importance, 4, p), rel=0.03)


def test_arrangements_have_the_promised_geometry():
    W, b = antipodal_arrangement(7, 3, 0.2)
    assert W.shape == (3, 7) and b.shape == (7,)
    assert torch.equal(
        W.T @ W * (1 - torch.eye(7, dtype=torch.float64)) != 0,
        torch.tensor([[i != j and i // 2 == j // 2 and max(i, j) < 6 for j in range(7)] for i in range(7)]),
    )
    assert b[6].item() == pytest.approx(0.1) and b[:6].abs().sum() == 0
    W, b = dedicated_arrangement(5, 2, 0.4)
    assert torch.equal(W @ W.T, torch.eye(2, dtype=torch.float64)) and b.tolist() == [0, 0, 0.2, 0.2, 0.2]


@given(decay=st.floats(0.5, 1.0), n=st.integers(1, 6))
@settings(max_examples=40, deadline=None)
def test_superposition_wins_exactly_below_the_crossover_density(decay, n):
    importance = decay ** torch.arange(3.0 * n)
    p_star = crossover_density(importance, n)
    assert 0 < p_star < 1
    below, above = 0.9 * p_star, min(1.1 * p_star, 1.0)
    assert antipodal_loss(importance, n, below) < dedicated_loss(importance, n, below)
    if above < 1.0 or p_star < 0.9:
        assert antipodal_loss(importance, n, above) > dedicated_loss(importance, n, above)
    assert antipodal_loss(importance, n, p_star) == pytest.approx(dedicated_loss(importance, n, p_star), rel=1e-9)


def test_equal_importance_crossover_is_four_sevenths():
    assert crossover_density(torch.ones(8), 4) == pytest.approx(4 / 7)
    assert crossover_density(torch.ones(3), 3) == 0.0


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: sparse_features(10, 3, 0.0), r"feature_probability must be a number in \(0, 1\]"),
        (lambda: readout(torch.eye(3), torch.ones(2)), "one entry per feature"),
        (lambda: readout(torch.eye(2), torch.ones(2), activation="tanh"), "activation must be"),
        (lambda: readout(torch.ones(3), torch.ones(3)), "W must have 2 dimensions"),
        (lambda: expected_loss(torch.eye(2), torch.zeros(2), 0.5, torch.ones(3)), "one entry per feature"),
        (lambda: dedicated_loss(-torch.ones(3), 1, 0.5), "importance must be non-negative"),
        (lambda: antipodal_arrangement(4, 0, 0.5), "n must be an integer >= 1"),
    ],
)
def test_bad_arguments_raise_value_errors_naming_the_argument(call, message):
    with pytest.raises(ValueError, match=message):
        call()
