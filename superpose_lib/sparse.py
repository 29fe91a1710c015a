"""Sparse recovery: batched Lasso and OMP solvers, and the L1 phase transition.

Every solver shares one signature: a dictionary ``D`` of shape (n, k) whose **columns** are unit-norm atoms,
signals ``X`` of shape (batch, n) (or one signal of shape (n,)), and codes of shape (batch, k) (or (k,)), so
that ``X ≈ Z @ D.T``. The Lasso solvers (`ista`, `fista`, `lasso`) minimise, for each signal x separately,

.. math:: F(z) = \\tfrac12 \\lVert x - D z \\rVert_2^2 + \\lambda \\lVert z \\rVert_1 .

**How λ relates to scikit-learn.** ``sklearn.decomposition.sparse_encode(X, D.T, alpha=λ)`` with
``algorithm="lasso_cd"`` or ``"lasso_lars"`` minimises exactly F (it divides alpha by n internally), so its
``alpha`` *is* our ``lam``. ``sklearn.linear_model.Lasso`` minimises ``(1 / (2 n)) ‖x − D z‖² + α ‖z‖₁``
(n = len(x), the number of "samples"), so ``Lasso(alpha=lam / n)`` has the same minimiser.

Everything runs on the CPU by default; pass ``device="cuda"`` to solve on a GPU. Codes come back in the dtype
of ``D`` and ``X``. `ista`, `fista` and `omp` compute in it (float32 unless you pass float64; use float64 when
you need objectives to 1e-8), `lasso`, which promises the exact optimum, computes in float64 whatever it is
given; half precision (float16, bfloat16) is computed in float32 (`lasso`: float64) and rounded.

**Exact where it says so.** `lasso` checks the optimality conditions of every code it returns, and `omp` the
stops it was asked for; a signal they could not solve as promised gets a RuntimeWarning that names its row and
says by how much (never a silently inexact answer). `ista` and `fista` are iterative: they stop at `tol` or
`max_iter` and promise the bounds in their docstrings, not the optimum.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import torch
from tqdm.auto import tqdm

from . import _validate, engine
from .environment import cpu_threads

__all__ = [
    "ista",
    "fista",
    "lasso",
    "omp",
    "lasso_objective",
    "soft_threshold",
    "l1_phase_transition",
    "update_dictionary",
    "resample_unused",
]

_OMP_FLOOR = 64.0  # see omp: residual correlations below 64 · eps · ‖x‖ are rounding
_NORM_TOL = {torch.float64: 1e-6, torch.float32: 1e-3, torch.float16: 1e-2, torch.bfloat16: 1e-2}


# --- argument checks ---------------------------------------------------------------------------------------


# The declarations the solvers share: a dictionary (n, k) with atoms as columns, signals (batch, n) or (n,), and
# the L1 weight (at most 1e30, so that its products with the codes stay finite).
_D = _validate.Tensor(ndim=2)
_X = _validate.Tensor(ndim=(1, 2))
_LAM = _validate.Real(0, 1e30)
_TOL = _validate.Real(0)  # 0 runs every iteration
_DEVICE = _validate.Optional(_validate.Device(), none="None (where D is)")
# The solvers' D and X are data (no solver differentiates through them): a tensor that requires grad is detached.
_D_DATA = _validate.Tensor(ndim=2, detach=True)
_X_DATA = _validate.Tensor(ndim=(1, 2), detach=True)
_SOLVER = {"D": _D_DATA, "X": _X_DATA, "lam": _LAM, "device": _DEVICE}


def _prepare(D: torch.Tensor, X: torch.Tensor, device, name: str = "X"):
    """Check a declared dictionary and signals against each other; return (D, X2, single, out_dtype): D and X2 on
    the device in the dtype to compute in (their common dtype, float32 for half precision), `out_dtype` the dtype
    to answer in."""
    n, k = D.shape
    single = X.ndim == 1
    X2 = X.unsqueeze(0) if single else X
    if X2.shape[1] != n:
        hint = ""
        if X2.shape[1] == k:
            hint = " (it matches the number of atoms k: did you pass codes instead of signals?)"
        elif X2.shape[0] == n:
            hint = " (its first axis matches n: pass the signals as rows, X of shape (batch, n), i.e. X.T)"
        raise ValueError(
            f"{name} must have shape (batch, n) = (batch, {n}) to match D of shape (n, k) = {tuple(D.shape)}, "
            f"got {tuple(X.shape)}{hint}"
        )
    dtype = torch.promote_types(D.dtype, X2.dtype)
    dev = device if device is not None else D.device
    # Half precision (float16, bfloat16) is accepted and answered in its own dtype, but computed in float32:
    # several kernels (sparse products, NumPy's argmax) have no half-precision version, and 3 significant
    # digits cannot tell an optimum from its neighbours anyway.
    compute = torch.float32 if dtype in (torch.float16, torch.bfloat16) else dtype
    D = D.to(device=dev, dtype=compute)
    X2 = X2.to(device=dev, dtype=compute)
    if not _all_finite(D) or not _all_finite(X2):
        raise ValueError("D and X must be finite (no NaN or inf entries)")
    norms = D.norm(dim=0)  # (k,)
    tol = _NORM_TOL.get(dtype, 1e-3)
    if norms.numel() and (norms - 1).abs().max() > tol:  # (no atoms: nothing to check)
        rows = D.norm(dim=1)
        hint = (
            " Its rows have unit norm: atoms must be the columns, so pass D.T (scikit-learn stores atoms as rows)."
            if D.shape[0] > 0 and (rows - 1).abs().max() <= tol
            else " Normalise the atoms with D = D / D.norm(dim=0, keepdim=True)."
        )
        raise ValueError(
            f"D's columns (the atoms) must have unit norm, got norms between {norms.min().item():.4g} "
            f"and {norms.max().item():.4g}.{hint}"
        )
    return D, X2, single, dtype


_all_finite = _validate.finite_tensor


def _out(Z, single):
    return Z[0] if single else Z


# --- building blocks ----------------------------------------------------------------------------------------


@_validate.arguments(
    v=_validate.Tensor(),
    threshold=_validate.Either(_validate.Real(0), _validate.Tensor(nonnegative=True)),
    nonnegative=_validate.Flag(),
)
def soft_threshold(v, threshold, *, nonnegative: bool = False) -> torch.Tensor:
    """The proximal operator of ``threshold · ‖·‖₁``: shrink every entry towards 0 by `threshold`.

    ``soft_threshold(v, t) = sign(v) · max(|v| − t, 0)``; with ``nonnegative=True`` it is ``max(v − t, 0)``,
    the proximal operator of ``t‖·‖₁`` plus the constraint z ≥ 0.

    Examples
    --------
    >>> soft_threshold(torch.tensor([-2.0, -0.5, 0.3, 1.5]), 1.0)
    tensor([-1.0000, -0.0000,  0.0000,  0.5000])
    """
    if isinstance(threshold, torch.Tensor):
        try:
            torch.broadcast_shapes(threshold.shape, v.shape)
        except RuntimeError:
            raise ValueError(f"threshold must be a number or a tensor that broadcasts to v's shape {tuple(v.shape)}, "
                             f"got shape {tuple(threshold.shape)}") from None  # fmt: skip
    return _shrink(v, threshold, nonnegative)


def _shrink(v: torch.Tensor, threshold, nonnegative: bool) -> torch.Tensor:  # soft_threshold, arguments checked
    if nonnegative:
        return torch.clamp(v - threshold, min=0)
    return torch.sign(v) * torch.clamp(v.abs() - threshold, min=0)


@_validate.arguments(D=_D, X=_X, Z=_validate.Tensor(ndim=(1, 2)), lam=_LAM)
def lasso_objective(D, X, Z, lam) -> torch.Tensor:
    """The Lasso objective ``½‖x − D z‖² + λ‖z‖₁`` of every code, shape (batch,) (or a scalar for one signal).

    Examples
    --------
    >>> D = torch.eye(2)
    >>> lasso_objective(D, torch.tensor([1.0, 0.0]), torch.tensor([0.5, 0.0]), lam=0.5).item()
    0.375
    """
    D, X2, single, out_dtype = _prepare(D, X, None)
    Z = Z.to(device=D.device, dtype=D.dtype)
    Z2 = Z.unsqueeze(0) if Z.ndim == 1 else Z
    if Z2.shape != (X2.shape[0], D.shape[1]):
        raise ValueError(f"Z must have shape (batch, k) = {(X2.shape[0], D.shape[1])} to match X's rows and D's "
                         f"columns, got {tuple(Z.shape)}")  # fmt: skip
    value = 0.5 * ((X2 - Z2 @ D.T) ** 2).sum(dim=1) + lam * Z2.abs().sum(dim=1)
    value = value.to(out_dtype)
    return value[0] if single else value


def _rows_times_gram(idx, values, G, minus_from, inplace=False) -> torch.Tensor:
    """(b, k) = minus_from − Σ_s values[:, s] · G[idx[:, s], :], into `minus_from` itself when `inplace`.

    On the CPU each row reads its s rows of G from cache, much faster than gathering the (b, s, k) rows:
    through `embedding_bag` in float32 and a sparse (CSR) times dense `torch.addmm` otherwise (each the
    faster one there). Free slots carry the value 0 (their atom index may repeat a used one: the duplicates
    add 0).
    """
    if idx.device.type != "cpu":
        # On a GPU the dense product is cheap, and the CSR one is unsafe: with torch 2.11 on CUDA it read a
        # column-index view with a stride (the (b, 1) slice idx[:, :1] of a wider array) as if it were
        # contiguous, and OMP lost atoms. So the values are scattered into a dense (b, k) matrix.
        # (contiguous copies: callers may pass transposed views, and that CSR bug was about strides)
        dense = torch.zeros(minus_from.shape, dtype=values.dtype, device=values.device)
        dense.scatter_add_(1, idx.contiguous(), values.contiguous())
        if inplace:
            return minus_from.addmm_(dense, G, alpha=-1)
        return torch.addmm(minus_from, dense, G, alpha=-1)
    if values.dtype == torch.float32:
        rows = torch.nn.functional.embedding_bag(idx, G, per_sample_weights=values, mode="sum")
        return minus_from.sub_(rows) if inplace else minus_from - rows
    b, s = idx.shape
    crow = torch.arange(0, b * s + 1, s, device=idx.device)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "sparse CSR support is in beta state"
        cols, vals = idx.reshape(-1).contiguous(), values.reshape(-1).contiguous()
        sparse = torch.sparse_csr_tensor(crow, cols, vals, size=(b, G.shape[0]))
        if inplace:
            return minus_from.addmm_(sparse, G, alpha=-1)
        return torch.addmm(minus_from, sparse, G, alpha=-1)


def _row_max(t: torch.Tensor, absolute: bool = False):
    """Each row's largest entry and its column, as ``t.max(dim=1)``; with `absolute`, each row's entry of
    largest magnitude (with its sign) and its column. On the CPU through NumPy's argmax (and argmin), many
    times faster than torch's max-with-indices over a (b, k) array, and without a (b, k) temporary for |t|.
    NaN counts as the largest."""
    if t.device.type == "cpu" and t.is_contiguous() and t.dtype in (torch.float32, torch.float64):
        a = t.detach().numpy()  # (a solver's input may require grad; the codes it returns do not)
        rows = np.arange(a.shape[0])
        j = a.argmax(axis=1)
        value = a[rows, j]
        if absolute:  # the largest |entry| is the largest entry or the smallest one
            j_low = a.argmin(axis=1)
            low = a[rows, j_low]
            take_low = -low > value
            j, value = np.where(take_low, j_low, j), np.where(take_low, low, value)
        return torch.from_numpy(value), torch.from_numpy(j)
    if absolute:
        j = t.abs().argmax(dim=1)
        return t.gather(1, j.unsqueeze(1)).squeeze(1), j
    return t.max(dim=1)


def _lipschitz(D) -> float:
    """L = ‖D‖₂², the Lipschitz constant of the gradient of ½‖x − D z‖²."""
    return float(torch.linalg.matrix_norm(D.double(), ord=2) ** 2)


# --- ISTA and FISTA -----------------------------------------------------------------------------------------


def _proximal_gradient(D, X, lam, max_iter, tol, nonnegative, z0, device, return_objective, momentum, progress):
    D, X2, single, out_dtype = _prepare(D, X, device)
    n, k = D.shape
    batch = X2.shape[0]
    L = _lipschitz(D) if k > 0 else 0.0
    step = 1.0 / L if L > 0 else 1.0
    use_gram = k <= 2 * n  # (batch, k) @ (k, k) is cheaper than two products with D when k is small
    if use_gram:
        G, C = D.T @ D, X2 @ D  # (k, k), (batch, k)
    if z0 is None:
        Z = torch.zeros(batch, k, dtype=D.dtype, device=D.device)
    else:
        Z = z0.to(device=D.device, dtype=D.dtype)
        Z = Z.unsqueeze(0) if Z.ndim == 1 else Z.clone()
        if Z.shape != (batch, k):
            raise ValueError(f"z0 must have shape (batch, k) = {(batch, k)}, got {tuple(z0.shape)}")
    Y, t = Z.clone(), 1.0

    def objective(Z):  # (batch,) F(z) for every signal, without re-validating the arguments
        return 0.5 * ((X2 - Z @ D.T) ** 2).sum(dim=1) + lam * Z.abs().sum(dim=1)

    history = [objective(Z)] if return_objective else None
    bar = tqdm(range(max_iter), desc="fista" if momentum else "ista", disable=not progress)
    for _ in bar:
        grad = Y @ G - C if use_gram else (Y @ D.T - X2) @ D  # (batch, k)
        Z_new = _shrink(Y - step * grad, step * lam, nonnegative)
        if momentum:
            t_new = (1 + math.sqrt(1 + 4 * t * t)) / 2
            Y = Z_new + ((t - 1) / t_new) * (Z_new - Z)
            t = t_new
        else:
            Y = Z_new
        change = (Z_new - Z).norm(dim=1)  # (batch,)
        Z = Z_new
        if return_objective:
            history.append(objective(Z))
        if tol > 0 and bool((change <= tol * Z.norm(dim=1).clamp_min(1e-12)).all()):
            break
    bar.close()
    Z = _out(Z.to(out_dtype), single)
    if return_objective:
        objective = torch.stack(history).to(out_dtype)  # (iterations + 1, batch)
        return Z, objective[:, 0] if single else objective
    return Z


# ISTA's and FISTA's arguments, declared once
_PROXIMAL = dict(
    **_SOLVER,
    max_iter=_validate.Int(0),
    tol=_TOL,
    nonnegative=_validate.Flag(),
    z0=_validate.Optional(_validate.Tensor(ndim=(1, 2))),
    return_objective=_validate.Flag(),
    progress=_validate.Flag(),
)


@_validate.arguments(**_PROXIMAL)
def ista(D, X, lam, *, max_iter=1000, tol=1e-6, nonnegative=False, z0=None, device=None, return_objective=False,
         progress=False):  # fmt: skip
    """Batched ISTA (iterative shrinkage-thresholding) for the Lasso.

    Minimises, for every signal x (a row of `X`) separately,
    ``F(z) = ½‖x − D z‖² + λ‖z‖₁`` (λ = `lam`), by the proximal gradient step with step 1/L, L = ‖D‖₂²::

        z ← soft_threshold(z − (1/L) Dᵀ(D z − x), λ/L)

    λ equals ``alpha`` of ``sklearn.decomposition.sparse_encode(X, D.T, algorithm="lasso_cd")`` and
    ``n · alpha`` of ``sklearn.linear_model.Lasso`` (n = the signal length). After t steps from z₀,
    ``F(z_t) − F* ≤ L‖z₀ − z*‖² / (2t)`` (Beck and Teboulle, 2009).

    Parameters
    ----------
    D : tensor (n, k)
        Dictionary with unit-norm atoms as columns (a ValueError otherwise).
    X : tensor (batch, n) or (n,)
        Signals, one per row.
    lam : float
        Weight λ ≥ 0 of the L1 penalty.
    max_iter : int
        Maximum number of steps.
    tol : float
        Stop once every code changes by at most ``tol · ‖z‖`` in one step (0: run all `max_iter` steps).
    nonnegative : bool
        Constrain the codes to z ≥ 0.
    z0 : tensor (batch, k), optional
        Starting codes (zeros by default).
    device : str or torch.device, optional
        Where to compute (default: where D is, the CPU unless you moved it).
    return_objective : bool
        Also return F at every iterate, shape (iterations + 1, batch).
    progress : bool
        Show a tqdm bar over the iterations (for a long solve; it can be interrupted).

    Returns
    -------
    Z : tensor (batch, k) or (k,)
        The codes, with ``X ≈ Z @ D.T``.

    Examples
    --------
    >>> D = torch.eye(3)
    >>> ista(D, torch.tensor([[2.0, -0.5, 0.0]]), lam=1.0)
    tensor([[1., -0., 0.]])
    """
    return _proximal_gradient(D, X, lam, max_iter, tol, nonnegative, z0, device, return_objective, False, progress)


@_validate.arguments(**_PROXIMAL)
def fista(D, X, lam, *, max_iter=1000, tol=1e-6, nonnegative=False, z0=None, device=None, return_objective=False,
          progress=False):  # fmt: skip
    """Batched FISTA: ISTA with Nesterov's momentum (Beck and Teboulle, 2009).

    Minimises, for every signal x (a row of `X`) separately, ``F(z) = ½‖x − D z‖² + λ‖z‖₁`` (λ = `lam`).
    Each step takes the ISTA step from an extrapolated point y instead of from z::

        z_new = soft_threshold(y − (1/L) Dᵀ(D y − x), λ/L)
        t_new = (1 + √(1 + 4t²)) / 2,    y = z_new + ((t − 1)/t_new)(z_new − z)

    which improves the guarantee to ``F(z_t) − F* ≤ 2L‖z₀ − z*‖² / (t + 1)²``. λ equals ``alpha`` of
    ``sklearn.decomposition.sparse_encode(X, D.T, algorithm="lasso_cd")`` and ``n · alpha`` of
    ``sklearn.linear_model.Lasso`` (n = the signal length).

    Parameters and return value are those of `ista`.

    Examples
    --------
    >>> D = torch.eye(3)
    >>> fista(D, torch.tensor([2.0, -0.5, 0.0]), lam=1.0)
    tensor([1., -0., 0.])
    """
    return _proximal_gradient(D, X, lam, max_iter, tol, nonnegative, z0, device, return_objective, True, progress)


# --- the fast path: batched homotopy ------------------------------------------------------------------------


@_validate.arguments(
    **_SOLVER,
    nonnegative=_validate.Flag(),
    max_steps=_validate.Optional(_validate.Int(1)),
    return_events=_validate.Flag(),
)
def lasso(D, X, lam, *, nonnegative=False, max_steps=None, device=None, return_events=False):
    """The exact Lasso solution for many signals at once, by batched homotopy (the LARS-Lasso path).

    Minimises, for every signal x (a row of `X`) separately, ``F(z) = ½‖x − D z‖² + λ‖z‖₁`` (λ = `lam`).
    λ equals ``alpha`` of ``sklearn.decomposition.sparse_encode(X, D.T, algorithm="lasso_cd" or
    "lasso_lars")`` and ``n · alpha`` of ``sklearn.linear_model.Lasso`` (n = the signal length).

    The solution is piecewise linear in λ (Osborne, Presnell and Turlach, 2000; Efron et al., 2004). Starting
    from z = 0 at λ₀ = max_j |d_jᵀ x|, the path keeps the active atoms' correlations at ±λ and moves to the
    next event (an atom enters, or a coefficient hits zero and leaves) until it reaches `lam`. Every signal
    walks its own path, all of them in one batch: each step costs a rank-one update of the inverse of the
    active atoms' Gram block and one product with rows of the precomputed Gram matrix DᵀD, and a code with s
    nonzeros needs about s steps, so sparse codes cost far less than hundreds of ISTA/FISTA iterations; rows
    leave the batch as their paths end. The codes are computed in float64 whatever the input dtype, and
    answered in it (float32 codes are the float64 optimum rounded: on an ill-conditioned dictionary no float32
    computation gets near the optimum); on the CPU the next event is looked for in float32 (half the memory
    traffic), exactly on the final support. The result is exact up to rounding: the optimality (KKT)
    conditions are checked in float64 at the end, to 1e-10 relative to λ + max_j |d_jᵀx| + ‖z‖₁. A signal
    that fails them walks its path again in float64, and one that still fails (degenerate dictionaries:
    duplicate atoms, ties, ill-conditioned active sets) is solved by an exact active-set method
    (Lawson–Hanson) and checked again; a signal that fails even then gets a RuntimeWarning that names its
    row and says by how much. (For λ below about 1e-10 · (max_j |d_jᵀx| + ‖z‖₁) the check's tolerance
    exceeds λ itself: such codes are optimal to that rounding, not to a relative 1e-10 of λ.)

    Parameters
    ----------
    D : tensor (n, k)
        Dictionary with unit-norm atoms as columns.
    X : tensor (batch, n) or (n,)
        Signals, one per row.
    lam : float
        Weight λ > 0 of the L1 penalty.
    nonnegative : bool
        Constrain the codes to z ≥ 0.
    max_steps : int, optional
        Maximum number of path events per signal (default ``2 · min(n, k) + 10``); a signal that needs more
        is finished by the active-set method.
    device : str or torch.device, optional
        Where to compute (default: where D is).
    return_events : bool
        Also return how many events each signal's path took from λ₀ down to `lam`: the kinks of the path.

    Returns
    -------
    Z : tensor (batch, k) or (k,)
    events : int64 tensor (batch, 2) or (2,), only with ``return_events=True``
        Per signal, the number of entries (atoms joining the active set, the first one at λ₀ included) and of
        exits (atoms leaving it). A signal with ``lam ≥ λ₀`` has none; one whose path had to be finished by the
        active-set method (degenerate dictionaries) gets -1 in both.

    Examples
    --------
    >>> D = torch.eye(3, dtype=torch.float64)
    >>> lasso(D, torch.tensor([[2.0, -0.5, 0.0]], dtype=torch.float64), lam=1.0)
    tensor([[1., 0., 0.]], dtype=torch.float64)
    >>> lasso(D, torch.tensor([2.0, -1.5, 0.5], dtype=torch.float64), lam=1.0, return_events=True)[1]
    tensor([2, 0])
    """
    D, X2, single, out_dtype = _prepare(D, X, device)
    if lam == 0:
        raise ValueError("lasso needs lam > 0 (for lam = 0 use least squares, or omp for a sparse fit)")
    n, k = D.shape
    events = torch.zeros(X2.shape[0], 2, dtype=torch.long, device=X2.device)  # (batch, 2): entries, exits
    if k == 0 or X2.shape[0] == 0:  # no atoms (the code is empty) or no signals
        return _lasso_out(X2.new_zeros(X2.shape[0], k, dtype=out_dtype), events, single, return_events)
    max_steps = 2 * min(n, k) + 10 if max_steps is None else max_steps
    D, X2 = D.double(), X2.double()  # (exact answers need float64 arithmetic; see the docstring)
    G = D.T @ D  # (k, k)
    C0 = X2 @ D  # (batch, k): correlations of each atom with each signal
    # The events are found in float32 on the CPU (half the memory traffic; the codes themselves stay float64).
    # Rows whose float64 optimality check then fails walk again in float64.
    scan = torch.float32 if G.device.type == "cpu" else G.dtype
    support = []  # the homotopy lists where the codes are nonzero, which saves the check a search
    counts = events if return_events else None  # (counting costs two indexed additions per step)
    Z, failed = _homotopy(G, C0, lam, nonnegative, max_steps, scan, support, counts)
    bad_rows = failed | ~_kkt_holds(G, C0, Z, lam, nonnegative, support)
    if scan != G.dtype and bool(bad_rows.any()):
        again = events.new_zeros(int(bad_rows.sum()), 2) if return_events else None
        Z[bad_rows], failed[bad_rows] = _homotopy(G, C0[bad_rows], lam, nonnegative, max_steps, G.dtype, None, again)
        if return_events:
            events[bad_rows] = again
        bad_rows = failed | ~_kkt_holds(G, C0, Z, lam, nonnegative)
    if bool(bad_rows.any()):  # degenerate paths (ties, duplicate atoms, ill-conditioned active sets)
        rows = bad_rows.nonzero().squeeze(1)
        Z[rows] = _active_set_lasso(G, C0[rows], Z[rows], lam, nonnegative)
        events[rows] = -1  # (the path was not walked to its end)
        violation = _kkt_violation(G, C0[rows], Z[rows], lam, nonnegative)
        _warn_if_inexact("lasso", rows, violation, _KKT_RTOL)
    return _lasso_out(Z.to(out_dtype), events, single, return_events)


def _lasso_out(Z, events, single, return_events):
    return (_out(Z, single), _out(events.cpu(), single)) if return_events else _out(Z, single)


# The tolerance of the optimality check in float64, relative to the row's scale (see `_kkt_violation`): the
# homotopy's codes meet it with a wide margin (violations near 4e-16 on random dictionaries).
_KKT_RTOL = 1e-10


def _kkt_violation(G, C0, Z, lam, nonnegative, support=None) -> torch.Tensor:
    """Per row, how far the codes are from the Lasso's optimality (KKT) conditions, relative to the row's scale.

    With c = Dᵀ(x − D z) = C0 − G z the conditions are |c_j| ≤ λ for every atom (c_j ≤ λ and z ≥ 0 when
    nonnegative) and c_j = λ·sign(z_j) on the support. The violation is the largest excess, divided by
    λ + max_j |d_jᵀx| + ‖z‖₁: computing c in floating point errs by a few units of rounding times that scale
    (atoms have unit norm, so |G_ij| ≤ 1), so a violation under `_KKT_RTOL` is rounding, and the value is the same
    when x and λ are scaled together.

    `support`, if given, lists tensors of flat indices into Z (row · k + atom) that together hold every
    nonzero of Z exactly once (as `_homotopy` reports them); otherwise the nonzeros are searched for."""
    batch, k = Z.shape
    if support:
        flat = torch.sort(torch.cat(support)).values  # row-major, as a CSR matrix wants
    else:
        flat = Z.reshape(-1).nonzero().squeeze(1)
    r = torch.div(flat, k, rounding_mode="floor")
    z = Z.reshape(-1).take(flat)
    if Z.device.type == "cpu" and Z.dtype in (torch.float32, torch.float64):
        # C0 − Z G through the nonzeros (a CSR matrix built from them directly)
        crow = torch.zeros(batch + 1, dtype=torch.long)
        torch.cumsum(torch.bincount(r, minlength=batch), 0, out=crow[1:])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # "sparse CSR support is in beta state"
            sparse = torch.sparse_csr_tensor(crow, flat - r * k, z, size=(batch, k))
            corr = torch.addmm(C0, sparse, G, alpha=-1)
    else:  # on a GPU the dense product is cheap (and avoids its CSR kernels, see _rows_times_gram)
        corr = C0 - Z @ G
    # (reductions only, no (batch, k) temporaries: max|v| = max(max v, −min v))
    l1 = torch.zeros(batch, dtype=Z.dtype, device=Z.device).index_add_(0, r, z.abs())
    scale = lam + torch.maximum(C0.amax(dim=1), -C0.amin(dim=1)) + l1  # (batch,)
    top = corr.amax(dim=1) if nonnegative else torch.maximum(corr.amax(dim=1), -corr.amin(dim=1))
    excess = (top - lam).clamp_min(0)  # the largest |c| above λ
    off = (corr.reshape(-1).take(flat) - lam * torch.sign(z)).abs()  # |c_j − λ sign z_j| on the support
    excess.scatter_reduce_(0, r, off, reduce="amax")
    if nonnegative:
        excess[r[z < 0]] = math.inf
    return excess / scale.clamp_min(torch.finfo(Z.dtype).tiny)


def _kkt_holds(G, C0, Z, lam, nonnegative, support=None) -> torch.Tensor:
    """Per row: do the codes meet the Lasso's optimality conditions up to rounding (`_kkt_violation`)?"""
    return _kkt_violation(G, C0, Z, lam, nonnegative, support) <= _KKT_RTOL


