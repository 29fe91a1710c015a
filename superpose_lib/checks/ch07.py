"""Chapter 07: the geometry of superposition — feature dimensionality, 2-in-1 phase losses, a ReLU hidden layer."""

from __future__ import annotations

import torch

from ._common import _REFERENCES, _call, _passed, _seeded, _tensor


def _reference_dimensionality(W):
    G = W.T @ W
    squared_norms = torch.diagonal(G)
    denominator = G.pow(2).sum(dim=1)
    return torch.where(denominator > 0, squared_norms.pow(2) / denominator.clamp_min(1e-30), 0.0)


def _reference_two_feature_losses(r, p):
    r, p = torch.as_tensor(r, dtype=torch.float32), torch.as_tensor(p, dtype=torch.float32)
    dropped_one = p / 3 - p**2 / 4
    return torch.stack([r * dropped_one, dropped_one, (1 + r) * p**2 / 6])


def _reference_privileged_forward(W, b, x):
    h = torch.relu(x @ W.T)  # (batch, neurons)
    return torch.relu(h @ W + b)  # (batch, features)


_REFERENCES.update(
    dimensionality=_reference_dimensionality,
    two_feature_losses=_reference_two_feature_losses,
    privileged_forward=_reference_privileged_forward,
)


def check_dimensionality(dimensionality) -> None:
    """Check ``dimensionality(W)``: ``Dᵢ = ‖Wᵢ‖² / Σⱼ (Ŵᵢ·Wⱼ)²`` per column of W (0 for a zero column)."""
    name = "dimensionality"
    W = torch.tensor([[1.0, -1.0, 0.0, 0.0], [0.0, 0.0, 2.0, 0.0]])  # an antipodal pair, a lone feature, a zero one
    got = _tensor(name, _call(dimensionality, name, W), (4,))
    if torch.isnan(got).any():
        raise AssertionError(f"{name} returned NaN for a zero column: a feature that is not represented has D = 0.")
    if torch.allclose(got[:3], torch.tensor([0.5, 0.5, 4.0])):
        raise AssertionError(
            f"{name} gave a lone feature of length 2 the value 4: normalise the projections, (Ŵᵢ·Wⱼ)² with Ŵᵢ a "
            "unit vector, so that D = 1 for any feature alone in its direction."
        )
    if torch.allclose(got[:3], torch.tensor([1.0, 1.0, 1.0])):
        raise AssertionError(
            f"{name} left the feature's overlaps with the others out of the denominator: sum over all j."
        )
    want = _reference_dimensionality(W)
    if not torch.allclose(got, want, atol=1e-5):
        raise AssertionError(f"{name} should give ½ to each of an antipodal pair and 1 to a lone feature: got {got}.")
    random_W = torch.randn(3, 8, generator=_seeded(0))
    if not torch.allclose(_call(dimensionality, name, random_W), _reference_dimensionality(random_W), atol=1e-5):
        raise AssertionError(f"{name} is right on the simple case but not on a random W of shape (3, 8).")
    _passed(name, dimensionality, "antipodal pairs get ½, lone features 1.")


def check_two_feature_losses(two_feature_losses) -> None:
    """Check ``two_feature_losses(r, p)``: the losses of (dropped, own dimension, antipodal) for 2 features in 1 dim."""
    name = "two_feature_losses"
    r, p = 0.5, 0.2
    got = _tensor(name, _call(two_feature_losses, name, r, p), (3,))
    want = _reference_two_feature_losses(torch.tensor(r), torch.tensor(p))
    swapped = _reference_two_feature_losses(torch.tensor(r), torch.tensor(1 - p))
    if torch.allclose(got, swapped, atol=1e-6):
        raise AssertionError(
            f"{name} used the sparsity S where the density p = 1 − S belongs: p is the chance a feature is present."
        )
    if torch.allclose(got[0], torch.tensor(r**2 * (p / 3 - p**2 / 4)), atol=1e-6):
        raise AssertionError(f"{name} applied the importance twice (r²): the loss weighs the squared error by r once.")
    if torch.allclose(got[:2], torch.tensor([r * p / 3, p / 3]), atol=1e-6):
        raise AssertionError(
            f"{name} forgot the bias of the dropped feature: its output is the constant E[x] = p/2, which leaves "
            "the variance p/3 − p²/4, not E[x²] = p/3."
        )
    if torch.allclose(got[2], torch.tensor((1 + r) * p**2 / 3), atol=1e-6):
        raise AssertionError(f"{name}: E[min(u, v)²] for two uniforms on [0, 1] is 1/6, not 1/3.")
    if not torch.allclose(got, want, atol=1e-6):
        raise AssertionError(f"{name}({r}, {p}) should be {want.tolist()}, got {got.tolist()}.")
    _passed(name, two_feature_losses, "the three candidate losses match the closed form.")


