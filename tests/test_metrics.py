"""Metrics pinned on geometries whose answers are exact, and their laws for any input."""

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from superpose_lib import geometry, metrics


def _polygon(k):
    angles = 2 * math.pi * torch.arange(k, dtype=torch.float64) / k
    return torch.stack([angles.cos(), angles.sin()])  # (2, k)


def _tetrahedron():
    corners = torch.tensor([[1, 1, 1], [1, -1, -1], [-1, 1, -1], [-1, -1, 1]], dtype=torch.float64).T
    return corners / math.sqrt(3)


def _square_antiprism():
    # Two squares, the second turned by 45°, at heights ±h with r² = 2/3 so that the frame is tight.
    r, h = math.sqrt(2 / 3), math.sqrt(1 / 3)
    columns = []
    for i in range(4):
        for offset, z in ((0.0, h), (math.pi / 4, -h)):
            angle = offset + i * math.pi / 2
            columns.append([r * math.cos(angle), r * math.sin(angle), z])
    return torch.tensor(columns, dtype=torch.float64).T


@pytest.mark.parametrize(
    "name, W, expected",
    [
        ("antipodal pair", torch.tensor([[1.0, -1.0]], dtype=torch.float64), 1 / 2),
        ("triangle", _polygon(3), 2 / 3),
        ("tetrahedron", _tetrahedron(), 3 / 4),
        ("pentagon", _polygon(5), 2 / 5),
        ("square antiprism", _square_antiprism(), 3 / 8),
        ("orthonormal", torch.eye(4, dtype=torch.float64), 1.0),
    ],
)
def test_feature_dimensionality_of_uniform_polytopes(name, W, expected):
    D = metrics.feature_dimensionality(W)
    torch.testing.assert_close(D, torch.full_like(D, expected), atol=1e-12, rtol=0)
    # A tight arrangement uses every hidden dimension: the dimensionalities sum to d_hidden.
    assert D.sum().item() == pytest.approx(W.shape[0], abs=1e-12)
    assert metrics.dimensions_per_feature(W).item() == pytest.approx(expected, abs=1e-12)