def _warn_if_inexact(solver: str, rows, violation, rtol) -> None:
    """Say which rows of the batch missed the optimality conditions, and by how much; silent when none did."""
    missed = violation > rtol
    if not bool(missed.any()):
        return
    ids = rows[missed].tolist()
    shown = ", ".join(str(i) for i in ids[:10]) + (", ..." if len(ids) > 10 else "")
    warnings.warn(
        f"{solver}: {len(ids)} signal(s) (rows {shown}) did not reach the optimality conditions: the largest "
        f"violation is {violation[missed].max().item():.3g} times λ + max|Dᵀx| + ‖z‖₁ (tolerance {rtol:g}). "
        "Their codes are the best found, not the exact optimum.",
        RuntimeWarning,
        stacklevel=3,
    )


def _active_set_lasso(G, C0, Z0, lam, nonnegative) -> torch.Tensor:
    """The exact Lasso codes of a few rows that the homotopy could not finish, by an active-set method.

    The plain (non-batched) path for degenerate rows: each row is a small quadratic programme solved in
    float64 with NumPy, whatever the input dtype. Writing z = u⁺ − u⁻ with u = (u⁺, u⁻) ≥ 0 (only u = u⁺ when
    nonnegative), the Lasso is ``min ½ uᵀQu − bᵀu`` over u ≥ 0 with Q = [[G, −G], [−G, G]] and
    b = (c0 − λ, −c0 − λ), which Lawson and Hanson's active-set method (1974) solves exactly in finitely many
    steps: fit the free variables by least squares (minimum-norm, so duplicate atoms are fine), step back to
    the boundary while some free variable would turn negative, then free the variable whose gradient most
    violates the optimality conditions. Starts from the homotopy's codes Z0 (rows × k)."""
    Gn = G.detach().cpu().double().numpy()
    C = C0.detach().cpu().double().numpy()
    start = Z0.detach().cpu().double().numpy()
    out = np.empty_like(start)
    for i in range(C.shape[0]):
        out[i] = _lawson_hanson_row(Gn, C[i], start[i], lam, nonnegative)
    return torch.from_numpy(out).to(device=Z0.device, dtype=Z0.dtype)


