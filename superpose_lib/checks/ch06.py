"""Chapter 06: reading a trained toy model's geometry (represented features, antipodal pairs, superposition),
sparse batches from one draw, many instances at once."""

from __future__ import annotations

import math

import torch

from .. import metrics, toy_models
from ._common import Exercise, declare, seeded


def _pentagon_with_dropped(n_dropped: int) -> torch.Tensor:
    angles = torch.arange(5.0) * 2 * math.pi / 5
    W = torch.stack([torch.cos(angles), torch.sin(angles)])  # (2, 5)
    return torch.cat([W, 0.05 * torch.randn(2, n_dropped, generator=seeded(0))], dim=1)  # (2, 5 + n_dropped)


def _represented_cases():
    wide = torch.cat([torch.eye(3), torch.full((3, 1), 0.4)], dim=1)  # last column: length 0.69, squared 0.48
    gen = seeded(1)
    spread = [  # random lengths: counts that change from run to run
        torch.nn.functional.normalize(torch.randn(3, k, generator=gen), dim=0) * 1.5 * torch.rand(k, generator=gen)
        for k in (8, 13, 21)
    ]
    fixed = [dict(W=_pentagon_with_dropped(2)), dict(W=wide), dict(W=wide * 2, threshold=1.5)]
    return fixed + [dict(W=W) for W in spread]


def _count_antipodal_pairs(W, threshold=0.5):
    norms = W.norm(dim=0)
    cos = (W.T @ W) / (norms[:, None] * norms[None, :]).clamp_min(1e-12)
    represented = norms > threshold
    return int(((cos < -0.9) & represented[:, None] & represented[None, :]).triu().sum())


def _antipodal_cases():
    # an exact pair; a pair at cos −0.95 with short columns (raw dot −0.53) and one with long columns (raw dot
    # −1.37); a loner with a tiny opposite feature (not represented); a column at cos −0.87 with the loner
    s = math.sqrt(1 - 0.95**2)
    W = torch.tensor(
        [
            [1.0, -1.0, 0.0, 0.0, 0.0, 0.0, 0.5, 0.0, 0.0],
            [0.0, 0.0, 0.7, -0.95 * 0.8, 0.0, 0.0, 0.0, 0.0, 0.0],
            [0.0, 0.0, 0.0, s * 0.8, 1.0, -0.03, -0.866, 0.0, 0.0],
            [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.2, -0.95 * 1.2],
            [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, s * 1.2],
        ]
    )
    # and a random number of exact pairs in random directions among random loners
    gen = seeded(1)
    n_pairs = int(torch.randint(0, 5, (1,), generator=gen))
    u = torch.nn.functional.normalize(torch.randn(6, n_pairs, generator=gen), dim=0)
    more = torch.cat([u, -0.8 * u, 0.2 * torch.randn(6, 3, generator=gen)], dim=1)
    more = more[:, torch.randperm(more.shape[1], generator=gen)]
    return [dict(W=W), dict(W=1.5 * W, threshold=1.1), dict(W=torch.eye(3)), dict(W=more)]


def _antipodal_by(test):
    def count(W, threshold=0.5):
        norms = W.norm(dim=0)
        cos = (W.T @ W) / (norms[:, None] * norms[None, :]).clamp_min(1e-12)
        keep = (norms > threshold)[:, None] & (norms > threshold)[None, :]
        return int((test(cos, W.T @ W) & keep).triu(1).sum())

    return count


def _superposition_cases():
    W = torch.cat([1.3 * _pentagon_with_dropped(0), torch.zeros(2, 1)], dim=1)  # a dropped feature, exactly zero
    return [dict(W=W), dict(W=torch.randn(4, 9, generator=seeded(1)))]


def _one_draw(n_batch, n_features, feature_probability, generator=None):
    model = toy_models.ToyModel(n_features, 1, feature_probability=feature_probability)
    return model.generate_batch(n_batch, generator=generator)[:, 0]  # (n_batch, n_features)


def _instances_forward(W, b, x):
    model = toy_models.ToyModel(W.shape[2], W.shape[1], W.shape[0]).to(W.dtype)
    with torch.no_grad():
        model.W.copy_(W)
        model.b.copy_(b)
        return model(x)


def _instances_cases():
    gen = seeded(0)
    return [
        dict(
            W=torch.randn(i, h, f, generator=gen),
            b=torch.randn(i, f, generator=gen),
            x=torch.rand(n, i, f, generator=gen),
        )
        for i, h, f, n in ((3, 2, 5, 4), (2, 3, 6, 5))
    ]


