"""Chapter 04: the density of a random dot product, coherence, how many random directions fit within ε, the
Johnson–Lindenstrauss dimension."""

from __future__ import annotations

import math

import torch

from .. import geometry
from ._common import Exercise, declare, seeded


def _density_cases():
    t = torch.linspace(-0.95, 0.95, 39, dtype=torch.float64)
    # n = 1000: Γ(n/2) overflows a float (math.gamma raises) and float32 logs of Γ lose the 1e-5 accuracy
    gen = seeded(0)
    fresh = dict(
        t=2.2 * torch.rand(25, generator=gen, dtype=torch.float64) - 1.1,
        n=int(torch.randint(3, 80, (1,), generator=gen)),
    )
    return [dict(t=t, n=n) for n in (3, 4, 10, 50, 1000)] + [
        dict(t=torch.tensor([-1.5, 0.0, 1.5], dtype=torch.float64), n=5),
        fresh,
    ]


def _fresh_jl():
    gen = seeded(2)
    return int(torch.randint(10, 100_000, (1,), generator=gen)), float(0.05 + 0.85 * torch.rand(1, generator=gen))


def _shaped(t, n, constant, exponent):
    inside = t.abs() < 1
    return torch.where(inside, constant * (1 - t**2).clamp_min(0) ** exponent, 0.0)


def _log_constant(n):
    return math.lgamma(n / 2) - math.lgamma((n - 1) / 2) - 0.5 * math.log(math.pi)


def _coherence_cases():
    V = torch.tensor([[3.0, 0.0, 0.0], [1.0, -2.0, 0.5], [-2.0, 1.0, 1.0], [0.0, 0.5, 4.0]])
    return [
        dict(V=V),
        dict(V=geometry.random_unit_vectors(30, 8, generator=seeded(0)) * torch.linspace(0.5, 2, 30)[:, None]),
    ]


def _cosines(V):
    unit = V / V.norm(dim=1, keepdim=True)
    return unit @ unit.T


def _jl(log, denominator):
    return lambda n_points, eps: int(4 * log(n_points) / denominator(eps))


def _count_cases():
    gen = seeded(0)
    eps = (0.5, 0.6, 0.7)[int(torch.randint(3, (1,), generator=gen))]
    lengths = 0.2 + 3 * torch.rand(40, 1, generator=gen)  # raw dot products are not cosines
    turned = geometry.random_rotation(5, generator=gen) * (0.2 + 3 * torch.rand(5, 1, generator=gen))
    stairs = _staircase(gen)
    hand = torch.tensor([[2.0, 0, 0], [0, -3, 0], [0, 0, 0.5], [-1, 0, 0.1], [0, 1, 1], [0.2, 0.1, 0]])
    return [
        dict(V=geometry.random_unit_vectors(40, 8, generator=gen) * lengths, eps=eps),
        dict(V=geometry.random_unit_vectors(40, 12, generator=gen) * lengths, eps=0.45),
        dict(V=hand, eps=0.5),  # row 3 is nearly −row 0: |cos| stops the count at 3, cos would not
        dict(V=turned, eps=0.5),  # orthogonal rows: all 5 fit
        dict(V=torch.tensor([[1.0, 0, 0, 0], [1, 1, 1, 1]]), eps=0.5),  # cos exactly ½ is not below ½: 1
        # the same staircase at two eps of different steps: two different counts, whatever eps is hard-coded
        dict(V=stairs, eps=_staircase_eps(gen, low=True)),
        dict(V=stairs, eps=_staircase_eps(gen, low=False)),
    ]


def _staircase(gen):
    """Rows whose largest |cos| with an earlier row climbs 0.1, 0.2, …, 0.9 (row j at cos ±0.1 j with row 0, and
    at 0.01 j l with row l), turned by a random rotation and given random lengths: the count is a step function
    of eps with nine steps, so an answer that ignores eps or hard-codes one cannot match two eps of different
    steps."""
    steps = 9
    cos = torch.arange(1, steps + 1, dtype=torch.float64) / 10 * (2 * torch.randint(2, (steps,), generator=gen) - 1)
    rows = torch.zeros(steps + 1, steps + 1, dtype=torch.float64)
    rows[0, 0] = 1.0
    rows[1:, 0] = cos
    rows[1:, 1:] = torch.diag((1 - cos**2).sqrt())
    lengths = 0.2 + 3 * torch.rand(steps + 1, 1, generator=gen, dtype=torch.float64)
    return (rows @ geometry.random_rotation(steps + 1, generator=gen).double()) * lengths


def _staircase_eps(gen, low):
    """An eps inside one step of the staircase, away from its edges: from the steps 1–4 or 5–8."""
    step = int(torch.randint(1, 5, (1,), generator=gen)) + (0 if low else 4)
    return round(step / 10 + 0.02 + 0.06 * float(torch.rand(1, generator=gen)), 3)


def _count(V, eps, *, diagonal=False, signed=False, normalise=True, below=torch.ge, later=False):
    """The prefix count with one step changed."""
    unit = V / V.norm(dim=1, keepdim=True) if normalise else V
    cos = unit @ unit.T
    size = cos if signed else cos.abs()
    overlaps = size.triu(diagonal=1) if later else size.tril(diagonal=0 if diagonal else -1)
    breaks = below(overlaps, eps).any(dim=1)
    return int(breaks.int().argmax()) if bool(breaks.any()) else len(V)


def _greedy_count(V, eps):
    unit = V / V.norm(dim=1, keepdim=True)
    kept = unit[:1]
    for v in unit[1:]:
        if bool(((kept @ v).abs() < eps).all()):
            kept = torch.cat([kept, v[None]])
    return len(kept)


