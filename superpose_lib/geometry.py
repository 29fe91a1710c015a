"""Geometry of high-dimensional directions: rotations, random unit vectors, cosine similarity, and (chapter 04)
almost-orthogonal directions: the dot-product density, coherence, the Welch bound, Johnson–Lindenstrauss.

Conventions: vectors are the **rows** of a matrix unless a docstring says otherwise; every random
function takes `seed` or a `torch.Generator` and returns CPU float32 tensors unless `device` says otherwise.
"""

from __future__ import annotations

import math

import torch

from . import _validate, engine


@_validate.arguments(n=_validate.Int(1), proper=_validate.Flag(), device=_validate.Device(), **_validate.RANDOMNESS)
def random_rotation(n: int, *, proper: bool = False, seed=None, generator=None, device=None) -> torch.Tensor:
    """A Haar-random (uniformly distributed) orthogonal matrix of shape (n, n).

    Draw a Gaussian matrix G, take its QR decomposition G = QR, and flip the sign of each column of Q
    where R's diagonal is negative. Without that sign fix, Q inherits the sign convention of the QR
    routine and is *not* uniform (its first column always points into the same half-space).

    Parameters
    ----------
    n : int
        Dimension.
    proper : bool
        If True, return a rotation in the strict sense (determinant +1, uniform on SO(n)) by flipping
        the last column when the determinant is -1. Otherwise uniform on O(n) (determinant ±1).
    seed, generator : int or torch.Generator, optional
        Source of randomness; pass one of them for reproducible results.
    device : str or torch.device, optional
        Where to build the matrix (CPU by default).

    Examples
    --------
    >>> Q = random_rotation(3, seed=0)
    >>> torch.allclose(Q @ Q.T, torch.eye(3), atol=1e-6)
    True
    """
    _validate.fits_in_memory("n", 4 * 8 * n * n)  # the Gaussian, Q, R and the answer
    gen = _validate.generator(seed, generator)
    # Draw on the CPU generator and move, so a seed gives the same matrix on every device.
    gaussian = torch.randn(n, n, generator=gen, dtype=torch.float64)  # (n, n)
    q, r = torch.linalg.qr(gaussian)
    q = q * torch.sign(torch.diagonal(r)).unsqueeze(0)  # make the decomposition unique: diag(R) > 0
    if proper and torch.linalg.det(q) < 0:
        q[:, -1] = -q[:, -1]
    return q.to(device=device, dtype=torch.float32)


@_validate.arguments(k=_validate.Int(1), n=_validate.Int(1), device=_validate.Device(), **_validate.RANDOMNESS)
def random_unit_vectors(k: int, n: int, *, seed=None, generator=None, device=None) -> torch.Tensor:
    """`k` independent unit vectors, uniform on the sphere in R^n, as the rows of a (k, n) tensor.

    Examples
    --------
    >>> V = random_unit_vectors(4, 10, seed=0)
    >>> V.shape, bool(torch.allclose(V.norm(dim=1), torch.ones(4)))
    (torch.Size([4, 10]), True)
    """
    _validate.fits_in_memory("k and n", 3 * 4 * k * n, hint="pass a smaller k or n")
    gen = _validate.generator(seed, generator)
    gaussian = torch.randn(k, n, generator=gen)  # (k, n); a Gaussian is rotation-invariant
    return (gaussian / gaussian.norm(dim=1, keepdim=True)).to(device)


