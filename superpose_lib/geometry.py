"""Geometry of high-dimensional directions: rotations, random unit vectors, cosine similarity.

Conventions: vectors are the **rows** of a matrix unless a docstring says otherwise; every random
function takes `seed` or a `torch.Generator` and returns CPU float32 tensors unless `device` says otherwise.
"""

from __future__ import annotations

import torch

from . import _validate


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
    n = _validate.positive_int("n", n)
    dev = _validate.device(device)
    gen = _validate.generator(seed, generator)
    # Draw on the CPU generator and move, so a seed gives the same matrix on every device.
    gaussian = torch.randn(n, n, generator=gen, dtype=torch.float64)  # (n, n)
    q, r = torch.linalg.qr(gaussian)
    q = q * torch.sign(torch.diagonal(r)).unsqueeze(0)  # make the decomposition unique: diag(R) > 0
    if proper and torch.linalg.det(q) < 0:
        q[:, -1] = -q[:, -1]
    return q.to(device=dev, dtype=torch.float32)


def random_unit_vectors(k: int, n: int, *, seed=None, generator=None, device=None) -> torch.Tensor:
    """`k` independent unit vectors, uniform on the sphere in R^n, as the rows of a (k, n) tensor.

    Examples
    --------
    >>> V = random_unit_vectors(4, 10, seed=0)
    >>> V.shape, bool(torch.allclose(V.norm(dim=1), torch.ones(4)))
    (torch.Size([4, 10]), True)
    """
    k = _validate.positive_int("k", k)
    n = _validate.positive_int("n", n)
    dev = _validate.device(device)
    gen = _validate.generator(seed, generator)
    gaussian = torch.randn(k, n, generator=gen)  # (k, n); a Gaussian is rotation-invariant
    return (gaussian / gaussian.norm(dim=1, keepdim=True)).to(dev)


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
    a = _validate.tensor("a", a, ndim=(1, 2))
    b = _validate.tensor("b", b, ndim=(1, 2))
    if a.shape[-1] != b.shape[-1]:
        raise ValueError(
            f"a and b must have vectors of the same length, got a of shape {tuple(a.shape)} "
            f"and b of shape {tuple(b.shape)}"
        )
    a2, b2 = a.reshape(-1, a.shape[-1]), b.reshape(-1, b.shape[-1])
    a_norm, b_norm = a2.norm(dim=1, keepdim=True), b2.norm(dim=1, keepdim=True)
    if (a_norm == 0).any() or (b_norm == 0).any():
        raise ValueError("cosine similarity is undefined for a zero vector; remove all-zero rows from a and b")
    cos = (a2 / a_norm) @ (b2 / b_norm).T  # (m, p)
    if a.ndim == 1:
        cos = cos[0]
    if b.ndim == 1:
        cos = cos[..., 0]
    return cos