def _lawson_hanson_row(G, c0, z0, lam, nonnegative) -> np.ndarray:
    """One row of `_active_set_lasso`: variables v = (atom, sign) with u_v ≥ 0, z = Σ sign · u."""
    k = len(c0)
    signs = np.array([1.0]) if nonnegative else np.array([1.0, -1.0])
    atom = np.tile(np.arange(k), len(signs))  # variable v is atom[v] with sign sgn[v]
    sgn = np.repeat(signs, k)
    u = np.where(sgn * z0[atom] > 0, np.abs(z0[atom]), 0.0)  # the start, split by sign
    free = u > 0
    # the stopping tolerance, a hundredth of the final check's (`_kkt_violation`), relative to the same scale
    rtol, base = 0.01 * _KKT_RTOL, lam + np.abs(c0).max(initial=0.0)

    def z_of(u):
        return np.bincount(atom, weights=sgn * u, minlength=k)

    for _ in range(3 * len(u) + 20):
        u = _fit_free_variables(G, c0, lam, atom, sgn, u, free, rtol, base)
        free = u > 0
        c = c0 - G @ z_of(u)
        gradient = sgn * c[atom] - lam  # −∂/∂u of the objective: positive means u_v should grow
        gradient[free] = -np.inf
        v = int(np.argmax(gradient))
        if gradient[v] <= rtol * (base + u.sum()):
            break
        free[v] = True
    return z_of(u)


