"""Chapter 07: the geometry of superposition: feature dimensionality, 2-in-1 phase losses, a ReLU hidden layer,
dimensions per feature, the phase of a trained 2-in-1 model."""

from __future__ import annotations

import torch

from .. import metrics, toy_models
from ._common import Exercise, declare, seeded


def _dimensionality_cases():
    pair_loner_zero = torch.tensor([[1.0, -1.0, 0.0, 0.0], [0.0, 0.0, 2.0, 0.0]])
    return [dict(W=pair_loner_zero), dict(W=torch.randn(3, 8, generator=seeded(0)))]


def _two_feature_losses(r, p):
    return toy_models.phase_losses_2in1(
        torch.as_tensor(r, dtype=torch.float64), torch.as_tensor(p, dtype=torch.float64)
    )


def _losses(r, p, dropped_one, pair_cost, r_power=1):
    return torch.tensor([r**r_power * dropped_one(p), dropped_one(p), (1 + r) * pair_cost(p)], dtype=torch.float64)


def _privileged_forward(W, b, x):
    model = toy_models.PrivilegedBasisModel(W.shape[1], W.shape[0]).to(W.dtype)
    with torch.no_grad():
        model.W.copy_(W)
        model.b.copy_(b)
        return model(x.unsqueeze(1))[:, 0]


def _privileged_cases():
    gen = seeded(0)
    return [
        dict(W=torch.randn(h, f, generator=gen), b=torch.randn(f, generator=gen), x=torch.rand(n, f, generator=gen))
        for h, f, n in ((3, 6, 8), (2, 5, 6))
    ]


def _two_feature_phase(w):
    """0: the extra feature (1) dropped, 1: it owns the dimension, 2: both kept (antipodal)."""
    norms = w.abs()
    if norms[1] < 0.5:
        return 0
    if norms[0] < 0.5:
        return 1
    return 2


