"""Rotations, random directions and cosines: exact laws as property tests, Haar-ness as statistics."""

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from superpose_lib.geometry import cosine_similarity, random_rotation, random_unit_vectors

dims = st.integers(min_value=1, max_value=24)
seeds = st.integers(min_value=0, max_value=2**31 - 1)


@given(n=dims, seed=seeds)
@settings(max_examples=40, deadline=None)
def test_random_rotation_is_orthogonal(n, seed):
    Q = random_rotation(n, seed=seed).double()
    assert torch.allclose(Q.T @ Q, torch.eye(n, dtype=torch.float64), atol=1e-5)


@given(n=dims, seed=seeds)
@settings(max_examples=30, deadline=None)
def test_proper_rotation_has_determinant_one(n, seed):
    assert torch.linalg.det(random_rotation(n, proper=True, seed=seed).double()).item() == pytest.approx(1, abs=1e-4)


def test_same_seed_same_rotation_and_generator_advances():
    assert torch.equal(random_rotation(6, seed=3), random_rotation(6, seed=3))
    gen = torch.Generator().manual_seed(3)
    assert not torch.equal(random_rotation(6, generator=gen), random_rotation(6, generator=gen))


def test_rotation_fixes_the_sign_of_the_qr_diagonal():
    # Q = G diag-sign-corrected means Qᵀ G is upper triangular with a positive diagonal.
    gen = torch.Generator().manual_seed(0)
    state = gen.get_state()
    Q = random_rotation(8, generator=gen).double()
    gen.set_state(state)
    G = torch.randn(8, 8, generator=gen, dtype=torch.float64)
    R = Q.T @ G
    assert torch.allclose(R, torch.triu(R), atol=1e-5)
    assert (torch.diagonal(R) > 0).all()


def test_rotation_sends_a_fixed_vector_uniformly_over_the_sphere():
    # The first coordinate t of a uniform unit vector in R^n satisfies (1 + t)/2 ~ Beta((n-1)/2, (n-1)/2).
    n, samples = 5, 2_000
    gen = torch.Generator().manual_seed(1)
    images = torch.stack([random_rotation(n, generator=gen)[:, 0] for _ in range(samples)]).double()
    for coordinate in range(n):
        t = images[:, coordinate].numpy()
        beta = stats.beta((n - 1) / 2, (n - 1) / 2)
        assert stats.kstest((1 + t) / 2, beta.cdf).pvalue > 1e-3
    assert images.mean(dim=0).abs().max() < 4 / math.sqrt(samples * n)
    # Without the sign fix the QR routine's convention shows: Q[0, 0] would have one sign every time.
    assert 0.45 < (images[:, 0] > 0).double().mean() < 0.55


def test_proper_rotations_have_both_reflection_classes_otherwise():
    gen = torch.Generator().manual_seed(2)
    dets = torch.stack([torch.linalg.det(random_rotation(4, generator=gen)) for _ in range(200)])
    assert 0.35 < (dets > 0).float().mean() < 0.65


@given(n=dims, k=st.integers(1, 10), seed=seeds)
@settings(max_examples=30, deadline=None)
def test_random_unit_vectors_have_unit_norm(n, k, seed):
    V = random_unit_vectors(k, n, seed=seed)
    assert V.shape == (k, n)
    assert torch.allclose(V.norm(dim=1), torch.ones(k), atol=1e-5)


def test_random_unit_vector_dot_products_have_variance_one_over_n():
    n = 64
    V = random_unit_vectors(4_000, n, seed=0).double()
    dots = (V[:2_000] * V[2_000:]).sum(dim=1)
    assert dots.var().item() == pytest.approx(1 / n, rel=0.1)


