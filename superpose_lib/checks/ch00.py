"""Chapter 00: the toy model's pieces."""

from __future__ import annotations

import torch

from .. import interference
from ._common import Exercise, declare, seeded, uniform_gap


def _sparsity_statistics(x: torch.Tensor) -> torch.Tensor:
    """(share non-zero, mean of the non-zero values and their gap from the uniform law, min, max, mean squared share
    per row)."""
    on = x != 0
    values = x[on]
    per_row = on.double().mean(dim=-1)  # independent features: p² + p(1 − p)/n_features; one coin per row: p
    return torch.stack([on.double().mean(), values.mean(), uniform_gap(x), x.min(), x.max(), per_row.pow(2).mean()])


def _batch_cases():
    # Over 12 seeds the statistics spread by at most 0.0052 at these sizes, against the tolerance 0.015.
    return [
        dict(n_batch=n, n_features=f, feature_probability=p)
        for n, f, p in ((20_000, 10, 1.0), (20_000, 6, 0.3), (100_000, 10, 0.05))
    ]


def _toy_cases():
    gen = seeded(0)
    return [
        dict(W=torch.randn(d, f, generator=gen), b=torch.randn(f, generator=gen), x=torch.rand(n, f, generator=gen))
        for f, d, n in ((4, 4, 6), (5, 2, 7), (20, 5, 3))
    ]


def _loss_cases():
    gen = seeded(0)
    return [
        dict(
            x=torch.rand(64, 5, generator=gen),
            x_hat=torch.rand(64, 5, generator=gen),
            importance=0.7 ** torch.arange(5.0),
        ),
        dict(
            x=torch.rand(3, 4, generator=gen),
            x_hat=torch.rand(3, 4, generator=gen),
            importance=torch.tensor([2.0, 0.0, 0.5, 1.5]),
        ),
    ]


declare(
    Exercise(
        "generate_batch(n_batch, n_features, feature_probability, generator=None)",
        reference=lambda n_batch, n_features, feature_probability, generator=None: interference.sparse_features(
            n_batch, n_features, feature_probability, generator=generator
        ),
        cases=_batch_cases,
        statistics=lambda x: _sparsity_statistics(x),
        statistic_names=(
            "the share of non-zero entries",
            "the mean non-zero value",
            "the largest gap between the non-zero values' distribution and the uniform one",
            "the smallest entry",
            "the largest entry",
            "the mean over rows of (the row's share of non-zero entries)²",
        ),
        atol=0.015,
        mistakes={
            "did you forget to set each feature "
            "to zero with probability 1 − "
            "feature_probability?": lambda n_batch, n_features, feature_probability, generator=None: torch.rand(
                n_batch, n_features, generator=generator
            ),
            "you kept features with probability "
            "1 − p instead of p: a feature is "
            "present when the coin is below p.": lambda n_batch, n_features, feature_probability, generator=None: (
                torch.rand(n_batch, n_features, generator=generator)
                * (torch.rand(n_batch, n_features, generator=generator) >= feature_probability)
            ),
            "non-zero features are uniform on "
            "[0, 1], so use torch.rand, not "
            "torch.randn.": lambda n_batch, n_features, feature_probability, generator=None: (
                torch.randn(n_batch, n_features, generator=generator)
                * (torch.rand(n_batch, n_features, generator=generator) < feature_probability)
            ),
            "each feature is present independently: draw the on/off coins with shape (n_batch, n_features), "
            "not one per sample.": lambda n_batch, n_features, feature_probability, generator=None: (
                torch.rand(n_batch, n_features, generator=generator)
                * (torch.rand(n_batch, 1, generator=generator) < feature_probability)
            ),
        },
        formula="each feature is non-zero independently with probability feature_probability, and then uniform "
        "on [0, 1].",
        passed="the right sparsity, uniform values on [0, 1], drawn from its generator.",
    ),
    Exercise(
        "toy_forward(W, b, x)",
        reference=lambda W, b, x: interference.readout(W, x, b, activation="relu"),
        cases=_toy_cases,
        mistakes={
            "did you forget the ReLU? The outputs should never be negative.": lambda W, b, x: x @ W.T @ W + b,
            "did you forget to add the bias before the ReLU?": lambda W, b, x: torch.relu(x @ W.T @ W),
            "add the bias before the ReLU, not after it.": lambda W, b, x: torch.relu(x @ W.T @ W) + b,
            "there is no ReLU on the hidden layer h = W x here, only on the output.": lambda W, b, x: torch.relu(
                torch.relu(x @ W.T) @ W + b
            ),
            "with x stored as rows (batch, n_features), h = x @ W.T and the output is ReLU(h @ W "
            "+ b).": lambda W, b, x: torch.relu(x @ W @ W.T + b),
        },
        formula="ReLU(Wᵀ W x + b) for every row x of the batch: h = x @ W.T, output ReLU(h @ W + b).",
        passed="ReLU(Wᵀ W x + b) for every sample of the batch.",
    ),
    Exercise(
        "importance_weighted_loss(x, x_hat, importance)",
        # ToyModel.loss for one instance; written out because the workbook's training loop calls it every step
        reference=lambda x, x_hat, importance: (importance * (x - x_hat) ** 2).mean(),
        cases=_loss_cases,
        returns="number",
        mistakes={
            "did you forget to multiply by the importance?": lambda x, x_hat, importance: ((x - x_hat) ** 2).mean(),
            "take the mean over batch and features, not the sum.": lambda x, x_hat, importance: (
                importance * (x - x_hat) ** 2
            ).sum(),
            "average over the features too, not only over the batch.": lambda x, x_hat, importance: (
                (importance * (x - x_hat) ** 2).sum(dim=1).mean()
            ),
            "square the errors, (x − x_hat)², rather than taking |x − x_hat|.": lambda x, x_hat, importance: (
                importance * (x - x_hat).abs()
            ).mean(),
            "weight the squared error by the importance, not by its square.": lambda x, x_hat, importance: (
                importance**2 * (x - x_hat) ** 2
            ).mean(),
        },
        formula="mean(importance · (x − x_hat)²) over batch and features, one number.",
        passed="the importance-weighted mean squared error.",
    ),
    Exercise(
        "feature_norms(W)",
        reference=lambda W: torch.linalg.vector_norm(W, dim=0),
        cases=lambda: [dict(W=torch.randn(2, 5, generator=seeded(0))), dict(W=torch.randn(4, 3, generator=seeded(1)))],
        mistakes={
            "features are the columns of W, so take the norm along dim=0 (one number per feature).": lambda W: W.norm(
                dim=1
            ),
            "you returned squared lengths: take the square root (or use .norm(dim=0)).": lambda W: (W**2).sum(dim=0),
            "the length is the Euclidean norm √(Σ W[j, i]²), not the sum of absolute values.": lambda W: W.abs().sum(
                dim=0
            ),
        },
        formula="‖W[:, i]‖ for each feature i (column).",
        passed="one length per feature (column of W).",
    ),
)