def check_privileged_forward(privileged_forward) -> None:
    """Check ``privileged_forward(W, b, x)``: ``ReLU(Wᵀ ReLU(W x) + b)`` for a batch x of shape (batch, n_features)."""
    name = "privileged_forward"
    gen = _seeded(0)
    W, b, x = torch.randn(3, 6, generator=gen), torch.randn(6, generator=gen), torch.rand(8, 6, generator=gen)
    got = _tensor(name, _call(privileged_forward, name, W, b, x), (8, 6))
    if torch.allclose(got, torch.relu(x @ W.T @ W + b), atol=1e-5):
        raise AssertionError(f"{name} left out the hidden ReLU: h = ReLU(W x) is what makes the neurons privileged.")
    if torch.allclose(got, torch.relu(torch.relu(x @ W.T) @ W), atol=1e-5):
        raise AssertionError(f"{name} forgot the bias b before the output ReLU.")
    if not torch.allclose(got, _reference_privileged_forward(W, b, x), atol=1e-5):
        raise AssertionError(f"{name} should return ReLU(ReLU(x Wᵀ) W + b) for a batch stored as rows.")
    _passed(name, privileged_forward, "a ReLU on the neurons and on the outputs.")


def _reference_dims_per_feature(W):
    return W.shape[0] / W.pow(2).sum()


def _reference_two_feature_phase(w):
    norms = w.abs()
    if norms[1] < 0.5:
        return 0
    if norms[0] < 0.5:
        return 1
    return 2


_REFERENCES.update(dims_per_feature=_reference_dims_per_feature, two_feature_phase=_reference_two_feature_phase)


def check_dims_per_feature(dims_per_feature) -> None:
    """Check ``dims_per_feature(W)``: ``d_hidden / ‖W‖_F²`` for W of shape (d_hidden, n_features)."""
    name = "dims_per_feature"
    W = torch.tensor([[1.0, -1.0, 0.0, 0.0], [0.0, 0.0, 1.0, -1.0]])  # 2 dims, 4 unit features: ½
    got = float(_call(dims_per_feature, name, W))
    if abs(got - 2.0) < 1e-5:
        raise AssertionError(f"{name} is upside down: divide d_hidden by ‖W‖²_F, not the other way round.")
    if abs(got - 1.0) < 1e-5:
        raise AssertionError(f"{name} used the number of features (or ‖W‖_F without squaring): use ‖W‖²_F.")
    if abs(got - 0.5) > 1e-5:
        raise AssertionError(f"{name} should give ½ for two antipodal pairs in 2 dimensions, got {got}.")
    long = 2 * torch.eye(3)
    if abs(float(_call(dims_per_feature, name, long)) - 0.25) > 1e-5:
        raise AssertionError(f"{name} should use squared lengths: three features of length 2 in 3 dims give ¼.")
    _passed(name, dims_per_feature, "d_hidden / ‖W‖²_F.")


def check_two_feature_phase(two_feature_phase) -> None:
    """Check ``two_feature_phase(w)``: 0 extra feature dropped, 1 extra feature owns the dimension, 2 both kept."""
    name = "two_feature_phase"
    cases = {(1.0, 0.02): 0, (0.01, 1.1): 1, (0.9, -1.0): 2, (-1.0, 0.0): 0, (0.0, -1.0): 1}
    got = {w: _call(two_feature_phase, name, torch.tensor(w)) for w in cases}
    got = {w: int(v) for w, v in got.items()}
    if got[(1.0, 0.02)] == 1 and got[(0.01, 1.1)] == 0:
        raise AssertionError(f"{name} swapped the first two phases: feature 1 is the extra feature.")
    if got[(-1.0, 0.0)] != 0 or got[(0.0, -1.0)] != 1:
        raise AssertionError(f"{name} ignored negative weights: a feature's length is |w|, whatever its sign.")
    if got != cases:
        raise AssertionError(
            f"{name} should return {list(cases.values())} for {list(cases)}, got {list(got.values())}."
        )
    _passed(name, two_feature_phase, "dropped, own dimension and antipodal told apart.")
