"""Sparse recovery solvers, with scikit-learn as the oracle; the L1 phase transition against published values."""

import math
import warnings

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.decomposition import sparse_encode
from sklearn.linear_model import Lasso, lars_path, orthogonal_mp_gram

from superpose_lib import sparse
from superpose_lib.sparse import fista, ista, l1_phase_transition, lasso, lasso_objective, omp, soft_threshold


def problem(n=20, k=50, batch=6, s=3, seed=0, noise=0.01):
    gen = torch.Generator().manual_seed(seed)
    D = torch.randn(n, k, generator=gen, dtype=torch.float64)
    D = D / D.norm(dim=0, keepdim=True)
    Z = torch.zeros(batch, k, dtype=torch.float64)
    for b in range(batch):
        Z[b, torch.randperm(k, generator=gen)[:s]] = torch.randn(s, generator=gen, dtype=torch.float64)
    X = Z @ D.T + noise * torch.randn(batch, n, generator=gen, dtype=torch.float64)
    return D, X, Z


def sklearn_lasso(D, X, lam, positive=False):
    """The reference minimiser, via Lasso(alpha = λ / n) on each signal."""
    n = D.shape[0]
    out = []
    for x in X.numpy():
        model = Lasso(alpha=lam / n, fit_intercept=False, tol=1e-12, max_iter=100000, positive=positive)
        out.append(model.fit(D.numpy(), x).coef_)
    return torch.tensor(np.array(out))


# --- soft thresholding and the objective ----------------------------------------------------------------------


def test_soft_threshold_values_and_nonnegative_variant():
    v = torch.tensor([-3.0, -1.0, 0.5, 2.0])
    assert torch.equal(soft_threshold(v, 1.0), torch.tensor([-2.0, 0.0, 0.0, 1.0]))
    assert torch.equal(soft_threshold(v, 1.0, nonnegative=True), torch.tensor([0.0, 0.0, 0.0, 1.0]))


@given(v=st.floats(-10, 10), t=st.floats(0, 5))
@settings(max_examples=60, deadline=None)
def test_soft_threshold_is_the_proximal_operator(v, t):
    # prox minimises ½(u − v)² + t|u|: compare with a fine grid search
    u = torch.linspace(-12, 12, 240001, dtype=torch.float64)
    best = u[torch.argmin(0.5 * (u - v) ** 2 + t * u.abs())].item()
    assert soft_threshold(torch.tensor([v], dtype=torch.float64), t).item() == pytest.approx(best, abs=2e-4)


def test_lasso_objective_matches_the_formula():
    D, X, Z = problem()
    value = lasso_objective(D, X, Z, 0.1)
    want = 0.5 * ((X - Z @ D.T) ** 2).sum(dim=1) + 0.1 * Z.abs().sum(dim=1)
    assert torch.allclose(value, want)


# --- Lasso solvers against scikit-learn ----------------------------------------------------------------------


@pytest.mark.parametrize("lam", [0.02, 0.1, 0.5])
def test_fista_reaches_sklearn_lasso_objective(lam):
    D, X, _ = problem()
    want = lasso_objective(D, X, sklearn_lasso(D, X, lam), lam)
    got = lasso_objective(D, X, fista(D, X, lam, max_iter=20000, tol=1e-13), lam)
    assert torch.all((got - want) / want <= 1e-6)


@pytest.mark.parametrize("nonnegative", [False, True])
def test_homotopy_lasso_is_exact(nonnegative):
    D, X, _ = problem(n=30, k=90, batch=40, s=5, seed=1)
    want = sklearn_lasso(D, X, 0.05, positive=nonnegative)
    got = lasso(D, X, 0.05, nonnegative=nonnegative)
    assert torch.allclose(got, want, atol=1e-6)
    f_got, f_want = lasso_objective(D, X, got, 0.05), lasso_objective(D, X, want, 0.05)
    assert torch.all((f_got - f_want) / f_want <= 1e-9)
    if nonnegative:
        assert (got >= 0).all()


