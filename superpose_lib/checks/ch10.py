"""Chapter 10: a null distribution, a Monte-Carlo p-value, mean interference, live latents, superposed share."""

from __future__ import annotations

import math

import torch

from .. import detection, metrics
from ._common import Exercise, declare, seeded


def _null_statistics(draws: torch.Tensor) -> torch.Tensor:
    """Mean and standard deviation of the largest |cos| over the draws. Over 12 seeds at 20,000 draws they spread
    by at most 0.0026 (k = 4, d = 12) and 0.0014 (k = 10, d = 5); directions from a cube instead of the sphere
    move the mean by 0.008 at k = 10, d = 5. Hence the tolerance 0.005 (the first case draws 25,000: less spread)."""
    draws = draws.reshape(-1)
    return torch.stack([draws.mean(), draws.std()])


def _max_cos(k, d, n_samples, generator=None, absolute=True, sample=torch.randn, diagonal=False):
    V = sample(n_samples, k, d, generator=generator, dtype=torch.float64)
    V = V / V.norm(dim=2, keepdim=True)
    cos = V @ V.transpose(1, 2)  # (n_samples, k, k)
    cos = cos.abs() if absolute else cos
    return (cos if diagonal else cos.masked_fill(torch.eye(k, dtype=torch.bool), -math.inf)).amax(dim=(1, 2))


def _p_value(observed, null, count_equal=True, plus_one=True):
    count = int((null <= observed).sum() if count_equal else (null < observed).sum())
    return (count + plus_one) / (len(null) + plus_one)


def _pentagon_with_extras():
    angles = 2 * math.pi * torch.arange(5, dtype=torch.float64) / 5
    pentagon = 1.1 * torch.stack([angles.cos(), angles.sin()])  # (2, 5), length 1.1
    return torch.cat([pentagon, torch.tensor([[0.1], [0.05]], dtype=torch.float64)], dim=1)  # one not represented


def _random_features(seed=0):
    gen = seeded(seed)
    W = torch.randn(4, 9, generator=gen, dtype=torch.float64)
    W = W / W.norm(dim=0) * (0.8 + 0.4 * torch.rand(9, generator=gen, dtype=torch.float64))  # lengths 0.8–1.2
    W[:, 7:] *= 0.2  # two dropped features
    return W


def _represented(W, threshold):
    return W[:, W.norm(dim=0) > threshold]


def _codes():
    codes = torch.zeros(10_000, 7, dtype=torch.float64)
    codes[:5_000, 0] = 1.0  # fires half the time
    codes[:5, 1] = 2.0  # fires 0.05% of the time: below the threshold
    codes[::400, 2] = -0.5  # 0.25%, negative: live
    codes[:, 3] = 1e-4  # always on, with tiny values: live
    codes[1::2, 5] = 3.0  # half the time
    codes[::667, 6] = 0.7  # 0.15%: live at the default 1e-3, dead at twice it
    return codes  # latent 4 never fires


def _random_codes():
    gen = seeded(0)
    frequency = 10 ** (-4 * torch.rand(8, generator=gen, dtype=torch.float64))  # from 1e-4 to 1
    fires = torch.rand(5_000, 8, generator=gen, dtype=torch.float64) < frequency
    return fires * torch.randn(5_000, 8, generator=gen, dtype=torch.float64)


def _mixed_model():
    # An antipodal pair, two loners, and a dropped feature lying along the pair (2 dimensions of 3 used).
    return torch.tensor(
        [[1.0, -1.0, 0.0, 0.0, 0.1], [0.0, 0.0, 1.0, 0.0, 0.0], [0.0, 0.0, 0.0, 1.2, 0.0]], dtype=torch.float64
    )


def _fraction(W, threshold=0.5, tolerance=0.1, among_all=False, keep_dropped=False):
    superposed = metrics.superposition(W if keep_dropped else _represented(W, threshold)) > tolerance
    count = int(superposed.sum())
    represented = int((W.norm(dim=0) > threshold).sum())
    return count / max(W.shape[1] if among_all else represented, 1) if represented or among_all else 0.0