@given(n=st.integers(2, 16), m=st.integers(1, 6), p=st.integers(1, 6), seed=seeds)
@settings(max_examples=40, deadline=None)
def test_rotation_preserves_cosines_and_dot_products(n, m, p, seed):
    gen = torch.Generator().manual_seed(seed)
    A, B = torch.randn(m, n, generator=gen, dtype=torch.float64), torch.randn(p, n, generator=gen, dtype=torch.float64)
    Q = random_rotation(n, generator=gen).double()
    assert torch.allclose((A @ Q.T) @ (B @ Q.T).T, A @ B.T, atol=1e-6)
    assert torch.allclose(cosine_similarity(A @ Q.T, B @ Q.T), cosine_similarity(A, B), atol=1e-6)


@given(n=st.integers(1, 16), d_out=st.integers(1, 8), seed=seeds, orthogonal=st.booleans())
@settings(max_examples=40, deadline=None)
def test_change_of_basis_compensated_by_the_reader_leaves_the_output_unchanged(n, d_out, seed, orthogonal):
    gen = torch.Generator().manual_seed(seed)
    W = torch.randn(d_out, n, generator=gen, dtype=torch.float64)
    x = torch.randn(n, generator=gen, dtype=torch.float64)
    if orthogonal:
        M = random_rotation(n, generator=gen).double()
    else:  # well conditioned, but far from orthogonal
        M = torch.randn(n, n, generator=gen, dtype=torch.float64) + 3 * math.sqrt(n) * torch.eye(n, dtype=torch.float64)
    assert torch.allclose((W @ torch.linalg.inv(M)) @ (M @ x), W @ x, atol=1e-8)


def test_general_invertible_change_of_basis_breaks_dot_products():
    gen = torch.Generator().manual_seed(0)
    A = torch.randn(10, 6, generator=gen, dtype=torch.float64)
    M = torch.diag(torch.tensor([1.0, 2.0, 3.0, 0.5, 0.2, 4.0], dtype=torch.float64))
    assert not torch.allclose((A @ M.T) @ (A @ M.T).T, A @ A.T, atol=1e-2)


def test_cosine_similarity_shapes_and_values():
    a = torch.tensor([3.0, 4.0])
    assert cosine_similarity(a, a).item() == pytest.approx(1.0)
    assert cosine_similarity(a, -2 * a).item() == pytest.approx(-1.0)
    assert cosine_similarity(a, torch.eye(2)).shape == (2,)
    assert cosine_similarity(torch.ones(3, 2), torch.ones(4, 2)).shape == (3, 4)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: random_rotation(0), "n must be an integer >= 1"),
        (lambda: random_rotation(2.5), "n must be an integer"),
        (lambda: random_rotation(3, seed=-1), "seed must be an integer >= 0"),
        (lambda: random_rotation(3, seed=1, generator=torch.Generator()), "either seed or generator"),
        (lambda: random_unit_vectors(0, 3), "k must be an integer >= 1"),
        (lambda: cosine_similarity(torch.ones(3), torch.ones(4)), "same length"),
        (lambda: cosine_similarity(torch.zeros(3), torch.ones(3)), "zero vector"),
        (lambda: cosine_similarity(torch.ones(2, 2, 2), torch.ones(2)), "a must have 1 or 2 dimensions"),
        (lambda: cosine_similarity("king", torch.ones(2)), "a must be a tensor"),
        (lambda: random_rotation(3, device="tpu:9"), "device must be"),
    ],
)
def test_bad_arguments_raise_value_errors_naming_the_argument(call, message):
    with pytest.raises(ValueError, match=message):
        call()


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_asking_for_cuda_without_a_gpu_says_what_to_pass():
    with pytest.raises(ValueError, match='pass device="cpu"'):
        random_rotation(3, device="cuda")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_same_seed_gives_the_same_rotation_on_cuda_and_cpu():
    on_gpu = random_rotation(16, seed=0, device="cuda")
    assert on_gpu.device.type == "cuda"
    assert torch.allclose(on_gpu.cpu(), random_rotation(16, seed=0), atol=1e-6)
    assert random_unit_vectors(4, 8, seed=0, device="cuda").device.type == "cuda"


# Chapter 04: the dot-product density, coherence, the Welch bound, Johnson–Lindenstrauss, packing.

from sklearn.random_projection import johnson_lindenstrauss_min_dim  # noqa: E402

