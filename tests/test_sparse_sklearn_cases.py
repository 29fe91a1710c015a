"""scikit-learn's own test cases for OMP, LARS-Lasso, coordinate descent and sparse_encode, asked of our solvers.

The cases come from scikit-learn's tests (sklearn/linear_model/tests/test_omp.py, test_least_angle.py,
test_coordinate_descent.py and sklearn/decomposition/tests/test_dict_learning.py), restated for our contract:
atoms are unit-norm **columns** of D, signals are rows of X, and the Lasso is ``½‖x − D z‖² + λ‖z‖₁``, so a
design matrix A of theirs becomes D = A with normalised columns, and their ``alpha`` of
``Lasso``/``LassoLars``/``lars_path`` is our λ divided by the signal length n. Each test compares with
scikit-learn run on the same D and x, at the tolerance it states; where the optimum is not unique (duplicate or
collinear atoms) the comparison is on the objective and the optimality (KKT) conditions, never on raw codes.
"""

import warnings

import numpy as np
import pytest
import torch
from sklearn.datasets import load_diabetes, make_sparse_coded_signal
from sklearn.decomposition import sparse_encode
from sklearn.linear_model import Lasso, lars_path, orthogonal_mp, orthogonal_mp_gram
from sparse_oracles import (
    KKT_TOL,
    assert_exact_lasso,
    kkt_violation,
    objective,
    sklearn_best_objective,
    sklearn_lasso,
    unit_columns,
)

from superpose_lib.sparse import dictionary_learning, fista, lasso, omp


