"""Chapter 02: rotating a hidden layer, kurtosis, class selectivity, top-activating examples."""

from __future__ import annotations

import torch

from .. import digits, geometry, metrics
from ._common import _REFERENCES, _call, _passed, _seeded, _tensor


def _reference_rotate_hidden_layer(W1, b1, W2, R):
    return R @ W1, R @ b1, W2 @ R.T


def _reference_pearson_kurtosis(x):
    return metrics.kurtosis(x, dim=0)


def _reference_class_selectivity(activations, labels, n_classes=10):
    return digits.class_selectivity(activations, labels, n_classes)


def _reference_top_activating(activations, k):
    return digits.top_activating(activations, k)


_REFERENCES.update(
    rotate_hidden_layer=_reference_rotate_hidden_layer,
    pearson_kurtosis=_reference_pearson_kurtosis,
    class_selectivity=_reference_class_selectivity,
    top_activating=_reference_top_activating,
)


def check_rotate_hidden_layer(rotate_hidden_layer) -> None:
    """Check ``rotate_hidden_layer(W1, b1, W2, R)`` → (R W₁, R b₁, W₂ Rᵀ)."""
    name = "rotate_hidden_layer"
    gen = _seeded(0)
    d_in, d_hidden, n_classes = 6, 4, 3
    W1 = torch.randn(d_hidden, d_in, generator=gen, dtype=torch.float64)
    b1 = torch.randn(d_hidden, generator=gen, dtype=torch.float64)
    W2 = torch.randn(n_classes, d_hidden, generator=gen, dtype=torch.float64)
    R = geometry.random_rotation(d_hidden, generator=gen).double()
    result = _call(rotate_hidden_layer, name, W1, b1, W2, R)
    if not isinstance(result, tuple | list) or len(result) != 3:
        raise AssertionError(
            f"{name} should return three tensors (W1_new, b1_new, W2_new), got {type(result).__name__}"
        )
    W1_new, b1_new, W2_new = (_tensor(name, value).double() for value in result)
    shapes = (tuple(W1_new.shape), tuple(b1_new.shape), tuple(W2_new.shape))
    if shapes != ((d_hidden, d_in), (d_hidden,), (n_classes, d_hidden)):
        raise AssertionError(
            f"{name} returned shapes {shapes}, expected {((d_hidden, d_in), (d_hidden,), (n_classes, d_hidden))}: "
            "the shapes do not change, R multiplies W₁ and b₁ on the left and W₂ on the right."
        )
    if torch.allclose(W1_new, R.T @ W1) and torch.allclose(W2_new, W2 @ R):
        raise AssertionError(f"{name} rotated by Rᵀ instead of R: the new first layer is R W₁ and the new W₂ is W₂ Rᵀ.")
    if not torch.allclose(W1_new, R @ W1):
        raise AssertionError(f"{name}: the new first layer should be R W₁ (R @ W1), so that z' = R z.")
    if torch.allclose(b1_new, b1):
        raise AssertionError(f"{name} left b₁ unchanged: rotate the bias too (R @ b1), or z' ≠ R z.")
    if not torch.allclose(b1_new, R @ b1):
        raise AssertionError(f"{name}: the new bias should be R b₁ (R @ b1).")
    if torch.allclose(W2_new, W2 @ R):
        raise AssertionError(f"{name} used W₂ R: the second layer must undo R, and R⁻¹ = Rᵀ, so use W2 @ R.T.")
    if not torch.allclose(W2_new, W2 @ R.T):
        raise AssertionError(f"{name}: the new second layer should be W₂ Rᵀ (W2 @ R.T), which undoes R.")
    x = torch.randn(5, d_in, generator=gen, dtype=torch.float64)
    same = torch.allclose((x @ W1_new.T + b1_new) @ W2_new.T, (x @ W1.T + b1) @ W2.T)
    if not same:  # pragma: no cover - implied by the checks above
        raise AssertionError(f"{name}: with an identity activation the rotated network should compute the same logits.")
    _passed(name, rotate_hidden_layer, "R W₁, R b₁, W₂ Rᵀ: a linear network's logits are unchanged.")


def check_pearson_kurtosis(pearson_kurtosis) -> None:
    """Check ``pearson_kurtosis(x)``: E[(x − μ)⁴] / σ⁴ along dim 0 (a Gaussian gives 3), shape (n_units,)."""
    name = "pearson_kurtosis"
    gen = _seeded(0)
    # Few samples (so n versus n − 1 matters), columns with non-zero means (so centring matters).
    x = torch.randn(12, 3, generator=gen, dtype=torch.float64) + torch.tensor([0.0, 2.0, -1.0], dtype=torch.float64)
    x[0, 0] = 6.0
    want = metrics.kurtosis(x, dim=0)
    got = _tensor(name, _call(pearson_kurtosis, name, x))
    if tuple(got.shape) == (12,):
        raise AssertionError(f"{name} returned one value per sample: take the moments along dim=0 (the samples).")
    _tensor(name, got, (3,))
    got = got.double()
    if torch.allclose(got, want, atol=1e-6):
        spikes = _tensor(name, _call(pearson_kurtosis, name, torch.tensor([[-1.0], [1.0], [-1.0], [1.0]])), (1,))
        if not torch.allclose(spikes.double(), torch.ones(1, dtype=torch.float64), atol=1e-5):
            raise AssertionError(f"{name} of ±1 spikes should be exactly 1.")
        _passed(name, pearson_kurtosis, "Pearson kurtosis E[(x − μ)⁴] / σ⁴ per column (3 for a Gaussian).")
        return
    if torch.allclose(got, want - 3, atol=1e-6):
        raise AssertionError(
            f"{name} returned the excess kurtosis (κ − 3): the course uses Pearson's, without the − 3."
        )
    raw = x.pow(4).mean(dim=0) / x.pow(2).mean(dim=0).pow(2)
    if torch.allclose(got, raw, atol=1e-6):
        raise AssertionError(f"{name} did not subtract the mean: centre each column first, x − x.mean(dim=0).")
    centred = x - x.mean(dim=0)
    unbiased = centred.pow(4).mean(dim=0) / x.var(dim=0, unbiased=True).pow(2)
    if torch.allclose(got, unbiased, atol=1e-6):
        raise AssertionError(
            f"{name} used the n − 1 variance (torch.var's default): use plain moments, (x − μ)².mean(dim=0)."
        )
    std_not_squared = centred.pow(4).mean(dim=0) / centred.pow(2).mean(dim=0)
    if torch.allclose(got, std_not_squared, atol=1e-6):
        raise AssertionError(f"{name}: divide by σ⁴, the variance squared, not by the variance.")
    raise AssertionError(f"{name} returned {got.tolist()}, expected {want.tolist()}: κ = E[(x − μ)⁴] / σ⁴.")


