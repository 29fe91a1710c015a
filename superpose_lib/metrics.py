"""Measurements of representations: how heavy-tailed, how superposed, how well recovered.

Feature matrices follow the course's convention: ``W`` has shape ``(..., d_hidden, n_features)`` and its
columns are the feature directions (``W[..., :, i]`` is feature ``i``). Leading dimensions (for example the
instances of a toy model) are kept: every metric is computed per instance.
"""

from __future__ import annotations

import torch

from . import _validate


@_validate.arguments(x=_validate.Tensor(min_ndim=1), dim=_validate.Int(None))
def kurtosis(x, dim: int = 0) -> torch.Tensor:
    """Pearson kurtosis ``E[(x − μ)⁴] / σ⁴`` along `dim` (not the excess kurtosis: a Gaussian gives 3).

    Moments are the plain sample moments (divided by the number of samples). A heavy-tailed, sparse signal
    (mostly near zero, occasionally large) has kurtosis well above 3; a constant has none, and gives NaN.

    Parameters
    ----------
    x : tensor, e.g. of shape (n_samples, n_units)
    dim : the dimension holding the samples (default 0).

    Returns
    -------
    tensor with `dim` removed, e.g. of shape (n_units,).

    Examples
    --------
    >>> round(kurtosis(torch.tensor([-1.0, 1.0, -1.0, 1.0])).item(), 6)  # two equal spikes: the minimum, 1
    1.0
    """
    if not -x.ndim <= dim < x.ndim:
        raise ValueError(f"dim must be between {-x.ndim} and {x.ndim - 1} for x of shape {tuple(x.shape)}, got {dim}")
    if x.shape[dim] < 2:
        raise ValueError(f"x needs at least 2 samples along dim {dim}, got shape {tuple(x.shape)}")
    centred = x - x.mean(dim=dim, keepdim=True)
    variance = centred.pow(2).mean(dim=dim)
    return centred.pow(4).mean(dim=dim) / variance.pow(2)


# A feature matrix (..., d_hidden, n_features), as every metric of W declares it.
_W = _validate.Tensor(min_ndim=2)


def _feature_matrix(W: torch.Tensor) -> torch.Tensor:
    if W.shape[-2] == 0:
        raise ValueError(f"W must have shape (..., d_hidden ≥ 1, n_features), got shape {tuple(W.shape)}")
    return W


# A feature whose norm is at most this times the largest feature's norm counts as not represented (0) in
# `feature_dimensionality`.
_TINY_FEATURE = 1e-100


def _gram(W: torch.Tensor) -> torch.Tensor:
    return W.transpose(-1, -2) @ W  # (..., n_features, n_features): Wᵢ·Wⱼ


@_validate.arguments(W=_W)
def feature_dimensionality(W) -> torch.Tensor:
    """Each feature's share of a hidden dimension: ``Dᵢ = ‖Wᵢ‖² / Σⱼ (Ŵᵢ·Wⱼ)²`` (Elhage et al. 2022).

    1 for a feature with a dimension to itself, ½ for each of an antipodal pair, ⅖ for a pentagon's
    features; 0 for a feature that is not represented: a zero column, or one whose norm is at most
    ``1e-100`` times the largest feature's norm (the same answer in float32 and float64).

    The value depends only on the directions and relative lengths of the features, so it is computed in
    float64 on ``W`` divided by its largest column norm and returned in W's dtype: a feature of norm 1e-10 is
    as much a dimension of its own as one of norm 1, in float32 as in float64.

    Parameters
    ----------
    W : tensor of shape (..., d_hidden, n_features)

    Returns
    -------
    tensor of shape (..., n_features)

    Examples
    --------
    >>> feature_dimensionality(torch.tensor([[1.0, -1.0, 0.0]]))  # an antipodal pair and a dropped feature
    tensor([0.5000, 0.5000, 0.0000])
    """
    W = _feature_matrix(W)
    if W.shape[-1] == 0:  # no features: nothing to measure
        return W.new_zeros(W.shape[:-2] + (0,))
    norms = W.double().norm(dim=-2)  # (..., n_features)
    largest = norms.amax(dim=-1, keepdim=True)  # (..., 1)
    represented = norms > _TINY_FEATURE * largest
    # Dᵢ = ‖Wᵢ‖² / Σⱼ (Ŵᵢ·Wⱼ)², with the unit directions Ŵᵢ (so no fourth powers, which underflow): on
    # W / max‖Wⱼ‖ the squares of every represented feature stay far above float64's smallest number
    scaled = W.double() / torch.where(largest > 0, largest, 1.0).unsqueeze(-2)
    scaled_norms = norms / torch.where(largest > 0, largest, 1.0)
    directions = scaled / torch.where(represented, scaled_norms, 1.0).unsqueeze(-2)
    projections = directions.transpose(-1, -2) @ scaled  # (..., n_features, n_features): Ŵᵢ·Wⱼ
    value = scaled_norms.pow(2) / projections.pow(2).sum(dim=-1).clamp_min(torch.finfo(torch.float64).tiny)
    return torch.where(represented, value, 0.0).to(W.dtype)


