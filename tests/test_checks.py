"""Every exercise check: the contract (reference, named mistakes, hostile battery) generated from the
declarations, one more plausible wrong answer per exercise written here, and `yours_or_reference`."""

import inspect
import math
import time

import check_contract
import hostile
import pytest
import torch

from superpose_lib import checks, detection, geometry, metrics, sparse, toy_models
from superpose_lib.checks import _common

test_reference_passes, test_named_mistake_fails_with_its_hint, test_hostile_battery = check_contract.contract_tests()


def _gen_rand(n, f, p, generator=None):
    return torch.rand(n, f, generator=generator) * p  # scaled, never zero


def _nearest_but_the_first(vectors, direction, k):
    cos = torch.nn.functional.normalize(vectors, dim=1) @ direction
    return cos.topk(k + 1).indices[1:]  # skips the nearest, as if it were the query word itself


def _pairs_value_from_coin(n_batch, n_pairs, feature_probability, correlation, generator=None):
    u = torch.rand(n_batch, n_pairs, 1, generator=generator)  # the coin reused as the value: not uniform on [0, 1]
    first = u < feature_probability
    second = first if correlation == "correlated" else (u >= feature_probability) & (u < 2 * feature_probability)
    return (u * torch.cat([first, second], dim=-1)).reshape(n_batch, 2 * n_pairs)


def _resample_along_the_mean_residual(W_dec, x, x_hat, z):
    dead = (z == 0).all(dim=0)
    W_dec = W_dec.clone()
    W_dec[:, dead] = ((x - x_hat).mean(0) / (x - x_hat).mean(0).norm()).unsqueeze(1)  # one direction for all
    return W_dec


def _sweep_backwards(D, H, Z):  # block coordinate descent, the atoms visited from the last to the first
    D = D.clone()
    for j in reversed(range(D.shape[1])):
        if (Z[:, j] != 0).any():
            target = (H - Z @ D.T + torch.outer(Z[:, j], D[:, j])).T @ Z[:, j]
            D[:, j] = target / target.norm()
    return D


def _toy_training_loop(
    optimizer_class=torch.optim.Adam,
    dtype=torch.float32,
    two_draws=False,
    fixed_batch=None,
    init_std=None,
    fixed_lr=None,
):
    """A training loop as a learner writes it (plain autograd); `optimizer_class`, `dtype` and `two_draws` (a batch
    from separate value and presence draws, made before W's initial draw) change how; `fixed_batch` hard-codes the
    batch size, whatever `batch_size` says; `init_std` replaces W's starting standard deviation; `fixed_lr` hard-codes
    the learning rate."""

    def train_toy_model(importance, feature_probability, d_hidden, steps, batch_size, lr, generator=None):
        n_features = len(importance)
        batch_size = fixed_batch or batch_size

        def batch():
            if two_draws:
                values = torch.rand(batch_size, n_features, generator=generator, dtype=dtype)
                return values * (torch.rand(batch_size, n_features, generator=generator) < feature_probability)
            u = torch.rand(batch_size, n_features, generator=generator, dtype=dtype)
            return ((u - (1 - feature_probability)) / feature_probability).clamp_min(0.0)

        first = batch() if two_draws else None
        std = init_std or (2 / (n_features + d_hidden)) ** 0.5
        W = torch.nn.Parameter(std * torch.randn(d_hidden, n_features, generator=generator, dtype=dtype))
        b = torch.nn.Parameter(torch.zeros(n_features, dtype=dtype))
        optimizer = optimizer_class([W, b], lr=fixed_lr or lr)
        history = []
        for step in range(steps):
            x = first if step == 0 and first is not None else batch()
            loss = (importance.to(dtype) * (x - torch.relu(x @ W.T @ W + b)) ** 2).mean()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            history.append(loss.item())
        return W.detach(), b.detach(), torch.tensor(history)

    return train_toy_model


