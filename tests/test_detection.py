"""Superposition detection: statistics pinned on exact geometries, a seeded null, exact p-values, counts."""

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from superpose_lib import detection, geometry, metrics
from superpose_lib.toy_models import PrivilegedBasisModel, ToyModel, evaluate, train


def _polygon(k):
    angles = 2 * math.pi * torch.arange(k, dtype=torch.float64) / k
    return torch.stack([angles.cos(), angles.sin()])  # (2, k)


# --- interference_statistic ------------------------------------------------------------------------------------


@pytest.mark.parametrize("k", [3, 5, 7])
def test_a_regular_polygon_sits_on_the_frame_floor(k):
    # A regular k-gon in the plane is a tight frame: mean Σ_{j≠i} cos² = k/d − 1 exactly.
    value = detection.interference_statistic(_polygon(k)).item()
    assert value == pytest.approx(k / 2 - 1, abs=1e-12)


def test_orthonormal_features_have_no_interference_by_every_statistic():
    for statistic in detection.STATISTICS:
        assert detection.interference_statistic(torch.eye(4), statistic).item() == 0.0


def test_antipodal_pairs_have_coherence_one():
    W = torch.tensor([[1.0, -1.0, 0.0, 0.0], [0.0, 0.0, 1.0, -1.0]])
    assert detection.interference_statistic(W, "max_abs_cos").item() == 1.0
    assert detection.interference_statistic(W, "mean_superposition").item() == 1.0
    assert detection.interference_statistic(W, "mean_abs_cos").item() == pytest.approx(4 / 12)  # 4 of 12 pairs


def test_statistic_ignores_dropped_features_and_lengths():
    pair = torch.tensor([[1.0, -1.0]])
    with_dropped = torch.tensor([[2.0, -0.7, 0.1]])  # lengths vary; the third column is below the threshold
    for statistic in detection.STATISTICS:
        assert detection.interference_statistic(with_dropped, statistic).item() == pytest.approx(
            detection.interference_statistic(pair, statistic).item()
        )


def test_statistic_is_computed_per_instance_and_is_nan_without_a_pair():
    W = torch.stack([torch.eye(2), torch.tensor([[1.0, 0.0], [0.0, 0.1]])])  # second: one represented feature
    values = detection.interference_statistic(W)
    assert values.shape == (2,) and values[0] == 0 and torch.isnan(values[1])


def test_mean_superposition_agrees_with_metrics_on_unit_columns():
    V = geometry.random_unit_vectors(12, 5, seed=3).T.double()
    V = V / V.norm(dim=0)  # (5, 12) unit columns in float64
    expected = metrics.superposition(V).mean().item()
    assert detection.interference_statistic(V).item() == pytest.approx(expected, rel=1e-12)


@settings(max_examples=30, deadline=None)
@given(k=st.integers(2, 12), d=st.integers(1, 8), seed=st.integers(0, 10_000))
def test_no_arrangement_beats_the_frame_floor(k, d, seed):
    # Σ_{i,j} cos² ≥ k²/d for any k unit vectors in R^d, so the mean interference is at least k/d − 1.
    V = geometry.random_unit_vectors(k, d, seed=seed).T.double()
    value = detection.interference_statistic(V, threshold=0.0).item()
    assert value >= k / d - 1 - 1e-9
    assert 0 <= detection.interference_statistic(V, "mean_abs_cos", threshold=0.0).item() <= 1 + 1e-12


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 10_000))
def test_statistics_are_rotation_invariant(seed):
    V = geometry.random_unit_vectors(9, 4, seed=seed).T.double()
    R = geometry.random_rotation(4, seed=seed + 1).double()
    for statistic in detection.STATISTICS:
        a = detection.interference_statistic(V, statistic, threshold=0.0)
        b = detection.interference_statistic(R @ V, statistic, threshold=0.0)
        assert a.item() == pytest.approx(b.item(), abs=1e-6)  # the rotation is orthogonal to float32 precision


