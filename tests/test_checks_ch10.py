"""Chapter 10 checks: the reference passes, plausible mistakes fail with the intended message, and the untouched
blank reports "not implemented yet"."""

import math

import check_contract
import torch

from superpose_lib import checks, detection, metrics


def _null(k, d, n_samples, generator=None, absolute=True, diagonal=False, normalise=True):
    V = torch.randn(n_samples, k, d, generator=generator)
    if normalise:
        V = V / V.norm(dim=2, keepdim=True)
    cos = V @ V.transpose(1, 2)
    if absolute:
        cos = cos.abs()
    if not diagonal:
        cos = cos.masked_fill(torch.eye(k, dtype=torch.bool), -math.inf)
    return cos.amax(dim=(1, 2))


def _p(observed, null, compare, plus_one=True, denominator_plus_one=True):
    count = int(compare(null, observed).sum())
    return (count + plus_one) / (null.numel() + denominator_plus_one)


def _interference(W, threshold=0.5, self_term=False, normalise=True, drop=True, per_pair=False):
    keep = W.norm(dim=0) > threshold if drop else torch.ones(W.shape[1], dtype=torch.bool)
    V = W[:, keep]
    if normalise:
        V = V / V.norm(dim=0)
    G = V.T @ V
    total = (G**2).sum() - (0 if self_term else (G.diagonal() ** 2).sum())
    k = V.shape[1]
    return (total / (k * (k - 1)) if per_pair else total / k).item()


def _fraction(W, threshold=0.5, tolerance=0.1, all_features=False, count_dropped=False):
    represented = W.norm(dim=0) > threshold
    shared = metrics.superposition(W) > tolerance
    numerator = (shared if count_dropped else shared & represented).sum()
    denominator = W.shape[1] if all_features else represented.sum().clamp_min(1)
    return (numerator / denominator).item()


CASES = {
    "null_max_abs_cos": (
        checks.ch10._reference_null_max_abs_cos,
        [
            (lambda k, d, n, generator=None: _null(k, d, n, generator, absolute=False), "absolute"),
            (lambda k, d, n, generator=None: _null(k, d, n, generator, diagonal=True), "with itself"),
            (lambda k, d, n, generator=None: _null(k, d, n, generator, normalise=False), "norm"),
            (lambda k, d, n, generator=None: _null(d, k, n, generator), "swap k and d"),
            (lambda k, d, n, generator=None: _null(k, d, n), "ignores its generator"),
            (lambda k, d, n, generator=None: torch.rand(n, generator=generator), "expected about"),
        ],
    ),
    "p_value_less": (
        checks.ch10._reference_p_value_less,
        [
            (
                lambda x, null: _p(x, null, torch.le, plus_one=False, denominator_plus_one=False),
                "count the observation",
            ),
            (lambda x, null: _p(x, null, torch.ge), "at or below"),
            (lambda x, null: _p(x, null, torch.lt), "not <"),
            (lambda x, null: _p(x, null, torch.le, denominator_plus_one=False), "denominator"),
            (lambda x, null: 0.5, "expected"),
        ],
    ),
    "mean_interference": (
        checks.ch10._reference_mean_interference,
        [
            (lambda W, threshold=0.5: _interference(W, threshold, self_term=True), "j ≠ i"),
            (lambda W, threshold=0.5: _interference(W, threshold, normalise=False), "unit length"),
            (lambda W, threshold=0.5: metrics.superposition(W[:, W.norm(dim=0) > threshold]).mean(), "unit length"),
            (lambda W, threshold=0.5: _interference(W, threshold, drop=False), "not represented"),
            (lambda W, threshold=0.5: _interference(W, threshold, per_pair=True), "averaged over pairs"),
        ],
    ),
    "count_live_latents": (
        checks.ch10._reference_count_live_latents,
        [
            (lambda codes, min_frequency=1e-3: int((codes != 0).any(dim=0).sum()), "not merely once"),
            (
                lambda codes, min_frequency=1e-3: int(((codes > min_frequency).double().mean(0) > min_frequency).sum()),
                "how strongly",
            ),
            (lambda codes, min_frequency=1e-3: int(((codes != 0).double().mean(0) <= min_frequency).sum()), "dead"),
            (lambda codes, min_frequency=1e-3: int(((codes != 0).double().mean(1) > min_frequency).sum()), "dim 0"),
            (
                lambda codes, min_frequency=1e-3: int(((codes != 0).double().mean(0) > 1e-3).sum()),
                "ignores min_frequency",
            ),
        ],
    ),
    "fraction_superposed": (
        checks.ch10._reference_fraction_superposed,
        [
            (lambda W, threshold=0.5, tolerance=0.1: _fraction(W, threshold, tolerance, all_features=True), "all 5"),
            (lambda W, threshold=0.5, tolerance=0.1: _fraction(W, threshold, tolerance, count_dropped=True), "dropped"),
            (lambda W, threshold=0.5, tolerance=0.1: _fraction(W, 0.5, tolerance), "ignores threshold"),
            (
                lambda W, threshold=0.5, tolerance=0.1: (
                    ((metrics.superposition(W) > tolerance) & (W.norm(dim=0) > threshold)).sum()
                    / (W.norm(dim=0) > threshold).sum()  # 0 / 0 = NaN for a model that represents nothing
                ),
                "represents nothing",
            ),
            (lambda W, threshold=0.5, tolerance=0.1: detection.fraction_in_superposition(W).item() / 2, "expected 0.5"),
        ],
    ),
}


(
    test_reference_passes,
    test_plausible_mistake_fails_with_its_hint,
    test_untouched_stub_reports_not_implemented,
    test_missing_return_is_named,
) = check_contract.contract_tests(CASES)
