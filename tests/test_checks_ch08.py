"""Chapter 08 checks: each reference passes, each plausible wrong answer fails naming its mistake."""

import pytest
import torch

from superpose_lib.checks import ch08
from superpose_lib.checks._common import _REFERENCES
from superpose_lib.sparse import fista, ista, omp


def stub(*args, **kwargs):
    raise NotImplementedError


def named(fn, name):
    fn.__name__ = name
    return fn


@pytest.mark.parametrize("name", ["soft_threshold", "ista_step", "fista_codes", "omp_codes", "recovery_rate"])
def test_reference_passes_and_stub_is_not_implemented(name, capsys):
    getattr(ch08, f"check_{name}")(_REFERENCES[name])
    assert "✓" in capsys.readouterr().out
    with pytest.raises(NotImplementedError, match="not implemented yet"):
        getattr(ch08, f"check_{name}")(named(stub, name))


@pytest.mark.parametrize(
    "wrong, message",
    [
        (lambda v, t: v * (v.abs() > t), "hard thresholding"),
        (lambda v, t: torch.clamp(v - t, min=0), "keep the sign"),
        (lambda v, t: v - t * torch.sign(v), "cross zero"),
        (lambda v, t: v, r"expected"),
        (lambda v, t: None, "return"),
    ],
)
def test_soft_threshold_mistakes(wrong, message):
    with pytest.raises(AssertionError, match=message):
        ch08.check_soft_threshold(wrong)


def soft(v, t):
    return torch.sign(v) * torch.clamp(v.abs() - t, min=0)


@pytest.mark.parametrize(
    "wrong, message",
    [
        (lambda D, X, Z, lam, L: soft(Z - (Z @ D.T - X) @ D / L, lam), "thresholded at λ"),
        (lambda D, X, Z, lam, L: soft(Z + (Z @ D.T - X) @ D / L, lam / L), "uphill"),
        (lambda D, X, Z, lam, L: soft(Z - (Z @ D.T - X) @ D, lam / L), "full gradient step"),
        (lambda D, X, Z, lam, L: Z - (Z @ D.T - X) @ D / L, "forgot the soft thresholding"),
        (lambda D, X, Z, lam, L: soft(Z - (Z @ D.T - X) @ D.T.T / L, lam / L) * 2, "does not match"),
    ],
)
def test_ista_step_mistakes(wrong, message):
    with pytest.raises(AssertionError, match=message):
        ch08.check_ista_step(wrong)


def fista_wrong_momentum(D, X, lam, n_iter):
    L = torch.linalg.matrix_norm(D, ord=2).item() ** 2
    Z = torch.zeros(X.shape[0], D.shape[1], dtype=X.dtype)
    Y, t = Z.clone(), 1.0
    for _ in range(n_iter):
        Z_new = soft(Y - (Y @ D.T - X) @ D / L, lam / L)
        t = (1 + (1 + 4 * t * t) ** 0.5) / 2  # updated too early
        Y = Z_new + ((t - 1) / t) * (Z_new - Z)
        Z = Z_new
    return Z


def fista_wrong_lipschitz(D, X, lam, n_iter):
    L = torch.linalg.matrix_norm(D, ord=2).item()  # ‖D‖₂, not its square
    return soft((X @ D) / L, lam / L) if n_iter == 1 else fista(D, X, lam, max_iter=n_iter, tol=0)


@pytest.mark.parametrize(
    "wrong, message",
    [
        (lambda D, X, lam, n: ista(D, X, lam, max_iter=n, tol=0), "momentum is missing"),
        (fista_wrong_momentum, "momentum coefficient"),
        (fista_wrong_lipschitz, "largest eigenvalue"),
    ],
)
def test_fista_mistakes(wrong, message):
    with pytest.raises(AssertionError, match=message):
        ch08.check_fista_codes(wrong)


def matching_pursuit(D, X, m):
    residual, Z = X.clone(), torch.zeros(X.shape[0], D.shape[1], dtype=X.dtype)
    for _ in range(m):
        corr = residual @ D
        j = corr.abs().argmax(dim=1)
        c = corr.gather(1, j[:, None]).squeeze(1)
        Z[torch.arange(len(j)), j] += c
        residual = residual - c[:, None] * D[:, j].T
    return Z


def omp_signed(D, X, m):
    Z = torch.zeros(X.shape[0], D.shape[1], dtype=X.dtype)
    for row, x in enumerate(X):
        support, r = [], x.clone()
        for _ in range(m):
            support.append(int((r @ D).argmax()))
            coef = torch.linalg.lstsq(D[:, support], x.unsqueeze(1)).solution.squeeze(1)
            r = x - D[:, support] @ coef
        Z[row, support] = coef
    return Z


@pytest.mark.parametrize(
    "wrong, message",
    [
        (matching_pursuit, "matching pursuit"),
        (omp_signed, "absolute value"),
        (lambda D, X, m: omp(D, X, m) * 1.1, "not the least-squares coefficients"),
        (lambda D, X, m: omp(D, X, min(m + 2, 10)), "nonzeros"),
    ],
)
def test_omp_mistakes(wrong, message):
    with pytest.raises(AssertionError, match=message):
        ch08.check_omp_codes(wrong)


def rate_with(s_of, success=True, use_generator=True):
    def recovery_rate(delta, rho, N, trials, generator=None):
        gen = generator if use_generator else None
        n = max(2, round(delta * N))
        s = s_of(rho, n, N)
        A = torch.randn(n, N, generator=gen, dtype=torch.float64)
        A = A / A.norm(dim=0, keepdim=True)
        Z = torch.zeros(trials, N, dtype=torch.float64)
        for row in Z:
            row[torch.randperm(N, generator=gen)[:s]] = torch.randn(s, generator=gen, dtype=torch.float64)
        from superpose_lib.sparse import lasso

        Z_hat = lasso(A, Z @ A.T, 1e-3)
        ok = (Z_hat - Z).norm(dim=1) <= 1e-2 * Z.norm(dim=1)
        return float(ok.double().mean()) if success else 1.0

    return recovery_rate


@pytest.mark.parametrize(
    "wrong, message",
    [
        (rate_with(lambda rho, n, N: max(1, round(rho * N))), "not per unknown"),
        (rate_with(lambda rho, n, N: max(1, round(rho * n)), success=False), "far above the curve"),
        (rate_with(lambda rho, n, N: max(1, round(rho * n)), use_generator=False), "ignores its generator"),
        (lambda delta, rho, N, trials, generator=None: 3.0, "fraction between 0 and 1"),
    ],
)
def test_recovery_rate_mistakes(wrong, message):
    torch.manual_seed(0)  # the generator-ignoring answer draws from the global generator
    with pytest.raises(AssertionError, match=message):
        ch08.check_recovery_rate(wrong)