@_validate.arguments(W=_W)
def dimensions_per_feature(W) -> torch.Tensor:
    """Hidden dimensions per represented feature: ``d_hidden / ‖W‖_F²``, of shape (...,); inf for an all-zero W.

    ``‖W‖_F²`` counts features by their squared length, so a model that represents `k` unit-length features
    in `d_hidden` dimensions gets ``d_hidden / k``: 1 without superposition, ½ for antipodal pairs.

    Examples
    --------
    >>> dimensions_per_feature(torch.eye(2))
    tensor(1.)
    """
    W = _feature_matrix(W)
    return W.shape[-2] / W.pow(2).sum(dim=(-2, -1))


@_validate.arguments(W=_W)
def superposition(W) -> torch.Tensor:
    """How much each feature shares its direction with the others: ``Σⱼ≠ᵢ (Ŵᵢ·Wⱼ)²``, of shape (..., n_features).

    0 for a feature orthogonal to all others, and for a zero column. A dropped feature whose column is small but
    not zero still has a direction, and its value can be large: read it together with the norm.

    Examples
    --------
    >>> superposition(torch.tensor([[1.0, -1.0]]))  # an antipodal pair: each fully overlaps the other
    tensor([1., 1.])
    """
    G = _gram(_feature_matrix(W))
    squared_norms = torch.diagonal(G, dim1=-2, dim2=-1)
    overlap = G.pow(2).sum(dim=-1) - squared_norms.pow(2)  # Σⱼ≠ᵢ (Wᵢ·Wⱼ)²
    return torch.where(squared_norms > 0, overlap / squared_norms.clamp_min(1e-30), 0.0)


@_validate.arguments(W=_W, threshold=_validate.Real(0, low_open=True))
def n_represented(W, threshold: float = 0.5) -> torch.Tensor:
    """How many features the model represents: the columns of W longer than `threshold`, of shape (...,).

    A trained toy model's features end up with length near 1 (represented) or near 0 (dropped).

    Examples
    --------
    >>> n_represented(torch.tensor([[1.0, 0.05, -0.9]]))
    tensor(2)
    """
    return (_feature_matrix(W).norm(dim=-2) > threshold).sum(dim=-1)


@_validate.arguments(W=_W, threshold=_validate.Real(0, low_open=True))
def antipodal_pairs(W, threshold: float = 0.5) -> torch.Tensor:
    """How many antipodal pairs the model forms: unordered pairs of represented features (length above
    `threshold`) whose cosine is below −0.9, of shape (...,).

    Examples
    --------
    >>> antipodal_pairs(torch.tensor([[1.0, -1.0, 0.0], [0.0, 0.0, 1.0]]))  # one pair and a loner
    tensor(1)
    """
    W = _feature_matrix(W)
    norms = W.norm(dim=-2)  # (..., n_features)
    cos = _gram(W) / (norms.unsqueeze(-1) * norms.unsqueeze(-2)).clamp_min(1e-12)
    represented = norms > threshold
    pairs = (cos < -0.9) & represented.unsqueeze(-1) & represented.unsqueeze(-2)
    return pairs.triu(diagonal=1).sum(dim=(-2, -1))