from superpose_lib.geometry import (  # noqa: E402
    almost_orthogonal_count,
    almost_orthogonal_prefix,
    coherence,
    coherence_estimate,
    dot_product_density,
    dot_product_tail_bound,
    jl_min_dim,
    pack_unit_vectors,
    random_projection,
    regular_simplex,
    welch_bound,
)


def _moments_of_density(n, points=20_001):
    # t = sin θ removes the endpoint singularity of n = 2: ∫ f(t) dt = ∫ f(sin θ) cos θ dθ.
    # Midpoint rule on the open interval (the density is 0 at t = ±1 by definition).
    step = math.pi / points
    theta = -math.pi / 2 + step * (torch.arange(points, dtype=torch.float64) + 0.5)
    t = torch.sin(theta)
    weight = dot_product_density(t, n) * torch.cos(theta)
    return [(weight * t**power).sum().item() * step for power in (0, 1, 2)]


@given(n=st.integers(2, 400))
@settings(max_examples=40, deadline=None)
def test_dot_product_density_integrates_to_one_with_mean_zero_and_variance_one_over_n(n):
    total, mean, second = _moments_of_density(n)
    assert total == pytest.approx(1, abs=1e-6)
    assert mean == pytest.approx(0, abs=1e-9)
    assert second == pytest.approx(1 / n, rel=1e-5)


def test_dot_product_density_known_cases_and_support():
    assert dot_product_density(0.3, 3).item() == pytest.approx(0.5)  # uniform in R^3 (Archimedes)
    assert dot_product_density(0.5, 2).item() == pytest.approx(1 / (math.pi * math.sqrt(0.75)))  # arcsine law
    assert dot_product_density(torch.tensor([-1.5, 1.0, 2.0]), 5).tolist() == [0.0, 0.0, 0.0]
    half = torch.tensor([0.1, 0.2], dtype=torch.float32)
    assert dot_product_density(half, 10).dtype == torch.float32


def test_dot_product_density_matches_the_beta_law_and_samples():
    n = 12
    t = torch.linspace(-0.9, 0.9, 7, dtype=torch.float64)
    beta = stats.beta((n - 1) / 2, (n - 1) / 2)  # (1 + t) / 2 ~ Beta((n-1)/2, (n-1)/2)
    assert torch.allclose(dot_product_density(t, n), torch.tensor(beta.pdf((1 + t.numpy()) / 2) / 2), rtol=1e-10)
    V = random_unit_vectors(20_000, n, seed=0).double()
    dots = (V[:10_000] * V[10_000:]).sum(dim=1).numpy()
    assert stats.kstest((1 + dots) / 2, beta.cdf).pvalue > 1e-3


@pytest.mark.parametrize("n", [10, 50, 200])
def test_tail_bound_lies_above_the_empirical_tail(n):
    V = random_unit_vectors(40_000, n, seed=n).double()
    dots = (V[:20_000] * V[20_000:]).sum(dim=1).abs()
    for eps in (0.05, 0.1, 0.2, 0.3):
        assert (dots >= eps).double().mean().item() <= dot_product_tail_bound(eps, n)


def test_coherence_of_known_sets():
    assert coherence(torch.eye(4)).item() == 0.0
    assert coherence(torch.tensor([[1.0, 0.0], [-3.0, 0.0]])).item() == pytest.approx(1.0)
    V = random_unit_vectors(30, 8, seed=0)
    cos = cosine_similarity(V, V).abs() - torch.eye(30)
    assert coherence(V).item() == pytest.approx(cos.max().item(), abs=1e-6)
    assert coherence(V * torch.arange(1, 31).unsqueeze(1)).item() == pytest.approx(coherence(V).item(), abs=1e-5)
    batch = torch.stack([V, random_unit_vectors(30, 8, seed=1)])
    assert torch.allclose(coherence(batch), torch.stack([coherence(V), coherence(batch[1])]))