def test_lambda_is_sparse_encodes_alpha():
    D, X, _ = problem(batch=5)
    ours = lasso(D, X, 0.1)
    for algorithm in ("lasso_cd", "lasso_lars"):
        theirs = torch.tensor(sparse_encode(X.numpy(), D.T.numpy(), algorithm=algorithm, alpha=0.1))
        assert torch.allclose(ours, theirs, atol=1e-5), algorithm


@given(seed=st.integers(0, 10_000), lam=st.floats(0.01, 1.0))
@settings(max_examples=15, deadline=None)
def test_homotopy_meets_the_optimality_conditions(seed, lam):
    D, X, _ = problem(n=15, k=40, batch=8, s=4, seed=seed)
    Z = lasso(D, X, lam)
    corr = (X - Z @ D.T) @ D  # (batch, k)
    assert (corr.abs() <= lam * (1 + 1e-7) + 1e-9).all()
    on = Z != 0
    assert torch.allclose(corr[on], lam * torch.sign(Z[on]), atol=1e-8)


def test_float32_event_scan_gives_the_float64_path_exactly():
    # lasso finds the path's events in float32 and computes the codes in float64; the result must be the
    # float64 walk's, to rounding, on a problem large enough for many entries and exits
    D, X, _ = problem(n=32, k=128, batch=300, s=8, seed=3, noise=0.0)
    G, C0 = D.T @ D, X @ D
    want, failed = sparse._homotopy(G, C0, 0.02, False, 200, torch.float64)
    assert not failed.any()
    assert torch.allclose(lasso(D, X, 0.02), want, rtol=0, atol=1e-12)


@pytest.mark.parametrize("nonnegative", [False, True])
def test_optimality_check_on_the_homotopys_support_agrees_with_a_search(nonnegative):
    D, X, _ = problem(n=30, k=90, batch=40, s=5, seed=9)
    G, C0 = D.T @ D, X @ D
    support = []
    Z, failed = sparse._homotopy(G, C0, 0.05, nonnegative, 200, torch.float64, support)
    assert not failed.any()
    flat = torch.cat(support)
    assert torch.equal(torch.sort(flat).values, Z.view(-1).nonzero().squeeze(1))  # every nonzero, once
    off = Z.clone()
    off[::3] *= 1.01  # every third row leaves the optimum on the same support
    moved = (Z[::3] != 0).any(dim=1)
    for codes in (Z, off):
        with_support = sparse._kkt_holds(G, C0, codes, 0.05, nonnegative, support)
        assert torch.equal(with_support, sparse._kkt_holds(G, C0, codes, 0.05, nonnegative))
    assert sparse._kkt_holds(G, C0, Z, 0.05, nonnegative, support).all()
    assert moved.any() and not sparse._kkt_holds(G, C0, off, 0.05, nonnegative, support)[::3][moved].any()


def test_rows_failing_the_fast_scan_walk_again_in_float64(monkeypatch):
    D, X, _ = problem(n=20, k=60, batch=12, s=4, seed=4)
    want = lasso(D, X, 0.05)
    real, calls = sparse._kkt_holds, []

    def first_check_rejects_rows_0_and_5(G, C0, Z, lam, nonnegative, support=None):
        ok = real(G, C0, Z, lam, nonnegative, support)
        if not calls:
            Z[[0, 5]] = 0  # as if the float32 scan had found wrong supports there
            ok[[0, 5]] = False
        calls.append(ok.clone())
        return ok

    monkeypatch.setattr(sparse, "_kkt_holds", first_check_rejects_rows_0_and_5)
    got = lasso(D, X, 0.05)
    assert len(calls) == 2 and calls[1].all()  # the redone rows pass the second check
    assert torch.allclose(got, want, atol=1e-12)


def test_path_events_on_an_orthonormal_dictionary_are_one_entry_per_surviving_atom():
    # with D = I the path never turns back: atom j enters when λ falls to |x_j| and stays
    X = torch.tensor([[2.0, -1.5, 0.5, 0.0], [0.3, 0.2, -0.1, 0.0]], dtype=torch.float64)
    Z, events = lasso(torch.eye(4, dtype=torch.float64), X, 0.4, return_events=True)
    assert events.tolist() == [[3, 0], [0, 0]]
    assert torch.equal(Z, lasso(torch.eye(4, dtype=torch.float64), X, 0.4))