# Plausible wrong answers that are not among the named mistakes: each must get a verdict, never a tick.
MORE_WRONG = {
    "generate_batch": _gen_rand,
    "toy_forward": lambda W, b, x: torch.relu(x @ W.T @ W + b).clamp(max=1),
    "importance_weighted_loss": lambda x, x_hat, importance: (importance * (x - x_hat) ** 2).mean(dim=1).sum(),
    "feature_norms": lambda W: W.norm(dim=0) / W.shape[0],
    "random_rotation": lambda n, generator=None: torch.linalg.qr(torch.rand(n, n, generator=generator))[0],
    "cosine_similarity": lambda A, B: (
        torch.nn.functional.cosine_similarity(A, B.mean(0, keepdim=True)).unsqueeze(1).expand(len(A), len(B))
    ),
    "analogy": lambda wv, a, b, c, k=5: [w for w, _ in wv.nearest(wv[b] + wv[c], k=k, exclude=(a, b, c))],
    "change_basis": lambda W, x, M: (W @ torch.linalg.pinv(M).T, M @ x),
    "rotate_hidden_layer": lambda W1, b1, W2, R: (R @ W1, b1 @ R, W2 @ R.T),
    "pearson_kurtosis": lambda x: ((x - x.mean(0)) ** 4).mean(0) / x.std(0) ** 4,
    "class_selectivity": lambda activations, labels, n_classes=10: metrics.kurtosis(activations, dim=0),
    "basis_p_value": lambda activations, n_rotations=200, generator=None: detection.p_value(
        metrics.kurtosis(activations)[0],  # the first neuron only, not the mean over the basis
        torch.stack(
            [
                metrics.kurtosis(
                    activations @ geometry.random_rotation(activations.shape[1], generator=generator).double()
                )[0]
                for _ in range(n_rotations)
            ]
        ),
        alternative="greater",
    ),
    "read_features": lambda h, W: h @ (W / W.norm(dim=0)),
    # one correction step, (WᵀW)⁻¹ ≈ 2I − WᵀW: right for orthonormal directions only
    "neuron_weights": lambda W, coefficients: W @ (2 * coefficients - W.T @ W @ coefficients),
    "mean_difference_probe": lambda activations, targets: (lambda m1, m0: m1 / m1.norm() - m0 / m0.norm())(
        activations[targets.bool()].mean(0), activations[~targets.bool()].mean(0)
    ),
    "max_axis_cosine": lambda direction: direction.abs().min() / direction.norm(),
    "dot_product_density": lambda t, n: geometry.dot_product_density(t, n + 1),
    "coherence": lambda V: geometry.coherence(V.T),
    "count_almost_orthogonal": lambda V, eps: int(
        ((geometry.cosine_similarity(V, V).abs() < eps) | torch.eye(len(V), dtype=torch.bool)).all(dim=1).sum()
    ),  # the vectors within ε of all the others, not the first ones in order
    "jl_min_dim": lambda n_points, eps: int(8 * math.log(n_points) / eps**2),
    "interference_terms": lambda W, x: x @ (W.T @ W - torch.eye(W.shape[1], dtype=W.dtype)) * 0.5,
    "predicted_readout_error": lambda W, p: p / 3 * (W.T @ W - torch.eye(W.shape[1], dtype=W.dtype)).pow(2).sum(1) * 2,
    "bias_tradeoff": lambda W, x, biases: torch.zeros(len(biases), 2, dtype=W.dtype),
    "antipodal_loss": lambda importance, n, p: float(importance.mean()) * p**2 / 6,
    "crossover_density": lambda importance, n: 4 / 7,
    "count_represented": lambda W, threshold=0.5: int((W.norm(dim=0) >= threshold).sum()) + 1,
    "count_antipodal_pairs": lambda W, threshold=0.5: int((W.T @ W < -0.9).sum()),
    "feature_superposition": lambda W: metrics.feature_dimensionality(W),
    "one_draw_batch": lambda n_batch, n_features, feature_probability, generator=None: (
        torch.rand(n_batch, n_features, generator=generator) - (1 - feature_probability)
    ).clamp_min(0),
    "pair_features": _pairs_value_from_coin,
    "train_toy_model": _toy_training_loop(torch.optim.SGD),  # plain gradient descent at Adam's rate barely moves
    "dimensionality": lambda W: metrics.superposition(W),
    "two_feature_losses": lambda r, p: torch.tensor([r * p / 3, p / 3, (1 + r) * p / 6]),
    "privileged_forward": lambda W, b, x: torch.relu(torch.relu(x @ W.T + 0.1) @ W + b),
    "dims_per_feature": lambda W: W.shape[1] / W.pow(2).sum(),
    "two_feature_phase": lambda w: int(w.abs().argmax()),
    "soft_threshold": lambda v, t: torch.sign(v) * (v.abs() - t).abs(),
    "ista_step": lambda D, X, Z, lam, L: sparse.soft_threshold(Z - (Z @ D.T - X) @ D / L, lam),
    "fista_codes": lambda D, X, lam, n_iter: sparse.fista(D, X, lam, max_iter=max(n_iter - 1, 1), tol=0),
    "omp_codes": lambda D, X, n_nonzero: sparse.omp(D, X, max(n_nonzero - 1, 1)),
    "recovery_rate": lambda delta, rho, N, trials, generator=None: float(torch.rand(1, generator=generator)) * 0 + 0.5,
    "sae_forward_pass": lambda x, W_enc, b_enc, W_dec, b_dec: (
        torch.relu(x @ W_enc + b_enc) @ W_enc.T + b_dec,
        torch.relu(x @ W_enc + b_enc),
    ),
    "sae_loss": lambda x, W_enc, b_enc, W_dec, b_dec, l1_coeff: (
        (x - torch.relu(x @ W_enc + b_enc) @ W_dec.T).pow(2).mean()  # the decoder bias left out
        + l1_coeff * torch.relu(x @ W_enc + b_enc).sum(dim=1).mean()
    ),
    "l0_and_explained_variance": lambda x, x_hat, z: (float((z > 0.5).sum(1).double().mean()), 0.9),
    "mean_max_cosine": lambda learned, true: metrics.mmcs(true, learned),
    "resample_dead": _resample_along_the_mean_residual,
    "dictionary_update": _sweep_backwards,
    "null_max_abs_cos": lambda k, d, n_samples, generator=None: geometry.coherence(
        torch.randn(k, d, generator=generator)
    ).expand(n_samples),
    "loss_without_superposition": lambda importance, feature_probability, d_hidden: float(
        (importance * feature_probability / 3).sort(descending=True).values[d_hidden:].sum() / len(importance)
    ),
    "mean_interference": lambda W, threshold=0.5: float(metrics.superposition(W).max()),
    "loss_below_test": lambda losses, boundary: (lambda z: (z, float(torch.special.ndtr(torch.tensor(z)))))(
        float((losses.median() - boundary) / (losses.std() / len(losses) ** 0.5))
    ),
    "fraction_superposed": lambda W, threshold=0.5, tolerance=0.1: 0.5,
    "nearest_words": _nearest_but_the_first,
    "atom_coherence": lambda vectors, direction, k: float(
        (lambda U: (U @ U.T).mean())(torch.nn.functional.normalize(vectors[:k], dim=1))
    ),
    "two_sense_score": lambda directions, senses: float(
        (torch.nn.functional.normalize(senses, dim=0).T @ torch.nn.functional.normalize(directions, dim=0))
        .amax(dim=1)
        .mean()
    ),
}


