"""Chapter 03: reading features, a neuron that reads a combination of skewed features, a difference-of-means probe,
alignment with neurons."""

from __future__ import annotations

import torch

from .. import geometry, interference
from ._common import Exercise, declare, seeded


def _orthonormal(n, k, gen):
    return geometry.random_rotation(n, generator=gen).double()[:, :k]  # (n, k)


def _read_cases():
    gen = seeded(0)
    W = _orthonormal(6, 4, gen)
    x = torch.rand(5, 4, generator=gen, dtype=torch.float64)
    # A square, non-orthogonal W separates the readout h·wⱼ from other plausible answers.
    square = dict(
        h=torch.randn(3, 4, generator=gen, dtype=torch.float64), W=torch.randn(4, 4, generator=gen, dtype=torch.float64)
    )
    return [square, dict(h=x @ W.T, W=W)]


def _skewed(n, k, gen):
    """k linearly independent directions in ℝⁿ, neither unit nor orthogonal: U diag(s) Vᵀ, condition number ≤ 4."""
    U, V = _orthonormal(n, k, gen), geometry.random_rotation(k, generator=gen).double()
    return U @ torch.diag(0.5 + 1.5 * torch.rand(k, generator=gen, dtype=torch.float64)) @ V.T  # (n, k)


def _neuron_cases():
    gen = seeded(0)
    return [  # square cases tell the transposes apart; k < n cases need the minimum-norm answer
        dict(W=_skewed(n, k, gen), coefficients=torch.randn(k, generator=gen, dtype=torch.float64))
        for n, k in ((4, 4), (7, 3), (5, 5), (6, 1))
    ]


def _probe(activations, targets):
    direction = activations[targets].mean(dim=0) - activations[~targets].mean(dim=0)
    return direction / direction.norm()


