"""Interactive explorers for the notebooks (core ipywidgets). Callbacks stay thin: each one calls a tested
library function and formats its result, so nothing that matters lives only inside a widget."""

from __future__ import annotations

import ipywidgets

from . import _validate
from .embeddings import UnknownWordError, WordVectors, analogy

_ALMOST_ORTHOGONAL = {  # the almost-orthogonality explorer's arguments, declared once for its two views
    "n": _validate.Int(1),
    "k": _validate.Int(2),
    "eps": _validate.Real(0, 1, low_open=True, high_open=True),
    "seed": _validate.Int(0),
}
_ANALOGY = {"wv": _validate.Instance(WordVectors), "a": _validate.Text(), "b": _validate.Text(), "c": _validate.Text(),
            "k": _validate.Int(1)}  # fmt: skip
_TOY_GEOMETRY = {
    "density": _validate.Real(0, 1, low_open=True),
    "importance_decay": _validate.Real(0, 1, low_open=True),
}


@_validate.arguments(**_ANALOGY)
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


@_validate.arguments(**_ANALOGY)
def analogy_explorer(wv: WordVectors, a: str = "man", b: str = "king", c: str = "woman", k: int = 5):
    """Three text boxes ("a is to b as c is to ?") and the `k` best answers, updated when a box changes."""

    def show(a, b, c):
        print(analogy_answers(wv, a, b, c, k))

    boxes = {
        name: ipywidgets.Text(value=value, description=name, continuous_update=False)
        for name, value in (("a", a), ("b", b), ("c", c))
    }
    return ipywidgets.interactive(show, **boxes)


# Chapter 04


@_validate.arguments(**_ALMOST_ORTHOGONAL)
def almost_orthogonal_summary(n: int, k: int, eps: float, seed: int = 0) -> str:
    """The numbers the almost-orthogonality explorer prints for k random unit vectors in R^n and tolerance eps."""
    import torch

    from .geometry import (
        almost_orthogonal_count,
        coherence,
        coherence_estimate,
        jl_min_dim,
        random_unit_vectors,
        welch_bound,
    )

    _validate.fits_in_memory("k", 4 * 8 * k * k)  # the pairs' cosines
    V = random_unit_vectors(k, n, seed=seed).double()
    rows, cols = torch.triu_indices(k, k, offset=1)
    cos = (V @ V.T)[rows, cols].abs()
    lines = [
        f"{k} random unit vectors in R^{n}: coherence {coherence(V).item():.3f} "
        f"(√(4 ln k/n) = {coherence_estimate(k, n, order=1):.3f}, second order {coherence_estimate(k, n):.3f}, "
        f"Welch floor {welch_bound(k, n):.3f})",
        f"pairs with |cos| < ε = {eps:g}: {(cos < eps).double().mean().item():.1%} of {cos.numel():,}",
        f"union bound: random vectors fit within ε while k < exp(nε²/4) = {almost_orthogonal_count(n, eps):,.0f}",
        f"JL: {k} points keep their distances within 1 ± ε in {jl_min_dim(k, eps):,} dimensions",
    ]
    return "\n".join(lines)


@_validate.arguments(**_ALMOST_ORTHOGONAL)
def almost_orthogonal_figure(n: int, k: int, eps: float, seed: int = 0):
    """Two panels for k random unit vectors in R^n: the histogram of their pairwise cosines over the exact
    density (with the band |t| < eps), and their coherence on the coherence-versus-k curves. Returns the figure."""
    import matplotlib.pyplot as plt
    import torch

    from .geometry import coherence, random_unit_vectors
    from .plotting import coherence_versus_k, dot_product_histogram

    _validate.fits_in_memory("k", 4 * 8 * k * k)  # the pairs' cosines
    V = random_unit_vectors(k, n, seed=seed).double()
    rows, cols = torch.triu_indices(k, k, offset=1)
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.6))
    dot_product_histogram((V @ V.T)[rows, cols], n, ax=axes[0], eps=eps, title=f"pairwise cosines, k = {k}, n = {n}")
    k_range = (2, max(10 * k, 100))
    coherence_versus_k(n, [k], measured=[coherence(V).item()], ax=axes[1], k_range=k_range)
    axes[1].set_xlim(*k_range)
    fig.tight_layout()
    return fig


