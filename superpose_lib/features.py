"""Feature distributions: the sparse data that toy models and the synthetic SAE benchmark learn from.

Every feature is absent (0) or present, with its own probability p, and a present feature's value is uniform on
``[low, 1]`` (``low = 0`` for the toy models of Elhage et al. 2022, ``−1`` for their absolute-value model).
`SparseFeatures` draws features independently (the paper's main setting) or in sets of `set_size` consecutive
features that are **correlated** (a set is present or absent as a whole) or **anticorrelated** (at most one
feature of a set is present at a time), as in the paper's section "Correlated and Anticorrelated Features".
Each feature keeps its marginal probability p in all three. `FixedDataset` freezes a finite sample of any of
them, for experiments on memorisation (Henighan et al. 2023, "Superposition, Memorization, and Double
Descent").

Batches are drawn **instance-major**, of shape ``(n_instances, batch, n_features)``: `n_instances` independent
models train side by side, and with this layout each instance's batch is one contiguous matrix, so the
training engine's products are single `bmm` calls. The models' public methods take the paper's
``(batch, n_instances, n_features)``; ``x.transpose(0, 1)`` converts.
"""

from __future__ import annotations

import torch

from . import _validate

__all__ = ["SparseFeatures", "FixedDataset", "training_sampler", "CORRELATIONS"]

CORRELATIONS = ("independent", "correlated", "anticorrelated")


