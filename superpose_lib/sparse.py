"""Sparse recovery: batched Lasso and OMP solvers, and the L1 phase transition.

Every solver shares one signature: a dictionary ``D`` of shape (n, k) whose **columns** are unit-norm atoms,
signals ``X`` of shape (batch, n) (or one signal of shape (n,)), and codes of shape (batch, k) (or (k,)), so
that ``X ≈ Z @ D.T``. The Lasso solvers (`ista`, `fista`, `lasso`) minimise, for each signal x separately,

.. math:: F(z) = \\tfrac12 \\lVert x - D z \\rVert_2^2 + \\lambda \\lVert z \\rVert_1 .

**How λ relates to scikit-learn.** ``sklearn.decomposition.sparse_encode(X, D.T, alpha=λ)`` with
``algorithm="lasso_cd"`` or ``"lasso_lars"`` minimises exactly F (it divides alpha by n internally), so its
``alpha`` *is* our ``lam``. ``sklearn.linear_model.Lasso`` minimises ``(1 / (2 n)) ‖x − D z‖² + α ‖z‖₁``
(n = len(x), the number of "samples"), so ``Lasso(alpha=lam / n)`` has the same minimiser.

Everything runs on the CPU by default; pass ``device="cuda"`` to solve on a GPU. The computation uses the
dtype of ``D`` and ``X`` (float32 unless you pass float64; use float64 when you need objectives to 1e-8).
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import torch

from . import _validate

__all__ = ["ista", "fista", "lasso", "omp", "lasso_objective", "soft_threshold", "l1_phase_transition"]

_NORM_TOL = {torch.float64: 1e-6, torch.float32: 1e-3, torch.float16: 1e-2, torch.bfloat16: 1e-2}


# --- argument checks ---------------------------------------------------------------------------------------


def _prepare(D, X, device, name: str = "X"):
    """Validate a dictionary and signals; return (D, X2, single) on the device, in a common float dtype."""
    D = _validate.tensor("D", D, ndim=2)
    X = _validate.tensor(name, X, ndim=(1, 2))
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
    dev = _validate.device(device) if device is not None else D.device
    D = D.to(device=dev, dtype=dtype)
    X2 = X2.to(device=dev, dtype=dtype)
    if not torch.isfinite(D).all() or not torch.isfinite(X2).all():
        raise ValueError("D and X must be finite (no NaN or inf entries)")
    norms = D.norm(dim=0)  # (k,)
    tol = _NORM_TOL.get(dtype, 1e-3)
    if (norms - 1).abs().max() > tol:
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
    return D, X2, single


def _lam(lam) -> float:
    if isinstance(lam, bool) or not isinstance(lam, int | float) or not math.isfinite(lam) or lam < 0:
        raise ValueError(f"lam must be a finite number >= 0 (the weight of the L1 penalty), got {lam!r}")
    return float(lam)


def _tol(tol) -> float:
    if isinstance(tol, bool) or not isinstance(tol, int | float) or not tol >= 0:
        raise ValueError(f"tol must be a number >= 0 (0 runs all max_iter iterations), got {tol!r}")
    return float(tol)


def _out(Z, single):
    return Z[0] if single else Z


# --- building blocks ----------------------------------------------------------------------------------------


def soft_threshold(v, threshold, *, nonnegative: bool = False) -> torch.Tensor:
    """The proximal operator of ``threshold · ‖·‖₁``: shrink every entry towards 0 by `threshold`.

    ``soft_threshold(v, t) = sign(v) · max(|v| − t, 0)``; with ``nonnegative=True`` it is ``max(v − t, 0)``,
    the proximal operator of ``t‖·‖₁`` plus the constraint z ≥ 0.

    Examples
    --------
    >>> soft_threshold(torch.tensor([-2.0, -0.5, 0.3, 1.5]), 1.0)
    tensor([-1.0000, -0.0000,  0.0000,  0.5000])
    """
    v = _validate.tensor("v", v)
    if nonnegative:
        return torch.clamp(v - threshold, min=0)
    return torch.sign(v) * torch.clamp(v.abs() - threshold, min=0)


def lasso_objective(D, X, Z, lam) -> torch.Tensor:
    """The Lasso objective ``½‖x − D z‖² + λ‖z‖₁`` of every code, shape (batch,) (or a scalar for one signal).

    Examples
    --------
    >>> D = torch.eye(2)
    >>> lasso_objective(D, torch.tensor([1.0, 0.0]), torch.tensor([0.5, 0.0]), lam=0.5).item()
    0.375
    """
    D, X2, single = _prepare(D, X, None)
    Z = _validate.tensor("Z", Z, ndim=(1, 2)).to(device=D.device, dtype=D.dtype)
    Z2 = Z.unsqueeze(0) if Z.ndim == 1 else Z
    if Z2.shape != (X2.shape[0], D.shape[1]):
        raise ValueError(f"Z must have shape (batch, k) = {(X2.shape[0], D.shape[1])}, got {tuple(Z.shape)}")
    value = 0.5 * ((X2 - Z2 @ D.T) ** 2).sum(dim=1) + _lam(lam) * Z2.abs().sum(dim=1)
    return value[0] if single else value


def _rows_times_gram(idx, values, G) -> torch.Tensor:
    """(b, k) = Σ_s values[:, s] · G[idx[:, s], :], as a sparse (CSR) times dense product.

    Much faster than gathering the (b, s, k) rows of G, because it reads each row of G from cache; free
    slots carry the value 0 (their atom index may repeat a used one: the duplicates add 0).
    """
    b, s = idx.shape
    crow = torch.arange(0, b * s + 1, s, device=idx.device)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "sparse CSR support is in beta state"
        sparse = torch.sparse_csr_tensor(crow, idx.reshape(-1), values.reshape(-1), size=(b, G.shape[0]))
        return sparse @ G


def _lipschitz(D) -> float:
    """L = ‖D‖₂², the Lipschitz constant of the gradient of ½‖x − D z‖²."""
    return float(torch.linalg.matrix_norm(D.double(), ord=2) ** 2)


# --- ISTA and FISTA -----------------------------------------------------------------------------------------


def _proximal_gradient(D, X, lam, max_iter, tol, nonnegative, z0, device, return_objective, momentum):
    D, X2, single = _prepare(D, X, device)
    lam = _lam(lam)
    tol = _tol(tol)
    max_iter = _validate.positive_int("max_iter", max_iter, minimum=0)
    n, k = D.shape
    batch = X2.shape[0]
    L = _lipschitz(D)
    step = 1.0 / L if L > 0 else 1.0
    use_gram = k <= 2 * n  # (batch, k) @ (k, k) is cheaper than two products with D when k is small
    if use_gram:
        G, C = D.T @ D, X2 @ D  # (k, k), (batch, k)
    if z0 is None:
        Z = torch.zeros(batch, k, dtype=D.dtype, device=D.device)
    else:
        Z = _validate.tensor("z0", z0, ndim=(1, 2)).to(device=D.device, dtype=D.dtype)
        Z = Z.unsqueeze(0) if Z.ndim == 1 else Z.clone()
        if Z.shape != (batch, k):
            raise ValueError(f"z0 must have shape (batch, k) = {(batch, k)}, got {tuple(z0.shape)}")
    Y, t = Z.clone(), 1.0

    def objective(Z):  # (batch,) F(z) for every signal, without re-validating the arguments
        return 0.5 * ((X2 - Z @ D.T) ** 2).sum(dim=1) + lam * Z.abs().sum(dim=1)

    history = [objective(Z)] if return_objective else None
    for _ in range(max_iter):
        grad = Y @ G - C if use_gram else (Y @ D.T - X2) @ D  # (batch, k)
        Z_new = soft_threshold(Y - step * grad, step * lam, nonnegative=nonnegative)
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
    Z = _out(Z, single)
    if return_objective:
        objective = torch.stack(history)  # (iterations + 1, batch)
        return Z, objective[:, 0] if single else objective
    return Z


def ista(D, X, lam, *, max_iter=1000, tol=1e-6, nonnegative=False, z0=None, device=None, return_objective=False):
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
    return _proximal_gradient(D, X, lam, max_iter, tol, nonnegative, z0, device, return_objective, momentum=False)


def fista(D, X, lam, *, max_iter=1000, tol=1e-6, nonnegative=False, z0=None, device=None, return_objective=False):
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
    return _proximal_gradient(D, X, lam, max_iter, tol, nonnegative, z0, device, return_objective, momentum=True)


# --- the fast path: batched homotopy ------------------------------------------------------------------------


def lasso(D, X, lam, *, nonnegative=False, max_steps=None, device=None) -> torch.Tensor:
    """The exact Lasso solution for many signals at once, by batched homotopy (the LARS-Lasso path).

    Minimises, for every signal x (a row of `X`) separately, ``F(z) = ½‖x − D z‖² + λ‖z‖₁`` (λ = `lam`).
    λ equals ``alpha`` of ``sklearn.decomposition.sparse_encode(X, D.T, algorithm="lasso_cd" or
    "lasso_lars")`` and ``n · alpha`` of ``sklearn.linear_model.Lasso`` (n = the signal length).

    The solution is piecewise linear in λ (Osborne, Presnell and Turlach, 2000; Efron et al., 2004). Starting
    from z = 0 at λ₀ = max_j |d_jᵀ x|, the path keeps the active atoms' correlations at ±λ and moves to the
    next event (an atom enters, or a coefficient hits zero and leaves) until it reaches `lam`. Every signal
    walks its own path, all of them in one batch: each step costs one small Cholesky solve per signal and one
    product with rows of the precomputed Gram matrix DᵀD, and a code with s nonzeros needs about s steps, so
    sparse codes cost far less than hundreds of ISTA/FISTA iterations. The result is exact up to rounding;
    the optimality (KKT) conditions are checked at the end and any signal that fails them (degenerate
    dictionaries) is finished by FISTA.

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
        Maximum number of path events per signal (default ``2 · min(n, k) + 10``).
    device : str or torch.device, optional
        Where to compute (default: where D is).

    Returns
    -------
    Z : tensor (batch, k) or (k,)

    Examples
    --------
    >>> D = torch.eye(3, dtype=torch.float64)
    >>> lasso(D, torch.tensor([[2.0, -0.5, 0.0]], dtype=torch.float64), lam=1.0)
    tensor([[1., 0., 0.]], dtype=torch.float64)
    """
    D, X2, single = _prepare(D, X, device)
    lam = _lam(lam)
    if lam == 0:
        raise ValueError("lasso needs lam > 0 (for lam = 0 use least squares, or omp for a sparse fit)")
    n, k = D.shape
    batch = X2.shape[0]
    max_steps = 2 * min(n, k) + 10 if max_steps is None else _validate.positive_int("max_steps", max_steps)
    dtype, dev = D.dtype, D.device
    G = D.T @ D  # (k, k)
    C0 = X2 @ D  # (batch, k): correlations of each atom with each signal
    Z = torch.zeros(batch, k, dtype=dtype, device=dev)
    limit = max(1, min(n, k))  # an active set never needs more than n atoms
    slots = min(limit, 16)  # grown on demand
    idx = torch.zeros(batch, slots, dtype=torch.long, device=dev)  # active atoms, by slot (holes allowed)
    valid = torch.zeros(batch, slots, dtype=torch.bool, device=dev)
    sign = torch.zeros(batch, slots, dtype=dtype, device=dev)
    # inverse of the active Gram block, identity on free slots; updated by rank-one steps, never refactored
    Minv = torch.eye(slots, dtype=dtype, device=dev).repeat(batch, 1, 1)
    active = torch.zeros(batch, k, dtype=torch.bool, device=dev)

    start = C0.clamp_min(0) if nonnegative else C0.abs()
    level, first = start.max(dim=1)  # λ₀ and the first atom of each path
    rows = torch.arange(batch, device=dev)
    begins = level > lam
    live = rows[begins]
    idx[:, 0], valid[:, 0] = first, begins
    sign[:, 0] = torch.sign(C0[rows, first]) * begins
    active[rows[begins], first[begins]] = True
    failed = torch.zeros(batch, dtype=torch.bool, device=dev)
    eps = 1e-12 if dtype == torch.float64 else 1e-6
    last_exit = torch.full((batch,), -1, dtype=torch.long, device=dev)  # may not re-enter at once

    for _ in range(max_steps):
        if live.numel() == 0:
            break
        V_live = valid[live]
        used = int(V_live.nonzero()[:, 1].max()) + 1
        I, V, S = idx[live, :used], V_live[:, :used], sign[live, :used]  # (b, m)
        lev = level[live]  # (b,)
        rhs = torch.stack([torch.gather(C0[live], 1, I) - lev.unsqueeze(1) * S, S], dim=2) * V.unsqueeze(2)
        sol = torch.bmm(Minv[live, :used, :used], rhs)  # (b, m, 2): codes on the support at λ, and -dz/dλ
        zs, ds = sol[..., 0], sol[..., 1]
        b = live.numel()
        both = _rows_times_gram(I.repeat(2, 1), torch.cat([zs, ds]), G)  # (2b, k): G z and G d
        corr, a = C0[live] - both[:b], both[b:]  # residual correlations and their rate of change
        lv = lev.unsqueeze(1)
        # step γ at which an inactive atom's correlation c − γa reaches +(λ − γ) or −(λ − γ)
        block = torch.where(V, math.inf, 0.0).to(dtype)  # active atoms cannot enter again
        den = 1 - a
        g_up = (lv - corr).clamp_min_(0).div_(den).masked_fill_(den <= eps, math.inf).scatter_add_(1, I, block)
        g_best = g_up
        if not nonnegative:
            den = 1 + a
            g_down = (lv + corr).clamp_min_(0).div_(den).masked_fill_(den <= eps, math.inf).scatter_add_(1, I, block)
            g_best = torch.minimum(g_up, g_down)
        just_left = last_exit[live]
        has_left = just_left >= 0
        if bool(has_left.any()):  # an atom that has just left sits at |c| = λ: it may not re-enter at once
            col = just_left.clamp_min(0).unsqueeze(1)
            at_edge = has_left & (torch.gather(corr, 1, col).squeeze(1).abs() >= lev * (1 - 1e-9))
            g_best.scatter_(1, col, torch.where(at_edge.unsqueeze(1), math.inf, torch.gather(g_best, 1, col)))
        g_entry, j_entry = g_best.min(dim=1)
        entry_sign = torch.where(torch.gather(g_up, 1, j_entry.unsqueeze(1)).squeeze(1) <= g_entry, 1.0, -1.0).to(dtype)
        ratio = -zs / torch.where(ds != 0, ds, torch.ones_like(ds))
        crossing = V & (zs * ds < 0) & (ratio > eps)
        g_exit, slot_exit = torch.where(crossing, ratio, torch.full_like(ratio, math.inf)).min(dim=1)
        g_target = lev - lam
        gamma = torch.minimum(torch.minimum(g_entry, g_exit), g_target)  # (b,)
        level[live] = lev - gamma
        done = gamma >= g_target
        if bool(done.any()):
            # scatter_add: free slots hold stale atom indices with value 0, and must not overwrite real entries
            final = (zs[done] + gamma[done].unsqueeze(1) * ds[done]) * V[done]
            Z[live[done]] = torch.zeros(int(done.sum()), k, dtype=dtype, device=dev).scatter_add_(1, I[done], final)
        do_exit = ~done & (g_exit < g_entry)
        do_entry = ~done & ~do_exit
        if do_exit.any():  # drop the atom: a rank-one downdate of the inverse, then free its slot
            r, i = live[do_exit], slot_exit[do_exit]
            M = Minv[r, :used, :used]
            col = M[torch.arange(r.numel(), device=dev), :, i]  # (e, m)
            piv = col[torch.arange(r.numel(), device=dev), i]
            M = M - col.unsqueeze(2) * col.unsqueeze(1) / piv[:, None, None]
            M[torch.arange(r.numel(), device=dev), i, :] = 0
            M[torch.arange(r.numel(), device=dev), :, i] = 0
            M[torch.arange(r.numel(), device=dev), i, i] = 1
            Minv[r, :used, :used] = M
            active[r, idx[r, i]] = False
            last_exit[r] = idx[r, i]
            valid[r, i] = False
            sign[r, i] = 0
        if do_entry.any():  # add the atom: a rank-one update of the inverse (Schur complement)
            r, j, sg = live[do_entry], j_entry[do_entry], entry_sign[do_entry]
            last_exit[r] = -1
            full = valid[r].all(dim=1)
            if bool(full.any()):
                if slots >= limit:
                    failed[r[full]] = True
                    r, j, sg = r[~full], j[~full], sg[~full]
                else:  # grow every slot array
                    extra = min(slots, limit - slots)
                    idx = torch.cat([idx, idx.new_zeros(batch, extra)], dim=1)
                    valid = torch.cat([valid, valid.new_zeros(batch, extra)], dim=1)
                    sign = torch.cat([sign, sign.new_zeros(batch, extra)], dim=1)
                    grown = torch.eye(slots + extra, dtype=dtype, device=dev).repeat(batch, 1, 1)
                    grown[:, :slots, :slots] = Minv
                    Minv, slots = grown, slots + extra
            f = (~valid[r]).to(torch.int8).argmax(dim=1)  # first free slot
            w = max(used, int(f.max()) + 1) if r.numel() else used
            e = torch.arange(r.numel(), device=dev)
            bvec = G[idx[r, :w], j.unsqueeze(1)] * valid[r, :w]  # (e, w): Gram entries with the active atoms
            M = Minv[r, :w, :w]
            u = torch.bmm(M, bvec.unsqueeze(2)).squeeze(2)  # (e, w)
            schur = 1 - (bvec * u).sum(dim=1)
            ok = schur > eps
            failed[r[~ok]] = True
            schur = torch.where(ok, schur, torch.ones_like(schur))
            M = M + u.unsqueeze(2) * u.unsqueeze(1) / schur[:, None, None]
            M[e, f, :] = -u / schur[:, None]
            M[e, :, f] = -u / schur[:, None]
            M[e, f, f] = 1 / schur
            keep = ok
            r, f, j, sg, M = r[keep], f[keep], j[keep], sg[keep], M[keep]
            Minv[r, :w, :w] = M
            idx[r, f], valid[r, f], sign[r, f] = j, True, sg
            active[r, j] = True
        live = live[~done & ~failed[live]]
    failed[live] = True  # ran out of steps

    # Check optimality (KKT): |d_jᵀ(x − D z)| ≤ λ everywhere, = λ·sign(z_j) on the support.
    corr = C0 - Z @ G
    slack = lam * (1 + 1e-6) + 1e-6 * C0.abs().amax(dim=1, keepdim=True)
    viol = (corr > slack) if nonnegative else (corr.abs() > slack)
    on = Z != 0
    wrong_sign = on & ((corr - lam * torch.sign(Z)).abs() > slack - lam)
    bad_rows = failed | viol.any(dim=1) | wrong_sign.any(dim=1) | (nonnegative & (Z < 0).any(dim=1))
    if bad_rows.any():
        fixed = fista(D, X2[bad_rows], lam, max_iter=1000, tol=1e-12, nonnegative=nonnegative, z0=Z[bad_rows])
        Z[bad_rows] = fixed
    return _out(Z, single)


# --- OMP ----------------------------------------------------------------------------------------------------


def omp(D, X, n_nonzero=None, *, tol=None, device=None) -> torch.Tensor:
    """Batched orthogonal matching pursuit (Pati, Rezaiifar and Krishnaprasad, 1993), Gram-matrix form.

    A greedy alternative to the Lasso objective ``½‖x − D z‖² + λ‖z‖₁``: OMP minimises ``½‖x − D z‖²``
    subject to at most `n_nonzero` nonzero entries. At each step it adds the atom most correlated with the
    current residual, then refits all chosen coefficients by least squares. It has no λ; scikit-learn's
    `alpha` for ``sparse_encode(..., algorithm="omp")`` is the squared-residual tolerance, our `tol`.

    All signals of the batch advance together ("Batch-OMP", Rubinstein, Zibulevsky and Elad, 2008): the
    correlations are updated through the precomputed Gram matrix DᵀD and the least-squares fit through a
    Cholesky factor that grows by one row per step, so no step touches the signals again. It returns the
    same supports and coefficients as ``sklearn.linear_model.orthogonal_mp_gram(D.T @ D, D.T @ x,
    n_nonzero_coefs=n_nonzero, tol=tol)``.

    Parameters
    ----------
    D : tensor (n, k)
        Dictionary with unit-norm atoms as columns.
    X : tensor (batch, n) or (n,)
        Signals, one per row.
    n_nonzero : int, optional
        Number of atoms per signal (default: 10% of n, at least 1, as in scikit-learn, unless `tol` is given).
    tol : float, optional
        Stop a signal once its squared residual ‖x − D z‖² is at most `tol` (then `n_nonzero`, if given, is
        still a cap).
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
    D, X2, single = _prepare(D, X, device)
    n, k = D.shape
    batch = X2.shape[0]
    if tol is not None:
        tol = _tol(tol)
    if n_nonzero is None:
        n_nonzero = min(n, k) if tol is not None else max(1, int(0.1 * n))
    n_nonzero = _validate.positive_int("n_nonzero", n_nonzero)
    if n_nonzero > min(n, k):
        raise ValueError(f"n_nonzero must be at most min(n, k) = {min(n, k)}, got {n_nonzero}")
    dtype, dev = D.dtype, D.device
    G = D.T @ D  # (k, k)
    alpha0 = X2 @ D  # (batch, k)
    energy0 = (X2 * X2).sum(dim=1)  # (batch,) ‖x‖²
    alpha = alpha0  # correlations of the atoms with the current residual
    idx = torch.zeros(batch, n_nonzero, dtype=torch.long, device=dev)
    L = torch.zeros(batch, n_nonzero, n_nonzero, dtype=dtype, device=dev)  # Cholesky factor of G_SS
    codes = torch.zeros(batch, n_nonzero, dtype=dtype, device=dev)  # each signal's coefficients, by step
    # All signals step together; a signal that has stopped keeps its codes (`alive` False) while the others go on.
    alive = torch.ones(batch, dtype=torch.bool, device=dev)
    if tol is not None:
        alive &= energy0 > tol
    tiny = torch.finfo(dtype).eps
    for t in range(n_nonzero):
        if not bool(alive.any()):
            break
        best, j = alpha.abs().max(dim=1)  # (batch,): the atom most correlated with the residual
        # as scikit-learn: stop once no atom is correlated with the residual, or a chosen atom comes back
        alive &= best * best >= tiny
        if t == 0:
            L[:, 0, 0] = 1.0
        else:
            alive &= ~(idx[:, :t] == j.unsqueeze(1)).any(dim=1)
            g = G[idx[:, :t], j.unsqueeze(1)]  # (batch, t): G_{S, j}
            w = torch.linalg.solve_triangular(L[:, :t, :t], g.unsqueeze(2), upper=False).squeeze(2)
            diag2 = 1.0 - (w * w).sum(dim=1)
            alive &= diag2 > tiny  # the new atom is (numerically) in the span of the chosen ones: stop
            L[:, t, :t] = w
            L[:, t, t] = torch.where(alive, diag2, torch.ones_like(diag2)).sqrt()
        if not bool(alive.any()):
            break
        idx[:, t] = j
        S = idx[:, : t + 1]  # (batch, t+1)
        rhs = torch.gather(alpha0, 1, S)
        gamma = torch.cholesky_solve(rhs.unsqueeze(2), L[:, : t + 1, : t + 1]).squeeze(2)  # least squares on S
        codes[:, : t + 1] = torch.where(alive.unsqueeze(1), gamma, codes[:, : t + 1])
        alpha = alpha0 - _rows_times_gram(S, gamma, G)  # (batch, k): α₀ − G_{:, S} γ
        if tol is not None:
            # ‖x − D_S γ‖² = ‖x‖² − γᵀ D_Sᵀ x, since γ solves the normal equations
            alive &= energy0 - (gamma * rhs).sum(dim=1) > tol
    # unused steps hold the code 0 (their slot index is stale), so adding them in changes nothing
    Z = torch.zeros(batch, k, dtype=dtype, device=dev).scatter_add_(1, idx, codes)
    return _out(Z, single)


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
    if values.size == 0 or not np.all(np.isfinite(values)) or np.any(values <= 0) or np.any(values > 1):
        raise ValueError(f"delta must be in (0, 1] (the ratio n/N of measurements to unknowns), got {delta!r}")
    kappa = 2.0 if signed else 1.0
    rho = np.array([_rho_of(float(d), kappa) for d in values.ravel()]).reshape(values.shape)
    rho = np.clip(rho, 0.0, 1.0)
    return float(rho) if np.ndim(delta) == 0 else rho
