"""Toy models of superposition (Elhage et al. 2022, "Toy Models of Superposition"), and a fast way to train them.

The main model compresses `n_features` sparse features into `d_hidden < n_features` dimensions and back:

    h  = W x                 (d_hidden,)     W has the feature directions as its columns
    x' = ReLU(Wᵀ h + b)      (n_features,)

and is trained to minimise the importance-weighted squared error Σᵢ Iᵢ (xᵢ − x'ᵢ)². Each feature is zero
with probability 1 − `feature_probability`, else uniform on [0, 1]. `n_instances` independent models
(for example one per feature probability) are trained at once, side by side in one tensor.

Two more models from the paper share the interface: `PrivilegedBasisModel` puts a ReLU on the hidden layer
(``h = ReLU(W x)``), which makes its neurons a privileged basis, and `AbsoluteValueModel` computes
``y = |x|`` through a ReLU hidden layer (``y' = ReLU(W₂ ReLU(W₁ x) + b)``) from features uniform on [−1, 1].

Data and training live elsewhere: the features come from `superpose_lib.features.SparseFeatures` (independent,
correlated or anticorrelated; ``model.data``), and `train` is a thin call of the library's one training loop,
`superpose_lib.engine.fit`, which documents why it is fast. Each model writes its loss for autograd
(`batch_loss`) and, because a step through them takes 1.7 to 2.5 times less time than through autograd at the
paper's sizes (``benchmarks/bench_toy_models.py --section work``), its gradients by hand
(`batch_loss_and_grads`, checked against autograd in ``tests/test_engine.py``).
"""

from __future__ import annotations

import copy

import torch
from tqdm.auto import tqdm

from . import _validate, engine
from .features import CORRELATIONS, SparseFeatures, broadcast, training_sampler

__all__ = [
    "ToyModel",
    "PrivilegedBasisModel",
    "AbsoluteValueModel",
    "train",
    "train_best_of_seeds",
    "evaluate",
    "phase_losses_2in1",
]


# The declarations the models and their training share.
_SIZES = {"n_features": _validate.Int(1), "d_hidden": _validate.Int(1), "n_instances": _validate.Int(1)}
_DATA = {"feature_probability": _validate.Tensor(), "importance": _validate.Tensor(nonnegative=True)}
# A batch a learner passes to a model's method: real and finite; its shape and dtype against the model's are
# checked in the method (`ToyModel._check_batch`, whose message gives the sizes to pass). Not converted.
_BATCH = _validate.Tensor(convert=False)


