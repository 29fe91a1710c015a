"""Chapter 11: the nearest words of an atom, an atom's coherence, and the two-sense score of a polysemous word.

The learner's function always gets copies of the inputs, so one that normalises them in place cannot change
what the reference sees."""

from __future__ import annotations

import torch

from .. import atoms
from ..embeddings import WordVectors
from ._common import _REFERENCES, _call, _number, _passed, _seeded, _tensor


def _as_word_vectors(vectors: torch.Tensor) -> WordVectors:
    return WordVectors(tuple(str(i) for i in range(vectors.shape[0])), vectors)


def _reference_nearest_words(vectors, direction, k):
    return atoms._nearest_rows(torch.nn.functional.normalize(vectors, dim=1), direction.unsqueeze(1), k)[0]


def _reference_atom_coherence(vectors, direction, k):
    return atoms.atom_coherence(_as_word_vectors(vectors), direction.unsqueeze(1), k=k).item()


def _reference_two_sense_score(directions, senses):
    return atoms.two_sense_score(directions, senses)


_REFERENCES.update(
    nearest_words=_reference_nearest_words,
    atom_coherence=_reference_atom_coherence,
    two_sense_score=_reference_two_sense_score,
)


def _vocabulary(n=300, d=8, seed=0):
    """Random 'word vectors' of very different lengths, so a dot product and a cosine rank them differently."""
    gen = _seeded(seed)
    return torch.randn(n, d, generator=gen) * torch.exp(1.5 * torch.randn(n, 1, generator=gen))


def check_nearest_words(nearest_words) -> None:
    """Check ``nearest_words(vectors, direction, k)``: the rows of `vectors` with the largest cosine with
    `direction`, nearest first, as a tensor of k row indices."""
    name = "nearest_words"
    vectors, k = _vocabulary(), 6
    direction = torch.randn(8, generator=_seeded(1))
    got = _tensor(name, _call(nearest_words, name, vectors.clone(), direction.clone(), k), (k,))
    want = _reference_nearest_words(vectors, direction, k)
    if torch.equal(got.long(), want):
        for seed in (2, 3):
            other = torch.randn(8, generator=_seeded(seed))
            got_other = _tensor(name, _call(nearest_words, name, vectors.clone(), other.clone(), 3), (3,)).long()
            if not torch.equal(got_other, _reference_nearest_words(vectors, other, 3)):
                raise AssertionError(f"{name} is right for one direction and wrong for another: compare cosines.")
        _passed(name, nearest_words, "the k words with the largest cosine, nearest first.")
        return
    if torch.equal(got.long(), (vectors @ direction).topk(k).indices):
        raise AssertionError(
            f"{name} ranked by dot products: a long vector wins without pointing the right way. Divide each "
            "word vector by its norm (a cosine) before ranking."
        )
    unit = torch.nn.functional.normalize(vectors, dim=1)
    if torch.equal(got.long(), (unit @ direction).abs().topk(k).indices):
        raise AssertionError(
            f"{name} ranked by |cos|: a word pointing the opposite way is not near the atom. Rank by cos itself."
        )
    if torch.equal(got.long(), (unit @ direction).topk(k, largest=False).indices):
        raise AssertionError(f"{name} returned the *least* similar words: take the largest cosines (topk).")
    if set(got.long().tolist()) == set(want.tolist()):
        raise AssertionError(f"{name} found the right words in the wrong order: list the nearest first.")
    raise AssertionError(f"{name} returned rows {got.tolist()}, expected {want.tolist()} (largest cosine first).")


def check_atom_coherence(atom_coherence) -> None:
    """Check ``atom_coherence(vectors, direction, k)``: the mean cosine over the pairs of distinct words among the
    k words nearest to `direction`."""
    name = "atom_coherence"
    vectors, k = _vocabulary(), 5
    direction = torch.randn(8, generator=_seeded(4))
    got = _number(name, _call(atom_coherence, name, vectors.clone(), direction.clone(), k))
    want = _reference_atom_coherence(vectors, direction, k)
    if abs(got - want) < 1e-4:
        other = torch.randn(8, generator=_seeded(5))
        got_other = _number(name, _call(atom_coherence, name, vectors.clone(), other.clone(), 8))
        if abs(got_other - _reference_atom_coherence(vectors, other, 8)) > 1e-4:
            raise AssertionError(f"{name} is right for k = {k} but not for k = 8: use k, not a fixed number.")
        _passed(name, atom_coherence, "the mean cosine between distinct words near the atom.")
        return
    if abs(got - (want * (k - 1) + 1) / k) < 1e-4:
        raise AssertionError(
            f"{name} counted each word's cosine with itself (always 1): average over pairs of *different* "
            "words, k(k − 1) of them."
        )
    if abs(got - want * (k - 1) / k) < 1e-4:
        raise AssertionError(f"{name} divided by k² although the k diagonal terms were left out: divide by k(k − 1).")
    raise AssertionError(
        f"{name} returned {got:.4f}, expected {want:.4f}: take the k nearest words by cosine, normalise their "
        "vectors, and average the cosines over distinct pairs (the dot products of unit vectors, not raw ones)."
    )


def check_two_sense_score(two_sense_score) -> None:
    """Check ``two_sense_score(directions, senses)``: the best over pairs i ≠ j of
    ``min(cos(directions[:, i], senses[:, 0]), cos(directions[:, j], senses[:, 1]))``."""
    name = "two_sense_score"
    senses = torch.eye(4)[:, :2]
    both = torch.tensor([[2.0, 0.0, 0.0, 0.0], [0.0, 0.5, 0.0, 0.0], [0.0, 0.0, 1.0, 0.0]]).T
    got = _number(name, _call(two_sense_score, name, both.clone(), senses.clone()))
    if abs(got - 2.0) < 1e-4 or abs(got - 0.5) < 1e-4:
        raise AssertionError(
            f"{name} returned {got:.2f} for directions of lengths 2 and 0.5 that match the senses exactly: "
            "use cosines, normalising every direction (and sense) to unit length first."
        )
    if abs(got - 1.0) > 1e-4:
        raise AssertionError(
            f"{name} returned {got:.4f} where two directions match the two senses exactly: expected 1."
        )
    gen = _seeded(6)
    for _ in range(8):
        directions, senses = torch.randn(6, 5, generator=gen), torch.randn(6, 2, generator=gen)
        got = _number(name, _call(two_sense_score, name, directions.clone(), senses.clone()))
        want = _reference_two_sense_score(directions, senses)
        if abs(got - want) < 1e-4:
            continue
        cos = torch.nn.functional.normalize(senses, dim=0).T @ torch.nn.functional.normalize(directions, dim=0)
        weaker = torch.minimum(cos[0].unsqueeze(1), cos[1].unsqueeze(0))  # (5, 5): direction i for sense 0, j for 1
        if abs(got - weaker.max().item()) < 1e-4:
            raise AssertionError(
                f"{name} let one direction cover both senses: each sense needs its own direction, so only pairs "
                "i ≠ j count (set the diagonal of the pair matrix to -inf before the max)."
            )
        stronger = torch.maximum(cos[0].unsqueeze(1), cos[1].unsqueeze(0)).fill_diagonal_(-torch.inf)
        if abs(got - stronger.max().item()) < 1e-4:
            raise AssertionError(
                f"{name} took the larger cosine of a pair: a pair covers both senses only as well as its weaker "
                "match, so take the min within a pair and the max over pairs."
            )
        raise AssertionError(f"{name} returned {got:.4f}, expected {want:.4f}.")
    _passed(name, two_sense_score, "two different directions, each matching one sense; the weaker match counts.")
