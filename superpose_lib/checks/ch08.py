"""Chapter 08: soft thresholding, an ISTA step, FISTA, OMP, and a point of the phase diagram."""

from __future__ import annotations

import torch

from .. import sparse
from ._common import Exercise, declare, seeded


def _problem(n=20, k=50, batch=5, s=3, seed=0):
    gen = seeded(seed)
    D = torch.randn(n, k, generator=gen, dtype=torch.float64)
    D = D / D.norm(dim=0, keepdim=True)
    Z = torch.zeros(batch, k, dtype=torch.float64)
    for row in Z:
        row[torch.randperm(k, generator=gen)[:s]] = torch.randn(s, generator=gen, dtype=torch.float64)
    X = Z @ D.T + 0.01 * torch.randn(batch, n, generator=gen, dtype=torch.float64)
    return D, X


def _ista_step(D, X, Z, lam, L, sign=1.0, step=None, threshold=None):
    grad = (Z @ D.T - X) @ D  # (batch, k): the gradient of ½‖x − D z‖² for every row
    step = 1 / L if step is None else step
    return sparse.soft_threshold(Z - sign * step * grad, lam / L if threshold is None else threshold)


def _ista_cases():
    cases = []
    for n, k, lam, L, seed in ((20, 50, 0.3, 4.0, 0), (12, 30, 0.1, 6.0, 5)):
        D, X = _problem(n=n, k=k, seed=seed)
        Z = 0.1 * torch.randn(X.shape[0], D.shape[1], generator=seeded(seed + 1), dtype=torch.float64)
        cases.append(dict(D=D, X=X, Z=Z, lam=lam, L=L))
    return cases


def _fista_cases():
    D, X = _problem(seed=2)
    other = _problem(n=15, k=40, seed=4)
    return [dict(D=D, X=X, lam=0.05, n_iter=n) for n in (1, 5, 60)] + [dict(D=other[0], X=other[1], lam=0.1, n_iter=20)]


def _matching_pursuit(D, X, n_nonzero):
    residual, Z = X.clone(), torch.zeros(X.shape[0], D.shape[1], dtype=X.dtype)
    for _ in range(n_nonzero):
        corr = residual @ D
        j = corr.abs().argmax(dim=1)
        c = corr.gather(1, j[:, None]).squeeze(1)
        Z[torch.arange(len(j)), j] += c
        residual = residual - c[:, None] * D[:, j].T
    return Z


def _omp_by_signed_correlation(D, X, n_nonzero):
    Z = torch.zeros(X.shape[0], D.shape[1], dtype=X.dtype)
    for row, x in enumerate(X):
        support, residual = [], x
        for _ in range(n_nonzero):
            support.append(int((residual @ D).argmax()))
            coef = torch.linalg.lstsq(D[:, support], x[:, None]).solution[:, 0]
            residual = x - D[:, support] @ coef
        Z[row, support] = coef
    return Z


def _recovery_rate(delta, rho, N, trials, generator=None, per_unknown=False):
    n = max(2, round(delta * N))
    s = max(1, round(rho * (N if per_unknown else n)))
    A = torch.randn(n, N, generator=generator, dtype=torch.float64)
    A = A / A.norm(dim=0, keepdim=True)  # (n, N) unit-norm columns
    Z = torch.zeros(trials, N, dtype=torch.float64)
    for row in Z:
        row[torch.randperm(N, generator=generator)[:s]] = torch.randn(s, generator=generator, dtype=torch.float64)
    Z_hat = sparse.lasso(A, Z @ A.T, 1e-3)
    return float(((Z_hat - Z).norm(dim=1) <= 1e-2 * Z.norm(dim=1)).double().mean())