def test_interference_statistic_rejects_bad_arguments():
    with pytest.raises(ValueError, match="statistic must be one of"):
        detection.interference_statistic(torch.eye(2), "kurtosis")
    with pytest.raises(ValueError, match="W must have at least 2 dimensions"):
        detection.interference_statistic(torch.ones(3))
    with pytest.raises(ValueError, match="threshold must be a finite number >= 0"):
        detection.interference_statistic(torch.eye(2), threshold=-1)


# --- null_distribution -----------------------------------------------------------------------------------------


def test_null_distribution_is_seeded():
    a = detection.null_distribution(10, 4, n_samples=50, seed=1)
    b = detection.null_distribution(10, 4, n_samples=50, generator=torch.Generator().manual_seed(1))
    c = detection.null_distribution(10, 4, n_samples=50, seed=2)
    assert a.shape == (50,) and torch.equal(a, b) and not torch.equal(a, c)


@pytest.mark.parametrize("k, d", [(20, 10), (8, 3), (30, 30)])
def test_null_mean_of_mean_superposition_is_k_minus_one_over_d(k, d):
    # E[cos²] = 1/d for independent uniform unit vectors, so E[Σ_{j≠i} cos²] = (k − 1)/d.
    null = detection.null_distribution(k, d, n_samples=4_000, seed=0)
    standard_error = null.std().item() / math.sqrt(null.numel())
    assert abs(null.mean().item() - (k - 1) / d) < 5 * standard_error


def test_null_max_abs_cos_is_the_coherence_of_random_vectors():
    null = detection.null_distribution(6, 3, "max_abs_cos", n_samples=20, seed=0)
    V = geometry.random_unit_vectors(20 * 6, 3, seed=0).view(20, 6, 3)
    torch.testing.assert_close(null, geometry.coherence(V))


def test_null_distribution_rejects_bad_arguments():
    with pytest.raises(ValueError, match="n_features must be an integer >= 2"):
        detection.null_distribution(1, 3)
    with pytest.raises(ValueError, match="n_samples"):
        detection.null_distribution(4, 3, n_samples=0)
    with pytest.raises(ValueError, match="statistic must be one of"):
        detection.null_distribution(4, 3, "median")
    with pytest.raises(ValueError, match="either seed or generator"):
        detection.null_distribution(4, 3, seed=0, generator=torch.Generator())


# --- p_value and z_score ---------------------------------------------------------------------------------------


def test_p_value_counts_the_observation_among_the_draws():
    null = torch.arange(1.0, 100.0)  # 1, 2, ..., 99
    assert detection.p_value(99.5, null, "greater") == pytest.approx(1 / 100)  # the smallest possible
    assert detection.p_value(90.0, null, "greater") == pytest.approx(11 / 100)  # 90..99 are ≥ 90
    assert detection.p_value(0.0, null, "less") == pytest.approx(1 / 100)
    assert detection.p_value(0.0, null, "two-sided") == pytest.approx(2 / 100)
    assert detection.p_value(50.0, null, "two-sided") == 1.0
    assert detection.p_value(torch.tensor(99.5), null, "greater") == pytest.approx(1 / 100)


def test_p_value_is_uniform_under_the_null():
    # An exact test: drawn from the null itself, P(p ≤ α) ≈ α (here α = 0.1, 0.3).
    gen = torch.Generator().manual_seed(0)
    draws = torch.rand(400, 100, generator=gen)
    ps = torch.tensor([detection.p_value(row[0], row[1:], "greater") for row in draws])
    assert abs((ps <= 0.1).float().mean().item() - 0.1) < 0.05
    assert abs((ps <= 0.3).float().mean().item() - 0.3) < 0.07


def test_z_score_of_a_known_case():
    null = torch.tensor([1.0, 2.0, 3.0])
    assert detection.z_score(4.0, null) == pytest.approx(2.0)
    assert detection.z_score(0.0, null) == pytest.approx(-2.0)
    assert detection.z_score(1.0, torch.ones(5)) == 0.0
    assert detection.z_score(0.5, torch.ones(5)) == -math.inf


