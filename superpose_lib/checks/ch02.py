"""Chapter 02: rotating a hidden layer, kurtosis, class selectivity, top-activating examples."""

from __future__ import annotations

import torch

from .. import digits, geometry, metrics
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
    Exercise(
        "top_activating(activations, k)",
        reference=digits.top_activating,
        cases=lambda: [
            dict(activations=torch.randn(30, 4, generator=seeded(0)), k=3),
            dict(activations=torch.randn(9, 6, generator=seeded(1)), k=5),
        ],
        mistakes={
            "return one row per neuron, shape (d_hidden, k): rank each neuron's column.": lambda activations, k: (
                torch.topk(activations, k, dim=0).indices
            ),
            "you returned the weakest examples: sort in descending order (largest first).": lambda activations, k: (
                torch.topk(activations.T, k, dim=1, largest=False).indices
            ),
            "you found the right examples in the wrong order: list the strongest first.": lambda activations, k: (
                torch.topk(activations.T, k, dim=1).indices.sort(dim=1).values
            ),
            "you ranked along the wrong dimension: for each neuron (column) rank the examples (rows), e.g. "
            "on activations.T.": lambda activations, k: torch.topk(activations, k, dim=1).indices,
        },
        formula="for each neuron, the indices of its k largest activations, strongest first, shape (d_hidden, k).",
        passed="each neuron's k strongest examples, strongest first.",
    ),
)