def _fit_free_variables(G, c0, lam, atom, sgn, u, free, rtol, base) -> np.ndarray:
    """Lawson–Hanson's inner loop: the minimiser on the free variables, stepping back to the boundary (and
    fixing the variables that reach it at 0) while it would make one of them negative.

    With more free atoms than their span has dimensions (λ > 0 can ask for that on the way) Q_FF is singular
    and Q_FF u = b_F may have no solution: the objective then falls without bound along the least-squares
    residual v = b_F − Q_FF û (Q_FF v = 0, and the objective falls at the rate ‖v‖²), so the step follows v
    until a free variable reaches 0. The same holds when Q_FF is merely too ill-conditioned for float64 (atoms
    that differ by 1e-8): least squares then leaves the equations unmet by more than rtol · (base + ‖u‖₁)
    (they are the optimality conditions on the support), and following v drops one of the near-twins."""
    u = u.copy()
    for _ in range(2 * len(u) + 2):
        idx = np.flatnonzero(free)
        if idx.size == 0:
            return np.zeros_like(u)
        a, s = atom[idx], sgn[idx]
        Q = G[np.ix_(a, a)] * np.outer(s, s)
        b = s * c0[a] - lam
        fit = np.linalg.lstsq(Q, b, rcond=None)[0]
        ray = b - Q @ fit
        # no minimiser on this face (to float64's resolution), and a direction of descent that reaches the boundary
        if np.abs(ray).max() > rtol * (base + np.abs(fit).sum()) and (ray < 0).any():
            low = np.flatnonzero(ray < 0)
            ratios = u[idx[low]] / -ray[low]
            direction = ray
        elif np.all(fit > 0):
            u[:] = 0.0
            u[idx] = fit
            return u
        else:
            low = np.flatnonzero(fit <= 0)
            ratios = u[idx[low]] / (u[idx[low]] - fit[low])  # in [0, 1): u ≥ 0 ≥ fit there
            direction = fit - u[idx]
        first = int(np.argmin(ratios))
        u[idx] += ratios[first] * direction
        u[idx[low[first]]] = 0.0  # exactly on the boundary (rounding may leave it a hair away)
        u[u < 0] = 0.0
        free = u > 0
    return u


