"""Chapter 02: rotating a hidden layer, kurtosis, the random-basis test of a privileged basis, class selectivity."""

from __future__ import annotations

import math

import torch

from .. import detection, digits, geometry, metrics
from ._common import Exercise, declare, seeded


def _layer_cases():
    gen = seeded(0)
    cases = []
    for d_hidden, d_in, d_out in ((4, 6, 3), (3, 5, 2)):
        W1 = torch.randn(d_hidden, d_in, generator=gen, dtype=torch.float64)
        b1 = torch.randn(d_hidden, generator=gen, dtype=torch.float64)
        W2 = torch.randn(d_out, d_hidden, generator=gen, dtype=torch.float64)
        cases.append(dict(W1=W1, b1=b1, W2=W2, R=geometry.random_rotation(d_hidden, generator=gen).double()))
    return cases


def _kurtosis_cases():
    # Few samples (n versus n − 1 matters), columns with non-zero means (centring matters).
    x = torch.randn(12, 3, generator=seeded(0), dtype=torch.float64) + torch.tensor(
        [0.0, 2.0, -1.0], dtype=torch.float64
    )
    x[0, 0] = 6.0
    return [dict(x=x), dict(x=torch.tensor([[-1.0], [1.0], [-1.0], [1.0]]))]


def _selectivity_cases():
    n_classes = 4
    # Unequal class sizes make "mean over the other examples" differ from "mean of the other class means".
    labels = torch.cat([torch.arange(40) % n_classes, torch.zeros(20, dtype=torch.int64)])
    activations = torch.rand(60, 5, generator=seeded(0), dtype=torch.float64) * torch.tensor([1.0, 2, 0.5, 3, 1])
    activations[labels == 2, 1] += 4  # neuron 1 prefers class 2
    activations[labels == 0, 3] += 2  # neuron 3 prefers the big class 0
    dead = dict(activations=torch.zeros(8, 2), labels=torch.arange(8) % 4, n_classes=4)
    ten = torch.arange(50) % 10  # all ten classes, the default
    spread = torch.rand(50, 3, generator=seeded(1), dtype=torch.float64) + (ten[:, None] == torch.tensor([1, 4, 7]))
    return [
        dict(activations=activations, labels=labels, n_classes=n_classes),
        dead,
        dict(activations=spread, labels=ten),
    ]


def _selectivity_against(activations, labels, n_classes, rest):
    means = digits.class_means(activations, labels, n_classes)
    top = means.max(dim=0).values
    other = rest(means, top)
    return (top - other) / (top + other)


def _pooled_rest(activations, labels, n_classes=10):
    means = digits.class_means(activations, labels, n_classes)
    top = means.max(dim=0).values
    pooled = torch.stack([activations[labels != c, i].mean() for i, c in enumerate(means.argmax(dim=0).tolist())])
    return (top - pooled) / (top + pooled)


def _unnormalised(activations, labels, n_classes=10):
    means = digits.class_means(activations, labels, n_classes)
    top = means.max(dim=0).values
    return top - (means.sum(dim=0) - top) / (n_classes - 1)


# The random-basis test. Its cases are planar point sets whose kurtosis is known in closed form: for unit-variance,
# uncorrelated coordinates the kurtosis along the direction at angle θ is a0 + a2 cos 2θ + a4 cos 4θ, so the mean
# over an orthonormal basis (θ and θ + 90°) is a0 + a4 cos 4θ, while two independent random directions keep the
# a2 terms. Each case fixes the share of random bases that beat the neuron basis, so most answers are exact.


def _planar(xs, ys, turn, gen):
    """The grid of x values by y values, shuffled, each axis flipped at random, turned by `turn` radians."""
    grid = torch.cartesian_prod(torch.tensor(xs, dtype=torch.float64), torch.tensor(ys, dtype=torch.float64))
    grid = grid[torch.randperm(len(grid), generator=gen)] * (2 * torch.randint(2, (2,), generator=gen) - 1)
    c, s = math.cos(turn), math.sin(turn)
    return grid @ torch.tensor([[c, s], [-s, c]], dtype=torch.float64)


