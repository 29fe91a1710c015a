"""One training loop for every model in the library: data source, gradients, Adam, schedule, threads, progress.

`fit` trains any `torch.nn.Module` that can score a batch. A model supplies

- ``batch_loss(X)``: its per-instance training losses on a batch ``X`` (a tensor of shape ``(n_instances,)``,
  differentiable). That is all a new model needs: the engine takes the gradients through autograd.
- optionally ``batch_loss_and_grads(X)``: the same losses and the gradients of their sum, written out by hand,
  one per parameter in ``model.parameters()`` order. `fit` uses them when present (``gradients="auto"``); the
  tests check every one against autograd (``tests/test_engine.py``).

``X`` is whatever the data source returns: `fit` draws each batch as ``sample(batch_size, generator)``
(`superpose_lib.features` has the toy models' feature distributions; an SAE draws from a tensor or a callable).
The model's instances are independent models trained side by side, so their losses are summed: each
instance's parameters get the gradient of its own loss only.

What a model must do around an update goes in two hooks: ``before_update(grads)`` may edit the gradients in
place (the SAE projects its decoder's gradient onto the unit sphere's tangent space) and
``after_update(step, adam)`` may edit the parameters and the optimiser's state (the SAE renormalises its
decoder and resamples dead latents). ``on_step(step, model)`` is for the caller (snapshots, logging).

Why a step is fast (``benchmarks/bench_toy_models.py`` and ``benchmarks/bench_sae.py`` time the whole engine
against a straightforward autograd + ``torch.optim.Adam`` loop, the hand gradients against autograd inside the
engine, and the machine's floor for the same step; the other items below are not timed one by one):

- **hand-written gradients** where a model has them: a few batched matrix products and fused element-wise
  passes, no autograd graph to build and walk;
- **one fused Adam kernel** over every parameter (``torch._fused_adam_``, on the CPU from torch 2.4), the
  ``_foreach`` passes elsewhere, updating the parameters in place, no ``zero_grad``;
- **batch-sized buffers are reused** between steps (`scratch`, and the batch itself through
  `superpose_lib.features.training_sampler`, which also reads the probabilities once per run) instead of
  allocated every step: for 16 SAEs of 256 latents at batch 128 on one thread, with the SAE's three
  batch-sized intermediates and its decoder temporaries in `scratch` buffers, a step is 4 to 6% faster than
  the loop before the engine, which did the same arithmetic on fresh tensors (side by side on a loaded 2-core
  machine, load average 7 to 8: ``bench_sae.py``'s "before the engine" ratio);
- **the loss history stays on the device** until training ends: no synchronisation per step;
- **one thread for small work** (`threads_for`): below `ONE_THREAD_BELOW` multiply-adds per product; where it
  was measured (see the constant), a second thread saved 0 to 25% of a step on an idle machine and made it
  several times slower on a busy one.
"""

from __future__ import annotations

import math

import torch
from tqdm.auto import tqdm

from . import _validate
from .environment import cpu_threads

__all__ = ["fit", "Adam", "learning_rate", "threads_for", "scratch", "SCHEDULES", "ONE_THREAD_BELOW"]

SCHEDULES = ("constant", "cosine")
GRADIENTS = ("auto", "autograd", "hand")
# A training recipe's arguments, declared once for every loop that takes them (`fit`, `sae.train_sae`).
RECIPE = {"steps": _validate.Int(1), "batch_size": _validate.Int(1), "lr": _validate.Real(0, low_open=True),
          "schedule": _validate.Choice(*SCHEDULES), "warmup": _validate.Int(0)}  # fmt: skip

# Multiply-adds in a step's largest product below which training runs on one CPU thread. Measured on the
# 2-core machine the course is tested on (benchmarks/bench_toy_models.py --section threads): on an idle machine a
# second thread saves 0% at 10⁵ multiply-adds (toy model 20×5, batch 1024: 0.38 ms a step either way), 25% at
# 4·10⁶ (200×20: 2.2 → 1.7 ms) and 35 to 40% at 2·10⁸; on a busy one (load average 8) it makes a step 5 to 12 times
# slower (16 SAEs of 256 latents, batch 128: 12 ms a step on one thread, 80 to 160 ms on two). Workshops and
# notebooks share machines, so one thread until a step is large enough that a second one pays for itself clearly.
ONE_THREAD_BELOW = 2**26


@_validate.arguments(work=_validate.Int(0))
def threads_for(work: int) -> int:
    """CPU threads for a step whose largest product does `work` multiply-adds: 1 below `ONE_THREAD_BELOW`.

    Examples
    --------
    >>> threads_for(1_000)
    1
    """
    return 1 if work < ONE_THREAD_BELOW else torch.get_num_threads()