def _reseeded_batch(n_batch, n_features, feature_probability, generator=None):
    generator.manual_seed(0)  # the caller's seed no longer matters
    return torch.rand(n_batch, n_features, generator=generator) * (
        torch.rand(n_batch, n_features, generator=generator) < feature_probability
    )


def _own_generator_batch(n_batch, n_features, feature_probability, generator=None):
    torch.rand(1, generator=generator)  # touches the generator it is given, then ignores it
    own = torch.Generator().manual_seed(0)
    return torch.rand(n_batch, n_features, generator=own) * (
        torch.rand(n_batch, n_features, generator=own) < feature_probability
    )


def _density_by_gamma(t, n):  # Γ(n/2) overflows a float for n > 343: math.gamma raises
    constant = math.gamma(n / 2) / (math.sqrt(math.pi) * math.gamma((n - 1) / 2))
    return torch.where(t.abs() < 1, constant * (1 - t**2).clamp(min=0) ** ((n - 3) / 2), torch.zeros_like(t))


def _density_float32_logs(t, n):
    log_constant = torch.lgamma(torch.tensor(n / 2)) - torch.lgamma(torch.tensor((n - 1) / 2))
    constant = math.exp(float(log_constant)) / math.sqrt(math.pi)
    return torch.where(t.abs() < 1, constant * (1 - t**2).clamp(min=0) ** ((n - 3) / 2), torch.zeros_like(t))


# Wrong answers that passed before review a18 (each a false pass then): they must get a verdict now.
FOUND_IN_REVIEW = [
    ("two_feature_phase", "threshold 0.1", lambda w: 0 if abs(w[1]) < 0.1 else 1 if abs(w[0]) < 0.1 else 2),
    ("two_feature_phase", "threshold 0.25", lambda w: 0 if abs(w[1]) < 0.25 else 1 if abs(w[0]) < 0.25 else 2),
    (
        "two_feature_phase",
        "relative lengths",
        lambda w: 0 if abs(w[1]) < abs(w[0]) / 2 else 1 if abs(w[0]) < abs(w[1]) / 2 else 2,
    ),
    ("generate_batch", "reseeds its generator", _reseeded_batch),
    ("generate_batch", "a fixed generator of its own", _own_generator_batch),
    (
        "random_rotation",
        "random signs on the diagonal",
        lambda n, generator=None: torch.diag(torch.randint(0, 2, (n,), generator=generator) * 2.0 - 1),
    ),
    ("dot_product_density", "math.gamma", _density_by_gamma),
    ("dot_product_density", "float32 log-gamma", _density_float32_logs),
    ("count_represented", "default 0.3", lambda W, threshold=0.3: int((W.norm(dim=0) > threshold).sum())),
    (
        "fraction_superposed",
        "default tolerance 0.2",
        lambda W, threshold=0.5, tolerance=0.2: detection.fraction_in_superposition(W, threshold, tolerance),
    ),
    (
        "l0_and_explained_variance",
        "codes above 1e-3 counted",
        lambda x, x_hat, z: (
            float((z > 1e-3).sum(dim=1).double().mean()),
            float(1 - (x - x_hat).pow(2).sum() / (x - x.mean(dim=0)).pow(2).sum()),
        ),
    ),
]