def _probe_cases():
    cases = []
    for n, d, gen in ((40, 5, seeded(0)), (30, 4, seeded(1))):
        activations = torch.rand(n, d, generator=gen, dtype=torch.float64) + 1.0  # positive, like ReLU outputs
        targets = torch.zeros(n, dtype=torch.bool)
        targets[torch.randperm(n, generator=gen)[: n // 3]] = True
        activations[targets, 1] += 2.0
        activations[targets, 3] -= 0.5
        cases.append(dict(activations=activations, targets=targets if not cases else targets.long()))
    return cases


declare(
    Exercise(
        "read_features(h, W)",
        reference=lambda h, W: h @ W,
        cases=_read_cases,
        atol=1e-6,
        mistakes={
            "you used the rows of W: the feature directions are its columns, so use h @ W.": lambda h, W: h @ W.T,
            "you solved for x (pseudo-inverse): the readout asked for is the dot product h · wⱼ, h @ W, whose "
            "errors are the interference this chapter studies.": lambda h, W: h @ torch.linalg.pinv(W).T,
            "return one row per input, shape (batch, k).": lambda h, W: (h @ W).T,
        },
        formula="x̂[b, j] = h[b] · W[:, j], i.e. h @ W, shape (batch, k).",
        passed="x̂ⱼ = h · wⱼ for every feature j, exact for orthonormal directions.",
    ),
    Exercise(
        "neuron_weights(W, coefficients)",
        reference=interference.neuron_weights,
        cases=_neuron_cases,
        mistakes={
            "v = W c reads cᵢ only when the directions are orthonormal. These are skewed, so v · wⱼ = Σᵢ cᵢ (wᵢ · wⱼ) "
            "mixes in the other coefficients: solve the k conditions Wᵀ v = c instead.": lambda W, coefficients: (
                W @ coefficients
            ),
            "you multiplied by the Gram matrix WᵀW where it must be inverted: v = W (WᵀW)⁻¹ c.": lambda W, c: (
                W @ (W.T @ W) @ c
            ),
            "you solved W v = c, or used W⁺ c = (WᵀW)⁻¹ Wᵀ c with (WᵀW)⁻¹ on the wrong side: the conditions "
            "v · wᵢ = cᵢ read Wᵀ v = c, so v = (W⁺)ᵀ c = W (WᵀW)⁻¹ c.": lambda W, c: torch.linalg.pinv(W) @ c,
            "you returned the coefficients a = (WᵀW)⁻¹ c of v in the basis of the directions, one per feature: "
            "the neuron's weights are v = W a, one per hidden dimension, shape (n,).": lambda W, c: torch.linalg.solve(
                W.T @ W, c
            ),
            "you normalised v: its length is part of what makes v · wᵢ equal cᵢ, so leave it as it "
            "comes.": lambda W, c: (lambda v: v / v.norm())(interference.neuron_weights(W, c)),
            "you corrected for the lengths of the directions (dividing by ‖wᵢ‖²) but not for the angles between "
            "them: solve with the whole Gram matrix WᵀW, not its diagonal.": lambda W, c: W @ (c / (W * W).sum(0)),
            "you made the directions unit length first: v · wᵢ uses wᵢ as it is given, length included.": lambda W, c: (
                interference.neuron_weights(W / W.norm(dim=0), c)
            ),
        },
        formula="v = W (WᵀW)⁻¹ c, the v with Wᵀ v = c (v · wᵢ = cᵢ for every feature i), shape (n,).",
        passed="v · wᵢ = cᵢ for skewed directions too: v = W (WᵀW)⁻¹ c, the shortest such v.",
    ),
    Exercise(
        "mean_difference_probe(activations, targets)",
        reference=lambda activations, targets: _probe(activations, targets.bool()),
        cases=_probe_cases,
        atol=1e-6,
        mistakes={
            "it points the wrong way: subtract the mean of class 0 from the mean of "
            "class 1.": lambda activations, targets: -_probe(activations, targets.bool()),
            "it is not unit length: divide the difference by its norm.": lambda activations, targets: (
                activations[targets.bool()].mean(0) - activations[~targets.bool()].mean(0)
            ),
            "you used only the mean of class 1: subtract the mean of class 0.": lambda activations, targets: (
                lambda m: m / m.norm()
            )(activations[targets.bool()].mean(0)),
            "with targets holding 0/1 integers, indexing picks rows 0 and 1: convert them with targets.bool().": _probe,
            "average over the examples (dim=0): the probe is one direction in "
            "activation space.": lambda activations, targets: (lambda d: d / d.norm())(activations.mean(dim=1)),
        },
        formula="(mean of class 1 − mean of class 0) divided by its norm.",
        passed="the unit vector from the mean of class 0 to the mean of class 1.",
    ),
    Exercise(
        "max_axis_cosine(direction)",
        reference=lambda direction: direction.abs().max() / direction.norm(),
        cases=lambda: (
            [
                dict(direction=torch.tensor(d, dtype=torch.float64))
                for d in ([0.5, -3.0, 2.0, 1.0], [0.0, 2.0, 0.0], [1.0, 1.0, 1.0, 1.0])
            ]
            + [
                dict(
                    direction=torch.randn(6, generator=seeded(0), dtype=torch.float64)
                    * torch.tensor([1.0, 3, 1, 1, 1, 1])
                )
            ]
        ),
        returns="number",
        atol=1e-6,
        mistakes={
            "a cosine of −0.9 is as aligned as 0.9: take .abs().": lambda direction: direction.max() / direction.norm(),
            "divide by the length of the direction: cos = uᵢ / ‖u‖.": lambda direction: direction.abs().max(),
            "you returned the index of the neuron, not the cosine.": lambda direction: direction.abs().argmax(),
        },
        formula="max |uᵢ| / ‖u‖: 1 for a neuron axis, 1/√d for the diagonal.",
        passed="max |uᵢ| / ‖u‖: 1 for a neuron axis, 1/√d for the diagonal.",
    ),
)
