"""Interactive explorers for the notebooks (core ipywidgets). Callbacks stay thin: each one calls a tested
library function and formats its result, so nothing that matters lives only inside a widget."""

from __future__ import annotations

import ipywidgets

from .embeddings import UnknownWordError, WordVectors, analogy


def analogy_answers(wv: WordVectors, a: str, b: str, c: str, k: int = 5) -> str:
    """The text the analogy explorer shows: the answers, or what is wrong with the words typed."""
    words = [word.strip().lower() for word in (a, b, c)]
    if not all(words):
        return "type three words"
    try:
        answers = analogy(wv, *words, k=k)
    except UnknownWordError as error:
        return str(error)
    listed = ", ".join(f"{word} ({cos:.2f})" for word, cos in answers)
    return f"{words[0]} : {words[1]} :: {words[2]} : ?  →  {listed}"


def analogy_explorer(wv: WordVectors, a: str = "man", b: str = "king", c: str = "woman", k: int = 5):
    """Three text boxes ("a is to b as c is to ?") and the `k` best answers, updated when a box changes."""

    def show(a, b, c):
        print(analogy_answers(wv, a, b, c, k))

    boxes = {
        name: ipywidgets.Text(value=value, description=name, continuous_update=False)
        for name, value in (("a", a), ("b", b), ("c", c))
    }
    return ipywidgets.interactive(show, **boxes)