@_validate.arguments(a=_validate.Tensor(ndim=(1, 2)), b=_validate.Tensor(ndim=(1, 2)))
def cosine_similarity(a, b) -> torch.Tensor:
    """Cosine similarity between every row of `a` and every row of `b`.

    Parameters
    ----------
    a : tensor of shape (m, d) or (d,)
    b : tensor of shape (p, d) or (d,)

    Returns
    -------
    tensor of shape (m, p); a 1-D argument drops its axis, so two vectors give a scalar tensor.

    Raises a ValueError for mismatched dimensions or for a zero vector (whose direction is undefined).

    Examples
    --------
    >>> cosine_similarity(torch.tensor([1.0, 0.0]), torch.tensor([[1.0, 1.0], [0.0, -2.0]]))
    tensor([0.7071, 0.0000])
    """
    if a.shape[-1] != b.shape[-1]:
        raise ValueError(
            f"a and b must have vectors of the same length, got a of shape {tuple(a.shape)} "
            f"and b of shape {tuple(b.shape)}"
        )
    dtype = torch.promote_types(a.dtype, b.dtype)
    if dtype in (torch.float16, torch.bfloat16):  # half-precision products are missing on some CPUs
        dtype = torch.float32
    a2, b2 = a.reshape(-1, a.shape[-1]).to(dtype), b.reshape(-1, b.shape[-1]).to(b.device, dtype)
    a_norm, b_norm = a2.norm(dim=1, keepdim=True), b2.norm(dim=1, keepdim=True)
    if (a_norm == 0).any() or (b_norm == 0).any():
        raise ValueError("cosine similarity is undefined for a zero vector; remove all-zero rows from a and b")
    cos = (a2 / a_norm) @ (b2 / b_norm).T  # (m, p)
    if a.ndim == 1:
        cos = cos[0]
    if b.ndim == 1:
        cos = cos[..., 0]
    return cos


# Chapter 04: almost-orthogonal directions, coherence, the Welch bound and Johnson–Lindenstrauss.

_EULER_GAMMA = 0.5772156649015329


@_validate.arguments(t=_validate.Tensor(convert=False), n=_validate.Int(2))
def dot_product_density(t, n: int) -> torch.Tensor:
    """The exact density of the dot product of two independent uniform unit vectors in R^n.

    .. math:: f_n(t) = \\frac{\\Gamma(n/2)}{\\sqrt{\\pi}\\,\\Gamma((n-1)/2)} (1 - t^2)^{(n-3)/2}, \\quad -1 < t < 1,

    and 0 outside (-1, 1). By rotation invariance it is also the density of one coordinate of a uniform unit
    vector; its mean is 0 and its variance is exactly 1/n. For n = 2 it has integrable peaks at ±1.

    Parameters
    ----------
    t : float, array or tensor
        Where to evaluate the density.
    n : int
        Dimension, at least 2.

    Returns
    -------
    tensor of the same shape as `t` (float64 unless `t` is a floating-point tensor of another precision).

    Examples
    --------
    >>> round(dot_product_density(0.0, 3).item(), 6)  # uniform on [-1, 1] in three dimensions
    0.5
    """
    was_tensor = isinstance(t, torch.Tensor) and t.is_floating_point()
    t = torch.as_tensor(t, dtype=None if was_tensor else torch.float64)
    t64 = t.double()
    log_constant = math.lgamma(n / 2) - 0.5 * math.log(math.pi) - math.lgamma((n - 1) / 2)
    inside = t64.abs() < 1
    safe = torch.where(inside, t64, torch.zeros_like(t64))
    density = torch.exp(log_constant + (n - 3) / 2 * torch.log1p(-(safe**2)))
    density = torch.where(inside, density, torch.zeros_like(density))
    return density.to(t.dtype) if was_tensor else density


@_validate.arguments(eps=_validate.Real(0, low_open=True), n=_validate.Int(1))
def dot_product_tail_bound(eps, n: int) -> float:
    """The Gaussian-type tail bound P(|u·v| ≥ eps) ≤ 2 exp(−n eps² / 2) for random unit vectors u, v in R^n.

    A standard concentration-of-measure bound (e.g. Vershynin, *High-Dimensional Probability*, 2018, ch. 3 and 5);
    it is loose by a factor that grows slowly with n but has the right exponential rate.

    Examples
    --------
    >>> round(dot_product_tail_bound(0.1, 1000), 4)
    0.0135
    """
    return 2 * math.exp(-n * eps * eps / 2)  # (eps * eps is inf, not an OverflowError, for a huge eps)


