"""Exercise checks for the workbooks: ``check_<exercise>(your_function)``.

Each check calls your function on several seeded inputs and edge cases and compares it with a reference
implementation. It prints one line when everything agrees; otherwise it raises an AssertionError whose
message names the most likely mistake. A function that still raises NotImplementedError (the untouched
blank) is reported as "not implemented yet".

Demo cells after an exercise call ``yours_or_reference(fn)``: your function once its check has passed,
else the library's reference (and a note saying so), so a workbook runs top to bottom at any stage.
"""

from __future__ import annotations

import torch

from . import embeddings, geometry

_REFERENCES: dict[str, object] = {}
_PASSED: dict[str, object] = {}


def _call(fn, name: str, *args, **kwargs):
    """Call the learner's function; an untouched blank becomes a clear "not implemented yet"."""
    if not callable(fn):
        raise AssertionError(f"pass your function itself to the check, e.g. check_{name}({name}); got {fn!r}")
    try:
        result = fn(*args, **kwargs)
    except NotImplementedError:
        raise NotImplementedError(
            f"{name} is not implemented yet: replace the `raise NotImplementedError(...)` line "
            "with your code, then run this cell again."
        ) from None
    if result is None:
        raise AssertionError(f"{name} returned None: did you forget the `return` statement?")
    return result


def _tensor(name: str, value, shape=None) -> torch.Tensor:
    if not isinstance(value, torch.Tensor):
        raise AssertionError(f"{name} should return a torch.Tensor, got {type(value).__name__}")
    if shape is not None and tuple(value.shape) != tuple(shape):
        raise AssertionError(f"{name} returned shape {tuple(value.shape)}, expected {tuple(shape)}")
    return value


def _require_reproducible(fn, name: str, args: tuple, random_call: str) -> None:
    """Two generators with the same seed must give the same result."""
    if not torch.equal(_call(fn, name, *args, generator=_seeded(7)), _call(fn, name, *args, generator=_seeded(7))):
        raise AssertionError(
            f"{name} ignores its generator (two generators with the same seed gave different results): "
            f"pass generator=generator to every {random_call} call."
        )


def _passed(name: str, fn, message: str) -> None:
    _PASSED[name] = fn
    print(f"✓ {name}: {message}")


def yours_or_reference(fn):
    """Your function if its check has passed in this session; else the library's reference, with a note."""
    name = getattr(fn, "__name__", None)
    if name not in _REFERENCES:
        raise ValueError(f"no exercise is called {name!r}; pass one of: {', '.join(sorted(_REFERENCES))}")
    if _PASSED.get(name) is fn:
        return fn
    print(f"(using the library's reference {name}: yours has not passed check_{name} yet)")
    return _REFERENCES[name]