@_validate.declare_init(
    **_SIZES,
    **_DATA,
    activation=_validate.Choice("relu", "linear"),
    device=_validate.Device(),
    hidden_l1=_validate.Tensor(ndim=(0, 1), nonnegative=True),
    correlation=_validate.Choice(*CORRELATIONS),
    set_size=_validate.Int(1),
    **_validate.RANDOMNESS,
)
class ToyModel(torch.nn.Module):
    """`n_instances` independent toy models ``x' = act(Wᵀ W x + b)`` trained side by side.

    Parameters
    ----------
    n_features, d_hidden : int
        Number of features and of hidden dimensions.
    n_instances : int
        Number of independent models (default 1).
    feature_probability : float or tensor broadcastable to (n_instances, n_features)
        Chance that a feature is non-zero (1 − S in the paper's notation).
    importance : float or tensor broadcastable to (n_instances, n_features)
        Weight of each feature's squared error in the loss.
    activation : "relu" or "linear"
        The output non-linearity; "linear" is the control model that cannot use superposition.
    seed, generator : optional
        Source of randomness for the initial weights.
    device : optional
        CPU by default.
    hidden_l1 : float or tensor broadcastable to (n_instances,)
        Weight λ of an L1 penalty on the hidden layer: training minimises the loss plus ``λ · mean ‖h‖₁``
        (mean over the batch). 0 by default (no penalty); `train`'s history includes the penalty,
        `evaluate` and `loss` do not. Fixed at construction.
    correlation, set_size : optional
        How features co-occur: "independent" (default), or consecutive sets of `set_size` features that are
        "correlated" (present together) or "anticorrelated" (at most one at a time); see
        `superpose_lib.features.SparseFeatures`. Each feature is present with its `feature_probability` in all three.

    Attributes
    ----------
    W : Parameter of shape (n_instances, d_hidden, n_features); ``W[i, :, j]`` is feature j's direction.
    b : Parameter of shape (n_instances, n_features).
    data : SparseFeatures, the distribution the model is trained on; ``feature_probability`` is its
        ``probability``, shape (n_instances, n_features).

    Examples
    --------
    >>> model = ToyModel(5, 2, n_instances=3, feature_probability=torch.tensor([[1.0], [0.1], [0.01]]), seed=0)
    >>> model.W.shape, model.b.shape
    (torch.Size([3, 2, 5]), torch.Size([3, 5]))
    """

    hidden_relu = False  # PrivilegedBasisModel sets it: h = ReLU(W x)
    value_low = 0.0  # non-zero feature values are uniform on [value_low, 1]

    def __init__(
        self,
        n_features: int,
        d_hidden: int,
        n_instances: int = 1,
        feature_probability=1.0,
        importance=1.0,
        activation: str = "relu",
        *,
        seed=None,
        generator=None,
        device=None,
        hidden_l1=0.0,
        correlation: str = "independent",
        set_size: int = 2,
    ):
        super().__init__()
        self.n_features, self.d_hidden, self.n_instances = n_features, d_hidden, n_instances
        _validate.fits_in_memory("n_features, d_hidden and n_instances",
                                 4 * self.n_instances * self.n_features * (6 * self.d_hidden + 8), device,
                                 hint="pass smaller sizes")  # fmt: skip
        self.activation = activation
        dev = device
        shape = (self.n_instances, self.n_features)
        probability = broadcast("feature_probability", feature_probability, shape)
        if ((probability <= 0) | (probability > 1)).any():
            raise ValueError("feature_probability must lie in (0, 1] for every instance and feature")
        self.data = SparseFeatures(self.n_features, probability, n_instances=self.n_instances, low=self.value_low,
                                   correlation=correlation, set_size=set_size)  # fmt: skip
        self.register_buffer("importance", broadcast("importance", importance, shape))
        l1 = hidden_l1.to(torch.float32)
        if l1.numel() not in (1, self.n_instances):
            raise ValueError(f"hidden_l1 must be a finite number >= 0 or one per instance, got {hidden_l1!r}")
        self.register_buffer("hidden_l1", torch.broadcast_to(l1, (self.n_instances,)).clone())
        self._hidden_l1_on = bool((self.hidden_l1 > 0).any())
        self._create_parameters()
        self.reset_parameters(generator=_validate.generator(seed, generator))
        self.to(dev)

    # -- parameters -------------------------------------------------------------------------------------------
    def _create_parameters(self) -> None:
        self.W = torch.nn.Parameter(torch.empty(self.n_instances, self.d_hidden, self.n_features))
        self.b = torch.nn.Parameter(torch.zeros(self.n_instances, self.n_features))

    @_validate.arguments(generator=_validate.Optional(_validate.Generator(), none="None (a fresh random seed)"))
    def reset_parameters(self, generator: torch.Generator | None = None) -> None:
        """Xavier-normal weights (``std = √(2 / (fan_in + fan_out))``, as in the paper's notebook), zero biases.

        The draw is made on the CPU, so a seed gives the same initial weights on every device.
        """
        self._reset_parameters(generator)

    def _reset_parameters(self, generator) -> None:
        std = (2 / (self.n_features + self.d_hidden)) ** 0.5
        W = std * torch.randn(tuple(self.W.shape), generator=generator)  # (instances, hidden, features)
        with torch.no_grad():
            self.W.copy_(W)
            self.b.zero_()

    @property
    def feature_probability(self) -> torch.Tensor:
        """Each feature's chance to be present, shape (n_instances, n_features) (``data.probability``)."""
        return self.data.probability

    @_validate.arguments(n_batch=_validate.Int(1), generator=_validate.Optional(_validate.Generator()))
    def generate_batch(self, n_batch: int, *, generator=None) -> torch.Tensor:
        """A batch of sparse features, shape (n_batch, n_instances, n_features).

        Each entry is zero with probability 1 − feature_probability, else uniform on [0, 1].
        """
        self.data._fits("n_batch", n_batch)
        return self.data._draw(n_batch, generator, None, self.data._affine()).transpose(0, 1)

    @_validate.arguments(x=_BATCH)
    def target(self, x: torch.Tensor) -> torch.Tensor:
        """What the model should output for input x of shape (batch, n_instances, n_features): x itself (an
        autoencoder; `AbsoluteValueModel`: its absolute value)."""
        self._check_batch("x", x)
        return self._target(x)

    @_validate.arguments(x=_BATCH)
    def hidden(self, x: torch.Tensor) -> torch.Tensor:
        """The hidden layer ``h = W x`` (``ReLU(W x)`` with a privileged basis, ``ReLU(W₁ x)`` in
        `AbsoluteValueModel`) for x of shape (batch, n_instances, n_features): (batch, n_instances, d_hidden)."""
        self._check_batch("x", x, same_dtype=True)
        return self._hidden(x)

    @_validate.arguments(h=_BATCH)
    def readout(self, h: torch.Tensor) -> torch.Tensor:
        """The output ``x' = act(Wᵀ h + b)`` (``ReLU(W₂ h + b)`` in `AbsoluteValueModel`) from the hidden layer h
        of shape (batch, n_instances, d_hidden): (batch, n_instances, n_features)."""
        self._check_batch("h", h, same_dtype=True, width=self.d_hidden)
        return self._readout(h)

    @_validate.arguments(x=_BATCH)
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Reconstruct a batch: x of shape (batch, n_instances, n_features) → x' of the same shape."""
        self._check_batch("x", x, same_dtype=True)
        return self._readout(self._hidden(x))

    @_validate.arguments(x=_BATCH, x_hat=_BATCH, per_instance=_validate.Flag())
    def loss(self, x: torch.Tensor, x_hat: torch.Tensor, per_instance: bool = False) -> torch.Tensor:
        """Importance-weighted squared error, averaged over batch and features, summed over instances.

        With ``per_instance=True``, return the (n_instances,) losses instead of their sum.
        """
        self._check_batch("x", x)
        self._check_batch("x_hat", x_hat)
        if x_hat.shape != x.shape:
            raise ValueError(f"x_hat must have x's shape {tuple(x.shape)}, got {tuple(x_hat.shape)}")
        if x.shape[0] == 0:  # a mean over no samples is NaN
            raise ValueError("x must hold at least one sample: shape (batch ≥ 1, n_instances, n_features)")
        per = self._loss(x, x_hat)
        return per if per_instance else per.sum()

    # the model's steps without the door checks (the training step calls these)
    def _target(self, x: torch.Tensor) -> torch.Tensor:
        return x

    def _hidden(self, x: torch.Tensor) -> torch.Tensor:
        h = torch.einsum("bif,ihf->bih", x, self.W)
        return torch.relu(h) if self.hidden_relu else h

    def _readout(self, h: torch.Tensor) -> torch.Tensor:
        out = torch.einsum("bih,ihf->bif", h, self.W) + self.b
        return torch.relu(out) if self.activation == "relu" else out

    def _loss(self, x: torch.Tensor, x_hat: torch.Tensor) -> torch.Tensor:
        return (self.importance * (self._target(x) - x_hat) ** 2).mean(dim=(0, 2))  # (instances,)

    # -- training (superpose_lib.engine) -----------------------------------------------------------------------
    def batch_loss(self, X: torch.Tensor) -> torch.Tensor:
        """The training loss of each instance on an instance-major batch X (n_instances, batch, n_features).

        `loss` plus the hidden-layer penalty ``λ · mean_batch ‖h‖₁``; differentiable (the engine's autograd path).
        """
        x = X.transpose(0, 1)  # (batch, instances, features)
        h = self._hidden(x)
        loss = self._loss(x, self._readout(h))
        if self._hidden_l1_on:
            loss = loss + self.hidden_l1 * h.abs().sum(dim=2).mean(dim=0)
        return loss

    def batch_loss_and_grads(self, X: torch.Tensor):
        """`batch_loss` and the gradients of its sum, [dW, db], written out by hand (no autograd graph).

        X is instance-major, (I, B, F). With d = ∂loss/∂out (zero where the output ReLU is off):
        ∂/∂b = Σ_batch d, and since out = W(ᵀ) h with h = W x, ∂/∂W = hᵀd + ((d Wᵀ) ⊙ h')ᵀ X.
        """
        W, b = self.W.detach(), self.b.detach()
        n_batch = X.shape[1]
        pre = torch.bmm(X, W.transpose(1, 2))  # (I, B, H)
        h = pre.clamp_min(0) if self.hidden_relu else pre
        # the batch-sized intermediates are written into buffers kept between steps (see `engine.scratch`)
        out = torch.baddbmm(b.unsqueeze(1), h, W, out=engine.scratch(self, "out", X))  # (I, B, F)
        relu = self.activation == "relu"
        if relu:
            out.clamp_min_(0)
        r = torch.sub(out, X, out=engine.scratch(self, "r", X))  # residual x' − x, (I, B, F)
        scale = self.importance.unsqueeze(1) * (2.0 / (n_batch * self.n_features))  # (I, 1, F)
        d = torch.mul(r, scale, out=engine.scratch(self, "d", X))  # ∂loss/∂x'
        # loss = ½ Σ scale · r² = ½ Σ r · d, one dot product per instance (no division: an importance may be 0)
        loss = torch.bmm(r.view(r.shape[0], 1, -1), d.view(d.shape[0], -1, 1)).view(-1) * 0.5  # (I,)
        if relu:  # no gradient through an output ReLU that is off (out = 0 there)
            torch.ops.aten.threshold_backward.grad_input(d, out, 0.0, grad_input=d)
        db = d.sum(dim=1)  # (I, F)
        dW = torch.bmm(h.transpose(1, 2), d)  # (I, H, F): the decoder's share
        e = torch.bmm(d, W.transpose(1, 2))  # (I, B, H): ∂loss/∂h
        if self._hidden_l1_on:  # λ · mean_batch ‖h‖₁: ∂/∂h = (λ / B) sign(h)
            lam = self.hidden_l1.view(-1, 1, 1) / n_batch
            loss = loss + (lam * h.abs()).sum(dim=(1, 2))
            e.addcmul_(lam, torch.sign(h))
        if self.hidden_relu:
            e = torch.ops.aten.threshold_backward(e, pre, 0.0)
        dW.baddbmm_(e.transpose(1, 2), X)  # the encoder's share
        return loss, [dW, db]

    def _check_batch(self, name: str, x: torch.Tensor, *, same_dtype: bool = False, width: int | None = None) -> None:
        """A ValueError naming `name` unless x is a (batch, n_instances, width) tensor (width: n_features) of
        floating-point numbers (of the model's dtype with `same_dtype`): else torch fails deep in an einsum."""
        width = self.n_features if width is None else width
        if not isinstance(x, torch.Tensor) or x.ndim != 3 or tuple(x.shape[1:]) != (self.n_instances, width):
            shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
            wanted = "n_features" if width == self.n_features and name != "h" else "d_hidden"
            raise ValueError(
                f"{name} must be a tensor of shape (batch, n_instances, {wanted}) = "
                f"(batch, {self.n_instances}, {width}), got {shape}"
                + ("; generate_batch makes one" if wanted == "n_features" else "")
            )
        if same_dtype and x.dtype != self.W.dtype:  # else torch's "expected scalar type ..." from deep inside
            raise ValueError(f"{name} must hold the model's dtype {self.W.dtype}, got {x.dtype}; "
                             f"pass {name}.to({self.W.dtype})")  # fmt: skip
        if not x.is_floating_point():  # else torch's "Subtraction ... with a bool tensor" from deep inside
            raise ValueError(f"{name} must hold floating-point numbers, got {x.dtype}; pass {name}.float()")