def _prefix_count(V, eps, normalise=lambda V: V / V.norm(dim=1, keepdim=True), earlier=True):
    """The count of the first rows pairwise within eps, rows normalised by `normalise`; `earlier=False` compares
    each row with the row just before it only."""
    unit = normalise(V)
    for j in range(1, len(V)):
        overlaps = (unit[:j] @ unit[j]).abs() if earlier else (unit[j - 1] @ unit[j]).abs()[None]
        if bool((overlaps >= eps).any()):
            return j
    return len(V)


# Wrong answers that a check of review e24 ticked (count_almost_orthogonal with a hard-coded eps, 1 in 5 runs) or
# that differ from every named mistake: each must get a verdict.
FOUND_IN_REVIEW += [
    ("count_almost_orthogonal", "eps hard-coded to 0.45", lambda V, eps: _prefix_count(V, 0.45)),
    (
        "count_almost_orthogonal",
        "each row against the one before it only",
        lambda V, eps: _prefix_count(V, eps, earlier=False),
    ),
    (
        "count_almost_orthogonal",
        "the columns normalised, not the rows",
        lambda V, eps: _prefix_count(V, eps, normalise=lambda V: V / V.norm(dim=0, keepdim=True)),
    ),
]


@pytest.mark.parametrize(("name", "label", "wrong"), FOUND_IN_REVIEW, ids=[f"{n}-{l}" for n, l, _ in FOUND_IN_REVIEW])
def test_wrong_answers_found_in_review_fail(name, label, wrong, monkeypatch):
    monkeypatch.setattr(_common, "TIME_LIMIT_S", 5.0)
    wrong.__name__ = name
    outcome, message = hostile.run(getattr(checks, f"check_{name}"), wrong)
    assert outcome in ("verdict", "learner"), f"{label}: {message}"


def _pairs_with(values=None, coins=None):
    """A pair sampler built like the workbook's answer, with the values or the pairs' coins drawn another way."""

    def pair_features(n_batch, n_pairs, feature_probability, correlation, generator=None):
        p = feature_probability
        v = torch.rand(n_batch, n_pairs, 2, generator=generator)
        v = values(v) if values else v
        u = torch.rand(n_batch, n_pairs, 1, generator=generator)
        u = coins(u) if coins else u
        second = u < p if correlation == "correlated" else (u >= p) & (u < 2 * p)
        return (v * torch.cat([u < p, second], dim=-1)).reshape(n_batch, 2 * n_pairs)

    return pair_features


def _crossover(saved, paired):
    return lambda importance, n: float(
        (saved(importance, n) / 3) / (paired(importance, n) / 6 + saved(importance, n) / 4)
    )


# Wrong answers that passed, or got another mistake's hint, before review h18: (exercise, label, answer, a hint it
# must not get). Each must get a verdict now.
FOUND_IN_REVIEW_H18 = [
    (
        "crossover_density",
        "means instead of sums (equals the 'paired over n' mistake only when importances are equal)",
        _crossover(lambda i, n: i[n : 2 * n].mean(), lambda i, n: i[: 2 * n].mean()),
        "the paired sum runs over all 2n",
    ),
    (
        "crossover_density",
        "G and P swapped (equals the 'variance' mistake only when importances are equal)",
        _crossover(lambda i, n: i[: 2 * n].sum(), lambda i, n: i[n : 2 * n].sum()),
        "leaving its variance",
    ),
    (
        "pair_features",
        "values squashed to ½ in the middle (right mean, right share below ¼)",
        _pairs_with(values=lambda v: torch.where((v < 0.25) | (v > 0.75), v, torch.full_like(v, 0.5))),
        None,
    ),
    (
        "pair_features",
        "pairs 1, 2, ... share one coin (pair 0 has its own)",
        _pairs_with(coins=lambda u: torch.cat([u[:, :1], u[:, 1:2].expand(-1, u.shape[1] - 1, -1)], dim=1)),
        None,
    ),
    ("pair_features", "the same values in every pair", _pairs_with(values=lambda v: v[:, :1].expand_as(v)), None),
    (
        "generate_batch",
        "values squashed to ½ in the middle (right mean, right share below ¼, right min and max)",
        lambda n_batch, n_features, feature_probability, generator=None: (
            lambda v: (
                torch.where((v < 0.25) | (v > 0.75), v, torch.full_like(v, 0.5))
                * (torch.rand(n_batch, n_features, generator=generator) < feature_probability)
            )
        )(torch.rand(n_batch, n_features, generator=generator)),
        None,
    ),
    (
        "random_rotation",
        "QR's Q scaled by 1.01 (within the shares' tolerance of orthogonal)",
        lambda n, generator=None: torch.linalg.qr(torch.randn(n, n, generator=generator))[0] * 1.01,
        None,
    ),
    (
        "random_rotation",
        "QR's Q times one random sign (the first column uniform, the columns' signs tied)",
        lambda n, generator=None: (
            torch.linalg.qr(torch.randn(n, n, generator=generator))[0] * torch.randn(1, generator=generator).sign()
        ),
        None,
    ),
]


