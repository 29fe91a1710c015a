"""Interference between features that share dimensions, and when sharing pays (chapter 05).

`k` features live in `n` dimensions as the **columns** of W, shape (n, k). A sparse input x (k,) is written
into the hidden space as h = W x and read back as x̂ = Wᵀ h = Wᵀ W x, so feature j comes back as

    x̂ⱼ = (wⱼ·wⱼ) xⱼ + Σ_{i≠j} (wᵢ·wⱼ) xᵢ        (true activation + interference)

Inputs follow the toy model's convention (Elhage et al. 2022): each feature is non-zero with probability
`feature_probability`, and then uniform on [0, 1]. Losses are importance-weighted squared errors averaged
over the features, as `superpose_lib.toy_models.ToyModel.loss` computes them.
"""

from __future__ import annotations

import numbers

import torch

from . import _validate

# The declarations the functions below share.
_W = _validate.Tensor(ndim=2)  # (n, k): feature directions as columns
_PROBABILITY = _validate.Real(0, 1, low_open=True)
_IMPORTANCE = _validate.Tensor(ndim=1, nonempty=True)


def _feature_matrix(W: torch.Tensor) -> torch.Tensor:
    if 0 in W.shape:
        raise ValueError(f"W must have at least one dimension and one feature, got shape {tuple(W.shape)}")
    return W


def _features(x: torch.Tensor, W: torch.Tensor) -> torch.Tensor:
    """Feature activations `x` (..., k) to match W (n, k), in W's dtype."""
    if x.ndim == 0 or x.shape[-1] != W.shape[1]:
        raise ValueError(f"x must have one entry per feature (W has {W.shape[1]} columns), got shape {tuple(x.shape)}")
    return x.to(W.dtype)


def _importance(importance: torch.Tensor, k: int | None = None) -> torch.Tensor:
    importance = importance.double()
    if k is not None and importance.shape[0] != k:
        raise ValueError(
            f"importance must have one entry per feature ({k}, the columns of W), got {importance.shape[0]}"
        )
    if (importance < 0).any():
        raise ValueError("importance must be non-negative")
    return importance


@_validate.arguments(
    n_samples=_validate.Int(1), k=_validate.Int(1), feature_probability=_PROBABILITY, **_validate.RANDOMNESS
)
def sparse_features(n_samples: int, k: int, feature_probability: float, *, seed=None, generator=None):
    """A batch of sparse features, shape (n_samples, k): each entry is 0 with probability 1 − feature_probability,
    else uniform on [0, 1].

    Examples
    --------
    >>> x = sparse_features(1_000, 50, 0.1, seed=0)
    >>> x.shape, round((x > 0).float().mean().item(), 2)
    (torch.Size([1000, 50]), 0.1)
    """
    p = feature_probability
    _validate.fits_in_memory("n_samples and k", 3 * 4 * n_samples * k, hint="pass a smaller n_samples or k")
    gen = _validate.generator(seed, generator)
    values = torch.rand(n_samples, k, generator=gen)  # (n_samples, k)
    present = torch.rand(n_samples, k, generator=gen) < p
    return values * present


@_validate.arguments(
    W=_W,
    x=_validate.Tensor(),
    bias=_validate.Optional(_validate.Tensor(ndim=(0, 1), convert=False)),
    activation=_validate.Choice("linear", "relu"),
)
def readout(W, x, bias=None, activation: str = "linear") -> torch.Tensor:
    """Write x into the hidden space and read every feature back: act(Wᵀ W x + bias).

    Parameters
    ----------
    W : tensor (n, k)
        Feature directions as columns.
    x : tensor (..., k)
        Feature activations (a batch of rows).
    bias : float or tensor (k,), optional
        Added before the activation.
    activation : "linear" or "relu"

    Returns
    -------
    tensor (..., k): the readout x̂.

    Examples
    --------
    >>> readout(torch.eye(2), torch.tensor([0.5, 1.0]))
    tensor([0.5000, 1.0000])
    """
    W = _feature_matrix(W)
    x = _features(x, W)
    if bias is not None:
        bias = torch.as_tensor(bias, dtype=torch.float64 if isinstance(bias, numbers.Real) else None)  # a number
        # keeps its precision
        if bias.ndim == 1 and bias.shape[0] != W.shape[1]:
            raise ValueError(f"bias must be a number or one entry per feature ({W.shape[1]}), got {tuple(bias.shape)}")
    out = (x @ W.T) @ W  # (..., n) then (..., k)
    if bias is not None:
        out = out + bias.to(out.dtype)
    return torch.relu(out) if activation == "relu" else out