def _basis_test_cases():
    gen = seeded(0)
    spike = math.sqrt(6.0)
    kurtosis_one_and_six = ([-1.0, 1.0], [spike, -spike] + [0.0] * 10)  # a0 = 27/8, a2 = −5/2, a4 = 1/8
    kurtosis_one_and_four = ([-1.0, 1.0], [2.0, -2.0] + [0.0] * 6)  # kurtosis 1 along x, 4 along y
    unequal = torch.tensor([1.0, 3.0], dtype=torch.float64)
    offset = torch.tensor([4.0, 0.0], dtype=torch.float64)
    eighth = math.pi / 8 + math.pi / 4 * int(torch.randint(4, (1,), generator=gen))  # cos 4θ = 0
    sparse = (torch.rand(200, 5, generator=gen, dtype=torch.float64) < 0.05) * (
        1 + torch.rand(200, 5, generator=gen, dtype=torch.float64)
    )
    sparse[range(5), range(5)] = 1.5  # every neuron fires at least once
    axes = torch.cat([torch.eye(2, dtype=torch.float64), -torch.eye(2, dtype=torch.float64)]).repeat(50, 1)
    return [
        # the neuron basis at a0 exactly: half the random bases beat it (p about ½, spread by the draws)
        dict(activations=_planar(*kurtosis_one_and_six, eighth, gen), n_rotations=100),
        # sparse spikes along the neurons: no random basis comes close, p = 1 / (N + 1)
        dict(activations=sparse),
        # the neuron basis at the top of a0 + a4 cos 4θ, which random single directions often exceed
        dict(activations=_planar(*kurtosis_one_and_six, 0.0, gen), n_rotations=4),
        # ±e₁, ±e₂: kurtosis 2 along the neurons, less along any other basis, about 3 once the examples are mixed
        dict(activations=axes[torch.randperm(len(axes), generator=gen)], n_rotations=4),
        # one neuron: every basis is ±1, every random basis ties with the neuron basis, p = 1; with two random bases
        # a denominator of N instead of N + 1 gives 3/2
        dict(activations=torch.rand(30, 1, generator=gen, dtype=torch.float64) ** 3, n_rotations=2),
        # columns of kurtosis 1 and 4 (mean 2.5 < 3): the neuron basis has the *lowest* mean kurtosis, p = 1, but
        # the highest single kurtosis (the max instead of the mean gives 1/5); unequal column scales make the
        # kurtosis of all entries pooled differ from the mean over columns
        dict(activations=_planar(*kurtosis_one_and_four, 0.0, gen) * unequal, n_rotations=4),
        # the same shifted off the origin: an uncentred "kurtosis" ranks the neuron basis first (p = 1/5)
        dict(activations=_planar(*kurtosis_one_and_four, 0.0, gen) * unequal + offset, n_rotations=4),
    ]


def _basis_p_value(activations, n_rotations=200, generator=None):
    observed = digits.basis_kurtosis(activations).mean()
    return detection.p_value(observed, digits.random_basis_kurtosis(activations, n_rotations, generator=generator),
                             alternative="greater")  # fmt: skip


def _test_with(rotate=None, p=None, reuse=False, statistic=None):
    """The test with one step changed: how the activations are rotated (`rotate(a, generator)`), how the p-value
    is read off the null (`p(observed, null)`), one rotation drawn once and reused, or the statistic of a basis
    (`statistic(a)`, the mean kurtosis of the columns of `a`)."""
    rotate = rotate or (lambda a, g: a @ geometry.random_rotation(a.shape[1], generator=g).to(a))
    p = p or (lambda o, n: (1 + (n >= o).sum()) / (len(n) + 1))
    statistic = statistic or (lambda a: metrics.kurtosis(a).mean())

    def test(activations, n_rotations=200, generator=None):
        fixed = geometry.random_rotation(activations.shape[1], generator=generator).to(activations) if reuse else 0
        null = [statistic(activations @ fixed if reuse else rotate(activations, generator))
                for _ in range(n_rotations)]  # fmt: skip
        return float(p(statistic(activations), torch.stack(null)))

    return test