class PrivilegedBasisModel(ToyModel):
    """The toy model with a ReLU on its hidden layer: ``h = ReLU(W x)``, ``x' = ReLU(Wᵀ h + b)``.

    The hidden ReLU acts coordinate by coordinate, so the hidden neurons become a privileged basis
    (Elhage et al. 2022, section "Superposition in a privileged basis"): one can ask which features each
    neuron responds to. Same arguments, attributes and training as `ToyModel`.

    Examples
    --------
    >>> model = PrivilegedBasisModel(10, 5, importance=0.75 ** torch.arange(10.0), seed=0)
    >>> x = model.generate_batch(4, generator=torch.Generator().manual_seed(0))
    >>> bool((torch.einsum("bif,ihf->bih", x, model.W).clamp_min(0) >= 0).all()), model(x).shape
    (True, torch.Size([4, 1, 10]))
    """

    hidden_relu = True


@_validate.declare_init(**_SIZES, **_DATA, device=_validate.Device(), **_validate.RANDOMNESS)
class AbsoluteValueModel(ToyModel):
    """Computation in superposition: ``y' = ReLU(W₂ ReLU(W₁ x) + b)`` trained to output ``|x|``.

    Features are zero with probability 1 − `feature_probability`, else uniform on [−1, 1]; the target is
    their absolute value, so the model must compute, not just store (Elhage et al. 2022, section
    "Computation in superposition"). With enough neurons it uses two per feature, one per sign:
    ``|x| = ReLU(x) + ReLU(−x)``.

    Attributes
    ----------
    W1 : Parameter of shape (n_instances, d_hidden, n_features), the input weights (neurons as rows).
    W2 : Parameter of shape (n_instances, n_features, d_hidden), the output weights.
    b : Parameter of shape (n_instances, n_features).

    Examples
    --------
    >>> model = AbsoluteValueModel(3, 6, seed=0)
    >>> model.W1.shape, model.W2.shape, model.b.shape
    (torch.Size([1, 6, 3]), torch.Size([1, 3, 6]), torch.Size([1, 3]))
    """

    value_low = -1.0

    def __init__(self, n_features: int, d_hidden: int, n_instances: int = 1, feature_probability=1.0,
                 importance=1.0, *, seed=None, generator=None, device=None):  # fmt: skip
        super().__init__(n_features, d_hidden, n_instances, feature_probability, importance, "relu",
                         seed=seed, generator=generator, device=device)  # fmt: skip

    def _create_parameters(self) -> None:
        self.W1 = torch.nn.Parameter(torch.empty(self.n_instances, self.d_hidden, self.n_features))
        self.W2 = torch.nn.Parameter(torch.empty(self.n_instances, self.n_features, self.d_hidden))
        self.b = torch.nn.Parameter(torch.zeros(self.n_instances, self.n_features))

    @property
    def W(self) -> torch.Tensor:  # the device and shape anchor used by the shared code
        return self.W1

    def _reset_parameters(self, generator) -> None:  # Xavier-normal W₁ and W₂, zero bias
        std = (2 / (self.n_features + self.d_hidden)) ** 0.5
        W1 = std * torch.randn(tuple(self.W1.shape), generator=generator)
        W2 = std * torch.randn(tuple(self.W2.shape), generator=generator)
        with torch.no_grad():
            self.W1.copy_(W1)
            self.W2.copy_(W2)
            self.b.zero_()

    def _target(self, x: torch.Tensor) -> torch.Tensor:  # the absolute value of each feature
        return x.abs()

    def _hidden(self, x: torch.Tensor) -> torch.Tensor:  # the neurons ReLU(W₁ x): (batch, instances, d_hidden)
        return torch.relu(torch.einsum("bif,ihf->bih", x, self.W1))

    def _readout(self, h: torch.Tensor) -> torch.Tensor:  # the output y' = ReLU(W₂ h + b)
        return torch.relu(torch.einsum("bih,ifh->bif", h, self.W2) + self.b)

    def batch_loss_and_grads(self, X: torch.Tensor):
        """`batch_loss` and the gradients of its sum, [dW1, dW2, db], written out by hand."""
        W1, W2, b = self.W1.detach(), self.W2.detach(), self.b.detach()
        n_batch = X.shape[1]
        pre = torch.bmm(X, W1.transpose(1, 2))  # (I, B, H)
        h = pre.clamp_min(0)
        out = torch.baddbmm(b.unsqueeze(1), h, W2.transpose(1, 2)).clamp_min_(0)  # (I, B, F)
        r = out - X.abs()
        scale = self.importance.unsqueeze(1) * (2.0 / (n_batch * self.n_features))
        d = r * scale
        loss = (r * d).sum(dim=(1, 2)) * 0.5
        d = torch.ops.aten.threshold_backward(d, out, 0.0)  # output ReLU off
        db = d.sum(dim=1)
        dW2 = torch.bmm(d.transpose(1, 2), h)  # (I, F, H)
        e = torch.ops.aten.threshold_backward(torch.bmm(d, W2), pre, 0.0)  # (I, B, H)
        dW1 = torch.bmm(e.transpose(1, 2), X)  # (I, H, F)
        return loss, [dW1, dW2, db]


