"""Toy models of superposition (Elhage et al. 2022, "Toy Models of Superposition").

The model compresses `n_features` sparse features into `d_hidden < n_features` dimensions and back:

    h  = W x                 (d_hidden,)     W has the feature directions as its columns
    x' = ReLU(Wᵀ h + b)      (n_features,)

and is trained to minimise the importance-weighted squared error Σᵢ Iᵢ (xᵢ − x'ᵢ)². Each feature is zero
with probability 1 − `feature_probability`, else uniform on [0, 1]. `n_instances` independent models
(for example one per feature probability) are trained at once, side by side in one tensor.
"""

from __future__ import annotations

import torch
from tqdm.auto import tqdm

from . import _validate


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

    Attributes
    ----------
    W : Parameter of shape (n_instances, d_hidden, n_features); ``W[i, :, j]`` is feature j's direction.
    b : Parameter of shape (n_instances, n_features).

    Examples
    --------
    >>> model = ToyModel(5, 2, n_instances=3, feature_probability=torch.tensor([[1.0], [0.1], [0.01]]), seed=0)
    >>> model.W.shape, model.b.shape
    (torch.Size([3, 2, 5]), torch.Size([3, 5]))
    """

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
    ):
        super().__init__()
        self.n_features = _validate.positive_int("n_features", n_features)
        self.d_hidden = _validate.positive_int("d_hidden", d_hidden)
        self.n_instances = _validate.positive_int("n_instances", n_instances)
        if activation not in ("relu", "linear"):
            raise ValueError(f'activation must be "relu" or "linear", got {activation!r}')
        self.activation = activation
        dev = _validate.device(device)
        shape = (self.n_instances, self.n_features)
        self.register_buffer("feature_probability", _broadcast("feature_probability", feature_probability, shape))
        self.register_buffer("importance", _broadcast("importance", importance, shape))
        if ((self.feature_probability <= 0) | (self.feature_probability > 1)).any():
            raise ValueError("feature_probability must lie in (0, 1] for every instance and feature")
        if (self.importance < 0).any():
            raise ValueError("importance must be non-negative")
        gen = _validate.generator(seed, generator)
        # Xavier-normal initialisation, as in the paper's notebook: std = √(2 / (fan_in + fan_out)).
        std = (2 / (self.n_features + self.d_hidden)) ** 0.5
        shape_W = (self.n_instances, self.d_hidden, self.n_features)  # (instances, hidden, features)
        W = std * torch.randn(shape_W, generator=gen)
        self.W = torch.nn.Parameter(W)
        self.b = torch.nn.Parameter(torch.zeros(shape))
        self.to(dev)

    def generate_batch(self, n_batch: int, *, generator=None) -> torch.Tensor:
        """A batch of sparse features, shape (n_batch, n_instances, n_features).

        Each entry is zero with probability 1 − feature_probability, else uniform on [0, 1].
        """
        n_batch = _validate.positive_int("n_batch", n_batch)
        dev = self.W.device
        shape = (n_batch, self.n_instances, self.n_features)
        values = torch.rand(shape, generator=generator, device=dev)
        present = torch.rand(shape, generator=generator, device=dev) < self.feature_probability
        return values * present

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Reconstruct a batch: x of shape (batch, n_instances, n_features) → x' of the same shape."""
        self._check_batch("x", x)
        h = torch.einsum("bif,ihf->bih", x, self.W)  # (batch, instances, hidden)
        out = torch.einsum("bih,ihf->bif", h, self.W) + self.b  # (batch, instances, features)
        return torch.relu(out) if self.activation == "relu" else out

    def loss(self, x: torch.Tensor, x_hat: torch.Tensor, per_instance: bool = False) -> torch.Tensor:
        """Importance-weighted squared error, averaged over batch and features, summed over instances.

        With ``per_instance=True``, return the (n_instances,) losses instead of their sum.
        """
        self._check_batch("x", x)
        self._check_batch("x_hat", x_hat)
        per = (self.importance * (x - x_hat) ** 2).mean(dim=(0, 2))  # (instances,)
        return per if per_instance else per.sum()

    def _check_batch(self, name: str, x: torch.Tensor) -> None:
        if not isinstance(x, torch.Tensor) or x.ndim != 3 or tuple(x.shape[1:]) != (self.n_instances, self.n_features):
            shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
            raise ValueError(
                f"{name} must be a tensor of shape (batch, n_instances, n_features) = "
                f"(batch, {self.n_instances}, {self.n_features}), got {shape}; generate_batch makes one"
            )


def _broadcast(name: str, value, shape: tuple[int, int]) -> torch.Tensor:
    value = torch.as_tensor(value, dtype=torch.float32)
    try:
        return torch.broadcast_to(value, shape).clone()
    except RuntimeError as error:
        raise ValueError(
            f"{name} must be a number or broadcastable to (n_instances, n_features) = {shape}, "
            f"got shape {tuple(value.shape)}"
        ) from error


def train(
    model: ToyModel,
    steps: int = 5_000,
    batch_size: int = 1_024,
    lr: float = 1e-3,
    *,
    seed=None,
    generator=None,
    on_step=None,
    progress: bool = True,
) -> torch.Tensor:
    """Train every instance of `model` at once with Adam; return the per-instance loss history.

    Parameters
    ----------
    steps, batch_size, lr : training length, batch size and Adam's learning rate.
    seed, generator : source of randomness for the batches.
    on_step : callable ``on_step(step, model)``, optional
        Called after every step (for example to record snapshots of ``model.W``).
    progress : bool
        Show a tqdm progress bar.

    Returns
    -------
    tensor of shape (steps, n_instances): the loss of each instance at each step.
    """
    steps = _validate.positive_int("steps", steps)
    batch_size = _validate.positive_int("batch_size", batch_size)
    if not lr > 0:
        raise ValueError(f"lr must be a positive number, got {lr!r}")
    gen = _validate.generator(seed, generator, device=model.W.device)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    history = torch.empty(steps, model.n_instances)
    for step in tqdm(range(steps), desc="training", disable=not progress):
        x = model.generate_batch(batch_size, generator=gen)
        per_instance = model.loss(x, model(x), per_instance=True)
        optimizer.zero_grad(set_to_none=True)
        per_instance.sum().backward()
        optimizer.step()
        history[step] = per_instance.detach().cpu()
        if on_step is not None:
            on_step(step, model)
    return history
