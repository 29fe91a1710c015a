"""Chapter 04: the dot-product density, coherence, the Welch bound, the Johnson–Lindenstrauss dimension."""

from __future__ import annotations

import math

import torch

from .. import geometry
from ._common import _REFERENCES, _call, _number, _passed, _seeded, _tensor

_REFERENCES.update(
    dot_product_density=geometry.dot_product_density,
    coherence=geometry.coherence,
    welch_bound=geometry.welch_bound,
    jl_min_dim=geometry.jl_min_dim,
)


def check_dot_product_density(dot_product_density) -> None:
    """Check ``dot_product_density(t, n)``: Γ(n/2) / (√π Γ((n−1)/2)) · (1 − t²)^((n−3)/2) on −1 < t < 1."""
    name = "dot_product_density"
    t = torch.linspace(-0.95, 0.95, 39, dtype=torch.float64)
    for n in (3, 4, 10, 50):
        got = _tensor(name, _call(dot_product_density, name, t, n), t.shape).double()
        want = geometry.dot_product_density(t, n)
        if torch.allclose(got, want, rtol=1e-5, atol=1e-9):
            continue
        ratio = got / want
        if torch.allclose(ratio, ratio[0].expand_as(ratio), rtol=1e-4) and not torch.allclose(
            ratio, torch.ones_like(ratio)
        ):
            raise AssertionError(
                f"{name}(t, {n}) has the right shape but the wrong height (off by a factor {ratio[0].item():.3g}): "
                "check the constant Γ(n/2) / (√π Γ((n−1)/2)) — use math.lgamma or torch.lgamma, and the "
                "numerator is Γ(n/2), the denominator Γ((n−1)/2)."
            )
        for exponent in ((n - 1) / 2, (n - 2) / 2, n / 2):
            other = (1 - t**2) ** exponent
            if torch.allclose(got / other, (got / other)[19].expand_as(t), rtol=1e-4) and exponent != (n - 3) / 2:
                raise AssertionError(
                    f"{name}(t, {n}) has the exponent {exponent:g} on (1 − t²); "
                    f"it should be (n − 3)/2 = {(n - 3) / 2:g}."
                )
        gaussian = torch.exp(-n * t**2 / 2) * math.sqrt(n / (2 * math.pi))
        if torch.allclose(got, gaussian, rtol=1e-4):
            raise AssertionError(
                f"{name} returned the Gaussian approximation N(0, 1/n); write the exact density, proportional to "
                "(1 − t²)^((n−3)/2)."
            )
        raise AssertionError(f"{name}(t, {n}) differs from Γ(n/2) / (√π Γ((n−1)/2)) · (1 − t²)^((n−3)/2).")
    outside = _tensor(name, _call(dot_product_density, name, torch.tensor([-1.5, 1.5], dtype=torch.float64), 5))
    if not torch.allclose(outside.double(), torch.zeros(2, dtype=torch.float64)):
        raise AssertionError(f"{name} must be 0 outside (−1, 1): |t| > 1 is impossible for unit vectors.")
    _passed(name, dot_product_density, "the exact density, normalised, zero outside (−1, 1).")


def check_coherence(coherence) -> None:
    """Check ``coherence(V)``: the largest |cos| between two different rows of V (k, n)."""
    name = "coherence"
    V = torch.tensor([[3.0, 0.0, 0.0], [1.0, -2.0, 0.5], [-2.0, 1.0, 1.0], [0.0, 0.5, 4.0]])
    got = _number(name, _call(coherence, name, V))
    want = geometry.coherence(V).item()
    if abs(got - want) < 1e-5:
        random_set = geometry.random_unit_vectors(30, 8, generator=_seeded(0))
        if abs(_number(name, _call(coherence, name, random_set)) - geometry.coherence(random_set).item()) > 1e-5:
            raise AssertionError(f"{name} fails on 30 random unit vectors in R^8: avoid hard-coded sizes.")
        _passed(name, coherence, "the largest |cos| between two different rows, for any row lengths.")
        return
    unit = V / V.norm(dim=1, keepdim=True)
    cos = unit @ unit.T
    if abs(got - 1.0) < 1e-5:
        raise AssertionError(f"{name} returned 1: every vector has cos 1 with itself — leave out the diagonal.")
    off = cos - torch.diag(torch.diagonal(cos))
    if abs(got - off.max().item()) < 1e-5:
        raise AssertionError(f"{name} took the largest cos, not the largest |cos|: apply .abs() first.")
    raw = (V @ V.T).abs() - torch.diag(torch.diagonal((V @ V.T).abs()))
    if abs(got - raw.max().item()) < 1e-4:
        raise AssertionError(f"{name} used raw dot products: normalise each row to unit length first.")
    col = V / V.norm(dim=0, keepdim=True)
    columns = (col.T @ col).abs() - torch.eye(3)
    if abs(got - columns.max().item()) < 1e-4:
        raise AssertionError(f"{name} compared the columns of V: the vectors are its rows, so use V @ V.T.")
    if abs(got - off.abs().sum().item() / 12) < 1e-4:
        raise AssertionError(f"{name} returned the mean |cos|: coherence is the largest one (.max()).")
    raise AssertionError(f"{name} returned {got:.4f}, expected {want:.4f}: max over i ≠ j of |cos(vᵢ, vⱼ)|.")