_TOY = _validate.Instance(ToyModel, what="ToyModel (or one of its variants)")
_TRAINING = {**engine.RECIPE, "progress": _validate.Flag(), **_validate.RANDOMNESS}


@_validate.arguments(
    model=_TOY,
    **_TRAINING,
    on_step=_validate.Optional(_validate.Function()),
    threads=_validate.Optional(_validate.Int(1)),
    gradients=_validate.Choice(*engine.GRADIENTS),
    data=_validate.Optional(_validate.Instance(object, what="data source (see features.training_sampler)")),
)
def train(
    model: ToyModel,
    steps: int = 5_000,
    batch_size: int = 1_024,
    lr: float = 1e-3,
    *,
    schedule: str = "constant",
    warmup: int = 0,
    seed=None,
    generator=None,
    on_step=None,
    progress: bool = True,
    threads: int | None = None,
    data=None,
    gradients: str = "auto",
) -> torch.Tensor:
    """Train every instance of `model` at once with Adam; return the per-instance loss history.

    One call of the library's training loop, `superpose_lib.engine.fit`: hand-written gradients (checked against
    autograd in the tests), Adam (β = 0.9, 0.999, ε = 1e-8) on every parameter.

    Parameters
    ----------
    model : ToyModel, PrivilegedBasisModel or AbsoluteValueModel
    steps, batch_size, lr : training length, batch size and Adam's (peak) learning rate.
    schedule : "constant" (the paper's) or "cosine" (decays to 2% of lr; reaches a given loss in fewer steps
        with a larger lr).
    warmup : int
        Steps of linear warm-up to `lr` (default 0).
    seed, generator : source of randomness for the batches.
    on_step : callable ``on_step(step, model)``, optional
        Called after every step (for example to record snapshots of ``model.W``).
    progress : bool
        Show a tqdm progress bar.
    threads : int, optional
        CPU threads for training (restored afterwards). By default `superpose_lib.engine.threads_for` the step:
        one thread when each product is small, where a second one saves little on an idle machine and costs
        several times more on a busy one (see `superpose_lib.engine.ONE_THREAD_BELOW`).
    data : optional
        Where batches come from instead of ``model.data``: anything with ``sample(n, generator)`` returning
        (n_instances, n, n_features), such as a `superpose_lib.features.FixedDataset` (a finite training set).
    gradients : "auto" (hand-written), or "autograd" (for comparison; slower).

    Returns
    -------
    tensor of shape (steps, n_instances) on the CPU: the loss of each instance at each step (on that step's
    batch, before the update).

    Examples
    --------
    >>> model = ToyModel(5, 2, n_instances=2, feature_probability=0.1, seed=0)
    >>> history = train(model, steps=100, lr=1e-2, seed=0, progress=False)
    >>> history.shape, bool(history[-10:].mean() < history[:10].mean())
    (torch.Size([100, 2]), True)
    """
    gen = _validate.generator(seed, generator, device=model.W.device)
    sample = training_sampler(model.data if data is None else data, batch_size, model.n_instances, model.n_features,
                              like=model.W)  # fmt: skip
    return engine.fit(model, sample, steps, batch_size, lr, schedule=schedule, warmup=warmup, generator=gen,
                      gradients=gradients, on_step=on_step, progress=progress, threads=threads)  # fmt: skip