@given(k=st.integers(2, 40), n=st.integers(1, 12), seed=seeds)
@settings(max_examples=60, deadline=None)
def test_any_random_set_has_coherence_at_or_above_the_welch_bound(k, n, seed):
    assert coherence(random_unit_vectors(k, n, seed=seed).double()).item() >= welch_bound(k, n) - 1e-9


@given(k=st.integers(2, 12), n=st.integers(1, 6), seed=st.integers(0, 1000))
@settings(max_examples=15, deadline=None)
def test_any_packed_set_has_coherence_at_or_above_the_welch_bound(k, n, seed):
    V = pack_unit_vectors(k, n, steps=60, seed=seed, progress=False)
    assert coherence(V.double()).item() >= welch_bound(k, n) - 1e-6


@given(n=st.integers(1, 30))
@settings(max_examples=30, deadline=None)
def test_regular_simplex_meets_the_welch_bound(n):
    S = regular_simplex(n)
    assert S.shape == (n + 1, n)
    assert torch.allclose(S.norm(dim=1), torch.ones(n + 1, dtype=torch.float64), atol=1e-12)
    gram = S @ S.T
    assert torch.allclose(
        gram - torch.eye(n + 1, dtype=torch.float64), -(1 - torch.eye(n + 1, dtype=torch.float64)) / n, atol=1e-9
    )
    assert abs(coherence(S).item() - welch_bound(n + 1, n)) < 1e-9


def test_three_vectors_at_120_degrees_meet_the_welch_bound():
    angles = torch.tensor([0.0, 2 * math.pi / 3, 4 * math.pi / 3], dtype=torch.float64)
    frame = torch.stack([angles.cos(), angles.sin()], dim=1)
    assert welch_bound(3, 2) == 0.5
    assert abs(coherence(frame).item() - 0.5) < 1e-12


def test_welch_bound_is_zero_when_orthonormal_vectors_fit_and_approaches_one_over_root_n():
    assert welch_bound(5, 5) == 0.0 and welch_bound(2, 7) == 0.0
    assert welch_bound(10**9, 100) == pytest.approx(0.1, rel=1e-6)


@pytest.mark.parametrize(("k", "n"), [(20, 64), (200, 64), (1000, 256), (300, 1024)])
def test_coherence_estimates_bracket_the_measured_coherence(k, n):
    measured = torch.stack([coherence(random_unit_vectors(k, n, seed=s).double()) for s in range(8)]).mean().item()
    leading, sharper = coherence_estimate(k, n, order=1), coherence_estimate(k, n, order=2)
    assert measured < leading  # the leading term overshoots
    assert abs(sharper - measured) < abs(leading - measured)
    assert sharper == pytest.approx(measured, rel=0.12)


@given(n_points=st.integers(1, 10**7), eps=st.floats(0.01, 0.99))
@settings(max_examples=80, deadline=None)
def test_jl_min_dim_matches_scikit_learn(n_points, eps):
    assert jl_min_dim(n_points, eps) == int(johnson_lindenstrauss_min_dim(n_points, eps=eps))