@_validate.arguments(W=_W, x=_validate.Tensor())
def interference(W, x) -> torch.Tensor:
    """The interference terms Σ_{i≠j} (wᵢ·wⱼ) xᵢ for every feature j, shape (..., k).

    Examples
    --------
    >>> W = torch.tensor([[1.0, 0.6], [0.0, 0.8]])  # two unit columns with cosine 0.6
    >>> interference(W, torch.tensor([1.0, 0.0]))
    tensor([0.0000, 0.6000])
    """
    W = _feature_matrix(W)
    x = _features(x, W)
    gram = W.T @ W  # (k, k)
    off_diagonal = gram - torch.diag(torch.diagonal(gram))
    return x @ off_diagonal  # gram is symmetric: (x @ G)ⱼ = Σᵢ xᵢ Gᵢⱼ


@_validate.arguments(W=_W, coefficients=_validate.Tensor(ndim=1))
def neuron_weights(W, coefficients) -> torch.Tensor:
    """The weights v of a neuron that reads Σᵢ cᵢ xᵢ from h = W x: the v with v·wᵢ = cᵢ for every feature i.

    The conditions are k equations Wᵀ v = c in n unknowns. For linearly independent directions (k ≤ n) they
    hold exactly, and the answer is the one of smallest norm, v = W (WᵀW)⁻¹ c (for orthonormal directions,
    v = W c). For k > n there is in general no exact solution (Wᵀ has rank at most n < k), and the answer is the
    least-squares v, which minimises ‖Wᵀ v − c‖; both are v = (W⁺)ᵀ c with W⁺ the pseudo-inverse.

    Parameters
    ----------
    W : tensor (n, k)
        Feature directions as columns.
    coefficients : tensor (k,)
        The weight cᵢ the neuron should give feature i.

    Returns
    -------
    tensor (n,): the neuron's weights v, in W's dtype.

    Examples
    --------
    >>> W = torch.tensor([[1.0, 1.0], [0.0, 1.0]])  # two skewed directions in the plane
    >>> v = neuron_weights(W, torch.tensor([1.0, 0.0]))
    >>> W.T @ v  # v·w₁ = 1, v·w₂ = 0
    tensor([1., 0.])
    """
    W = _feature_matrix(W)
    if coefficients.shape[0] != W.shape[1]:
        raise ValueError(
            f"coefficients must have one entry per feature (W has {W.shape[1]} columns), got {coefficients.shape[0]}"
        )
    work = torch.promote_types(W.dtype, torch.float32)  # pinv needs float32 or float64
    return (torch.linalg.pinv(W.to(work)).T @ coefficients.to(work)).to(W.dtype)  # (n, k) @ (k,)


@_validate.arguments(W=_W, feature_probability=_PROBABILITY)
def expected_readout_error(W, feature_probability: float) -> torch.Tensor:
    """The exact expected squared error of the linear readout, E[(x̂ⱼ − xⱼ)²], for every feature j, shape (k,).

    With aⱼ = (WᵀW)ⱼ − eⱼ (the j-th column of the Gram matrix minus the true activation), x̂ⱼ − xⱼ = aⱼ·x. For
    independent features with E[xᵢ] = p/2 and E[xᵢ²] = p/3 (on with probability p, then uniform on [0, 1]):

        E[(aⱼ·x)²] = (p/3) Σᵢ aᵢⱼ² + (p²/4) [(Σᵢ aᵢⱼ)² − Σᵢ aᵢⱼ²].

    For k random unit directions in R^n the second term averages out and the first is ≈ (p/3)(k − 1)/n.

    Examples
    --------
    >>> expected_readout_error(torch.eye(3), 0.5)  # orthonormal features: no interference
    tensor([0., 0., 0.], dtype=torch.float64)
    """
    W = _feature_matrix(W).double()
    p = feature_probability
    a = W.T @ W - torch.eye(W.shape[1], dtype=W.dtype)  # (k, k); column j is aⱼ
    squares = (a**2).sum(dim=0)
    return p / 3 * squares + p**2 / 4 * (a.sum(dim=0) ** 2 - squares)