@_validate.arguments(
    model=_TOY,
    n_samples=_validate.Int(1),
    batch_size=_validate.Int(1),
    progress=_validate.Flag(),
    **_validate.RANDOMNESS,
)
def evaluate(model: ToyModel, n_samples: int = 16_384, batch_size: int = 4_096, *, seed=None, generator=None,
             progress: bool = False):  # fmt: skip
    """Each instance's loss on `n_samples` fresh samples (in chunks of `batch_size`), shape (n_instances,).

    ``progress=True`` shows a tqdm bar over the chunks (for a long evaluation; it can be interrupted).

    Examples
    --------
    >>> evaluate(ToyModel(5, 2, n_instances=3, seed=0), n_samples=1_000, seed=0).shape
    torch.Size([3])
    """
    batch_size = min(batch_size, n_samples)
    _validate.fits_in_memory("batch_size", 4 * 4 * batch_size * model.n_instances * (model.n_features + model.d_hidden))
    gen = _validate.generator(seed, generator, device=model.W.device)
    total = torch.zeros(model.n_instances, device=model.W.device)
    with torch.no_grad():
        for done in tqdm(range(0, n_samples, batch_size), desc="evaluating", disable=not progress):
            n = min(batch_size, n_samples - done)
            x = model.generate_batch(n, generator=gen)
            total += model.loss(x, model(x), per_instance=True) * n
    return (total / n_samples).cpu()


