"""Chapter 01: rotations, cosines, analogies, invariance."""

from __future__ import annotations

import torch

from .. import embeddings, geometry
from ._common import Exercise, declare, seeded


def _rotation_statistics(Q: torch.Tensor) -> torch.Tensor:
    """Over many draws (calls, n, n): whether some draw is not orthogonal (1 if an entry of |QᵀQ − I| exceeds 0.001,
    so that a tolerance made for the shares below cannot let a scaled matrix through), share of Q[0, 0] > 0, mean of
    Q e₀, n · mean of Q[0, 0]² (1 for a Haar rotation, n for random signs on the diagonal), and the share of draws
    where Q[0, 0] and Q[1, 1] share their sign (½ for a Haar rotation; 0 or 1 when one random sign flips all of
    QR's Q)."""
    n = Q.shape[-1]
    error = (Q.transpose(1, 2) @ Q - torch.eye(n, dtype=Q.dtype)).abs().amax()
    first = Q[:, :, 0]  # where each draw sends e₀: uniform on the sphere for a Haar rotation
    spread = n * Q[:, 0, 0].pow(2).mean()
    same_sign = (Q[:, 0, 0].sign() == Q[:, 1, 1].sign()).double().mean()
    return torch.cat(
        [
            (error > 1e-3).double().view(1),
            (Q[:, 0, 0] > 0).double().mean().view(1),
            first.mean(dim=0)[:2],
            spread.clamp(max=2).view(1),
            same_sign.view(1),
        ]
    )


def _qr_without_sign_fix(n, generator=None):
    return torch.linalg.qr(torch.randn(n, n, generator=generator))[0]


def _cosine_cases():
    gen = seeded(0)
    A = torch.randn(4, 6, generator=gen) * torch.tensor([[1.0], [3.0], [0.5], [10.0]])
    B = torch.randn(3, 6, generator=gen) * torch.tensor([[2.0], [0.2], [5.0]])
    return [dict(A=A, B=B), dict(A=A[:1], B=B), dict(A=torch.tensor([[2.0], [-3.0]]), B=torch.tensor([[5.0]]))]


# A small world where the mistakes give different answers: vectors of unequal lengths (ranking by dot product
# differs from cosine), and query words that would otherwise come back.
_WORDS = ("man", "woman", "king", "queen", "prince", "giant", "crown", "apple")
_VECTORS = [
    [1.0, 0.0, 0.1, 0.0],
    [0.0, 1.0, 0.5, 0.0],
    [1.0, 0.0, 1.0, 0.1],
    [0.0, 1.0, 1.0, 0.1],
    [0.9, 0.1, 0.9, 0.4],
    [0.0, 3.0, 4.0, 4.0],
    [0.5, 0.5, 1.2, 0.0],
    [0.1, 0.1, 0.0, 1.0],
]


def _analogy_cases():
    # The tiny world's words are dealt to its vectors afresh on each run (the geometry, and so which mistake gives
    # which answer, stays); the GloVe case asks one of a few analogies.
    words = [_WORDS[i] for i in torch.randperm(len(_WORDS), generator=seeded(0)).tolist()]
    tiny = embeddings.WordVectors(words, torch.tensor(_VECTORS))
    a, b, c = (words[i] for i in (0, 2, 1))  # the words in the roles of man, king and woman
    glove = embeddings.load_glove()
    triples = (("man", "king", "woman"), ("france", "paris", "italy"), ("big", "bigger", "small"))
    g = triples[int(torch.randint(len(triples), (1,), generator=seeded(1)))]
    return [
        dict(wv=tiny, a=a, b=b, c=c, k=3),
        dict(wv=tiny, a=a, b=b, c=c, k=4),
        dict(wv=glove, a=g[0], b=g[1], c=g[2]),
        dict(wv=glove, a="man", b="king", c="woman", k=2),
    ]


def _analogy_keeping_queries(wv, a, b, c, k=5):
    cos = geometry.cosine_similarity(wv[b] - wv[a] + wv[c], wv.vectors)
    return [wv.words[i] for i in torch.topk(cos, k).indices]


def _analogy_by_dot_product(wv, a, b, c, k=5):
    scores = wv.vectors @ (wv[b] - wv[a] + wv[c])
    for word in (a, b, c):
        scores[wv.index(word)] = -torch.inf
    return [wv.words[i] for i in torch.topk(scores, k).indices]


def _change_basis_cases():
    gen = seeded(0)
    cases = []
    for d_out, d in ((3, 4), (2, 5)):
        W = torch.randn(d_out, d, generator=gen, dtype=torch.float64)
        x = torch.randn(d, generator=gen, dtype=torch.float64)
        M = torch.randn(d, d, generator=gen, dtype=torch.float64) + 2 * torch.eye(d, dtype=torch.float64)
        cases.append(dict(W=W, x=x, M=M))
    return cases


