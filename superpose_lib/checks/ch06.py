"""Chapter 06: reading a trained toy model's geometry — represented features, antipodal pairs, superposition."""

from __future__ import annotations

import math

import torch

from ._common import _REFERENCES, _call, _passed, _seeded, _tensor


def _reference_count_represented(W, threshold=0.5):
    return int((W.norm(dim=0) > threshold).sum())


def _reference_count_antipodal_pairs(W, threshold=0.5):
    norms = W.norm(dim=0)
    cos = (W.T @ W) / (norms[:, None] * norms[None, :]).clamp_min(1e-12)
    represented = norms > threshold
    return int(((cos < -0.9) & represented[:, None] & represented[None, :]).triu().sum())


def _reference_feature_superposition(W):
    G = W.T @ W  # (features, features)
    squared_norms = torch.diagonal(G)
    overlap = G.pow(2).sum(dim=1) - squared_norms.pow(2)  # Σⱼ≠ᵢ (Wᵢ·Wⱼ)²
    return torch.where(squared_norms > 0, overlap / squared_norms.clamp_min(1e-30), 0.0)


_REFERENCES.update(
    count_represented=_reference_count_represented,
    count_antipodal_pairs=_reference_count_antipodal_pairs,
    feature_superposition=_reference_feature_superposition,
)


def _pentagon_with_dropped(n_dropped: int = 2) -> torch.Tensor:
    angles = torch.arange(5.0) * 2 * math.pi / 5
    W = torch.stack([torch.cos(angles), torch.sin(angles)])  # (2, 5)
    return torch.cat([W, 0.05 * torch.randn(2, n_dropped, generator=_seeded(0))], dim=1)  # (2, 5 + n_dropped)


def _as_int(name: str, value) -> int:
    if isinstance(value, torch.Tensor):
        if value.numel() != 1:
            raise AssertionError(f"{name} should return one number, got a tensor of shape {tuple(value.shape)}")
        value = value.item()
    if not float(value).is_integer():
        raise AssertionError(f"{name} should return a whole number (a count), got {value}")
    return int(value)


def check_count_represented(count_represented) -> None:
    """Check ``count_represented(W, threshold=0.5)``: how many columns of W are longer than `threshold`."""
    name = "count_represented"
    W = _pentagon_with_dropped(2)  # (2, 7): five represented, two not
    got = _as_int(name, _call(count_represented, name, W))
    if got == 2:
        raise AssertionError(f"{name} counted the rows of W: features are its columns, so take norms along dim=0.")
    wide = torch.cat([torch.eye(3), torch.full((3, 1), 0.4)], dim=1)  # column norm 0.69: represented
    got_wide = _as_int(name, _call(count_represented, name, wide))
    if got == 5 and got_wide == 3:
        raise AssertionError(f"{name} compared squared lengths with the threshold: compare the length ‖Wᵢ‖ itself.")
    if got != 5 or got_wide != 4:
        raise AssertionError(f"{name} should count the columns with ‖W[:, i]‖ > threshold: expected 5, got {got}.")
    if _as_int(name, _call(count_represented, name, W, threshold=1.5)) != 0:
        raise AssertionError(f"{name} ignores its threshold argument.")
    _passed(name, count_represented, "one count of features longer than the threshold.")


def check_count_antipodal_pairs(count_antipodal_pairs) -> None:
    """Check ``count_antipodal_pairs(W, threshold=0.5)``: pairs of represented features with cosine below −0.9."""
    name = "count_antipodal_pairs"
    W = torch.tensor([[1.0, -1.0, 0.0, 0.0, -0.03], [0.0, 0.0, 1.0, -0.95, 0.0]])  # two pairs and a tiny feature
    got = _as_int(name, _call(count_antipodal_pairs, name, W))
    if got == 4:
        raise AssertionError(f"{name} counted each pair twice: count each unordered pair once (i < j).")
    if got == 3:
        raise AssertionError(
            f"{name} counted a pair with a feature that is not represented: only pairs of features longer than "
            "the threshold count."
        )
    if got != 2:
        raise AssertionError(f"{name} should find 2 antipodal pairs in {W.tolist()}, got {got}.")
    if _as_int(name, _call(count_antipodal_pairs, name, torch.eye(3))) != 0:
        raise AssertionError(f"{name} found antipodal pairs among orthogonal features: pairs need cosine < −0.9.")
    _passed(name, count_antipodal_pairs, "antipodal pairs counted once each.")