def test_p_value_and_z_score_reject_bad_arguments():
    with pytest.raises(ValueError, match="alternative must be"):
        detection.p_value(1.0, torch.ones(3), "bigger")
    with pytest.raises(ValueError, match="null must have 1 dimensions"):
        detection.p_value(1.0, torch.ones(3, 2))
    with pytest.raises(ValueError, match="null contains NaN"):
        detection.p_value(1.0, torch.tensor([1.0, math.nan]))
    with pytest.raises(ValueError, match="observed must be a single number"):
        detection.z_score(torch.ones(2), torch.ones(3))
    with pytest.raises(ValueError, match="observed must be a finite number"):
        detection.z_score(math.nan, torch.ones(3))


# --- random_directions_test ------------------------------------------------------------------------------------


def test_a_tight_packing_has_less_interference_than_chance():
    result = detection.random_directions_test(_polygon(7).float(), alternative="less", n_null=300, seed=0)
    assert result.n_represented == 7 and result.d_hidden == 2
    assert result.observed == pytest.approx(2.5, abs=1e-5) and result.floor == pytest.approx(2.5)
    assert result.null_mean == pytest.approx(3.0, abs=0.15)  # (k − 1)/d
    assert result.z_score < 0 and result.p_value < 0.05


def test_random_directions_are_not_rejected_as_arranged():
    V = geometry.random_unit_vectors(12, 6, seed=11).T
    result = detection.random_directions_test(V, n_null=300, seed=0)
    assert result.p_value > 0.05 and abs(result.z_score) < 2.5


def test_random_directions_test_is_reproducible_and_rejects_bad_arguments():
    W = _polygon(5).float()
    assert detection.random_directions_test(W, n_null=100, seed=4) == detection.random_directions_test(
        W, n_null=100, seed=4
    )
    with pytest.raises(ValueError, match="at least 2"):
        detection.random_directions_test(torch.tensor([[1.0, 0.1]]))
    with pytest.raises(ValueError, match="must have 2 dimensions"):
        detection.random_directions_test(torch.ones(2, 3, 4))
    with pytest.raises(ValueError, match="alternative must be"):
        detection.random_directions_test(W, alternative="both")


def test_orthogonal_features_without_superposition_are_far_from_random():
    # why random_directions_test is no test for superposition: k = d orthogonal features reject its null
    result = detection.random_directions_test(torch.eye(5), alternative="less", n_null=200, seed=0)
    assert result.observed == 0.0 and result.p_value == pytest.approx(1 / 201)


# --- superposition_test ----------------------------------------------------------------------------------------------


def _best_without_superposition(n_models, density=0.05):
    """Features 0–2 (the most important) on their own axes, the others at their mean: the null's boundary."""
    model = ToyModel(8, 3, n_models, feature_probability=density, importance=0.8 ** torch.arange(8.0), seed=0)
    with torch.no_grad():
        model.W.zero_()
        model.W[:, :, :3] = torch.eye(3)
        model.b.copy_(model.feature_probability / 2)
        model.b[:, :3] = 0
    return model


def test_loss_without_superposition_is_the_dropped_features_variance():
    importance = torch.tensor([1.0, 0.5, 0.25, 0.125])
    model = ToyModel(4, 2, 2, feature_probability=torch.tensor([[1.0], [0.1]]), importance=importance)
    variance = torch.tensor([[1 / 3 - 1 / 4], [0.1 / 3 - 0.01 / 4]])
    expected = (importance[2:] * variance).sum(dim=1) / 4
    assert torch.allclose(detection.loss_without_superposition(model), expected.double())


def test_loss_without_superposition_keeps_the_costliest_features_and_is_zero_when_all_fit():
    # feature 0 is important but rare; feature 1 is less important but always present: the costlier to drop
    model = ToyModel(2, 1, feature_probability=torch.tensor([0.01, 1.0]), importance=torch.tensor([1.0, 0.5]))
    assert detection.loss_without_superposition(model).item() == pytest.approx(1.0 * (0.01 / 3 - 0.0001 / 4) / 2)
    assert detection.loss_without_superposition(ToyModel(3, 3, 2)).tolist() == [0.0, 0.0]