@_validate.arguments(**_ALMOST_ORTHOGONAL)
def almost_orthogonal_explorer(n: int = 100, k: int = 300, eps: float = 0.2, seed: int = 0):
    """Sliders for n, k and eps that redraw `almost_orthogonal_figure` and print `almost_orthogonal_summary`."""
    import matplotlib.pyplot as plt

    def show(n, k, eps):
        almost_orthogonal_figure(n, k, eps, seed=seed)
        plt.show()
        print(almost_orthogonal_summary(n, k, eps, seed=seed))

    sliders = {
        "n": ipywidgets.IntSlider(value=n, min=2, max=1_000, step=1, description="n", continuous_update=False),
        "k": ipywidgets.IntSlider(value=k, min=2, max=2_000, step=1, description="k", continuous_update=False),
        "eps": ipywidgets.FloatSlider(
            value=eps, min=0.01, max=0.99, step=0.01, description="ε", continuous_update=False
        ),
    }
    return ipywidgets.interactive(show, **sliders)


# Chapter 06


@_validate.arguments(**_TOY_GEOMETRY, steps=_validate.Int(1), seed=_validate.Int(0))
def trained_toy_geometry(density: float, importance_decay: float, steps: int = 1_500, seed: int = 0):
    """Train the 5-features-in-2-dimensions model at one density and importance decay; return W (2, 5), b (5,).

    Importance of feature i is ``importance_decay ** i``. Results are cached, so moving a slider back is
    instant; a new setting trains in about a second.
    """
    key = (round(float(density), 4), round(float(importance_decay), 4), int(steps), int(seed))
    if key not in _TOY_GEOMETRIES:
        _TOY_GEOMETRIES[key] = _train_toy_geometry(*key)
    return _TOY_GEOMETRIES[key]


_TOY_GEOMETRIES: dict = {}


def _train_toy_geometry(density, importance_decay, steps, seed):
    import torch

    from .toy_models import ToyModel, train

    if not 0 < density <= 1:
        raise ValueError(f"density must lie in (0, 1], got {density}")
    if not 0 < importance_decay <= 1:
        raise ValueError(f"importance_decay must lie in (0, 1], got {importance_decay}")
    importance = importance_decay ** torch.arange(5.0)
    model = ToyModel(5, 2, feature_probability=density, importance=importance, seed=seed)
    train(model, steps=steps, lr=2e-2, schedule="cosine", seed=seed, progress=False)
    return model.W.detach()[0].clone(), model.b.detach()[0].clone()


@_validate.arguments(**_TOY_GEOMETRY)
def toy_model_explorer(density: float = 0.05, importance_decay: float = 0.9):
    """Sliders for feature density (log scale) and importance decay → the trained model's five feature directions."""
    import matplotlib.pyplot as plt

    from .metrics import n_represented
    from .plotting import feature_directions_2d

    def show(density, importance_decay):
        W, b = trained_toy_geometry(density, importance_decay)
        ax = feature_directions_2d(W, title=f"density {density:.3f}, importance {importance_decay:.2f}^i")
        ax.set_xlabel(f"{int(n_represented(W))} of 5 features represented; biases {b.numpy().round(2)}")
        plt.show()

    sliders = {
        "density": ipywidgets.FloatLogSlider(
            value=density, base=10, min=-2.5, max=0, step=0.1, continuous_update=False
        ),
        "importance_decay": ipywidgets.FloatSlider(
            value=importance_decay, min=0.5, max=1.0, step=0.05, continuous_update=False
        ),
    }
    return ipywidgets.interactive(show, **sliders)


# Chapter 11


@_validate.arguments(
    wv=_validate.Instance(WordVectors),
    dictionary=_validate.Tensor(ndim=2),
    word=_validate.Text(),
    n_nonzero=_validate.Int(1),
    k_words=_validate.Int(1),
)
def word_atoms_explorer(wv: WordVectors, dictionary, word: str = "bank", n_nonzero: int = 5, k_words: int = 5):
    """A text box for a word and a slider for its number of atoms; shows the word's atoms (`atoms.decompose`) as
    bars labelled by each atom's nearest words, or what is wrong with the word typed."""
    import matplotlib.pyplot as plt

    from .atoms import decompose
    from .plotting import word_atoms_bars

    def show(word, n_nonzero):
        word = word.strip().lower()
        if not word:
            print("type a word")
            return
        try:
            parts = decompose(wv, dictionary, word, n_nonzero=n_nonzero, k_words=k_words)
        except ValueError as error:  # an unknown word (UnknownWordError is a ValueError) or an impossible code
            print(str(error))
            return
        if not parts:
            print(f"{word!r} has an all-zero code: no atom correlates with it")
            return
        word_atoms_bars(word, parts)
        plt.show()

    # at most min(dim, n_atoms) atoms can be chosen (decompose's limit), and at most 10 are readable
    most = max(1, min(10, *getattr(dictionary, "shape", (10, 10))))
    controls = {
        "word": ipywidgets.Text(value=word, description="word", continuous_update=False),
        "n_nonzero": ipywidgets.IntSlider(
            value=min(n_nonzero, most), min=1, max=most, description="atoms", continuous_update=False
        ),
    }
    return ipywidgets.interactive(show, **controls)