def _library_training(importance, feature_probability, d_hidden, steps, batch_size, lr, generator=None):
    model = toy_models.ToyModel(len(importance), d_hidden, feature_probability=feature_probability,
                                importance=importance, generator=generator)  # fmt: skip
    history = toy_models.train(model, steps, batch_size, lr, generator=generator, progress=False)
    return model.W.detach()[0], model.b.detach()[0], history[:, 0]


def _flat_history(importance, feature_probability, d_hidden, steps, batch_size, lr, generator=None):
    W, b, history = _toy_training_loop()(importance, feature_probability, d_hidden, steps, batch_size, lr, generator)
    return W, b, torch.full_like(history, float(history[-(steps // 4) :].mean()))  # not the loss of each step


# Wrong answers that passed before review e06: (exercise, label, answer, words its verdict must contain).
FOUND_IN_REVIEW_E06 = [
    ("train_toy_model", "calls the library's toy_models.train", _library_training, "toy_models.train"),
    ("train_toy_model", "batch size hard-coded to 1024", _toy_training_loop(fixed_batch=1024), "batch_size"),
    ("train_toy_model", "batch size hard-coded to 64", _toy_training_loop(fixed_batch=64), "batch_size"),
    ("train_toy_model", "a flat history (the late mean repeated)", _flat_history, "spread"),
    ("train_toy_model", "W starts at std 1 (passes about one run in four)", _toy_training_loop(init_std=1.0), "starts"),
    ("train_toy_model", "learning rate hard-coded to 0.02", _toy_training_loop(fixed_lr=0.02), "one step"),
    ("train_toy_model", "learning rate hard-coded to 0.05", _toy_training_loop(fixed_lr=0.05), "one step"),
]


@pytest.mark.parametrize(
    ("name", "label", "wrong", "words"),
    FOUND_IN_REVIEW_E06,
    ids=[f"{n}-{l[:30]}" for n, l, _, _ in FOUND_IN_REVIEW_E06],
)
def test_wrong_answers_found_in_review_e06_fail_with_their_reason(name, label, wrong, words):
    wrong.__name__ = name
    for seed in (0, 1):
        outcome, message = hostile.run(getattr(checks, f"check_{name}"), wrong, seed=seed)
        assert outcome == "verdict" and words in message, f"{label}: {message}"


@pytest.mark.parametrize(
    ("name", "label", "wrong", "not_hint"),
    FOUND_IN_REVIEW_H18,
    ids=[f"{n}-{l[:30]}" for n, l, _, _ in FOUND_IN_REVIEW_H18],
)
def test_wrong_answers_found_in_review_h18_fail_without_another_mistakes_hint(name, label, wrong, not_hint):
    wrong.__name__ = name
    for seed in (0, 1):
        outcome, message = hostile.run(getattr(checks, f"check_{name}"), wrong, seed=seed)
        assert outcome == "verdict", f"{label}: {message}"
        assert not_hint is None or not_hint not in message, f"{label}: {message}"


def _pairs_from_one_draw(n_batch, n_pairs, feature_probability, correlation, generator=None):
    p = feature_probability
    u = torch.rand(n_batch, n_pairs, generator=generator)  # decides presence, and gives the present value
    first = torch.where(u < p, u / p, 0.0)
    if correlation == "correlated":
        second = torch.where(u < p, torch.rand(n_batch, n_pairs, generator=generator), 0.0)
    else:
        second = torch.where((u >= p) & (u < 2 * p), (u - p) / p, 0.0)
    return torch.stack([first, second], dim=-1).reshape(n_batch, 2 * n_pairs)


def _pairs_by_multinomial(n_batch, n_pairs, feature_probability, correlation, generator=None):
    p = feature_probability
    values = torch.rand(n_batch, 2 * n_pairs, generator=generator, dtype=torch.float64)
    if correlation == "correlated":
        on = (torch.rand(n_batch, n_pairs, generator=generator) < p).repeat_interleave(2, dim=1)
    else:
        pick = torch.multinomial(torch.tensor([p, p, 1 - 2 * p]), n_batch * n_pairs, True, generator=generator)
        on = torch.stack([pick == 0, pick == 1], dim=-1).reshape(n_batch, 2 * n_pairs)
    return values * on


def _crossover_by_bisection(importance, n):
    saved, paired = float(importance[n : 2 * n].sum()), float(importance[: 2 * n].sum())
    low, high = 1e-12, 1.0
    for _ in range(100):  # the gain of packing, saved (p/3 − p²/4) − paired p²/6, is positive below p*
        middle = (low + high) / 2
        low, high = (middle, high) if saved * (middle / 3 - middle**2 / 4) > paired * middle**2 / 6 else (low, middle)
    return (low + high) / 2


def _sweep_by_gram_matrices(D, H, Z):  # R_jᵀ z_j = A_jj d_j + B_j − D A_j, with A = ZᵀZ and B = HᵀZ
    A, B, D = Z.T @ Z, H.T @ Z, D.clone()
    for j in range(D.shape[1]):
        if A[j, j] > 0:
            target = A[j, j] * D[:, j] + B[:, j] - D @ A[:, j]
            D[:, j] = target / target.norm()
    return D


def _resample_all_at_once(W_dec, x, x_hat, z):
    dead = (z == 0).all(dim=0).nonzero().flatten()
    worst = (x - x_hat).pow(2).sum(dim=1).topk(len(dead)).indices
    W_dec = W_dec.clone()
    W_dec[:, dead] = torch.nn.functional.normalize(x[worst] - x_hat[worst], dim=1).T
    return W_dec


# Correct answers written another way (another algorithm, dtype or order of draws): each must pass.
OTHER_RIGHT_ANSWERS = [
    (
        "neuron_weights",
        "through the Gram matrix",
        lambda W, coefficients: W @ torch.linalg.solve(W.T @ W, coefficients),
    ),
    (
        "neuron_weights",
        "least squares",
        lambda W, coefficients: torch.linalg.lstsq(W.T, coefficients[:, None]).solution[:, 0],
    ),
    (
        "sae_loss",
        "mse_loss and an L1 norm",
        lambda x, W_enc, b_enc, W_dec, b_dec, l1_coeff: (
            lambda z: torch.nn.functional.mse_loss(z @ W_dec.T + b_dec, x) + l1_coeff * z.norm(p=1, dim=1).mean()
        )(torch.relu(x @ W_enc + b_enc)),
    ),
    ("dictionary_update", "through the Gram matrices", _sweep_by_gram_matrices),
    (
        "basis_p_value",
        "the sum of the kurtoses (the same ranking as their mean), rotations from QR without the sign fix",
        lambda activations, n_rotations=200, generator=None: (
            lambda observed, null: float((1 + (null >= observed).sum()) / (1 + n_rotations))
        )(
            metrics.kurtosis(activations).sum(),
            torch.stack(
                [
                    metrics.kurtosis(
                        activations
                        @ torch.linalg.qr(
                            torch.randn(
                                activations.shape[1], activations.shape[1], generator=generator, dtype=torch.float64
                            )
                        )[0]
                    ).sum()
                    for _ in range(n_rotations)
                ]
            ),
        ),
    ),
    ("count_almost_orthogonal", "one row at a time against the earlier ones", _prefix_count),
    ("resample_dead", "all dead latents at once", _resample_all_at_once),
    (
        "loss_without_superposition",
        "everything minus the top d",
        lambda importance, feature_probability, d_hidden: (
            lambda cost: float(cost.sum() - cost.topk(min(d_hidden, len(cost))).values.sum()) / len(cost)
        )(importance * (feature_probability / 3 - feature_probability**2 / 4)),
    ),
    (
        "loss_below_test",
        "Φ through erfc",
        lambda losses, boundary: (lambda z: (z, 0.5 * math.erfc(-z / math.sqrt(2))))(
            float((losses.mean() - boundary) / (losses.var() / len(losses)).sqrt())
        ),
    ),
    ("pair_features", "one draw per pair gives presence and value", _pairs_from_one_draw),
    ("pair_features", "a three-way multinomial, float64 values", _pairs_by_multinomial),
    ("crossover_density", "bisection on the loss difference", _crossover_by_bisection),
    ("train_toy_model", "the workbook's loop", _toy_training_loop()),
    (
        "train_toy_model",
        "two draws per batch, W drawn after the first, float64",
        _toy_training_loop(dtype=torch.float64, two_draws=True),
    ),
    (
        "crossover_density",
        "in float32",
        _crossover(lambda i, n: i.float()[n : 2 * n].sum(), lambda i, n: i.float()[: 2 * n].sum()),
    ),
]


@pytest.mark.parametrize(
    ("name", "label", "right"), OTHER_RIGHT_ANSWERS, ids=[f"{n}-{l[:30]}" for n, l, _ in OTHER_RIGHT_ANSWERS]
)
def test_correct_answers_written_another_way_pass(name, label, right, capsys):
    right.__name__ = name
    for seed in (0, 1):
        getattr(checks, f"check_{name}")(right, seed=seed)
        assert f"✓ {name}" in capsys.readouterr().out, label


def test_an_answer_drawing_from_a_generator_seeded_from_the_given_one_passes(capsys):
    def generate_batch(n_batch, n_features, feature_probability, generator=None):
        own = torch.Generator().manual_seed(int(torch.randint(0, 2**31, (1,), generator=generator)))
        values = torch.rand(n_batch, n_features, generator=own, dtype=torch.float64)
        return values * (torch.rand(n_batch, n_features, generator=own) < feature_probability)

    checks.check_generate_batch(generate_batch)
    assert "✓ generate_batch" in capsys.readouterr().out


def _sae_loss_in_numpy(x, W_enc, b_enc, W_dec, b_dec, l1_coeff):  # the right value, with no graph to train
    x, W_enc, b_enc, W_dec, b_dec = (t.detach().numpy() for t in (x, W_enc, b_enc, W_dec, b_dec))
    z = (x @ W_enc + b_enc).clip(min=0)
    return torch.tensor(((x - z @ W_dec.T - b_dec) ** 2).mean() + l1_coeff * abs(z).sum(axis=1).mean())


def _sae_loss_penalty_detached(x, W_enc, b_enc, W_dec, b_dec, l1_coeff):  # the right value, the wrong gradient
    z = torch.relu(x @ W_enc + b_enc)
    return (x - z @ W_dec.T - b_dec).pow(2).mean() + l1_coeff * z.detach().sum(dim=1).mean()


@pytest.mark.parametrize(
    ("wrong", "words"), [(_sae_loss_in_numpy, "carries no gradient"), (_sae_loss_penalty_detached, "wrong gradient")]
)
def test_a_loss_the_workbook_cannot_train_on_fails(wrong, words):
    wrong.__name__ = "sae_loss"
    for seed in (0, 1):
        outcome, message = hostile.run(checks.check_sae_loss, wrong, seed=seed)
        assert outcome == "verdict" and words in message, message


def test_every_exercise_has_another_wrong_answer_here():
    assert set(MORE_WRONG) == set(_common.EXERCISES), "add a plausible wrong answer for each new exercise"


@pytest.mark.parametrize("name", sorted(MORE_WRONG))
def test_another_plausible_wrong_answer_fails(name, monkeypatch):
    monkeypatch.setattr(_common, "TIME_LIMIT_S", 5.0)
    wrong = MORE_WRONG[name]
    wrong.__name__ = name
    outcome, message = hostile.run(getattr(checks, f"check_{name}"), wrong)
    assert outcome in ("verdict", "learner"), message


def test_every_chapter_module_declares_its_exercises():
    for name, exercise in _common.EXERCISES.items():
        assert getattr(checks, f"check_{name}").exercise is exercise
        assert name in exercise.signature and exercise.passed


def test_yours_or_reference_uses_yours_only_after_its_check_passes(capsys):
    def cosine_similarity(a, b):
        return geometry.cosine_similarity(a, b)

    assert checks.yours_or_reference(cosine_similarity) is geometry.cosine_similarity
    assert "using the library's reference" in capsys.readouterr().out
    checks.check_cosine_similarity(cosine_similarity)
    assert checks.yours_or_reference(cosine_similarity) is cosine_similarity


def test_yours_or_reference_names_unknown_exercises():
    def not_an_exercise():
        pass

    with pytest.raises(ValueError, match="no exercise is called"):
        checks.yours_or_reference(not_an_exercise)


def test_a_correct_answer_that_writes_to_its_input_passes_with_a_note(capsys):
    def soft_threshold(v, t):
        return v.copy_(torch.sign(v) * torch.clamp(v.abs() - t, min=0))

    checks.check_soft_threshold(soft_threshold)
    out = capsys.readouterr().out
    assert "✓ soft_threshold" in out and "changed its argument v in place" in out


def test_a_correct_answer_that_normalises_its_inputs_in_place_first_passes_with_a_note(capsys):
    def nearest_words(vectors, direction, k):
        vectors.div_(vectors.norm(dim=1, keepdim=True))  # in place, before computing: the check hands over copies
        return (vectors @ direction).topk(k).indices

    checks.check_nearest_words(nearest_words)
    out = capsys.readouterr().out
    assert "✓ nearest_words" in out and "changed its argument vectors in place" in out


def test_messages_round_their_numbers():
    assert _common.fmt(0.19999998807907104) == "0.2"
    assert _common.fmt(-0.0) == "0"
    assert _common.fmt(torch.tensor([1 / 3, -0.0])) == "[0.3333, 0]"


def test_a_count_may_be_an_int_or_a_0d_tensor_but_not_a_fraction(capsys):
    checks.check_count_represented(lambda W, threshold=0.5: (W.norm(dim=0) > threshold).sum())
    assert "✓" in capsys.readouterr().out
    with pytest.raises(AssertionError, match="whole number"):
        checks.check_count_represented(lambda W, threshold=0.5: float((W.norm(dim=0) > threshold).sum()) + 0.5)


def test_a_check_of_many_calls_shows_progress_and_stops_at_its_limit(monkeypatch, capsys):
    monkeypatch.setattr(_common, "CHECK_LIMIT_S", 1.5)
    monkeypatch.setattr(_common, "PROGRESS_AFTER_S", 0.2)

    def random_rotation(n, generator=None):
        time.sleep(0.01)  # fast enough per call, too slow for the hundreds of calls the check makes
        return geometry.random_rotation(n, generator=generator)

    with pytest.raises(AssertionError, match="too slow for the calls this check makes"):
        checks.check_random_rotation(random_rotation)
    assert "… check_random_rotation: case 1 of 2, call" in capsys.readouterr().out


def _distinct(values) -> int:
    kept = []
    for value in values:
        if not any(_equal(value, other) for other in kept):
            kept.append(value)
    return len(kept)


def _equal(a, b) -> bool:
    if isinstance(a, torch.Tensor) or isinstance(b, torch.Tensor):
        return isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor) and a.shape == b.shape and torch.equal(a, b)
    return a is b if not isinstance(a, int | float | str | list | tuple) else a == b


@pytest.mark.parametrize("name", sorted(_common.EXERCISES))
def test_every_argument_the_answer_depends_on_takes_two_values_across_the_cases(name):
    """An argument that never varies could be hard-coded; an optional one must also appear at its default (the
    engine then leaves it out, so a learner's own default, even one hidden in **kwargs, is what answers)."""
    exercise = _common.EXERCISES[name]
    cases = exercise.draw_cases(0)
    for param in exercise.parameters:
        if param.name == "generator" or not hostile.depends_on(exercise, None, param.name):
            continue
        values = [case.get(param.name, param.default) for case in cases]
        assert _distinct(values) >= 2, f"{name}: every case passes the same {param.name}"
        if param.default is not inspect.Parameter.empty:
            assert any(_equal(v, param.default) for v in values), f"{name}: no case uses {param.name}'s default"


@pytest.mark.parametrize("name", sorted(_common.EXERCISES))
def test_each_run_of_a_check_draws_new_inputs(name):
    exercise = _common.EXERCISES[name]
    first, second = exercise.draw_cases(0), exercise.draw_cases(1)
    assert len(first) == len(second)
    assert (
        any(not _equal(a[key], b[key]) for a, b in zip(first, second, strict=True) for key in a) or exercise.random
    ), f"{name}: the same inputs on every run, so remembered answers would pass"
    again = exercise.draw_cases(0)
    assert all(
        _equal(a[key], b[key]) or not isinstance(a[key], torch.Tensor) for a, b in zip(first, again) for key in a
    )


def test_statistics_may_read_the_inputs_of_their_case(capsys):
    """A random exercise's statistics may take the case's inputs as well (a trained model scored on its own data)."""
    seen = []

    def statistics(outputs, inputs):
        seen.append(inputs["scale"])
        return torch.stack([outputs.mean() / inputs["scale"]])  # 0.5 for every scale

    exercise = _common.Exercise(
        "scaled_uniform(n, scale, generator=None)",
        reference=lambda n, scale, generator=None: scale * torch.rand(n, generator=generator),
        cases=lambda: [dict(n=20_000, scale=2.0), dict(n=20_000, scale=5.0)],
        statistics=statistics,
        atol=0.02,
        passed="scaled.",
    )
    check = _common.make_check(exercise)
    check(exercise.reference, seed=0)
    assert "✓ scaled_uniform" in capsys.readouterr().out
    assert set(seen) == {2.0, 5.0}
    with pytest.raises(AssertionError, match="statistics"):
        check(lambda n, scale, generator=None: 2.0 * torch.rand(n, generator=generator), seed=0)