@_validate.arguments(V=_validate.Tensor(min_ndim=2))
def coherence(V) -> torch.Tensor:
    """The coherence of a set of vectors: the largest off-diagonal |cos| between the **rows** of `V`.

    Parameters
    ----------
    V : tensor of shape (k, n), or a batch (..., k, n); k >= 2 non-zero rows.

    Returns
    -------
    tensor of shape () (or the batch shape): max over i ≠ j of |cos(vᵢ, vⱼ)|, in [0, 1].

    Examples
    --------
    >>> coherence(torch.tensor([[1.0, 0.0], [1.0, 1.0], [0.0, 2.0]]))
    tensor(0.7071)
    """
    if V.shape[-2] < 2:
        raise ValueError(f"V must have shape (k, n) with k >= 2 vectors as its rows, got shape {tuple(V.shape)}")
    norms = V.norm(dim=-1, keepdim=True)  # (..., k, 1)
    if (norms == 0).any():
        raise ValueError("coherence is undefined for a zero vector; remove all-zero rows from V")
    unit = V / norms
    cos = (unit @ unit.transpose(-1, -2)).abs()  # (..., k, k)
    k = V.shape[-2]
    off_diagonal = ~torch.eye(k, dtype=torch.bool, device=V.device)
    return cos.masked_fill(~off_diagonal, 0.0).amax(dim=(-1, -2))


@_validate.arguments(k=_validate.Int(1), n=_validate.Int(1))
def welch_bound(k: int, n: int) -> float:
    """The Welch bound: no k unit vectors in R^n have coherence below √((k − n) / (n (k − 1))).

    For k ≤ n the bound is 0 (orthonormal vectors exist). Frames that meet it are *equiangular tight frames*,
    for example k = n + 1 vectors at the vertices of a regular simplex (Welch, 1974; Strohmer and Heath, 2003).

    Examples
    --------
    >>> welch_bound(3, 2)  # three unit vectors in the plane: 120° apart, |cos| = 1/2
    0.5
    """
    if k <= n:
        return 0.0
    return math.sqrt((k - n) / (n * (k - 1)))


@_validate.arguments(n=_validate.Int(1))
def regular_simplex(n: int) -> torch.Tensor:
    """The n + 1 unit vertices of a regular simplex centred at the origin of R^n, as the rows of (n + 1, n).

    Every pair has cosine exactly −1/n, which meets the Welch bound for k = n + 1.

    Examples
    --------
    >>> S = regular_simplex(2)
    >>> [round(v, 4) for v in (S @ S.T)[0].tolist()]
    [1.0, -0.5, -0.5]
    """
    _validate.fits_in_memory("n", 4 * 8 * (n + 1) ** 2)
    # Centre the n + 1 standard basis vectors of R^(n+1); they then span an n-dimensional subspace, whose
    # orthonormal basis (from QR) gives coordinates in R^n.
    points = torch.eye(n + 1, dtype=torch.float64) - 1 / (n + 1)  # (n+1, n+1), rows sum to zero
    basis, _ = torch.linalg.qr(points[:, :n])  # (n+1, n): orthonormal columns spanning the centred plane
    simplex = points @ basis  # (n+1, n)
    return simplex / simplex.norm(dim=1, keepdim=True)


@_validate.arguments(k=_validate.Int(2), n=_validate.Int(1), order=_validate.Int(1, 2))
def coherence_estimate(k: int, n: int, order: int = 2) -> float:
    """The typical coherence of k independent uniform unit vectors in R^n.

    ``order=1`` is the leading-order law √(4 ln k / n): each of the m = k(k−1)/2 cosines is roughly
    N(0, 1/n), and the largest |·| of m such values is about √(2 ln m / n) ≈ √(4 ln k / n). It overshoots
    for moderate k. ``order=2`` keeps the next terms of the extreme-value expansion of the maximum of m
    Gaussian magnitudes (the ln ln correction and the Gumbel mean, Euler's γ),
    X = 2 ln(2m) − ln(4π ln(2m)) + 2γ, and maps it through the sphere's lighter tail
    P(|t| > x) ∝ (1 − x²)^((n−1)/2), giving √(1 − exp(−X / n)) (always below 1).

    Examples
    --------
    >>> round(coherence_estimate(1000, 256, order=1), 3), round(coherence_estimate(1000, 256), 3)
    (0.329, 0.297)
    """
    if order == 1:
        return math.sqrt(4 * math.log(k) / n)
    pairs = k * (k - 1) / 2
    log_2m = math.log(2 * pairs)
    exponent = max(2 * log_2m - math.log(4 * math.pi * log_2m) + 2 * _EULER_GAMMA, 0.0)
    return math.sqrt(1 - math.exp(-exponent / n))