@pytest.mark.parametrize("nonnegative", [False, True])
def test_path_events_are_the_kinks_of_sklearns_lars_lasso_path(nonnegative):
    D, X, _ = problem(n=30, k=60, batch=12, s=6, seed=11)
    Z, events = lasso(D, X, 0.1, nonnegative=nonnegative, return_events=True)
    assert torch.equal(Z, lasso(D, X, 0.1, nonnegative=nonnegative))  # asking for the count changes nothing
    assert torch.equal(events[:, 0] - events[:, 1], (Z != 0).sum(dim=1))  # entries − exits = the support
    assert events[:, 1].sum() > 0  # the test needs paths that turn back
    for x, got in zip(X.numpy(), events.tolist()):
        *_, coefs = lars_path(D.numpy(), x, alpha_min=0.1 / D.shape[0], method="lasso", positive=nonnegative)
        on = np.abs(coefs) > 1e-12  # (k, kinks + 1): the support at each kink (a dropped atom keeps rounding)
        assert got == [int((~on[:, :-1] & on[:, 1:]).sum()), int((on[:, :-1] & ~on[:, 1:]).sum())]


def test_path_events_of_the_float32_scan_are_the_float64_walks():
    D, X, _ = problem(n=32, k=128, batch=300, s=8, seed=3, noise=0.0)
    want = torch.zeros(300, 2, dtype=torch.long)
    sparse._homotopy(D.T @ D, X @ D, 0.02, False, 200, torch.float64, None, want)
    assert want[:, 1].sum() > 0  # paths that turn back
    assert torch.equal(lasso(D, X, 0.02, return_events=True)[1], want)


def test_path_events_of_a_single_signal_and_of_a_path_finished_by_the_active_set_method():
    D, X, _ = problem(n=15, k=30, batch=10, s=3, seed=5)
    _, one = lasso(D, X[0], 0.05, return_events=True)
    assert one.shape == (2,) and torch.equal(one, lasso(D, X, 0.05, return_events=True)[1][0])
    D[:, 1] = D[:, 0]  # duplicate atoms: some paths cannot be walked to their end
    _, events = lasso(D, X, 0.05, return_events=True)
    assert ((events == -1).all(dim=1) | (events >= 0).all(dim=1)).all()


def test_degenerate_dictionary_still_reaches_the_optimum():
    # two identical atoms: the active Gram block is singular, the homotopy stops, the active-set method ends it
    D, X, _ = problem(n=15, k=30, batch=10, s=3, seed=5)
    D[:, 1] = D[:, 0]
    Z = lasso(D, X, 0.05)
    want = lasso_objective(D, X, sklearn_lasso(D, X, 0.05), 0.05)
    assert torch.all((lasso_objective(D, X, Z, 0.05) - want) / want <= 1e-7)


def test_ista_and_fista_gaps_stay_under_their_bounds():
    D, X, _ = problem(n=20, k=60, batch=4, seed=2)
    lam = 0.05
    z_star = lasso(D, X, lam)
    f_star = lasso_objective(D, X, z_star, lam)
    L = torch.linalg.matrix_norm(D, ord=2).item() ** 2
    distance = (z_star**2).sum(dim=1)  # ‖z₀ − z*‖² with z₀ = 0
    t = torch.arange(1, 301, dtype=torch.float64).unsqueeze(1)
    _, f_ista = ista(D, X, lam, max_iter=300, tol=0, return_objective=True)
    _, f_fista = fista(D, X, lam, max_iter=300, tol=0, return_objective=True)
    assert f_ista.shape == (301, 4)
    assert torch.all(f_ista[1:] - f_star <= L * distance / (2 * t) + 1e-12)
    assert torch.all(f_fista[1:] - f_star <= 2 * L * distance / (t + 1) ** 2 + 1e-12)
    assert torch.all(f_ista[1:] <= f_ista[:-1] + 1e-12)  # ISTA is monotone
    assert (f_fista[-1] - f_star).max() < (f_ista[-1] - f_star).max()  # and FISTA is ahead at the end