def test_the_boundary_model_reaches_loss_without_superposition():
    model = _best_without_superposition(1)
    measured = evaluate(model, n_samples=200_000, seed=1).double()
    assert measured.item() == pytest.approx(detection.loss_without_superposition(model).item(), rel=0.02)


def test_superposition_test_is_valid_at_the_null_boundary():
    p = detection.superposition_test(_best_without_superposition(400), 2_000, seed=3).p_value
    assert 0.01 <= (p < 0.05).double().mean().item() <= 0.10  # binomial sd 0.011 around 0.05
    assert 0.4 <= p.median().item() <= 0.6


def test_superposition_test_does_not_reject_models_without_superposition():
    untrained = ToyModel(20, 5, 50, feature_probability=0.03, importance=0.9 ** torch.arange(20.0), seed=0)
    assert (detection.superposition_test(untrained, 2_000, seed=0).p_value > 0.5).all()
    fewer = ToyModel(3, 4, 5, feature_probability=0.05, seed=0)  # L_d = 0: nothing beats it
    result = detection.superposition_test(fewer, 500, seed=0)
    assert (result.loss_without_superposition == 0).all() and (result.p_value > 0.99).all()


def test_a_random_W_can_beat_the_best_model_without_superposition():
    # random directions superpose usefully when features are sparse and equally important: not a false positive
    untrained = ToyModel(8, 3, 50, feature_probability=0.05, seed=0)
    beats = evaluate(untrained, n_samples=100_000, seed=5).double() < 0.95 * detection.loss_without_superposition(
        untrained
    )
    rejected = detection.superposition_test(untrained, 5_000, seed=0).p_value < 0.01
    assert (
        beats.sum() >= 5
        and (
            rejected
            <= beats | (evaluate(untrained, 100_000, seed=6).double() < detection.loss_without_superposition(untrained))
        ).all()
    )


def test_superposition_test_detects_a_trained_sparse_model():
    model = ToyModel(6, 2, 2, feature_probability=torch.tensor([[1.0], [0.05]]), seed=0)
    train(model, steps=600, lr=3e-2, seed=0, progress=False)
    result = detection.superposition_test(model, 5_000, seed=1)
    assert result.p_value[1] < 1e-4 and result.loss[1] < 0.8 * result.loss_without_superposition[1]
    assert result.loss[0] > 0.97 * result.loss_without_superposition[0]  # dense: no gain from superposition


def test_superposition_test_is_reproducible_and_rejects_bad_arguments():
    model = ToyModel(5, 2, 2, feature_probability=0.1, seed=0)
    a, b = detection.superposition_test(model, 100, seed=4), detection.superposition_test(model, 100, seed=4)
    assert all(torch.equal(x, y) for x, y in zip(a[:-1], b[:-1]))
    with pytest.raises(ValueError, match="model must be a ToyModel"):
        detection.superposition_test(torch.eye(2))
    with pytest.raises(ValueError, match="model must be a ToyModel"):
        detection.superposition_test(PrivilegedBasisModel(4, 2, seed=0))
    with pytest.raises(ValueError, match="n_samples"):
        detection.superposition_test(model, 1)


# --- fraction_in_superposition ---------------------------------------------------------------------------------


def test_fraction_in_superposition_of_known_arrangements():
    pair_loner_dropped = torch.tensor([[1.0, -1.0, 0.0, 0.0], [0.0, 0.0, 1.0, 0.05]])
    assert detection.fraction_in_superposition(pair_loner_dropped).item() == pytest.approx(2 / 3)
    assert detection.fraction_in_superposition(torch.eye(3)).item() == 0.0
    assert detection.fraction_in_superposition(_polygon(5)).item() == 1.0
    assert detection.fraction_in_superposition(torch.zeros(2, 3)).item() == 0.0
    batch = torch.stack([torch.eye(2), torch.tensor([[1.0, -1.0], [0.0, 0.0]])])
    assert detection.fraction_in_superposition(batch).tolist() == [0.0, 1.0]