def test_projection_to_the_jl_dimension_keeps_every_pairwise_distance():
    n_points, eps = 60, 0.5
    X = torch.randn(n_points, 2_000, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    Y = random_projection(X, jl_min_dim(n_points, eps), seed=0)
    rows, cols = torch.triu_indices(n_points, n_points, offset=1)
    ratio = (torch.cdist(Y, Y)[rows, cols] / torch.cdist(X, X)[rows, cols]) ** 2
    assert (ratio > 1 - eps).all() and (ratio < 1 + eps).all()
    assert random_projection(X.float(), 5, seed=0).dtype == torch.float32


def test_almost_orthogonal_count_is_exponential_in_n():
    assert almost_orthogonal_count(100, 0.2) == pytest.approx(math.e)
    assert almost_orthogonal_count(200, 0.2) == pytest.approx(math.e**2)


def test_packing_lowers_coherence_well_below_random_and_is_reproducible():
    random_set = random_unit_vectors(40, 10, seed=0)
    packed = pack_unit_vectors(40, 10, steps=400, seed=0, progress=False)
    assert packed.shape == (40, 10) and packed.dtype == torch.float32
    assert torch.allclose(packed.norm(dim=1), torch.ones(40), atol=1e-5)
    assert coherence(packed) < 0.5 * coherence(random_set)
    assert coherence(packed) < 1.35 * welch_bound(40, 10)
    assert torch.equal(packed, pack_unit_vectors(40, 10, steps=400, seed=0, progress=False))


@pytest.mark.parametrize("n", [2, 3, 4])
def test_packing_finds_the_frames_that_meet_the_welch_bound(n):
    V = pack_unit_vectors(n + 1, n, steps=500, seed=1, progress=False)
    assert coherence(V.double()).item() == pytest.approx(welch_bound(n + 1, n), abs=1e-3)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: dot_product_density(0.1, 1), "n must be an integer >= 2"),
        (lambda: coherence(torch.ones(1, 3)), "k >= 2 vectors as its rows"),
        (lambda: coherence(torch.zeros(2, 3)), "zero vector"),
        (lambda: welch_bound(0, 3), "k must be an integer >= 1"),
        (lambda: jl_min_dim(100, 1.5), r"eps must be a number in \(0, 1\)"),
        (lambda: jl_min_dim(0, 0.1), "n_points must be an integer >= 1"),
        (lambda: coherence_estimate(10, 5, order=3), r"order must be an integer in \[1, 2\]"),
        (lambda: dot_product_tail_bound(-0.1, 5), "eps must be a finite number > 0"),
        (lambda: pack_unit_vectors(1, 3), "k must be an integer >= 2"),
        (lambda: pack_unit_vectors(4, 3, power=1), r"power must be a number in \[2, 128\]"),
        (lambda: random_projection(torch.ones(3), 2), "X must have 2 dimensions"),
        (lambda: almost_orthogonal_prefix(torch.eye(3), 0.0), r"eps must be a number in \(0, 1\]"),
        (lambda: almost_orthogonal_prefix(torch.zeros(2, 3), 0.5), "non-zero rows"),
        (lambda: almost_orthogonal_prefix(torch.ones(0, 3), 0.5), "V must not be empty"),
    ],
)
def test_chapter_04_bad_arguments_raise_value_errors_naming_the_argument(call, message):
    with pytest.raises(ValueError, match=message):
        call()


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_chapter_04_functions_run_on_cuda():
    V = pack_unit_vectors(12, 4, steps=50, seed=0, device="cuda", progress=False)
    assert V.device.type == "cuda" and coherence(V).device.type == "cuda"
    assert coherence(V.cpu().double()).item() >= welch_bound(12, 4) - 1e-6
    t = torch.linspace(-0.5, 0.5, 5, device="cuda")
    assert torch.allclose(dot_product_density(t, 7).cpu(), dot_product_density(t.cpu(), 7), atol=1e-6)
    X = torch.randn(10, 50, device="cuda")
    assert random_projection(X, 8, seed=0).device.type == "cuda"


def test_almost_orthogonal_prefix_stops_before_the_first_row_within_eps_of_an_earlier_one():
    V = torch.tensor([[2.0, 0.0, 0.0], [0.0, -3.0, 0.0], [0.0, 0.0, 0.5], [-1.0, 0.0, 0.1], [0.0, 1.0, 1.0]])
    assert almost_orthogonal_prefix(V, 0.5) == 3  # row 3 is nearly −row 0: |cos| counts, not cos
    assert almost_orthogonal_prefix(V[:3], 0.5) == 3  # all of them fit
    assert almost_orthogonal_prefix(V[:1], 0.01) == 1  # one row has no pair


@pytest.mark.parametrize("seed", range(5))
def test_almost_orthogonal_prefix_is_the_longest_prefix_with_coherence_below_eps(seed):
    V = random_unit_vectors(60, 12, seed=seed).double()
    k = almost_orthogonal_prefix(V, 0.5)
    assert k < 60  # at n = 12 some pair among 60 random vectors comes within 0.5
    assert k == 1 or coherence(V[:k]).item() < 0.5
    assert coherence(V[: k + 1]).item() >= 0.5