@_validate.arguments(n_points=_validate.Int(1), eps=_validate.Real(0, 1, low_open=True, high_open=True))
def jl_min_dim(n_points: int, eps: float) -> int:
    """The Johnson–Lindenstrauss dimension: a Gaussian random projection of `n_points` points to this many
    dimensions keeps every pairwise distance within a factor (1 ± eps) with good probability.

    Uses the constant of Dasgupta and Gupta (2003): n ≥ 4 ln(n_points) / (eps²/2 − eps³/3), rounded down as
    scikit-learn's ``johnson_lindenstrauss_min_dim`` does (the two agree exactly).

    Examples
    --------
    >>> jl_min_dim(1_000, 0.1)
    5920
    """
    denominator = eps**2 / 2 - eps**3 / 3  # as scikit-learn writes it, so the two agree exactly
    if denominator <= 0 or not math.isfinite(4 * math.log(n_points) / denominator):
        raise ValueError(f"eps is too small: eps²/2 − eps³/3 underflows for eps = {eps!r}; pass eps >= 1e-150")
    return int(4 * math.log(n_points) / denominator)


@_validate.arguments(n=_validate.Int(1), eps=_validate.Real(0, low_open=True))
def almost_orthogonal_count(n: int, eps: float) -> float:
    """How many random unit vectors in R^n fit with every pairwise |cos| < eps, by the union bound: exp(n eps²/4).

    With k vectors there are fewer than k²/2 pairs, each with P(|cos| ≥ eps) ≤ 2 exp(−n eps²/2), so the chance
    that some pair fails is below k² exp(−n eps²/2) < 1 when k < exp(n eps²/4): exponentially many in n.

    Examples
    --------
    >>> round(almost_orthogonal_count(1_000, 0.2))
    22026
    """
    exponent = n * eps * eps / 4
    if exponent > math.log(torch.finfo(torch.float64).max):
        raise ValueError(f"n and eps are too large: exp(n eps²/4) = exp({exponent:.4g}) overflows a float")
    return math.exp(exponent)


@_validate.arguments(V=_validate.Tensor(2, nonempty=True), eps=_validate.Real(0, 1, low_open=True))
def almost_orthogonal_prefix(V, eps: float) -> int:
    """How many of the rows of `V`, taken in order, stay pairwise within `eps` of orthogonal.

    The largest k such that every pair among the first k rows has |cos| < eps, i.e. the first k rows have
    coherence below eps (one row alone has no pair, so the answer is at least 1). For random rows it grows
    exponentially with the dimension (the union bound of `almost_orthogonal_count`); chapter 04 measures it.

    Parameters
    ----------
    V : tensor of shape (k_max, n) with non-zero rows.
    eps : float in (0, 1]

    Returns
    -------
    int between 1 and k_max.

    Examples
    --------
    >>> almost_orthogonal_prefix(torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]), 0.5)  # the third is 45° off both
    2
    """
    norms = V.norm(dim=1, keepdim=True)  # (k_max, 1)
    if (norms == 0).any():
        raise ValueError("V must have non-zero rows: a zero vector has no direction; remove all-zero rows")
    unit = V / norms
    overlaps = (unit @ unit.T).abs().tril(diagonal=-1)  # (k_max, k_max): |cos| of each row with the earlier ones
    breaks = (overlaps >= eps).any(dim=1)  # (k_max,): the rows that come within eps of an earlier one
    return int(breaks.int().argmax()) if bool(breaks.any()) else V.shape[0]


@_validate.arguments(X=_validate.Tensor(ndim=2), n_components=_validate.Int(1), **_validate.RANDOMNESS)
def random_projection(X, n_components: int, *, seed=None, generator=None) -> torch.Tensor:
    """Project the rows of X (N, d) to `n_components` dimensions with a Gaussian matrix scaled by 1/√n_components.

    Each squared distance is preserved in expectation; Johnson–Lindenstrauss says all of them stay within
    (1 ± eps) once n_components ≥ jl_min_dim(N, eps). Returns a (N, n_components) tensor in X's dtype.

    Examples
    --------
    >>> random_projection(torch.ones(5, 100), 20, seed=0).shape
    torch.Size([5, 20])
    """
    _validate.fits_in_memory("n_components", 8 * n_components * (X.shape[0] + X.shape[1]) * 2)
    gen = _validate.generator(seed, generator)
    R = torch.randn(X.shape[1], n_components, generator=gen, dtype=torch.float64)  # (d, n_components)
    return ((X.double().cpu() @ R) / math.sqrt(n_components)).to(device=X.device, dtype=X.dtype)


