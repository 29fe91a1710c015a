"""The chapter 02 and 03 exercise checks: the reference passes, plausible mistakes fail with the intended
message, the untouched blank reports "not implemented yet", and a missing return is named."""

import check_contract
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from superpose_lib import checks, digits, geometry, metrics
from superpose_lib.checks import ch02, ch03


def _selectivity_against_overall_mean(activations, labels, n_classes=10):
    means = digits.class_means(activations, labels, n_classes)
    top, overall = means.max(dim=0).values, activations.mean(dim=0)
    return (top - overall) / (top + overall)


def _selectivity_without_denominator(activations, labels, n_classes=10):
    means = digits.class_means(activations, labels, n_classes)
    top = means.max(dim=0).values
    return top - (means.sum(dim=0) - top) / (n_classes - 1)


def _selectivity_against_second_best(activations, labels, n_classes=10):
    top, second = digits.class_means(activations, labels, n_classes).topk(2, dim=0).values
    return (top - second) / (top + second)


def _selectivity_pooling_examples(activations, labels, n_classes=10):
    means = digits.class_means(activations, labels, n_classes)
    top, best = means.max(dim=0)
    rest = torch.stack([activations[labels != c, i].mean() for i, c in enumerate(best.tolist())])
    return (top - rest) / (top + rest)


def _selectivity_nan_for_dead(activations, labels, n_classes=10):
    means = digits.class_means(activations, labels, n_classes)
    top = means.max(dim=0).values
    rest = (means.sum(dim=0) - top) / (n_classes - 1)
    return (top - rest) / (top + rest)


def _probe_unnormalised(activations, targets):
    targets = targets.bool()
    return activations[targets].mean(dim=0) - activations[~targets].mean(dim=0)


def _probe_positive_mean_only(activations, targets):
    mean = activations[targets.bool()].mean(dim=0)
    return mean / mean.norm()


def _probe_breaks_on_integers(activations, targets):
    if targets.dtype != torch.bool:
        return torch.zeros(activations.shape[1], dtype=activations.dtype)
    return ch03._reference_mean_difference_probe(activations, targets)


CASES = {
    "rotate_hidden_layer": (
        ch02._reference_rotate_hidden_layer,
        [
            (lambda W1, b1, W2, R: (R @ W1, b1, W2 @ R.T), "rotate the bias too"),
            (lambda W1, b1, W2, R: (R @ W1, R @ b1, W2 @ R), "use W2 @ R.T"),
            (lambda W1, b1, W2, R: (R.T @ W1, R.T @ b1, W2 @ R), "by Rᵀ instead of R"),
            (lambda W1, b1, W2, R: (W1, R @ b1, W2 @ R.T), "R W₁"),
            (lambda W1, b1, W2, R: (R @ W1, R @ b1, W2), "W₂ Rᵀ"),
            (lambda W1, b1, W2, R: (R @ W1, R @ b1), "three tensors"),
            (lambda W1, b1, W2, R: (R @ W1, R @ b1, R.T @ W2.T), "shapes"),
        ],
    ),
    "pearson_kurtosis": (
        ch02._reference_pearson_kurtosis,
        [
            (lambda x: metrics.kurtosis(x, dim=0) - 3, "excess kurtosis"),
            (lambda x: x.pow(4).mean(dim=0) / x.pow(2).mean(dim=0).pow(2), "subtract the mean"),
            (
                lambda x: (x - x.mean(dim=0)).pow(4).mean(dim=0) / x.var(dim=0).pow(2),
                "n − 1 variance",
            ),
            (lambda x: (x - x.mean(dim=0)).pow(4).mean(dim=0) / (x - x.mean(dim=0)).pow(2).mean(dim=0), "σ⁴"),
            (lambda x: metrics.kurtosis(x, dim=1), "dim=0"),
        ],
    ),
    "class_selectivity": (
        ch02._reference_class_selectivity,
        [
            (_selectivity_against_overall_mean, "the *other* classes' means"),
            (_selectivity_without_denominator, "divide by μ_max + μ_rest"),
            (_selectivity_against_second_best, "second-best class"),
            (_selectivity_pooling_examples, "pooled the examples"),
            (_selectivity_nan_for_dead, "never fires"),
            (lambda a, labels, n_classes=10: digits.class_means(a, labels, n_classes).max(dim=1).values, "per neuron"),
        ],
    ),
    "top_activating": (
        ch02._reference_top_activating,
        [
            (lambda a, k: torch.topk(a.T, k, dim=1, largest=False).indices, "weakest examples"),
            (lambda a, k: torch.topk(a.T, k, dim=1).indices.sort(dim=1).values, "wrong order"),
            (lambda a, k: torch.topk(a, k, dim=0).indices, "one row per neuron"),
            (lambda a, k: a.argsort(dim=1, descending=True), "wrong dimension"),
        ],
    ),
    "read_features": (
        ch03._reference_read_features,
        [
            (lambda h, W: (h @ W).T, "one row per input"),
            (lambda h, W: h @ W.T if W.shape[0] == W.shape[1] else h @ W, "rows of W"),
            (
                lambda h, W: h @ torch.linalg.pinv(W).T if W.shape[0] == W.shape[1] else h @ W,
                "pseudo-inverse",
            ),
            (lambda h, W: h @ W * 2, "did not recover x"),
        ],
    ),
    "neuron_weights": (
        ch03._reference_neuron_weights,
        [
            (lambda W, c: c, "hidden space"),
            (lambda W, c: -(W @ c), "wrong sign"),
            (lambda W, c: W.T @ c if W.shape[0] == W.shape[1] else W @ c, "rows of W"),
            (lambda W, c: W[:, 0] * c.sum(), "v · wᵢ should equal cᵢ"),
        ],
    ),
    "mean_difference_probe": (
        ch03._reference_mean_difference_probe,
        [
            (lambda a, t: -ch03._reference_mean_difference_probe(a, t), "wrong way"),
            (_probe_unnormalised, "unit length"),
            (_probe_positive_mean_only, "subtract the mean of class 0"),
            (lambda a, t: a[:, 0], "one value per example"),
            (_probe_breaks_on_integers, "targets.bool()"),
        ],
    ),
    "max_axis_cosine": (
        ch03._reference_max_axis_cosine,
        [
            (lambda u: u.max() / u.norm(), ".abs()"),
            (lambda u: u.abs().max(), "divide by the length"),
            (lambda u: u.abs() / u.norm(), "a scalar"),
            (lambda u: u.abs().argmax(), "index of the neuron"),
        ],
    ),
}