@_validate.declare_init(
    n_features=_validate.Int(1),
    probability=_validate.Tensor(),
    n_instances=_validate.Int(1),
    low=_validate.Real(-1, 1, high_open=True),
    correlation=_validate.Choice(*CORRELATIONS),
    set_size=_validate.Int(1),
    device=_validate.Device(),
)
class SparseFeatures(torch.nn.Module):
    """Sparse features for `n_instances` models: each present with probability p, then uniform on [low, 1].

    Parameters
    ----------
    n_features : int
    probability : float or tensor broadcastable to (n_instances, n_features)
        Each feature's chance to be present, in (0, 1] (1 − S in the paper's notation).
    n_instances : int
        Independent copies (one per model trained side by side), each with its own probabilities.
    low : float
        Present values are uniform on [low, 1]; ``low`` in [−1, 1).
    correlation : "independent", "correlated" or "anticorrelated"
        - "independent": one coin per feature.
        - "correlated": consecutive sets of `set_size` features share one coin, so a set's features are present
          together or absent together (their probabilities must be equal within the set); values stay
          independent.
        - "anticorrelated": at most one feature of a set is present: feature j with probability pⱼ, none with
          1 − Σ pⱼ (the sum over a set must be at most 1).
    set_size : int
        Size of the sets (default 2, the paper's pairs); must divide `n_features`. Unused when "independent".
    device : optional
        CPU by default; moves with ``.to(device)`` (the probabilities are a buffer).

    Attributes
    ----------
    probability : buffer of shape (n_instances, n_features)

    Examples
    --------
    >>> features = SparseFeatures(4, 0.25, n_instances=2, correlation="anticorrelated")
    >>> x = features.sample(10_000, generator=torch.Generator().manual_seed(0))
    >>> x.shape, bool(((x[..., :2] > 0).sum(-1) <= 1).all())  # never both of a pair
    (torch.Size([2, 10000, 4]), True)
    >>> round((x > 0).float().mean().item(), 2)  # each feature is still present a quarter of the time
    0.25
    """

    def __init__(self, n_features: int, probability=1.0, *, n_instances: int = 1, low: float = 0.0,
                 correlation: str = "independent", set_size: int = 2, device=None):  # fmt: skip
        super().__init__()
        self.n_features, self.n_instances = n_features, n_instances
        _validate.fits_in_memory("n_features and n_instances", 6 * 4 * self.n_instances * self.n_features,
                                 hint="pass smaller sizes")  # fmt: skip
        self.low, self.correlation, self.set_size = low, correlation, set_size
        if correlation != "independent" and self.n_features % self.set_size:
            raise ValueError(f"set_size must divide n_features = {self.n_features}, got {set_size!r}")
        p = broadcast("probability", probability, (self.n_instances, self.n_features))
        if not torch.isfinite(p).all() or ((p <= 0) | (p > 1)).any():
            raise ValueError("probability must lie in (0, 1] for every instance and feature")
        sets = p.view(self.n_instances, -1, self.set_size if correlation != "independent" else 1)
        if correlation == "correlated" and (sets != sets[..., :1]).any():
            raise ValueError('probability must be equal within each set for correlation="correlated"')
        if correlation == "anticorrelated" and (sets.sum(-1) > 1 + 1e-6).any():
            raise ValueError(
                f'probability must sum to at most 1 over each set of {self.set_size} for correlation="anticorrelated"'
            )
        self.register_buffer("probability", p)
        self.to(device)

    @_validate.arguments(
        n=_validate.Int(1),
        generator=_validate.Optional(_validate.Generator(), none="None (torch's global generator)"),
        out=_validate.Optional(_validate.Tensor(ndim=3, finite=False, convert=False), none="None (a new tensor)"),
    )
    def sample(
        self, n: int, generator: torch.Generator | None = None, *, out: torch.Tensor | None = None
    ) -> torch.Tensor:
        """`n` samples for every instance, shape (n_instances, n, n_features).

        With `out` (a tensor of that shape and the probabilities' dtype and device), the batch is written into it
        and returned: the training loop reuses one buffer instead of allocating a batch every step.

        Examples
        --------
        >>> SparseFeatures(5, 0.1, n_instances=3).sample(8).shape
        torch.Size([3, 8, 5])
        """
        self._fits("n", n)
        I, F, p = self.n_instances, self.n_features, self.probability
        dev = p.device
        if out is not None and (out.shape != (I, n, F) or out.dtype != p.dtype or out.device != dev
                                or not out.is_contiguous() or out.requires_grad):  # fmt: skip
            raise ValueError(f"out must be a contiguous {p.dtype} tensor of shape {(I, n, F)} on {dev}, not requiring "
                             f"grad; got {tuple(out.shape)} {out.dtype}")  # fmt: skip
        return self._draw(n, generator, out, self._affine())

    def _fits(self, name: str, n: int) -> None:
        """A ValueError naming `name` if a batch of `n` samples cannot fit in memory."""
        p = self.probability
        _validate.fits_in_memory(name, 2 * p.element_size() * self.n_instances * n * self.n_features, p.device)

    def _affine(self):
        """``(offset, slope)``, each (n_instances, 1, n_features), of the one-draw sampler (None unless
        "independent"). Computed from p when asked: `sample` asks on every call (a cache keyed on p's version
        missed writes through p.data, which the version counter does not see), a training run once."""
        if self.correlation != "independent":
            return None
        p = self.probability
        return (p - 1).div_(p).unsqueeze(1), p.reciprocal().unsqueeze(1)

    def _draw(self, n: int, generator, out, affine) -> torch.Tensor:
        """`sample` without its checks, with `_affine`'s coefficients given (`training_sampler` reuses them)."""
        I, F, p = self.n_instances, self.n_features, self.probability
        dev = p.device
        if self.correlation == "independent":
            # one uniform draw per entry: x = max(0, (u − (1 − p)) / p) is non-zero with probability p, and then
            # uniform on [0, 1), so one draw and two passes over memory make the batch
            offset, slope = affine
            u = torch.rand((I, n, F), generator=generator, device=dev, dtype=p.dtype, out=out)
            x = torch.addcmul(offset, u, slope, out=u).clamp_min_(0.0)
        elif self.correlation == "correlated":
            k = self.set_size
            coin = torch.rand((I, n, F // k), generator=generator, device=dev, dtype=p.dtype)
            on = coin < p[:, ::k].unsqueeze(1)  # (I, n, sets): the set's shared coin
            values = torch.rand((I, n, F), generator=generator, device=dev, dtype=p.dtype)
            x = values.mul_(on.repeat_interleave(k, dim=2))
        else:
            # one uniform draw per set picks which feature (if any) is present: feature j of the set when u falls in
            # [cⱼ₋₁, cⱼ) with c the running sum of p over the set; (u − cⱼ₋₁) / pⱼ is then uniform on [0, 1). Each
            # interval starts at the very float where the previous one ends, so no draw falls in two (cⱼ − pⱼ,
            # rounded, can fall short of cⱼ₋₁) and no draw below Σ p in none
            k = self.set_size
            sets = p.view(I, 1, F // k, k)
            end = sets.cumsum(-1)  # (I, 1, sets, k)
            start = torch.cat([torch.zeros_like(end[..., :1]), end[..., :-1]], dim=-1)
            u = torch.rand((I, n, F // k, 1), generator=generator, device=dev, dtype=p.dtype)
            below_one = 1 - torch.finfo(p.dtype).eps / 2  # rounding must not lift a value to 1
            value = ((u - start) / sets).clamp_(0.0, below_one)
            x = torch.where((u >= start) & (u < end), value, torch.zeros((), device=dev, dtype=p.dtype)).view(I, n, F)
        if self.low != 0.0:  # uniform on [low, 1) where present, 0 elsewhere
            x = torch.where(x > 0, x.mul(1 - self.low).add_(self.low), x)
        return x if out is None or x is out else out.copy_(x)

    def extra_repr(self) -> str:
        kind = "" if self.correlation == "independent" else f", {self.correlation} sets of {self.set_size}"
        return f"n_features={self.n_features}, n_instances={self.n_instances}, low={self.low}{kind}"


@_validate.declare_init(x=_validate.Tensor(ndim=3))
class FixedDataset(torch.nn.Module):
    """A finite dataset drawn once: batches are its samples, drawn with replacement; a batch at least as large as
    the dataset is the whole dataset, in order (full-batch training).

    Parameters
    ----------
    x : tensor of shape (n_instances, n_samples, n_features), instance-major like `SparseFeatures.sample`.

    Examples
    --------
    >>> data = FixedDataset.draw(SparseFeatures(6, 0.2, n_instances=2), 50, seed=0)
    >>> data.x.shape, bool(torch.equal(data.sample(50), data.x)), data.sample(8).shape
    (torch.Size([2, 50, 6]), True, torch.Size([2, 8, 6]))
    """

    def __init__(self, x: torch.Tensor):
        super().__init__()
        if x.shape[1] == 0:
            raise ValueError("x must hold at least one sample: shape (n_instances, n_samples ≥ 1, n_features)")
        self.n_instances, self.n_samples, self.n_features = x.shape
        self.register_buffer("x", x)

    @classmethod
    @_validate.arguments(
        features=_validate.Instance(SparseFeatures), n_samples=_validate.Int(1), **_validate.RANDOMNESS
    )
    def draw(cls, features: SparseFeatures, n_samples: int, *, seed=None, generator=None) -> FixedDataset:
        """`n_samples` samples of `features`, drawn once (seeded) and frozen."""
        features._fits("n_samples", n_samples)
        gen = _validate.generator(seed, generator, device=features.probability.device)
        return cls(features.sample(n_samples, gen))

    @_validate.arguments(
        n=_validate.Int(1), generator=_validate.Optional(_validate.Generator(), none="None (torch's global generator)")
    )
    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """`n` samples per instance, shape (n_instances, n, n_features): all of them (in order) when n ≥ n_samples."""
        return self._sample(n, generator)

    def _sample(self, n: int, generator) -> torch.Tensor:  # `sample` without its checks (a training step's)
        if n >= self.n_samples:
            return self.x
        rows = torch.randint(0, self.n_samples, (n,), generator=generator, device=self.x.device)
        return self.x[:, rows]


@_validate.arguments(
    data=_validate.Instance(object, what="data source (sample(n, generator), n_instances, n_features)"),
    batch_size=_validate.Int(1),
    n_instances=_validate.Int(1),
    n_features=_validate.Int(1),
    like=_validate.Tensor(),
)
def training_sampler(data, batch_size: int, n_instances: int, n_features: int, *, like: torch.Tensor):
    """``sample(n, generator)`` for the training engine: batches of `data` for a model with `n_instances` and
    `n_features` whose parameters look like `like` (dtype, device).

    A `SparseFeatures` writes every batch into one buffer (see `SparseFeatures.sample`), with its probabilities
    read once, when the sampler is made (a change to them during a training run is seen by the next run); any
    other source (a `FixedDataset`, or anything with ``sample(n, generator)``, ``n_instances`` and
    ``n_features``) has its first batch checked, so a mismatch is a ValueError naming `data` rather than a shape
    error deep in a step.
    """
    # `like` is a model parameter: only its dtype and device are used
    shape = (getattr(data, "n_instances", None), getattr(data, "n_features", None))
    if not callable(getattr(data, "sample", None)) or shape != (n_instances, n_features):
        raise ValueError(
            "data must have a sample(n, generator) method and n_instances, n_features matching the model's "
            f"({n_instances}, {n_features}), such as a FixedDataset; got {data!r}"
        )
    _validate.fits_in_memory("batch_size", 4 * n_instances * batch_size * n_features, like.device)
    if isinstance(data, SparseFeatures):
        p = data.probability
        batch = torch.empty(n_instances, batch_size, n_features, dtype=p.dtype, device=p.device)
        affine = data._affine()  # the probabilities are read once, when training starts
        return lambda n, generator: data._draw(n, generator, batch, affine)
    checked = False
    draw = data._sample if isinstance(data, FixedDataset) else data.sample  # no door checks in every step

    def sample(n, generator):
        nonlocal checked
        X = draw(n, generator)
        if not checked:
            ok = isinstance(X, torch.Tensor) and X.ndim == 3 and (X.shape[0], X.shape[2]) == (n_instances, n_features)
            if not ok or (X.dtype, X.device) != (like.dtype, like.device):
                got = f"{tuple(X.shape)} {X.dtype} on {X.device}" if isinstance(X, torch.Tensor) else type(X).__name__
                raise ValueError(
                    f"data.sample(n, generator) must return a tensor of shape (n_instances, n, n_features) = "
                    f"({n_instances}, n, {n_features}), instance-major, in the model's {like.dtype} on {like.device}; "
                    f"got {got} (data.to(...) converts a FixedDataset)"
                )
            checked = True
        return X

    return sample


def broadcast(name: str, value: torch.Tensor, shape: tuple[int, ...]) -> torch.Tensor:
    """`value` (a tensor its caller declared) as a float32 tensor of `shape`, or a ValueError naming `name`."""
    value = value.to(torch.float32)
    try:
        return torch.broadcast_to(value, shape).clone()
    except RuntimeError as error:
        raise ValueError(
            f"{name} must be a number or broadcastable to {shape}, got shape {tuple(value.shape)}"
        ) from error
