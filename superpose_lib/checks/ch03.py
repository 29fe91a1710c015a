"""Chapter 03: reading features, composing a neuron, a difference-of-means probe, alignment with neurons."""

from __future__ import annotations

import torch

from .. import geometry
from ._common import _REFERENCES, _call, _passed, _seeded, _tensor


def _reference_read_features(h, W):
    return h @ W


def _reference_neuron_weights(W, coefficients):
    return W @ coefficients


def _reference_mean_difference_probe(activations, targets):
    targets = targets.bool()
    direction = activations[targets].mean(dim=0) - activations[~targets].mean(dim=0)
    return direction / direction.norm()


def _reference_max_axis_cosine(direction):
    return direction.abs().max() / direction.norm()


_REFERENCES.update(
    read_features=_reference_read_features,
    neuron_weights=_reference_neuron_weights,
    mean_difference_probe=_reference_mean_difference_probe,
    max_axis_cosine=_reference_max_axis_cosine,
)


def _orthonormal(n, k, gen):
    return geometry.random_rotation(n, generator=gen).double()[:, :k]  # (n, k)


def check_read_features(read_features) -> None:
    """Check ``read_features(h, W)``: x̂ with x̂[b, j] = h[b] · W[:, j], shape (batch, k)."""
    name = "read_features"
    gen = _seeded(0)
    n, k = 6, 4
    W = _orthonormal(n, k, gen)
    x = torch.rand(5, k, generator=gen, dtype=torch.float64)
    h = x @ W.T  # (batch, n)
    got = _tensor(name, _call(read_features, name, h, W))
    if tuple(got.shape) == (k, 5):
        raise AssertionError(
            f"{name} returned shape (k, batch): return one row per input, shape (batch, k) = (5, {k})."
        )
    got = _tensor(name, got, (5, k)).double()
    if not torch.allclose(got, x, atol=1e-6):
        raise AssertionError(
            f"{name} did not recover x for orthonormal directions: x̂ = h @ W (h · wⱼ for each column)."
        )
    # A square, non-orthogonal W separates the readout h·wⱼ from other plausible answers.
    W_sq = torch.randn(4, 4, generator=gen, dtype=torch.float64)
    h_sq = torch.randn(3, 4, generator=gen, dtype=torch.float64)
    got_sq = _tensor(name, _call(read_features, name, h_sq, W_sq), (3, 4)).double()
    if torch.allclose(got_sq, h_sq @ W_sq, atol=1e-6):
        _passed(name, read_features, "x̂ⱼ = h · wⱼ for every feature j, exact for orthonormal directions.")
        return
    if torch.allclose(got_sq, h_sq @ W_sq.T, atol=1e-6):
        raise AssertionError(f"{name} used the rows of W: the feature directions are its columns, so use h @ W.")
    if torch.allclose(got_sq, h_sq @ torch.linalg.pinv(W_sq).T, atol=1e-6):
        raise AssertionError(
            f"{name} solved for x (pseudo-inverse): the readout asked for is the dot product h · wⱼ, h @ W, whose "
            "errors are the interference this chapter studies."
        )
    raise AssertionError(f"{name}: the readout of feature j is the dot product h · wⱼ, i.e. h @ W.")


def check_neuron_weights(neuron_weights) -> None:
    """Check ``neuron_weights(W, coefficients)`` → v = Σᵢ cᵢ wᵢ (shape (n,)), so that v · wᵢ = cᵢ."""
    name = "neuron_weights"
    gen = _seeded(0)
    n, k = 7, 4
    W = _orthonormal(n, k, gen)
    c = torch.tensor([0.0, 1.0, -2.0, 0.5], dtype=torch.float64)
    got = _tensor(name, _call(neuron_weights, name, W, c))
    if tuple(got.shape) == (k,):
        raise AssertionError(
            f"{name} returned {k} numbers, one per feature: the neuron's weights live in the hidden space, "
            f"v = Σᵢ cᵢ wᵢ has shape (n,) = ({n},)."
        )
    got = _tensor(name, got, (n,)).double()
    if torch.allclose(got, -(W @ c), atol=1e-6):
        raise AssertionError(f"{name} has the wrong sign: v · wᵢ should equal +cᵢ.")
    if not torch.allclose(got @ W, c, atol=1e-6):
        raise AssertionError(f"{name}: v · wᵢ should equal cᵢ for every feature; build v = Σᵢ cᵢ wᵢ = W @ c.")
    Q = geometry.random_rotation(4, generator=gen).double()  # square: W.T @ c has the right shape but is wrong
    got_sq = _tensor(name, _call(neuron_weights, name, Q, c), (4,)).double()
    if torch.allclose(got_sq, Q.T @ c, atol=1e-6) and not torch.allclose(Q.T @ c, Q @ c, atol=1e-6):
        raise AssertionError(f"{name} used the rows of W: the feature directions are its columns, v = W @ c.")
    if not torch.allclose(got_sq, Q @ c, atol=1e-6):
        raise AssertionError(f"{name}: build v = Σᵢ cᵢ wᵢ = W @ c.")
    _passed(name, neuron_weights, "v = Σᵢ cᵢ wᵢ, so the neuron computes Σᵢ cᵢ xᵢ.")


