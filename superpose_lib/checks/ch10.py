"""Chapter 10: a null distribution, a Monte-Carlo p-value, mean interference, live latents, superposed share."""

from __future__ import annotations

import math

import torch

from .. import detection, metrics
from ._common import _REFERENCES, _call, _number, _passed, _require_reproducible, _seeded, _tensor


def _reference_null_max_abs_cos(k, d, n_samples, generator=None):
    return detection.null_distribution(k, d, "max_abs_cos", n_samples, generator=generator)


def _reference_p_value_less(observed, null):
    return detection.p_value(observed, null, alternative="less")


def _reference_mean_interference(W, threshold=0.5):
    return detection.interference_statistic(W, "mean_superposition", threshold=threshold).item()


def _reference_count_live_latents(codes, min_frequency=1e-3):
    return int(((codes != 0).double().mean(dim=0) > min_frequency).sum())


def _reference_fraction_superposed(W, threshold=0.5, tolerance=0.1):
    return detection.fraction_in_superposition(W, threshold, tolerance).item()


_REFERENCES.update(
    null_max_abs_cos=_reference_null_max_abs_cos,
    p_value_less=_reference_p_value_less,
    mean_interference=_reference_mean_interference,
    count_live_latents=_reference_count_live_latents,
    fraction_superposed=_reference_fraction_superposed,
)


def _max_cos_of_random(k, d, n_samples, generator, absolute=True):
    V = torch.randn(n_samples, k, d, generator=generator, dtype=torch.float64)
    V = V / V.norm(dim=2, keepdim=True)
    cos = V @ V.transpose(1, 2)  # (n_samples, k, k)
    if absolute:
        cos = cos.abs()
    return cos.masked_fill(torch.eye(k, dtype=torch.bool), -math.inf).amax(dim=(1, 2))


def check_null_max_abs_cos(null_max_abs_cos) -> None:
    """Check ``null_max_abs_cos(k, d, n_samples, generator=None)``: the largest |cos| among k random unit vectors
    in R^d, drawn n_samples times."""
    name = "null_max_abs_cos"
    k, d, n = 10, 5, 2_000
    got = _tensor(name, _call(null_max_abs_cos, name, k, d, n, generator=_seeded(0)), (n,)).double()
    if bool((got > 1 + 1e-4).any()):
        raise AssertionError(
            f"{name} returned values above 1 (up to {got.max():.2f}): a cosine is at most 1 in absolute value. "
            "Divide each vector by its norm before taking dot products."
        )
    if bool((got > 1 - 1e-4).all()):
        raise AssertionError(
            f"{name} returned 1 every time: every vector has cosine 1 with itself. Take the maximum over pairs "
            "i ≠ j only (mask the diagonal of the k × k cosine matrix)."
        )
    _require_reproducible(null_max_abs_cos, name, (k, d, 50), "torch.randn")
    mean = got.mean().item()
    want = _max_cos_of_random(k, d, 20_000, _seeded(1)).mean().item()
    if abs(mean - want) < 0.01:
        _passed(name, null_max_abs_cos, f"the mean largest |cos| of {k} random vectors in R^{d} is {mean:.3f}.")
        return
    if abs(mean - _max_cos_of_random(k, d, 20_000, _seeded(1), absolute=False).mean().item()) < 0.01:
        raise AssertionError(
            f"{name} took the largest cos, not the largest |cos| (the absolute value): two nearly opposite "
            "directions interfere as much as two nearly equal ones. Take .abs() before the maximum."
        )
    if abs(mean - _max_cos_of_random(d, k, 20_000, _seeded(1)).mean().item()) < 0.01:
        raise AssertionError(f"{name} drew {d} vectors in R^{k}: did you swap k and d? Draw k vectors in R^d.")
    raise AssertionError(
        f"the mean of {name}({k}, {d}, ...) is {mean:.3f}, expected about {want:.3f}: draw Gaussian vectors, "
        "normalise each to unit length (that makes them uniform on the sphere), and take the largest |cos| "
        "over distinct pairs."
    )


