"""`sparse.dictionary_learning`: recovers a planted dictionary, lowers its objective, is seeded, checks its
arguments; scikit-learn's DictionaryLearning is the oracle for the objective level. Its two public steps,
`update_dictionary` and `resample_unused`, keep the properties the loop relies on."""

import warnings

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from superpose_lib import metrics
from superpose_lib.sparse import DictionaryLearningResult, dictionary_learning, resample_unused, update_dictionary


def planted(d=12, k=20, N=600, s=3, seed=0, signed=True):
    """Samples H = Z Dᵀ from a random unit-norm dictionary D (d, k) and s-sparse codes Z (N, k)."""
    gen = torch.Generator().manual_seed(seed)
    D = torch.nn.functional.normalize(torch.randn(d, k, generator=gen, dtype=torch.float64), dim=0)
    support = torch.rand(N, k, generator=gen).argsort(dim=1)[:, :s]  # s distinct atoms per sample
    values = 0.2 + 0.8 * torch.rand(N, s, generator=gen, dtype=torch.float64)
    if signed:
        values = values * (torch.randint(0, 2, (N, s), generator=gen) * 2 - 1)
    Z = torch.zeros(N, k, dtype=torch.float64).scatter_(1, support, values)
    return D, Z, Z @ D.T


@pytest.mark.parametrize("method", ["lasso", "omp"])
def test_recovers_a_planted_signed_dictionary(method):
    D, _, H = planted(N=1500)
    extra = {"n_nonzero": 3} if method == "omp" else {}
    result = dictionary_learning(H, 20, 0.05, n_iter=60, method=method, seed=0, progress=False, **extra)
    assert isinstance(result, DictionaryLearningResult)
    assert result.dictionary.shape == (12, 20) and result.codes.shape == (1500, 20)
    assert torch.allclose(result.dictionary.norm(dim=0), torch.ones(20, dtype=torch.float64))
    assert metrics.mmcs(result.dictionary, D, absolute=True) >= 0.95


def test_recovers_a_nonnegative_dictionary_with_the_right_signs():
    D, Z, H = planted(N=1500, signed=False, seed=1)
    result = dictionary_learning(H, 20, 0.05, n_iter=60, nonnegative=True, seed=0, progress=False)
    assert (result.codes >= 0).all()
    assert metrics.mmcs(result.dictionary, D) >= 0.95  # signed cosine: the atoms point the right way


@pytest.mark.parametrize("method", ["lasso", "fista"])
def test_objective_never_increases_and_matches_the_codes(method):
    D, _, H = planted(seed=2)
    lam = 0.05
    result = dictionary_learning(H, 20, lam, n_iter=15, method=method, tol=0, seed=3, progress=False)
    history = result.objective
    assert history.shape == (16,) and result.n_resampled.shape == (15,)
    assert (history.diff() <= 1e-7 * history[:-1]).all()
    assert history[-1] < 0.8 * history[0]
    residual = H - result.codes @ result.dictionary.T
    final = (0.5 * (residual**2).sum(dim=1) + lam * result.codes.abs().sum(dim=1)).mean()
    assert float(final) == pytest.approx(float(history[-1]), rel=1e-9)


def test_reaches_the_objective_level_of_scikit_learn():
    sklearn = pytest.importorskip("sklearn.decomposition")
    threadpoolctl = pytest.importorskip("threadpoolctl")
    D, _, H = planted(d=8, k=12, N=200, seed=4)
    lam = 0.05
    ours = dictionary_learning(H, 12, lam, n_iter=60, tol=0, seed=0, progress=False).objective[-1].item()
    with warnings.catch_warnings(), threadpoolctl.threadpool_limits(1):
        warnings.simplefilter("ignore")  # coordinate descent's convergence warnings
        model = sklearn.DictionaryLearning(
            n_components=12, alpha=lam, max_iter=100, fit_algorithm="cd", transform_algorithm="lasso_cd",
            transform_alpha=lam, random_state=0,
        )  # fmt: skip
        U = model.fit_transform(H.numpy())
    V = model.components_  # (k, d): atoms as rows, norms at most 1
    # the same objective (scikit-learn sums over samples; the mean is the same up to N)
    theirs = float((0.5 * ((H.numpy() - U @ V) ** 2).sum(axis=1) + lam * np.abs(U).sum(axis=1)).mean())
    assert ours <= 1.02 * theirs


