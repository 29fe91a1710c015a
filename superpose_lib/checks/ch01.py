"""Chapter 01: rotations, cosines, analogies, invariance."""

from __future__ import annotations

import torch

from .. import embeddings, geometry
from ._common import _REFERENCES, _call, _passed, _require_reproducible, _seeded, _tensor


def _reference_change_basis(W, x, M):
    return W @ torch.linalg.inv(M), M @ x


_REFERENCES.update(
    random_rotation=geometry.random_rotation,
    cosine_similarity=geometry.cosine_similarity,
    analogy=embeddings.analogy,
    change_basis=_reference_change_basis,
)


def check_random_rotation(random_rotation) -> None:
    """Check ``random_rotation(n, generator)``: a Haar-random (uniform) orthogonal n × n matrix."""
    name = "random_rotation"
    for n in (1, 2, 5, 20):
        Q = _tensor(name, _call(random_rotation, name, n, generator=_seeded(n)), (n, n)).double()
        if not torch.allclose(Q.T @ Q, torch.eye(n, dtype=Q.dtype), atol=1e-4):
            raise AssertionError(
                f"{name}({n}) is not orthogonal (QᵀQ ≠ I): did you return the Gaussian matrix itself "
                "instead of the Q of its QR decomposition (torch.linalg.qr)?"
            )
    gen = _seeded(0)
    samples = torch.stack([_call(random_rotation, name, 3, generator=gen).double() for _ in range(400)])
    corner_positive = (samples[:, 0, 0] > 0).double().mean().item()
    if not 0.35 < corner_positive < 0.65:
        raise AssertionError(
            f"Q[0, 0] was positive in {corner_positive:.0%} of 400 samples, but a uniformly random rotation "
            "has no preferred sign (about 50%): multiply each column of Q by the sign of the matching "
            "diagonal entry of R."
        )
    image = samples[:, :, 0]  # where each sample sends e₀: should be uniform on the sphere
    if image.mean(dim=0).abs().max() > 0.15:
        raise AssertionError(
            f"{name} sends a fixed vector to a biased direction (mean {image.mean(dim=0).tolist()}); "
            "a Haar-random rotation sends it anywhere on the sphere with equal chance."
        )
    _require_reproducible(random_rotation, name, (4,), "torch.randn")
    _passed(name, random_rotation, "orthogonal, uniformly random (no preferred signs), reproducible.")


def check_cosine_similarity(cosine_similarity) -> None:
    """Check ``cosine_similarity(A, B)``: the (m, p) cosines between the rows of A (m, d) and B (p, d)."""
    name = "cosine_similarity"
    gen = _seeded(0)
    A = torch.randn(4, 6, generator=gen) * torch.tensor([[1.0], [3.0], [0.5], [10.0]])
    B = torch.randn(3, 6, generator=gen) * torch.tensor([[2.0], [0.2], [5.0]])
    got = _tensor(name, _call(cosine_similarity, name, A, B))
    if tuple(got.shape) == (3, 4):
        raise AssertionError(f"{name} returned shape (p, m) = (3, 4): put the rows of A first, (m, p) = (4, 3).")
    _tensor(name, got, (4, 3))
    want = geometry.cosine_similarity(A, B)
    if torch.allclose(got, want, atol=1e-5):
        # edge cases: a single row, one dimension, parallel and opposite vectors
        single = _tensor(name, _call(cosine_similarity, name, A[:1], B), (1, 3))
        line = _tensor(
            name, _call(cosine_similarity, name, torch.tensor([[2.0], [-3.0]]), torch.tensor([[5.0]])), (2, 1)
        )
        if not torch.allclose(single, want[:1], atol=1e-5) or not torch.allclose(line, torch.tensor([[1.0], [-1.0]])):
            raise AssertionError(f"{name} fails for a single row or for 1-dimensional vectors: avoid .squeeze().")
        _passed(name, cosine_similarity, "the cosine between every row of A and every row of B.")
        return
    if torch.allclose(got, A @ B.T, atol=1e-4):
        raise AssertionError(f"{name} returned plain dot products (values above 1): divide by both norms.")
    if torch.allclose(got, (A / A.norm(dim=1, keepdim=True)) @ B.T, atol=1e-4) or torch.allclose(
        got, A @ (B / B.norm(dim=1, keepdim=True)).T, atol=1e-4
    ):
        raise AssertionError(f"{name} normalised only one of A and B: divide each row of both by its norm.")
    if torch.allclose(got, (A / A.norm(dim=0, keepdim=True)) @ (B / B.norm(dim=0, keepdim=True)).T, atol=1e-4):
        raise AssertionError(f"{name} normalised the columns: take each row's norm with .norm(dim=1, keepdim=True).")
    raise AssertionError(f"{name} returned values that are not cos(a, b) = a·b / (‖a‖ ‖b‖) for the rows a, b.")