def _homotopy(G, C0, lam, nonnegative, max_steps, scan, support=None, events=None):
    """Walk every row's Lasso path from λ₀ = max|c| down to `lam`; return the codes and a per-row failure flag.
    If `support` is a list, the flat indices (row · k + atom) of the nonzero codes are appended to it. If
    `events` is a (batch, 2) integer tensor, each row's entries and exits are added to its two columns.

    State per row (rows are compacted as their paths end): the current level λ; the active atoms in `slots`
    (holes allowed; a slot is active when its sign is ±1, free when 0), their signs and codes; the inverse of
    their Gram block (identity on free slots, updated by rank-one steps); and, for every atom, its distances
    to the two edges of the box |c| ≤ λ that its residual correlation c = (C0 − G z)_j must stay in:
    P = λ − c and Q = λ + c (inf for active atoms). P and Q, which only decide which event comes next, are
    kept in the `scan` dtype; the codes are computed in G's dtype, and exactly (z_A = G_AA⁻¹(c_A − λ s)) when
    a path ends.
    """
    batch, k = C0.shape
    dtype, dev = G.dtype, G.device
    eps = 1e-12 if dtype == torch.float64 else 1e-6
    Z = torch.zeros(batch, k, dtype=dtype, device=dev)
    failed = torch.zeros(batch, dtype=torch.bool, device=dev)
    lev, first = _row_max(C0, absolute=not nonnegative)  # λ₀ (with the sign of c) and each path's first atom
    if not nonnegative:
        lev = lev.abs()
    walking = lev > lam  # the other rows keep z = 0
    if bool(walking.all()):
        rows, Cs = torch.arange(batch, device=dev), C0.to(scan)
    else:
        rows = walking.nonzero().squeeze(1)  # global ids of the rows still walking
        first, lev, Cs = first[rows], lev[rows], C0[rows].to(scan)
    b = rows.numel()
    if b == 0:
        return Z, failed
    if events is not None:
        events[rows.to(events.device), 0] += 1  # the first atom enters at λ₀
    limit = max(1, min(G.shape[0], k))
    m = min(limit, 8)  # slots, grown on demand
    ar = torch.arange(b, device=dev)
    lev_s = lev.unsqueeze(1).to(scan)  # (b, 1)
    Gs = G.to(scan)
    P = torch.sub(lev_s, Cs)  # (b, k)
    P[ar, first] = math.inf
    Q = None
    if not nonnegative:
        Q = Cs + lev_s if Cs is C0 else Cs.add_(lev_s)  # (a copy of C0 is not needed again)
        Q[ar, first] = math.inf
    idx = torch.zeros(b, m, dtype=torch.long, device=dev)
    idx[:, 0] = first
    sign = torch.zeros(b, m, dtype=dtype, device=dev)  # ±1 on active slots, 0 on free ones
    sign[:, 0] = torch.sign(C0.view(-1).take(rows * k + first))
    zs = torch.zeros(b, m, dtype=dtype, device=dev)  # codes on the slots at the current level
    Minv = torch.eye(m, dtype=dtype, device=dev).repeat(b, 1, 1)
    # (the atoms' squared norms G_jj are 1 only up to _NORM_TOL: the inverse and the Schur complements use them)
    Minv[:, 0, 0] = G.diagonal()[first].reciprocal()
    # An atom that has just left sits on the edge c = s·λ it left from (its distance there is 0, the rate
    # rounding), so for the next event only that edge is barred to it: `barred` holds the atom and
    # `barred_up` whether the edge is c = +λ (its P) rather than c = −λ (its Q). It may still re-enter with
    # the other sign, or later from either edge. After an entry `barred` is the atom that entered (active,
    # so barring it changes nothing): always a valid column.
    barred = first.clone()
    barred_up = torch.ones(b, dtype=torch.bool, device=dev)
    alive = torch.ones(b, dtype=torch.bool, device=dev)
    n_alive = b
    top = 0  # no slot above this one is active (an entry takes the first free slot: it grows by ≤ 1 a step)
    two = torch.tensor(2.0, dtype=scan, device=dev)
    tiny = torch.finfo(dtype).tiny
    # The (rows, atoms) arrays of a step are written into these buffers (views of their first b rows): a fresh
    # (b, k) tensor each step costs a page fault per page on the CPU, several times the arithmetic itself.
    buffers = torch.empty(2 if nonnegative else 4, b, k, dtype=scan, device=dev)

    for _ in range(max_steps):
        if n_alive == 0:
            break
        if n_alive < 0.8 * b:  # compact: drop the rows whose paths have ended
            keep = alive.nonzero().squeeze(1)
            rows, P, lev, idx, sign, zs, Minv = (t[keep] for t in (rows, P, lev, idx, sign, zs, Minv))
            barred, barred_up = barred[keep], barred_up[keep]
            Q = None if Q is None else Q[keep]
            b = n_alive
            alive = torch.ones(b, dtype=torch.bool, device=dev)
        used = min(m, top + 2)  # the slots in use, and the free slot an entry may take
        sg = sign[:, :used]
        ds = torch.bmm(Minv[:, :used, :used], sg.unsqueeze(2)).squeeze(2)  # dz/d(−λ) on the slots
        # As λ falls by γ, c falls by γ·a (a = G d) and the edges by γ: P shrinks at the rate 1 − a, Q at 1 + a.
        # An inactive atom enters when P or Q reaches 0: after γ = P / (1 − a) or Q / (1 + a), if that rate
        # is positive (else never: a division by 0 gives inf).
        rate_p = _rows_times_gram(idx[:, :used], ds.to(scan), Gs, buffers[0, :b].fill_(1), inplace=True)
        # (rate_p = 1 − a.) The soonest entry is the largest rate / distance (a negative one never comes; inf
        # distances, the active atoms, give 0).
        h_up = torch.div(rate_p, P, out=buffers[1, :b])
        at_barred = torch.arange(b, device=dev) * k + barred  # (b,) flat index of each row's barred atom
        if nonnegative:  # (only c = +λ is an edge)
            h_up.view(-1)[at_barred] = -math.inf
            h_best = h_up
        else:
            rate_q = torch.sub(two, rate_p, out=buffers[2, :b])  # 1 + a
            h_down = torch.div(rate_q, Q, out=buffers[3, :b])
            h_up.view(-1)[at_barred] = torch.where(barred_up, -math.inf, h_up.view(-1)[at_barred])
            h_down.view(-1)[at_barred] = torch.where(barred_up, h_down.view(-1)[at_barred], -math.inf)
            h_best = torch.maximum(h_up, h_down, out=buffers[3, :b])
        h_entry, j_entry = _row_max(h_best)
        if bool(torch.isnan(h_entry).any()):  # 0/0: only in degenerate cases; the active-set method finishes these rows
            broken = alive & torch.isnan(h_entry)
            failed[rows[broken]] = True
            alive &= ~broken
            h_entry = torch.nan_to_num(h_entry, nan=0.0)
        # the step to the next entry, 1 / h (h ≤ 0: never, as a step too long to matter)
        g_entry = h_entry.to(dtype).clamp_min_(tiny).reciprocal_()
        # A code crosses zero (its atom leaves) after γ = −z / d, if that is positive. Free slots give 0/0 = NaN
        # and an atom that has just entered gives −0: neither counts. (Steps below eps · λ are rounding; the
        # bar is relative to the level so that scaling x and λ together scales the path.)
        ratio = torch.div(zs[:, :used], ds).neg_()
        g_exit, slot_exit = torch.where(ratio > eps * lev.unsqueeze(1), ratio, math.inf).min(dim=1)
        g_target = (lev - lam) * alive  # (rows whose paths have ended do not move)
        gamma = torch.minimum(torch.minimum(g_entry, g_exit), g_target)  # (b,)
        gcol = gamma.unsqueeze(1)
        zs[:, :used].addcmul_(gcol, ds)
        gcol = gcol.to(scan)
        P.addcmul_(gcol, rate_p, value=-1)
        if Q is not None:
            Q.addcmul_(gcol, rate_q, value=-1)
        lev = lev - gamma
        done = alive & (gamma >= g_target)
        if bool(done.any()):
            # the exact codes on the final support: z_A = G_AA⁻¹ (c_A − λ s), from the kept inverse; free slots
            # hold stale atom indices with the code 0, so index_add_ adds nothing there
            r = done.nonzero().squeeze(1)
            flat = rows[r].unsqueeze(1) * k + idx[r, :used]
            s_r = sign[r, :used]
            rhs = (C0.view(-1).take(flat) - lam * s_r) * s_r.abs()
            z = torch.bmm(Minv[r, :used, :used], rhs.unsqueeze(2)).squeeze(2) * s_r.abs()
            Z.view(-1).index_add_(0, flat.view(-1), z.view(-1))
            if support is not None:
                support.append(flat[z != 0])
            alive &= ~done
        do_exit = alive & (g_exit < g_entry)
        do_entry = alive & ~do_exit
        if top + 1 >= m:  # every slot may be in use: rows that need one more get more slots, or fail
            full = do_entry & (sign != 0).all(dim=1)
            if bool(full.any()):
                if m >= limit:
                    failed[rows[full]] = True
                    alive &= ~full
                    do_entry &= ~full
                else:  # grow every slot array
                    extra = min(m, limit - m)
                    idx = torch.cat([idx, idx.new_zeros(b, extra)], dim=1)
                    sign = torch.cat([sign, sign.new_zeros(b, extra)], dim=1)
                    zs = torch.cat([zs, zs.new_zeros(b, extra)], dim=1)
                    grown = torch.eye(m + extra, dtype=dtype, device=dev).repeat(b, 1, 1)
                    grown[:, :m, :m] = Minv
                    Minv, m = grown, m + extra
                    used = min(m, used + 1)
                    sg = sign[:, :used]
        # One rank-one change of the inverse per row: M ← M + σ w wᵀ + ε e eᵀ.
        #   entry at free slot f (Schur complement s):  w = u − e_f, σ = 1/s,     e = f, ε = −1
        #   exit at slot i:                             w = M[:, i], σ = −1/M_ii, e = i, ε = +1
        free = (sg == 0).to(torch.int8).argmax(dim=1)  # the first free slot
        j = j_entry
        M = Minv[:, :used, :used]
        bvec = G.take(idx[:, :used] * k + j.unsqueeze(1)) * sg.abs()  # (b, used): Gram entries G[S, j]
        u = torch.bmm(M, bvec.unsqueeze(2)).squeeze(2)  # (b, used)
        schur = G.diagonal()[j] - (bvec * u).sum(dim=1)
        bad = do_entry & ~(schur > eps)
        if bool(bad.any()):
            failed[rows[bad]] = True
            alive &= ~bad
            do_entry &= ~bad
        col = M.gather(2, slot_exit.view(b, 1, 1).expand(b, used, 1)).squeeze(2)  # (b, used)
        piv = col.gather(1, slot_exit.unsqueeze(1)).squeeze(1)
        u.scatter_(1, free.unsqueeze(1), -1.0)  # u − e_f (u_f = 0 because the free slot is decoupled)
        w = torch.where(do_entry.unsqueeze(1), u, col)
        sigma = torch.where(do_entry, 1 / schur, torch.where(do_exit, -1 / piv, 0.0))
        M.addcmul_(w.unsqueeze(2), (w * sigma.unsqueeze(1)).unsqueeze(1))
        e = torch.where(do_entry, free, slot_exit)
        diag = do_exit.to(dtype) - do_entry.to(dtype)
        Minv.view(b, m * m).scatter_add_(1, (e * (m + 1)).unsqueeze(1), diag.unsqueeze(1))
        if events is not None:
            events[rows[do_entry].to(events.device), 0] += 1
            events[rows[do_exit].to(events.device), 1] += 1
        # slot bookkeeping
        if bool(do_exit.any()):
            # (flat indices: much faster than P[r, atom] on the CPU)
            r = do_exit.nonzero().squeeze(1)
            slot = r * m + slot_exit[r]
            atom, s_i, lv = idx.view(-1)[slot], sign.view(-1)[slot], lev[r]
            at = r * k + atom
            P.view(-1)[at] = (lv * (1 - s_i)).to(scan)  # it leaves from the edge c = s·λ
            if Q is not None:
                Q.view(-1)[at] = (lv * (1 + s_i)).to(scan)
            barred[r] = atom
            barred_up[r] = s_i > 0
            sign.view(-1)[slot] = 0
            zs.view(-1)[slot] = 0
            i = slot_exit[r]
            Minv[r, i, :] = 0  # exact zeros (the downdate leaves rounding there)
            Minv[r, :, i] = 0
            Minv[r, i, i] = 1
        if bool(do_entry.any()):
            r = do_entry.nonzero().squeeze(1)
            slot, jj = r * m + free[r], j[r]
            at = r * k + jj
            barred[r] = jj
            idx.view(-1)[slot] = jj
            if nonnegative:
                sign.view(-1)[slot] = 1.0
            else:  # the sign of the edge it reaches: +1 if P (the distance to c = +λ) gave its entry
                up = h_up.reshape(-1)[at] >= h_best.reshape(-1)[at]
                sign.view(-1)[slot] = torch.where(up, 1.0, -1.0).to(dtype)
            P.view(-1)[at] = math.inf
            if Q is not None:
                Q.view(-1)[at] = math.inf
            top = min(m - 1, top + 1)
        n_alive = int(alive.sum())
    if n_alive:
        failed[rows[alive]] = True  # ran out of steps
    return Z, failed


# --- OMP ----------------------------------------------------------------------------------------------------


