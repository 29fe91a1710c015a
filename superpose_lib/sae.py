"""Sparse autoencoders (SAEs), many trained side by side, and a synthetic benchmark with known features.

An SAE learns an overcomplete dictionary of directions from activations ``x`` of dimension ``d_input``:

    z = act(x W_enc + b_enc)        (d_latent,)   sparse, non-negative codes
    x̂ = z W_decᵀ + b_dec            (d_input,)    W_dec's columns are the learned directions (unit norm)

with ``act`` a ReLU and an L1 penalty on ``z`` (Sharkey et al. 2022; Bricken et al. 2023, "Towards
Monosemanticity"), or ``TopK`` (keep the k largest pre-activations, then ReLU; Gao et al. 2024, "Scaling and
evaluating sparse autoencoders"), which fixes the number of active latents and needs no penalty.

`SAE` holds ``n_instances`` independent autoencoders in one set of tensors (one per L1 coefficient, dictionary
size or seed), so a whole sweep trains in one loop of batched matrix products. Instances with a smaller
``d_latent`` are padded: their extra latents have zero weights and are always 0.

`SyntheticFeatures` is the benchmark with ground truth (after Sharkey et al. 2022): random unit-norm feature
directions, each switched on with its own decaying probability; `evaluate_sae` scores how well an SAE found
them (MMCS, `superpose_lib.metrics.mmcs`) and how well it reconstructs (explained variance, L0, dead latents,
shrinkage).

Training is one call of the library's training loop, `superpose_lib.engine.fit`, with the SAE's own steps as
hooks (the decoder kept on the unit sphere, dead latents resampled). The gradients are written out by hand
(`SAE.batch_loss_and_grads`, a few batched matrix products; checked against autograd in the tests), which
``benchmarks/bench_sae.py`` measures against autograd, and all instances share each batch.
"""

from __future__ import annotations

import inspect
import math

import torch

from . import _validate, engine
from .features import SparseFeatures, training_sampler
from .geometry import random_unit_vectors
from .metrics import mmcs as _mmcs

__all__ = ["SyntheticFeatures", "SAE", "train_sae", "evaluate_sae"]

ARCHITECTURES = ("relu", "topk")


# --- the synthetic benchmark ---------------------------------------------------------------------------------


@_validate.declare_init(
    n_features=_validate.Int(1),
    d=_validate.Int(1),
    mean_active=_validate.Real(0, low_open=True),
    decay=_validate.Real(0, 1, low_open=True),
    device=_validate.Device(),
    dtype=_validate.Instance(torch.dtype, what="torch.dtype"),
    **_validate.RANDOMNESS,
)
class SyntheticFeatures:
    """Data with known features: ``x = Σᵢ cᵢ fᵢ`` for random unit-norm directions ``fᵢ`` in ``d`` dimensions.

    In the style of Sharkey et al. 2022 ("Taking features out of superposition with sparse autoencoders"):
    feature i is on with probability ``pᵢ ∝ decay**i`` (scaled so that on average `mean_active` features are on,
    capped at 1), and then its coefficient ``cᵢ`` is uniform on [0, 1]; otherwise ``cᵢ = 0``.

    Parameters
    ----------
    n_features, d : int
        Number of true features and the dimension they live in (the default 128 in 64 trains in seconds).
    mean_active : float
        Expected number of active features per sample, in (0, n_features].
    decay : float
        Ratio of successive features' probabilities, in (0, 1]; 1 makes all features equally frequent.
    seed, generator : optional
        Source of randomness for the features; samples drawn without their own seed continue from it.
    device, dtype : optional
        CPU and float32 by default.

    Attributes
    ----------
    features : tensor of shape (d, n_features), unit-norm columns: the true directions.
    probabilities : tensor of shape (n_features,), each feature's chance to be on; sums to `mean_active`.

    Examples
    --------
    >>> data = SyntheticFeatures(128, 64, seed=0)
    >>> x, codes = data.sample(1_000, seed=1, return_codes=True)
    >>> x.shape, codes.shape, round(data.probabilities.sum().item(), 3)
    (torch.Size([1000, 64]), torch.Size([1000, 128]), 5.0)
    """

    def __init__(self, n_features=128, d=64, *, mean_active=5.0, decay=0.99, seed=None, generator=None,
                 device=None, dtype=torch.float32):  # fmt: skip
        self.n_features, self.d = n_features, d
        _validate.fits_in_memory(
            "n_features and d", 3 * 4 * self.n_features * self.d, device, hint="pass smaller sizes"
        )
        if mean_active > self.n_features:
            raise ValueError(
                f"mean_active must be a number in (0, n_features] = (0, {self.n_features}], got {mean_active!r}"
            )
        if not dtype.is_floating_point:
            raise ValueError(f"dtype must be a floating-point torch.dtype, got {dtype!r}")
        self.mean_active, self.decay = mean_active, decay
        dev = device
        gen = _validate.generator(seed, generator)
        self.features = random_unit_vectors(self.n_features, self.d, generator=gen).T.contiguous().to(dev, dtype)
        self.probabilities = _capped_probabilities(self.n_features, self.mean_active, self.decay).to(dev, dtype)
        if not bool((self.probabilities > 0).all()):
            raise ValueError(f"mean_active = {mean_active!r} and decay = {decay!r} make some features' probabilities "
                             f"underflow to 0 in {dtype}; pass a larger mean_active or decay")  # fmt: skip
        self._codes = SparseFeatures(self.n_features, self.probabilities, device=dev).to(dtype)
        # samples drawn without a seed continue from this generator (on the data's device), so they are
        # reproducible from the constructor's seed
        self._generator = torch.Generator(device=dev)
        self._generator.manual_seed(int(torch.randint(0, 2**62, (1,), generator=gen)))

    @property
    def device(self) -> torch.device:
        """Where the features live and samples are drawn."""
        return self.features.device

    @_validate.arguments(n=_validate.Int(1), return_codes=_validate.Flag(), **_validate.RANDOMNESS)
    def sample(self, n, *, seed=None, generator=None, return_codes=False):
        """Draw `n` samples ``x = codes @ features.T``.

        Parameters
        ----------
        n : int
        seed, generator : optional
            Source of randomness; with neither, the data's own generator (seeded by the constructor) is used.
        return_codes : bool
            Also return the true codes.

        Returns
        -------
        x : tensor of shape (n, d), and with `return_codes` the codes, shape (n, n_features).

        Examples
        --------
        >>> data = SyntheticFeatures(8, 4, mean_active=2.0, seed=0)
        >>> x, codes = data.sample(5, seed=0, return_codes=True)
        >>> bool(torch.allclose(x, codes @ data.features.T)), bool(((codes >= 0) & (codes <= 1)).all())
        (True, True)
        """
        gen = (
            self._generator if seed is None and generator is None else _validate.generator(seed, generator, self.device)
        )
        self._codes._fits("n", n)
        # (n, features): each on with its probability, then uniform on [0, 1) (`sample` without its door checks)
        codes = self._codes._draw(n, gen, None, self._codes._affine())[0]
        x = codes @ self.features.T  # (n, d)
        return (x, codes) if return_codes else x

    def __repr__(self) -> str:
        return (f"SyntheticFeatures(n_features={self.n_features}, d={self.d}, mean_active={self.mean_active}, "
                f"decay={self.decay})")  # fmt: skip