def scratch(owner, name: str, like: torch.Tensor) -> torch.Tensor:
    """A buffer shaped like `like`, kept on `owner` between training steps and reused while the shape, dtype and
    device stay the same: a fresh batch-sized tensor every step can cost the allocator more than the arithmetic
    that fills it. For a model's hand-written gradients; never return one (the next step overwrites it).

    Examples
    --------
    >>> class Owner: pass
    >>> owner, x = Owner(), torch.zeros(3, 4)
    >>> scratch(owner, "out", x) is scratch(owner, "out", x + 1), scratch(owner, "out", x).shape
    (True, torch.Size([3, 4]))
    """
    cache = owner.__dict__.setdefault("_scratch_buffers", {})
    buf = cache.get(name)
    if buf is None or buf.shape != like.shape or buf.dtype != like.dtype or buf.device != like.device:
        buf = cache[name] = torch.empty_like(like, memory_format=torch.contiguous_format)
    return buf


@_validate.arguments(
    step=_validate.Int(0),
    steps=_validate.Int(1),
    lr=_validate.Real(0, low_open=True),
    schedule=_validate.Choice(*SCHEDULES),
    warmup=_validate.Int(0),
)
def learning_rate(step: int, steps: int, lr: float, schedule: str = "constant", warmup: int = 0) -> float:
    """The learning rate at `step` (0-based) of `steps`: linear warm-up over `warmup` steps, then `schedule`.

    "constant" keeps `lr`; "cosine" decays it along half a cosine towards 2% of `lr` at the end.

    Examples
    --------
    >>> learning_rate(0, 100, 0.1, "cosine"), round(learning_rate(99, 100, 0.1, "cosine"), 4)
    (0.1, 0.002)
    >>> learning_rate(0, 100, 0.1, warmup=10)
    0.01
    """
    return _learning_rate(step, steps, lr, schedule, warmup)


def _learning_rate(step: int, steps: int, lr: float, schedule: str, warmup: int) -> float:  # checked by the caller
    if step < warmup:
        return lr * (step + 1) / warmup
    if schedule == "constant":
        return lr
    progress = (step - warmup) / max(1, steps - warmup)
    return lr * (0.02 + 0.98 * 0.5 * (1 + math.cos(math.pi * progress)))


