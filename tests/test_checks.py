"""Every exercise check: the reference passes, plausible mistakes fail with the intended message, and the
untouched blank reports "not implemented yet"."""

from pathlib import Path

import check_contract
import pytest
import torch

from superpose_lib import checks, embeddings, geometry


# check name -> (reference, [(wrong answer, words the message must contain), ...])
def _qr_without_sign_fix(n, generator=None):
    q, _ = torch.linalg.qr(torch.randn(n, n, generator=generator))
    return q


def _analogy_keeping_queries(wv, a, b, c, k=5):
    target = wv[b] - wv[a] + wv[c]
    cos = geometry.cosine_similarity(target, wv.vectors)
    return [wv.words[i] for i in torch.topk(cos, k).indices]


def _analogy_by_dot_product(wv, a, b, c, k=5):
    scores = wv.vectors @ (wv[b] - wv[a] + wv[c])
    for word in (a, b, c):
        scores[wv.index(word)] = -torch.inf
    return [wv.words[i] for i in torch.topk(scores, k).indices]


def _analogy_wrong_order(wv, a, b, c, k=5):
    return [word for word, _ in wv.nearest(wv[a] - wv[b] + wv[c], k=k, exclude=(a, b, c))]


CASES = {
    "generate_batch": (
        checks.ch00._reference_generate_batch,
        [
            (lambda n, f, p, generator=None: torch.rand(n, f, generator=generator), "forget to set each feature"),
            (
                lambda n, f, p, generator=None: (
                    torch.rand(n, f, generator=generator) * (torch.rand(n, f, generator=generator) > p)
                ),
                "1 − p instead of p",
            ),
            (
                lambda n, f, p, generator=None: (
                    torch.randn(n, f, generator=generator).abs().clamp(max=1)
                    * (torch.rand(n, f, generator=generator) < p)
                ),
                "uniform on [0, 1]",
            ),
            (lambda n, f, p, generator=None: torch.randn(n, f, generator=generator), "torch.rand, not torch.randn"),
            (lambda n, f, p, generator=None: checks.ch00._reference_generate_batch(n, f, p), "generator=generator"),
        ],
    ),
    "toy_forward": (
        checks.ch00._reference_toy_forward,
        [
            (lambda W, b, x: (x @ W.T) @ W + b, "forget the ReLU"),
            (lambda W, b, x: torch.relu((x @ W.T) @ W), "forget to add the bias"),
            (lambda W, b, x: torch.relu((x @ W.T) @ W) + b, "before the ReLU, not after"),
            (lambda W, b, x: torch.relu((x @ W.T) @ W.T.T.T.T + b * 2), "ReLU(Wᵀ W x + b)"),
        ],
    ),
    "importance_weighted_loss": (
        checks.ch00._reference_importance_weighted_loss,
        [
            (lambda x, y, i: ((x - y) ** 2).mean(), "multiply by the importance"),
            (lambda x, y, i: (i * (x - y) ** 2).sum(), "not the sum"),
            (lambda x, y, i: (i * (x - y) ** 2).sum(dim=1).mean(), "over the features too"),
            (lambda x, y, i: (i * (x - y).abs()).mean(), "square the errors"),
            (lambda x, y, i: (i * (x - y) ** 2).mean(dim=0), "single number"),
        ],
    ),
    "feature_norms": (
        checks.ch00._reference_feature_norms,
        [
            (lambda W: W.norm(dim=1), "columns of W"),
            (lambda W: (W**2).sum(dim=0), "squared lengths"),
            (lambda W: W.abs().sum(dim=0), "‖W[:, i]‖"),
        ],
    ),
    "random_rotation": (
        geometry.random_rotation,
        [
            (lambda n, generator=None: torch.randn(n, n, generator=generator), "QR decomposition"),
            (_qr_without_sign_fix, "sign of the matching diagonal entry of R"),
            (lambda n, generator=None: geometry.random_rotation(n), "ignores its generator"),
        ],
    ),
    "cosine_similarity": (
        geometry.cosine_similarity,
        [
            (lambda A, B: A @ B.T, "plain dot products"),
            (lambda A, B: (A / A.norm(dim=1, keepdim=True)) @ B.T, "only one of A and B"),
            (lambda A, B: geometry.cosine_similarity(B, A), "put the rows of A first"),
            (
                lambda A, B: (A / A.norm(dim=0, keepdim=True)) @ (B / B.norm(dim=0, keepdim=True)).T,
                "normalised the columns",
            ),
        ],
    ),
    "analogy": (
        embeddings.analogy,
        [
            (_analogy_keeping_queries, "exclude the three query words"),
            (_analogy_by_dot_product, "not by the raw dot product"),
            (_analogy_wrong_order, "king − man + woman"),
        ],
    ),
    "change_basis": (
        checks.ch01._reference_change_basis,
        [
            (lambda W, x, M: (W @ M.T, M @ x), "Mᵀ in place of M⁻¹"),
            (lambda W, x, M: (torch.linalg.inv(M) @ W.T, M @ x), "M⁻¹ on the right"),
            (lambda W, x, M: (W @ torch.linalg.inv(M), x), "x' = M x"),
            (lambda W, x, M: (W @ M, M @ x), "W' = W M⁻¹"),
        ],
    ),
}


(
    test_reference_passes,
    test_plausible_mistake_fails_with_its_hint,
    test_untouched_stub_reports_not_implemented,
    test_missing_return_is_named,
) = check_contract.contract_tests(CASES)


def test_every_chapter_00_and_01_check_is_covered_here():
    declared = {
        name[len("check_") :] for m in (checks.ch00, checks.ch01) for name in dir(m) if name.startswith("check_")
    }
    assert declared == set(CASES), "add the new check's reference and wrong answers to CASES"


def test_every_chapter_of_checks_has_a_test_file():
    # Each superpose_lib/checks/chNN.py is covered by a tests/test_checks*.py that names its checks.
    tests_text = "".join(p.read_text() for p in Path(__file__).parent.glob("test_checks*.py"))
    for module in sorted(Path(checks.__file__).parent.glob("ch[0-9][0-9].py")):
        chapter = getattr(checks, module.stem)
        for name in dir(chapter):
            if name.startswith("check_"):
                assert name[len("check_") :] in tests_text, (
                    f"{module.name}: {name} has no test in tests/test_checks*.py"
                )


def test_yours_or_reference_uses_yours_only_after_its_check_passes(capsys):
    def cosine_similarity(a, b):
        return geometry.cosine_similarity(a, b)

    assert checks.yours_or_reference(cosine_similarity) is geometry.cosine_similarity
    assert "using the library's reference" in capsys.readouterr().out
    checks.check_cosine_similarity(cosine_similarity)
    assert checks.yours_or_reference(cosine_similarity) is cosine_similarity


def test_yours_or_reference_names_unknown_exercises():
    def not_an_exercise():
        pass

    with pytest.raises(ValueError, match="no exercise is called"):
        checks.yours_or_reference(not_an_exercise)