def check_p_value_less(p_value_less) -> None:
    """Check ``p_value_less(observed, null)``: (1 + #{draws ≤ observed}) / (1 + #draws)."""
    name = "p_value_less"
    null = torch.arange(1.0, 100.0)  # 99 draws: 1, 2, ..., 99
    below = _number(name, _call(p_value_less, name, 0.0, null))
    if math.isclose(below, 0.0, abs_tol=1e-12):
        raise AssertionError(
            f"{name}(0, draws 1..99) returned 0: count the observation itself among the draws, "
            "(1 + count) / (1 + n). A p-value of 0 claims a certainty that no finite number of draws gives."
        )
    if math.isclose(below, 1.0):
        raise AssertionError(
            f"{name}(0, draws 1..99) returned 1: the test asks whether the observation is unusually *small*, "
            "so count the draws at or below it (null <= observed), not above."
        )
    tie = _number(name, _call(p_value_less, name, 10.0, null))  # draws 1..10 are ≤ 10
    if math.isclose(tie, 10 / 100) or math.isclose(tie, 9 / 99):
        raise AssertionError(
            f"{name}(10, draws 1..99) returned {tie:.4f}: a draw equal to the observation is as extreme as it, "
            "so count null <= observed (not <): the answer is (1 + 10) / (1 + 99)."
        )
    if math.isclose(below, 1 / 99) or math.isclose(tie, 10 / 99):
        raise AssertionError(
            f"{name} divided by the number of draws: add 1 to the denominator as well, (1 + count) / (1 + n)."
        )
    for observed, want in ((0.0, 1 / 100), (10.0, 11 / 100), (99.5, 1.0), (50.5, 51 / 100)):
        got = _number(name, _call(p_value_less, name, observed, null))
        if not math.isclose(got, want, rel_tol=1e-9):
            raise AssertionError(
                f"{name}({observed}, draws 1..99) returned {got}, expected (1 + count) / 100 = {want}."
            )
    _passed(name, p_value_less, "(1 + #{draws ≤ observed}) / (1 + n), ties counted, never 0.")


def _pentagon_with_extras():
    angles = 2 * math.pi * torch.arange(5, dtype=torch.float64) / 5
    pentagon = 1.1 * torch.stack([angles.cos(), angles.sin()])  # (2, 5), length 1.1
    dropped = torch.tensor([[0.1], [0.05]], dtype=torch.float64)  # not represented
    return torch.cat([pentagon, dropped], dim=1)  # (2, 6)


def _random_features(seed=0):
    gen = _seeded(seed)
    W = torch.randn(4, 9, generator=gen, dtype=torch.float64)
    W = W / W.norm(dim=0) * (0.8 + 0.4 * torch.rand(9, generator=gen, dtype=torch.float64))  # lengths 0.8–1.2
    W[:, 7:] *= 0.2  # two dropped features
    return W


def check_mean_interference(mean_interference) -> None:
    """Check ``mean_interference(W, threshold=0.5)``: the average over represented features of Σ_{j≠i} cos²."""
    name = "mean_interference"
    for W in (_pentagon_with_extras(), _random_features()):
        got = _number(name, _call(mean_interference, name, W))
        want = _reference_mean_interference(W)
        if math.isclose(got, want, abs_tol=1e-6):
            continue
        if math.isclose(got, want + 1, abs_tol=1e-6):
            raise AssertionError(f"{name} is 1 too large: each feature has cos² = 1 with itself. Sum over j ≠ i only.")
        keep = W.norm(dim=0) > 0.5
        k = int(keep.sum())
        if math.isclose(got, want / (k - 1), abs_tol=1e-6):
            raise AssertionError(
                f"{name} averaged over pairs: sum cos² over the other features j for each feature i, then average "
                "over the features (the mean over pairs is that divided by k − 1)."
            )
        if math.isclose(got, detection.interference_statistic(W, threshold=0.0).item(), abs_tol=1e-6):
            raise AssertionError(
                f"{name} included features that are not represented: keep only the columns longer than the "
                "threshold (W.norm(dim=0) > threshold) before comparing directions."
            )
        raw = W[:, keep]
        G = raw.T @ raw  # (k, k) dot products of the columns as they are
        squared_dots = ((G**2).sum() - (G.diagonal() ** 2).sum()).item() / k
        half_normalised = metrics.superposition(raw).mean().item()  # (Ŵᵢ·Wⱼ)²: only feature i normalised
        if any(math.isclose(got, value, abs_tol=1e-6) for value in (squared_dots, half_normalised)):
            raise AssertionError(
                f"{name} used the columns as they are: scale each represented column to unit length first, so "
                "that only directions count (a cos², not a squared dot product)."
            )
        raise AssertionError(f"{name} returned {got:.4f}, expected {want:.4f}.")
    floor = _number(name, _call(mean_interference, name, _pentagon_with_extras()))
    _passed(name, mean_interference, f"a pentagon sits on the floor k/d − 1 = {floor:.2f}.")