def check_mean_difference_probe(mean_difference_probe) -> None:
    """Check ``mean_difference_probe(activations, targets)`` → unit vector along mean(h | 1) − mean(h | 0)."""
    name = "mean_difference_probe"
    gen = _seeded(0)
    activations = torch.rand(40, 5, generator=gen, dtype=torch.float64) + 1.0  # positive, like ReLU activations
    targets = torch.zeros(40, dtype=torch.bool)
    targets[:12] = True
    activations[:12, 1] += 2.0
    activations[:12, 3] -= 0.5
    want = _reference_mean_difference_probe(activations, targets)
    got = _tensor(name, _call(mean_difference_probe, name, activations, targets))
    if tuple(got.shape) == (40,):
        raise AssertionError(f"{name} returned one value per example: average over the examples, dim=0.")
    got = _tensor(name, got, (5,)).double()
    if torch.allclose(got, want, atol=1e-6):
        as_ints = _tensor(name, _call(mean_difference_probe, name, activations, targets.long()), (5,)).double()
        if not torch.allclose(as_ints, want, atol=1e-6):
            raise AssertionError(f"{name} fails when targets hold 0/1 integers: convert them with targets.bool().")
        _passed(name, mean_difference_probe, "the unit vector from the mean of class 0 to the mean of class 1.")
        return
    if torch.allclose(got, -want, atol=1e-6):
        raise AssertionError(f"{name} points the wrong way: subtract the mean of class 0 from the mean of class 1.")
    if torch.allclose(got / got.norm(), want, atol=1e-6):
        raise AssertionError(f"{name} is not unit length: divide the difference by its norm.")
    positive = activations[targets].mean(dim=0)
    if torch.allclose(got / got.norm(), positive / positive.norm(), atol=1e-6):
        raise AssertionError(f"{name} used only the mean of class 1: subtract the mean of class 0.")
    raise AssertionError(f"{name}: return (mean of class 1 − mean of class 0), divided by its norm.")


def check_max_axis_cosine(max_axis_cosine) -> None:
    """Check ``max_axis_cosine(direction)`` → the largest |cos| between `direction` (d,) and a neuron axis eᵢ."""
    name = "max_axis_cosine"
    direction = torch.tensor([0.5, -3.0, 2.0, 1.0], dtype=torch.float64)
    want = 3.0 / direction.norm()
    got = _tensor(name, torch.as_tensor(_call(max_axis_cosine, name, direction)))
    if got.numel() != 1:
        raise AssertionError(
            f"{name} returned {got.numel()} numbers: return the single largest |cos| (a scalar), not one per neuron."
        )
    value = got.double().item()
    if abs(value - want.item()) < 1e-6:
        for test, expected in ((torch.tensor([0.0, 2.0, 0.0]), 1.0), (torch.ones(4), 0.5)):
            result = torch.as_tensor(_call(max_axis_cosine, name, test)).double()
            if result.numel() != 1 or abs(result.item() - expected) > 1e-6:
                raise AssertionError(f"{name}({test.tolist()}) should be {expected}.")
        _passed(name, max_axis_cosine, "max |uᵢ| / ‖u‖: 1 for a neuron axis, 1/√d for the diagonal.")
        return
    if abs(value - 2.0 / direction.norm().item()) < 1e-6:
        raise AssertionError(f"{name} ignored negative components: a cosine of −0.9 is as aligned as 0.9, take .abs().")
    if abs(value - 3.0) < 1e-6:
        raise AssertionError(f"{name} forgot to divide by the length of the direction: cos = uᵢ / ‖u‖.")
    if abs(value - 1.0) < 1e-6:
        raise AssertionError(f"{name} returned the index of the neuron, not the cosine.")
    raise AssertionError(f"{name}({direction.tolist()}) returned {value:.4f}, expected {want.item():.4f}.")