declare(
    Exercise(
        "null_max_abs_cos(k, d, n_samples, generator=None)",
        reference=lambda k, d, n_samples, generator=None: detection.null_distribution(
            k, d, "max_abs_cos", n_samples, generator=generator
        ),
        cases=lambda: [dict(k=4, d=12, n_samples=25_000), dict(k=10, d=5, n_samples=20_000)],
        statistics=_null_statistics,
        statistic_names=("the mean of the largest |cos| over the draws", "their standard deviation"),
        atol=0.005,
        mistakes={
            "every vector has cosine 1 with itself: take the maximum over pairs i ≠ j only (mask the diagonal "
            "of the k × k cosine matrix).": lambda k, d, n_samples, generator=None: _max_cos(
                k, d, n_samples, generator, diagonal=True
            ),
            "divide each vector by its norm before taking dot products: a "
            "cosine is at most 1.": lambda k, d, n_samples, generator=None: (
                lambda V: (V @ V.transpose(1, 2)).abs().masked_fill(torch.eye(k, dtype=torch.bool), 0).amax(dim=(1, 2))
            )(torch.randn(n_samples, k, d, generator=generator)),
            "you took the largest cos, not the largest |cos|: two nearly opposite directions interfere as much "
            "as two nearly equal ones. Take .abs() before the maximum.": lambda k, d, n_samples, generator=None: (
                _max_cos(k, d, n_samples, generator, absolute=False)
            ),
            "did you swap k and d? Draw k vectors in R^d.": lambda k, d, n_samples, generator=None: _max_cos(
                d, k, n_samples, generator
            ),
            "draw Gaussian vectors and normalise them (uniform on the sphere); uniform coordinates in a cube "
            "favour the cube's diagonals.": lambda k, d, n_samples, generator=None: _max_cos(
                k, d, n_samples, generator, sample=lambda *s, **kw: torch.rand(*s, **kw) - 0.5
            ),
        },
        formula="(mean and standard deviation of the largest |cos| over pairs i ≠ j of k random unit vectors in R^d).",
        passed="the largest |cos| among k random unit vectors, drawn from its generator.",
    ),
    Exercise(
        "p_value_less(observed, null)",
        reference=lambda observed, null: detection.p_value(observed, null, alternative="less"),
        cases=lambda: (
            [dict(observed=o, null=torch.arange(1.0, 100.0)) for o in (0.0, 10.0, 99.5, 50.5)]
            + [
                dict(
                    observed=float(torch.rand(1, generator=seeded(0))),
                    null=torch.rand(200, generator=seeded(1)).round(decimals=2),
                )
            ]
        ),
        returns="number",
        atol=1e-9,
        mistakes={
            "count the observation itself among the draws, (1 + count) / (1 + n): a p-value of 0 claims a "
            "certainty that no finite number of draws gives.": lambda observed, null: _p_value(
                observed, null, plus_one=False
            ),
            "the test asks whether the observation is unusually *small*, so count the draws at or below it "
            "(null <= observed), not above.": lambda observed, null: _p_value(-observed, -null),
            "a draw equal to the observation is as extreme as it, so count null <= "
            "observed (not <).": lambda observed, null: _p_value(observed, null, count_equal=False),
            "add 1 to the denominator as well, (1 + count) / (1 + n).": lambda observed, null: (
                (int((null <= observed).sum()) + 1) / len(null)
            ),
        },
        formula="(1 + #{draws ≤ observed}) / (1 + #draws).",
        passed="(1 + #{draws ≤ observed}) / (1 + n), ties counted, never 0.",
    ),
    Exercise(
        "mean_interference(W, threshold=0.5)",
        reference=lambda W, threshold=0.5: detection.interference_statistic(
            W, "mean_superposition", threshold=threshold
        ),
        cases=lambda: [
            dict(W=_pentagon_with_extras()),
            dict(W=_random_features()),
            # two features surely longer than the threshold (lengths 1.12–1.68), the others 0.8–1.2 or dropped
            dict(W=_random_features(1) * torch.tensor([1.4, 1.4] + [1.0] * 7, dtype=torch.float64), threshold=1.05),
        ],
        returns="number",
        atol=1e-6,
        mistakes={
            "it is 1 too large: each feature has cos² = 1 with itself. Sum over j ≠ i only.": lambda W, threshold=0.5: (
                detection.interference_statistic(W, threshold=threshold) + 1
            ),
            "you averaged over pairs: sum cos² over the other features j for each feature i, then average over "
            "the features (the mean over pairs is that divided by k − 1).": lambda W, threshold=0.5: (
                detection.interference_statistic(W, threshold=threshold) / (_represented(W, threshold).shape[1] - 1)
            ),
            "you included features that are not represented: keep only the columns longer than the threshold "
            "(W.norm(dim=0) > threshold) before comparing directions.": lambda W, threshold=0.5: (
                detection.interference_statistic(W, threshold=1e-9)
            ),
            "you used the columns as they are: scale each represented column to unit length first, so that only "
            "directions count (a cos², not a squared dot product).": lambda W, threshold=0.5: metrics.superposition(
                _represented(W, threshold)
            ).mean(),
            "it ignores its threshold argument.": lambda W, threshold=0.5: detection.interference_statistic(W),
        },
        formula="the average over represented features i of Σ_{j≠i} cos²(wᵢ, wⱼ).",
        passed="the mean Σ_{j≠i} cos² over the represented features.",
    ),
    Exercise(
        "count_live_latents(codes, min_frequency=1e-3)",
        reference=lambda codes, min_frequency=1e-3: int(((codes != 0).double().mean(dim=0) > min_frequency).sum()),
        cases=lambda: [dict(codes=_codes(), min_frequency=0.3), dict(codes=_codes()), dict(codes=_random_codes())],
        returns="count",
        mistakes={
            "a latent is live when it fires on more than min_frequency of the "
            "samples, not merely once.": lambda codes, min_frequency=1e-3: int((codes != 0).any(dim=0).sum()),
            "what matters is whether a latent fires (codes != 0), not how "
            "strongly.": lambda codes, min_frequency=1e-3: int(
                ((codes.abs() > 1e-3).double().mean(dim=0) > min_frequency).sum()
            ),
            "a negative code is a firing latent too: test codes != 0, not codes "
            "> 0.": lambda codes, min_frequency=1e-3: int(((codes > 0).double().mean(dim=0) > min_frequency).sum()),
            "you counted the dead latents: live = not dead.": lambda codes, min_frequency=1e-3: int(
                ((codes != 0).double().mean(dim=0) <= min_frequency).sum()
            ),
            "average over the samples (dim 0) to get one firing frequency per "
            "latent.": lambda codes, min_frequency=1e-3: int(((codes != 0).double().mean(dim=1) > min_frequency).sum()),
            "it ignores min_frequency: use the argument, not a fixed number.": lambda codes, min_frequency=1e-3: int(
                ((codes != 0).double().mean(dim=0) > 1e-3).sum()
            ),
        },
        formula="the number of latents non-zero on more than min_frequency of the samples (an int; a 0-d tensor is "
        "accepted).",
        passed="latents that fire on more than min_frequency of the samples.",
    ),
    Exercise(
        "fraction_superposed(W, threshold=0.5, tolerance=0.1)",
        reference=lambda W, threshold=0.5, tolerance=0.1: detection.fraction_in_superposition(W, threshold, tolerance),
        cases=lambda: [
            dict(W=_mixed_model()),
            dict(W=_mixed_model(), threshold=1.1),
            dict(W=torch.zeros(3, 4, dtype=torch.float64)),
            dict(W=_random_features(2), tolerance=0.4),
            # near-orthogonal features with graded overlaps, many between 0.1 and 0.25: the tolerance matters
            dict(
                W=torch.eye(6, dtype=torch.float64)
                + 0.15 * torch.randn(6, 6, generator=seeded(3), dtype=torch.float64),
                tolerance=0.25,
            ),
        ],
        returns="number",
        atol=1e-6,
        mistakes={
            "you divided by all the features: divide by the represented "
            "ones (longer than threshold).": lambda W, threshold=0.5, tolerance=0.1: _fraction(
                W, threshold, tolerance, among_all=True
            ),
            "you counted a dropped feature as superposed: it points along the pair, so its overlap is large, but "
            "it is not represented. Count only features longer than the "
            "threshold.": lambda W, threshold=0.5, tolerance=0.1: _fraction(W, threshold, tolerance, keep_dropped=True),
            "a model that represents nothing has no superposed features: return 0 there (0/0 gives NaN; divide "
            "by max(count, 1)).": lambda W, threshold=0.5, tolerance=0.1: (
                lambda kept: float((metrics.superposition(kept) > tolerance).double().mean())
            )(_represented(W, threshold)),
            "it ignores threshold or tolerance: use the arguments, not "
            "fixed numbers.": lambda W, threshold=0.5, tolerance=0.1: detection.fraction_in_superposition(W),
        },
        formula="the share of represented features (longer than threshold) whose Σ_{j≠i} (Ŵᵢ·Wⱼ)² exceeds tolerance, "
        "0 when none is represented.",
        passed="the share of represented features that share a direction.",
    ),
)
