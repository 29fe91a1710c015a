"""Chapter 05: interference terms, the predicted readout error, the ReLU bias trade-off, the antipodal loss."""

from __future__ import annotations

import torch

from .. import interference
from ._common import _REFERENCES, _call, _number, _passed, _seeded, _tensor

_REFERENCES.update(
    interference_terms=interference.interference,
    predicted_readout_error=interference.expected_readout_error,
    bias_tradeoff=interference.bias_tradeoff,
    antipodal_loss=interference.antipodal_loss,
)


def _skewed_features(n: int, k: int, seed: int) -> torch.Tensor:
    """(n, k) columns with unequal lengths and mostly positive overlaps, so that shortcuts give other answers."""
    gen = _seeded(seed)
    W = torch.rand(n, k, generator=gen, dtype=torch.float64) + 0.1
    return W / W.norm(dim=0, keepdim=True) * torch.linspace(0.6, 1.3, k, dtype=torch.float64)


def check_interference_terms(interference_terms) -> None:
    """Check ``interference_terms(W, x)``: Σ_{i≠j} (wᵢ·wⱼ) xᵢ for every feature j; W (n, k), x (batch, k)."""
    name = "interference_terms"
    W = _skewed_features(4, 7, 0)
    x = torch.rand(5, 7, generator=_seeded(1), dtype=torch.float64)
    got = _tensor(name, _call(interference_terms, name, W, x))
    if tuple(got.shape) != (5, 7):
        raise AssertionError(
            f"{name} returned shape {tuple(got.shape)}, expected (batch, k) = (5, 7): the Gram matrix of the "
            "features is WᵀW, of shape (k, k), not W Wᵀ."
        )
    got = got.double()
    want = interference.interference(W, x)
    if torch.allclose(got, want, atol=1e-6):
        _passed(name, interference_terms, "Σ_{i≠j} (wᵢ·wⱼ) xᵢ: the readout minus each feature's own term.")
        return
    gram = W.T @ W
    if torch.allclose(got, x @ gram, atol=1e-6):
        raise AssertionError(f"{name} returned the whole readout WᵀW x: leave out each feature's own term (i = j).")
    if torch.allclose(got, x @ gram - x, atol=1e-6):
        raise AssertionError(
            f"{name} subtracted x itself, which is right only for unit-length features: remove the diagonal of WᵀW "
            "(each feature's own term (wⱼ·wⱼ) xⱼ) instead."
        )
    raise AssertionError(f"{name} differs from Σ_{{i≠j}} (wᵢ·wⱼ) xᵢ = x @ (WᵀW with its diagonal set to 0).")


def check_predicted_readout_error(predicted_readout_error) -> None:
    """Check ``predicted_readout_error(W, p)``: E[(x̂ⱼ − xⱼ)²] for x̂ = WᵀW x, per feature, shape (k,)."""
    name = "predicted_readout_error"
    W = _skewed_features(3, 6, 2)
    p = 0.4
    got = _tensor(name, _call(predicted_readout_error, name, W, p), (6,)).double()
    want = interference.expected_readout_error(W, p)
    if torch.allclose(got, want, rtol=1e-6, atol=1e-9):
        _passed(name, predicted_readout_error, "(p/3) Σ aᵢⱼ² + (p²/4) [(Σ aᵢⱼ)² − Σ aᵢⱼ²], with a = WᵀW − I.")
        return
    a = W.T @ W - torch.eye(6, dtype=torch.float64)
    squares, sums = (a**2).sum(dim=0), a.sum(dim=0)
    if torch.allclose(got, p / 3 * squares, rtol=1e-6):
        raise AssertionError(
            f"{name} kept only the first term: features have a non-zero mean p/2, so the cross terms add "
            "(p²/4) [(Σᵢ aᵢⱼ)² − Σᵢ aᵢⱼ²]."
        )
    if torch.allclose(got, p / 2 * squares + p**2 / 4 * (sums**2 - squares), rtol=1e-6):
        raise AssertionError(f"{name} used E[x²] = p/2: for x uniform on [0, 1] when on, E[x²] = p/3.")
    g = W.T @ W
    g_squares, g_sums = (g**2).sum(dim=0), g.sum(dim=0)
    if torch.allclose(got, p / 3 * g_squares + p**2 / 4 * (g_sums**2 - g_squares), rtol=1e-6):
        raise AssertionError(f"{name} used the Gram matrix itself: subtract the true activation, a = WᵀW − I.")
    raise AssertionError(f"{name} differs from (p/3) Σᵢ aᵢⱼ² + (p²/4) [(Σᵢ aᵢⱼ)² − Σᵢ aᵢⱼ²] with a = WᵀW − I.")