def test_tolerance_stops_early_and_max_iter_caps():
    D, X, _ = problem()
    _, loose = fista(D, X, 0.1, tol=1e-3, max_iter=5000, return_objective=True)
    _, tight = fista(D, X, 0.1, tol=1e-10, max_iter=5000, return_objective=True)
    assert loose.shape[0] < tight.shape[0] <= 5001
    _, capped = ista(D, X, 0.1, tol=0, max_iter=7, return_objective=True)
    assert capped.shape[0] == 8


def test_nonnegative_fista_matches_positive_lasso():
    D, X, _ = problem(seed=3)
    want = lasso_objective(D, X, sklearn_lasso(D, X, 0.05, positive=True), 0.05)
    Z = fista(D, X, 0.05, nonnegative=True, max_iter=20000, tol=1e-13)
    assert (Z >= 0).all()
    assert torch.all((lasso_objective(D, X, Z, 0.05) - want) / want <= 1e-6)


def test_single_signal_and_float32():
    D, X, _ = problem()
    z = fista(D, X[0], 0.1)
    assert z.shape == (50,)
    z32 = lasso(D.float(), X[0].float(), 0.1)
    assert z32.dtype == torch.float32 and torch.allclose(z32.double(), lasso(D, X[0], 0.1), atol=1e-4)


# --- OMP against orthogonal_mp_gram --------------------------------------------------------------------------


@pytest.mark.parametrize("n_nonzero", [1, 3, 8])
def test_omp_matches_sklearn_supports_and_coefficients(n_nonzero):
    D, X, _ = problem(n=40, k=120, batch=30, s=5, seed=4)
    G, Xy = (D.T @ D).numpy(), (X @ D).numpy().T
    theirs = torch.tensor(orthogonal_mp_gram(G, Xy, n_nonzero_coefs=n_nonzero).T)
    ours = omp(D, X, n_nonzero)
    assert torch.equal(ours != 0, theirs != 0)
    assert torch.allclose(ours, theirs, atol=1e-10)


def test_omp_with_tolerance_matches_sklearn():
    D, X, _ = problem(n=40, k=120, batch=30, s=5, seed=5)
    G, Xy = (D.T @ D).numpy(), (X @ D).numpy().T
    norms = (X**2).sum(dim=1).numpy()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        theirs = torch.tensor(orthogonal_mp_gram(G, Xy, tol=0.05, norms_squared=norms).T)
    ours = omp(D, X, tol=0.05)
    assert torch.equal(ours != 0, theirs != 0)
    assert torch.allclose(ours, theirs, atol=1e-10)
    assert ((X - ours @ D.T) ** 2).sum(dim=1).max() <= 0.05


def test_omp_with_tolerance_and_a_cap_stops_at_whichever_comes_first():
    # scikit-learn ignores n_nonzero_coefs when tol is given, so each signal is checked against its own
    # fixed-size run: the first m atoms of the path, where m is the fewest that reach tol (or the cap)
    D, X, _ = problem(n=40, k=120, batch=30, s=5, seed=7)
    G, Xy = (D.T @ D).numpy(), (X @ D).numpy().T
    cap, tol = 3, 0.5
    ours = omp(D, X, cap, tol=tol)
    sizes = (ours != 0).sum(dim=1)
    residual = ((X - ours @ D.T) ** 2).sum(dim=1)
    assert {0, cap} < set(sizes.tolist())  # some signals stop on the tolerance (one at once), some on the cap
    for row in range(X.shape[0]):
        m = int(sizes[row])
        assert residual[row] <= tol or m == cap
        if m == 0:
            assert (X[row] ** 2).sum() <= tol  # already within tol: no atom at all
            continue
        theirs = torch.tensor(orthogonal_mp_gram(G, Xy[:, row], n_nonzero_coefs=m))
        assert torch.allclose(ours[row], theirs, atol=1e-10)
        fewer = orthogonal_mp_gram(G, Xy[:, row], n_nonzero_coefs=m - 1) if m > 1 else np.zeros(D.shape[1])
        assert ((X[row] - torch.tensor(fewer) @ D.T) ** 2).sum() > tol  # one atom less would not do