def test_seeded_runs_are_identical_and_seeds_differ():
    _, _, H = planted(seed=5)
    a = dictionary_learning(H, 20, 0.05, n_iter=3, seed=7, progress=False)
    b = dictionary_learning(H, 20, 0.05, n_iter=3, generator=torch.Generator().manual_seed(7), progress=False)
    c = dictionary_learning(H, 20, 0.05, n_iter=3, seed=8, progress=False)
    assert torch.equal(a.dictionary, b.dictionary) and torch.equal(a.codes, b.codes)
    assert torch.equal(a.objective, b.objective)
    assert not torch.equal(a.dictionary, c.dictionary)


def test_unused_atoms_are_resampled_to_badly_reconstructed_samples():
    D, Z, _ = planted(seed=6)
    D[6:] = 0  # the samples live in the first 6 coordinates only
    H = Z @ D.T
    gen = torch.Generator().manual_seed(0)
    init = torch.randn(12, 20, generator=gen, dtype=torch.float64)
    init[6:, :10] = 0  # atoms 0-9 lie in the data's span
    init[:6, 10:] = 0  # atoms 10-19 are orthogonal to every sample: no code ever uses them
    result = dictionary_learning(H, 20, 0.05, n_iter=10, init=init, tol=0, progress=False)
    assert result.n_resampled[0] >= 10
    assert result.dictionary[6:].abs().max() < 1e-12  # all moved into the span of the residuals
    assert (result.codes != 0).any(dim=0).sum() > 10  # and put to work
    off = dictionary_learning(H, 20, 0.05, n_iter=10, init=init, tol=0, resample_unused=False, progress=False)
    assert (off.n_resampled == 0).all()
    assert (off.codes[:, 10:] == 0).all()
    assert result.objective[-1] < off.objective[-1]


def test_more_atoms_than_samples_and_float32():
    _, _, H = planted(N=10, seed=7)
    result = dictionary_learning(H.float(), 16, 0.05, n_iter=3, seed=0, progress=False)
    assert result.dictionary.dtype == torch.float32 and result.codes.shape == (10, 16)


def test_stops_early_at_tolerance():
    _, _, H = planted(seed=8)
    result = dictionary_learning(H, 20, 0.05, n_iter=200, tol=1e-3, seed=0, progress=False)
    assert len(result.objective) < 201


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"H": torch.zeros(5)}, "H must have 2 dimensions"),
        ({"H": torch.full((5, 3), float("nan"))}, "H must be finite"),
        ({"n_atoms": 0}, "n_atoms must be an integer >= 1"),
        ({"lam": -1.0}, r"lam must be a number in \[0, 1e\+30\]"),
        ({"lam": 0.0}, "needs lam > 0"),
        ({"method": "ksvd"}, "method must be"),
        ({"method": "omp", "nonnegative": True}, "nonnegative=True needs"),
        ({"method": "omp", "n_nonzero": 9}, "n_nonzero must be at most"),
        ({"n_nonzero": 2}, 'n_nonzero is for method="omp" only'),
        ({"init": "svd"}, "init must be"),
        ({"init": torch.ones(4, 3)}, r"init must have shape \(d, n_atoms\) = \(3, 4\)"),
        ({"init": torch.zeros(3, 4)}, "no all-zero column"),
        ({"n_iter": -1}, "n_iter must be an integer >= 0"),
        ({"tol": -1.0}, "tol must be a finite number >= 0"),
        ({"seed": -3}, "seed must be an integer >= 0"),
        ({"threads": 0}, "threads must be an integer >= 1"),
    ],
)
def test_argument_errors_name_the_argument(kwargs, match):
    arguments = {"H": torch.randn(5, 3), "n_atoms": 4, "lam": 0.1, "progress": False} | kwargs
    with pytest.raises(ValueError, match=match):
        dictionary_learning(**arguments)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_runs_on_cuda_like_on_the_cpu():
    D, _, H = planted(seed=9)
    cpu = dictionary_learning(H, 20, 0.05, n_iter=5, tol=0, seed=0, progress=False)
    gpu = dictionary_learning(H, 20, 0.05, n_iter=5, tol=0, seed=0, device="cuda", progress=False)
    assert gpu.dictionary.device.type == "cuda"
    assert torch.allclose(gpu.dictionary.cpu(), cpu.dictionary, atol=1e-6)


