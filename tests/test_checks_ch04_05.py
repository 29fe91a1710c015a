"""Chapters 04 and 05's exercise checks: the reference passes, plausible mistakes fail with the intended message,
and the untouched blank reports "not implemented yet"."""

import math

import check_contract
import torch

from superpose_lib import checks, geometry, interference


def _density_without_constant(t, n):
    return torch.where(t.abs() < 1, (1 - t**2).clamp(min=0) ** ((n - 3) / 2), torch.zeros_like(t))


def _density_with_exponent(exponent):
    def density(t, n):
        return geometry.dot_product_density(t, n) * (1 - t**2).clamp(min=1e-300) ** (exponent(n) - (n - 3) / 2)

    return density


def _gaussian_density(t, n):
    return torch.exp(-n * t**2 / 2) * math.sqrt(n / (2 * math.pi))


def _unit_rows(V):
    return V / V.norm(dim=1, keepdim=True)


def _bias_tradeoff_with(readout, reduce="sum"):
    def tradeoff(W, x, biases):
        rows = []
        for b in biases:
            error = (readout(x @ W.T @ W, b) - x) ** 2
            active = x > 0
            if reduce == "sum":
                rows.append(torch.stack([(error * active).sum(1).mean(), (error * ~active).sum(1).mean()]))
            else:
                rows.append(torch.stack([(error * active).mean(), (error * ~active).mean()]))
        return torch.stack(rows)

    return tradeoff


def _antipodal(pair_probability, pair_square, dropped_cost, average=True):
    def loss(importance, n, p):
        k = importance.shape[0]
        paired, dropped = importance[: 2 * n].sum().item(), importance[2 * n :].sum().item()
        total = paired * pair_probability(p) * pair_square + dropped * dropped_cost(p)
        return total / k if average else total

    return loss


def _expected_error(second_moment, subtract_identity=True):
    def error(W, p):
        a = W.T @ W - (torch.eye(W.shape[1], dtype=W.dtype) if subtract_identity else 0)
        squares = (a**2).sum(0)
        return second_moment(p) * squares + p**2 / 4 * (a.sum(0) ** 2 - squares)

    return error