def _replicated(model: ToyModel, n_copies: int, generator: torch.Generator) -> ToyModel:
    """A copy of `model` with every instance repeated `n_copies` times (adjacent), freshly initialised."""
    clone = copy.deepcopy(model)
    with torch.no_grad():
        for module in clone.modules():  # the model and its data: every per-instance tensor has instances first
            if hasattr(module, "n_instances"):
                module.n_instances *= n_copies
            for name, tensor in list(module.named_parameters(recurse=False)) + list(
                module.named_buffers(recurse=False)
            ):
                repeated = tensor.detach().repeat_interleave(n_copies, dim=0).clone()
                is_param = isinstance(tensor, torch.nn.Parameter)
                setattr(module, name, torch.nn.Parameter(repeated) if is_param else repeated)
    clone.reset_parameters(generator=generator)
    return clone


def _copies_loss(big: ToyModel, model: ToyModel, n_copies: int, n_samples: int, generator) -> torch.Tensor:
    """Each copy's loss, shape (n_instances, n_copies), with the copies of an instance scored on the SAME samples.

    Fresh samples per copy would add sampling noise to the comparison (about 10% of the loss at 65,000
    samples near a transition, enough to pick a worse copy); shared samples compare the models alone.
    """
    total = torch.zeros(big.n_instances, device=big.W.device)
    done = 0
    with torch.no_grad():
        while done < n_samples:
            n = min(4_096, n_samples - done)
            x = model.data.sample(n, generator).repeat_interleave(n_copies, dim=0).transpose(0, 1)
            total += big.loss(x, big(x), per_instance=True) * n
            done += n
    return (total / n_samples).view(model.n_instances, n_copies).cpu()