def test_random_init_progress_bar_and_threads_are_restored():
    _, _, H = planted(seed=10)
    before = torch.get_num_threads()
    result = dictionary_learning(H, 20, 0.05, n_iter=2, init="random", seed=0, progress=True, threads=1)
    assert torch.get_num_threads() == before
    assert torch.allclose(result.dictionary.norm(dim=0), torch.ones(20, dtype=torch.float64))


# --- the two steps, public ------------------------------------------------------------------------------------


def _misfit(D, H, Z):
    return float(((H - Z @ D.T) ** 2).sum())


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), d=st.integers(1, 6), k=st.integers(1, 8))
def test_a_dictionary_sweep_never_raises_the_misfit_and_keeps_unit_atoms(seed, d, k):
    gen = torch.Generator().manual_seed(seed)
    D = torch.nn.functional.normalize(torch.randn(d, k, generator=gen, dtype=torch.float64), dim=0)
    Z = torch.rand(30, k, generator=gen, dtype=torch.float64) * (torch.rand(30, k, generator=gen) < 0.5)
    H = torch.randn(30, d, generator=gen, dtype=torch.float64)
    before = (D.clone(), H.clone(), Z.clone())
    new = update_dictionary(D, H, Z)
    assert _misfit(new, H, Z) <= _misfit(D, H, Z) * (1 + 1e-12) + 1e-12
    used = (Z != 0).any(dim=0)
    assert torch.allclose(new[:, used].norm(dim=0), torch.ones(int(used.sum()), dtype=torch.float64))
    assert torch.equal(new[:, ~used], D[:, ~used])  # an atom no sample uses is left as it is
    assert all(torch.equal(a, b) for a, b in zip(before, (D, H, Z)))  # the inputs are not changed


def test_each_atom_is_the_best_unit_vector_given_the_others():
    """In two dimensions every unit vector is an angle: the update beats a fine grid of them, atom by atom."""
    gen = torch.Generator().manual_seed(1)
    D = torch.nn.functional.normalize(torch.randn(2, 3, generator=gen, dtype=torch.float64), dim=0)
    Z = torch.rand(40, 3, generator=gen, dtype=torch.float64)
    H = torch.randn(40, 2, generator=gen, dtype=torch.float64)
    new = update_dictionary(D, H, Z)
    angles = torch.linspace(0, 2 * torch.pi, 20_001, dtype=torch.float64)
    grid = torch.stack([angles.cos(), angles.sin()])  # (2, 20001) unit vectors
    for j in range(3):
        partial = torch.cat([new[:, :j], D[:, j:]], dim=1)  # atoms before j already updated, as in the sweep
        others = H - Z @ partial.T + torch.outer(Z[:, j], partial[:, j])  # R_j
        misfits = ((others.unsqueeze(2) - Z[:, j, None, None] * grid.unsqueeze(0)) ** 2).sum(dim=(0, 1))
        ours = float(((others - torch.outer(Z[:, j], new[:, j])) ** 2).sum())
        assert ours <= float(misfits.min()) + 1e-9


def test_unused_atoms_point_at_the_worst_residuals_and_the_misfit_stays():
    gen = torch.Generator().manual_seed(2)
    D = torch.nn.functional.normalize(torch.randn(4, 6, generator=gen, dtype=torch.float64), dim=0)
    Z = torch.rand(20, 6, generator=gen, dtype=torch.float64)
    Z[:, [1, 4]] = 0
    H = torch.randn(20, 4, generator=gen, dtype=torch.float64)
    residual = H - Z @ D.T
    new = resample_unused(D, residual, Z)
    worst = (residual**2).sum(dim=1).argsort(descending=True)[:2]
    assert torch.allclose(new[:, [1, 4]], torch.nn.functional.normalize(residual[worst], dim=1).T)
    assert torch.equal(new[:, [0, 2, 3, 5]], D[:, [0, 2, 3, 5]])
    assert _misfit(new, H, Z) == pytest.approx(_misfit(D, H, Z), rel=1e-12)


def test_the_steps_say_which_argument_has_the_wrong_shape():
    D, H, Z = torch.eye(3), torch.randn(5, 3), torch.rand(5, 3)
    with pytest.raises(ValueError, match="H must have shape"):
        update_dictionary(D, H[:, :2], Z)
    with pytest.raises(ValueError, match="Z must have shape"):
        resample_unused(D, H, Z[:, :2])
