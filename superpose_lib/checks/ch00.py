"""Chapter 00: the toy model's pieces."""

from __future__ import annotations

import torch

from ._common import _REFERENCES, _call, _passed, _require_reproducible, _seeded, _tensor


def _reference_generate_batch(n_batch, n_features, feature_probability, generator=None):
    values = torch.rand(n_batch, n_features, generator=generator)
    present = torch.rand(n_batch, n_features, generator=generator) < feature_probability
    return values * present


def _reference_toy_forward(W, b, x):
    h = x @ W.T  # (batch, d_hidden)
    return torch.relu(h @ W + b)  # (batch, n_features)


def _reference_importance_weighted_loss(x, x_hat, importance):
    return (importance * (x - x_hat) ** 2).mean()


def _reference_feature_norms(W):
    return W.norm(dim=0)


_REFERENCES.update(
    generate_batch=_reference_generate_batch,
    toy_forward=_reference_toy_forward,
    importance_weighted_loss=_reference_importance_weighted_loss,
    feature_norms=_reference_feature_norms,
)


def check_generate_batch(generate_batch) -> None:
    """Check ``generate_batch(n_batch, n_features, feature_probability, generator)``."""
    name = "generate_batch"
    for probability in (1.0, 0.3, 0.05):
        x = _tensor(name, _call(generate_batch, name, 20_000, 10, probability, generator=_seeded(0)), (20_000, 10))
        if not x.is_floating_point():
            raise AssertionError(f"{name} should return floats, got dtype {x.dtype}")
        if (x < 0).any() or (x > 1).any():
            raise AssertionError(
                f"{name} returned values outside [0, 1] (min {x.min():.2f}, max {x.max():.2f}): "
                "non-zero features are uniform on [0, 1], so use torch.rand, not torch.randn."
            )
        fraction = (x != 0).float().mean().item()
        if abs(fraction - probability) > 0.01:
            if abs(fraction - (1 - probability)) < 0.01 and probability != 0.5:
                hint = "did you keep features with probability 1 − p instead of p?"
            elif fraction > 0.99:
                hint = "did you forget to set each feature to zero with probability 1 − feature_probability?"
            else:
                hint = "each feature should be non-zero independently with probability feature_probability."
            raise AssertionError(
                f"with feature_probability={probability}, {fraction:.1%} of the features were non-zero: {hint}"
            )
        nonzero = x[x != 0]
        if abs(nonzero.mean().item() - 0.5) > 0.02 or abs((nonzero < 0.25).float().mean().item() - 0.25) > 0.02:
            raise AssertionError(
                f"the non-zero values of {name} should be uniform on [0, 1] (mean 0.5), got mean "
                f"{nonzero.mean():.2f}: draw the values with torch.rand and the on/off mask separately."
            )
    _require_reproducible(generate_batch, name, (100, 5, 0.5), "torch.rand")
    _passed(name, generate_batch, "the right sparsity, uniform values on [0, 1], reproducible from a seed.")


def check_toy_forward(toy_forward) -> None:
    """Check ``toy_forward(W, b, x)`` = ReLU(Wᵀ W x + b) for a batch x of shape (batch, n_features)."""
    name = "toy_forward"
    for seed, (n_features, d_hidden, batch) in enumerate([(5, 2, 7), (20, 5, 3), (3, 3, 1)]):
        gen = _seeded(seed)
        W = torch.randn(d_hidden, n_features, generator=gen)
        b = torch.randn(n_features, generator=gen)
        x = torch.rand(batch, n_features, generator=gen)
        got = _tensor(name, _call(toy_forward, name, W, b, x), (batch, n_features))
        want = _reference_toy_forward(W, b, x)
        if torch.allclose(got, want, atol=1e-5):
            continue
        if torch.allclose(got, (x @ W.T) @ W + b, atol=1e-5):
            raise AssertionError(f"{name} returned negative outputs: did you forget the ReLU?")
        if torch.allclose(got, torch.relu((x @ W.T) @ W), atol=1e-5):
            raise AssertionError(f"{name} ignores b: did you forget to add the bias before the ReLU?")
        if torch.allclose(got, torch.relu((x @ W.T) @ W) + b, atol=1e-5):
            raise AssertionError(f"{name}: add the bias before the ReLU, not after it.")
        raise AssertionError(
            f"{name} does not compute ReLU(Wᵀ W x + b) for a batch: with x of shape (batch, n_features), "
            "h = x @ W.T has shape (batch, d_hidden) and the output is ReLU(h @ W + b)."
        )
    _passed(name, toy_forward, "ReLU(Wᵀ W x + b) for every sample of the batch.")