@_validate.arguments(model=_TOY, n_seeds=_validate.Int(1), n_eval=_validate.Int(1), **_TRAINING)
def train_best_of_seeds(
    model: ToyModel,
    n_seeds: int = 4,
    steps: int = 5_000,
    batch_size: int = 1_024,
    lr: float = 1e-3,
    *,
    schedule: str = "constant",
    warmup: int = 0,
    n_eval: int = 16_384,
    seed=None,
    generator=None,
    progress: bool = True,
) -> torch.Tensor:
    """Train `n_seeds` independently initialised copies of every instance, keep the one with the lowest loss.

    Gradient descent can get stuck in a worse arrangement; the paper trains several seeds and keeps the best.
    All copies train at once (as extra instances); the winner of each instance is chosen on `n_eval` fresh
    samples, the same for all its copies, and copied into `model`.

    Returns
    -------
    tensor of shape (steps, n_instances): the winners' loss histories.

    Examples
    --------
    >>> model = ToyModel(2, 1, n_instances=2, feature_probability=0.1, seed=0)
    >>> train_best_of_seeds(model, n_seeds=3, steps=50, lr=1e-2, seed=0, progress=False).shape
    torch.Size([50, 2])
    """
    gen = _validate.generator(seed, generator, device="cpu")
    device = model.W.device
    batch_gen = torch.Generator(device=device)
    batch_gen.manual_seed(int(torch.randint(0, 2**62, (1,), generator=gen)))
    big = _replicated(model, n_seeds, gen)
    history = train(big, steps, batch_size, lr, schedule=schedule, warmup=warmup, generator=batch_gen,
                    progress=progress)  # fmt: skip
    final = _copies_loss(big, model, n_seeds, n_eval, batch_gen)  # (instances, n_seeds)
    best = final.argmin(dim=1)  # (instances,)
    rows = torch.arange(model.n_instances)
    with torch.no_grad():
        for name, param in model.named_parameters():
            stacked = getattr(big, name).detach().view(model.n_instances, n_seeds, *param.shape[1:])
            param.copy_(stacked[rows.to(device), best.to(device)])
    return history.view(steps, model.n_instances, n_seeds)[:, rows, best]