def test_omp_in_float32_agrees_with_float64_and_leaves_inputs_alone():
    # float32 takes the embedding_bag product and the float64 one the CSR product: the same algorithm
    D, X, _ = problem(n=40, k=120, batch=200, s=5, seed=8)
    X32, D32 = X.float(), D.float()
    before = X32.clone()
    z64, z32 = omp(D, X, 6), omp(D32, X32, 6)
    assert z32.dtype == torch.float32 and torch.equal(X32, before)
    same = ((z64 != 0) == (z32 != 0)).all(dim=1)
    assert same.float().mean() >= 0.98  # only near-ties may pick another atom in float32
    assert torch.allclose(z32[same].double(), z64[same], atol=1e-4)


def test_omp_recovers_exact_sparse_codes_and_stops_at_zero_residual():
    D, X, Z = problem(n=40, k=120, batch=20, s=4, seed=6, noise=0.0)
    got = omp(D, X, 10)  # asks for more atoms than needed: stops once the residual vanishes
    assert torch.allclose(got, Z, atol=1e-10)


# --- argument checks ------------------------------------------------------------------------------------------


def test_unnormalised_dictionary_is_refused_with_the_fix():
    D, X, _ = problem()
    with pytest.raises(ValueError, match="unit norm.*D.norm"):
        fista(2 * D, X, 0.1)


def test_atoms_as_rows_is_refused_with_a_transpose_hint():
    D = torch.eye(4, 6, dtype=torch.float64)[:, :4]  # square with unit columns AND rows is fine; build rows-only
    gen = torch.Generator().manual_seed(0)
    rows = torch.randn(8, 5, generator=gen, dtype=torch.float64)
    rows = rows / rows.norm(dim=1, keepdim=True)  # (8, 5): unit rows, as scikit-learn stores atoms
    with pytest.raises(ValueError, match="pass D.T"):
        omp(rows, torch.zeros(3, 8, dtype=torch.float64), 1)
    assert omp(D, torch.ones(2, 4, dtype=torch.float64), 1).shape == (2, 4)


def test_misshaped_signals_are_refused_with_a_hint():
    D, X, _ = problem()
    with pytest.raises(ValueError, match=r"\(batch, n\).*X.T"):
        lasso(D, X.T, 0.1)
    with pytest.raises(ValueError, match="codes instead of signals"):
        ista(D, torch.zeros(3, 50, dtype=torch.float64), 0.1)
    with pytest.raises(ValueError, match="2 dimensions"):
        fista(D[0], X, 0.1)


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_non_finite_signals_are_refused_and_huge_finite_ones_are_not(bad):
    D, X, _ = problem()
    X = X.clone()
    X[2, 3] = bad
    for solver in (lambda: omp(D, X, 2), lambda: lasso(D, X, 0.1), lambda: fista(D, X, 0.1, max_iter=2)):
        with pytest.raises(ValueError, match="finite"):
            solver()
    # the finiteness check sums first: finite entries whose sum overflows must still be accepted
    huge = torch.full((2, D.shape[0]), 1e308, dtype=torch.float64)
    assert torch.isinf(huge.sum())
    assert omp(D, huge, 1).shape == (2, D.shape[1])


@pytest.mark.parametrize("lam", [-1.0, float("nan"), "0.1", True])
def test_bad_lambda_is_refused(lam):
    D, X, _ = problem()
    with pytest.raises(ValueError, match="lam"):
        fista(D, X, lam)


def test_bad_sparsity_is_refused():
    D, X, _ = problem()
    with pytest.raises(ValueError, match="n_nonzero"):
        omp(D, X, 0)
    with pytest.raises(ValueError, match="at most"):
        omp(D, X, 21)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.parametrize("shape", [(20, 50, 6, 3), (64, 256, 300, 8)])