declare(
    Exercise(
        "dimensionality(W)",
        reference=metrics.feature_dimensionality,
        cases=_dimensionality_cases,
        mistakes={
            "a feature that is not represented (a zero column) has D = 0, not NaN (0 / 0).": lambda W: (
                (W.T @ W).diagonal() ** 2 / (W.T @ W).pow(2).sum(dim=1)
            ),
            "normalise the projections, (Ŵᵢ·Wⱼ)² with Ŵᵢ a unit vector, so that D = 1 for any feature alone "
            "in its direction.": lambda W: metrics.feature_dimensionality(W) * W.pow(2).sum(dim=0),
            "you left the feature's overlaps with the others out of the denominator: sum over all j.": lambda W: (
                W.norm(dim=0) > 0
            ).to(W.dtype),
        },
        formula="Dᵢ = ‖Wᵢ‖² / Σⱼ (Ŵᵢ·Wⱼ)² per column: ½ for each of an antipodal pair, 1 for a lone feature, "
        "0 for a zero column.",
        passed="antipodal pairs get ½, lone features 1.",
    ),
    Exercise(
        "two_feature_losses(r, p)",
        reference=_two_feature_losses,
        cases=lambda: (
            [dict(r=0.5, p=0.2), dict(r=2.0, p=0.7)]
            + [
                dict(
                    r=float(0.2 + 3 * torch.rand(1, generator=seeded(0))),
                    p=float(0.05 + 0.9 * torch.rand(1, generator=seeded(1))),
                )
            ]
        ),
        atol=1e-6,
        mistakes={
            "you used the sparsity S where the density p = 1 − S belongs: p is the chance a feature "
            "is present.": lambda r, p: _two_feature_losses(r, 1 - p),
            "you applied the importance twice (r²): the loss weighs the squared error by r once.": lambda r, p: _losses(
                r, p, lambda p: p / 3 - p**2 / 4, lambda p: p**2 / 6, r_power=2
            ),
            "the dropped feature's output is the constant E[x] = p/2 (its bias), which leaves the variance "
            "p/3 − p²/4, not E[x²] = p/3.": lambda r, p: _losses(r, p, lambda p: p / 3, lambda p: p**2 / 6),
            "E[min(u, v)²] for two uniforms on [0, 1] is 1/6, not 1/3.": lambda r, p: _losses(
                r, p, lambda p: p / 3 - p**2 / 4, lambda p: p**2 / 3
            ),
        },
        formula="(r (p/3 − p²/4), p/3 − p²/4, (1 + r) p²/6): dropped, own dimension, antipodal.",
        passed="the three candidate losses match the closed form.",
    ),
    Exercise(
        "privileged_forward(W, b, x)",
        reference=_privileged_forward,
        cases=_privileged_cases,
        mistakes={
            "you left out the hidden ReLU: h = ReLU(W x) is what makes the neurons privileged.": lambda W, b, x: (
                torch.relu(x @ W.T @ W + b)
            ),
            "you forgot the bias b before the output ReLU.": lambda W, b, x: torch.relu(torch.relu(x @ W.T) @ W),
            "you forgot the output ReLU: x' = ReLU(Wᵀ ReLU(W x) + b).": lambda W, b, x: torch.relu(x @ W.T) @ W + b,
        },
        formula="ReLU(ReLU(x Wᵀ) W + b) for a batch stored as rows.",
        passed="a ReLU on the neurons and on the outputs.",
    ),
    Exercise(
        "dims_per_feature(W)",
        reference=metrics.dimensions_per_feature,
        cases=lambda: [
            dict(W=torch.tensor([[1.0, -1.0, 0.0, 0.0], [0.0, 0.0, 1.0, -1.0]])),
            dict(W=2 * torch.eye(3)),
            dict(W=torch.randn(3, 7, generator=seeded(0))),
        ],
        returns="number",
        mistakes={
            "it is upside down: divide d_hidden by ‖W‖²_F, not the other way round.": lambda W: (
                W.pow(2).sum() / W.shape[0]
            ),
            "you divided by the number of features: the denominator is ‖W‖²_F, the sum of squared lengths, "
            "so that a dropped feature counts for nothing.": lambda W: W.shape[0] / W.shape[1],
            "square the Frobenius norm: ‖W‖²_F = Σ W²ᵢⱼ.": lambda W: W.shape[0] / W.norm(),
        },
        formula="d_hidden / ‖W‖²_F, one number.",
        passed="d_hidden / ‖W‖²_F.",
    ),
    Exercise(
        "two_feature_phase(w)",
        reference=_two_feature_phase,
        cases=lambda: (
            [
                dict(w=torch.tensor(w))
                # the last three sit either side of ½, where a threshold other than the task's gives another phase
                for w in (
                    (1.0, 0.02),
                    (0.01, 1.1),
                    (0.9, -1.0),
                    (-1.0, 0.0),
                    (0.0, -1.0),
                    (0.7, 0.6),
                    (1.0, 0.4),
                    (0.45, -0.55),
                    (-0.6, 0.52),
                    (0.3, -0.2),  # both short: the extra feature is dropped (0), whatever feature 0 does
                )
            ]
            + [dict(w=1.2 * torch.rand(2, generator=seeded(i)) * torch.tensor([1.0, -1.0])) for i in range(4)]
        ),
        returns="count",
        mistakes={
            "you swapped the first two phases: feature 1 is the extra feature, so 0 means it was dropped.": lambda w: [
                1,
                0,
                2,
            ][_two_feature_phase(w)],
            "a feature's length is |w|, whatever its sign: compare w.abs() with ½.": lambda w: (
                0 if w[1] < 0.5 else 1 if w[0] < 0.5 else 2
            ),
            "a feature counts as dropped when its length is below ½ (the task's threshold), not only when it is "
            "near 0.": lambda w: 0 if abs(w[1]) < 0.1 else 1 if abs(w[0]) < 0.1 else 2,
            "decide about the extra feature first: when |w₁| < ½ it is dropped (0), even if feature 0 is short "
            "too.": lambda w: 1 if abs(w[0]) < 0.5 else 0 if abs(w[1]) < 0.5 else 2,
        },
        formula="0 if |w₁| < ½ (the extra feature dropped), else 1 if |w₀| < ½ (it owns the dimension), else 2.",
        passed="dropped, own dimension and antipodal told apart.",
    ),
)