@_validate.arguments(W=_W, x=_validate.Tensor(ndim=2), biases=_validate.Each(_validate.Real()))
def bias_tradeoff(W, x, biases) -> torch.Tensor:
    """Squared error of the ReLU readout ReLU(WᵀW x + b) for each bias b, split by where it comes from.

    Parameters
    ----------
    W : tensor (n, k); x : tensor (n_samples, k); biases : sequence of floats (usually ≤ 0).

    Returns
    -------
    tensor (len(biases), 2): column 0 is the error on **active** features (xⱼ > 0: shrinkage by the bias and
    interference), column 1 the error on **inactive** features (xⱼ = 0: false activations from positive
    interference above −b). Both are summed over features and averaged over samples, so their sum is the
    total squared error per sample.

    Examples
    --------
    >>> bias_tradeoff(torch.eye(2), torch.tensor([[1.0, 0.0]]), [0.0, -0.5])
    tensor([[0.0000, 0.0000],
            [0.2500, 0.0000]], dtype=torch.float64)
    """
    W = _feature_matrix(W).double()
    x = _features(x, W)
    if x.shape[0] == 0:
        raise ValueError("x must hold at least one sample (a row)")
    clean = readout(W, x)  # (n_samples, k), before bias and ReLU
    active = x > 0
    rows = []
    for b in biases:
        error = (torch.relu(clean + float(b)) - x) ** 2
        rows.append(torch.stack([(error * active).sum(dim=1).mean(), (error * ~active).sum(dim=1).mean()]))
    return torch.stack(rows)


@_validate.arguments(
    W=_W,
    b=_validate.Tensor(ndim=1),
    feature_probability=_PROBABILITY,
    importance=_IMPORTANCE,
    n_samples=_validate.Int(1),
    **_validate.RANDOMNESS,
)
def expected_loss(W, b, feature_probability: float, importance, *, n_samples: int = 100_000, seed=None, generator=None):
    """Monte Carlo estimate of the toy model's loss for a given arrangement: the importance-weighted squared error
    of x̂ = ReLU(WᵀW x + b), averaged over features (as `ToyModel.loss`) and over `n_samples` samples.

    Parameters
    ----------
    W : tensor (n, k); b : tensor (k,); feature_probability : float; importance : tensor (k,).

    Examples
    --------
    >>> W, b = dedicated_arrangement(4, 2, 0.5)
    >>> round(expected_loss(W, b, 0.5, torch.ones(4), seed=0), 3), round(dedicated_loss(torch.ones(4), 2, 0.5), 3)
    (0.052, 0.052)
    """
    W = _feature_matrix(W).double()
    k = W.shape[1]
    importance = _importance(importance, k)
    b = b.double()
    if b.shape[0] != k:
        raise ValueError(f"b must have one entry per feature ({k}, the columns of W), got {b.shape[0]}")
    x = sparse_features(n_samples, k, feature_probability, seed=seed, generator=generator).double()
    error = (readout(W, x, b, activation="relu") - x) ** 2  # (n_samples, k)
    return (error * importance).mean().item()


@_validate.arguments(k=_validate.Int(1), n=_validate.Int(1), feature_probability=_PROBABILITY)
def dedicated_arrangement(k: int, n: int, feature_probability: float):
    """ "Dedicate n dimensions to the top n features": W (n, k) is the identity on features 0..n−1 (ordered by
    importance) and zero elsewhere; every dropped feature gets the bias p/2, its best constant guess.

    Returns (W, b) with shapes (n, k) and (k,), float64.
    """
    p = feature_probability
    _validate.fits_in_memory("k and n", 8 * n * k, hint="pass a smaller k or n")
    kept = min(n, k)
    W = torch.zeros(n, k, dtype=torch.float64)
    W[torch.arange(kept), torch.arange(kept)] = 1.0
    b = torch.full((k,), p / 2, dtype=torch.float64)
    b[:kept] = 0.0
    return W, b