def _capped_probabilities(n: int, mean_active: float, decay: float) -> torch.Tensor:
    """``p ∝ decay**i`` summing to `mean_active`, with any p > 1 set to 1 and the rest rescaled (water-filling)."""
    weights = decay ** torch.arange(n, dtype=torch.float64)
    p = torch.zeros(n, dtype=torch.float64)
    capped = torch.zeros(n, dtype=torch.bool)
    for _ in range(n):
        free = ~capped
        p[free] = weights[free] * (mean_active - capped.sum()) / weights[free].sum()
        p[capped] = 1.0
        over = p > 1 + 1e-12
        if not over.any():
            break
        capped |= over
    return p.clamp_max(1.0)


# --- the model -----------------------------------------------------------------------------------------------


# A batch passed to an SAE's method: real and finite; its shape against the SAE's is checked in the method
# (`_check_input`, whose message gives the sizes to pass)
_SAE_BATCH = _validate.Tensor()


@_validate.declare_init(
    d_input=_validate.Int(1),
    d_latent=_validate.Either(_validate.Int(1), _validate.Each(_validate.Int(1))),
    n_instances=_validate.Int(1),
    l1_coeff=_validate.Either(_validate.Real(0), _validate.Each(_validate.Real(0, scalar_tensor=True))),
    architecture=_validate.Choice(*ARCHITECTURES),
    k=_validate.Optional(_validate.Int(1)),
    device=_validate.Device(),
    **_validate.RANDOMNESS,
)
class SAE(torch.nn.Module):
    """`n_instances` sparse autoencoders side by side: ``z = act(x W_enc + b_enc)``, ``x̂ = z W_decᵀ + b_dec``.

    Parameters
    ----------
    d_input : int
        Dimension of the activations to explain.
    d_latent : int or sequence of ints
        Dictionary size, one for all instances or one per instance. Smaller instances are padded to the
        largest: their extra latents have zero weights and are always 0.
    n_instances : int
        Number of autoencoders. Left at 1, it is taken from the length of a per-instance `d_latent` or
        `l1_coeff`.
    l1_coeff : float or sequence of floats
        The L1 coefficient λ, one for all or one per instance (see `loss`). Ignored (set to 0) for "topk".
    architecture : "relu" or "topk"
        "relu": ``z = ReLU(pre)`` with the L1 penalty; "topk": the `k` largest pre-activations of each input,
        through a ReLU, and no penalty.
    k : int, only for "topk"
        Number of active latents per input, at most the smallest `d_latent`.
    seed, generator : optional
        Source of randomness for the initial weights (drawn on the CPU, so a seed gives the same weights on
        every device).
    device : optional
        CPU by default.

    Attributes
    ----------
    W_enc : Parameter of shape (n_instances, d_input, d_latent_max)
    b_enc : Parameter of shape (n_instances, d_latent_max)
    W_dec : Parameter of shape (n_instances, d_input, d_latent_max); ``W_dec[i, :, j]`` is latent j's
        direction, unit norm (zero for padding).
    b_dec : Parameter of shape (n_instances, d_input)
    l1_coeff : buffer of shape (n_instances,)
    latent_mask : bool buffer of shape (n_instances, d_latent_max), False on padding.
    d_latents : tuple of each instance's d_latent.

    Examples
    --------
    >>> sae = SAE(64, [128, 256], l1_coeff=[1e-3, 3e-3], seed=0)
    >>> sae.n_instances, sae.W_dec.shape
    (2, torch.Size([2, 64, 256]))
    >>> x_hat, z = sae(torch.randn(10, 64))
    >>> x_hat.shape, z.shape, bool((z[0, :, 128:] == 0).all())
    (torch.Size([2, 10, 64]), torch.Size([2, 10, 256]), True)
    """

    def __init__(self, d_input, d_latent, n_instances=1, *, l1_coeff=1e-3, architecture="relu", k=None,
                 seed=None, generator=None, device=None):  # fmt: skip
        super().__init__()
        self.d_input = d_input
        latents = d_latent if isinstance(d_latent, list) else [d_latent]  # one per instance, or one for all
        coeffs = l1_coeff if isinstance(l1_coeff, list) else [l1_coeff]
        lengths = {len(v) for v in (latents, coeffs) if len(v) > 1}
        if len(lengths) > 1:
            raise ValueError(f"d_latent and l1_coeff give different numbers of instances: {sorted(lengths)}")
        if lengths and n_instances == 1:
            n_instances = lengths.pop()
        elif lengths and lengths != {n_instances}:
            raise ValueError(f"d_latent and l1_coeff must have one entry per instance (n_instances={n_instances}), "
                             f"got {sorted(lengths)[0]}")  # fmt: skip
        _validate.fits_in_memory("d_input, d_latent and n_instances", 4 * 8 * n_instances * self.d_input * max(latents),
                                 device, hint="pass smaller sizes")  # fmt: skip
        self.n_instances = n_instances
        self.d_latents = tuple(latents * n_instances if len(latents) == 1 else latents)
        self.d_latent = self.d_latents[0] if len(set(self.d_latents)) == 1 else self.d_latents
        self.d_latent_max = max(self.d_latents)
        self.architecture = architecture
        if architecture == "topk":
            if k is None:
                raise ValueError('k must be given for architecture="topk": the number of active latents per input')
            self.k = k
            if self.k > min(self.d_latents):
                raise ValueError(f"k must be at most the smallest d_latent ({min(self.d_latents)}), got {k!r}")
            coeffs = [0.0]
        else:
            if k is not None:
                raise ValueError(f'k is only used with architecture="topk"; got k={k!r} with "relu"')
            self.k = None
        dev = device
        I, d, L = self.n_instances, self.d_input, self.d_latent_max
        self.register_buffer("l1_coeff", torch.tensor(coeffs * I if len(coeffs) == 1 else coeffs))
        mask = torch.arange(L).unsqueeze(0) < torch.tensor(self.d_latents).unsqueeze(1)  # (I, L)
        self.register_buffer("latent_mask", mask)
        self.W_enc = torch.nn.Parameter(torch.empty(I, d, L))
        self.b_enc = torch.nn.Parameter(torch.zeros(I, L))
        self.W_dec = torch.nn.Parameter(torch.empty(I, d, L))
        self.b_dec = torch.nn.Parameter(torch.zeros(I, d))
        self.reset_parameters(generator=_validate.generator(seed, generator))
        self.to(dev)

    @_validate.arguments(generator=_validate.Optional(_validate.Generator(), none="None (a fresh random seed)"))
    def reset_parameters(self, generator: torch.Generator | None = None) -> None:
        """Random unit-norm decoder columns, the encoder initialised to the decoder (tied), zero biases.

        Tying the initial encoder to the decoder (``W_enc = W_dec``) starts every latent as a detector of its
        own direction (Conerly et al. 2024, Anthropic's "April update"); training then unties them.
        """
        W = torch.randn(tuple(self.W_dec.shape), generator=generator)  # (I, d, L), drawn on the CPU
        W = W / W.norm(dim=1, keepdim=True)
        W = W * self.latent_mask.cpu().unsqueeze(1)
        with torch.no_grad():
            self.W_dec.copy_(W)
            self.W_enc.copy_(W)
            self.b_enc.zero_()
            self.b_dec.zero_()

    # -- forward ----------------------------------------------------------------------------------------------
    def _check_input(self, x) -> torch.Tensor:
        ok = isinstance(x, torch.Tensor) and x.shape[-1:] == (self.d_input,) and (
            x.ndim == 2 or (x.ndim == 3 and x.shape[0] == self.n_instances))  # fmt: skip
        if not ok:
            shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
            raise ValueError(
                f"x must be a tensor of shape (batch, d_input) = (batch, {self.d_input}) or (n_instances, batch, "
                f"d_input) = ({self.n_instances}, batch, {self.d_input}), got {shape}"
            )
        return x.to(self.W_enc.dtype)

    def _reconstruct(self, x: torch.Tensor):
        """``(x̂, z)`` for a checked x (`forward` without its door checks)."""
        z = self._activate(self._pre(x))
        return self._decode(z), z

    def _decode(self, z: torch.Tensor) -> torch.Tensor:
        return torch.baddbmm(self.b_dec.unsqueeze(1), z, self.W_dec.transpose(1, 2))

    def _pre(self, x: torch.Tensor) -> torch.Tensor:
        """Pre-activations ``x W_enc + b_enc``, shape (n_instances, batch, d_latent_max)."""
        if x.ndim == 2:
            x = x.unsqueeze(0).expand(self.n_instances, -1, -1)
        return torch.baddbmm(self.b_enc.unsqueeze(1), x, self.W_enc)

    def _activate(self, pre: torch.Tensor) -> torch.Tensor:
        # torch.relu, not clamp_min: at a pre-activation of exactly 0 its derivative is 0, as in the hand gradients
        # (clamp_min's is 1, so autograd would push a latent that did not fire)
        if self.architecture == "relu":
            return torch.relu(pre) * self.latent_mask.unsqueeze(1)
        pre = pre.masked_fill(~self.latent_mask.unsqueeze(1), -math.inf)
        values, indices = pre.topk(self.k, dim=-1)  # (I, B, k)
        return torch.zeros_like(pre).scatter_(-1, indices, torch.relu(values))

    @_validate.arguments(x=_SAE_BATCH)
    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Codes ``z = act(x W_enc + b_enc)``.

        Parameters
        ----------
        x : tensor of shape (batch, d_input), shared by every instance, or (n_instances, batch, d_input)

        Returns
        -------
        tensor of shape (n_instances, batch, d_latent_max), non-negative; 0 on padding latents.

        Examples
        --------
        >>> SAE(4, 6, n_instances=3, seed=0).encode(torch.randn(5, 4)).shape
        torch.Size([3, 5, 6])
        """
        return self._activate(self._pre(self._check_input(x)))

    @_validate.arguments(z=_validate.Tensor())
    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Reconstructions ``x̂ = z W_decᵀ + b_dec``, shape (n_instances, batch, d_input).

        Examples
        --------
        >>> sae = SAE(4, 6, seed=0)
        >>> bool(torch.allclose(sae.decode(torch.eye(6).unsqueeze(0))[0], sae.W_dec[0].T))  # zero biases
        True
        """
        if (
            not isinstance(z, torch.Tensor)
            or z.ndim != 3
            or tuple(z.shape[::2]) != (self.n_instances, self.d_latent_max)
        ):
            shape = tuple(z.shape) if isinstance(z, torch.Tensor) else type(z).__name__
            raise ValueError(f"z must be a tensor of shape (n_instances, batch, d_latent_max) = "
                             f"({self.n_instances}, batch, {self.d_latent_max}), got {shape}")  # fmt: skip
        return self._decode(z.to(self.W_dec.dtype))

    @_validate.arguments(x=_SAE_BATCH)
    def forward(self, x: torch.Tensor):
        """``(x̂, z)`` for x of shape (batch, d_input) or (n_instances, batch, d_input).

        Examples
        --------
        >>> x_hat, z = SAE(4, 6, n_instances=2, seed=0)(torch.randn(5, 4))
        >>> x_hat.shape, z.shape
        (torch.Size([2, 5, 4]), torch.Size([2, 5, 6]))
        """
        return self._reconstruct(self._check_input(x))

    @_validate.arguments(x=_validate.Tensor(nonempty=True))
    def loss(self, x: torch.Tensor) -> torch.Tensor:
        """Per-instance loss ``mean((x − x̂)²) + λ · mean_batch ‖z‖₁``, shape (n_instances,).

        The squared error is averaged over the batch *and* the input's `d_input` coordinates (the usual MSE);
        the L1 term is the batch mean of each code's L1 norm. So λ trades one unit of a code's L1 norm for
        ``d_input`` units of summed squared error, and good values scale like ``1 / d_input``: on
        ``SyntheticFeatures(128, 64)`` (inputs of norm about 1.2) MMCS ≥ 0.95 from λ ≈ 1.3e-3 to 7.5e-3, best
        near 3e-3 to 5e-3 (see `train_sae`). "topk" has no L1 term. An empty batch has no mean, and is refused.

        Examples
        --------
        >>> sae = SAE(4, 6, l1_coeff=0.5, seed=0)
        >>> x = torch.randn(8, 4)
        >>> x_hat, z = sae(x)
        >>> bool(torch.allclose(sae.loss(x), ((x - x_hat) ** 2).mean() + 0.5 * z.sum() / 8))
        True
        """
        x = self._check_input(x)
        x_hat, z = self._reconstruct(x)
        mse = (x_hat - x).square().mean(dim=(1, 2))  # (I,)
        return mse + self.l1_coeff * z.abs().sum(dim=2).mean(dim=1)

    def normalize_decoder_(self) -> SAE:
        """Rescale every decoder column to unit norm, in place (padding columns stay zero); return the SAE.

        Examples
        --------
        >>> sae = SAE(4, 6, seed=0)
        >>> with torch.no_grad():
        ...     _ = sae.W_dec.mul_(3.0)
        >>> bool(torch.allclose(sae.normalize_decoder_().W_dec.norm(dim=1), torch.ones(1, 6)))
        True
        """
        with torch.no_grad():
            # (a sum of squares is many times faster than .norm over the middle axis; squared into a kept buffer)
            squares = torch.square(self.W_dec, out=engine.scratch(self, "decoder", self.W_dec))
            self.W_dec.div_(squares.sum(dim=1, keepdim=True).sqrt_().clamp_min_(1e-12))
        return self

    # -- training (superpose_lib.engine) -----------------------------------------------------------------------
    def batch_loss(self, X: torch.Tensor) -> torch.Tensor:
        """`loss` on a training batch X, (B, d) shared by the instances or (I, B, d); differentiable.

        Also keeps, for `train_sae`'s hooks, the residual ``x̂ − x`` and which latents fired on this batch.
        """
        Xe = X.unsqueeze(0).expand(self.n_instances, -1, -1) if X.ndim == 2 else X
        z = self._activate(self._pre(Xe))
        r = torch.baddbmm(self.b_dec.unsqueeze(1), z, self.W_dec.transpose(1, 2)) - Xe  # (I, B, d)
        self._last_batch = (r.detach(), (z.detach() > 0).any(dim=1))
        return r.square().mean(dim=(1, 2)) + self.l1_coeff * z.sum(dim=2).mean(dim=1)

    def batch_loss_and_grads(self, X: torch.Tensor):
        """`batch_loss` and the gradients of its sum, written out by hand.

        X is (B, d), shared by the instances, or (I, B, d). With r = x̂ − x and s = 2 / (B d_input), so that
        ∂loss/∂x̂ = s r: ∂/∂b_dec = s Σ_batch r, ∂/∂W_dec = s rᵀ z, and through the active latents (z > 0)
        g = s r W_dec + λ/B, ∂/∂b_enc = Σ_batch g, ∂/∂W_enc = xᵀ g. Keeps the residual r and
        which latents fired, as `batch_loss` does.
        """
        W_enc, b_enc, W_dec, b_dec = (p.detach() for p in (self.W_enc, self.b_enc, self.W_dec, self.b_dec))
        n_batch = X.shape[-2]
        Xe = X.unsqueeze(0).expand(self.n_instances, -1, -1) if X.ndim == 2 else X
        # the batch-sized intermediates are written into buffers kept between steps (see `engine.scratch`)
        pre = engine.scratch(self, "pre", b_enc.unsqueeze(1).expand(-1, n_batch, -1))  # (I, B, L)
        torch.baddbmm(b_enc.unsqueeze(1), Xe, W_enc, out=pre)
        # ReLU in place; padding latents have zero weights and bias, so they stay 0
        z = pre.clamp_min_(0.0) if self.architecture == "relu" else self._activate(pre)
        z_sum = z.sum(dim=1)  # (I, L); z ≥ 0, so a latent fired on this batch iff its sum is positive
        r = torch.baddbmm(b_dec.unsqueeze(1), z, W_dec.transpose(1, 2), out=engine.scratch(self, "r", Xe))
        r.sub_(Xe)  # (I, B, d)
        scale = 2.0 / (n_batch * self.d_input)
        loss = torch.linalg.vector_norm(r.view(r.shape[0], -1), dim=1).square_().mul_(0.5 * scale)  # (I,)
        relu = self.architecture == "relu"
        if relu:
            loss = loss + self.l1_coeff * z_sum.sum(dim=1) / n_batch
        db_dec = r.sum(dim=1).mul_(scale)
        dW_dec = torch.bmm(r.transpose(1, 2), z).mul_(scale)  # (I, d, L)
        l1_grad = (self.l1_coeff / n_batch).view(-1, 1, 1) if relu else r.new_zeros(1, 1, 1)
        g = torch.baddbmm(l1_grad, r, W_dec, alpha=scale, out=engine.scratch(self, "g", pre))  # ∂/∂z
        torch.ops.aten.threshold_backward.grad_input(g, z, 0.0, grad_input=g)  # only through the active latents
        db_enc = g.sum(dim=1)
        dW_enc = torch.bmm(Xe.transpose(1, 2), g)  # (I, d, L)
        self._last_batch = (r, z_sum > 0)
        return loss, [dW_enc, db_enc, dW_dec, db_dec]