def test_cuda_matches_cpu(shape):
    n, k, batch, s = shape
    D, X, _ = problem(n, k, batch, s)
    assert torch.allclose(lasso(D, X, 0.1, device="cuda").cpu(), lasso(D, X, 0.1), atol=1e-8)
    assert torch.allclose(omp(D, X, s, device="cuda").cpu(), omp(D, X, s), atol=1e-8)
    assert torch.allclose(fista(D, X, 0.1, device="cuda").cpu(), fista(D, X, 0.1), atol=1e-6)
    # lasso's float64 optimality check would hide a wrong path behind its active-set fallback: the path itself must
    # succeed on the GPU for every signal, with the codes of the CPU's path
    G, C0 = D.T @ D, X @ D
    on_cpu, failed_cpu = sparse._homotopy(G, C0, 0.1, False, 2 * n + 10, torch.float64)
    on_gpu, failed_gpu = sparse._homotopy(G.cuda(), C0.cuda(), 0.1, False, 2 * n + 10, torch.float64)
    assert not failed_cpu.any() and not failed_gpu.any()
    assert torch.allclose(on_gpu.cpu(), on_cpu, atol=1e-8)


# --- the phase transition ---------------------------------------------------------------------------------------


def test_phase_transition_matches_published_values():
    # Donoho, Maleki and Montanari (2009): ρ(0.5) ≈ 0.3856 (signed); Donoho and Tanner: ρ⁺(0.5) ≈ 0.558
    assert l1_phase_transition(0.5) == pytest.approx(0.3856, abs=5e-4)
    assert l1_phase_transition(0.5, signed=False) == pytest.approx(0.558, abs=1e-3)
    assert l1_phase_transition(1.0) == 1.0


def test_phase_transition_is_increasing_and_nonnegative_is_easier():
    delta = np.linspace(0.05, 0.95, 19)
    signed, positive = l1_phase_transition(delta), l1_phase_transition(delta, signed=False)
    assert signed.shape == (19,) and np.all(np.diff(signed) > 0)
    assert np.all(positive > signed) and np.all((signed > 0) & (signed < 1))


@pytest.mark.parametrize("delta", [0.0, -0.1, 1.5, float("nan")])
def test_phase_transition_refuses_bad_delta(delta):
    with pytest.raises(ValueError, match="delta"):
        l1_phase_transition(delta)


def test_row_max_matches_torch_max_on_the_cpu_nan_and_inf_included():
    from superpose_lib.sparse import _row_max

    gen = torch.Generator().manual_seed(0)
    for dtype in (torch.float32, torch.float64):
        t = torch.randn(50, 37, generator=gen, dtype=dtype)
        t[3, 5] = math.nan  # a NaN row: both report the NaN (the homotopy treats it as a broken row)
        t[7] = -math.inf
        t[9, 2] = math.inf
        values, index = _row_max(t)
        expected_values, expected_index = t.max(dim=1)
        assert torch.equal(index[~torch.isnan(expected_values)], expected_index[~torch.isnan(expected_values)])
        assert torch.isnan(values[3]) and index[3] == 5
        assert torch.equal(values[~torch.isnan(values)], expected_values[~torch.isnan(expected_values)])
        assert index.dtype == torch.long
    strided = torch.randn(37, 50, generator=gen).T  # not contiguous: falls back to torch.max
    assert torch.equal(_row_max(strided)[1], strided.max(dim=1)[1])


def test_row_max_of_absolute_values_matches_torch():
    from superpose_lib.sparse import _row_max

    gen = torch.Generator().manual_seed(1)
    for dtype in (torch.float32, torch.float64):
        t = torch.randn(60, 41, generator=gen, dtype=dtype)
        t[4] = -t[4].abs()  # a row whose largest |entry| is negative
        values, index = _row_max(t, absolute=True)  # the entry of largest magnitude, with its sign
        expected_values, expected_index = t.abs().max(dim=1)
        assert torch.equal(values.abs(), expected_values) and torch.equal(index, expected_index)
        assert torch.equal(values, t.gather(1, index.unsqueeze(1)).squeeze(1))
        assert values[4] < 0


def test_homotopy_leaves_its_inputs_alone():
    # the float64 walk (the GPU's, and the CPU's second walk) must not write into the correlations it is given
    D, X, _ = problem(n=20, k=50, batch=30, s=4, seed=5)
    G, C0 = D.T @ D, X @ D
    G_before, C0_before = G.clone(), C0.clone()
    for scan in (torch.float64, torch.float32):
        sparse._homotopy(G, C0, 0.05, False, 50, scan)
        assert torch.equal(C0, C0_before) and torch.equal(G, G_before)
