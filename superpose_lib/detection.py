"""Detecting superposition: statistics of a model's feature geometry, their random baseline, and counts.

Three kinds of evidence, used in chapter 10:

- **A test for superposition** (when the model can be run on its data, as a toy model can):
  `superposition_test` asks whether the model's loss is below `loss_without_superposition`, the least loss any
  model with at most ``d_hidden`` features reaches. Only a model that uses more features than dimensions can
  beat it.
- **Geometry, descriptive** (when the feature directions ``W`` are known). A model that represents `k`
  features in `d` dimensions with ``k > d`` cannot keep them orthogonal: for unit directions the summed squared
  cosines obey ``Σ_{i,j} cos²(wᵢ, wⱼ) ≥ k² / d`` (the frame bound; equality for tight frames), so each feature's
  interference ``Σ_{j≠i} cos²`` averages at least ``k/d − 1``. Random directions average ``(k − 1)/d``. Where
  a trained model sits relative to the random *null distribution* of a statistic says whether training
  arranged its directions (`random_directions_test`; `null_distribution` draws the null, `p_value` and
  `z_score` read it); it is not a test for superposition (orthogonal features are far from random too).
- **Counting** (when only activations are known). A sparse autoencoder's decoder gives candidate directions;
  `count_distinct_latents` counts those that fire and are not duplicates of one another. More of them than the
  hidden size, with the activations still well reconstructed, is evidence of superposition.

`fraction_in_superposition` summarises a trained toy model: the share of its represented features that share
their direction with others (``superposition(W)ᵢ`` above a tolerance), for the scaling sweep of chapter 10.

Feature matrices follow the course's convention: shape ``(..., d_hidden, n_features)``, features as columns.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
from tqdm.auto import tqdm

from . import _validate, geometry, metrics
from .toy_models import ToyModel

__all__ = [
    "STATISTICS",
    "interference_statistic",
    "null_distribution",
    "p_value",
    "z_score",
    "random_directions_test",
    "RandomDirectionsTest",
    "loss_without_superposition",
    "superposition_test",
    "SuperpositionTest",
    "loss_below_test",
    "fraction_in_superposition",
    "count_distinct_latents",
]

STATISTICS = ("mean_superposition", "mean_abs_cos", "max_abs_cos")
_ALTERNATIVES = ("two-sided", "greater", "less")


# The declarations the functions below share.
_STATISTIC = _validate.Choice(*STATISTICS)
_THRESHOLD = _validate.Real(0)  # a column length
_ALTERNATIVE = _validate.Choice(*_ALTERNATIVES)
_OBSERVED = _validate.Real(scalar_tensor=True)  # the statistic of the model under test
_NULL = _validate.Tensor(ndim=1, finite=False)  # NaN gets its own message (`_null`)
_TOY = _validate.Instance(ToyModel)


@_validate.arguments(W=_validate.Tensor(min_ndim=2), statistic=_STATISTIC, threshold=_THRESHOLD)
def interference_statistic(W, statistic: str = "mean_superposition", *, threshold: float = 0.5) -> torch.Tensor:
    """How much the represented features of `W` overlap, as one number per model.

    Only the columns longer than `threshold` (the represented features, as in `metrics.n_represented`) take
    part, and each is scaled to unit length first, so the statistic depends on directions alone:

    - ``"mean_superposition"``: the average over represented features of ``Σ_{j≠i} cos²(wᵢ, wⱼ)``, i.e. the mean
      of `metrics.superposition` of the unit directions (0 when orthogonal; at least ``k/d − 1`` for `k` features
      in `d` dimensions; ``(k − 1)/d`` on average for random directions);
    - ``"mean_abs_cos"``: the mean ``|cos|`` over pairs of distinct represented features;
    - ``"max_abs_cos"``: the largest such ``|cos|`` (the coherence; 1 for an antipodal pair).

    Parameters
    ----------
    W : tensor of shape (..., d_hidden, n_features)
    statistic : one of `STATISTICS`.
    threshold : float
        Columns at most this long are ignored (default 0.5); 0 keeps every non-zero column.

    Returns
    -------
    tensor of shape (...,); NaN for a model with fewer than two represented features (no pairs to compare).

    Examples
    --------
    >>> pentagon = torch.tensor([[1.0, 0.309, -0.809, -0.809, 0.309], [0.0, 0.951, 0.588, -0.588, -0.951]])
    >>> round(interference_statistic(pentagon).item(), 2)  # k/d − 1 = 5/2 − 1: the floor, a tight frame
    1.5
    """
    norms = W.norm(dim=-2, keepdim=True)  # (..., 1, n_features)
    kept = (norms > threshold) & (norms > 0)  # (..., 1, n_features)
    unit = torch.where(kept, W / norms.clamp_min(1e-30), torch.zeros_like(W))  # dropped columns become 0
    count = kept.sum(dim=(-2, -1)).to(W.dtype)  # (...,)
    pairs = count * (count - 1)
    nan = torch.full_like(count, math.nan)
    if statistic == "mean_superposition":
        # metrics.superposition is 0 for a zero column and a zero column adds nothing to the others.
        value = metrics.superposition(unit).sum(dim=-1) / count.clamp_min(1)
        return torch.where(count >= 2, value, nan)
    cos = (unit.transpose(-1, -2) @ unit).abs()  # (..., n, n)
    off_diagonal = ~torch.eye(W.shape[-1], dtype=torch.bool, device=W.device)
    cos = cos * off_diagonal  # dropped columns and the diagonal contribute 0
    if statistic == "mean_abs_cos":
        value = cos.sum(dim=(-2, -1)) / pairs.clamp_min(1)
    else:
        value = cos.amax(dim=(-2, -1))
    return torch.where(count >= 2, value, nan)


@_validate.arguments(
    n_features=_validate.Int(2),
    d_hidden=_validate.Int(1),
    statistic=_STATISTIC,
    n_samples=_validate.Int(1),
    device=_validate.Device(),
    **_validate.RANDOMNESS,
)
def null_distribution(
    n_features: int,
    d_hidden: int,
    statistic: str = "mean_superposition",
    n_samples: int = 1_000,
    *,
    seed=None,
    generator=None,
    device=None,
) -> torch.Tensor:
    """The statistic's distribution when the `n_features` directions are random: the test's null hypothesis.

    Each of `n_samples` draws places `n_features` independent unit vectors uniformly on the sphere in
    ``R^d_hidden`` (`geometry.random_unit_vectors`) and computes `interference_statistic` on them.

    Returns
    -------
    tensor of shape (n_samples,), on `device` (CPU by default).

    Examples
    --------
    >>> null = null_distribution(20, 10, n_samples=2_000, seed=0)
    >>> round(null.mean().item(), 1)  # (k − 1)/d = 19/10
    1.9
    """
    _validate.fits_in_memory("n_samples", 3 * 4 * n_samples * n_features * (d_hidden + n_features), device,
                             hint="pass smaller n_samples, n_features or d_hidden")  # fmt: skip
    gen = _validate.generator(seed, generator)
    rows = geometry.random_unit_vectors(n_samples * n_features, d_hidden, generator=gen, device=device)
    W = rows.view(n_samples, n_features, d_hidden).transpose(1, 2)  # (n_samples, d_hidden, n_features)
    return interference_statistic(W, statistic, threshold=0.0)


def _null(null: torch.Tensor) -> torch.Tensor:
    if null.numel() < 2:
        raise ValueError(
            f"null must be a 1-D tensor of at least 2 draws of the statistic, got shape {tuple(null.shape)}"
        )
    if torch.isnan(null).any():
        raise ValueError("null contains NaN: draw it with at least two features, so every draw has a pair")
    if not torch.isfinite(null).all():
        raise ValueError("null must be finite (it contains inf)")
    return null


@_validate.arguments(observed=_OBSERVED, null=_NULL, alternative=_ALTERNATIVE)
def p_value(observed, null, alternative: str = "two-sided") -> float:
    """The Monte-Carlo p-value of `observed` against `null` draws: ``(1 + #{as extreme}) / (1 + n)``.

    Counting the observation itself among the draws (Davison and Hinkley 1997; Phipson and Smyth 2010) keeps
    the p-value above 0 and makes the test exact: under the null hypothesis, ``P(p ≤ α) ≤ α``.

    Parameters
    ----------
    observed : float or one-element tensor, the statistic of the model under test.
    null : tensor of shape (n,), draws of the statistic under the null hypothesis (`null_distribution`).
    alternative : "greater" (as large or larger), "less" (as small or smaller), or "two-sided"
        (twice the smaller of the two, at most 1).

    Examples
    --------
    >>> p_value(98.5, torch.arange(100.0), alternative="greater")  # one draw (99) is larger: (1 + 1) / 101
    0.019801980198019802
    """
    x = observed
    null = _null(null)
    n = null.numel()
    greater = (1 + int((null >= x).sum())) / (n + 1)
    less = (1 + int((null <= x).sum())) / (n + 1)
    if alternative == "greater":
        return greater
    if alternative == "less":
        return less
    return min(1.0, 2 * min(greater, less))


@_validate.arguments(observed=_OBSERVED, null=_NULL)
def z_score(observed, null) -> float:
    """How many null standard deviations `observed` lies from the null mean: ``(x − mean) / std``.

    ±inf when the null draws are all equal and `observed` differs from them; 0 when it equals them.

    Examples
    --------
    >>> z_score(4.0, torch.tensor([1.0, 2.0, 3.0]))  # mean 2, sample std 1
    2.0
    """
    x = observed
    null = _null(null).double()
    mean, std = null.mean().item(), null.std().item()
    if std == 0:
        return 0.0 if x == mean else math.copysign(math.inf, x - mean)
    return (x - mean) / std


class RandomDirectionsTest(NamedTuple):
    """The result of `random_directions_test`."""

    statistic: str
    observed: float  # the statistic of the model under test
    n_represented: int  # k: columns longer than the threshold
    d_hidden: int  # d
    floor: float  # k/d − 1 clipped at 0: the least mean_superposition any k unit vectors in d dimensions reach
    null_mean: float
    null_std: float
    z_score: float
    p_value: float
    alternative: str


@_validate.arguments(
    W=_validate.Tensor(ndim=2),
    statistic=_STATISTIC,
    threshold=_THRESHOLD,
    alternative=_ALTERNATIVE,
    n_null=_validate.Int(2),
    **_validate.RANDOMNESS,
)
def random_directions_test(
    W,
    statistic: str = "mean_superposition",
    *,
    threshold: float = 0.5,
    alternative: str = "two-sided",
    n_null: int = 1_000,
    seed=None,
    generator=None,
) -> RandomDirectionsTest:
    """Compare the geometry of one model's represented features with random directions.

    This is **not** a test for superposition: a model with ``k ≤ d`` orthogonal features is far from random
    too (its interference is 0). It asks whether training *arranged* the directions; `superposition_test` asks
    whether the model stores more features than it has dimensions.

    The null hypothesis: the model's `k` represented feature directions (columns of `W` longer than
    `threshold`) are as good as `k` random unit vectors in its `d` hidden dimensions. A trained model that packs
    more features than dimensions sits near the floor ``k/d − 1`` of ``"mean_superposition"``, far below the
    random ``(k − 1)/d``; one without superposition (``k ≤ d``, orthogonal features) sits at 0.

    Parameters
    ----------
    W : tensor of shape (d_hidden, n_features), one model (index a batch of instances first).
    statistic, threshold : as in `interference_statistic`.
    alternative : as in `p_value`: "less" asks "less interference than chance?", "greater" the opposite.
    n_null : number of random draws for the null distribution.
    seed, generator : source of randomness for the null draws.

    Returns
    -------
    RandomDirectionsTest (a named tuple).

    Examples
    --------
    >>> W = torch.tensor([[1.0, -1.0, 0.0, 0.0], [0.0, 0.0, 1.0, -1.0]])  # two antipodal pairs in 2 dims
    >>> result = random_directions_test(W, alternative="less", n_null=200, seed=0)
    >>> result.observed, result.floor, result.p_value < 0.05
    (1.0, 1.0, True)
    """
    d_hidden = W.shape[0]
    k = int((W.norm(dim=0) > threshold).sum())
    if k < 2:
        raise ValueError(
            f"W has {k} column(s) longer than threshold={threshold}: the test compares pairs of represented "
            "features, so it needs at least 2 (lower the threshold, or test a model that represents more)"
        )
    observed = interference_statistic(W, statistic, threshold=threshold).item()
    try:
        null = null_distribution(k, d_hidden, statistic, n_null, seed=seed, generator=generator)
    except ValueError as error:  # its n_samples is this function's n_null
        raise ValueError(f"n_null={n_null}: {error}".replace("n_samples", "n_null")) from None
    return RandomDirectionsTest(
        statistic=statistic,
        observed=observed,
        n_represented=k,
        d_hidden=d_hidden,
        floor=max(0.0, k / d_hidden - 1),
        null_mean=null.mean().item(),
        null_std=null.std().item(),
        z_score=z_score(observed, null),
        p_value=p_value(observed, null, alternative),
        alternative=alternative,
    )


@_validate.arguments(model=_TOY)
def loss_without_superposition(model: ToyModel) -> torch.Tensor:
    """The least expected loss a model of `model`'s kind reaches using at most ``d_hidden`` features.

    A model "uses" feature `i` when its column ``Wᵢ`` is non-zero. With at most `d` such columns the best
    choice is exact: give the used features orthonormal directions and bias 0, so ``x'ᵢ = xᵢ`` (loss 0), and
    give every other feature the constant output ``ReLU(bᵢ) = E[xᵢ]`` (loss ``Iᵢ Var(xᵢ)``, the least any
    constant reaches). Which features to keep: the `d` with the largest ``Iᵢ Var(xᵢ)``. So

        ``L_d = (1/n) Σ_{i not in the top d} Iᵢ Var(xᵢ)``,  ``Var(xᵢ) = pᵢ/3 − pᵢ²/4``

    for features present with probability ``pᵢ`` and uniform on [0, 1] (the ``1/n`` matches `ToyModel.loss`,
    a mean over features). 0 when ``n_features ≤ d_hidden``.

    Parameters
    ----------
    model : ToyModel (its importance, feature_probability and d_hidden are read; its weights are not).

    Returns
    -------
    tensor of shape (n_instances,), float64.

    Examples
    --------
    >>> model = ToyModel(3, 2, feature_probability=1.0, importance=torch.tensor([1.0, 0.5, 0.25]))
    >>> round(loss_without_superposition(model).item(), 4)  # drop feature 2: 0.25 · (1/3 − 1/4) / 3
    0.0069
    """
    _model(model)
    p = model.feature_probability.detach().double().cpu()  # (instances, features)
    importance = model.importance.detach().double().cpu()  # (instances, features)
    a = float(model.value_low)  # non-zero values uniform on [a, 1]
    mean = p * (1 + a) / 2
    variance = p * (1 + a + a * a) / 3 - mean**2
    cost = importance * variance  # (instances, features): the loss of dropping each feature
    d = model.d_hidden
    if model.n_features <= d:
        return torch.zeros(model.n_instances, dtype=torch.float64)
    dropped = cost.sort(dim=-1, descending=True).values[:, d:]
    return dropped.sum(dim=-1) / model.n_features


def _model(model: ToyModel) -> ToyModel:
    if model.hidden_relu or type(model).target is not ToyModel.target:
        raise ValueError(
            f"model must be a ToyModel (the autoencoder x' = ReLU(WᵀW x + b) of chapter 06), got {type(model).__name__}"
        )
    return model


class SuperpositionTest(NamedTuple):
    """The result of `superposition_test`, one entry per instance of the model."""

    loss: torch.Tensor  # (instances,) the model's mean loss on the fresh samples
    loss_without_superposition: torch.Tensor  # (instances,) L_d, the null's boundary (exact)
    standard_error: torch.Tensor  # (instances,) of the mean loss
    z_score: torch.Tensor  # (instances,) (loss − L_d) / standard error
    p_value: torch.Tensor  # (instances,) one-sided: P(Z ≤ z) under the null
    n_samples: int


@_validate.arguments(model=_TOY, n_samples=_validate.Int(2), progress=_validate.Flag(), **_validate.RANDOMNESS)
def superposition_test(
    model: ToyModel, n_samples: int = 10_000, *, seed=None, generator=None, progress: bool = False
) -> SuperpositionTest:
    """Test whether a toy model does better than any model without superposition can.

    Null hypothesis: the model's expected loss is at least `loss_without_superposition` ``L_d``, the least loss
    reachable with at most ``d_hidden`` features (each on its own dimension). A model that stores more features
    than dimensions, and gains from it, beats ``L_d``; a model with at most `d` features cannot, whatever its
    weights. Rejecting therefore says the model *uses* superposition; not rejecting says it does not gain from
    it on this data (an untrained `W` overlaps its features but gains nothing).

    The statistic is the mean loss over `n_samples` fresh samples; by the central limit theorem
    ``z = (mean − L_d) / standard error`` is close to standard normal at the null's boundary, and the p-value is
    ``Φ(z)`` (one-sided: small when the loss is below ``L_d``). Models strictly inside the null (loss above
    ``L_d``) get p-values near 1, so the test's size is at most its level. Each instance gets fresh data. The
    per-sample losses are skewed (most samples of sparse features are near 0), so the normal approximation needs
    hundreds of samples at least; a few dozen inflate the rejection rate.

    Parameters
    ----------
    model : ToyModel, trained or not.
    n_samples : fresh samples per instance.
    seed, generator : source of randomness for the samples.
    progress : show a tqdm bar over the chunks of 4,096 samples (for a long test; it can be interrupted).

    Returns
    -------
    SuperpositionTest (a named tuple of (n_instances,) tensors).

    Examples
    --------
    >>> from superpose_lib.toy_models import train
    >>> model = ToyModel(5, 2, feature_probability=0.05, seed=0)
    >>> _ = train(model, steps=500, lr=3e-2, seed=0, progress=False)
    >>> result = superposition_test(model, seed=1)
    >>> bool(result.loss < result.loss_without_superposition), bool(result.p_value < 0.01)
    (True, True)
    """
    _model(model)
    _validate.fits_in_memory("n_samples", 2 * 8 * n_samples * model.n_instances)  # every sample's loss is kept
    gen = _validate.generator(seed, generator, device=model.W.device)
    per_sample = []
    with torch.no_grad():
        for start in tqdm(range(0, n_samples, 4_096), desc="superposition test", disable=not progress):
            x = model.generate_batch(min(4_096, n_samples - start), generator=gen)  # (batch, instances, features)
            per_sample.append((model.importance * (model.target(x) - model(x)) ** 2).mean(dim=-1).double().cpu())
    losses = torch.cat(per_sample)  # (n_samples, instances)
    boundary = loss_without_superposition(model)
    z, p = _below_test(losses, boundary)
    return SuperpositionTest(losses.mean(dim=0), boundary, _standard_error(losses), z, p, n_samples)


def _standard_error(losses: torch.Tensor) -> torch.Tensor:
    """The standard error of the mean over dim 0: the sample standard deviation (n − 1) over √n."""
    return losses.std(dim=0) / math.sqrt(losses.shape[0])


def _below_test(losses: torch.Tensor, boundary) -> tuple[torch.Tensor, torch.Tensor]:
    """`loss_below_test` on checked arguments."""
    standard_error = _standard_error(losses)
    gap = losses.mean(dim=0) - boundary
    z = torch.where(standard_error > 0, gap / standard_error.clamp_min(1e-300), torch.sign(gap) * math.inf)
    z = torch.where((standard_error == 0) & (gap == 0), torch.zeros_like(z), z)
    return z, torch.special.ndtr(z)


@_validate.arguments(losses=_validate.Tensor(min_ndim=1), boundary=_validate.Tensor())
def loss_below_test(losses, boundary) -> tuple[torch.Tensor, torch.Tensor]:
    """One-sided z-test of "the expected loss is at least `boundary`" from per-sample losses.

    The statistic is the mean of the losses over dim 0. By the central limit theorem
    ``z = (mean − boundary) / (s / √n)``, with ``s`` the sample standard deviation (dividing by n − 1) of the
    `n` losses, is close to standard normal when the expected loss equals the boundary, and the p-value is
    ``Φ(z)``: small when the mean loss is well below the boundary. `superposition_test` applies it with
    `loss_without_superposition` as the boundary. A z of ±inf when the losses have no spread (all equal, and
    their mean differs from the boundary; 0 when it equals it): the evidence is then certain.

    Parameters
    ----------
    losses : tensor of shape (n_samples, ...), at least 2 samples; the losses of independent samples
    boundary : float or tensor broadcastable to ``losses.shape[1:]``

    Returns
    -------
    (z, p) : two tensors of shape ``losses.shape[1:]``, float64.

    Examples
    --------
    >>> z, p = loss_below_test(torch.tensor([0.1, 0.3, 0.2, 0.2]), 0.5)
    >>> round(z.item(), 2), bool(p < 0.001)
    (-7.35, True)
    """
    losses = losses.double()
    if losses.shape[0] < 2:
        raise ValueError(f"losses must hold at least 2 samples along dim 0 (a spread is needed), got shape "
                         f"{tuple(losses.shape)}")  # fmt: skip
    boundary = boundary.to(device=losses.device, dtype=torch.float64)
    try:
        torch.broadcast_shapes(boundary.shape, losses.shape[1:])
    except RuntimeError:
        raise ValueError(f"boundary must be a number or broadcast to losses.shape[1:] = {tuple(losses.shape[1:])}, "
                         f"got shape {tuple(boundary.shape)}") from None  # fmt: skip
    return _below_test(losses, boundary)


@_validate.arguments(
    W=_validate.Tensor(min_ndim=2), threshold=_validate.Real(0, low_open=True), tolerance=_validate.Real(0)
)
def fraction_in_superposition(W, threshold: float = 0.5, tolerance: float = 0.1) -> torch.Tensor:
    """The share of represented features that share their direction: ``superposition(W)ᵢ > tolerance``.

    A feature is represented when its column is longer than `threshold` (`metrics.n_represented`); of those,
    the ones whose ``Σ_{j≠i} (Ŵᵢ·Wⱼ)²`` (`metrics.superposition`) exceeds `tolerance` count as in superposition.

    Parameters
    ----------
    W : tensor of shape (..., d_hidden, n_features)
    threshold : column length above which a feature counts as represented (default 0.5).
    tolerance : overlap above which a represented feature counts as superposed (default 0.1).

    Returns
    -------
    tensor of shape (...,) with values in [0, 1]; 0 for a model that represents no feature.

    Examples
    --------
    >>> W = torch.tensor([[1.0, -1.0, 0.0, 0.0], [0.0, 0.0, 1.0, 0.0]])  # a pair, a loner, a dropped feature
    >>> fraction_in_superposition(W)
    tensor(0.6667)
    """
    represented = W.norm(dim=-2) > threshold  # (..., n_features)
    shared = represented & (metrics.superposition(W) > tolerance)
    return shared.sum(dim=-1).to(W.dtype) / represented.sum(dim=-1).clamp_min(1).to(W.dtype)


@_validate.arguments(
    decoder=_validate.Tensor(min_ndim=2),
    codes=_validate.Tensor(min_ndim=2),
    min_frequency=_validate.Real(0, 1, high_open=True),
    max_cosine=_validate.Real(-1, 1, low_open=True),
)
def count_distinct_latents(decoder, codes, *, min_frequency: float = 1e-3, max_cosine: float = 0.9) -> torch.Tensor:
    """How many latents of a sparse autoencoder are alive and distinct from one another.

    A latent is **alive** when it is non-zero on more than `min_frequency` of the samples. Live latents are then
    taken from the most to the least frequent, and one is kept unless its decoder direction has cosine above
    `max_cosine` with a latent already kept (a duplicate). Opposite directions count as distinct: an antipodal
    pair is two features.

    Parameters
    ----------
    decoder : tensor of shape (..., d_input, d_latent), latent directions as columns (e.g. ``sae.W_dec``)
    codes : tensor of shape (..., n_samples, d_latent), the latents on held-out data (e.g. from ``sae.encode``)
    min_frequency : firing rate at or below which a latent counts as dead.
    max_cosine : cosine above which two live latents count as one feature.

    Returns
    -------
    integer tensor of shape (...,).

    Examples
    --------
    >>> decoder = torch.tensor([[1.0, 0.99, 0.0, -1.0], [0.0, 0.14, 1.0, 0.0]])  # latent 1 duplicates latent 0
    >>> codes = torch.tensor([[1.0, 0.0, 2.0, 0.0], [0.0, 1.0, 0.0, 3.0], [1.0, 0.0, 0.0, 0.0]])
    >>> count_distinct_latents(decoder, codes)  # 3 distinct: e₁, e₂ and −e₁
    tensor(3)
    """
    if decoder.shape[-1] != codes.shape[-1] or decoder.shape[:-2] != codes.shape[:-2]:
        raise ValueError(
            f"decoder {tuple(decoder.shape)} and codes {tuple(codes.shape)} must agree on the leading (instance) "
            "axes and on d_latent, their last axis"
        )
    if decoder.shape[-2] == 0:
        raise ValueError(f"decoder must have at least one row (d_input >= 1), got shape {tuple(decoder.shape)}")
    batch = decoder.shape[:-2]
    flat_decoder = decoder.reshape(-1, *decoder.shape[-2:])  # (instances, d_input, d_latent)
    frequency = (codes != 0).to(decoder.dtype).mean(dim=-2).reshape(-1, decoder.shape[-1])  # (instances, d_latent)
    counts = []
    for D, freq in zip(flat_decoder, frequency):
        unit = D / D.norm(dim=0, keepdim=True).clamp_min(1e-30)  # (d_input, d_latent)
        live = [int(j) for j in torch.argsort(freq, descending=True, stable=True) if freq[j] > min_frequency]
        kept: list[int] = []
        for j in live:
            if D[:, j].norm() == 0:
                continue
            if not kept or bool((unit[:, kept].T @ unit[:, j]).max() <= max_cosine):
                kept.append(j)
        counts.append(len(kept))
    return torch.tensor(counts, dtype=torch.long).reshape(batch)