@_validate.arguments(
    D=_D_DATA, X=_X_DATA, n_nonzero=_validate.Optional(_validate.Int(1)), tol=_validate.Optional(_TOL), device=_DEVICE
)
def omp(D, X, n_nonzero=None, *, tol=None, device=None) -> torch.Tensor:
    """Batched orthogonal matching pursuit (Pati, Rezaiifar and Krishnaprasad, 1993), Gram-matrix form.

    A greedy alternative to the Lasso objective ``½‖x − D z‖² + λ‖z‖₁``: OMP minimises ``½‖x − D z‖²``
    subject to at most `n_nonzero` nonzero entries. At each step it adds the atom most correlated with the
    current residual, then refits all chosen coefficients by least squares. It has no λ; scikit-learn's
    `alpha` for ``sparse_encode(..., algorithm="omp")`` is the squared-residual tolerance, our `tol`.

    All signals of the batch advance together ("Batch-OMP", Rubinstein, Zibulevsky and Elad, 2008): the
    correlations are updated through the precomputed Gram matrix DᵀD and the least-squares fit through the
    inverse of a Cholesky factor that grows by one row per step (so every solve is a few products over the
    batch), and no step touches the signals again. It returns the same supports and coefficients as
    ``sklearn.linear_model.orthogonal_mp_gram(D.T @ D, D.T @ x, n_nonzero_coefs=n_nonzero, tol=tol)``, with
    one difference: a signal stops once no atom is correlated with its residual beyond rounding,
    ``max_j |d_jᵀr| ≤ 64 · eps · ‖x‖`` (eps of the dtype), a bar relative to the signal, so scaling x scales
    the codes at every scale the dtype resolves. scikit-learn's bar, ``(d_jᵀr)² < eps``, is absolute: it
    selects no atom at all for a float64 signal of norm 1e-8.

    Parameters
    ----------
    D : tensor (n, k)
        Dictionary with unit-norm atoms as columns.
    X : tensor (batch, n) or (n,)
        Signals, one per row.
    n_nonzero : int, optional
        Number of atoms per signal, at most min(n, k) (default: 10% of n, at least 1, as in scikit-learn, and
        at most min(n, k); with `tol`, min(n, k)).
    tol : float, optional
        Stop a signal once its squared residual ‖x − D z‖² is at most `tol` (then `n_nonzero`, if given, is
        still a cap). The residual is kept as ‖x‖² − Σ (the squared weights of the orthonormalised atoms) in
        float64, exact up to rounding of order eps · ‖x‖². Without `n_nonzero`, a signal that cannot reach
        `tol` (fewer atoms than dimensions, or linearly dependent ones) gets its best fit and a RuntimeWarning
        names it.
    device : str or torch.device, optional
        Where to compute (default: where D is).

    OMP has no non-negative option here: selecting by positive correlation alone does not keep the refitted
    least-squares coefficients non-negative; use ``lasso(..., nonnegative=True)`` for non-negative codes.

    Returns
    -------
    Z : tensor (batch, k) or (k,)

    Examples
    --------
    >>> D = torch.eye(4)
    >>> omp(D, torch.tensor([[0.0, 3.0, 0.0, -1.0]]), n_nonzero=1)
    tensor([[0., 3., 0., 0.]])
    """
    D, X2, single, out_dtype = _prepare(D, X, device)
    n, k = D.shape
    batch = X2.shape[0]
    capped = n_nonzero is not None
    if n_nonzero is None:  # (valid for every shape: never more than min(n, k) atoms can be chosen)
        n_nonzero = min(n, k) if tol is not None else min(max(1, int(0.1 * n)), n, k)
    elif n_nonzero > min(n, k):
        raise ValueError(f"n_nonzero must be at most min(n, k) = {min(n, k)} for D of shape {(n, k)}, got {n_nonzero}")
    if n_nonzero == 0 or batch == 0:  # no atoms, or no signals
        return _out(X2.new_zeros(batch, k, dtype=out_dtype), single)
    dtype, dev = D.dtype, D.device
    G = D.T @ D  # (k, k)
    alpha = X2 @ D  # (batch, k): the atoms' correlations with the current residual, updated in place
    # The small per-signal quantities keep the batch as their last axis, so every step's algebra is a few
    # elementwise operations over contiguous (batch,) rows rather than many tiny matrix products.
    idx = torch.zeros(n_nonzero, batch, dtype=torch.long, device=dev)  # idx[t]: the atom chosen at step t
    # L[s, r] (lower triangular in s, r): the inverse of the Cholesky factor of G_SS, grown by one row per step,
    # and y = L · (D_Sᵀ x): the least-squares codes are γ = Lᵀ y and ‖x − D_S γ‖² = ‖x‖² − ‖y‖². Step t adds
    # the orthonormalised atom t with weight y_t, so the correlations fall by y_t · Σ_r L[t, r] G[idx_r, :].
    L = torch.zeros(n_nonzero, n_nonzero, batch, dtype=dtype, device=dev)
    y = torch.zeros(n_nonzero, batch, dtype=dtype, device=dev)
    # All signals step together; a signal that has stopped gets y_t = 0 from then on, which freezes its codes.
    alive = torch.ones(batch, dtype=torch.bool, device=dev)
    if tol is not None:  # (in float64: squares of float32 signals overflow beyond 1e19)
        residual = _squared_norms(X2)  # (batch,) ‖x − D_S γ‖², from ‖x‖² down
        alive &= residual > tol
    tiny = torch.finfo(dtype).eps
    # A signal stops once no atom is correlated with its residual beyond rounding: |d_jᵀr| at most
    # _OMP_FLOOR · eps · ‖x‖, relative to the signal so that scaling x scales the codes (scikit-learn's bar,
    # (d_jᵀr)² < eps, is absolute: it drops every atom of a signal of norm 1e-8).
    floor = (_OMP_FLOOR * tiny) * _squared_norms(X2).sqrt_()  # (batch,) (in float64: ‖x‖² of float32 overflows)
    premature = torch.zeros(batch, dtype=torch.bool, device=dev)  # stopped by linear dependence
    for t in range(n_nonzero):
        if not bool(alive.any()):
            break
        a_j, j = _row_max(alpha, absolute=True)  # (batch,): the atom most correlated with the residual
        # stop once no atom is correlated with the residual (the fit is exact) ...
        alive &= a_j.abs() > floor
        if t == 0:  # (the atoms' squared norms G_jj are 1 only up to _NORM_TOL: use them as they are)
            d = G.diagonal()[j].sqrt()
            L[0, 0] = 1 / d
        else:
            g = G.take(idx[:t] * k + j)  # (t, batch): G[idx_r, j]
            L_old = L[:t, :t]
            w = (L_old * g).sum(dim=1)  # (t, batch): w = L g, the new atom in the orthonormalised ones
            diag2 = G.diagonal()[j] - (w * w).sum(dim=0)
            # ... or, before the fit is exact, when the next atom is a chosen one or (numerically) in their span
            dependent = alive & (~(idx[:t] != j).all(dim=0) | ~(diag2 > tiny))
            premature |= dependent
            alive &= ~dependent
            d = torch.where(alive, diag2, 1.0).sqrt_()
            L[t, :t] = (L_old * w.unsqueeze(1)).sum(dim=0).div_(-d)  # −wᵀL / d
            L[t, t] = 1 / d
        # y_t = (d_jᵀx − w·y) / d, and d_jᵀx − w·y is the residual's correlation with the new atom, a_j
        y[t] = torch.where(alive, a_j / d, 0.0)
        if not bool(alive.any()):
            break
        idx[t] = j
        if t + 1 < n_nonzero:  # after the last step the correlations are not needed
            alpha = _rows_times_gram(idx[: t + 1].T, (y[t] * L[t, : t + 1]).T, G, minus_from=alpha, inplace=True)
        if tol is not None:
            residual -= y[t].double().pow(2)
            alive &= residual > tol
    codes = (L * y.unsqueeze(1)).sum(dim=0)  # (n_nonzero, batch): γ = Lᵀ y, each signal's coefficients by step
    # steps after a signal stopped hold the code 0 (their slot index may be stale), so adding them changes nothing;
    # the correlations are no longer needed, so their memory holds the codes
    Z = alpha.zero_().scatter_add_(1, idx.T.contiguous(), codes.T.contiguous())
    _omp_warn_if_short(D, X2, Z, premature, residual if tol is not None and not capped else None, tol)
    return _out(Z.to(out_dtype), single)


def _squared_norms(X2) -> torch.Tensor:
    """‖x‖² of every row, in float64, without a (batch, n) temporary (a fresh one costs page faults)."""
    return torch.linalg.vector_norm(X2, dim=1, dtype=torch.float64).pow(2)


def _omp_warn_if_short(D, X2, Z, premature, residual, tol) -> None:
    """OMP's answers are exact least-squares fits on their supports, but a signal can stop short of what was
    asked: say which, and how far (silent when none did).

    `premature` marks the signals stopped by linear dependence before their fit was exact (scikit-learn warns
    on these too); `residual` (when `tol` was the only stop asked for) their squared residuals, which must be
    at most `tol` up to rounding."""
    if not bool(premature.any()) and residual is None:
        return
    energy = _squared_norms(X2).clamp_min(torch.finfo(torch.float64).tiny)
    rows = torch.arange(X2.shape[0], device=X2.device)

    def shown(mask):
        ids = rows[mask].tolist()
        return len(ids), ", ".join(str(i) for i in ids[:10]) + (", ..." if len(ids) > 10 else "")

    if bool(premature.any()):
        left = (X2[premature] - Z[premature] @ D.T).double().pow(2).sum(dim=1) / energy[premature]
        count, ids = shown(premature)
        warnings.warn(
            f"omp: {count} signal(s) (rows {ids}) stopped before n_nonzero atoms: the next atom was numerically "
            "in the span of those chosen (duplicate atoms or an ill-conditioned dictionary). Their codes are the "
            f"least-squares fit on the atoms chosen; the squared residual is up to {left.max().item():.3g} of ‖x‖².",
            RuntimeWarning,
            stacklevel=3,
        )
    if residual is not None:
        rounding = _OMP_FLOOR * torch.finfo(Z.dtype).eps * energy
        missed = (residual > torch.clamp(rounding, min=tol)) & ~premature  # (a residual of rounding is 0)
        if bool(missed.any()):
            count, ids = shown(missed)
            warnings.warn(
                f"omp: {count} signal(s) (rows {ids}) did not reach tol = {tol:g}: with every atom allowed the "
                f"squared residual is still up to {(residual[missed] / energy[missed]).max().item():.3g} of ‖x‖² "
                "(fewer atoms than dimensions). Their codes are the least-squares fit on all of them.",
                RuntimeWarning,
                stacklevel=3,
            )


# --- the phase transition -----------------------------------------------------------------------------------


def _gauss_tail_terms(z: np.ndarray) -> np.ndarray:
    """(1 + z²) Φ(−z) − z φ(z), the quantity in the minimax threshold formula."""
    phi = np.exp(-0.5 * z * z) / math.sqrt(2 * math.pi)
    Phi_neg = 0.5 * np.array([math.erfc(v / math.sqrt(2)) for v in np.ravel(z)]).reshape(np.shape(z))
    return (1 + z * z) * Phi_neg - z * phi


def _rho_of(delta: float, kappa: float) -> float:
    def value(z):
        m = _gauss_tail_terms(np.asarray(z, dtype=float))
        return (1 - kappa / delta * m) / (1 + z * z - kappa * m)

    if delta >= 1.0:
        return 1.0  # every sparsity up to s = n is recovered when n = N
    grid = np.linspace(1e-6, 12.0, 2401)
    with np.errstate(divide="ignore", invalid="ignore"):
        values = np.nan_to_num(value(grid), nan=-np.inf)
    i = int(np.argmax(values))
    lo, hi = grid[max(i - 1, 0)], grid[min(i + 1, len(grid) - 1)]
    golden = (math.sqrt(5) - 1) / 2
    for _ in range(80):  # golden-section search on the bracketing interval
        a, b = hi - golden * (hi - lo), lo + golden * (hi - lo)
        if value(np.array([a]))[0] > value(np.array([b]))[0]:
            hi = b
        else:
            lo = a
    return float(max(values.max(), value(np.array([(lo + hi) / 2]))[0]))


