"""Chapter 11: the nearest words of an atom, an atom's coherence, and the two-sense score of a polysemous word."""

from __future__ import annotations

import torch

from .. import atoms, embeddings
from ._common import Exercise, declare, seeded


def _indexed(vectors: torch.Tensor) -> embeddings.WordVectors:
    """The rows of `vectors` as a vocabulary whose words are their row numbers ("0", "1", ...)."""
    return embeddings.WordVectors(tuple(str(i) for i in range(vectors.shape[0])), vectors)


def _nearest_words(vectors, direction, k):
    """`atoms.atom_words` for one direction, as row indices."""
    words = atoms.atom_words(_indexed(vectors), direction.unsqueeze(1), k=k)[0]
    return torch.tensor([int(word) for word in words])


def _atom_coherence(vectors, direction, k):
    return atoms.atom_coherence(_indexed(vectors), direction.unsqueeze(1), k=k).item()


def _vocabulary(seed=0, n=300, d=8):
    """Random 'word vectors' of very different lengths (a factor of about 20 either way), so that a dot product,
    a distance and a cosine rank them differently."""
    gen = seeded(seed)
    return torch.randn(n, d, generator=gen) * torch.exp(1.5 * torch.randn(n, 1, generator=gen))


def _nearest_cases():
    vectors = _vocabulary()
    gen = seeded(2)  # directions for which each mistake differs from the answer in every case
    cases = [dict(vectors=vectors, direction=3 * torch.randn(8, generator=gen), k=k) for k in (6, 3, 9)]
    return cases + [dict(vectors=_vocabulary(seed=5, n=200), direction=torch.randn(8, generator=gen), k=4)]


def _coherence_cases():
    vectors = _vocabulary()
    gen = seeded(4)
    cases = [dict(vectors=vectors, direction=torch.randn(8, generator=gen), k=k) for k in (5, 8, 2)]
    return cases + [dict(vectors=_vocabulary(seed=6, n=200), direction=torch.randn(8, generator=gen), k=4)]


def _unit_rows(vectors):
    return torch.nn.functional.normalize(vectors, dim=1)


def _cosines(vectors, direction):
    return _unit_rows(vectors) @ direction  # (n_words,): the cosine up to the direction's norm


def _gram_of_nearest(vectors, direction, k, normalise=True, by_cosine=True):
    scores = _cosines(vectors, direction) if by_cosine else vectors @ direction
    near = vectors[scores.topk(k).indices]  # (k, d)
    near = _unit_rows(near) if normalise else near
    return near @ near.T  # (k, k)


def _off_diagonal_sum(gram):
    return gram.sum() - gram.diagonal().sum()


def _pair_scores(directions, senses, normalise_dim=0, absolute=False, pick=torch.minimum):
    if normalise_dim is not None:
        directions = torch.nn.functional.normalize(directions, dim=normalise_dim)
        senses = torch.nn.functional.normalize(senses, dim=normalise_dim)
    cos = senses.T @ directions  # (2, m)
    cos = cos.abs() if absolute else cos
    return pick(cos[0].unsqueeze(1), cos[1].unsqueeze(0))  # (m, m): direction i for sense 0, j for sense 1


def _best_pair(pairs, same_allowed=False):
    return float(pairs.max() if same_allowed else pairs.fill_diagonal_(-torch.inf).max())


def _two_sense_cases():
    """Directions of lengths 2 and 0.5 matching senses of lengths 1.5 and 0.7 exactly (the score is 1); one
    direction between two orthogonal senses; a long direction between the two senses, one opposite to a sense and
    a weak match; directions opposite to both senses; then random ones."""
    senses = torch.eye(4)[:, :2] * torch.tensor([1.5, 0.7])
    exact = torch.tensor([[2.0, 0.0, 0.0, 0.0], [0.0, 0.5, 0.0, 0.0], [0.0, 0.0, 1.0, 1.0]]).T
    cases = [dict(directions=exact, senses=senses)]
    # one direction between the senses (cos 0.71 with each) beats every pair of two different directions
    axes = torch.eye(4)
    between = torch.stack([axes[0] + axes[1], axes[0] + 2 * axes[2], axes[1] + 2 * axes[3]], 1)
    cases.append(dict(directions=between, senses=axes[:, :2]))
    gen = seeded(0)
    senses = torch.randn(6, 2, generator=gen)
    unit = torch.nn.functional.normalize(senses, dim=0)
    between = 3 * (unit[:, 0] + unit[:, 1])
    opposite = -2 * unit[:, 1] + 0.3 * torch.randn(6, generator=gen)
    weak = 0.5 * unit[:, 0] + 0.4 * torch.randn(6, generator=gen)
    directions = torch.stack([between, opposite, weak, torch.randn(6, generator=gen)], dim=1)  # (6, 4)
    cases.append(dict(directions=directions, senses=senses))
    # Two long directions opposite to the senses and two weak matches: |cos| and the larger match differ.
    axes = torch.eye(5)
    opposite = torch.stack([-axes[0], -3 * axes[1], 0.4 * axes[0] + axes[2], 0.5 * axes[1] + axes[3], axes[4]], 1)
    cases.append(dict(directions=opposite, senses=axes[:, :2] * torch.tensor([1.0, 2.0])))
    gen = seeded(2)
    for m in (5, 4):
        cases.append(dict(directions=torch.randn(6, m, generator=gen), senses=torch.randn(6, 2, generator=gen)))
    return cases