_BASIS_TEST_MISTAKES = {
    "you counted the random bases strictly above the neuron basis (>): count those at or above it (≥), so that a "
    "tie counts against the neuron basis (with one neuron every basis ties, and p must be 1).": _test_with(
        p=lambda o, n: (1 + (n > o).sum()) / (len(n) + 1)
    ),
    "you left out the +1 (the neuron basis itself counts as one of the bases): p = (1 + #{random ≥ neuron}) "
    "/ (1 + N), never 0.": _test_with(p=lambda o, n: (n >= o).sum() / len(n)),
    "you rotated with Gaussian matrices: their columns are not orthogonal, so they are not a basis; draw "
    "orthogonal ones (random_rotation).": _test_with(
        rotate=lambda a, g: a @ torch.randn(a.shape[1], a.shape[1], generator=g, dtype=a.dtype)
    ),
    "you rotated the examples (an (n, n) matrix on the left): a basis of the hidden space acts on the right, "
    "activations @ R with R of shape (d, d).": _test_with(
        rotate=lambda a, g: geometry.random_rotation(a.shape[0], generator=g).to(a) @ a
    ),
    "you counted the random bases at or *below* the neuron basis: the question is whether the neuron basis is "
    "more heavy-tailed, so count those at or above it.": _test_with(p=lambda o, n: (1 + (n <= o).sum()) / (len(n) + 1)),
    "you drew one rotation and used it for every random basis: draw a new one for each of the n_rotations.": (
        _test_with(reuse=True)
    ),
    "you divided by N: the neuron basis is one of the 1 + N bases, so divide by 1 + N (else p can exceed "
    "1).": _test_with(p=lambda o, n: (1 + (n >= o).sum()) / len(n)),
    "you took the largest kurtosis over the columns: the statistic of a basis is the *mean* of its d "
    "kurtoses.": _test_with(statistic=lambda a: metrics.kurtosis(a).max()),
    "you did not centre the columns: kurtosis uses x − μ, so subtract each column's mean (or use "
    "metrics.kurtosis).": _test_with(statistic=lambda a: (a.pow(4).mean(dim=0) / a.pow(2).mean(dim=0) ** 2).mean()),
    "you took one kurtosis of all the entries pooled: take the kurtosis of each column (dim 0), then their "
    "mean.": _test_with(statistic=lambda a: metrics.kurtosis(a.flatten())),
}

