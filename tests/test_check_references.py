"""Laws the exercises' references obey for every input (hypothesis), and references that agree with the
library's classes."""

import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from superpose_lib import geometry
from superpose_lib.checks._common import EXERCISES
from superpose_lib.sae import SAE


def reference(name):
    return EXERCISES[name].reference


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000), n=st.integers(1, 30), data=st.data())
def test_readout_is_exact_for_orthonormal_directions(seed, n, data):
    k = data.draw(st.integers(1, n))
    gen = torch.Generator().manual_seed(seed)
    W = geometry.random_rotation(n, generator=gen).double()[:, :k]  # (n, k), orthonormal columns
    x = torch.rand(6, k, generator=gen, dtype=torch.float64) * (torch.rand(6, k, generator=gen) < 0.5)
    assert torch.allclose(reference("read_features")(x @ W.T, W), x, atol=1e-5)


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000), d=st.integers(1, 50))
def test_axis_cosine_lies_between_the_diagonal_and_an_axis(seed, d):
    u = torch.randn(d, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    value = reference("max_axis_cosine")(u).item()
    assert d**-0.5 - 1e-9 <= value <= 1 + 1e-9


def test_the_sae_forward_pass_is_the_library_sae():
    sae = SAE(5, 12, seed=0)
    with torch.no_grad():
        sae.b_enc.normal_(generator=torch.Generator().manual_seed(0))
        sae.b_dec.normal_(generator=torch.Generator().manual_seed(1))
    x = torch.randn(7, 5, generator=torch.Generator().manual_seed(2))
    x_hat, z = sae(x)
    want_hat, want_z = reference("sae_forward_pass")(x, sae.W_enc[0], sae.b_enc[0], sae.W_dec[0], sae.b_dec[0])
    assert torch.allclose(x_hat[0], want_hat, atol=1e-6) and torch.allclose(z[0], want_z, atol=1e-6)


def test_the_importance_weighted_loss_is_the_toy_models_loss():
    from superpose_lib.toy_models import ToyModel

    gen = torch.Generator().manual_seed(0)
    x, x_hat, importance = torch.rand(64, 5, generator=gen), torch.rand(64, 5, generator=gen), 0.7 ** torch.arange(5.0)
    model = ToyModel(5, 1, importance=importance)
    want = model.loss(x.unsqueeze(1), x_hat.unsqueeze(1))
    assert torch.allclose(reference("importance_weighted_loss")(x, x_hat, importance), want)


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000), n=st.integers(2, 60), d=st.integers(1, 12), data=st.data())
def test_nearest_words_ignore_the_lengths_of_the_words_and_of_the_direction(seed, n, d, data):
    k = data.draw(st.integers(1, n))
    gen = torch.Generator().manual_seed(seed)
    vectors, direction = torch.randn(n, d, generator=gen, dtype=torch.float64), torch.randn(d, generator=gen)
    lengths = torch.exp(2 * torch.randn(n, 1, generator=gen, dtype=torch.float64))
    nearest = reference("nearest_words")
    found = nearest(vectors, direction, k)
    cos = torch.nn.functional.normalize(vectors, dim=1) @ direction.double()  # (n,): the plain path
    largest = cos.topk(k).values
    assert len(set(found.tolist())) == k
    assert torch.allclose(cos[found], largest, atol=1e-5)  # the k largest cosines, nearest first (ties aside)
    rescaled = nearest(vectors * lengths, 7.0 * direction, k)
    assert torch.allclose(cos[rescaled], largest, atol=1e-5)


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000), n=st.integers(2, 60), d=st.integers(1, 12), data=st.data())
def test_atom_coherence_lies_between_minus_one_over_k_minus_one_and_one(seed, n, d, data):
    # ‖Σᵢ uᵢ‖² = k + k(k − 1)·coherence ≥ 0 for unit uᵢ, so the mean cosine over distinct pairs is ≥ −1/(k − 1).
    k = data.draw(st.integers(2, n))
    gen = torch.Generator().manual_seed(seed)
    vectors, direction = torch.randn(n, d, generator=gen), torch.randn(d, generator=gen)
    value = reference("atom_coherence")(vectors, direction, k)
    assert -1 / (k - 1) - 1e-5 <= value <= 1 + 1e-5