declare(
    Exercise(
        "nearest_words(vectors, direction, k)",
        reference=_nearest_words,
        cases=_nearest_cases,
        mistakes={
            "you ranked by dot products: a long vector wins without pointing the right way. Divide each word "
            "vector by its norm (a cosine) before ranking.": lambda vectors, direction, k: (
                (vectors @ direction).topk(k).indices
            ),
            "you ranked by |cos|: a word pointing the opposite way is not near the "
            "atom. Rank by cos itself.": lambda vectors, direction, k: (
                _cosines(vectors, direction).abs().topk(k).indices
            ),
            "you returned the *least* similar words: take the largest cosines (topk).": lambda vectors, direction, k: (
                _cosines(vectors, direction).topk(k, largest=False).indices
            ),
            "you found the right words in the wrong order: list the nearest first.": lambda vectors, direction, k: (
                _cosines(vectors, direction).topk(k).indices.flip(0)
            ),
            "you found the right words in the wrong order (by row number): list the "
            "nearest first.": lambda vectors, direction, k: _cosines(vectors, direction).topk(k).indices.sort().values,
            "you ranked by Euclidean distance: a short vector is close to everything near the origin. "
            "Nearness to an atom is a cosine, which ignores the lengths.": lambda vectors, direction, k: (
                (vectors - direction).norm(dim=1).topk(k, largest=False).indices
            ),
            "you normalised the columns (dim=0): each word is a row, so divide each "
            "row by its own norm (dim=1).": lambda vectors, direction, k: (
                (torch.nn.functional.normalize(vectors, dim=0) @ direction).topk(k).indices
            ),
        },
        formula="the indices of the k rows with the largest cos(vectors[i], direction), nearest first, shape (k,).",
        passed="the k words with the largest cosine, nearest first.",
    ),
    Exercise(
        "atom_coherence(vectors, direction, k)",
        reference=_atom_coherence,
        cases=_coherence_cases,
        returns="number",
        mistakes={
            "you counted each word's cosine with itself (always 1): average over pairs of *different* words, "
            "k(k − 1) of them.": lambda vectors, direction, k: float(
                _gram_of_nearest(vectors, direction, k).sum() / k**2
            ),
            "you divided by k² although the k diagonal terms were left out: divide "
            "by k(k − 1).": lambda vectors, direction, k: float(
                _off_diagonal_sum(_gram_of_nearest(vectors, direction, k)) / k**2
            ),
            "you averaged dot products of the raw vectors: normalise the k nearest words to unit length first, "
            "so that each term is a cosine.": lambda vectors, direction, k: float(
                _off_diagonal_sum(_gram_of_nearest(vectors, direction, k, normalise=False)) / (k * (k - 1))
            ),
            "you chose the k words by dot product: choose them by cosine, as in nearest_words (a dot product "
            "favours long vectors).": lambda vectors, direction, k: float(
                _off_diagonal_sum(_gram_of_nearest(vectors, direction, k, by_cosine=False)) / (k * (k - 1))
            ),
            "you averaged the words' cosines with the direction: coherence compares the k words with *each "
            "other* (the mean of their Gram matrix off the diagonal).": lambda vectors, direction, k: float(
                (_cosines(vectors, direction).topk(k).values / direction.norm()).mean()
            ),
            "you summed each pair once (one triangle of the Gram matrix) but divided by k(k − 1), the number "
            "of ordered pairs: divide a one-triangle sum by k(k − 1)/2.": lambda vectors, direction, k: float(
                _gram_of_nearest(vectors, direction, k).triu(1).sum() / (k * (k - 1))
            ),
            "it ignores k: use the argument, not a fixed number of words.": lambda vectors, direction, k: (
                _atom_coherence(vectors, direction, 5)
            ),
        },
        formula="the mean of cos(wᵢ, wⱼ) over the ordered pairs i ≠ j of the k words nearest (by cosine) to the "
        "direction, a number.",
        passed="the mean cosine between distinct words near the atom.",
    ),
    Exercise(
        "two_sense_score(directions, senses)",
        reference=atoms.two_sense_score,
        cases=_two_sense_cases,
        returns="number",
        mistakes={
            "you let one direction cover both senses: each sense needs its own direction, so only pairs i ≠ j "
            "count (set the diagonal of the pair matrix to -inf before the max).": lambda directions, senses: (
                _best_pair(_pair_scores(directions, senses), same_allowed=True)
            ),
            "use cosines, normalising every direction (and sense) to unit length first: a long direction is "
            "not a better match.": lambda directions, senses: _best_pair(
                _pair_scores(directions, senses, normalise_dim=None)
            ),
            "you took the larger cosine of a pair: a pair covers both senses only as well as its weaker match, "
            "so take the min within a pair and the max over pairs.": lambda directions, senses: _best_pair(
                _pair_scores(directions, senses, pick=torch.maximum)
            ),
            "you compared |cos|: a direction pointing away from a sense (cos < 0) does not carry it. Use the "
            "cosine itself.": lambda directions, senses: _best_pair(_pair_scores(directions, senses, absolute=True)),
            "you normalised the rows (torch.nn.functional.normalize's default dim=1): the directions and the "
            "senses are columns, so normalise with dim=0.": lambda directions, senses: _best_pair(
                _pair_scores(directions, senses, normalise_dim=1)
            ),
        },
        formula="max over i ≠ j of min(cos(dᵢ, s₀), cos(dⱼ, s₁)), with dᵢ the columns of directions and s₀, s₁ "
        "those of senses.",
        passed="two different directions, each matching one sense; the weaker match counts.",
    ),
)
