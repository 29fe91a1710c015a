"""Chapter 10: the least loss without superposition and the test against it, a null distribution, mean
interference, and the superposed share."""

from __future__ import annotations

import math

import torch

from .. import detection, metrics
from ..toy_models import ToyModel
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


def _boundary(importance, feature_probability, d_hidden):
    """The library's L_d for a toy model with these importances and probabilities."""
    model = ToyModel(len(importance), d_hidden, feature_probability=feature_probability, importance=importance, seed=0)
    return detection.loss_without_superposition(model)[0]


def _dropped_cost(importance, feature_probability, d_hidden, variance=None, rank_by=None, kept=None, per=None):
    """L_d with one step written another way (the mistakes): ``variance(p)``, ``rank_by(I, p, cost)``,
    ``kept(order, d, n)`` the indices dropped, ``per(n, dropped)`` the divisor."""
    p, n = feature_probability, len(importance)
    cost = importance * (p / 3 - p**2 / 4 if variance is None else variance(p))  # (n,)
    order = torch.argsort(cost if rank_by is None else rank_by(importance, p, cost), descending=True)
    dropped = order[d_hidden:] if kept is None else kept(order, d_hidden, n)
    return float(cost[dropped].sum()) / (n if per is None else per(n, len(dropped)))


def _boundary_cases():
    gen = seeded(21)
    decaying = 0.8 ** torch.arange(8, dtype=torch.float64)
    return [
        # importance falls while density rises: ranking by importance alone keeps the wrong features
        dict(
            importance=torch.tensor([1.0, 0.9, 0.8, 0.7, 0.6, 0.5], dtype=torch.float64),
            feature_probability=torch.tensor([0.02, 0.05, 0.1, 0.2, 0.4, 0.6], dtype=torch.float64),
            d_hidden=2,
        ),
        dict(
            importance=decaying * (0.5 + torch.rand(8, generator=gen, dtype=torch.float64)),
            feature_probability=0.02 + 0.9 * torch.rand(8, generator=gen, dtype=torch.float64),
            d_hidden=3,
        ),
        dict(importance=decaying[:4], feature_probability=torch.full((4,), 0.3, dtype=torch.float64), d_hidden=5),
        # a dense important feature costs less to drop (its mean is faked by the bias) than a rarer, less important
        # one: ranking by Iᵢ, pᵢ or Iᵢ E[xᵢ²] keeps the dense one, ranking by Iᵢ Var(xᵢ) the rarer one
        dict(
            importance=torch.tensor([1.0, 0.9, 0.3, 0.2], dtype=torch.float64)
            * (0.99 + 0.02 * torch.rand(4, generator=gen, dtype=torch.float64)),
            feature_probability=torch.tensor([1.0, 0.5, 0.3, 0.05], dtype=torch.float64),
            d_hidden=1,
        ),
    ]


def _z_test(losses, boundary, spread=None, tail=None, sign=1.0):
    """(z, p) with one step written another way (the mistakes): ``spread(losses)`` the standard error,
    ``tail(z)`` the p-value, ``sign`` of the gap."""
    n = losses.shape[0]
    se = losses.std() / math.sqrt(n) if spread is None else spread(losses)
    z = sign * float((losses.mean() - boundary) / se)
    p = float(torch.special.ndtr(torch.tensor(z, dtype=torch.float64))) if tail is None else tail(z)
    return z, p