def check_welch_bound(welch_bound) -> None:
    """Check ``welch_bound(k, n)``: √((k − n) / (n (k − 1))) for k > n, and 0 for k ≤ n."""
    name = "welch_bound"
    for k, n in ((3, 2), (100, 10), (7, 3)):
        got, want = _number(name, _call(welch_bound, name, k, n)), geometry.welch_bound(k, n)
        if abs(got - want) > 1e-9:
            if abs(got - want**2) < 1e-9:
                raise AssertionError(f"{name}({k}, {n}) returned the square of the bound: take the square root.")
            if abs(got - math.sqrt(abs((n - k) / (k * (n - 1))))) < 1e-9:
                raise AssertionError(f"{name}({k}, {n}): k and n are swapped — the bound is √((k − n) / (n (k − 1))).")
            raise AssertionError(f"{name}({k}, {n}) returned {got:.6f}, expected √((k − n)/(n(k − 1))) = {want:.6f}.")
    try:
        small = _number(name, _call(welch_bound, name, 3, 5))
    except (ValueError, ZeroDivisionError) as error:
        raise AssertionError(f"{name}(3, 5) raised {type(error).__name__}: for k ≤ n the bound is 0.") from None
    if small != 0 or math.isnan(small):
        raise AssertionError(f"{name}(3, 5) returned {small}: for k ≤ n orthonormal vectors exist, so the bound is 0.")
    _passed(name, welch_bound, "√((k − n)/(n(k − 1))), and 0 when k ≤ n.")


def check_jl_min_dim(jl_min_dim) -> None:
    """Check ``jl_min_dim(n_points, eps)``: 4 ln N / (ε²/2 − ε³/3), rounded down as scikit-learn does."""
    name = "jl_min_dim"
    from sklearn.random_projection import johnson_lindenstrauss_min_dim

    for n_points, eps in ((1_000, 0.1), (50, 0.5), (10**6, 0.25), (17, 0.9)):
        got = _call(jl_min_dim, name, n_points, eps)
        want = int(johnson_lindenstrauss_min_dim(n_points, eps=eps))
        value = _number(name, got)
        if value == want and float(value).is_integer():
            continue
        exact = 4 * math.log(n_points) / (eps**2 / 2 - eps**3 / 3)
        if abs(value - exact) < 1e-6:
            raise AssertionError(f"{name} returned {value:.3f}: return a whole number of dimensions (int(...)).")
        if value == math.ceil(exact):
            raise AssertionError(f"{name} rounded up to {value}; scikit-learn rounds down (int(...)) to {want}.")
        if (
            abs(value - int(4 * math.log10(n_points) / (eps**2 / 2 - eps**3 / 3))) <= 1
            or abs(value - int(4 * math.log2(n_points) / (eps**2 / 2 - eps**3 / 3))) <= 1
        ):
            raise AssertionError(f"{name} used the wrong logarithm: the bound uses the natural log, math.log.")
        if (
            abs(value - int(4 * math.log(n_points) / (eps**2 / 2))) <= 1
            or abs(value - int(4 * math.log(n_points) / eps**2)) <= 1
        ):
            raise AssertionError(f"{name}: the denominator is ε²/2 − ε³/3 (Dasgupta and Gupta), with the cubic term.")
        raise AssertionError(f"{name}({n_points}, {eps}) returned {value}, expected {want}.")
    _passed(name, jl_min_dim, "4 ln N / (ε²/2 − ε³/3), rounded down: the same as scikit-learn.")