@_validate.arguments(relative_importance=_validate.Tensor(nonnegative=True), density=_validate.Tensor())
def phase_losses_2in1(relative_importance, density) -> torch.Tensor:
    """Expected loss of the three candidate solutions for 2 features in 1 hidden dimension (ReLU output).

    Feature 0 has importance 1, feature 1 importance `relative_importance` = r; both are present with
    probability `density` = p and uniform on [0, 1] when present. The loss is the importance-weighted squared
    error summed over the two features (the model's loss times 2). Candidates, as in Elhage et al. 2022:

    - 0, **dropped**: ``W = [1, 0]``; feature 1 is replaced by its mean (its bias): ``r (p/3 − p²/4)``;
    - 1, **own dimension**: ``W = [0, 1]``; feature 0 is the one dropped: ``p/3 − p²/4``;
    - 2, **antipodal**: ``W = [1, −1]``, ``b = 0``; both exact unless both are present, when each loses
      ``min(x₀, x₁)``: ``(1 + r) p² E[min²] = (1 + r) p² / 6``.

    Returns
    -------
    tensor of shape broadcast(r, p) + (3,): the losses of (dropped, own dimension, antipodal).

    Examples
    --------
    >>> phase_losses_2in1(1.0, 1.0)  # dense: (1/3 − 1/4, 1/3 − 1/4, 2/6)
    tensor([0.0833, 0.0833, 0.3333])
    """
    r, p = relative_importance, density
    if ((p <= 0) | (p > 1)).any():
        raise ValueError("density must lie in (0, 1]")
    r, p = torch.broadcast_tensors(r, p)
    dropped_one = p / 3 - p**2 / 4  # E[(x − E x)²] for one feature
    return torch.stack([r * dropped_one, dropped_one, (1 + r) * p**2 / 6], dim=-1)