@_validate.arguments(
    k=_validate.Int(2),
    n=_validate.Int(1),
    steps=_validate.Int(1),
    lr=_validate.Real(0, low_open=True),
    power=_validate.Real(2, 128),
    device=_validate.Device(),
    progress=_validate.Flag(),
    **_validate.RANDOMNESS,
)
def pack_unit_vectors(
    k: int,
    n: int,
    *,
    steps: int = 1_000,
    lr: float = 0.01,
    power: float = 32.0,
    seed=None,
    generator=None,
    device=None,
    progress: bool = True,
) -> torch.Tensor:
    """Optimise `k` unit vectors in R^n to have low coherence (largest pairwise |cos|), as the rows of (k, n).

    Start from random unit vectors and run Adam on the soft maximum ``(mean over pairs |cos|^q)^(1/q)``,
    with q rising from 2 to `power` (early steps spread all the pairs, late steps push on the worst ones),
    renormalising the rows after each step. Returns the least coherent set seen. The Welch bound
    (`welch_bound`) is a floor no set can beat; small cases that meet it (3 vectors in R², the regular
    simplex) are found to about 1e-4.

    Parameters
    ----------
    k, n : int
        Number of vectors and dimension.
    steps, lr : int, float
        Number of Adam steps and its learning rate.
    power : float
        Final exponent q of the soft maximum, in [2, 128]; larger values target the single worst pair.
    seed, generator : optional
        Source of randomness for the starting vectors.
    device : optional
        CPU by default.
    progress : bool
        Show a tqdm progress bar.

    Examples
    --------
    >>> V = pack_unit_vectors(3, 2, steps=300, seed=0, progress=False)
    >>> round(coherence(V).item(), 3)
    0.5
    """
    _validate.fits_in_memory("k and n", 6 * 8 * k * (k + n), device, hint="pass a smaller k or n")
    start = random_unit_vectors(k, n, seed=seed, generator=generator)
    packing = _Packing(start.double().to(device), steps, power)
    engine.fit(packing, lambda n_batch, gen: None, steps, 1, lr, before_update=packing.keep_best,
               after_update=packing.renormalise, progress=progress, threads=engine.threads_for(k * k * n),
               desc="packing")  # fmt: skip
    with torch.no_grad():
        packing.batch_loss(None)  # score the final vectors too
        packing.keep_best(None)
    return packing.best.to(torch.float32)


class _Packing(torch.nn.Module):
    """`pack_unit_vectors`'s objective for the training engine: the soft maximum of the pairs' |cos|."""

    def __init__(self, V: torch.Tensor, steps: int, power: float):
        super().__init__()
        self.V = torch.nn.Parameter(V)  # (k, n)
        self.rows, self.cols = torch.triu_indices(V.shape[0], V.shape[0], offset=1, device=V.device)
        self.steps, self.power, self.step = steps, power, 0
        self.best, self.best_coherence = V.clone(), math.inf

    def batch_loss(self, _batch) -> torch.Tensor:
        unit = self.V / self.V.norm(dim=1, keepdim=True)  # normalising inside the graph keeps the gradient tangent
        cos = (unit @ unit.T)[self.rows, self.cols]  # (k(k-1)/2,)
        self.current = (unit.detach(), cos.detach().abs().max().item())
        q = 2 + (self.power - 2) * self.step / max(self.steps - 1, 1)  # early steps spread all pairs, late the worst
        return ((cos.abs() ** q).mean() ** (1 / q)).reshape(1)

    def keep_best(self, _grads) -> None:  # before each update, the vectors just scored
        unit, coherence = self.current
        if coherence < self.best_coherence:
            self.best, self.best_coherence = unit.clone(), coherence

    def renormalise(self, step: int, _adam) -> None:
        self.V.data /= self.V.data.norm(dim=1, keepdim=True)
        self.step = step + 1