@_validate.declare_init(
    params=_validate.Each(_validate.Instance(torch.Tensor)),
    betas=_validate.Each(_validate.Real(0, 1, high_open=True), length=2),
    eps=_validate.Real(0, low_open=True),
)
class Adam:
    """Adam (β = 0.9, 0.999, ε = 1e-8) updating tensors in place from given gradients.

    ``m ← β₁m + (1−β₁)g``, ``v ← β₂v + (1−β₂)g²``, ``p ← p − lr·m̂ / (√v̂ + ε)`` with the bias-corrected m̂, v̂
    (Kingma & Ba 2015). One fused kernel where torch has it for this device and dtype, else seven `_foreach`
    passes. ``exp_avg`` and ``exp_avg_sq`` (m and v, one tensor per parameter) may be edited between steps,
    for example to reset a resampled latent.

    Examples
    --------
    >>> p = torch.tensor([1.0, -1.0])
    >>> adam = Adam([p])
    >>> adam.step([torch.tensor([0.5, -2.0])], lr=0.1)
    >>> p  # the first step moves every coordinate by lr against its gradient's sign
    tensor([ 0.9000, -0.9000])
    """

    def __init__(self, params: list[torch.Tensor], betas=(0.9, 0.999), eps=1e-8):
        if not all(p.is_floating_point() for p in params):
            raise ValueError("params must be a list of floating-point tensors (the parameters to update in place)")
        self.params, self.betas, self.eps = list(params), tuple(betas), eps
        self.exp_avg = [torch.zeros_like(p) for p in self.params]
        self.exp_avg_sq = [torch.zeros_like(p) for p in self.params]
        self.t = 0
        step = torch.zeros((), dtype=torch.float32, device=self.params[0].device)
        self._steps = [step] * len(self.params)  # one counter, shared (the fused kernel only reads it)
        self._fused = hasattr(torch, "_fused_adam_")

    @_validate.arguments(grads=_validate.Each(_validate.Tensor(convert=False)), lr=_validate.Real(0, low_open=True))
    def step(self, grads: list[torch.Tensor], lr: float) -> None:
        """One update of every parameter from its gradient (same order as the parameters)."""
        if len(grads) != len(self.params):
            raise ValueError(f"grads must hold one gradient per parameter ({len(self.params)}), got {len(grads)}")
        for i, (p, g) in enumerate(zip(self.params, grads)):
            if not isinstance(g, torch.Tensor) or g.shape != p.shape or g.dtype != p.dtype or g.device != p.device:
                got = f"{tuple(g.shape)} {g.dtype}" if isinstance(g, torch.Tensor) else type(g).__name__
                raise ValueError(f"grads[{i}] must be a tensor like its parameter, {tuple(p.shape)} {p.dtype} on "
                                 f"{p.device}; got {got}")  # fmt: skip
        self._step(grads, lr)

    def _step(self, grads: list[torch.Tensor], lr: float) -> None:  # `step` without its checks (the engine's)
        self.t += 1
        beta1, beta2 = self.betas
        if self._fused:
            # the fused kernel walks parameter and gradient memory in step: a gradient laid out differently
            # (autograd returns some transposed) is copied into its parameter's layout first
            grads = [g if g.stride() == p.stride() else torch.empty_like(p).copy_(g)
                     for p, g in zip(self.params, grads)]  # fmt: skip
            self._steps[0].fill_(self.t)
            try:
                torch._fused_adam_(self.params, grads, self.exp_avg, self.exp_avg_sq, [], self._steps, lr=lr,
                                   beta1=beta1, beta2=beta2, weight_decay=0.0, eps=self.eps, amsgrad=False,
                                   maximize=False)  # fmt: skip
                return
            except (RuntimeError, NotImplementedError):  # no fused kernel for this device or dtype in this torch
                self._fused = False
        bias1, bias2 = 1 - beta1**self.t, 1 - beta2**self.t
        torch._foreach_lerp_(self.exp_avg, grads, 1 - beta1)
        torch._foreach_mul_(self.exp_avg_sq, beta2)
        torch._foreach_addcmul_(self.exp_avg_sq, grads, grads, 1 - beta2)
        denom = torch._foreach_sqrt(self.exp_avg_sq)
        torch._foreach_div_(denom, math.sqrt(bias2))
        torch._foreach_add_(denom, self.eps)
        torch._foreach_addcdiv_(self.params, self.exp_avg, denom, -lr / bias1)