@_validate.arguments(delta=_validate.Tensor(nonempty=True, convert=False, detach=True), signed=_validate.Flag())
def l1_phase_transition(delta, signed: bool = True):
    """The Donoho–Tanner phase transition of L1 recovery: the critical sparsity ρ(δ) for undersampling δ.

    With n random Gaussian measurements of an s-sparse vector in R^N, δ = n/N and ρ = s/n, L1 minimisation
    (basis pursuit) recovers the vector with high probability when ρ < ρ(δ) and fails when ρ > ρ(δ), as
    N → ∞ (Donoho and Tanner, 2009). This uses the closed form of Donoho, Maleki and Montanari (2009, PNAS,
    "Message-passing algorithms for compressed sensing"), which equals the polytope-angle curve:

    .. math:: \\rho(\\delta) = \\max_{z \\ge 0}
              \\frac{1 - (\\kappa/\\delta)\\,[(1 + z^2)\\Phi(-z) - z\\varphi(z)]}
                    {1 + z^2 - \\kappa\\,[(1 + z^2)\\Phi(-z) - z\\varphi(z)]},

    with κ = 2 for signed vectors (the cross-polytope) and κ = 1 for non-negative ones (the simplex).

    Parameters
    ----------
    delta : float or array of floats in (0, 1]
        Undersampling ratio n/N.
    signed : bool
        True for arbitrary signs, False for non-negative vectors (recovered by L1 with z ≥ 0).

    Returns
    -------
    float, or a numpy array of the shape of `delta`.

    Examples
    --------
    >>> round(l1_phase_transition(0.5), 4)  # 0.3856 in Donoho, Maleki and Montanari (2009)
    0.3857
    """
    values = np.asarray(delta, dtype=float)
    if np.any(values <= 0) or np.any(values > 1):
        raise ValueError(f"delta must be in (0, 1] (the ratio n/N of measurements to unknowns), got {delta!r}")
    kappa = 2.0 if signed else 1.0
    rho = np.array([_rho_of(float(d), kappa) for d in values.ravel()]).reshape(values.shape)
    rho = np.clip(rho, 0.0, 1.0)
    return float(rho) if values.ndim == 0 else rho


# Chapter 09: dictionary learning ------------------------------------------------------------------------------

from typing import NamedTuple  # noqa: E402

__all__ += ["dictionary_learning", "DictionaryLearningResult"]

_DL_METHODS = ("lasso", "fista", "omp")


class DictionaryLearningResult(NamedTuple):
    """What `dictionary_learning` returns.

    Attributes
    ----------
    dictionary : tensor (d, n_atoms)
        The learned atoms as unit-norm columns.
    codes : tensor (N, n_atoms)
        The sparse codes of the samples for the final dictionary, ``H ≈ codes @ dictionary.T``.
    objective : tensor (iterations + 1,)
        The mean over samples of ``½‖h − D z‖² + λ‖z‖₁``: entry 0 for the initial dictionary and its codes,
        then one entry after each iteration (a dictionary update followed by a code update).
    n_resampled : tensor (iterations,) of int
        How many unused atoms each iteration re-initialised.
    """

    dictionary: torch.Tensor
    codes: torch.Tensor
    objective: torch.Tensor
    n_resampled: torch.Tensor


def _dl_encode(D, H, lam, method, nonnegative, n_nonzero, fista_iter, z0):
    """Codes (N, n_atoms) of the rows of H for the fixed dictionary D, by the chosen chapter 08 solver."""
    if method == "lasso":
        return lasso(D, H, lam, nonnegative=nonnegative)
    if method == "fista":
        return fista(D, H, lam, max_iter=fista_iter, tol=1e-7, nonnegative=nonnegative, z0=z0)
    return omp(D, H, n_nonzero=n_nonzero)


def _dl_objective(D, H, Z, lam) -> float:
    """Mean over samples of ½‖h − D z‖² + λ‖z‖₁."""
    residual = H - Z @ D.T  # (N, d)
    return float((0.5 * (residual * residual).sum(dim=1) + lam * Z.abs().sum(dim=1)).mean())


def _direction(v: torch.Tensor) -> torch.Tensor | None:
    """`v` scaled to unit norm, or None for a zero vector. Where the squares in the norm overflow (entries near
    1e19 in float32, as one huge sample gives), dividing by the largest entry first still gives the direction."""
    norm = v.norm()
    if torch.isfinite(norm):
        return v / norm if norm > 0 else None
    v = v / v.abs().max()
    return v / v.norm()


def _dl_update_dictionary(D, H, Z):
    """One sweep of block coordinate descent over the atoms, each kept on the unit sphere.

    For fixed codes Z, atom j's part of ½‖H − Z Dᵀ‖² is minimised over unit vectors by the normalised
    ``R_jᵀ z_j``, where ``R_j = H − Z Dᵀ + z_j d_jᵀ`` is the residual without atom j. With A = ZᵀZ and
    B = HᵀZ this is ``d_j ← normalise(A_jj d_j + B_j − D A_j)`` (Mairal et al. 2010, algorithm 2, with the
    sphere instead of the ball). Unused atoms (A_jj = 0) are left for `_dl_resample`; returns the new D
    and the boolean mask of unused atoms.
    """
    A = Z.T @ Z  # (k, k)
    B = H.T @ Z  # (d, k)
    D = D.clone()
    unused = torch.diagonal(A) <= 0
    for j in range(D.shape[1]):
        if unused[j]:
            continue
        direction = _direction(A[j, j] * D[:, j] + B[:, j] - D @ A[:, j])  # (d,): R_jᵀ z_j, normalised
        if direction is not None:
            D[:, j] = direction
    return D, unused


def _dl_resample(D, H, Z, unused):
    """`resample_unused` inside `dictionary_learning`: returns the new D and how many atoms moved."""
    if not bool(unused.any()):
        return D, 0
    return _point_at_worst(D, H - Z @ D.T, unused)


def _point_at_worst(D, residual, unused):
    """Point every `unused` atom at one of the worst-reconstructed samples' residuals (distinct samples).

    An unused atom has zero codes, so moving it leaves the objective unchanged; the next code update can
    then use it where the current dictionary does worst. Returns the new D and the number of atoms moved.
    """
    n_dead = int(unused.sum())
    if n_dead == 0:
        return D.clone(), 0
    error = (residual * residual).sum(dim=1)  # (N,)
    order = torch.argsort(error, descending=True)[:n_dead]
    D = D.clone()
    dead = unused.nonzero().flatten()
    done = 0
    for j, i in zip(dead.tolist(), order.tolist()):
        direction = _direction(residual[i])
        if direction is not None:
            D[:, j] = direction
            done += 1
    return D, done


def _dictionary_inputs(D, H, Z, samples: str = "H"):
    """D (d, k), the samples or residuals (N, d) and Z (N, k) checked against one another, in D's dtype."""
    if H.shape[1] != D.shape[0]:
        raise ValueError(f"{samples} must have shape (N, d) with d = D.shape[0] = {D.shape[0]} (D's columns are the "
                         f"atoms), got {samples} {tuple(H.shape)} and D {tuple(D.shape)}")  # fmt: skip
    if Z.shape != (H.shape[0], D.shape[1]):
        raise ValueError(f"Z must have shape (N, k) = {(H.shape[0], D.shape[1])}: one code per row of {samples}, one "
                         f"entry per column (atom) of D; got Z {tuple(Z.shape)}, {samples} {tuple(H.shape)} and D "
                         f"{tuple(D.shape)}")  # fmt: skip
    dtype = torch.promote_types(D.dtype, H.dtype)
    return D.to(dtype), H.to(device=D.device, dtype=dtype), Z.to(device=D.device, dtype=dtype)


@_validate.arguments(D=_validate.Tensor(2), H=_validate.Tensor(2), Z=_validate.Tensor(2))
def update_dictionary(D, H, Z) -> torch.Tensor:
    """The dictionary step of `dictionary_learning`: one sweep over the atoms, each the best unit vector.

    For fixed codes Z, atom j's part of ``½‖H − Z Dᵀ‖²`` is a function of ``d_j`` alone once the others are
    fixed, and over unit vectors its minimiser is the normalised ``R_jᵀ z_j``, where ``R_j = H − Z Dᵀ + z_j d_jᵀ``
    is what the other atoms leave unexplained (Mairal et al. 2010, algorithm 2, on the sphere instead of the
    ball). The atoms are updated in order, each with the others' newest values (block coordinate descent), so
    the objective never increases. An atom that no sample uses (a zero column of Z), or whose ``R_jᵀ z_j`` is 0,
    is left as it is (`resample_unused` gives it work).

    Parameters
    ----------
    D : tensor of shape (d, k), atoms as columns
    H : tensor of shape (N, d), the samples
    Z : tensor of shape (N, k), their codes

    Returns
    -------
    tensor of shape (d, k): the new dictionary (the inputs are not changed).

    Examples
    --------
    >>> D = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    >>> H = torch.tensor([[3.0, 4.0]])
    >>> update_dictionary(D, H, torch.tensor([[1.0, 0.0]]))  # atom 0 turns to the sample; atom 1 is unused
    tensor([[0.6000, 0.0000],
            [0.8000, 1.0000]])
    """
    D, H, Z = _dictionary_inputs(D, H, Z)
    return _dl_update_dictionary(D, H, Z)[0]


@_validate.arguments(D=_validate.Tensor(2), residual=_validate.Tensor(2), Z=_validate.Tensor(2))
def resample_unused(D, residual, Z) -> torch.Tensor:
    """Point every atom that no sample uses at the residual of one of the worst-reconstructed samples.

    An atom is unused when its codes are 0 on every sample (a zero column of Z). The samples are ranked by
    their squared error ``‖residualᵢ‖²``; the unused atoms, in index order, get the unit vectors along the
    residuals of the worst, second worst, ... samples (distinct samples, ``residual = H − Z Dᵀ`` so the atom
    points at what the dictionary misses). Used atoms are left as they are, and so is an unused atom whose
    sample has zero residual. Moving an unused atom leaves ``½‖H − Z Dᵀ‖²`` unchanged (its codes are 0); the
    next code step can then use it where the dictionary does worst. `dictionary_learning` does this after each
    dictionary step; `superpose_lib.sae.train_sae` resamples dead latents by the same idea, drawing the samples
    at random in proportion to their squared error (Bricken et al. 2023) instead of taking the worst.

    Parameters
    ----------
    D : tensor of shape (d, k), atoms as columns
    residual : tensor of shape (N, d), ``H − Z Dᵀ`` (for an autoencoder, ``x − x̂``)
    Z : tensor of shape (N, k), the codes

    Returns
    -------
    tensor of shape (d, k): the new dictionary (the inputs are not changed).

    Examples
    --------
    >>> D = torch.eye(2)
    >>> residual = torch.tensor([[0.0, 0.1], [3.0, 4.0]])  # sample 1 is the worst reconstructed
    >>> resample_unused(D, residual, torch.tensor([[1.0, 0.0], [2.0, 0.0]]))  # atom 1 is unused
    tensor([[1.0000, 0.6000],
            [0.0000, 0.8000]])
    """
    D, residual, Z = _dictionary_inputs(D, residual, Z, "residual")
    return _point_at_worst(D, residual, ~(Z != 0).any(dim=0))[0]