@_validate.arguments(learned=_validate.Tensor(min_ndim=2), true=_validate.Tensor(min_ndim=2), absolute=_validate.Flag())
def mmcs(learned, true, absolute: bool = False) -> torch.Tensor:
    """Mean max cosine similarity: for each true feature, its best match among the learned ones, averaged.

    ``MMCS = (1/n_true) Σ_g max_l cos(l, g)`` (Sharkey et al. 2022). 1 when every true feature is found,
    whatever the order and length of the learned ones. With ``absolute=True`` the cosine's sign is ignored,
    for methods whose codes may be negative (a sign-flipped atom then counts as found).

    Parameters
    ----------
    learned : tensor of shape (..., d, n_learned), learned directions as columns
    true : tensor of shape (d, n_true) or (..., d, n_true), the known feature directions as columns
    absolute : compare |cos| instead of cos.

    Returns
    -------
    tensor of shape (...,)

    Examples
    --------
    >>> true = torch.eye(3)
    >>> mmcs(2 * true[:, [2, 0, 1]], true)  # rescaled and permuted: all found
    tensor(1.)
    """
    if learned.shape[-1] == 0 or true.shape[-1] == 0:
        raise ValueError(
            f"learned and true must have shape (..., d, n) with directions as columns, "
            f"got shapes {tuple(learned.shape)} and {tuple(true.shape)}"
        )
    if learned.shape[-2] != true.shape[-2]:
        raise ValueError(
            f"learned and true must live in the same dimension d (their second-to-last axis), "
            f"got {learned.shape[-2]} and {true.shape[-2]}; pass directions as columns"
        )
    dtype = torch.promote_types(learned.dtype, true.dtype)
    learned, true = learned.to(dtype), true.to(dtype)
    unit_learned = learned / learned.norm(dim=-2, keepdim=True).clamp_min(1e-12)
    unit_true = true / true.norm(dim=-2, keepdim=True).clamp_min(1e-12)
    cos = unit_true.transpose(-1, -2) @ unit_learned  # (..., n_true, n_learned)
    if absolute:
        cos = cos.abs()
    return cos.max(dim=-1).values.mean(dim=-1)


@_validate.arguments(x=_validate.Tensor(ndim=2), x_hat=_validate.Tensor(ndim=2))
def explained_variance(x, x_hat) -> torch.Tensor:
    """Share of the data's variance a reconstruction explains: ``1 − Σ‖x − x̂‖² / Σ‖x − mean(x)‖²``.

    The variance is taken around the mean of the rows of `x`, as in `sae.evaluate_sae`, so reconstructing
    every row by the mean scores 0 and a perfect reconstruction 1 (a bad one can go below 0).

    Parameters
    ----------
    x, x_hat : tensors of shape (N, d), N ≥ 2: the data (one sample per row) and its reconstruction

    Examples
    --------
    >>> x = torch.tensor([[1.0, 0.0], [-1.0, 0.0], [0.0, 2.0], [0.0, -2.0]])
    >>> explained_variance(x, x * torch.tensor([1.0, 0.0]))  # the first coordinate only: 2 of 10
    tensor(0.2000)
    """
    if x.shape != x_hat.shape or x.shape[0] < 2:
        raise ValueError(
            f"x and x_hat must have the same shape (N, d) with N ≥ 2, got {tuple(x.shape)} and {tuple(x_hat.shape)}"
        )
    x64, x_hat64 = x.double(), x_hat.double()
    total = (x64 - x64.mean(dim=0)).square().sum()
    if total == 0:
        raise ValueError("x has no variance (all rows are equal): explained variance is undefined")
    return (1 - (x64 - x_hat64).square().sum() / total).to(x.dtype if x.is_floating_point() else torch.float64)