def test_fraction_in_superposition_rejects_bad_arguments():
    with pytest.raises(ValueError, match="threshold"):
        detection.fraction_in_superposition(torch.eye(2), threshold=0)
    with pytest.raises(ValueError, match="tolerance"):
        detection.fraction_in_superposition(torch.eye(2), tolerance=-0.1)
    with pytest.raises(ValueError, match="W must have at least 2 dimensions"):
        detection.fraction_in_superposition(torch.ones(3))


# --- count_distinct_latents ------------------------------------------------------------------------------------


def test_count_drops_dead_latents_and_duplicates_but_keeps_opposites():
    decoder = torch.tensor([[1.0, 0.99, 0.0, -1.0, 0.6], [0.0, 0.14, 1.0, 0.0, 0.8]])
    codes = torch.zeros(100, 5)
    codes[:40, 0] = 1  # the most frequent
    codes[40:50, 1] = 1  # a near-copy of latent 0: a duplicate
    codes[50:60, 2] = 1
    codes[60:70, 3] = 1  # the opposite of latent 0: a different feature
    assert detection.count_distinct_latents(decoder, codes).item() == 3  # latent 4 never fires
    assert detection.count_distinct_latents(decoder, codes, max_cosine=1.0).item() == 4
    assert detection.count_distinct_latents(decoder, codes, min_frequency=0.2).item() == 1


def test_count_is_per_instance_and_counts_planted_features():
    V = geometry.random_unit_vectors(16, 8, seed=0).T  # (8, 16): 16 directions in 8 dimensions
    decoder = torch.stack([torch.cat([V, torch.zeros(8, 16)], dim=1), torch.cat([V, V], dim=1)])  # (2, 8, 32)
    codes = torch.ones(2, 10, 32)  # instance 0: 16 padding latents with zero directions; instance 1: each twice
    assert detection.count_distinct_latents(decoder, codes).tolist() == [16, 16]


def test_count_distinct_latents_rejects_bad_arguments():
    with pytest.raises(ValueError, match="must agree"):
        detection.count_distinct_latents(torch.ones(3, 4), torch.ones(10, 5))
    with pytest.raises(ValueError, match="min_frequency"):
        detection.count_distinct_latents(torch.ones(3, 4), torch.ones(10, 4), min_frequency=1.0)
    with pytest.raises(ValueError, match="max_cosine"):
        detection.count_distinct_latents(torch.ones(3, 4), torch.ones(10, 4), max_cosine=1.5)
    with pytest.raises(ValueError, match="decoder must have at least 2 dimensions"):
        detection.count_distinct_latents(torch.ones(3), torch.ones(10, 4))


# --- loss_below_test ----------------------------------------------------------------------------------------------


def test_loss_below_test_is_the_one_sided_z_test_of_the_mean():
    losses = torch.rand(50, 3, generator=torch.Generator().manual_seed(0), dtype=torch.float64) ** 2
    boundary = torch.tensor([0.2, 0.35, 0.5], dtype=torch.float64)
    z, p = detection.loss_below_test(losses, boundary)
    expected = (losses.mean(dim=0) - boundary) / (losses.std(dim=0) / math.sqrt(50))
    assert torch.allclose(z, expected)
    assert torch.allclose(p, 0.5 * torch.erfc(-expected / math.sqrt(2)))  # Φ(z), the lower tail
    assert p[0] > 0.5 > p[2]  # a mean above the boundary is no evidence; one below it is


def test_loss_below_test_without_spread_is_certain():
    z, p = detection.loss_below_test(torch.full((4,), 0.3), 0.5)
    assert z.item() == -math.inf and p.item() == 0.0
    z, p = detection.loss_below_test(torch.full((4,), 0.5), 0.5)
    assert z.item() == 0.0 and p.item() == 0.5


def test_loss_below_test_rejects_bad_arguments():
    with pytest.raises(ValueError, match="losses"):
        detection.loss_below_test(torch.tensor([0.3]), 0.5)
    with pytest.raises(ValueError, match="boundary"):
        detection.loss_below_test(torch.rand(10, 3), torch.zeros(2))