@_validate.arguments(
    H=_validate.Tensor(ndim=2, detach=True),
    n_atoms=_validate.Int(1),
    lam=_LAM,
    n_iter=_validate.Int(0),
    method=_validate.Choice(*_DL_METHODS),
    n_nonzero=_validate.Optional(_validate.Int(1)),
    nonnegative=_validate.Flag(),
    init=_validate.Either(_validate.Choice("data", "random"), _D_DATA),
    tol=_TOL,
    resample_unused=_validate.Flag(),
    fista_iter=_validate.Int(1),
    device=_DEVICE,
    progress=_validate.Flag(),
    threads=_validate.Optional(_validate.Int(1)),
    **_validate.RANDOMNESS,
)
def dictionary_learning(
    H,
    n_atoms,
    lam,
    *,
    n_iter=30,
    method="lasso",
    n_nonzero=None,
    nonnegative=False,
    init="data",
    tol=1e-6,
    resample_unused=True,
    fista_iter=200,
    seed=None,
    generator=None,
    device=None,
    progress=True,
    threads=None,
) -> DictionaryLearningResult:
    """Learn a dictionary and sparse codes together, by alternating two steps (the "two-step method").

    Minimises the mean over the samples h (the rows of `H`) of

    .. math:: \\tfrac12 \\lVert h - D z \\rVert_2^2 + \\lambda \\lVert z \\rVert_1,
              \\qquad \\text{every atom (column of } D) \\text{ of unit norm},

    over both the dictionary D (d × n_atoms) and the codes z. Neither step alone is hard:

    1. **codes** for the fixed dictionary: a Lasso per sample, solved by the chapter 08 solvers of this
       module (`lasso`, the exact batched homotopy, by default; `fista`, warm-started from the previous codes;
       or `omp` with `n_nonzero` atoms per sample, which ignores λ when choosing codes);
    2. **dictionary** for the fixed codes: one sweep of block coordinate descent over the atoms, each atom
       set to the unit vector that best fits what the other atoms leave unexplained (Mairal et al. 2010,
       "Online learning for matrix factorization and sparse coding", with the unit sphere as constraint).

    Each step can only lower the objective (up to the solver's accuracy; OMP solves a different problem), so
    the history decreases. An atom that no sample uses after a code step has fallen out of use: it is
    re-initialised to the normalised residual of one of the worst-reconstructed samples (a different sample
    for each such atom), which leaves the objective unchanged and gives the atom work to do.

    Parameters
    ----------
    H : tensor (N, d)
        The samples (e.g. a model's hidden activations), one per row.
    n_atoms : int
        Number of atoms to learn.
    lam : float
        λ ≥ 0, the weight of the L1 penalty (as in `lasso`: ``alpha`` of scikit-learn's
        ``DictionaryLearning``). Methods "lasso" and "fista" need λ > 0; with "omp" it only enters the
        reported objective.
    n_iter : int
        Maximum number of iterations (dictionary update, then code update).
    method : "lasso", "fista" or "omp"
        Solver for the codes.
    n_nonzero : int, optional
        Atoms per sample for "omp" (default: its default, 10% of d).
    nonnegative : bool
        Constrain the codes to z ≥ 0 ("lasso" and "fista").
    init : "data", "random" or tensor (d, n_atoms)
        Initial dictionary: randomly chosen samples (distinct when N ≥ n_atoms), random unit vectors, or your
        own (normalised here).
    tol : float
        Stop once an iteration lowers the objective by less than ``tol`` times its value (0: run `n_iter`).
    resample_unused : bool
        Re-initialise atoms that fall out of use (described above).
    fista_iter : int
        Iteration cap of each "fista" code step.
    seed, generator : optional
        Source of randomness for the initial dictionary.
    device : str or torch.device, optional
        Where to compute (default: where H is).
    progress : bool
        Show a tqdm progress bar.
    threads : int, optional
        CPU threads while learning (restored afterwards). By default `superpose_lib.engine.threads_for` the
        products (N · d · n_atoms multiply-adds): one thread when they are small.

    Returns
    -------
    DictionaryLearningResult
        ``(dictionary (d, n_atoms), codes (N, n_atoms), objective (iterations + 1,), n_resampled
        (iterations,))``.

    Examples
    --------
    >>> gen = torch.Generator().manual_seed(0)
    >>> D_true = torch.nn.functional.normalize(torch.randn(8, 12, generator=gen, dtype=torch.float64), dim=0)
    >>> Z_true = torch.rand(400, 12, generator=gen, dtype=torch.float64) * (torch.rand(400, 12, generator=gen) < 0.15)
    >>> result = dictionary_learning(Z_true @ D_true.T, 12, 0.01, n_iter=20, nonnegative=True, seed=0, progress=False)
    >>> result.dictionary.shape, result.codes.shape, bool(result.objective[-1] < result.objective[0])
    (torch.Size([8, 12]), torch.Size([400, 12]), True)
    """
    N, d = H.shape
    if N == 0 or d == 0:
        raise ValueError(f"H must have shape (N, d) with N, d >= 1 (samples as rows), got {tuple(H.shape)}")
    _validate.fits_in_memory("n_atoms", 6 * 8 * n_atoms * (N + d), device)
    if method in ("lasso", "fista") and lam == 0:
        raise ValueError(f'method "{method}" needs lam > 0 (for lam = 0 use method="omp" with n_nonzero)')
    if method == "omp":
        if nonnegative:
            raise ValueError('nonnegative=True needs method "lasso" or "fista" (omp has no non-negative option)')
        if n_nonzero is not None and n_nonzero > min(d, n_atoms):
            raise ValueError(f"n_nonzero must be at most min(d, n_atoms) = {min(d, n_atoms)}, got {n_nonzero}")
    elif n_nonzero is not None:
        raise ValueError(f'n_nonzero is for method="omp" only; method "{method}" sets the sparsity through lam')
    dev = device if device is not None else H.device
    dtype = H.dtype if H.dtype in (torch.float32, torch.float64) else torch.float32
    H = H.to(device=dev, dtype=dtype)
    if not _all_finite(H):
        raise ValueError("H must be finite (no NaN or inf entries)")
    if not _all_finite(H.square().sum(dim=1)):
        raise ValueError(f"H's entries are too large to square in {dtype} (up to {H.abs().max().item():.3g}): scale H")
    gen = _validate.generator(seed, generator)

    # the initial dictionary (drawn on the CPU, so a seed gives the same start on every device)
    if isinstance(init, str):
        if init == "data":
            if N >= n_atoms:
                rows = torch.randperm(N, generator=gen)[:n_atoms]
            else:
                rows = torch.randint(0, N, (n_atoms,), generator=gen)
            D = H[rows.to(dev)].T.clone()  # (d, n_atoms)
            noise = torch.randn(d, n_atoms, generator=gen, dtype=dtype).to(dev)
            zero = D.norm(dim=0) == 0  # an all-zero sample gives no direction: use a random one
            D[:, zero] = noise[:, zero]
        else:  # "random"
            D = torch.randn(d, n_atoms, generator=gen, dtype=dtype).to(dev)
    else:
        D = init.to(device=dev, dtype=dtype).clone()
        if D.shape != (d, n_atoms):
            raise ValueError(
                f"init must have shape (d, n_atoms) = {(d, n_atoms)} (atoms as columns), got {tuple(D.shape)}"
            )
        if not torch.isfinite(D).all() or (D.norm(dim=0) == 0).any():
            raise ValueError("init must be finite with no all-zero column (every atom needs a direction)")
    D = D / D.norm(dim=0, keepdim=True)
    if threads is None:
        threads = engine.threads_for(N * d * n_atoms)
    with cpu_threads(threads, dev):
        return _dl_alternate(
            D, H, lam, method, nonnegative, n_nonzero, fista_iter, n_iter, tol, resample_unused, progress
        )


def _dl_alternate(D, H, lam, method, nonnegative, n_nonzero, fista_iter, n_iter, tol, resample_unused, progress):
    """The loop of `dictionary_learning`, on validated arguments."""
    Z = _dl_encode(D, H, lam, method, nonnegative, n_nonzero, fista_iter, None)  # (N, n_atoms)
    history = [_dl_objective(D, H, Z, lam)]
    resampled = []
    bar = tqdm(range(n_iter), desc="dictionary learning", disable=not progress)
    for _ in bar:
        D, unused = _dl_update_dictionary(D, H, Z)
        n_new = 0
        if resample_unused:
            D, n_new = _dl_resample(D, H, Z, unused)
        resampled.append(n_new)
        Z = _dl_encode(D, H, lam, method, nonnegative, n_nonzero, fista_iter, Z)
        history.append(_dl_objective(D, H, Z, lam))
        bar.set_postfix(objective=f"{history[-1]:.4g}", resampled=n_new)
        if tol > 0 and n_new == 0 and abs(history[-2] - history[-1]) < tol * abs(history[-2]):
            break
    bar.close()
    return DictionaryLearningResult(
        dictionary=D,
        codes=Z,
        objective=torch.tensor(history, dtype=torch.float64),
        n_resampled=torch.tensor(resampled, dtype=torch.long),
    )
