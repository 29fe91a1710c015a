"""Hard inputs for the sparse solvers, and the laws they obey on any input.

**Hard inputs.** Ill-conditioned dictionaries (Hilbert, complete and overcomplete), near-duplicate and
duplicate (and antipodal) atoms, a single atom, well-conditioned complete and overcomplete dictionaries;
signals at scales 1e-8, 1 and 1e8; float32 and float64; λ from 1e-6·λ_max to λ_max; the nonnegative variant;
empty batches, dictionaries without atoms and half precision. A Lasso answer is exact when it meets the KKT
conditions (|Dᵀr| ≤ λ everywhere, = λ with the code's sign on the support) and its objective is no worse than
scikit-learn's best (coordinate descent or LARS), at the tolerances of ``sparse_oracles``.

**Properties** (hypothesis, over random dictionaries and signals): scaling the signals (and λ with them)
scales the codes, permuting the atoms permutes the codes, and a signal's codes do not depend on the batch it
is solved in. CI draws ``SPARSE_PROPERTY_EXAMPLES`` examples per property (default 25); for a longer hunt run
``SPARSE_PROPERTY_EXAMPLES=500 python -m pytest tests/test_sparse_hard_inputs.py -k property``.
"""

import functools
import os
import warnings

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.linear_model import orthogonal_mp_gram
from sparse_oracles import KKT_TOL, OBJECTIVE_TOL, kkt_violation, objective, sklearn_best_objective, unit_columns

from superpose_lib.sparse import fista, ista, lasso, omp

EXAMPLES = int(os.environ.get("SPARSE_PROPERTY_EXAMPLES", "25"))


def _hilbert(n, k):
    return 1.0 / (np.arange(1, n + 1)[:, None] + np.arange(k)[None, :])


def _with_twins(n, k, seed, gap):
    """Random atoms where atom 1 is atom 0 and atom 5 is −atom 4, each up to a perturbation of size `gap`."""
    rng = np.random.RandomState(seed)
    A = rng.randn(n, k)
    A /= np.linalg.norm(A, axis=0)
    A[:, 1] = A[:, 0] + gap * rng.randn(n)
    A[:, 5] = -A[:, 4] + gap * rng.randn(n)
    return A


DICTIONARIES = {
    "hilbert-complete": lambda: _hilbert(8, 8),  # condition number about 1e10
    "hilbert-overcomplete": lambda: _hilbert(6, 12),
    "near-duplicates": lambda: _with_twins(12, 24, 1, 1e-7),
    "near-twins": lambda: _with_twins(5, 12, 6, 1e-9),  # closer than float64 can solve apart (cond 1e16)
    "duplicates": lambda: _with_twins(12, 24, 2, 0.0),
    "complete": lambda: np.random.RandomState(3).randn(16, 16),
    "overcomplete": lambda: np.random.RandomState(4).randn(10, 40),
    "one-atom": lambda: np.random.RandomState(5).randn(10, 1),
}
SCALES = [1e-8, 1.0, 1e8]
DTYPES = [torch.float32, torch.float64]
FRACTIONS = [1e-6, 1e-3, 0.1, 1.0]


@functools.cache
def _problem(name, dtype):
    """(D, X) at scale 1 in `dtype`: three Gaussian signals and one 2-sparse one (a zero signal for one atom)."""
    D = unit_columns(DICTIONARIES[name]()).to(dtype)
    n, k = D.shape
    rng = np.random.RandomState(10)
    X = torch.tensor(rng.randn(4, n), dtype=dtype)
    z = torch.zeros(k, dtype=dtype)
    z[[0, k - 1]] = torch.tensor([1.5, -0.5], dtype=dtype) if k > 1 else torch.tensor([0.0], dtype=dtype)
    X[3] = D @ z
    return D, X


@functools.cache
def _reference(name, dtype, fraction, nonnegative):
    """λ at scale 1 and scikit-learn's best objective per signal, on the same (dtype-rounded) D and X."""
    D, X = _problem(name, dtype)
    lam = fraction * float((X.double() @ D.double()).abs().max())
    return lam, sklearn_best_objective(D.double(), X.double(), lam, nonnegative)


