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
        (lambda: random_rotation(3, seed=-1), "seed must be a non-negative integer"),
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
