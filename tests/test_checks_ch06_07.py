"""Checks of chapters 06 and 07: the reference passes, plausible mistakes fail with the intended message, and the
untouched blank reports "not implemented yet"."""

import check_contract
import torch

from superpose_lib import checks


def _superposition_with_self(W):
    G = W.T @ W
    return G.pow(2).sum(dim=1) / torch.diagonal(G).clamp_min(1e-30)


def _superposition_unnormalised(W):
    G = W.T @ W
    return G.pow(2).sum(dim=1) - torch.diagonal(G).pow(2)


def _dimensionality_unnormalised(W):
    G = W.T @ W
    n2 = torch.diagonal(G)
    return (
        torch.where(n2 > 0, n2 / ((W / W.norm(dim=0).clamp_min(1e-12)).T @ W).pow(2).sum(dim=1).clamp_min(1e-30), 0.0)
        * n2
    )


def _pairs_twice(W, threshold=0.5):
    norms = W.norm(dim=0)
    cos = (W.T @ W) / (norms[:, None] * norms[None, :]).clamp_min(1e-12)
    rep = norms > threshold
    return int(((cos < -0.9) & rep[:, None] & rep[None, :]).sum())


def _pairs_ignoring_threshold(W, threshold=0.5):
    norms = W.norm(dim=0)
    cos = (W.T @ W) / (norms[:, None] * norms[None, :]).clamp_min(1e-12)
    return int((cos < -0.9).triu().sum())


CASES = {
    "count_represented": (
        checks.ch06._reference_count_represented,
        [
            (lambda W, threshold=0.5: int((W.norm(dim=1) > threshold).sum()), "rows of W"),
            (lambda W, threshold=0.5: int((W.pow(2).sum(dim=0) > threshold).sum()), "squared lengths"),
            (lambda W, threshold=0.5: int((W.norm(dim=0) > 0.5).sum()), "threshold argument"),
        ],
    ),
    "count_antipodal_pairs": (
        checks.ch06._reference_count_antipodal_pairs,
        [
            (_pairs_twice, "each pair twice"),
            (_pairs_ignoring_threshold, "not represented"),
            (lambda W, threshold=0.5: 0, "should find 2"),
        ],
    ),
    "feature_superposition": (
        checks.ch06._reference_feature_superposition,
        [
            (_superposition_with_self, "j ≠ i"),
            (_superposition_unnormalised, "normalise"),
            (lambda W: _superposition_with_self(W) * 0 + torch.nan, "NaN"),
        ],
    ),
    "dimensionality": (
        checks.ch07._reference_dimensionality,
        [
            (_dimensionality_unnormalised, "normalise the projections"),
            (lambda W: (W.norm(dim=0) > 0).float(), "denominator"),
            (lambda W: W.norm(dim=0).pow(4) / (W.T @ W).pow(2).sum(dim=1), "NaN"),
        ],
    ),
    "two_feature_losses": (
        checks.ch07._reference_two_feature_losses,
        [
            (lambda r, p: checks.ch07._reference_two_feature_losses(torch.tensor(r), torch.tensor(1 - p)), "sparsity"),
            (lambda r, p: torch.tensor([r**2 * (p / 3 - p**2 / 4), p / 3 - p**2 / 4, (1 + r) * p**2 / 6]), "twice"),
            (lambda r, p: torch.tensor([r * p / 3, p / 3, (1 + r) * p**2 / 6]), "bias"),
            (lambda r, p: torch.tensor([r * (p / 3 - p**2 / 4), p / 3 - p**2 / 4, (1 + r) * p**2 / 3]), "1/6"),
        ],
    ),
    "privileged_forward": (
        checks.ch07._reference_privileged_forward,
        [
            (lambda W, b, x: torch.relu(x @ W.T @ W + b), "hidden ReLU"),
            (lambda W, b, x: torch.relu(torch.relu(x @ W.T) @ W), "bias"),
            (lambda W, b, x: torch.relu(torch.relu(x @ W) @ W.T + b) if x.shape[1] == W.shape[0] else x, "ReLU(ReLU"),
        ],
    ),
    "one_draw_batch": (
        checks.ch06._reference_one_draw_batch,
        [
            (lambda n, f, p, generator=None: checks.ch06._reference_one_draw_batch(n, f, 1 - p, generator), "swapped"),
            (lambda n, f, p, generator=None: checks.ch06._reference_one_draw_batch(n, f, p), "generator"),
            (
                lambda n, f, p, generator=None: (lambda u: u * (u > 1 - p))(torch.rand(n, f, generator=generator)),
                "rescale",
            ),
        ],
    ),
    "instances_forward": (
        checks.ch06._reference_instances_forward,
        [
            (lambda W, b, x: torch.relu(torch.einsum("bih,ihf->bif", torch.einsum("bif,ihf->bih", x, W), W)), "bias"),
            (
                lambda W, b, x: torch.relu(torch.einsum("bjh,ihf->bif", torch.einsum("bif,ihf->bih", x, W), W) + b),
                "mixed the instances",
            ),
            (lambda W, b, x: torch.relu(x + b), "should apply instance i"),
        ],
    ),
    "dims_per_feature": (
        checks.ch07._reference_dims_per_feature,
        [
            (lambda W: W.pow(2).sum() / W.shape[0], "upside down"),
            (lambda W: W.shape[0] / W.norm(), "‖W‖²_F"),
            (lambda W: W.shape[0] / W.abs().sum(), "squared lengths"),
        ],
    ),
    "two_feature_phase": (
        checks.ch07._reference_two_feature_phase,
        [
            (lambda w: [1, 0, 2][checks.ch07._reference_two_feature_phase(w)], "swapped the first two"),
            (lambda w: 0 if w[1] < 0.5 else (1 if w[0] < 0.5 else 2), "negative weights"),
            (lambda w: 0 if abs(w[1]) < 0.5 else 1, "should return"),
        ],
    ),
}


(
    test_reference_passes,
    test_plausible_mistake_fails_with_its_hint,
    test_untouched_stub_reports_not_implemented,
    test_missing_return_is_named,
) = check_contract.contract_tests(CASES)