@pytest.mark.parametrize("nonnegative", [False, True], ids=["signed", "nonnegative"])
@pytest.mark.parametrize("fraction", FRACTIONS, ids=[f"lam={f:g}max" for f in FRACTIONS])
@pytest.mark.parametrize("dtype", DTYPES, ids=["float32", "float64"])
@pytest.mark.parametrize("scale", SCALES, ids=[f"x{s:g}" for s in SCALES])
@pytest.mark.parametrize("name", list(DICTIONARIES))
def test_lasso_is_exact_on_hard_inputs(name, scale, dtype, fraction, nonnegative):
    D, X = _problem(name, dtype)
    lam, best = _reference(name, dtype, fraction, nonnegative)
    Xs = X * scale
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # an inexact answer would warn: that is a failure here
        Z = lasso(D, Xs, lam * scale, nonnegative=nonnegative)
    assert Z.dtype == dtype and torch.isfinite(Z).all()
    if nonnegative:
        assert (Z >= 0).all()
    violation = kkt_violation(D, Xs, Z, lam * scale, nonnegative)
    assert (violation <= KKT_TOL[dtype]).all(), f"KKT violated by up to {violation.max().item():.3g}"
    # the objective, at scale 1 (it scales with scale²), no worse than scikit-learn's best
    ours = objective(D, X, Z.double() / scale, lam)
    gap = (ours - best) / best.clamp_min(1e-300)
    assert (gap <= OBJECTIVE_TOL[dtype]).all(), f"objective above scikit-learn's by up to {gap.max().item():.3g}"


@pytest.mark.parametrize("dtype", DTYPES, ids=["float32", "float64"])
@pytest.mark.parametrize("scale", [1e-8, 1e8], ids=["x1e-08", "x1e+08"])
@pytest.mark.parametrize("name", list(DICTIONARIES))
def test_omp_is_scale_equivariant_on_hard_inputs(name, scale, dtype):
    D, X = _problem(name, dtype)
    t = min(3, *D.shape)
    # The power of two nearest the scale: it scales every number exactly, so even the near-ties of the
    # near-duplicate atoms (equal in float32) break the same way, and the codes must scale bit for bit.
    s = 2.0 ** round(np.log2(scale))
    Z1, Zs = omp(D, X, t), omp(D, X * s, t)
    assert Zs.dtype == dtype
    assert torch.equal(Zs / s, Z1)  # the same atoms and codes at every scale: no absolute threshold drops them
    # at the scale itself, the same supports (on well-separated atoms) and codes to rounding
    if name not in ("near-duplicates", "duplicates"):
        Zs = omp(D, X * scale, t)
        assert torch.equal(Z1 != 0, Zs != 0)
        rtol = 1e-4 if dtype == torch.float32 else 1e-9
        assert torch.allclose(Zs.double() / scale, Z1.double(), rtol=rtol, atol=rtol * float(Z1.abs().max()))