def _seeded(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


# ---------------------------------------------------------------------------------------------------------
# Chapter 00: the toy model's pieces


def _reference_generate_batch(n_batch, n_features, feature_probability, generator=None):
    values = torch.rand(n_batch, n_features, generator=generator)
    present = torch.rand(n_batch, n_features, generator=generator) < feature_probability
    return values * present


def _reference_toy_forward(W, b, x):
    h = x @ W.T  # (batch, d_hidden)
    return torch.relu(h @ W + b)  # (batch, n_features)


def _reference_importance_weighted_loss(x, x_hat, importance):
    return (importance * (x - x_hat) ** 2).mean()


def _reference_feature_norms(W):
    return W.norm(dim=0)


_REFERENCES.update(
    generate_batch=_reference_generate_batch,
    toy_forward=_reference_toy_forward,
    importance_weighted_loss=_reference_importance_weighted_loss,
    feature_norms=_reference_feature_norms,
)


def check_generate_batch(generate_batch) -> None:
    """Check ``generate_batch(n_batch, n_features, feature_probability, generator)``."""
    name = "generate_batch"
    for probability in (1.0, 0.3, 0.05):
        x = _tensor(name, _call(generate_batch, name, 20_000, 10, probability, generator=_seeded(0)), (20_000, 10))
        if not x.is_floating_point():
            raise AssertionError(f"{name} should return floats, got dtype {x.dtype}")
        if (x < 0).any() or (x > 1).any():
            raise AssertionError(
                f"{name} returned values outside [0, 1] (min {x.min():.2f}, max {x.max():.2f}): "
                "non-zero features are uniform on [0, 1], so use torch.rand, not torch.randn."
            )
        fraction = (x != 0).float().mean().item()
        if abs(fraction - probability) > 0.01:
            if abs(fraction - (1 - probability)) < 0.01 and probability != 0.5:
                hint = "did you keep features with probability 1 − p instead of p?"
            elif fraction > 0.99:
                hint = "did you forget to set each feature to zero with probability 1 − feature_probability?"
            else:
                hint = "each feature should be non-zero independently with probability feature_probability."
            raise AssertionError(
                f"with feature_probability={probability}, {fraction:.1%} of the features were non-zero: {hint}"
            )
        nonzero = x[x != 0]
        if abs(nonzero.mean().item() - 0.5) > 0.02 or abs((nonzero < 0.25).float().mean().item() - 0.25) > 0.02:
            raise AssertionError(
                f"the non-zero values of {name} should be uniform on [0, 1] (mean 0.5), got mean "
                f"{nonzero.mean():.2f}: draw the values with torch.rand and the on/off mask separately."
            )
    _require_reproducible(generate_batch, name, (100, 5, 0.5), "torch.rand")
    _passed(name, generate_batch, "the right sparsity, uniform values on [0, 1], reproducible from a seed.")


def check_toy_forward(toy_forward) -> None:
    """Check ``toy_forward(W, b, x)`` = ReLU(Wᵀ W x + b) for a batch x of shape (batch, n_features)."""
    name = "toy_forward"
    for seed, (n_features, d_hidden, batch) in enumerate([(5, 2, 7), (20, 5, 3), (3, 3, 1)]):
        gen = _seeded(seed)
        W = torch.randn(d_hidden, n_features, generator=gen)
        b = torch.randn(n_features, generator=gen)
        x = torch.rand(batch, n_features, generator=gen)
        got = _tensor(name, _call(toy_forward, name, W, b, x), (batch, n_features))
        want = _reference_toy_forward(W, b, x)
        if torch.allclose(got, want, atol=1e-5):
            continue
        if torch.allclose(got, (x @ W.T) @ W + b, atol=1e-5):
            raise AssertionError(f"{name} returned negative outputs: did you forget the ReLU?")
        if torch.allclose(got, torch.relu((x @ W.T) @ W), atol=1e-5):
            raise AssertionError(f"{name} ignores b: did you forget to add the bias before the ReLU?")
        if torch.allclose(got, torch.relu((x @ W.T) @ W) + b, atol=1e-5):
            raise AssertionError(f"{name}: add the bias before the ReLU, not after it.")
        raise AssertionError(
            f"{name} does not compute ReLU(Wᵀ W x + b) for a batch: with x of shape (batch, n_features), "
            "h = x @ W.T has shape (batch, d_hidden) and the output is ReLU(h @ W + b)."
        )
    _passed(name, toy_forward, "ReLU(Wᵀ W x + b) for every sample of the batch.")


def check_importance_weighted_loss(importance_weighted_loss) -> None:
    """Check ``importance_weighted_loss(x, x_hat, importance)``: the mean of importance · (x − x_hat)²."""
    name = "importance_weighted_loss"
    gen = _seeded(0)
    x, x_hat = torch.rand(64, 5, generator=gen), torch.rand(64, 5, generator=gen)
    importance = 0.7 ** torch.arange(5.0)
    got = _call(importance_weighted_loss, name, x, x_hat, importance)
    got = _tensor(name, torch.as_tensor(got) if isinstance(got, float) else got)
    if got.numel() != 1:
        raise AssertionError(f"{name} should return a single number, got shape {tuple(got.shape)}: take the mean.")
    got = got.reshape(()).item()
    want = _reference_importance_weighted_loss(x, x_hat, importance).item()
    if abs(got - want) <= 1e-5 * max(1.0, abs(want)):
        edge = float(_call(importance_weighted_loss, name, x[:1], x[:1] + 1.0, torch.zeros(5)))
        if edge != 0.0:
            raise AssertionError(f"{name} should be 0 when every importance is 0, got {edge:.4f}.")
        _passed(name, importance_weighted_loss, "the importance-weighted mean squared error.")
        return
    squared = (x - x_hat) ** 2
    mistakes = [
        (((x - x_hat) ** 2).mean(), "did you forget to multiply by the importance?"),
        ((importance * squared).sum(), "take the mean over batch and features, not the sum."),
        ((importance * squared).sum(dim=1).mean(), "average over the features too, not only over the batch."),
        ((importance * (x - x_hat).abs()).mean(), "square the errors, (x − x_hat)², rather than taking |x − x_hat|."),
        ((importance**2 * squared).mean(), "weight the squared error by the importance, not its square."),
    ]
    for value, hint in mistakes:
        if abs(got - value.item()) <= 1e-5 * max(1.0, abs(value.item())):
            raise AssertionError(f"{name} returned {got:.4f}, expected {want:.4f}: {hint}")
    raise AssertionError(f"{name} returned {got:.4f}, expected {want:.4f} = mean(importance · (x − x_hat)²).")


def check_feature_norms(feature_norms) -> None:
    """Check ``feature_norms(W)``: the length of each column (feature direction) of W."""
    name = "feature_norms"
    W = torch.randn(2, 5, generator=_seeded(0))
    got = _call(feature_norms, name, W)
    if isinstance(got, torch.Tensor) and tuple(got.shape) == (2,):
        raise AssertionError(
            f"{name} returned 2 numbers for W of shape (2, 5): features are the columns of W, "
            "so take the norm along dim=0 (one number per feature)."
        )
    got = _tensor(name, got, (5,))
    want = _reference_feature_norms(W)
    if torch.allclose(got, want**2, atol=1e-5):
        raise AssertionError(f"{name} returned squared lengths: take the square root (or use .norm(dim=0)).")
    if not torch.allclose(got, want, atol=1e-5):
        raise AssertionError(f"{name} should return ‖W[:, i]‖ for each feature i, got {got} instead of {want}.")
    _passed(name, feature_norms, "one length per feature (column of W).")


# ---------------------------------------------------------------------------------------------------------
# Chapter 01: rotations, cosines, analogies, invariance


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