declare(
    Exercise(
        "dot_product_density(t, n)",
        reference=geometry.dot_product_density,
        cases=_density_cases,
        rtol=1e-5,
        atol=1e-9,
        mistakes={
            "the height is wrong: the constant is Γ(n/2) / (√π Γ((n−1)/2)), numerator Γ(n/2), denominator "
            "Γ((n−1)/2) (use math.lgamma or torch.lgamma).": lambda t, n: _shaped(
                t, n, math.exp(-_log_constant(n) - math.log(math.pi)), (n - 3) / 2
            ),
            "the exponent on (1 − t²) should be (n − 3)/2.": lambda t, n: _shaped(
                t, n, math.exp(_log_constant(n)), (n - 1) / 2
            ),
            "that is the Gaussian approximation N(0, 1/n); write the exact density, proportional to "
            "(1 − t²)^((n−3)/2).": lambda t, n: torch.exp(-n * t**2 / 2) * math.sqrt(n / (2 * math.pi)),
            "the density must be 0 outside (−1, 1): |t| > 1 is impossible for unit vectors.": lambda t, n: (
                math.exp(_log_constant(n)) * (1 - t**2).abs() ** ((n - 3) / 2)
            ),
        },
        formula="Γ(n/2) / (√π Γ((n−1)/2)) · (1 − t²)^((n−3)/2) on −1 < t < 1, and 0 outside.",
        passed="the exact density, normalised, zero outside (−1, 1).",
    ),
    Exercise(
        "coherence(V)",
        reference=geometry.coherence,
        cases=_coherence_cases,
        returns="number",
        mistakes={
            "every vector has cos 1 with itself: leave out the diagonal.": lambda V: _cosines(V).abs().max(),
            "you took the largest cos, not the largest |cos|: apply .abs() first.": lambda V: (
                _cosines(V) - 2 * torch.eye(len(V))
            ).max(),
            "you used raw dot products: normalise each row to unit length first.": lambda V: (
                (V @ V.T).abs() - torch.diag((V @ V.T).diagonal())
            ).max(),
            "you compared the columns of V: the vectors are its rows, so use V @ V.T.": lambda V: (
                _cosines(V.T).abs() - torch.eye(V.shape[1])
            ).max(),
            "you returned the mean |cos|: coherence is the largest one (.max()).": lambda V: (
                (_cosines(V).abs() - torch.eye(len(V))).sum() / (len(V) * (len(V) - 1))
            ),
        },
        formula="max over i ≠ j of |cos(vᵢ, vⱼ)| for the rows vᵢ of V.",
        passed="the largest |cos| between two different rows, for any row lengths.",
    ),
    Exercise(
        "count_almost_orthogonal(V, eps)",
        reference=geometry.almost_orthogonal_prefix,
        cases=_count_cases,
        returns="count",
        atol=0,
        rtol=0,
        mistakes={
            "every vector has cos 1 with itself: leave the diagonal out (compare each vector with the earlier ones "
            "only).": lambda V, eps: _count(V, eps, diagonal=True),
            "you compared cos, not |cos|: a cosine of −0.9 is as far from orthogonal as 0.9, so take "
            ".abs().": lambda V, eps: _count(V, eps, signed=True),
            "you compared raw dot products: the rows are not unit length, so normalise them (or divide by both "
            "norms) to get cosines.": lambda V, eps: _count(V, eps, normalise=False),
            "off by one: you counted the first vector that comes within ε; the answer is how many come "
            "*before* it.": lambda V, eps: min(_count(V, eps) + 1, len(V)),
            "a pair with |cos| exactly ε is not *below* ε: it stops the count (use >= ε for the pairs that "
            "break it).": lambda V, eps: _count(V, eps, below=torch.gt),
            "you skipped the vectors that came too close and kept going: stop at the first one; the count is "
            "how far the vectors get in order.": _greedy_count,
            "you compared with a fixed 0.5: use the eps you are given (the count changes with it).": lambda V, eps: (
                _count(V, 0.5)
            ),
            "you compared each row with the *later* rows (above the diagonal): the row that breaks the count is "
            "the first that comes within ε of an *earlier* one (below the diagonal).": lambda V, eps: _count(
                V, eps, later=True
            ),
        },
        formula="the largest k such that the first k rows of V are pairwise within |cos| < ε (at least 1).",
        passed="how many of the vectors, taken in order, stay pairwise within ε of orthogonal.",
    ),
    Exercise(
        "jl_min_dim(n_points, eps)",
        reference=geometry.jl_min_dim,
        cases=lambda: [
            dict(n_points=n, eps=e) for n, e in ((1_000, 0.1), (50, 0.5), (10**6, 0.25), (17, 0.9), _fresh_jl())
        ],
        returns="count",
        atol=0,
        rtol=0,
        mistakes={
            "you rounded up; scikit-learn rounds down (int(...)).": lambda n_points, eps: math.ceil(
                4 * math.log(n_points) / (eps**2 / 2 - eps**3 / 3)
            ),
            "the bound uses the natural log, math.log.": _jl(math.log10, lambda e: e**2 / 2 - e**3 / 3),
            "the bound uses the natural log, math.log (not log₂).": _jl(math.log2, lambda e: e**2 / 2 - e**3 / 3),
            "the denominator is ε²/2 − ε³/3 (Dasgupta and Gupta), with the cubic term.": _jl(
                math.log, lambda e: e**2 / 2
            ),
        },
        formula="int(4 ln N / (ε²/2 − ε³/3)), rounded down as scikit-learn does.",
        passed="4 ln N / (ε²/2 − ε³/3), rounded down: the same as scikit-learn.",
    ),
)