def _z_cases():
    gen = seeded(31)
    cases = []
    for n, shift in ((60, -2.1), (45, -0.7), (80, 1.3)):  # boundaries a few standard errors from the mean loss
        losses = torch.rand(n, generator=gen, dtype=torch.float64) ** 3  # skewed, as a toy model's losses are
        shift = shift + 0.2 * float(torch.rand(1, generator=gen))
        boundary = float(losses.mean() - shift * losses.std() / math.sqrt(n))
        cases.append(dict(losses=losses, boundary=boundary))
    return cases


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
        "loss_without_superposition(importance, feature_probability, d_hidden)",
        reference=_boundary,
        cases=_boundary_cases,
        returns="number",
        atol=1e-7,
        mistakes={
            "you dropped the d most costly features: keep them (each on its own dimension) and drop the "
            "others.": lambda I, p, d: _dropped_cost(I, p, d, kept=lambda order, d, n: order[:d]),
            "you ranked the features by importance alone: what a dropped feature costs is Iᵢ · Var(xᵢ), and a "
            "rare feature varies little, so rank by that product.": lambda I, p, d: _dropped_cost(
                I, p, d, rank_by=lambda importance, p, cost: importance
            ),
            "you ranked the features by Iᵢ E[xᵢ²] (or Iᵢ E[xᵢ]) and charged the dropped ones Iᵢ Var(xᵢ): rank by the "
            "same cost you charge. A dense feature's mean is cheap to fake with the bias, so it can cost less to drop "
            "than a rarer one that varies more.": lambda I, p, d: _dropped_cost(
                I, p, d, rank_by=lambda importance, p, cost: importance * p
            ),
            "a dropped feature's cost is Iᵢ · E[xᵢ²] = Iᵢ pᵢ/3 only if its output is 0; the best constant output is "
            "its mean (through the bias), which costs Iᵢ · Var(xᵢ) = Iᵢ (pᵢ/3 − pᵢ²/4).": lambda I, p, d: _dropped_cost(
                I, p, d, variance=lambda p: p / 3
            ),
            "pᵢ/12 is the variance of the value alone (uniform on [0, 1]), times the chance it is present; the "
            "zeros add variance too: Var(xᵢ) = E[xᵢ²] − E[xᵢ]² = pᵢ/3 − pᵢ²/4.": lambda I, p, d: _dropped_cost(
                I, p, d, variance=lambda p: p / 12
            ),
            "you summed the dropped costs without the 1/n: the toy model's loss is a mean over all n "
            "features.": lambda I, p, d: _dropped_cost(I, p, d, per=lambda n, dropped: 1),
            "you averaged over the dropped features: the toy model's loss is a mean over all n features, so "
            "divide by n.": lambda I, p, d: _dropped_cost(I, p, d, per=lambda n, dropped: max(dropped, 1)),
            "you dropped d features and kept the other n − d: a model with d dimensions keeps d "
            "features.": lambda I, p, d: _dropped_cost(I, p, d, kept=lambda order, d, n: order[max(n - d, 0) :]),
        },
        formula="(1/n) Σ over all but the d largest Iᵢ (pᵢ/3 − pᵢ²/4) of those values (0 when n ≤ d).",
        passed="L_d: the d most costly features kept, each other one replaced by its mean.",
    ),
    Exercise(
        "loss_below_test(losses, boundary)",
        reference=lambda losses, boundary: detection.loss_below_test(losses, boundary),
        cases=_z_cases,
        returns=("number", "number"),
        atol=1e-7,
        mistakes={
            "you divided the gap by the standard deviation of the losses: the mean of n losses varies √n times "
            "less, so divide by s / √n.": lambda losses, b: _z_test(losses, b, spread=lambda x: x.std()),
            "the standard error of a mean is s / √n, not s / n.": lambda losses, b: _z_test(
                losses, b, spread=lambda x: x.std() / x.shape[0]
            ),
            "you divided by the variance: the standard error is the standard deviation over √n.": lambda losses, b: (
                _z_test(losses, b, spread=lambda x: x.var() / math.sqrt(x.shape[0]))
            ),
            "use the sample standard deviation (dividing by n − 1, torch's default), not numpy's default "
            "(dividing by n).": lambda losses, b: _z_test(
                losses, b, spread=lambda x: x.std(correction=0) / math.sqrt(x.shape[0])
            ),
            "the p-value is the chance of a mean loss this LOW under the null: Φ(z), the lower tail, not "
            "1 − Φ(z).": lambda losses, b: _z_test(
                losses, b, tail=lambda z: 1 - float(torch.special.ndtr(torch.tensor(z, dtype=torch.float64)))
            ),
            "the test is one-sided (is the loss below the boundary?): p = Φ(z), not the two-sided "
            "2 Φ(−|z|).": lambda losses, b: _z_test(
                losses, b, tail=lambda z: 2 * float(torch.special.ndtr(torch.tensor(-abs(z), dtype=torch.float64)))
            ),
            "z has the wrong sign: z = (mean loss − boundary) / standard error, negative when the model beats "
            "the boundary.": lambda losses, b: _z_test(losses, b, sign=-1.0),
        },
        formula="z = (mean(losses) − boundary) / (s / √n) with s the sample standard deviation, and p = Φ(z).",
        passed="z = (mean − L_d) / (s/√n), and the one-sided p-value Φ(z).",
    ),
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