def check_class_selectivity(class_selectivity) -> None:
    """Check ``class_selectivity(activations, labels, n_classes)`` → (μ_max − μ_rest) / (μ_max + μ_rest)."""
    name = "class_selectivity"
    gen = _seeded(0)
    n_classes = 4
    labels = torch.arange(40) % n_classes
    # Unequal class sizes would make "mean over the other examples" differ from "mean of the other class means".
    labels = torch.cat([labels, torch.zeros(20, dtype=torch.int64)])
    activations = torch.rand(60, 5, generator=gen, dtype=torch.float64) * torch.tensor([1.0, 2, 0.5, 3, 1])
    activations[labels == 2, 1] += 4  # neuron 1 prefers class 2
    activations[labels == 0, 3] += 2  # neuron 3 prefers the big class 0
    want = digits.class_selectivity(activations, labels, n_classes)
    got = _tensor(name, _call(class_selectivity, name, activations, labels, n_classes))
    if tuple(got.shape) == (n_classes,):
        raise AssertionError(f"{name} returned one value per class: return one selectivity per neuron, shape (5,).")
    got = _tensor(name, got, (5,)).double()
    if torch.allclose(got, want, atol=1e-6):
        dead = _tensor(name, _call(class_selectivity, name, torch.zeros(8, 2), torch.arange(8) % 4, 4), (2,))
        if torch.isnan(dead).any():
            raise AssertionError(f"{name} gave NaN for a neuron that never fires (0 / 0): return 0 for it.")
        _passed(name, class_selectivity, "(μ_max − μ_rest) / (μ_max + μ_rest) per neuron.")
        return
    means = digits.class_means(activations, labels, n_classes)
    top = means.max(dim=0).values
    overall = activations.mean(dim=0)
    if torch.allclose(got, (top - overall) / (top + overall), atol=1e-6):
        raise AssertionError(
            f"{name} compared with the mean over all examples: μ_rest is the average of the *other* classes' means."
        )
    rest = (means.sum(dim=0) - top) / (n_classes - 1)
    if torch.allclose(got, top - rest, atol=1e-6):
        raise AssertionError(f"{name} forgot to divide by μ_max + μ_rest (the index should lie in [0, 1]).")
    second = means.topk(2, dim=0).values[1]
    if torch.allclose(got, (top - second) / (top + second), atol=1e-6):
        raise AssertionError(f"{name} compared with the second-best class: μ_rest averages all the other classes.")
    others = [(activations[labels != c, i].mean()) for i, c in enumerate(means.argmax(dim=0).tolist())]
    pooled = torch.stack(others)
    if torch.allclose(got, (top - pooled) / (top + pooled), atol=1e-6):
        raise AssertionError(
            f"{name} pooled the examples of the other classes: average the other classes' *means* instead, "
            "so that a large class does not count more."
        )
    raise AssertionError(f"{name} returned {got.tolist()}, expected {want.tolist()}.")


def check_top_activating(top_activating) -> None:
    """Check ``top_activating(activations, k)`` → (d_hidden, k) indices of each neuron's strongest examples."""
    name = "top_activating"
    gen = _seeded(0)
    activations = torch.randn(30, 4, generator=gen)
    want = digits.top_activating(activations, 5)
    got = _tensor(name, _call(top_activating, name, activations, 5))
    if tuple(got.shape) == (5, 4):
        raise AssertionError(f"{name} returned shape (k, d_hidden) = (5, 4): return one row per neuron, (4, 5).")
    if got.ndim == 2 and got.shape[0] == 30:
        raise AssertionError(
            f"{name} ranked along the wrong dimension: for each neuron (column) rank the examples (rows), "
            "e.g. on activations.T."
        )
    got = _tensor(name, got, (4, 5))
    if torch.equal(got.long(), want):
        _passed(name, top_activating, "each neuron's k strongest examples, strongest first.")
        return
    if torch.equal(got.long(), torch.topk(activations.T, 5, dim=1, largest=False).indices):
        raise AssertionError(f"{name} returned the weakest examples: sort in descending order (largest first).")
    if torch.equal(got.long().sort(dim=1).values, want.sort(dim=1).values):
        raise AssertionError(f"{name} found the right examples in the wrong order: list the strongest first.")
    raise AssertionError(f"{name} returned {got.tolist()}, expected {want.tolist()}.")