declare(
    Exercise(
        "random_rotation(n, generator=None)",
        reference=lambda n, generator=None: geometry.random_rotation(n, generator=generator),
        cases=lambda: [dict(n=n) for n in (3, 8)],
        calls=300,
        statistics=_rotation_statistics,
        statistic_names=(
            "whether some draw is not orthogonal (1 when an entry of |QᵀQ − I| exceeds 0.001)",
            "the share of draws with Q[0, 0] > 0",
            "the mean of Q[0, 0] over the draws",
            "the mean of Q[1, 0] over the draws",
            "n × the mean of Q[0, 0]² (capped at 2)",
            "the share of draws where Q[0, 0] and Q[1, 1] have the same sign",
        ),
        atol=0.3,  # over 20 seeds the statistics spread by at most 0.15; a missing sign fix moves them by 0.5
        mistakes={
            "it is not orthogonal (QᵀQ ≠ I): return the Q of the QR decomposition of a Gaussian matrix "
            "(torch.linalg.qr), not the Gaussian matrix itself.": lambda n, generator=None: torch.randn(
                n, n, generator=generator
            ),
            "a uniformly random rotation has no preferred sign, but your Q[0, 0] has one: multiply each "
            "column of Q by the sign of the matching diagonal entry of R.": _qr_without_sign_fix,
        },
        formula="orthogonal, e₀ sent anywhere on the sphere with equal chance, and the columns' signs independent.",
        passed="orthogonal, uniformly random (no preferred signs), drawn from its generator.",
    ),
    Exercise(
        "cosine_similarity(A, B)",
        reference=geometry.cosine_similarity,
        cases=_cosine_cases,
        mistakes={
            "you returned plain dot products: divide by both norms.": lambda A, B: A @ B.T,
            "you normalised only A: divide each row of both A and B by its norm.": lambda A, B: (
                (A / A.norm(dim=1, keepdim=True)) @ B.T
            ),
            "you normalised only B: divide each row of both A and B by its norm.": lambda A, B: (
                A @ (B / B.norm(dim=1, keepdim=True)).T
            ),
            "the result has shape (p, m): put the rows of A first, shape (m, p).": lambda A, B: (
                geometry.cosine_similarity(B, A)
            ),
            "you normalised the columns: take each row's norm with .norm(dim=1, keepdim=True).": lambda A, B: (
                (A / A.norm(dim=0, keepdim=True)) @ (B / B.norm(dim=0, keepdim=True)).T
            ),
        },
        formula="cos(a, b) = a·b / (‖a‖ ‖b‖) for every row a of A and b of B, shape (m, p).",
        passed="the cosine between every row of A and every row of B.",
    ),
    Exercise(
        "analogy(wv, a, b, c, k=5)",
        reference=embeddings.analogy,
        cases=_analogy_cases,
        returns="words",
        mistakes={
            "exclude the three query words from the answers.": _analogy_keeping_queries,
            "rank by cosine similarity, not by the raw dot product.": _analogy_by_dot_product,
            "the target is wv[b] − wv[a] + wv[c] (king − man + woman).": lambda wv, a, b, c, k=5: [
                w for w, _ in wv.nearest(wv[a] - wv[b] + wv[c], k=k, exclude=(a, b, c))
            ],
        },
        formula="the k words nearest by cosine to wv[b] − wv[a] + wv[c], the query words excluded.",
        passed="man : king :: woman : queen, query words excluded, ranked by cosine.",
    ),
    Exercise(
        "change_basis(W, x, M)",
        reference=lambda W, x, M: (W @ torch.linalg.inv(M), M @ x),
        cases=_change_basis_cases,
        returns=("tensor", "tensor"),
        atol=1e-6,
        mistakes={
            "you used Mᵀ in place of M⁻¹: the two agree only for orthogonal M; use "
            "torch.linalg.inv(M).": lambda W, x, M: (
                W @ M.T,
                M @ x,
            ),
            "the new weights are W M⁻¹, with M⁻¹ on the right.": lambda W, x, M: (torch.linalg.inv(M) @ W.T, M @ x),
            "the new input should be x' = M x.": lambda W, x, M: (W @ torch.linalg.inv(M), x),
            "W' x' should equal W x, so the new weights are W' = W M⁻¹.": lambda W, x, M: (W @ M, M @ x),
        },
        formula="(W M⁻¹, M x), so that W' x' = W x.",
        passed="W' x' = (W M⁻¹)(M x) = W x for an invertible, non-orthogonal M.",
    ),
)