@_validate.arguments(k=_validate.Int(1), n=_validate.Int(1), feature_probability=_PROBABILITY)
def antipodal_arrangement(k: int, n: int, feature_probability: float):
    """A superposed arrangement: features 2d and 2d+1 share dimension d with opposite signs (antipodal pairs), so
    2n features fit in n dimensions; the ReLU removes their (negative) interference unless both are on at once.
    Features beyond 2n are dropped with the bias p/2.

    Returns (W, b) with shapes (n, k) and (k,), float64.
    """
    p = feature_probability
    _validate.fits_in_memory("k and n", 8 * n * k, hint="pass a smaller k or n")
    W = torch.zeros(n, k, dtype=torch.float64)
    kept = min(2 * n, k)
    for feature in range(kept):
        W[feature // 2, feature] = 1.0 if feature % 2 == 0 else -1.0
    b = torch.full((k,), p / 2, dtype=torch.float64)
    b[:kept] = 0.0
    return W, b


def _dropped_loss(p: float) -> float:
    return p / 3 - p**2 / 4  # the variance of a feature, the error of its best constant guess p/2


@_validate.arguments(importance=_IMPORTANCE, n=_validate.Int(1), feature_probability=_PROBABILITY)
def dedicated_loss(importance, n: int, feature_probability: float) -> float:
    """The exact loss of `dedicated_arrangement`: Σ_{i ≥ n} Iᵢ (p/3 − p²/4) / k (features sorted by importance).

    Examples
    --------
    >>> round(dedicated_loss(torch.ones(4), 2, 1.0), 4)  # dense: two features lost, each costs its variance 1/12
    0.0417
    """
    importance = _importance(importance)
    p = feature_probability
    return (importance[n:].sum() * _dropped_loss(p) / importance.shape[0]).item()


@_validate.arguments(importance=_IMPORTANCE, n=_validate.Int(1), feature_probability=_PROBABILITY)
def antipodal_loss(importance, n: int, feature_probability: float) -> float:
    """The exact loss of `antipodal_arrangement`. A pair (a, b) on one dimension reads back ReLU(xₐ − x_b) and
    ReLU(x_b − xₐ): alone, each is exact; both on (probability p²), each is off by min(xₐ, x_b), whose mean
    square is 1/6. So the pair costs (Iₐ + I_b) p²/6, and each dropped feature Iᵢ (p/3 − p²/4); divide by k.

    Examples
    --------
    >>> round(antipodal_loss(torch.ones(4), 2, 0.1), 5)  # four features in two dimensions, two pairs
    0.00167
    """
    importance = _importance(importance)
    p = feature_probability
    k = importance.shape[0]
    kept = min(2 * n, k)
    paired = importance[: kept - kept % 2].sum()  # an odd feature out has a dimension to itself: exact
    dropped = importance[kept:].sum()
    return ((paired * p**2 / 6 + dropped * _dropped_loss(p)) / k).item()


@_validate.arguments(importance=_IMPORTANCE, n=_validate.Int(1))
def crossover_density(importance, n: int) -> float:
    """The feature probability below which the antipodal arrangement beats the dedicated one.

    With A = Σ_{i≥n} Iᵢ (dropped by "dedicate"), C = Σ_{i≥2n} Iᵢ (dropped by both) and B = Σ_{i<2n} Iᵢ (paired),
    equating the two losses gives (A − C)(p/3 − p²/4) = B p²/6, so p* = ((A − C)/3) / (B/6 + (A − C)/4).
    Returns 0.0 when there is nothing to gain (k ≤ n).

    Examples
    --------
    >>> round(crossover_density(torch.ones(4), 2), 4)  # equal importance: superposition wins below 4/7
    0.5714
    """
    importance = _importance(importance)
    kept = min(2 * n, importance.shape[0])
    gained = importance[n:kept].sum().item()  # A − C
    paired = importance[: kept - kept % 2].sum().item()  # B
    if gained == 0:
        return 0.0
    return min((gained / 3) / (paired / 6 + gained / 4), 1.0)