def _codes():
    codes = torch.zeros(10_000, 6, dtype=torch.float64)
    codes[:5_000, 0] = 1.0  # fires half the time
    codes[:5, 1] = 2.0  # fires 0.05% of the time: below the threshold
    codes[::400, 2] = 0.5  # 0.25%: live
    codes[:, 3] = 1e-4  # always on, with tiny values: live
    codes[1::2, 5] = 3.0  # half the time
    return codes  # latent 4 never fires


def check_count_live_latents(count_live_latents) -> None:
    """Check ``count_live_latents(codes, min_frequency=1e-3)``: latents non-zero on more than that share of samples."""
    name = "count_live_latents"
    codes = _codes()
    got = _number(name, _call(count_live_latents, name, codes))
    if got == 4:
        if _number(name, _call(count_live_latents, name, codes, min_frequency=0.3)) != 3:
            raise AssertionError(f"{name} ignores min_frequency: use the argument, not a fixed number.")
        _passed(name, count_live_latents, "4 of 6 latents fire on more than 0.1% of the samples.")
        return
    if got == 5:
        raise AssertionError(
            f"{name} counted a latent that fired on 5 of 10,000 samples: a latent is live when it fires on more "
            "than min_frequency of the samples, not merely once."
        )
    if got == 3:
        raise AssertionError(
            f"{name} missed a latent that is always on with tiny values: what matters is whether it fires "
            "(codes != 0), not how strongly."
        )
    if got == 2:
        raise AssertionError(f"{name} counted the dead latents: live = not dead, {codes.shape[1]} − dead.")
    if got > codes.shape[1]:
        raise AssertionError(
            f"{name} returned {got:g}, more than the {codes.shape[1]} latents: average over the samples "
            "(dim 0) to get one firing frequency per latent."
        )
    raise AssertionError(f"{name} returned {got:g}, expected 4.")


def _mixed_model():
    # An antipodal pair, two loners, and a dropped feature lying along the pair (2 dimensions of 3 used).
    return torch.tensor(
        [[1.0, -1.0, 0.0, 0.0, 0.1], [0.0, 0.0, 1.0, 0.0, 0.0], [0.0, 0.0, 0.0, 1.2, 0.0]], dtype=torch.float64
    )


def check_fraction_superposed(fraction_superposed) -> None:
    """Check ``fraction_superposed(W, threshold=0.5, tolerance=0.1)``: the share of represented features whose
    superposition Σ_{j≠i} (Ŵᵢ·Wⱼ)² exceeds the tolerance."""
    name = "fraction_superposed"
    W = _mixed_model()
    got = _number(name, _call(fraction_superposed, name, W))
    if math.isclose(got, 2 / 5, abs_tol=1e-6):
        raise AssertionError(
            f"{name} divided by all 5 features: divide by the represented ones (longer than threshold)."
        )
    if math.isclose(got, 3 / 4, abs_tol=1e-6) or math.isclose(got, 3 / 5, abs_tol=1e-6):
        raise AssertionError(
            f"{name} counted a dropped feature as superposed: it points along the pair, so its overlap is large, "
            "but it is not represented. Count only features longer than the threshold."
        )
    if not math.isclose(got, 0.5, abs_tol=1e-6):
        raise AssertionError(f"{name} returned {got:.4f} for a pair, two loners and a dropped feature; expected 0.5.")
    strict = _number(name, _call(fraction_superposed, name, W, threshold=1.1))
    if not math.isclose(strict, 0.0, abs_tol=1e-6):
        raise AssertionError(f"{name} ignores threshold: with threshold=1.1 only the loner of length 1.2 counts.")
    empty = _number(name, _call(fraction_superposed, name, torch.zeros(3, 4, dtype=torch.float64)))
    if math.isnan(empty) or not math.isclose(empty, 0.0, abs_tol=1e-6):
        raise AssertionError(
            f"{name} returned {empty} for a model that represents nothing: return 0 there (0/0 gives NaN; divide "
            "by max(count, 1))."
        )
    _passed(name, fraction_superposed, "half the represented features share a direction (the antipodal pair).")