def check_bias_tradeoff(bias_tradeoff) -> None:
    """Check ``bias_tradeoff(W, x, biases)``: the (len(biases), 2) errors of ReLU(WᵀW x + b) on active and
    inactive features, summed over features and averaged over samples."""
    name = "bias_tradeoff"
    W = torch.randn(5, 12, generator=_seeded(3), dtype=torch.float64) / 2  # overlaps of both signs
    x = interference.sparse_features(40, 12, 0.2, generator=_seeded(4)).double()
    biases = [0.0, -0.1, -0.3]
    got = _tensor(name, _call(bias_tradeoff, name, W, x, biases), (3, 2)).double()
    want = interference.bias_tradeoff(W, x, biases)
    if torch.allclose(got, want, rtol=1e-5, atol=1e-9):
        _passed(name, bias_tradeoff, "errors on active and inactive features for every bias.")
        return
    if torch.allclose(got, want.flip(1), rtol=1e-5):
        raise AssertionError(f"{name}: the columns are swapped — column 0 is the error on active features (x > 0).")
    clean = x @ W.T @ W
    active = x > 0

    def split(out, reduce_features="sum"):
        error = (out - x) ** 2
        parts = [(error * active), (error * ~active)]
        if reduce_features == "sum":
            return torch.stack([part.sum(dim=1).mean() for part in parts])
        return torch.stack([part.mean() for part in parts])

    if torch.allclose(got, torch.stack([split(torch.relu(clean) + b) for b in biases]), rtol=1e-5):
        raise AssertionError(f"{name} added the bias after the ReLU: the readout is ReLU(WᵀW x + b).")
    if torch.allclose(got, torch.stack([split(clean + b) for b in biases]), rtol=1e-5):
        raise AssertionError(f"{name} forgot the ReLU: the readout is ReLU(WᵀW x + b).")
    if torch.allclose(got, torch.stack([split(torch.relu(clean + b), "mean") for b in biases]), rtol=1e-5):
        raise AssertionError(f"{name} averaged over features too: sum over features, then average over samples.")
    raise AssertionError(f"{name} differs from the errors of ReLU(WᵀW x + b) split by x > 0 and x = 0.")


def check_antipodal_loss(antipodal_loss) -> None:
    """Check ``antipodal_loss(importance, n, p)``: the expected loss of the top 2n features in antipodal pairs."""
    name = "antipodal_loss"
    importance = 0.8 ** torch.arange(10, dtype=torch.float64)
    n, p = 3, 0.2
    got = _number(name, _call(antipodal_loss, name, importance, n, p))
    want = interference.antipodal_loss(importance, n, p)
    if abs(got - want) < 1e-9 * max(1.0, abs(want)):
        _passed(name, antipodal_loss, "pairs cost (Iₐ + I_b) p²/6, dropped features Iᵢ (p/3 − p²/4), averaged over k.")
        return
    paired, dropped, k = importance[:6].sum().item(), importance[6:].sum().item(), 10
    if abs(got - (paired * p / 6 + dropped * (p / 3 - p**2 / 4)) / k) < 1e-9:
        raise AssertionError(f"{name}: a pair errs only when both features are on at once, with probability p².")
    if abs(got - (paired * p**2 / 3 + dropped * (p / 3 - p**2 / 4)) / k) < 1e-9:
        raise AssertionError(f"{name}: when both are on, each is off by min(xₐ, x_b), whose mean square is 1/6.")
    if abs(got - (paired * p**2 / 6 + dropped * p / 3) / k) < 1e-9:
        raise AssertionError(
            f"{name}: a dropped feature's best constant guess is its mean p/2, leaving its variance p/3 − p²/4."
        )
    if abs(got - (paired * p**2 / 6 + dropped * (p / 3 - p**2 / 4))) < 1e-9:
        raise AssertionError(f"{name} returned the sum over features: average over the k features, as the toy model.")
    raise AssertionError(f"{name} returned {got:.6f}, expected {want:.6f}.")
