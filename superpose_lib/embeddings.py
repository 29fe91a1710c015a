"""Word vectors for chapter 01: a GloVe subset shipped with the package, and analogy search.

The data: the 40,000 most frequent lowercase alphabetic words of GloVe 6B, 50 dimensions
(Pennington, Socher and Manning 2014; PDDL 1.0; see data/GLOVE_ATTRIBUTION.txt). No download is needed.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources

import numpy as np
import torch

from . import _validate
from .geometry import cosine_similarity

GLOVE_FILE = "glove_6b_50d_subset.npz"


class UnknownWordError(KeyError, ValueError):
    """A word that is not in the vocabulary. Catchable as KeyError or ValueError."""

    def __str__(self) -> str:  # KeyError would quote the whole message
        return str(self.args[0])


@_validate.declare_init(words=_validate.Each(_validate.Text()), vectors=_validate.Tensor(ndim=2))
@dataclass(frozen=True)
class WordVectors:
    """A vocabulary and its vectors: ``vectors[i]`` is the embedding of ``words[i]``.

    Index by word (``wv["king"]`` is a (50,) tensor); ``wv.index("king")`` gives the row.
    """

    words: tuple[str, ...]
    vectors: torch.Tensor  # (n_words, dim), float32
    _rows: dict[str, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self):
        object.__setattr__(self, "words", tuple(self.words))
        if self.vectors.shape[0] != len(self.words):
            raise ValueError(
                f"vectors must have shape (len(words), dim) = ({len(self.words)}, dim), got {tuple(self.vectors.shape)}"
            )
        object.__setattr__(self, "_rows", {word: i for i, word in enumerate(self.words)})

    def __len__(self) -> int:
        return len(self.words)

    def __contains__(self, word) -> bool:
        return word in self._rows

    def __repr__(self) -> str:
        return f"WordVectors({len(self.words)} words, dim={self.vectors.shape[1]})"

    @_validate.arguments(word=_validate.Text())
    def index(self, word: str) -> int:
        """Row of `word`; an UnknownWordError (a KeyError and a ValueError) names close spellings."""
        return self._row("word", word)

    def _row(self, name: str, word) -> int:
        """Row of `word`, or an UnknownWordError naming the argument `name` it came from."""
        try:
            return self._rows[word]
        except (KeyError, TypeError):
            pass
        if not isinstance(word, str):
            raise UnknownWordError(f"{name} must be a string (words are strings), got {type(word).__name__}: {word!r}")
        hint = "; words are lowercase" if word.lower() in self._rows else ""
        close = difflib.get_close_matches(word.lower(), self.words[:10_000], n=3)
        if close:
            hint += "; did you mean " + ", ".join(repr(c) for c in close) + "?"
        raise UnknownWordError(f"{name} {word!r} is not in the vocabulary of {len(self.words):,} words{hint}")

    def __getitem__(self, word: str) -> torch.Tensor:
        return self.vectors[self._row("word", word)]

    @_validate.arguments(
        query=_validate.Either(_validate.Text(), _validate.Tensor(ndim=1)),
        k=_validate.Int(1),
        exclude=_validate.Each(_validate.Text(), allow_empty=True),
    )
    def nearest(self, query, k: int = 10, exclude=()) -> list[tuple[str, float]]:
        """The `k` words whose vectors have the largest cosine with `query` (a word or a vector).

        Words in `exclude` are skipped. Returns (word, cosine) pairs, most similar first.
        """
        vector = self.vectors[self._row("query", query)] if isinstance(query, str) else query
        if vector.shape != self.vectors.shape[1:] or not vector.abs().sum() > 0:
            raise ValueError(
                f"query must be a word or a non-zero vector of length {self.vectors.shape[1]} (its cosines are "
                f"undefined otherwise), got shape {tuple(vector.shape)}" + (" of zeros" if vector.numel() else "")
            )
        cos = cosine_similarity(vector, self.vectors).clone()  # (n_words,)
        for word in exclude:
            cos[self._row("exclude", word)] = -torch.inf
        top = torch.topk(cos, min(k, len(self.words) - len(exclude)))
        return [(self.words[i], round(float(c), 4)) for c, i in zip(top.values, top.indices, strict=True)]


@lru_cache(maxsize=1)
def _load_glove_arrays() -> tuple[tuple[str, ...], torch.Tensor]:
    with resources.files("superpose_lib").joinpath("data", GLOVE_FILE).open("rb") as handle:
        archive = np.load(handle)
        words = tuple(archive["words"].tobytes().decode("ascii").split("\n"))
        vectors = torch.from_numpy(archive["vectors"].astype(np.float32))
    return words, vectors


@_validate.arguments(n_words=_validate.Optional(_validate.Int(1)))
def load_glove(n_words: int | None = None) -> WordVectors:
    """GloVe 6B 50-d vectors for the most frequent words (up to 40,000), from the package's data.

    Parameters
    ----------
    n_words : int, optional
        Keep only the `n_words` most frequent words (all 40,000 by default).

    Examples
    --------
    >>> wv = load_glove()
    >>> wv["king"].shape
    torch.Size([50])
    """
    words, vectors = _load_glove_arrays()
    if n_words is not None:
        if n_words > len(words):
            raise ValueError(f"n_words must be at most {len(words)} (the shipped subset), got {n_words}")
        words, vectors = words[:n_words], vectors[:n_words]
    return WordVectors(words, vectors.clone())


@_validate.arguments(
    wv=_validate.Instance(WordVectors), a=_validate.Text(), b=_validate.Text(), c=_validate.Text(), k=_validate.Int(1)
)
def analogy(wv: WordVectors, a: str, b: str, c: str, k: int = 5) -> list[tuple[str, float]]:
    """Solve "`a` is to `b` as `c` is to ?" by the words nearest (cosine) to ``wv[b] - wv[a] + wv[c]``.

    The three query words are excluded from the answers. Returns `k` (word, cosine) pairs.

    Examples
    --------
    >>> analogy(load_glove(), "man", "king", "woman", k=1)[0][0]
    'queen'
    """
    target = wv[b] - wv[a] + wv[c]
    return wv.nearest(target, k=k, exclude=(a, b, c))