declare(
    Exercise(
        "count_represented(W, threshold=0.5)",
        reference=metrics.n_represented,
        cases=_represented_cases,
        returns="count",
        mistakes={
            "you counted the rows of W: features are its columns, so take norms along "
            "dim=0.": lambda W, threshold=0.5: int((W.norm(dim=1) > threshold).sum()),
            "you compared squared lengths with the threshold: compare the length ‖Wᵢ‖ "
            "itself.": lambda W, threshold=0.5: int((W.pow(2).sum(dim=0) > threshold).sum()),
            "it ignores its threshold argument.": lambda W, threshold=0.5: int((W.norm(dim=0) > 0.5).sum()),
        },
        formula="the number of columns with ‖W[:, i]‖ > threshold (an int; a 0-d tensor is accepted).",
        passed="one count of features longer than the threshold.",
    ),
    Exercise(
        "count_antipodal_pairs(W, threshold=0.5)",
        reference=_count_antipodal_pairs,
        cases=_antipodal_cases,
        returns="count",
        mistakes={
            "you counted each pair twice: count each unordered pair once (i < j).": lambda W, threshold=0.5: (
                2 * _count_antipodal_pairs(W, threshold)
            ),
            "only pairs of represented features count (both longer than the threshold).": lambda W, threshold=0.5: (
                _count_antipodal_pairs(W, 1e-9)
            ),
            "any negative cosine is not antipodal: a pair needs cosine below −0.9.": _antipodal_by(
                lambda cos, dots: cos < 0
            ),
            "compare cosines, not raw dot products: normalise the columns first.": _antipodal_by(
                lambda cos, dots: dots < -0.9
            ),
            "a trained pair is rarely exactly opposite: count cosines below −0.9, not only cos = −1.": _antipodal_by(
                lambda cos, dots: torch.isclose(cos, torch.tensor(-1.0))
            ),
        },
        formula="the number of pairs i < j of represented features (longer than threshold) with cosine < −0.9.",
        passed="antipodal pairs counted once each.",
    ),
    Exercise(
        "feature_superposition(W)",
        reference=metrics.superposition,
        cases=_superposition_cases,
        atol=1e-4,
        mistakes={
            "a feature that is not represented (a zero column) gets 0, not NaN.": lambda W: (
                ((W.T @ W).pow(2).sum(1) - (W.T @ W).diagonal().pow(2)) / (W.T @ W).diagonal()
            ),
            "you included the feature itself: sum over j ≠ i only.": lambda W: (
                metrics.superposition(W) + W.pow(2).sum(dim=0)
            ),
            "you forgot to normalise: project onto the unit vector Ŵᵢ = Wᵢ / ‖Wᵢ‖.": lambda W: (
                (W.T @ W).pow(2).sum(1) - (W.T @ W).diagonal().pow(2)
            ),
        },
        formula="Σⱼ≠ᵢ (Ŵᵢ·Wⱼ)² per feature i, 0 for a zero column.",
        passed="each feature's overlap with all the others.",
    ),
    Exercise(
        "one_draw_batch(n_batch, n_features, feature_probability, generator=None)",
        reference=_one_draw,
        cases=lambda: [
            dict(n_batch=n, n_features=f, feature_probability=p) for n, f, p in ((2_000, 10, 0.2), (1_500, 8, 0.05))
        ],
        statistics=lambda x: x.reshape(-1),  # the same draw gives the same values: compared entry by entry
        mistakes={
            "you swapped sparsity and density: "
            "feature_probability is the chance a "
            "feature is present.": lambda n_batch, n_features, feature_probability, generator=None: _one_draw(
                n_batch, n_features, 1 - feature_probability, generator
            ),
            "you kept u itself for present features, so values lie in [1 − p, 1]: rescale to "
            "(u − (1 − p)) / p, which is uniform "
            "on [0, 1].": lambda n_batch, n_features, feature_probability, generator=None: (
                lambda u: u * (u > 1 - feature_probability)
            )(torch.rand(n_batch, n_features, generator=generator)),
            "use exactly one torch.rand(n_batch, n_features, generator=generator) draw: presence is u > 1 − p "
            "and the value (u − (1 − p)) / p.": lambda n_batch, n_features, feature_probability, generator=None: (
                torch.rand(n_batch, n_features, generator=generator)
                * (torch.rand(n_batch, n_features, generator=generator) < feature_probability)
            ),
        },
        formula="max(0, (u − (1 − p)) / p) for ONE uniform draw u = torch.rand(n_batch, n_features, "
        "generator=generator).",
        passed="one uniform draw gives both presence and value.",
    ),
    Exercise(
        "instances_forward(W, b, x)",
        reference=_instances_forward,
        cases=_instances_cases,
        mistakes={
            "you forgot the bias b (shape (instances, features)) before the ReLU.": lambda W, b, x: torch.relu(
                torch.einsum("bih,ihf->bif", torch.einsum("bif,ihf->bih", x, W), W)
            ),
            "you forgot the ReLU on the output: x' = ReLU(Wᵀ W x + b).": lambda W, b, x: (
                torch.einsum("bih,ihf->bif", torch.einsum("bif,ihf->bih", x, W), W) + b
            ),
            "you mixed the instances: each instance i must use only its own W[i].": lambda W, b, x: torch.relu(
                torch.einsum("bjh,ihf->bif", torch.einsum("bif,ihf->bih", x, W), W) + b
            ),
        },
        formula="instance i's model applied to x[:, i]: ReLU(x[:, i] W[i]ᵀ W[i] + b[i]), shape "
        "(batch, instances, features).",
        passed="every instance runs its own model.",
    ),
)