declare(
    Exercise(
        "rotate_hidden_layer(W1, b1, W2, R)",
        reference=lambda W1, b1, W2, R: (R @ W1, R @ b1, W2 @ R.T),
        cases=_layer_cases,
        returns=("tensor", "tensor", "tensor"),
        mistakes={
            "you rotated by Rᵀ instead of R: the new first layer is R W₁ and the new W₂ is "
            "W₂ Rᵀ.": lambda W1, b1, W2, R: (
                R.T @ W1,
                R.T @ b1,
                W2 @ R,
            ),
            "you left b₁ unchanged: rotate the bias too (R @ b1), or z' ≠ R z.": lambda W1, b1, W2, R: (
                R @ W1,
                b1,
                W2 @ R.T,
            ),
            "you used W₂ R: the second layer must undo R, and R⁻¹ = Rᵀ, so use W2 @ R.T.": lambda W1, b1, W2, R: (
                R @ W1,
                R @ b1,
                W2 @ R,
            ),
            "the new first layer should be R W₁ (R @ W1), so that z' = R z.": lambda W1, b1, W2, R: (
                W1,
                R @ b1,
                W2 @ R.T,
            ),
        },
        formula="(R W₁, R b₁, W₂ Rᵀ): with an identity activation the rotated network computes the same logits.",
        passed="R W₁, R b₁, W₂ Rᵀ: a linear network's logits are unchanged.",
    ),
    Exercise(
        "pearson_kurtosis(x)",
        reference=lambda x: metrics.kurtosis(x, dim=0),
        cases=_kurtosis_cases,
        atol=1e-6,
        mistakes={
            "you returned the excess kurtosis (κ − 3): the course uses Pearson's, without the − 3.": lambda x: (
                metrics.kurtosis(x, dim=0) - 3
            ),
            "you did not subtract the mean: centre each column first, x − x.mean(dim=0).": lambda x: (
                x.pow(4).mean(dim=0) / x.pow(2).mean(dim=0).pow(2)
            ),
            "you used the n − 1 variance (torch.var's default): use plain moments, (x − μ)².mean(dim=0).": lambda x: (
                (x - x.mean(dim=0)).pow(4).mean(dim=0) / x.var(dim=0).pow(2)
            ),
            "divide by σ⁴, the variance squared, not by the variance.": lambda x: (
                (x - x.mean(dim=0)).pow(4).mean(dim=0) / (x - x.mean(dim=0)).pow(2).mean(dim=0)
            ),
            "take the moments along dim=0 (over the samples), one value per column.": lambda x: metrics.kurtosis(
                x, dim=1
            ),
        },
        formula="κ = E[(x − μ)⁴] / σ⁴ per column, with plain (1/n) moments; ±1 spikes give exactly 1.",
        passed="Pearson kurtosis E[(x − μ)⁴] / σ⁴ per column (3 for a Gaussian).",
    ),
    Exercise(
        "basis_p_value(activations, n_rotations=200, generator=None)",
        reference=_basis_p_value,
        cases=_basis_test_cases,
        returns="number",
        calls=6,
        statistics=lambda p: torch.stack([p.clamp_min(1e-6).log().mean(), p.std()]),
        statistic_names=("the mean of ln p over 6 calls", "the standard deviation of p over the calls"),
        atol=0.3,  # ln p spreads by 0.04 where p is near ½; each mistake moves a statistic by 0.4 or more
        rtol=0,
        mistakes=_BASIS_TEST_MISTAKES,
        formula="(1 + #{random bases whose mean kurtosis ≥ the neuron basis's}) / (1 + n_rotations), each random "
        "basis a new random_rotation applied as activations @ R.",
        passed="where the neuron basis ranks among random orthonormal bases, as a p-value that is never 0.",
    ),
    Exercise(
        "class_selectivity(activations, labels, n_classes=10)",
        reference=digits.class_selectivity,
        cases=_selectivity_cases,
        atol=1e-6,
        mistakes={
            "a neuron that never fires gives 0 / 0: return 0 for it, "
            "not NaN.": lambda activations, labels, n_classes=10: _selectivity_against(
                activations, labels, n_classes, lambda means, top: (means.sum(0) - top) / (n_classes - 1)
            ),
            "you compared with the mean over all examples: μ_rest is "
            "the average of the *other* classes' means.": lambda activations, labels, n_classes=10: (
                _selectivity_against(activations, labels, n_classes, lambda means, top: activations.mean(dim=0))
            ),
            "divide by μ_max + μ_rest (the index should lie in [0, 1]).": _unnormalised,
            "you compared with the second-best class: μ_rest averages "
            "all the other classes.": lambda activations, labels, n_classes=10: _selectivity_against(
                activations, labels, n_classes, lambda means, top: means.topk(2, dim=0).values[1]
            ),
            "you pooled the examples of the other classes: average the other classes' *means* instead, so that "
            "a large class does not count more.": _pooled_rest,
        },
        formula="(μ_max − μ_rest) / (μ_max + μ_rest) per neuron, μ_rest the mean of the other classes' means; 0 "
        "for a neuron that never fires.",
        passed="(μ_max − μ_rest) / (μ_max + μ_rest) per neuron.",
    ),
)