@_validate.arguments(
    model=_validate.Instance(torch.nn.Module),
    sample=_validate.Function(),
    **RECIPE,
    generator=_validate.Optional(_validate.Generator()),
    gradients=_validate.Choice(*GRADIENTS),
    before_update=_validate.Optional(_validate.Function()),
    after_update=_validate.Optional(_validate.Function()),
    on_step=_validate.Optional(_validate.Function()),
    progress=_validate.Flag(),
    threads=_validate.Optional(_validate.Int(1)),
    desc=_validate.Text(),
)
def fit(
    model: torch.nn.Module,
    sample,
    steps: int,
    batch_size: int,
    lr: float,
    *,
    schedule: str = "constant",
    warmup: int = 0,
    generator: torch.Generator | None = None,
    gradients: str = "auto",
    before_update=None,
    after_update=None,
    on_step=None,
    progress: bool = True,
    threads: int | None = None,
    desc: str = "training",
) -> torch.Tensor:
    """Train `model` with Adam on batches ``sample(batch_size, generator)``; return the loss history.

    Parameters
    ----------
    model : torch.nn.Module with ``batch_loss(X)`` (and optionally ``batch_loss_and_grads(X)``; see the module)
        returning one loss per instance, shape (n_instances,). A parameter with ``requires_grad`` False is frozen:
        it gets a zero gradient and keeps its value.
    sample : callable ``(n, generator) -> X``
    steps, batch_size, lr : training length, batch size and Adam's (peak) learning rate.
    schedule, warmup : see `learning_rate`.
    generator : torch.Generator for the batches, on the model's device (a ValueError otherwise).
    gradients : "auto" (hand-written when the model has them, else autograd), "autograd" or "hand".
    before_update : callable ``(grads) -> None``, optional; may edit the gradients in place.
    after_update : callable ``(step, adam) -> None``, optional; runs after each update.
    on_step : callable ``(step, model) -> None``, optional; runs last in each step.
    progress : show a tqdm progress bar labelled `desc`.
    threads : CPU threads (restored afterwards); default `threads_for` the step's largest product, estimated as
        ``batch_size`` times the largest parameter's size (a model's products are batch × parameter).

    Returns
    -------
    tensor of shape (steps, n_instances) on the CPU: each instance's loss on that step's batch, before the
    update. A RuntimeWarning names the instances whose loss stopped being finite (training diverged).

    Examples
    --------
    A model that only defines its loss, trained through autograd:

    >>> class Mean(torch.nn.Module):
    ...     def __init__(self):
    ...         super().__init__()
    ...         self.mu = torch.nn.Parameter(torch.zeros(1))
    ...     def batch_loss(self, X):
    ...         return ((X - self.mu) ** 2).mean().reshape(1)
    >>> model = Mean()
    >>> history = fit(model, lambda n, g: 3 + torch.randn(n, generator=g), 300, 64, 0.1,
    ...               generator=torch.Generator().manual_seed(0), progress=False)
    >>> history.shape, round(model.mu.item())
    (torch.Size([300, 1]), 3)
    """
    has_hand = hasattr(model, "batch_loss_and_grads")
    if gradients == "hand" and not has_hand:
        raise ValueError(f'gradients="hand" needs a model with batch_loss_and_grads; {type(model).__name__} has none')
    if not has_hand and not hasattr(model, "batch_loss"):
        raise ValueError(f"model must define batch_loss(X) (see superpose_lib.engine); {type(model).__name__} does not")
    hand = has_hand and gradients != "autograd"
    params = list(model.parameters())
    trained = [p for p in params if p.requires_grad]  # requires_grad_(False) freezes a parameter: zero gradient
    if not trained:
        raise ValueError(f"model must have parameters to train; {type(model).__name__} has none that require grad")
    if threads is None:
        threads = threads_for(batch_size * max(p.numel() for p in params))
    device = params[0].device
    if generator is not None and torch.device(generator.device).type != device.type:
        raise ValueError(f"generator must be on the model's device ({device.type}), got one on {generator.device}")
    adam = Adam([p.data for p in params])
    history = None
    with cpu_threads(threads, device), torch.no_grad():
        for step in tqdm(range(steps), desc=desc, disable=not progress):
            try:
                X = sample(batch_size, generator)
            except (MemoryError, RuntimeError) as error:
                if "alloc" not in str(error) and not isinstance(error, MemoryError):
                    raise
                raise ValueError(f"batch_size = {batch_size} is too large: the batch does not fit in memory") from error
            if hand:
                loss, grads = model.batch_loss_and_grads(X)
                if len(trained) < len(params):
                    grads = [g if p.requires_grad else torch.zeros_like(p) for p, g in zip(params, grads)]
            else:
                with torch.enable_grad():
                    loss = model.batch_loss(X)
                    if step == 0 and not loss.requires_grad:
                        raise ValueError(f"{type(model).__name__}.batch_loss(X) does not depend on the model's "
                                         "parameters: nothing to train")  # fmt: skip
                    found = iter(torch.autograd.grad(loss.sum(), trained, allow_unused=True))
                grads = [next(found) if p.requires_grad else None for p in params]
                grads = [torch.zeros_like(p) if g is None else g for p, g in zip(params, grads)]
                loss = loss.detach()
            if history is None:
                _check_loss(model, loss)
                history = torch.empty(steps, loss.numel(), device=loss.device)
            history[step] = loss
            if before_update is not None:
                before_update(grads)
            adam._step(grads, _learning_rate(step, steps, lr, schedule, warmup))
            if after_update is not None:
                after_update(step, adam)
            if on_step is not None:
                on_step(step, model)
    history = history.cpu()
    diverged = ~torch.isfinite(history)
    if diverged.any():  # checked once at the end: a check per step would wait for the device every step
        instances = diverged.any(dim=0).nonzero().flatten().tolist()
        first = int(diverged.any(dim=1).nonzero()[0])
        raise ValueError(f"training diverged: the loss of instance(s) {instances} is not finite from step {first} on; "
                         f"pass a smaller lr than {lr:g}, or check the data")  # fmt: skip
    return history


def _check_loss(model, loss) -> None:
    """A ValueError unless `loss` (a first step's) is one number per instance: shape (n_instances,)."""
    n_instances = getattr(model, "n_instances", None)
    ok = isinstance(loss, torch.Tensor) and loss.ndim == 1 and n_instances in (None, loss.shape[0])
    if not ok:
        shape = tuple(loss.shape) if isinstance(loss, torch.Tensor) else type(loss).__name__
        wanted = "(n_instances,)" if n_instances is None else f"(n_instances,) = ({n_instances},)"
        raise ValueError(f"{type(model).__name__}.batch_loss(X) must return one loss per instance, shape {wanted}, "
                         f"got {shape}")  # fmt: skip