def check_importance_weighted_loss(importance_weighted_loss) -> None:
    """Check ``importance_weighted_loss(x, x_hat, importance)``: the mean of importance · (x − x_hat)²."""
    name = "importance_weighted_loss"
    gen = _seeded(0)
    x, x_hat = torch.rand(64, 5, generator=gen), torch.rand(64, 5, generator=gen)
    importance = 0.7 ** torch.arange(5.0)
    got = _call(importance_weighted_loss, name, x, x_hat, importance)
    got = _tensor(name, torch.as_tensor(got) if isinstance(got, float) else got)
    if got.numel() != 1:
        raise AssertionError(f"{name} should return a single number, got shape {tuple(got.shape)}: take the mean.")
    got = got.reshape(()).item()
    want = _reference_importance_weighted_loss(x, x_hat, importance).item()
    if abs(got - want) <= 1e-5 * max(1.0, abs(want)):
        edge = float(_call(importance_weighted_loss, name, x[:1], x[:1] + 1.0, torch.zeros(5)))
        if edge != 0.0:
            raise AssertionError(f"{name} should be 0 when every importance is 0, got {edge:.4f}.")
        _passed(name, importance_weighted_loss, "the importance-weighted mean squared error.")
        return
    squared = (x - x_hat) ** 2
    mistakes = [
        (((x - x_hat) ** 2).mean(), "did you forget to multiply by the importance?"),
        ((importance * squared).sum(), "take the mean over batch and features, not the sum."),
        ((importance * squared).sum(dim=1).mean(), "average over the features too, not only over the batch."),
        ((importance * (x - x_hat).abs()).mean(), "square the errors, (x − x_hat)², rather than taking |x − x_hat|."),
        ((importance**2 * squared).mean(), "weight the squared error by the importance, not its square."),
    ]
    for value, hint in mistakes:
        if abs(got - value.item()) <= 1e-5 * max(1.0, abs(value.item())):
            raise AssertionError(f"{name} returned {got:.4f}, expected {want:.4f}: {hint}")
    raise AssertionError(f"{name} returned {got:.4f}, expected {want:.4f} = mean(importance · (x − x_hat)²).")


def check_feature_norms(feature_norms) -> None:
    """Check ``feature_norms(W)``: the length of each column (feature direction) of W."""
    name = "feature_norms"
    W = torch.randn(2, 5, generator=_seeded(0))
    got = _call(feature_norms, name, W)
    if isinstance(got, torch.Tensor) and tuple(got.shape) == (2,):
        raise AssertionError(
            f"{name} returned 2 numbers for W of shape (2, 5): features are the columns of W, "
            "so take the norm along dim=0 (one number per feature)."
        )
    got = _tensor(name, got, (5,))
    want = _reference_feature_norms(W)
    if torch.allclose(got, want**2, atol=1e-5):
        raise AssertionError(f"{name} returned squared lengths: take the square root (or use .norm(dim=0)).")
    if not torch.allclose(got, want, atol=1e-5):
        raise AssertionError(f"{name} should return ‖W[:, i]‖ for each feature i, got {got} instead of {want}.")
    _passed(name, feature_norms, "one length per feature (column of W).")