def _words_of(result) -> list[str]:
    words = []
    for item in result:
        words.append(item[0] if isinstance(item, tuple | list) else item)
    if not all(isinstance(word, str) for word in words):
        raise AssertionError("analogy should return a list of words (or of (word, cosine) pairs)")
    return words


def check_analogy(analogy) -> None:
    """Check ``analogy(wv, a, b, c, k)``: the k words nearest (by cosine) to wv[b] − wv[a] + wv[c]."""
    name = "analogy"
    # A small world where the mistakes give different answers: vectors of unequal lengths, so ranking by
    # dot product differs from cosine, and the query words themselves would otherwise come back.
    words = ("man", "woman", "king", "queen", "prince", "giant", "crown", "apple")
    vectors = torch.tensor(
        [
            [1.0, 0.0, 0.1, 0.0],
            [0.0, 1.0, 0.5, 0.0],
            [1.0, 0.0, 1.0, 0.1],
            [0.0, 1.0, 1.0, 0.1],
            [0.9, 0.1, 0.9, 0.4],
            [0.0, 3.0, 4.0, 4.0],
            [0.5, 0.5, 1.2, 0.0],
            [0.1, 0.1, 0.0, 1.0],
        ]
    )
    tiny = embeddings.WordVectors(words, vectors)
    got = _words_of(_call(analogy, name, tiny, "man", "king", "woman", k=3))
    want = _words_of(embeddings.analogy(tiny, "man", "king", "woman", k=3))
    if len(got) != 3:
        raise AssertionError(f"{name}(..., k=3) returned {len(got)} words: return the top k.")
    if got != want:
        if any(word in got for word in ("man", "king", "woman")):
            raise AssertionError(f"{name} returned {got}: exclude the three query words from the answers.")
        scores = vectors @ (tiny["king"] - tiny["man"] + tiny["woman"])
        by_dot = [
            words[i] for i in scores.argsort(descending=True).tolist() if words[i] not in ("man", "king", "woman")
        ]
        if got == by_dot[:3]:
            raise AssertionError(f"{name} returned {got}: rank by cosine similarity, not by the raw dot product.")
        raise AssertionError(
            f"{name}(wv, 'man', 'king', 'woman') returned {got}, expected {want}: "
            "the target is wv[b] − wv[a] + wv[c] (king − man + woman)."
        )
    glove = embeddings.load_glove()
    top = _words_of(_call(analogy, name, glove, "man", "king", "woman", k=1))
    if top[:1] != ["queen"]:
        if top[:1] and top[0] in ("man", "king", "woman"):
            raise AssertionError(f"{name} returned {top}: exclude the three query words from the answers.")
        raise AssertionError(f"on GloVe, man : king :: woman : ? gave {top}, expected ['queen'].")
    _passed(name, analogy, "man : king :: woman : queen, query words excluded, ranked by cosine.")


def check_change_basis(change_basis) -> None:
    """Check ``change_basis(W, x, M)`` → (W', x') = (W M⁻¹, M x), so that W' x' = W x for invertible M."""
    name = "change_basis"
    gen = _seeded(0)
    W, x = torch.randn(3, 4, generator=gen, dtype=torch.float64), torch.randn(4, generator=gen, dtype=torch.float64)
    M = torch.randn(4, 4, generator=gen, dtype=torch.float64) + 2 * torch.eye(4, dtype=torch.float64)
    result = _call(change_basis, name, W, x, M)
    if not isinstance(result, tuple | list) or len(result) != 2:
        raise AssertionError(f"{name} should return a pair (W_new, x_new), got {type(result).__name__}")
    W_new, x_new = (_tensor(name, value) for value in result)
    if tuple(W_new.shape) != (3, 4) or tuple(x_new.shape) != (4,):
        raise AssertionError(
            f"{name} returned shapes {tuple(W_new.shape)} and {tuple(x_new.shape)}, expected (3, 4) and (4,): "
            "the new weights are W M⁻¹ (M⁻¹ on the right) and the new input is M x."
        )
    if not torch.allclose(x_new.double(), M @ x, atol=1e-6):
        raise AssertionError(f"{name}: the new input should be x' = M x.")
    if torch.allclose(W_new.double(), W @ M.T, atol=1e-6):
        raise AssertionError(
            f"{name} used Mᵀ in place of M⁻¹: the two agree only for orthogonal M. "
            "For a general invertible M use torch.linalg.inv(M)."
        )
    if not torch.allclose(W_new.double() @ x_new.double(), W @ x, atol=1e-6):
        raise AssertionError(f"{name}: W' x' should equal W x; the new weights are W' = W M⁻¹.")
    _passed(name, change_basis, "W' x' = (W M⁻¹)(M x) = W x for an invertible, non-orthogonal M.")