@pytest.mark.parametrize("power", [-100, 70], ids=["2^-100", "2^70"])
def test_omp_and_lasso_in_float32_beyond_where_squares_overflow_or_underflow(power):
    # ‖x‖² of a float32 signal of norm 2^70 overflows float32, and of norm 2^-100 underflows it: the solvers'
    # thresholds are computed in float64, so the codes still scale with the signal
    D, X = _problem("overcomplete", torch.float32)
    s = 2.0**power
    assert torch.equal(omp(D, X * s, 3) / s, omp(D, X, 3))
    assert torch.equal(omp(D, X * s, tol=float(s) ** 2 * 1e-2) / s, omp(D, X, tol=1e-2))
    lam = 0.1 * float((X @ D).abs().max())
    assert torch.allclose(lasso(D, X * s, lam * s) / s, lasso(D, X, lam), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("name", ["complete", "overcomplete"])
def test_omp_matches_sklearn_and_fits_exactly_with_min_n_k_atoms(name):
    D, X = _problem(name, torch.float64)
    t = min(D.shape)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # its "ended prematurely" on the 2-sparse signal
        theirs = orthogonal_mp_gram((D.T @ D).numpy(), (X @ D).T.numpy(), n_nonzero_coefs=3)
    assert torch.allclose(omp(D, X, 3), torch.tensor(theirs).T, atol=1e-10)
    Z = omp(D, X, t)
    residual = (X - Z @ D.T).norm(dim=1) / X.norm(dim=1)
    assert (residual < 1e-10).all()  # n atoms spanning R^n fit every signal


def test_omp_says_when_an_ill_conditioned_dictionary_stops_it_short():
    # The 8 × 8 Hilbert matrix spans R^8, but its Gram matrix has a condition number near 1e20: after a few atoms
    # the next one is numerically in the span of those chosen, and OMP cannot go on (scikit-learn warns too)
    D, X = _problem("hilbert-complete", torch.float64)
    with pytest.warns(RuntimeWarning, match=r"omp: 3 signal\(s\) \(rows 0, 1, 2\) stopped before n_nonzero"):
        Z = omp(D, X, 8)
    assert (Z != 0).sum(dim=1)[:3].max() < 8
    assert torch.allclose(Z[3] @ D.T, X[3], atol=1e-12)  # the 2-sparse signal is fitted before that


def test_omp_never_picks_a_duplicate_of_a_chosen_atom():
    D, X = _problem("duplicates", torch.float64)
    Z = omp(D, X, 8)
    assert not ((Z[:, 0] != 0) & (Z[:, 1] != 0)).any()
    assert not ((Z[:, 4] != 0) & (Z[:, 5] != 0)).any()


def test_omp_with_one_atom_is_the_projection():
    D, X = _problem("one-atom", torch.float64)
    assert torch.allclose(omp(D, X), X @ D, atol=1e-14)


SOLVERS = {
    "lasso": lambda D, X: lasso(D, X, 0.1),
    "omp": lambda D, X: omp(D, X),
    "fista": lambda D, X: fista(D, X, 0.1),
    "ista": lambda D, X: ista(D, X, 0.1),
}


@pytest.mark.parametrize("dtype", DTYPES, ids=["float32", "float64"])
@pytest.mark.parametrize("solver", list(SOLVERS))
def test_empty_batches_give_empty_codes(solver, dtype):
    D, _ = _problem("overcomplete", dtype)
    Z = SOLVERS[solver](D, torch.zeros(0, 10, dtype=dtype))
    assert Z.shape == (0, 40) and Z.dtype == dtype


@pytest.mark.parametrize("solver", list(SOLVERS))
def test_a_dictionary_without_atoms_gives_empty_codes(solver):
    Z = SOLVERS[solver](torch.zeros(6, 0, dtype=torch.float64), torch.ones(3, 6, dtype=torch.float64))
    assert Z.shape == (3, 0)


@pytest.mark.parametrize("solver", list(SOLVERS))
def test_half_precision_is_answered_in_its_dtype(solver):
    # float16 and bfloat16 are computed in float32 (the Lasso in float64) and rounded: float16's rounding of
    # unit atoms passes float32's norm check, so its answer must be float32's on the rounded inputs exactly;
    # bfloat16 (3 significant digits) must agree with float32 on the unrounded inputs to its resolution
    D, X = _problem("overcomplete", torch.float32)
    fn = SOLVERS[solver]
    Dh, Xh = D.half(), X.half()
    Z = fn(Dh, Xh)
    assert Z.dtype == torch.float16 and torch.equal(Z, fn(Dh.float(), Xh.float()).half())
    Zb = fn(D.bfloat16(), X.bfloat16())
    assert Zb.dtype == torch.bfloat16
    Z32 = fn(D, X)
    assert torch.allclose(Zb.float(), Z32, atol=0.03 * float(Z32.abs().max()))


def test_atoms_normalised_in_float32_are_used_as_they_are():
    # unit norm only to float32's precision (the norm check allows that in float64): the solvers use the atoms'
    # real norms, so codes still fit exactly and meet the optimality conditions to float64 rounding
    gen = torch.Generator().manual_seed(0)
    D = torch.nn.functional.normalize(torch.randn(20, 80, generator=gen), dim=0).double()  # norms 1 ± 1e-7
    x = torch.rand(50, 80, generator=gen, dtype=torch.float64) * (torch.rand(50, 80, generator=gen) < 0.03)
    H = x @ D.T
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        Z = omp(D, H, 20, tol=1e-12)
        Zl = lasso(D, H, 1e-2, nonnegative=True)
    assert (((H - Z @ D.T) ** 2).sum(dim=1) <= 1e-12).all()
    assert (kkt_violation(D, H, Zl, 1e-2, nonnegative=True) <= KKT_TOL[torch.float64]).all()


# --- properties -------------------------------------------------------------------------------------------------


def _random(seed, n, k, batch, dtype=torch.float64):
    gen = torch.Generator().manual_seed(seed)
    D = torch.randn(n, k, generator=gen, dtype=torch.float64)
    D = D / D.norm(dim=0, keepdim=True)
    X = torch.randn(batch, n, generator=gen, dtype=torch.float64)
    return D.to(dtype), X.to(dtype)


shapes = st.tuples(st.integers(0, 2**31 - 1), st.integers(2, 12), st.integers(1, 30), st.integers(1, 6))


@given(shape=shapes, power=st.integers(-60, 60), fraction=st.floats(1e-4, 1.0), nonnegative=st.booleans())
@settings(max_examples=EXAMPLES, deadline=None)
def test_property_lasso_codes_scale_with_the_signals_and_lambda(shape, power, fraction, nonnegative):
    D, X = _random(*shape)
    s = 2.0**power  # a power of two scales every floating-point number exactly
    lam = fraction * float((X @ D).abs().max())
    Z, Zs = lasso(D, X, lam, nonnegative=nonnegative), lasso(D, X * s, lam * s, nonnegative=nonnegative)
    assert torch.allclose(Zs / s, Z, rtol=1e-9, atol=1e-9 * float(Z.abs().max()))


@given(shape=shapes, power=st.integers(-60, 60), dtype=st.sampled_from(DTYPES))
@settings(max_examples=EXAMPLES, deadline=None)
def test_property_omp_codes_scale_with_the_signals(shape, power, dtype):
    D, X = _random(*shape, dtype=dtype)
    t = min(3, *D.shape)
    s = 2.0**power
    Z, Zs = omp(D, X, t), omp(D, X * s, t)
    assert torch.equal(Z != 0, Zs != 0)
    assert torch.allclose(Zs / s, Z, rtol=1e-5, atol=1e-5 * float(Z.abs().max()))


@given(shape=shapes, fraction=st.floats(1e-3, 1.0), nonnegative=st.booleans(), data=st.data())
@settings(max_examples=EXAMPLES, deadline=None)
def test_property_permuting_the_atoms_permutes_the_codes(shape, fraction, nonnegative, data):
    D, X = _random(*shape)
    perm = torch.tensor(data.draw(st.permutations(range(D.shape[1]))))
    lam = fraction * float((X @ D).abs().max())
    Z, Zp = lasso(D, X, lam, nonnegative=nonnegative), lasso(D[:, perm], X, lam, nonnegative=nonnegative)
    # the optimum is unique for Gaussian atoms (in general position); compare it and the objective
    assert torch.allclose(Zp, Z[:, perm], rtol=1e-8, atol=1e-8 * float(Z.abs().max() + 1))
    t = min(3, *D.shape)
    assert torch.allclose(omp(D[:, perm], X, t), omp(D, X, t)[:, perm], atol=1e-10)


@given(shape=shapes, fraction=st.floats(1e-3, 1.0), nonnegative=st.booleans(), data=st.data())
@settings(max_examples=EXAMPLES, deadline=None)
def test_property_a_signals_codes_do_not_depend_on_its_batch(shape, fraction, nonnegative, data):
    D, X = _random(*shape)
    i = data.draw(st.integers(0, X.shape[0] - 1))
    lam = fraction * float((X @ D).abs().max())
    together, alone = lasso(D, X, lam, nonnegative=nonnegative), lasso(D, X[i], lam, nonnegative=nonnegative)
    assert torch.allclose(together[i], alone, rtol=1e-10, atol=1e-10 * float(alone.abs().max() + 1))
    t = min(3, *D.shape)
    assert torch.allclose(omp(D, X, t)[i], omp(D, X[i], t), atol=1e-12)