(
    test_reference_passes,
    test_plausible_mistake_fails_with_its_hint,
    test_untouched_stub_reports_not_implemented,
    test_missing_return_is_named,
) = check_contract.contract_tests(CASES)


def test_every_chapter_02_and_03_check_is_covered_here():
    declared = {name[len("check_") :] for name in dir(ch02) + dir(ch03) if name.startswith("check_")}
    assert declared == set(CASES)


@pytest.mark.parametrize("name", sorted(CASES))
def test_yours_or_reference_knows_the_exercise(name, capsys):
    reference, _ = CASES[name]

    def learner(*args, **kwargs):
        return reference(*args, **kwargs)

    learner.__name__ = name
    assert checks.yours_or_reference(learner) is not learner  # not yet checked
    check_contract.check_of(name)(learner)
    assert checks.yours_or_reference(learner) is learner


# Laws the chapter 03 references obey for every input (hypothesis).


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000), n=st.integers(1, 30), data=st.data())
def test_readout_is_exact_for_orthonormal_directions(seed, n, data):
    k = data.draw(st.integers(1, n))
    gen = torch.Generator().manual_seed(seed)
    W = geometry.random_rotation(n, generator=gen).double()[:, :k]  # (n, k), orthonormal columns
    x = torch.rand(6, k, generator=gen, dtype=torch.float64) * (torch.rand(6, k, generator=gen) < 0.5)
    assert torch.allclose(ch03._reference_read_features(x @ W.T, W), x, atol=1e-5)


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000), n=st.integers(1, 30), data=st.data())
def test_a_composed_neuron_reads_exactly_its_coefficients(seed, n, data):
    k = data.draw(st.integers(1, n))
    gen = torch.Generator().manual_seed(seed)
    W = geometry.random_rotation(n, generator=gen).double()[:, :k]
    c = torch.randn(k, generator=gen, dtype=torch.float64)
    x = torch.rand(k, generator=gen, dtype=torch.float64)
    v = ch03._reference_neuron_weights(W, c)
    assert torch.allclose(v @ (W @ x), c @ x, atol=1e-5)  # v · h = Σᵢ cᵢ xᵢ


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000), d=st.integers(1, 50))
def test_axis_cosine_lies_between_the_diagonal_and_an_axis(seed, d):
    u = torch.randn(d, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    value = ch03._reference_max_axis_cosine(u).item()
    assert d**-0.5 - 1e-9 <= value <= 1 + 1e-9
