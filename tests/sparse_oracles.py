"""Independent checks of sparse codes for tests/test_sparse_*.py: the Lasso's optimality (KKT) conditions and
objective in float64, and scikit-learn's best answer to the same problem.

Every check recomputes from (D, X, Z) in float64 with the plain formulas, never through the library's code.
"""

from __future__ import annotations

import warnings

import numpy as np
import torch
from sklearn.decomposition import sparse_encode
from sklearn.linear_model import Lasso

# Tolerances of the checks, by the dtype the codes were computed in. KKT: relative to λ + max|Dᵀx| + ‖z‖₁
# (computing Dᵀ(x − Dz) errs by a few units of rounding times that); objective: relative to the reference's.
KKT_TOL = {torch.float64: 1e-9, torch.float32: 1e-4}
OBJECTIVE_TOL = {torch.float64: 1e-9, torch.float32: 1e-5}


def unit_columns(A) -> torch.Tensor:
    """A float64 dictionary with A's columns scaled to unit norm (the solvers' contract: atoms are columns)."""
    A = torch.as_tensor(np.asarray(A, dtype=np.float64))
    return A / A.norm(dim=0, keepdim=True)


def rows(X) -> torch.Tensor:
    """Signals as a float64 (batch, n) tensor."""
    X = torch.as_tensor(np.asarray(X, dtype=np.float64))
    return X.unsqueeze(0) if X.ndim == 1 else X


def objective(D, X, Z, lam) -> torch.Tensor:
    """½‖x − D z‖² + λ‖z‖₁ per row, in float64."""
    D, X, Z = D.double(), rows(X), rows(Z.double())
    return 0.5 * ((X - Z @ D.T) ** 2).sum(dim=1) + lam * Z.abs().sum(dim=1)


def kkt_violation(D, X, Z, lam, nonnegative=False) -> torch.Tensor:
    """Per row, the largest violation of the Lasso's optimality conditions, relative to λ + max|Dᵀx| + ‖z‖₁.

    With c = Dᵀ(x − D z): |c_j| ≤ λ everywhere (c_j ≤ λ and z_j ≥ 0 when nonnegative), and c_j = λ·sign(z_j)
    on the support."""
    D, X, Z = D.double(), rows(X), rows(Z.double())
    if D.shape[1] == 0:  # no atoms: nothing to violate
        return torch.zeros(X.shape[0], dtype=torch.float64)
    c = (X - Z @ D.T) @ D
    top = c.amax(dim=1) if nonnegative else c.abs().amax(dim=1)
    excess = (top - lam).clamp_min(0)
    off = torch.where(Z != 0, (c - lam * torch.sign(Z)).abs(), 0.0).amax(dim=1)
    excess = torch.maximum(excess, off)
    if nonnegative:
        excess = torch.where((Z < 0).any(dim=1), torch.inf, excess)
    scale = lam + (X @ D).abs().amax(dim=1) + Z.abs().sum(dim=1)
    return excess / scale


def sklearn_lasso(D, X, lam, positive=False) -> torch.Tensor:
    """scikit-learn's coordinate descent, ``Lasso(alpha = λ / n)`` with a tight tolerance, one signal at a time."""
    D, X = D.double(), rows(X)
    n = D.shape[0]
    codes = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ConvergenceWarning on the hard inputs: the comparison says how close
        for x in X.numpy():
            model = Lasso(alpha=lam / n, fit_intercept=False, tol=1e-14, max_iter=200_000, positive=positive)
            codes.append(model.fit(D.numpy(), x).coef_)
    return torch.tensor(np.array(codes)).reshape(X.shape[0], D.shape[1])


def sklearn_lars(D, X, lam, positive=False) -> torch.Tensor:
    """scikit-learn's LARS-Lasso, ``sparse_encode(X, Dᵀ, algorithm="lasso_lars", alpha=λ)``."""
    D, X = D.double(), rows(X)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "Regressors in active set degenerate" on duplicate atoms
        codes = sparse_encode(X.numpy(), D.T.numpy(), algorithm="lasso_lars", alpha=lam, positive=positive)
    return torch.tensor(codes)


def sklearn_best_objective(D, X, lam, positive=False) -> torch.Tensor:
    """Per row, the lower of the objectives that scikit-learn's coordinate descent and LARS reach."""
    return torch.minimum(
        objective(D, X, sklearn_lasso(D, X, lam, positive), lam),
        objective(D, X, sklearn_lars(D, X, lam, positive), lam),
    )


def assert_exact_lasso(D, X, Z, lam, nonnegative=False, dtype=torch.float64, reference=None):
    """The codes meet the KKT conditions, and their objective is no worse than scikit-learn's best."""
    violation = kkt_violation(D, X, Z, lam, nonnegative)
    assert (violation <= KKT_TOL[dtype]).all(), f"KKT violated by up to {violation.max().item():.3g}"
    if reference is None:
        reference = sklearn_best_objective(D, X, lam, nonnegative)
    ours = objective(D, X, Z, lam)
    gap = (ours - reference) / reference.clamp_min(1e-300)
    assert (gap <= OBJECTIVE_TOL[dtype]).all(), f"objective above scikit-learn's by up to {gap.max().item():.3g}"