# --- training ------------------------------------------------------------------------------------------------


def _batch_source(data, d_input: int, device: torch.device, dtype: torch.dtype, batch_size: int):
    """A function ``(n, generator) -> (n, d_input)`` drawing batches from a tensor or a callable, in the SAE's
    device and dtype (as `SAE.encode` converts its input)."""
    owner = getattr(data, "__self__", None)
    if getattr(data, "__func__", None) is SyntheticFeatures.sample and (owner.d, owner.device) == (d_input, device):
        # the course's usual data: the same draws as `SyntheticFeatures.sample`, through the engine's sampler
        codes = training_sampler(owner._codes, batch_size, 1, owner.n_features, like=owner.features)
        return lambda n, gen: torch.mm(codes(n, gen)[0], owner.features.T).to(dtype)
    if callable(data):
        try:
            takes_generator = "generator" in inspect.signature(data).parameters
        except (TypeError, ValueError):
            takes_generator = False

        def draw(n, gen):
            x = data(n, generator=gen) if takes_generator else data(n)
            if not isinstance(x, torch.Tensor) or tuple(x.shape) != (n, d_input):
                shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
                raise ValueError(f"data(n) must return a tensor of shape (n, d_input) = ({n}, {d_input}), got {shape}")
            return x.to(device, dtype)

        return draw
    X = data  # a tensor, as declared
    if X.shape[1] != d_input or X.shape[0] == 0:
        raise ValueError(f"data must have shape (N, d_input) = (N, {d_input}) with N ≥ 1, got {tuple(X.shape)}")
    X = X.to(device, dtype)

    def draw(n, gen):
        return X[torch.randint(0, X.shape[0], (n,), generator=gen, device=gen.device)]

    return draw