CASES = {
    "dot_product_density": (
        geometry.dot_product_density,
        [
            (_density_without_constant, "wrong height"),
            (lambda t, n: 2 * geometry.dot_product_density(t, n), "Γ(n/2) / (√π Γ((n−1)/2))"),
            (_density_with_exponent(lambda n: (n - 1) / 2), "it should be (n − 3)/2"),
            (_density_with_exponent(lambda n: (n - 2) / 2), "it should be (n − 3)/2"),
            (_gaussian_density, "Gaussian approximation"),
            (lambda t, n: geometry.dot_product_density(t.clamp(-0.999, 0.999), n), "0 outside (−1, 1)"),
        ],
    ),
    "coherence": (
        geometry.coherence,
        [
            (lambda V: (_unit_rows(V) @ _unit_rows(V).T).abs().max(), "leave out the diagonal"),
            (
                lambda V: (_unit_rows(V) @ _unit_rows(V).T - torch.eye(V.shape[0]) * 2).max(),
                "apply .abs() first",
            ),
            (lambda V: ((V @ V.T).abs() - torch.diag(torch.diagonal(V @ V.T))).max(), "normalise each row"),
            (
                lambda V: ((V / V.norm(dim=0)).T @ (V / V.norm(dim=0))).abs().sub(torch.eye(V.shape[1])).max(),
                "the vectors are its rows",
            ),
            (
                lambda V: (
                    (_unit_rows(V) @ _unit_rows(V).T).abs().sub(torch.eye(V.shape[0])).sum()
                    / (V.shape[0] * (V.shape[0] - 1))
                ),
                "mean |cos|",
            ),
            (
                lambda V: geometry.coherence(V[:4, :3]),
                "avoid hard-coded sizes",
            ),
        ],
    ),
    "welch_bound": (
        geometry.welch_bound,
        [
            (lambda k, n: (k - n) / (n * (k - 1)) if k > n else 0.0, "take the square root"),
            (lambda k, n: math.sqrt(abs((n - k) / (k * (n - 1)))), "k and n are swapped"),
            (lambda k, n: math.sqrt((k - n) / (n * (k - 1))), "the bound is 0"),
            (lambda k, n: math.sqrt(max(k - n, 0) / (n * (k - 1))) if k > n else -1.0, "the bound is 0"),
            (lambda k, n: 1 / math.sqrt(n), "expected √((k − n)/(n(k − 1)))"),
        ],
    ),
    "jl_min_dim": (
        geometry.jl_min_dim,
        [
            (lambda N, eps: 4 * math.log(N) / (eps**2 / 2 - eps**3 / 3), "whole number"),
            (lambda N, eps: math.ceil(4 * math.log(N) / (eps**2 / 2 - eps**3 / 3)), "rounds down"),
            (lambda N, eps: int(4 * math.log10(N) / (eps**2 / 2 - eps**3 / 3)), "natural log"),
            (lambda N, eps: int(4 * math.log(N) / (eps**2 / 2)), "cubic term"),
            (lambda N, eps: int(4 * math.log(N) / eps**2), "cubic term"),
            (lambda N, eps: int(8 * math.log(N) / (eps**2 / 2 - eps**3 / 3)), "expected"),
        ],
    ),
    "interference_terms": (
        interference.interference,
        [
            (lambda W, x: x @ W.T @ W, "leave out each feature's own term"),
            (lambda W, x: x @ W.T @ W - x, "only for unit-length features"),
            (lambda W, x: x[:, : W.shape[0]] @ (W @ W.T), "not W Wᵀ"),
            (lambda W, x: 0.5 * (x @ W.T @ W), "diagonal set to 0"),
        ],
    ),
    "predicted_readout_error": (
        interference.expected_readout_error,
        [
            (lambda W, p: p / 3 * ((W.T @ W - torch.eye(W.shape[1], dtype=W.dtype)) ** 2).sum(0), "cross terms"),
            (_expected_error(lambda p: p / 2), "E[x²] = p/3"),
            (_expected_error(lambda p: p / 3, subtract_identity=False), "a = WᵀW − I"),
            (_expected_error(lambda p: p**2 / 3), "differs from"),
        ],
    ),
    "bias_tradeoff": (
        interference.bias_tradeoff,
        [
            (lambda W, x, b: interference.bias_tradeoff(W, x, b).flip(1), "columns are swapped"),
            (_bias_tradeoff_with(lambda clean, b: torch.relu(clean) + b), "after the ReLU"),
            (_bias_tradeoff_with(lambda clean, b: clean + b), "forgot the ReLU"),
            (_bias_tradeoff_with(lambda clean, b: torch.relu(clean + b), reduce="mean"), "averaged over features"),
            (_bias_tradeoff_with(lambda clean, b: torch.relu(clean - b)), "split by x > 0"),
        ],
    ),
    "antipodal_loss": (
        interference.antipodal_loss,
        [
            (_antipodal(lambda p: p, 1 / 6, lambda p: p / 3 - p**2 / 4), "probability p²"),
            (_antipodal(lambda p: p**2, 1 / 3, lambda p: p / 3 - p**2 / 4), "mean square is 1/6"),
            (_antipodal(lambda p: p**2, 1 / 6, lambda p: p / 3), "best constant guess"),
            (_antipodal(lambda p: p**2, 1 / 6, lambda p: p / 3 - p**2 / 4, average=False), "average over the k"),
            (_antipodal(lambda p: p**2, 1 / 6, lambda p: 0.0), "expected"),
        ],
    ),
}


(
    test_reference_passes,
    test_plausible_mistake_fails_with_its_hint,
    test_untouched_stub_reports_not_implemented,
    test_missing_return_is_named,
) = check_contract.contract_tests(CASES)


def test_every_chapter_04_and_05_check_is_covered_here():
    declared = {name[len("check_") :] for name in dir(checks.ch04) if name.startswith("check_")}
    declared |= {name[len("check_") :] for name in dir(checks.ch05) if name.startswith("check_")}
    assert declared == set(CASES)


def test_yours_or_reference_knows_the_new_exercises(capsys):
    def welch_bound(k, n):
        return geometry.welch_bound(k, n)

    assert checks.yours_or_reference(welch_bound) is geometry.welch_bound
    checks.check_welch_bound(welch_bound)
    assert checks.yours_or_reference(welch_bound) is welch_bound