def _quiet(fn, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn(*args, **kwargs)


# --- OMP (test_omp.py): 25-dimensional signals, 35 atoms, 5 nonzeros ------------------------------------------


@pytest.fixture(scope="module")
def coded():
    """Three 5-sparse signals of 25 dimensions over 35 unit atoms, as scikit-learn's OMP tests build them."""
    Y, atoms, codes = make_sparse_coded_signal(
        n_samples=3, n_components=35, n_features=25, n_nonzero_coefs=5, random_state=0
    )
    return torch.tensor(atoms.T), torch.tensor(Y), torch.tensor(codes)  # D (25, 35), X (3, 25), Z (3, 35)


def test_omp_codes_have_the_shape_of_the_signals(coded):
    D, X, _ = coded
    assert omp(D, X[0], 5).shape == (35,)
    assert omp(D, X, 5).shape == (3, 35)


def test_omp_uses_at_most_n_nonzero_atoms(coded):
    D, X, _ = coded
    assert ((omp(D, X, 5) != 0).sum(dim=1) <= 5).all()


def test_omp_tol_bounds_the_squared_residual_as_in_sklearn(coded):
    D, X, _ = coded
    Z = omp(D, X, tol=0.5)
    assert (((X - Z @ D.T) ** 2).sum(dim=1) <= 0.5).all()
    theirs = torch.tensor(orthogonal_mp(D.numpy(), X.T.numpy(), tol=0.5)).T
    assert torch.allclose(Z, theirs, atol=1e-10)  # same supports, same least-squares codes


def test_omp_unreachable_tol_fits_with_every_atom_allowed(coded):
    D, X, _ = coded
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # the signals are fitted exactly: nothing is missed
        Z = omp(D, X, tol=0)
    assert torch.allclose(Z, omp(D, X, 25), atol=1e-12)
    theirs = torch.tensor(_quiet(orthogonal_mp, D.numpy(), X.T.numpy(), n_nonzero_coefs=25)).T
    assert torch.allclose(Z, theirs, atol=1e-10)


def test_omp_refuses_more_atoms_than_min_n_k(coded):
    D, X, _ = coded
    with pytest.raises(ValueError, match="at most min"):
        omp(D, X, 26)


def test_omp_recovers_the_sparse_codes_like_sklearn(coded):
    D, X, Z_true = coded
    Z = omp(D, X, 5)
    assert torch.equal(Z != 0, Z_true != 0)
    assert torch.allclose(Z, Z_true, atol=1e-10)
    G, C = D.T @ D, X @ D
    theirs = torch.tensor(orthogonal_mp_gram(G.numpy(), C.T.numpy(), n_nonzero_coefs=5)).T
    assert torch.allclose(Z, theirs, atol=1e-12)


def test_omp_with_identical_atoms_fits_exactly_and_stops(coded):
    D, _, _ = coded
    D = D.clone()
    D[:, 1] = D[:, 0]
    x = D[:, 0] + D[:, 1]
    z = omp(D, x, 2)  # scikit-learn warns "ended prematurely due to linear dependence" here
    assert (z != 0).sum() == 1 and torch.allclose(z @ D.T, x, atol=1e-12)


def test_omp_support_of_swapped_atoms(coded):
    D, _, _ = coded
    z_true = torch.zeros(35, dtype=torch.float64)
    z_true[21], z_true[0] = 1.0, 0.5  # atom 21 is chosen first, then atom 0
    z = omp(D, D @ z_true, 2)
    assert (z != 0).nonzero().flatten().tolist() == [0, 21]
    assert torch.allclose(z, z_true, atol=1e-12)


def test_omp_of_zero_signals_is_zero(coded):
    D, X, _ = coded
    assert torch.equal(omp(D, torch.zeros_like(X), 1), torch.zeros(3, 35, dtype=torch.float64))


def test_omp_with_every_atom_is_least_squares():
    rng = np.random.RandomState(0)
    D, X = unit_columns(rng.randn(10, 8)), torch.tensor(rng.randn(3, 10))
    Z = omp(D, X, 8)
    assert torch.allclose(Z, torch.linalg.lstsq(D, X.T).solution.T, atol=1e-10)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_omp_answers_in_the_input_dtype_and_float32_agrees(coded, dtype):
    D, X, _ = coded
    Z = omp(D.to(dtype), X.to(dtype), 5)
    assert Z.dtype == dtype
    assert torch.allclose(Z.double(), omp(D, X, 5), atol=1e-5)


def test_omp_default_sparsity_works_with_fewer_atoms_than_its_default():
    # 64 dimensions (default 10% = 6 atoms) but a dictionary of 2 atoms: the default is capped, as in sklearn
    rng = np.random.RandomState(0)
    D, X = unit_columns(rng.randn(64, 2)), torch.tensor(rng.randn(100, 64))
    Z = omp(D, X)
    theirs = torch.tensor(_quiet(sparse_encode, X.numpy(), D.T.numpy(), algorithm="omp"))
    assert Z.shape == (100, 2)
    assert torch.allclose(Z, theirs, atol=1e-10)


# --- LARS-Lasso (test_least_angle.py): the diabetes data, 442 samples of 10 features -------------------------


@pytest.fixture(scope="module")
def diabetes():
    data = load_diabetes()
    A = data.data - data.data.mean(axis=0)
    return unit_columns(A), torch.tensor(data.target).unsqueeze(0)  # D (442, 10), X (1, 442)


def _path(D, x, **kwargs):
    """scikit-learn's LARS-Lasso path on (D, x): its breakpoints as our λ (their alphas times n) and codes."""
    alphas, _, coefs = _quiet(lars_path, D.numpy(), x.numpy(), method="lasso", **kwargs)
    return alphas * D.shape[0], coefs.T


def test_lasso_ties_the_active_correlations_at_every_breakpoint(diabetes):
    D, X = diabetes
    lams, path = _path(D, X[0])
    for lam, coef in zip(lams[:-1], path[:-1]):  # the last breakpoint is λ = 0 (least squares)
        z = lasso(D, X, float(lam))
        c = (X - z @ D.T) @ D
        on = z[0] != 0
        assert torch.allclose(c[0, on].abs(), torch.full_like(c[0, on], lam), rtol=1e-9), lam
        assert (c.abs() <= lam * (1 + 1e-9)).all()
        assert torch.allclose(z[0], torch.tensor(coef), atol=1e-8 * float(X.norm()))


def test_lasso_as_lambda_goes_to_zero_is_least_squares(diabetes):
    D, X = diabetes
    lam_max = float((X @ D).abs().max())
    z = lasso(D, X, 1e-12 * lam_max)
    want = torch.linalg.lstsq(D, X.T).solution.T
    assert torch.allclose(z, want, rtol=1e-7, atol=1e-7 * float(want.abs().max()))


def test_lasso_on_a_complete_system_as_lambda_goes_to_zero_solves_it():
    rng = np.random.RandomState(0)
    D, X = unit_columns(rng.randn(20, 20)), torch.tensor(rng.randn(4, 20))
    lam_max = float((X @ D).abs().max())
    z = lasso(D, X, 1e-12 * lam_max)
    assert torch.allclose(z, torch.linalg.solve(D, X.T).T, atol=1e-6)
    assert_exact_lasso(D, X, lasso(D, X, 1e-4 * lam_max), 1e-4 * lam_max)  # the 20×20 case


@pytest.mark.parametrize("fraction", np.linspace(0.01, 0.99, 8))
def test_lasso_matches_coordinate_descent_along_the_path(diabetes, fraction):
    D, X = diabetes
    lam = float(fraction * (X @ D).abs().max())
    assert_exact_lasso(D, X, lasso(D, X, lam), lam)


@pytest.mark.parametrize("alpha_min", [10, 0.9, 1e-4])
def test_lasso_stopped_early_on_the_path_matches_coordinate_descent(diabetes, alpha_min):
    D, X = diabetes
    lams, path = _path(D, X[0], alpha_min=alpha_min)
    z = lasso(D, X, float(lams[-1]))
    assert torch.allclose(z[0], torch.tensor(path[-1]), atol=1e-8 * float(X.norm()))
    cd = sklearn_lasso(D, X, float(lams[-1]))
    assert (objective(D, X, z, lams[-1]) <= objective(D, X, cd, lams[-1]) * (1 + 1e-9)).all()


def test_lasso_with_collinear_atoms():
    D, x = unit_columns([[3.0, 3.0, 1.0], [2.0, 2.0, 0.0], [1.0, 1.0, 0.0]]), torch.tensor([[1.0, 0.0, 0.0]])
    lam = 0.01 * 3  # their alpha_min = 0.01
    z = lasso(D, x, lam)
    assert torch.isfinite(z).all()
    assert_exact_lasso(D, x, z, lam)


def test_lasso_of_a_zero_signal_is_zero():
    rng = np.random.RandomState(0)
    D = unit_columns(rng.rand(10, 5))
    assert torch.equal(lasso(D, torch.zeros(1, 10, dtype=torch.float64), 1e-3), torch.zeros(1, 5, dtype=torch.float64))


def test_lasso_with_a_singular_dictionary():
    D, x = unit_columns([[1.0, 1.0], [1.0, 1.0]]), torch.tensor([[1.0, 1.0]])  # two identical atoms
    for lam in (1e-3, 0.5, 1.0):
        assert_exact_lasso(D, x, lasso(D, x, lam), lam)


@pytest.mark.parametrize(
    "A", [[[5, 0], [0, 5], [10, 10]], [[10, 10, 0], [1e-32, 0, 0], [0, 0, 1]]], ids=["rank-2", "duplicates"]
)
def test_lasso_on_rank_deficient_designs(A):
    D, x = unit_columns(A), torch.tensor([[5.0, 0.0, 5.0]])
    lam = 0.1 * 3
    assert_exact_lasso(D, x, lasso(D, x, lam), lam)


def test_lasso_on_an_ill_conditioned_path():
    # 70 × 100 Gaussian design, 5-sparse truth plus noise; every breakpoint of scikit-learn's path
    rng = np.random.RandomState(42)
    A = rng.randn(70, 100)
    w = np.zeros(100)
    w[rng.permutation(100)[:5]] = np.sign(rng.randn(5)) * (rng.rand(5) + 1)
    y = A @ w + 0.2 * rng.rand(70)
    D, X = unit_columns(A), torch.tensor(y).unsqueeze(0)
    lams, _ = _path(D, X[0])
    lams = [float(lam) for lam in lams if lam > 0]
    Z = torch.cat([lasso(D, X, lam) for lam in lams])
    for z, lam in zip(Z, lams):
        assert kkt_violation(D, X, z, lam).item() <= KKT_TOL[torch.float64], lam
    # scikit-learn's objective at a few of them (coordinate descent is slow), down to 1e-9 · λ_max: the path's last
    # breakpoints (λ near 1e-13) lie below the resolution of the optimality check (1e-10 of λ_max + ‖z‖₁), where
    # the codes are optimal only up to that rounding (the lasso docstring says so)
    lam_max = float((X @ D).abs().max())
    picks = [lam for lam in lams if lam >= 1e-9 * lam_max]
    for lam in picks[:: max(1, len(picks) // 6)] + picks[-1:]:
        assert_exact_lasso(D, X, lasso(D, X, lam), lam)


def test_lasso_where_lars_must_go_far_down_its_path():
    D = unit_columns([[1e20, 1e20, 0], [-1e-32, 0, 0], [1, 1, 1]])
    x, lam = torch.tensor([[10.0, 10.0, 1.0]]), 1e-4 * 3
    assert_exact_lasso(D, x, lasso(D, x, lam), lam)


def test_lasso_on_the_hilbert_matrix():
    # the case: the 5 × 5 Hilbert matrix, x = (0, 1, 2, 3, 4), λ = 1e-6 (the optimum is 0.00622...)
    H = 1.0 / (np.arange(1, 6) + np.arange(5)[:, None])
    D, x = unit_columns(H), torch.arange(5.0, dtype=torch.float64).unsqueeze(0)
    z = lasso(D, x, 1e-6)
    assert torch.isfinite(z).all()
    assert_exact_lasso(D, x, z, 1e-6)
    assert objective(D, x, z, 1e-6).item() < 0.00623


def test_lasso_of_several_signals_at_once_is_each_alone(diabetes):
    D, X = diabetes
    Y = torch.cat([X, X**2 / X.abs().max(), -X])  # several targets
    lam = 0.05 * float((Y @ D).abs().max())
    together = lasso(D, Y, lam)
    for i in range(3):
        assert torch.allclose(together[i], lasso(D, Y[i], lam), rtol=1e-12, atol=1e-12 * float(Y[i].norm()))
    assert_exact_lasso(D, Y, together, lam)


def test_nonnegative_lasso_path_stays_nonnegative_and_matches_coordinate_descent(diabetes):
    D, X = diabetes
    lams, path = _path(D, X[0], positive=True)
    assert path.min() >= 0
    for lam, coef in list(zip(lams, path))[:-1]:
        z = lasso(D, X, float(lam), nonnegative=True)
        assert (z >= 0).all()
        assert torch.allclose(z[0], torch.tensor(coef), atol=1e-8 * float(X.norm()))
    assert lasso(D, X, float(lams[-2])).min() < 0  # without the constraint some codes are negative


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_lasso_answers_in_the_input_dtype_and_float32_agrees(diabetes, dtype):
    D, X = diabetes
    lam = 0.1 * float((X @ D).abs().max())
    z = lasso(D.to(dtype), X.to(dtype), lam)
    assert z.dtype == dtype
    assert_exact_lasso(D.to(dtype), X.to(dtype), z, lam, dtype=dtype)


# --- coordinate descent (test_coordinate_descent.py): the one-feature toy problems -----------------------------


def test_lasso_of_zero_data_is_zero():
    D = unit_columns([[-1.0], [0.0], [1.0]])
    assert torch.equal(lasso(D, torch.zeros(3, dtype=torch.float64), 0.3), torch.zeros(1, dtype=torch.float64))


@pytest.mark.parametrize("alpha, coef", [(1e-8, 1.0), (0.1, 0.85), (0.5, 0.25), (1.0, 0.0)])
def test_lasso_toy_line_gives_sklearns_published_coefficients(alpha, coef):
    # Lasso(alpha) on the design (−1, 0, 1) minimises (1/6)‖y − a w‖² + α|w|; with the unit atom d = a/√2 and
    # z = √2 w that is ours with λ = 3α/√2
    D, y = unit_columns([[-1.0], [0.0], [1.0]]), torch.tensor([-1.0, 0.0, 1.0], dtype=torch.float64)
    lam = 3 * alpha / np.sqrt(2)
    z = lasso(D, y, lam)
    assert z.item() == pytest.approx(np.sqrt(2) * coef, abs=1e-7)
    theirs = Lasso(alpha=alpha, fit_intercept=False, tol=1e-12).fit(np.array([[-1.0], [0.0], [1.0]]), y.numpy())
    assert z.item() == pytest.approx(np.sqrt(2) * theirs.coef_[0], abs=1e-9)


def test_lasso_toy_line_has_no_duality_gap():
    D, y = unit_columns([[-1.0], [0.0], [1.0]]), torch.tensor([[-1.0, 0.0, 1.0]], dtype=torch.float64)
    lam = 0.3
    z = lasso(D, y, lam)
    r = y - z @ D.T
    nu = r / max(1.0, float((r @ D).abs().max()) / lam)  # a dual-feasible point: |Dᵀν| ≤ λ
    dual = 0.5 * float((y**2).sum()) - 0.5 * float(((y - nu) ** 2).sum())
    assert objective(D, y, z, lam).item() - dual <= 1e-12


def test_nonnegative_lasso_of_a_falling_line_is_zero():
    D, y = unit_columns([[-1.0], [0.0], [1.0]]), torch.tensor([1.0, 0.0, -1.0], dtype=torch.float64)
    assert lasso(D, y, 0.3, nonnegative=True).item() == 0.0
    assert lasso(D, y, 0.3).item() < 0


# --- sparse_encode (test_dict_learning.py): 10 signals of 8 dimensions, 12 atoms ------------------------------


@pytest.fixture(scope="module")
def encode_problem():
    rng = np.random.RandomState(0)
    return unit_columns(rng.randn(8, 12)), torch.tensor(rng.randn(10, 8))


@pytest.mark.parametrize("solver", ["omp", "lasso", "fista"])
def test_each_solver_gives_codes_of_shape_signals_by_atoms(encode_problem, solver):
    D, X = encode_problem
    Z = {"omp": lambda: omp(D, X, 3), "lasso": lambda: lasso(D, X, 0.1), "fista": lambda: fista(D, X, 0.1)}[solver]()
    assert Z.shape == (10, 12)


def test_nonnegative_codes_are_nonnegative_and_match_sparse_encode_positive(encode_problem):
    D, X = encode_problem
    for lam in (0.01, 0.1, 1.0):
        Z = lasso(D, X, lam, nonnegative=True)
        assert (Z >= 0).all()
        assert_exact_lasso(D, X, Z, lam, nonnegative=True)
        theirs = torch.tensor(sparse_encode(X.numpy(), D.T.numpy(), algorithm="lasso_cd", alpha=lam, positive=True))
        assert torch.allclose(objective(D, X, Z, lam), objective(D, X, theirs, lam), rtol=1e-6)


def test_lasso_reconstructs_with_a_small_penalty_as_sparse_encode(encode_problem):
    D, X = encode_problem
    Z = lasso(D, X, 1e-3)
    theirs = torch.tensor(sparse_encode(X.numpy(), D.T.numpy(), algorithm="lasso_lars", alpha=1e-3))
    assert torch.allclose(Z, theirs, atol=1e-8)
    assert ((X - Z @ D.T).norm(dim=1) / X.norm(dim=1)).max() < 0.01


def test_omp_codes_match_sparse_encode_omp(encode_problem):
    D, X = encode_problem
    theirs = torch.tensor(sparse_encode(X.numpy(), D.T.numpy(), algorithm="omp", n_nonzero_coefs=3))
    assert torch.allclose(omp(D, X, 3), theirs, atol=1e-10)


@pytest.mark.parametrize("solver", ["omp", "lasso"])
def test_float32_codes_agree_with_float64(encode_problem, solver):
    D, X = encode_problem
    fn = (lambda D, X: omp(D, X, 3)) if solver == "omp" else (lambda D, X: lasso(D, X, 0.1))
    # float32 rounding (6e-8) times the conditioning of the supports (up to 8 atoms in 8 dimensions here, whose
    # Gram block has a condition number near 100) times codes of size 4: differences up to about 3e-5
    assert torch.allclose(fn(D.float(), X.float()).double(), fn(D, X), atol=1e-4)


def test_dictionary_learning_of_an_overcomplete_dictionary(encode_problem):
    _, X = encode_problem
    result = dictionary_learning(X, 12, 0.1, n_iter=5, seed=0, progress=False)  # 12 atoms in 8 dimensions
    assert result.dictionary.shape == (8, 12) and result.codes.shape == (10, 12)
    # the final codes are the exact Lasso codes of the final dictionary
    assert_exact_lasso(
        result.dictionary, X, result.codes, 0.1, reference=sklearn_best_objective(result.dictionary, X, 0.1)
    )