def test_unrepresented_feature_has_zero_dimensionality_and_zero_superposition():
    W = torch.tensor([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    assert metrics.feature_dimensionality(W).tolist() == [1.0, 1.0, 0.0]
    assert metrics.superposition(W).tolist() == [0.0, 0.0, 0.0]
    assert metrics.n_represented(W).item() == 2


@pytest.mark.parametrize("norm", [1e-10, 1e-20, 1e-30])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_a_tiny_orthogonal_feature_still_has_a_dimension_of_its_own(norm, dtype):
    # (its fourth power underflows float32 at 1e-10; the metric depends only on directions and relative lengths)
    W = torch.tensor([[norm, 0.0, 0.0], [0.0, 1.0, -1.0]], dtype=dtype)  # a lone tiny feature, an antipodal pair
    assert metrics.feature_dimensionality(W).tolist() == [1.0, 0.5, 0.5]
    assert metrics.feature_dimensionality(W).dtype == dtype


def test_features_below_the_documented_threshold_count_as_not_represented():
    W = torch.tensor([[1e-101, 0.0], [0.0, 1.0]], dtype=torch.float64)  # 1e-101 of the largest norm: below 1e-100
    assert metrics.feature_dimensionality(W).tolist() == [0.0, 1.0]
    assert metrics.feature_dimensionality(torch.zeros(3, 2)).tolist() == [0.0, 0.0]  # (d_hidden, n_features)


def test_superposition_of_a_pentagon():
    # Σⱼ≠ᵢ cos² over the four others: 2cos²72° + 2cos²144° = 3/2.
    S = metrics.superposition(_polygon(5))
    torch.testing.assert_close(S, torch.full_like(S, 1.5))


def test_metrics_keep_the_instance_dimension():
    W = torch.stack([_polygon(5), torch.cat([torch.eye(2), torch.zeros(2, 3)], dim=1).double()])  # (2, 2, 5)
    assert metrics.feature_dimensionality(W).shape == (2, 5)
    assert metrics.superposition(W).shape == (2, 5)
    assert metrics.dimensions_per_feature(W).tolist() == pytest.approx([0.4, 1.0])
    assert metrics.n_represented(W).tolist() == [5, 2]
    assert metrics.antipodal_pairs(W).tolist() == [0, 0]


def test_antipodal_pairs_counts_each_opposite_pair_of_represented_features_once():
    cross = torch.tensor([[1.0, -1.0, 0.0, 0.0, 0.0], [0.0, 0.0, 1.0, -0.95, -0.1]])  # two pairs, a short third
    assert metrics.antipodal_pairs(cross).item() == 2
    assert metrics.antipodal_pairs(torch.stack([cross, _polygon(5).float()])).tolist() == [2, 0]
    assert metrics.antipodal_pairs(cross, threshold=0.97).item() == 1  # only the (1, −1) pair is long enough


@settings(max_examples=25, deadline=None)
@given(d=st.integers(1, 6), n=st.integers(1, 12), seed=st.integers(0, 2**16))
def test_dimensionality_lies_between_zero_and_one_and_sums_to_at_most_d_hidden(d, n, seed):
    W = torch.randn(d, n, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    D = metrics.feature_dimensionality(W)
    assert ((D >= 0) & (D <= 1 + 1e-12)).all()
    assert D.sum().item() <= d + 1e-9


def test_kurtosis_is_pearson_not_excess():
    x = torch.randn(400_000, 3, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    assert metrics.kurtosis(x).tolist() == pytest.approx([3.0, 3.0, 3.0], abs=0.05)
    uniform = torch.rand(400_000, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    assert metrics.kurtosis(uniform).item() == pytest.approx(9 / 5, abs=0.01)
    laplace = torch.distributions.Laplace(0.0, 1.0).sample((400_000,))
    assert metrics.kurtosis(laplace).item() == pytest.approx(6.0, abs=0.2)


def test_kurtosis_along_another_dimension():
    x = torch.randn(3, 1000, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(metrics.kurtosis(x, dim=1), metrics.kurtosis(x.T, dim=0))


def test_mmcs_is_one_for_permuted_rescaled_directions():
    true = geometry.random_unit_vectors(20, 8, seed=0).T  # (8, 20)
    learned = true[:, torch.randperm(20, generator=torch.Generator().manual_seed(1))] * 3.0
    assert metrics.mmcs(learned, true).item() == pytest.approx(1.0, abs=1e-6)


def test_mmcs_sign_flips_count_only_when_absolute():
    true = torch.eye(4)
    assert metrics.mmcs(-true, true).item() == pytest.approx(0.0, abs=1e-7)
    assert metrics.mmcs(-true, true, absolute=True).item() == pytest.approx(1.0)


def test_mmcs_of_random_dictionaries_is_far_below_one():
    true = geometry.random_unit_vectors(64, 32, seed=0).T
    learned = geometry.random_unit_vectors(64, 32, seed=1).T
    score = metrics.mmcs(learned, true, absolute=True).item()
    assert 0.3 < score < 0.7


def test_mmcs_batched_over_instances():
    true = torch.eye(3)
    learned = torch.stack([true, torch.ones(3, 3)])
    assert metrics.mmcs(learned, true).tolist() == pytest.approx([1.0, 1 / math.sqrt(3)])


@pytest.mark.parametrize(
    "call, words",
    [
        (lambda: metrics.kurtosis(torch.tensor(1.0)), "x must have"),
        (lambda: metrics.kurtosis(torch.ones(1, 3)), "at least 2 samples"),
        (lambda: metrics.kurtosis(torch.ones(4, 3), dim=2), "dim must be"),
        (lambda: metrics.feature_dimensionality(torch.ones(3)), "W must have at least 2 dimensions"),
        (lambda: metrics.n_represented(torch.ones(2, 2), threshold=0), "threshold"),
        (lambda: metrics.antipodal_pairs(torch.ones(2, 2), threshold=0), "threshold"),
        (lambda: metrics.mmcs(torch.ones(3, 4), torch.ones(5, 4)), "same dimension"),
        (lambda: metrics.mmcs(torch.ones(3), torch.ones(3, 4)), "learned must have at least 2 dimensions"),
    ],
)
def test_bad_arguments_raise_value_errors_that_name_them(call, words):
    with pytest.raises(ValueError, match=words):
        call()
