"""Chapter 11 checks: the reference passes, plausible mistakes fail with the intended message, and the untouched
blank reports "not implemented yet"."""

import check_contract
import torch

from superpose_lib import checks


def _unit(x, dim):
    return x / x.norm(dim=dim, keepdim=True)


def _nearest(vectors, direction, k, cosine=True, absolute=False, largest=True, reverse=False):
    scores = (_unit(vectors, 1) if cosine else vectors) @ direction
    if absolute:
        scores = scores.abs()
    found = scores.topk(k, largest=largest).indices
    return found.flip(0) if reverse else found


def _coherence(vectors, direction, k, diagonal=False, divide_by_k_squared=False, normalise=True):
    near = vectors[_nearest(vectors, direction, k)]
    if normalise:
        near = _unit(near, 1)
    gram = near @ near.T
    total = gram.sum() if diagonal else gram.sum() - gram.diagonal().sum()
    return (total / (k * k if diagonal or divide_by_k_squared else k * (k - 1))).item()


def _two_sense(directions, senses, same_allowed=False, normalise=True, larger=False):
    if normalise:
        directions, senses = _unit(directions, 0), _unit(senses, 0)
    cos = senses.T @ directions
    pick = torch.maximum if larger else torch.minimum
    pairs = pick(cos[0].unsqueeze(1), cos[1].unsqueeze(0))
    if not same_allowed:
        pairs = pairs.fill_diagonal_(-torch.inf)
    return pairs.max().item()


CASES = {
    "nearest_words": (
        checks.ch11._reference_nearest_words,
        [
            (lambda v, d, k: _nearest(v, d, k, cosine=False), "dot products"),
            (lambda v, d, k: _nearest(v, d, k, absolute=True), "|cos|"),
            (lambda v, d, k: _nearest(v, d, k, largest=False), "least"),
            (lambda v, d, k: _nearest(v, d, k, reverse=True), "nearest first"),
            (lambda v, d, k: torch.arange(k), "expected"),
        ],
    ),
    "atom_coherence": (
        checks.ch11._reference_atom_coherence,
        [
            (lambda v, d, k: _coherence(v, d, k, diagonal=True), "with itself"),
            (lambda v, d, k: _coherence(v, d, k, divide_by_k_squared=True), "k(k − 1)"),
            (lambda v, d, k: _coherence(v, d, k, normalise=False), "unit vectors"),
            (lambda v, d, k: _coherence(v, d, 5), "use k"),
        ],
    ),
    "two_sense_score": (
        checks.ch11._reference_two_sense_score,
        [
            (lambda d, s: _two_sense(d, s, same_allowed=True), "i ≠ j"),
            (lambda d, s: _two_sense(d, s, normalise=False), "cosines"),
            (lambda d, s: _two_sense(d, s, larger=True), "weaker match"),
            (lambda d, s: 0.0, "expected"),
        ],
    ),
}

(
    test_reference_passes,
    test_plausible_mistake_fails_with_its_hint,
    test_untouched_stub_reports_not_implemented,
    test_missing_return_is_named,
) = check_contract.contract_tests(CASES)


def test_a_right_answer_that_normalises_its_inputs_in_place_still_passes(capsys):
    def nearest_words(vectors, direction, k):
        vectors.div_(vectors.norm(dim=1, keepdim=True))  # in place: the check must hand over copies
        return (vectors @ direction).topk(k).indices

    checks.check_nearest_words(nearest_words)
    assert "✓ nearest_words" in capsys.readouterr().out
