"""Chapter 08: soft thresholding, an ISTA step, FISTA, OMP, and a point of the phase diagram."""

from __future__ import annotations

import math

import torch

from .. import sparse
from ._common import _REFERENCES, _call, _passed, _seeded, _tensor


def _reference_soft_threshold(v, t):
    return torch.sign(v) * torch.clamp(v.abs() - t, min=0)


def _reference_ista_step(D, X, Z, lam, L):
    grad = (Z @ D.T - X) @ D  # (batch, k): the gradient of ½‖x − D z‖² for every row
    return _reference_soft_threshold(Z - grad / L, lam / L)


def _reference_fista_codes(D, X, lam, n_iter):
    return sparse.fista(D, X, lam, max_iter=n_iter, tol=0)


def _reference_omp_codes(D, X, n_nonzero):
    return sparse.omp(D, X, n_nonzero)


def _reference_recovery_rate(delta, rho, N, trials, generator=None):
    n = max(2, round(delta * N))
    s = max(1, round(rho * n))
    A = torch.randn(n, N, generator=generator, dtype=torch.float64)
    A = A / A.norm(dim=0, keepdim=True)  # (n, N) unit-norm columns
    Z = torch.zeros(trials, N, dtype=torch.float64)
    for row in Z:
        row[torch.randperm(N, generator=generator)[:s]] = torch.randn(s, generator=generator, dtype=torch.float64)
    Z_hat = sparse.lasso(A, Z @ A.T, 1e-3)
    return float(((Z_hat - Z).norm(dim=1) <= 1e-2 * Z.norm(dim=1)).double().mean())


_REFERENCES.update(
    soft_threshold=_reference_soft_threshold,
    ista_step=_reference_ista_step,
    fista_codes=_reference_fista_codes,
    omp_codes=_reference_omp_codes,
    recovery_rate=_reference_recovery_rate,
)


def _problem(n=20, k=50, batch=5, s=3, seed=0):
    gen = _seeded(seed)
    D = torch.randn(n, k, generator=gen, dtype=torch.float64)
    D = D / D.norm(dim=0, keepdim=True)
    Z = torch.zeros(batch, k, dtype=torch.float64)
    for row in Z:
        row[torch.randperm(k, generator=gen)[:s]] = torch.randn(s, generator=gen, dtype=torch.float64)
    X = Z @ D.T + 0.01 * torch.randn(batch, n, generator=gen, dtype=torch.float64)
    return D, X, Z


def _close(a, b, atol=1e-6) -> bool:
    return a.shape == b.shape and torch.allclose(a.double(), b.double(), atol=atol)


def check_soft_threshold(soft_threshold) -> None:
    """Check ``soft_threshold(v, t)``: sign(v) · max(|v| − t, 0), entry by entry, for any shape."""
    name = "soft_threshold"
    v = torch.tensor([[-3.0, -0.7, -0.2, 0.0], [0.1, 0.6, 1.5, 4.0]])
    got = _tensor(name, _call(soft_threshold, name, v, 0.5), v.shape)
    want = _reference_soft_threshold(v, 0.5)
    if _close(got, want):
        if not _close(_call(soft_threshold, name, v, 0.0), v):
            raise AssertionError(f"{name}(v, 0) should return v unchanged: nothing is shrunk when t = 0.")
        _passed(name, soft_threshold, "shrinks every entry towards 0 by t and stops at 0, signs kept.")
        return
    if _close(got, v * (v.abs() > 0.5)):
        raise AssertionError(
            f"{name} zeroed the small entries but left the large ones as they were: that is hard thresholding. "
            "Soft thresholding also moves every surviving entry towards 0 by t."
        )
    if _close(got, torch.clamp(v - 0.5, min=0)):
        raise AssertionError(f"{name} returned 0 for every negative input: keep the sign, sign(v) · max(|v| − t, 0).")
    if _close(got, v - 0.5 * torch.sign(v)):
        raise AssertionError(
            f"{name} let small entries cross zero (−0.2 became 0.3): clamp |v| − t at 0 before restoring the sign."
        )
    raise AssertionError(f"{name}(v, 0.5) returned {got.tolist()}, expected {want.tolist()}.")


def check_ista_step(ista_step) -> None:
    """Check ``ista_step(D, X, Z, lam, L)``: soft_threshold(Z − (1/L)(Z Dᵀ − X) D, lam / L), row by row."""
    name = "ista_step"
    D, X, _ = _problem()
    Z = 0.1 * torch.randn(X.shape[0], D.shape[1], generator=_seeded(1), dtype=torch.float64)
    lam, L = 0.3, 4.0
    got = _tensor(name, _call(ista_step, name, D, X, Z, lam, L), Z.shape)
    if _close(got, _reference_ista_step(D, X, Z, lam, L)):
        _passed(name, ista_step, "a gradient step of size 1/L, then soft thresholding at λ/L.")
        return
    grad = (Z @ D.T - X) @ D
    if _close(got, _reference_soft_threshold(Z - grad / L, lam)):
        raise AssertionError(f"{name} thresholded at λ: the proximal step of size 1/L thresholds at λ/L.")
    if _close(got, _reference_soft_threshold(Z + grad / L, lam / L)):
        raise AssertionError(
            f"{name} stepped uphill: the gradient of ½‖x − D z‖² is Dᵀ(D z − x); subtract it (z − grad / L)."
        )
    if _close(got, _reference_soft_threshold(Z - grad, lam)) or _close(
        got, _reference_soft_threshold(Z - grad, lam / L)
    ):
        raise AssertionError(f"{name} took a full gradient step: scale the gradient by the step size 1/L.")
    if _close(got, Z - grad / L):
        raise AssertionError(f"{name} took the gradient step but forgot the soft thresholding at λ/L.")
    raise AssertionError(
        f"{name} does not match soft_threshold(Z − (1/L)(Z Dᵀ − X) D, λ/L); with rows as signals the gradient "
        "of every row at once is (Z @ D.T − X) @ D."
    )