declare(
    Exercise(
        "soft_threshold(v, t)",
        reference=sparse.soft_threshold,
        cases=lambda: (
            [dict(v=torch.tensor([[-3.0, -0.7, -0.2, 0.0], [0.1, 0.6, 1.5, 4.0]]), t=t) for t in (0.5, 0.0)]
            + [dict(v=3 * torch.randn(3, 5, generator=seeded(0)), t=float(0.2 + torch.rand(1, generator=seeded(1))))]
        ),
        atol=1e-6,
        mistakes={
            "you zeroed the small entries but left the large ones as they were: that is hard thresholding. "
            "Soft thresholding also moves every surviving entry towards 0 by t.": lambda v, t: v * (v.abs() > t),
            "you returned 0 for every negative input: keep the sign, sign(v) · max(|v| − t, 0).": lambda v, t: (
                torch.clamp(v - t, min=0)
            ),
            "you let small entries cross zero (−0.2 became 0.3): clamp |v| − t at 0 before restoring "
            "the sign.": lambda v, t: v - t * torch.sign(v),
        },
        formula="sign(v) · max(|v| − t, 0), entry by entry.",
        passed="shrinks every entry towards 0 by t and stops at 0, signs kept.",
    ),
    Exercise(
        "ista_step(D, X, Z, lam, L)",
        reference=_ista_step,
        cases=_ista_cases,
        atol=1e-6,
        mistakes={
            "you thresholded at λ: the proximal step of size 1/L thresholds at λ/L.": lambda D, X, Z, lam, L: (
                _ista_step(D, X, Z, lam, L, threshold=lam)
            ),
            "you stepped uphill: the gradient of ½‖x − D z‖² is Dᵀ(D z − x); subtract it "
            "(z − grad / L).": lambda D, X, Z, lam, L: _ista_step(D, X, Z, lam, L, sign=-1.0),
            "you took a full gradient step: scale the gradient by the step size 1/L.": lambda D, X, Z, lam, L: (
                _ista_step(D, X, Z, lam, L, step=1.0)
            ),
            "you took the gradient step but forgot the soft thresholding at λ/L.": lambda D, X, Z, lam, L: _ista_step(
                D, X, Z, lam, L, threshold=0.0
            ),
        },
        formula="soft_threshold(Z − (1/L)(Z Dᵀ − X) D, λ/L): with rows as signals the gradient of every row at once "
        "is (Z @ D.T − X) @ D.",
        passed="a gradient step of size 1/L, then soft thresholding at λ/L.",
    ),
    Exercise(
        "fista_codes(D, X, lam, n_iter)",
        reference=lambda D, X, lam, n_iter: sparse.fista(D, X, lam, max_iter=n_iter, tol=0),
        cases=_fista_cases,
        atol=1e-6,
        mistakes={
            "that is ISTA: the momentum is missing. Take each step from y = z + ((t − 1)/t_new)(z − z_previous), "
            "with t_new = (1 + √(1 + 4t²))/2 and t starting at 1.": lambda D, X, lam, n_iter: sparse.ista(
                D, X, lam, max_iter=n_iter, tol=0
            ),
            "one step from zero should be soft_threshold(Dᵀx / L, λ/L) with L = torch.linalg.matrix_norm(D, "
            "ord=2) ** 2, the largest eigenvalue of DᵀD (not of D).": lambda D, X, lam, n_iter: sparse.soft_threshold(
                X @ D / torch.linalg.matrix_norm(D, ord=2), lam / torch.linalg.matrix_norm(D, ord=2)
            ),
        },
        formula="n_iter FISTA steps from zero with step 1/L, L = ‖D‖₂² (Beck and Teboulle, 2009).",
        passed="matches FISTA (Beck and Teboulle, 2009) step for step.",
    ),
    Exercise(
        "omp_codes(D, X, n_nonzero)",
        reference=sparse.omp,
        cases=lambda: [
            dict(D=D, X=X, n_nonzero=m)
            for D, X, m in [
                (*_problem(n=30, k=80, batch=6, s=4, seed=3), 1),
                (*_problem(n=30, k=80, batch=6, s=4, seed=3), 4),
                (*_problem(n=20, k=50, batch=4, s=3, seed=6), 3),
            ]
        ],
        atol=1e-6,
        mistakes={
            "you kept each atom's correlation as its coefficient (matching pursuit). OMP refits all chosen atoms "
            "together by least squares after each selection: torch.linalg.lstsq(D[:, S], x).": _matching_pursuit,
            "pick the atom with the largest |correlation| with the current residual: a large negative "
            "correlation counts too.": _omp_by_signed_correlation,
        },
        formula="greedy selection by |correlation| with the residual, then a least-squares refit on the chosen atoms.",
        passed="the same atoms and least-squares coefficients as Batch-OMP.",
    ),
    Exercise(
        "recovery_rate(delta, rho, N, trials, generator=None)",
        reference=_recovery_rate,
        # δ = 0.9, ρ = 0.45 lies below the curve (ρ(0.9) ≈ 0.68): over 12 seeds 85–95% recovered, against
        # 22–53% when δ is read as 0.5 (above ρ(0.5) ≈ 0.39)
        cases=lambda: [
            dict(delta=0.5, rho=0.2, N=60, trials=20),
            dict(delta=0.5, rho=0.8, N=60, trials=20),
            dict(delta=0.9, rho=0.45, N=50, trials=30),
        ],
        returns="number",
        statistics=lambda rate: rate.reshape(-1),
        statistic_names=("the share of vectors recovered",),
        atol=0.2,  # over 10 seeds the rate spreads over 0.95–1 below the curve; ρ per unknown gives 0.35–0.6
        mistakes={
            "ρ counts nonzeros per measurement, not per unknown: take n = round(δN) measurements and "
            "s = round(ρn) nonzeros.": lambda delta, rho, N, trials, generator=None: _recovery_rate(
                delta, rho, N, trials, generator, True
            ),
        },
        formula="far below the curve ρ(δ) nearly every vector is recovered, far above it almost none: n = round(δN), "
        "s = round(ρn), success when ‖ẑ − z‖ ≤ 0.01‖z‖.",
        passed="recovered below the curve, not above it.",
    ),
)