@_validate.arguments(
    sae=_validate.Instance(SAE),
    data=_validate.Either(_validate.Function(), _validate.Tensor(ndim=2)),
    **engine.RECIPE,
    resample_dead=_validate.Flag(),
    progress=_validate.Flag(),
    threads=_validate.Optional(_validate.Int(1)),
    dead_window=_validate.Optional(_validate.Int(1)),
    on_step=_validate.Optional(_validate.Function()),
    gradients=_validate.Choice(*engine.GRADIENTS),
    **_validate.RANDOMNESS,
)
def train_sae(sae: SAE, data, steps=2_000, batch_size=1_024, lr=1e-3, *, resample_dead=True, seed=None,
              generator=None, progress=True, threads=None, schedule="constant", warmup=0, dead_window=None,
              on_step=None, gradients="auto") -> torch.Tensor:  # fmt: skip
    """Train every instance of `sae` at once with Adam; return the per-instance loss history.

    Each step draws one batch, shared by all instances (so the batches depend on the seed only, not on the
    number of instances: an instance trained alone with the same seed sees the same data). The gradients are
    written out by hand (checked against autograd in the tests). The decoder's gradient is projected onto the
    tangent space of its unit-norm constraint (the component along each column removed) and the columns are
    renormalised after each step, so the L1 penalty cannot be dodged by growing the decoder and shrinking the
    codes.

    **Dead latents.** A latent that stops firing gets no gradient and never recovers. With `resample_dead`,
    every `dead_window` steps (until three quarters of training, so that the last quarter can settle) the
    latents that have not fired for `dead_window` steps are re-initialised towards badly reconstructed
    inputs (after Bricken et al. 2023): an input of the current batch is drawn with probability
    proportional to its squared reconstruction error, the latent's decoder column becomes the unit vector
    along that input's residual ``x − x̂``, its encoder column the same vector scaled to 0.2 × the mean encoder
    norm of the live latents, its encoder bias 0, and its Adam moments are reset.

    **Recipe.** On ``SyntheticFeatures(128, 64)``, ``lr=1e-2, schedule="cosine", steps=1_000,
    batch_size=128`` with 256 latents and λ from 2e-3 to 5e-3 reaches MMCS ≥ 0.99 in a few seconds per
    instance on one CPU thread (the defaults below, the slower constant-lr recipe of the papers, also work).

    Parameters
    ----------
    sae : SAE
    data : tensor of shape (N, d_input), drawn from with replacement, or a callable ``n -> (n, d_input)``
        such as ``SyntheticFeatures(...).sample``. A callable that accepts a ``generator=`` keyword gets
        the training generator, so `seed` then fixes the batches too.
    steps, batch_size, lr : training length, batch size and Adam's (peak) learning rate.
    resample_dead : bool
        Resample dead latents (see above).
    seed, generator : source of randomness for batches and resampling.
    progress : bool
        Show a tqdm progress bar.
    threads : int, optional
        CPU threads (restored afterwards). By default `superpose_lib.engine.threads_for` the step: one thread
        unless each product (``n_instances · batch_size · d_input · d_latent_max`` multiply-adds) is large.
    schedule : "constant" or "cosine" (decays to 2% of lr), and `warmup` steps of linear warm-up.
    dead_window : int, optional
        Steps without firing that make a latent dead, and the interval between checks (default
        ``min(200, steps // 10)``, at least 1).
    on_step : callable ``on_step(step, sae)``, optional
        Called after every step.
    gradients : "auto" (hand-written), or "autograd" (for comparison: on one thread a step takes 1.2 to 1.6
        times as long, 16 SAEs of 256 latents at batch 128 to 4 at batch 1024; ``benchmarks/bench_sae.py``).

    Returns
    -------
    tensor of shape (steps, n_instances) on the CPU: each instance's loss on that step's batch, before the
    update.

    Examples
    --------
    >>> data = SyntheticFeatures(16, 8, mean_active=2.0, seed=0)
    >>> sae = SAE(8, 32, n_instances=2, l1_coeff=[1e-3, 1e-2], seed=0)
    >>> history = train_sae(sae, data.sample, steps=200, batch_size=256, lr=1e-2, seed=0, progress=False)
    >>> history.shape, bool((history[-20:].mean(0) < history[:20].mean(0)).all())
    (torch.Size([200, 2]), True)
    """
    window = max(1, min(200, steps // 10)) if dead_window is None else dead_window
    device = sae.W_enc.device
    gen = _validate.generator(seed, generator, device=device)
    # resampling draws from its own generator, so the batches do not depend on it (nor on n_instances)
    resample_gen = torch.Generator(device=device)
    resample_gen.manual_seed(int(torch.randint(0, 2**62, (1,), generator=gen, device=device)))
    draw = _batch_source(data, sae.d_input, device, sae.W_enc.dtype, batch_size)
    _validate.fits_in_memory("batch_size", 6 * 4 * batch_size * sae.n_instances * (sae.d_input + sae.d_latent_max),
                             device)  # fmt: skip
    since_fired = torch.zeros(sae.n_instances, sae.d_latent_max, dtype=torch.long, device=device)

    def tangent_decoder_gradient(grads):  # remove each decoder column's gradient along the column itself
        W_dec, dW_dec, buf = sae.W_dec.data, grads[2], engine.scratch(sae, "decoder", sae.W_dec)
        dW_dec.sub_(torch.mul(W_dec, torch.mul(W_dec, dW_dec, out=buf).sum(dim=1, keepdim=True), out=buf))

    def renormalise_and_resample(step, adam):
        sae.normalize_decoder_()
        r, fired = sae._last_batch
        since_fired.add_(1).masked_fill_(fired, 0)
        t = step + 1
        if resample_dead and t % window == 0 and t <= 0.75 * steps:
            dead = (since_fired >= window) & sae.latent_mask
            if dead.any():
                _resample(sae, dead, r, resample_gen, adam.exp_avg, adam.exp_avg_sq)
                since_fired.masked_fill_(dead, 0)

    sae.normalize_decoder_()
    try:
        return engine.fit(sae, draw, steps, batch_size, lr, schedule=schedule, warmup=warmup, generator=gen,
                          gradients=gradients, before_update=tangent_decoder_gradient,
                          after_update=renormalise_and_resample, on_step=on_step, progress=progress, threads=threads,
                          desc="training SAE")  # fmt: skip
    finally:
        sae._last_batch = None


def _resample(sae: SAE, dead: torch.Tensor, r: torch.Tensor, gen, exp_avg, exp_avg_sq) -> None:
    """Point the `dead` latents (I, L) at inputs drawn in proportion to their squared error (r = x̂ − x)."""
    I, B, _ = r.shape
    weights = r.square().sum(dim=2) + 1e-12  # (I, B)
    if not _validate.finite_tensor(weights):
        raise ValueError("training diverged: the reconstruction error became NaN or inf; pass a smaller lr, "
                         "or check the data")  # fmt: skip
    picks = torch.multinomial(weights, sae.d_latent_max, replacement=True, generator=gen)  # (I, L)
    directions = -torch.gather(r, 1, picks.unsqueeze(2).expand(-1, -1, r.shape[2]))  # (I, L, d): x − x̂
    directions = directions / directions.norm(dim=2, keepdim=True).clamp_min(1e-12)
    directions = directions.transpose(1, 2)  # (I, d, L)
    alive = sae.latent_mask & ~dead
    enc_norm = sae.W_enc.norm(dim=1)  # (I, L)
    mean_alive = (enc_norm * alive).sum(dim=1) / alive.sum(dim=1).clamp_min(1)
    mean_alive = torch.where(alive.any(dim=1), mean_alive, torch.ones_like(mean_alive))  # (I,)
    cols = dead.unsqueeze(1)  # (I, 1, L)
    sae.W_dec.data.copy_(torch.where(cols, directions, sae.W_dec.data))
    sae.W_enc.data.copy_(torch.where(cols, directions * (0.2 * mean_alive).view(-1, 1, 1), sae.W_enc.data))
    sae.b_enc.data.masked_fill_(dead, 0.0)
    for state in (exp_avg, exp_avg_sq):
        state[0].masked_fill_(cols, 0.0)
        state[1].masked_fill_(dead, 0.0)
        state[2].masked_fill_(cols, 0.0)


# --- evaluation ----------------------------------------------------------------------------------------------


@_validate.arguments(
    sae=_validate.Instance(SAE),
    x=_validate.Tensor(ndim=2),
    true_features=_validate.Optional(_validate.Either(_validate.Instance(SyntheticFeatures), _validate.Tensor(ndim=2))),
    batch_size=_validate.Int(1),
)
def evaluate_sae(sae: SAE, x, true_features=None, *, batch_size=4_096) -> list[dict]:
    """Score every instance on held-out data; one record (dict) per instance.

    Keys:

    - ``instance``, ``d_latent``, ``l1_coeff``;
    - ``l0``: mean number of active (non-zero) latents per input;
    - ``fvu``: fraction of variance unexplained, ``Σ‖x − x̂‖² / Σ‖x − mean(x)‖²``, and
      ``explained_variance = 1 − fvu``;
    - ``dead_fraction``: share of the instance's own `d_latent` latents that never fire on `x`;
    - ``shrinkage``: ``Σ‖x̂‖ / Σ‖x‖``, the reconstructions' mean norm relative to the inputs'; below 1 the L1
      penalty is shrinking the codes (Wright & Sharkey 2024, "Addressing feature suppression in SAEs");
    - ``mmcs``: mean max cosine similarity of the decoder columns to `true_features`
      (`superpose_lib.metrics.mmcs`), or None without them;
    - ``loss``: the training loss (`SAE.loss`) on `x`.

    Parameters
    ----------
    sae : SAE
    x : tensor of shape (N, d_input), held-out data
    true_features : tensor of shape (d_input, n_true) with the true directions as columns, or a
        `SyntheticFeatures` (its ``features`` are used); optional.
    batch_size : int
        Inputs scored at a time (memory only; the results do not depend on it).

    Examples
    --------
    >>> data = SyntheticFeatures(16, 8, mean_active=2.0, seed=0)
    >>> records = evaluate_sae(SAE(8, 32, seed=0), data.sample(500, seed=1), data)
    >>> sorted(records[0])  # doctest: +NORMALIZE_WHITESPACE
    ['d_latent', 'dead_fraction', 'explained_variance', 'fvu', 'instance', 'l0', 'l1_coeff', 'loss', 'mmcs',
     'shrinkage']
    """
    if x.shape[1] != sae.d_input or x.shape[0] < 2:
        raise ValueError(f"x must have shape (N, d_input) = (N, {sae.d_input}) with N ≥ 2, got {tuple(x.shape)}")
    if isinstance(true_features, SyntheticFeatures):
        true_features = true_features.features
    if true_features is not None:
        if true_features.shape[0] != sae.d_input or true_features.shape[1] == 0:
            raise ValueError(f"true_features must have shape (d_input, n_true) = ({sae.d_input}, n_true) with the "
                             f"directions as columns, got {tuple(true_features.shape)}")  # fmt: skip
    if bool((x == x[0]).all()):
        raise ValueError("x has no variance (all rows are equal): explained variance is undefined")
    device = sae.W_enc.device
    x = x.to(device, sae.W_enc.dtype)
    I = sae.n_instances
    sq_err = torch.zeros(I, dtype=torch.float64, device=device)
    norm_hat = torch.zeros(I, dtype=torch.float64, device=device)
    l0 = torch.zeros(I, dtype=torch.float64, device=device)
    l1 = torch.zeros(I, dtype=torch.float64, device=device)
    fired = torch.zeros(I, sae.d_latent_max, dtype=torch.bool, device=device)
    with torch.no_grad():
        for start in range(0, x.shape[0], batch_size):
            chunk = x[start : start + batch_size]  # (b, d)
            x_hat, z = sae(chunk)  # (I, b, d), (I, b, L)
            sq_err += (x_hat - chunk).square().sum(dim=(1, 2)).double()
            norm_hat += x_hat.norm(dim=2).sum(dim=1).double()
            on = z > 0
            l0 += on.sum(dim=(1, 2)).double()
            l1 += z.abs().sum(dim=(1, 2)).double()
            fired |= on.any(dim=1)
        n = x.shape[0]
        total_var = (x.double() - x.double().mean(dim=0)).square().sum()
        norm_x = x.double().norm(dim=1).sum()
        fvu = sq_err / total_var
        dead = (~fired & sae.latent_mask).sum(dim=1)
        loss = sq_err / (n * sae.d_input) + sae.l1_coeff.double() * l1 / n
        scores = [None] * I
        if true_features is not None:
            true = true_features.to(device, sae.W_dec.dtype)
            scores = [float(_mmcs(sae.W_dec[i, :, : sae.d_latents[i]].detach(), true)) for i in range(I)]
    records = []
    for i in range(I):
        records.append({
            "instance": i,
            "d_latent": sae.d_latents[i],
            "l1_coeff": float(sae.l1_coeff[i]),
            "l0": float(l0[i] / n),
            "explained_variance": float(1 - fvu[i]),
            "fvu": float(fvu[i]),
            "dead_fraction": float(dead[i]) / sae.d_latents[i],
            "shrinkage": float(norm_hat[i] / norm_x),
            "mmcs": scores[i],
            "loss": float(loss[i]),
        })  # fmt: skip
    return records