def check_fista_codes(fista_codes) -> None:
    """Check ``fista_codes(D, X, lam, n_iter)``: n_iter FISTA steps from zero, step 1/L with L = ‖D‖₂²."""
    name = "fista_codes"
    D, X, _ = _problem(seed=2)
    lam = 0.05
    for n_iter in (1, 5, 60):
        got = _tensor(name, _call(fista_codes, name, D, X, lam, n_iter), (X.shape[0], D.shape[1]))
        want = _reference_fista_codes(D, X, lam, n_iter)
        if _close(got, want, atol=1e-6):
            continue
        if _close(got, sparse.ista(D, X, lam, max_iter=n_iter, tol=0), atol=1e-6):
            raise AssertionError(
                f"after {n_iter} steps {name} equals ISTA: the momentum is missing. Take each step from "
                "y = z + ((t − 1)/t_new)(z − z_previous), with t_new = (1 + √(1 + 4t²))/2 and t starting at 1."
            )
        if n_iter == 1:
            raise AssertionError(
                f"{name}(..., n_iter=1) should be one ISTA step from zero, soft_threshold(Dᵀx / L, λ/L), with "
                "L = torch.linalg.matrix_norm(D, ord=2) ** 2 (the largest eigenvalue of DᵀD, not of D)."
            )
        f_got = sparse.lasso_objective(D, X, got, lam).sum()
        f_want = sparse.lasso_objective(D, X, want, lam).sum()
        raise AssertionError(
            f"after {n_iter} steps {name} reached objective {f_got:.5f}, FISTA reaches {f_want:.5f}: check the "
            "momentum coefficient (t − 1)/t_new and that t is updated after computing it."
        )
    _passed(name, fista_codes, "matches FISTA (Beck and Teboulle, 2009) step for step.")


def check_omp_codes(omp_codes) -> None:
    """Check ``omp_codes(D, X, n_nonzero)``: greedy atom selection by |correlation|, least-squares refit."""
    name = "omp_codes"
    D, X, _ = _problem(n=30, k=80, batch=6, s=4, seed=3)
    for m in (1, 4):
        got = _tensor(name, _call(omp_codes, name, D, X, m), (X.shape[0], D.shape[1]))
        want = _reference_omp_codes(D, X, m)
        if _close(got, want, atol=1e-6):
            continue
        counts = (got.abs() > 1e-10).sum(dim=1)
        if not bool((counts <= m).all()):
            raise AssertionError(f"{name}(..., n_nonzero={m}) returned rows with {counts.max()} nonzeros: at most {m}.")
        # matching pursuit: coefficients are the correlations, no refit
        residual, mp = X.clone(), torch.zeros_like(want)
        for _ in range(m):
            corr = residual @ D
            j = corr.abs().argmax(dim=1)
            c = corr.gather(1, j[:, None]).squeeze(1)
            mp[torch.arange(len(j)), j] += c
            residual = residual - c[:, None] * D[:, j].T
        if m > 1 and _close(got, mp, atol=1e-6):
            raise AssertionError(
                f"{name} kept each atom's correlation as its coefficient (matching pursuit). OMP refits all "
                "chosen atoms together by least squares after each selection: torch.linalg.lstsq(D[:, S], x)."
            )
        if not torch.equal(got.abs() > 1e-10, want != 0):
            raise AssertionError(
                f"{name} chose different atoms: pick the atom with the largest |correlation| with the current "
                "residual (the absolute value: a large negative correlation counts too)."
            )
        raise AssertionError(f"{name} chose the right atoms but not the least-squares coefficients on them.")
    _passed(name, omp_codes, "the same atoms and least-squares coefficients as Batch-OMP.")


def check_recovery_rate(recovery_rate) -> None:
    """Check ``recovery_rate(delta, rho, N, trials, generator)``: the fraction of s-sparse vectors recovered."""
    name = "recovery_rate"
    below = _call(recovery_rate, name, 0.5, 0.2, 60, 20, generator=_seeded(0))
    if isinstance(below, torch.Tensor):
        below = below.item()
    if not isinstance(below, float | int) or not 0 <= below <= 1:
        raise AssertionError(f"{name} should return a fraction between 0 and 1, got {below!r}")
    above = float(_call(recovery_rate, name, 0.5, 0.8, 60, 20, generator=_seeded(1)))
    theory = sparse.l1_phase_transition(0.5)
    if below < 0.8:
        raise AssertionError(
            f"at δ = 0.5, ρ = 0.2 (below the curve ρ(0.5) = {theory:.3f}) only {below:.0%} were recovered: "
            "take n = round(δN) measurements and s = round(ρn) nonzeros (ρ counts nonzeros per measurement, "
            "not per unknown), and call it a success when ‖ẑ − z‖ ≤ 0.01‖z‖."
        )
    if above > 0.5:
        raise AssertionError(
            f"at δ = 0.5, ρ = 0.8 (far above the curve) {above:.0%} were recovered: check that the signals are "
            "x = A z for the (n, N) matrix A and that you compare ẑ with z, not with the signals."
        )
    # near the edge the rate varies from draw to draw, so the same seed must give the same rate
    edge = [float(_call(recovery_rate, name, 0.5, 0.4, 60, 20, generator=_seeded(5))) for _ in range(3)]
    if not all(math.isclose(value, edge[0]) for value in edge):
        raise AssertionError(f"{name} ignores its generator: pass generator=generator to every random call.")
    _passed(name, recovery_rate, f"{below:.0%} recovered below the curve, {above:.0%} above it.")
