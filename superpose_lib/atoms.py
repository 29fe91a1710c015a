"""Atoms of discourse (chapter 11): read a dictionary learned on word vectors, and test it on polysemous words.

Arora, Li, Liang, Ma and Risteski (2018, "Linear algebraic structure of word senses, with applications to
polysemy", TACL) found that word vectors are, to a good approximation, sparse combinations of a few thousand
directions, "atoms of discourse", and that a polysemous word's atoms include one for each of its senses. This
module holds what a learner needs to look at such atoms in the course's GloVe subset (`embeddings`):

- `atom_words`: the words nearest to each atom, which is how an atom is read;
- `atom_coherence`: how much an atom's nearest words agree with each other;
- `decompose`: a word's sparse code over the atoms (orthogonal matching pursuit, `sparse.omp`);
- `load_polysemy`, `sense_directions`, `two_sense_score`: the curated test set of polysemous words and the
  score that says whether a set of directions covers both of a word's senses.

Directions are always columns: a dictionary has shape (dim, n_atoms), like `sparse.dictionary_learning`'s.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

import torch

from . import _validate
from .embeddings import UnknownWordError, WordVectors
from .sparse import omp

__all__ = [
    "Sense",
    "PolysemousWord",
    "load_polysemy",
    "atom_words",
    "atom_coherence",
    "decompose",
    "sense_directions",
    "two_sense_score",
]

POLYSEMY_FILE = "polysemy.json"


@dataclass(frozen=True)
class Sense:
    """One sense of a word: a short name and a few cue words that describe it."""

    name: str
    cues: tuple[str, ...]


@dataclass(frozen=True)
class PolysemousWord:
    """A word with two senses (`senses[0]`, `senses[1]`)."""

    word: str
    senses: tuple[Sense, Sense]


@lru_cache(maxsize=1)
def load_polysemy() -> tuple[PolysemousWord, ...]:
    """The curated test set of polysemous words shipped with the package (data/polysemy.json).

    A few dozen common English words with two senses each, every sense described by four cue words (all in the
    shipped GloVe subset, none the word itself). They were written for this course from ordinary knowledge of
    English, before any atoms were learned; the file's "about" field states its provenance.

    Examples
    --------
    >>> bank = {entry.word: entry for entry in load_polysemy()}["bank"]
    >>> [sense.name for sense in bank.senses]
    ['finance', 'river']
    """
    with resources.files("superpose_lib").joinpath("data", POLYSEMY_FILE).open("r", encoding="utf-8") as handle:
        words = json.load(handle)["words"]
    return tuple(
        PolysemousWord(word, tuple(Sense(sense["sense"], tuple(sense["cues"])) for sense in senses))
        for word, senses in words.items()
    )


# The declarations the functions below share.
_WV = _validate.Instance(WordVectors, what="WordVectors (from embeddings.load_glove)")
_DIRECTIONS = _validate.Tensor(ndim=2)  # (dim, n): directions as columns


def _directions(name: str, directions: torch.Tensor, dim: int) -> torch.Tensor:
    """`directions` (dim, m) as float32 with unit-norm columns, or a ValueError naming `name`."""
    if directions.shape[0] != dim or directions.shape[1] == 0:
        raise ValueError(
            f"{name} must have shape (dim, n_directions) = ({dim}, n) with directions as columns, "
            f"got {tuple(directions.shape)}"
        )
    directions = directions.float()
    norms = directions.norm(dim=0, keepdim=True)
    if not torch.isfinite(norms).all() or (norms == 0).any():
        raise ValueError(f"{name} must be finite with no all-zero column (every direction needs a direction)")
    return directions / norms


def _unit_vectors(wv: WordVectors) -> torch.Tensor:
    return torch.nn.functional.normalize(wv.vectors.float(), dim=1)  # (n_words, dim)


def _nearest_rows(unit: torch.Tensor, directions: torch.Tensor, k: int, chunk: int = 256) -> torch.Tensor:
    """Indices (m, k) of the `k` rows of `unit` with the largest cosine with each column of `directions`."""
    found = []
    for start in range(0, directions.shape[1], chunk):
        cos = unit @ directions[:, start : start + chunk]  # (n_words, chunk)
        found.append(cos.topk(k, dim=0).indices.T)
    return torch.cat(found)


@_validate.arguments(wv=_WV, directions=_DIRECTIONS, k=_validate.Int(1))
def atom_words(wv: WordVectors, directions, k: int = 8) -> list[list[str]]:
    """The `k` words nearest (largest cosine) to each direction: how an atom is read.

    Parameters
    ----------
    wv : WordVectors
    directions : tensor (dim, n_atoms)
        Atoms as columns (need not be unit norm).
    k : int
        Words per atom, at most the vocabulary size.

    Returns
    -------
    list of `n_atoms` lists of `k` words, nearest first.

    Examples
    --------
    >>> from superpose_lib.embeddings import load_glove
    >>> wv = load_glove(2_000)
    >>> atom_words(wv, wv["paris"].unsqueeze(1), k=3)
    [['paris', 'france', 'french']]
    """
    unit = _unit_vectors(wv)
    directions = _directions("directions", directions, unit.shape[1])
    if k > len(wv):
        raise ValueError(f"k must be at most the vocabulary size ({len(wv)}), got {k}")
    rows = _nearest_rows(unit, directions, k)
    return [[wv.words[i] for i in row] for row in rows.tolist()]


@_validate.arguments(wv=_WV, directions=_DIRECTIONS, k=_validate.Int(2))
def atom_coherence(wv: WordVectors, directions, k: int = 10) -> torch.Tensor:
    """How much each direction's `k` nearest words agree: the mean cosine over their pairs, shape (n_atoms,).

    An atom that stands for one topic has nearest words that are similar to each other; an atom pointing into
    an empty region of the space collects unrelated words. The score is relative: any direction's nearest words
    are somewhat alike, so compare it with the score of random directions.

    Examples
    --------
    >>> from superpose_lib.embeddings import load_glove
    >>> wv = load_glove(2_000)
    >>> days = torch.stack([wv[day] for day in ("monday", "tuesday", "friday")]).sum(0)
    >>> bool(atom_coherence(wv, days.unsqueeze(1), k=5) > 0.7)
    True
    """
    unit = _unit_vectors(wv)
    directions = _directions("directions", directions, unit.shape[1])
    if k > len(wv):
        raise ValueError(f"k must be at most the vocabulary size ({len(wv)}), got {k}")
    near = unit[_nearest_rows(unit, directions, k)]  # (n_atoms, k, dim)
    gram = near @ near.transpose(1, 2)  # (n_atoms, k, k)
    off_diagonal = gram.sum(dim=(1, 2)) - gram.diagonal(dim1=1, dim2=2).sum(dim=1)
    return off_diagonal / (k * (k - 1))


@_validate.arguments(
    wv=_WV, dictionary=_DIRECTIONS, word=_validate.Text(), n_nonzero=_validate.Int(1), k_words=_validate.Int(1)
)
def decompose(wv: WordVectors, dictionary, word: str, n_nonzero: int = 5, k_words: int = 5) -> list[dict]:
    """A word's sparse code over the atoms: `n_nonzero` atoms chosen by OMP for its unit vector.

    Parameters
    ----------
    wv : WordVectors
    dictionary : tensor (dim, n_atoms)
        Unit-norm atoms as columns (e.g. `sparse.dictionary_learning(...).dictionary`).
    word : str
    n_nonzero : int
        Atoms per word.
    k_words : int
        Nearest words listed per atom.

    Returns
    -------
    list of dicts ``{"atom", "coefficient", "words"}``, largest |coefficient| first.

    Examples
    --------
    >>> from superpose_lib.embeddings import load_glove
    >>> wv = load_glove(2_000)
    >>> atoms = torch.nn.functional.normalize(torch.stack([wv["money"], wv["river"]]).T, dim=0)
    >>> [part["atom"] for part in decompose(wv, atoms, "money", n_nonzero=1)]
    [0]
    """
    unit = _unit_vectors(wv)
    dictionary = _directions("dictionary", dictionary, unit.shape[1])
    if k_words > len(wv):
        raise ValueError(f"k_words must be at most the vocabulary size ({len(wv)}), got {k_words}")
    if n_nonzero > min(dictionary.shape):
        raise ValueError(f"n_nonzero must be at most min(dim, n_atoms) = {min(dictionary.shape)}, got {n_nonzero}")
    code = omp(dictionary, unit[wv.index(word)], n_nonzero=n_nonzero)  # (n_atoms,)
    used = code.nonzero().flatten()
    used = used[code[used].abs().argsort(descending=True)]
    words = atom_words(wv, dictionary[:, used], k=k_words) if len(used) else []
    return [
        {"atom": int(atom), "coefficient": float(code[atom]), "words": near} for atom, near in zip(used.tolist(), words)
    ]


@_validate.arguments(wv=_WV, entry=_validate.Instance(PolysemousWord, what="PolysemousWord (from load_polysemy())"))
def sense_directions(wv: WordVectors, entry: PolysemousWord) -> torch.Tensor:
    """The direction of each sense of `entry`: the normalised mean of its cue words' unit vectors, (dim, 2).

    A cue missing from `wv` (a smaller vocabulary than the shipped 40,000 words) raises an UnknownWordError
    that names every missing cue and the word.
    """
    unit = _unit_vectors(wv)
    missing = [cue for sense in entry.senses for cue in sense.cues if cue not in wv]
    if missing:
        raise UnknownWordError(
            f"the cues {missing} of {entry.word!r} are not in the vocabulary of {len(wv):,} words; "
            "the polysemy set needs the full subset (embeddings.load_glove())"
        )
    means = [unit[[wv.index(cue) for cue in sense.cues]].mean(dim=0) for sense in entry.senses]
    return torch.nn.functional.normalize(torch.stack(means, dim=1), dim=0)


@_validate.arguments(directions=_DIRECTIONS, senses=_DIRECTIONS)
def two_sense_score(directions, senses) -> float:
    """How well a set of directions covers both senses: ``max over i ≠ j of min(cos(dᵢ, s₀), cos(dⱼ, s₁))``.

    Each sense must be matched by its own direction, so one direction lying between the two senses cannot
    cover both. A score of at least τ means: two different directions, each with cosine at least τ with
    one of the senses.

    Parameters
    ----------
    directions : tensor (dim, m), m ≥ 2
        Candidate directions as columns, e.g. the atoms of a word's code or its nearest words' vectors.
    senses : tensor (dim, 2)
        The two sense directions (`sense_directions`).

    Examples
    --------
    >>> two_sense_score(torch.eye(3), torch.eye(3)[:, :2])
    1.0
    >>> two_sense_score(torch.eye(3)[:, :2], torch.eye(3)[:, [0, 0]])  # one sense, seen twice: only one match
    0.0
    """
    if senses.shape[1] != 2:
        raise ValueError(f"senses must have shape (dim, 2), one column per sense, got {tuple(senses.shape)}")
    senses = _directions("senses", senses, senses.shape[0])
    if directions.shape[0] != senses.shape[0]:
        raise ValueError(f"directions and senses must have the same dimension (rows), got shapes "
                         f"{tuple(directions.shape)} and {tuple(senses.shape)}")  # fmt: skip
    directions = _directions("directions", directions, senses.shape[0])
    if directions.shape[1] < 2:
        raise ValueError(f"directions must have at least 2 columns to cover two senses, got {directions.shape[1]}")
    cos = senses.T @ directions  # (2, m)
    pairs = torch.minimum(cos[0].unsqueeze(1), cos[1].unsqueeze(0))  # (m, m): direction i for sense 0, j for 1
    pairs.fill_diagonal_(-torch.inf)
    return float(pairs.max())
