"""Chapter 05: interference terms, the predicted readout error, the ReLU bias trade-off, the antipodal loss."""

from __future__ import annotations

import torch

from .. import interference
from ._common import Exercise, declare, seeded


def _skewed_features(n: int, k: int, seed: int) -> torch.Tensor:
    """(n, k) columns with unequal lengths and mostly positive overlaps, so that shortcuts give other answers."""
    W = torch.rand(n, k, generator=seeded(seed), dtype=torch.float64) + 0.1
    return W / W.norm(dim=0, keepdim=True) * torch.linspace(0.6, 1.3, k, dtype=torch.float64)


def _readout_error(W, p, second_moment, gram_minus):
    a = W.T @ W - gram_minus * torch.eye(W.shape[1], dtype=W.dtype)
    squares, sums = (a**2).sum(dim=0), a.sum(dim=0)
    return p * second_moment * squares + p**2 / 4 * (sums**2 - squares)


def _split_errors(W, x, biases, readout, reduce="sum"):
    rows = []
    active = x > 0
    for b in biases:
        error = (readout(x @ W.T @ W, b) - x) ** 2
        parts = (error * active, error * ~active)
        rows.append(torch.stack([p.sum(dim=1).mean() if reduce == "sum" else p.mean() for p in parts]))
    return torch.stack(rows)


def _tradeoff_cases():
    cases = []
    for n, k, biases in ((5, 12, [0.0, -0.1, -0.3]), (4, 9, [-0.05, 0.0, -0.2, -0.4])):
        W = torch.randn(n, k, generator=seeded(3 + k), dtype=torch.float64) / 2  # overlaps of both signs
        x = interference.sparse_features(40, k, 0.2, generator=seeded(4 + k)).double()
        cases.append(dict(W=W, x=x, biases=biases))
    return cases


def _crossover(importance, n, paired="all", variance=True, saved_all=False):
    saved = importance[n:] if saved_all else importance[n : 2 * n]
    paired = {"all": importance[: 2 * n], "top": importance[:n], "next": importance[n : 2 * n]}[paired]
    quadratic = 1 / 4 if variance else 0.0  # the p² term of a dropped feature's cost
    return float((saved.sum() / 3) / (paired.sum() / 6 + quadratic * saved.sum()))


def _crossover_cases():
    gen = seeded(3)
    fresh = (torch.rand(11, generator=gen, dtype=torch.float64) + 0.05).sort(descending=True).values
    return [
        dict(importance=torch.ones(4, dtype=torch.float64), n=2),
        dict(importance=0.7 ** torch.arange(9, dtype=torch.float64), n=3),
        dict(importance=fresh, n=int(torch.randint(1, 5, (1,), generator=gen))),
    ]


def _antipodal_with(pair_cost=lambda p: p**2 / 6, dropped_cost=lambda p: p / 3 - p**2 / 4, average=True):
    """`antipodal_loss` from other costs per unit of importance: of a paired feature, of a dropped one."""

    def loss(importance, n, p):
        paired, dropped = importance[: 2 * n].sum().item(), importance[2 * n :].sum().item()
        total = paired * pair_cost(p) + dropped * dropped_cost(p)
        return total / len(importance) if average else total

    return loss