def check_feature_superposition(feature_superposition) -> None:
    """Check ``feature_superposition(W)``: per feature, ``Σⱼ≠ᵢ (Ŵᵢ·Wⱼ)²`` (0 for a zero column)."""
    name = "feature_superposition"
    W = 1.3 * _pentagon_with_dropped(0)
    W = torch.cat([W, torch.zeros(2, 1)], dim=1)  # a dropped feature, exactly zero
    want = _reference_feature_superposition(W)
    got = _tensor(name, _call(feature_superposition, name, W), (6,))
    if torch.isnan(got).any():
        raise AssertionError(f"{name} returned NaN for a zero column: return 0 for a feature that is not represented.")
    G = W.T @ W
    if torch.allclose(got[:5], (want + torch.diagonal(G))[:5], atol=1e-4):
        raise AssertionError(f"{name} included the feature itself: sum over j ≠ i only.")
    if torch.allclose(got[:5], (G.pow(2).sum(dim=1) - torch.diagonal(G).pow(2))[:5], atol=1e-4):
        raise AssertionError(f"{name} forgot to normalise: project onto the unit vector Ŵᵢ = Wᵢ / ‖Wᵢ‖.")
    if not torch.allclose(got, want, atol=1e-4):
        raise AssertionError(f"{name} should return Σⱼ≠ᵢ (Ŵᵢ·Wⱼ)² per feature: expected {want}, got {got}.")
    random_W = torch.randn(4, 9, generator=_seeded(1))
    if not torch.allclose(_call(feature_superposition, name, random_W), _reference_feature_superposition(random_W),
                          atol=1e-4):  # fmt: skip
        raise AssertionError(f"{name} is right on a pentagon but not on a random W of shape (4, 9).")
    _passed(name, feature_superposition, "each feature's overlap with all the others.")


def _reference_one_draw_batch(n_batch, n_features, feature_probability, generator=None):
    u = torch.rand(n_batch, n_features, generator=generator)
    p = feature_probability
    return ((u - (1 - p)) / p).clamp_min(0.0)


def _reference_instances_forward(W, b, x):
    h = torch.einsum("bif,ihf->bih", x, W)  # (batch, instances, hidden)
    return torch.relu(torch.einsum("bih,ihf->bif", h, W) + b)  # (batch, instances, features)


_REFERENCES.update(one_draw_batch=_reference_one_draw_batch, instances_forward=_reference_instances_forward)


def check_one_draw_batch(one_draw_batch) -> None:
    """Check ``one_draw_batch(n_batch, n_features, feature_probability, generator)``: sparse features from ONE draw."""
    name = "one_draw_batch"
    x = _tensor(name, _call(one_draw_batch, name, 20_000, 10, 0.2, generator=_seeded(0)), (20_000, 10))
    first = _call(one_draw_batch, name, 50, 10, 0.2, generator=_seeded(3))
    if not torch.equal(first, _call(one_draw_batch, name, 50, 10, 0.2, generator=_seeded(3))):
        raise AssertionError(f"{name} ignores its generator: pass generator=generator to torch.rand.")
    density = (x != 0).float().mean().item()
    if abs(density - 0.8) < 0.02:
        raise AssertionError(
            f"{name} swapped sparsity and density: about 80% of entries are non-zero, but feature_probability = 0.2 "
            "is the chance a feature is present."
        )
    if abs(density - 0.2) > 0.02:
        raise AssertionError(f"{name}: {density:.0%} of entries are non-zero, expected about 20%.")
    present = x[x != 0]
    if present.min() > 0.7:
        raise AssertionError(
            f"{name} kept u itself for present features, so values lie in [1 − p, 1]: rescale to (u − (1 − p)) / p, "
            "which is uniform on [0, 1]."
        )
    if abs(present.mean().item() - 0.5) > 0.02 or present.max() > 1 or present.min() < 0:
        raise AssertionError(
            f"{name}: present values should be uniform on [0, 1] (mean ½), got mean {present.mean():.2f}."
        )
    if not torch.equal(first, _reference_one_draw_batch(50, 10, 0.2, generator=_seeded(3))):
        raise AssertionError(f"{name} should use exactly one torch.rand(n_batch, n_features) draw, as the hints say.")
    _passed(name, one_draw_batch, "one uniform draw gives both presence and value.")


def check_instances_forward(instances_forward) -> None:
    """Check ``instances_forward(W, b, x)``: W (instances, hidden, features), b (instances, features), x (batch,
    instances, features) → ReLU(WᵀW x + b) per instance, shape (batch, instances, features)."""
    name = "instances_forward"
    gen = _seeded(0)
    W, b, x = torch.randn(3, 2, 5, generator=gen), torch.randn(3, 5, generator=gen), torch.rand(4, 3, 5, generator=gen)
    got = _tensor(name, _call(instances_forward, name, W, b, x), (4, 3, 5))
    no_bias = torch.relu(torch.einsum("bih,ihf->bif", torch.einsum("bif,ihf->bih", x, W), W))
    if torch.allclose(got, no_bias, atol=1e-5):
        raise AssertionError(f"{name} forgot the bias b (shape (instances, features)) before the ReLU.")
    mixed = torch.relu(torch.einsum("bjh,ihf->bif", torch.einsum("bif,ihf->bih", x, W), W) + b)
    if torch.allclose(got, mixed, atol=1e-5):
        raise AssertionError(f"{name} mixed the instances: each instance i must use only its own W[i].")
    if not torch.allclose(got, _reference_instances_forward(W, b, x), atol=1e-5):
        raise AssertionError(f"{name} should apply instance i's model to x[:, i]: ReLU(x[:, i] W[i]ᵀ W[i] + b[i]).")
    _passed(name, instances_forward, "every instance runs its own model.")