declare(
    Exercise(
        "interference_terms(W, x)",
        reference=interference.interference,
        cases=lambda: [
            dict(W=_skewed_features(n, k, 2 * n), x=torch.rand(5, k, generator=seeded(2 * n + 1), dtype=torch.float64))
            for n, k in ((4, 7), (3, 5))
        ],
        atol=1e-6,
        mistakes={
            "you returned the whole readout WᵀW x: leave out each feature's own term (i = j).": lambda W, x: (
                x @ W.T @ W
            ),
            "you subtracted x itself, which is right only for unit-length features: remove the diagonal of "
            "WᵀW (each feature's own term (wⱼ·wⱼ) xⱼ) instead.": lambda W, x: x @ W.T @ W - x,
        },
        formula="Σ_{i≠j} (wᵢ·wⱼ) xᵢ = x @ (WᵀW with its diagonal set to 0), shape (batch, k).",
        passed="Σ_{i≠j} (wᵢ·wⱼ) xᵢ: the readout minus each feature's own term.",
    ),
    Exercise(
        "predicted_readout_error(W, p)",
        reference=interference.expected_readout_error,
        cases=lambda: [dict(W=_skewed_features(3, 6, 2), p=0.4), dict(W=_skewed_features(4, 5, 3), p=0.1)],
        atol=1e-9,
        rtol=1e-6,
        mistakes={
            "you kept only the first term: features have a non-zero mean p/2, so the cross terms add "
            "(p²/4) [(Σᵢ aᵢⱼ)² − Σᵢ aᵢⱼ²].": lambda W, p: (
                p / 3 * ((W.T @ W - torch.eye(W.shape[1], dtype=W.dtype)) ** 2).sum(0)
            ),
            "you used E[x²] = p/2: for x uniform on [0, 1] when on, E[x²] = p/3.": lambda W, p: _readout_error(
                W, p, 1 / 2, 1
            ),
            "you used the Gram matrix itself: subtract the true activation, a = WᵀW − I.": lambda W, p: _readout_error(
                W, p, 1 / 3, 0
            ),
        },
        formula="(p/3) Σᵢ aᵢⱼ² + (p²/4) [(Σᵢ aᵢⱼ)² − Σᵢ aᵢⱼ²] with a = WᵀW − I, one value per feature j.",
        passed="(p/3) Σ aᵢⱼ² + (p²/4) [(Σ aᵢⱼ)² − Σ aᵢⱼ²], with a = WᵀW − I.",
    ),
    Exercise(
        "bias_tradeoff(W, x, biases)",
        reference=interference.bias_tradeoff,
        cases=_tradeoff_cases,
        atol=1e-9,
        mistakes={
            "the columns are swapped: column 0 is the error on active features (x > 0).": lambda W, x, biases: (
                interference.bias_tradeoff(W, x, biases).flip(1)
            ),
            "you added the bias after the ReLU: the readout is ReLU(WᵀW x + b).": lambda W, x, biases: _split_errors(
                W, x, biases, lambda h, b: torch.relu(h) + b
            ),
            "you forgot the ReLU: the readout is ReLU(WᵀW x + b).": lambda W, x, biases: _split_errors(
                W, x, biases, lambda h, b: h + b
            ),
            "you averaged over features too: sum over features, then average over samples.": lambda W, x, biases: (
                _split_errors(W, x, biases, lambda h, b: torch.relu(h + b), "mean")
            ),
        },
        formula="row i: the squared errors of ReLU(WᵀW x + biases[i]) on active (x > 0) and inactive features, "
        "summed over features and averaged over samples.",
        passed="errors on active and inactive features for every bias.",
    ),
    Exercise(
        "antipodal_loss(importance, n, p)",
        reference=interference.antipodal_loss,
        cases=lambda: [
            dict(importance=0.8 ** torch.arange(10, dtype=torch.float64), n=3, p=0.2),
            dict(importance=0.9 ** torch.arange(7, dtype=torch.float64), n=2, p=0.05),
            dict(
                importance=(torch.rand(9, generator=seeded(0), dtype=torch.float64) + 0.1).sort(descending=True).values,
                n=int(torch.randint(1, 4, (1,), generator=seeded(1))),
                p=float(0.02 + 0.5 * torch.rand(1, generator=seeded(2))),
            ),
        ],
        returns="number",
        atol=1e-9,
        rtol=1e-7,
        mistakes={
            "a pair errs only when both of its features are on at once: that happens with probability p² (each is "
            "on with probability p, independently), not p.": _antipodal_with(lambda p: p / 6),
            "you used 1/3 for E[min(U, V)²], the mean square of one uniform value: the smaller of two is smaller; "
            "its density is 2(1 − t) on [0, 1], so E[min²] = ∫ t² · 2(1 − t) dt.": _antipodal_with(lambda p: p**2 / 3),
            "you used 1/4 for E[min(U, V)²]: work it out from the density of the minimum, 2(1 − t) on [0, 1], as "
            "∫ t² · 2(1 − t) dt.": _antipodal_with(lambda p: p**2 / 4),
            "you squared the mean of the minimum, (1/3)²: the mean of a square is not the square of the mean; "
            "E[min²] = ∫ t² · 2(1 − t) dt.": _antipodal_with(lambda p: p**2 / 9),
            "when both are on, both features are wrong: the larger is read short by the smaller value, and the "
            "smaller is read as 0 (off by itself). Count the pair's two errors.": _antipodal_with(lambda p: p**2 / 12),
            "you read a dropped feature as 0: its output is its bias, a constant c, and the best c is the feature's "
            "mean, which leaves only its variance, E[x²] − E[x]².": _antipodal_with(dropped_cost=lambda p: p / 3),
            "you took p · Var(U) = p/12 for a dropped feature: its variance counts the absences too, "
            "E[x²] − E[x]² with x = 0 when the feature is off.": _antipodal_with(dropped_cost=lambda p: p / 12),
            "you returned the sum over features: average over the k features, as the toy model's loss "
            "does.": _antipodal_with(average=False),
        },
        formula="the importance-weighted expected squared error averaged over the k features: each of the top 2n "
        "features read through its antipodal pair, each other feature read as its best constant.",
        passed="pairs cost (Iₐ + I_b) p²/6, dropped features Iᵢ (p/3 − p²/4), averaged over k.",
    ),
    Exercise(
        "crossover_density(importance, n)",
        reference=interference.crossover_density,
        cases=_crossover_cases,
        returns="number",
        atol=1e-9,
        rtol=1e-7,
        mistakes={
            "the top n features are exact in the dedicated arrangement but pay p²/6 once paired: the paired sum "
            "runs over all 2n features, P = Σ_{i<2n} Iᵢ.": lambda importance, n: _crossover(importance, n, "next"),
            "the n features that packing rescues pay p²/6 once paired as well: the paired sum runs over all 2n "
            "features, P = Σ_{i<2n} Iᵢ, not the top n only.": lambda importance, n: _crossover(importance, n, "top"),
            "a dropped feature's best constant guess is its mean p/2, leaving its variance p/3 − p²/4, not p/3.": (
                lambda importance, n: _crossover(importance, n, variance=False)
            ),
            "features dropped by both arrangements (i ≥ 2n) cost the same in both and cancel: the saved sum is "
            "Σ_{n≤i<2n} Iᵢ.": lambda importance, n: _crossover(importance, n, saved_all=True),
        },
        formula="p* = (G/3) / (P/6 + G/4) with G = Σ_{n≤i<2n} Iᵢ and P = Σ_{i<2n} Iᵢ.",
        passed="p* = (G/3) / (P/6 + G/4): below it, antipodal pairs beat dedicated dimensions.",
    ),
)
