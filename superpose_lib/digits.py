"""A small MLP on scikit-learn's handwritten digits, and the tools to ask whether its neurons are special.

The network (chapters 02 and 03) is

    h      = act(W₁ x + b₁)        (d_hidden,)    act is ReLU or the identity
    logits = W₂ h + b₂             (n_classes,)

with x the 64 pixels of an 8 × 8 image scaled to [0, 1]. Rotating the hidden layer by an orthogonal R
(``W₁ → R W₁``, ``b₁ → R b₁``, ``W₂ → W₂ Rᵀ``) leaves the function unchanged exactly when act commutes with
R, which the identity does and ReLU does not: that is what makes ReLU's neuron basis *privileged*.

The data are bundled with scikit-learn (no download). Training uses plain SGD with momentum, whose updates
are rotation-equivariant, so the activation is the only thing that can single out the neuron basis.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import torch
from tqdm.auto import tqdm

from . import _validate, engine
from .environment import cpu_threads
from .geometry import random_rotation

ACTIVATIONS = ("relu", "identity")


@dataclass(frozen=True)
class DigitsSplit:
    """A seeded train/test split of the digits: images flattened to 64 pixels in [0, 1], labels 0–9.

    Attributes
    ----------
    X_train, X_test : float32 tensors of shape (n_train, 64) and (n_test, 64)
    y_train, y_test : int64 tensors of shape (n_train,) and (n_test,)
    """

    X_train: torch.Tensor
    y_train: torch.Tensor
    X_test: torch.Tensor
    y_test: torch.Tensor

    def __repr__(self) -> str:
        return f"DigitsSplit({len(self.y_train)} train, {len(self.y_test)} test images of 8 × 8 pixels)"


@_validate.arguments(test_fraction=_validate.Real(0, 1, low_open=True, high_open=True), **_validate.RANDOMNESS)
def load_digits_split(test_fraction: float = 0.25, *, seed=0, generator=None) -> DigitsSplit:
    """scikit-learn's 1,797 handwritten digits, shuffled with `seed` and split into train and test.

    Parameters
    ----------
    test_fraction : float in (0, 1)
        Share of the images held out for testing.
    seed, generator : int or torch.Generator, optional
        Source of randomness for the shuffle (seed 0 by default, so the split is the same everywhere).

    Examples
    --------
    >>> data = load_digits_split(seed=0)
    >>> data.X_train.shape, data.X_test.shape, float(data.X_train.max())
    (torch.Size([1348, 64]), torch.Size([449, 64]), 1.0)
    """
    from sklearn.datasets import load_digits

    gen = _validate.generator(None if generator is not None else seed, generator)
    digits = load_digits()
    X = torch.tensor(digits.data, dtype=torch.float32) / 16.0  # (1797, 64); pixel values are 0..16
    y = torch.tensor(digits.target, dtype=torch.int64)  # (1797,)
    order = torch.randperm(len(y), generator=gen)
    n_test = round(test_fraction * len(y))
    test, train = order[:n_test], order[n_test:]
    return DigitsSplit(X[train], y[train], X[test], y[test])


# Images passed to a model's method: real and finite, not converted; their shape and dtype against the model's
# are checked in the method (`DigitsMLP._check_input`, whose message gives the sizes to pass)
_IMAGES = _validate.Tensor(convert=False)


@_validate.declare_init(
    d_in=_validate.Int(1),
    d_hidden=_validate.Int(1),
    n_classes=_validate.Int(1),
    activation=_validate.Choice(*ACTIVATIONS),
    device=_validate.Device(),
    **_validate.RANDOMNESS,
)
class DigitsMLP(torch.nn.Module):
    """The two-layer network ``logits = W₂ act(W₁ x + b₁) + b₂``.

    Parameters
    ----------
    d_in, d_hidden, n_classes : int
        Sizes of the input (64 pixels), the hidden layer and the output (10 digits).
    activation : "relu" or "identity"
        The hidden non-linearity; "identity" makes the whole network linear (the control).
    seed, generator : optional
        Source of randomness for the initial weights (i.i.d. Gaussian, so no direction is preferred).
    device : optional
        CPU by default.

    Attributes
    ----------
    W1 : Parameter of shape (d_hidden, d_in); row i is neuron i's input weights.
    b1 : Parameter of shape (d_hidden,)
    W2 : Parameter of shape (n_classes, d_hidden); column i is how neuron i votes for each class.
    b2 : Parameter of shape (n_classes,)

    Examples
    --------
    >>> model = DigitsMLP(d_hidden=32, seed=0)
    >>> model(torch.zeros(5, 64)).shape
    torch.Size([5, 10])
    """

    def __init__(
        self,
        d_in: int = 64,
        d_hidden: int = 32,
        n_classes: int = 10,
        activation: str = "relu",
        *,
        seed=None,
        generator=None,
        device=None,
    ):
        super().__init__()
        self.d_in, self.d_hidden, self.n_classes = d_in, d_hidden, n_classes
        self.activation = activation
        _validate.fits_in_memory("d_in, d_hidden and n_classes", 4 * 4 * self.d_hidden * (self.d_in + self.n_classes),
                                 hint="pass smaller sizes")  # fmt: skip
        gen = _validate.generator(seed, generator)
        # He-style scale for the first layer, 1/√fan_in for the second; Gaussian, hence rotation-invariant.
        W1 = torch.randn(self.d_hidden, self.d_in, generator=gen) * (2 / self.d_in) ** 0.5
        W2 = torch.randn(self.n_classes, self.d_hidden, generator=gen) * (1 / self.d_hidden) ** 0.5
        self.W1 = torch.nn.Parameter(W1)
        self.b1 = torch.nn.Parameter(torch.zeros(self.d_hidden))
        self.W2 = torch.nn.Parameter(W2)
        self.b2 = torch.nn.Parameter(torch.zeros(self.n_classes))
        self.to(device)

    @_validate.arguments(x=_IMAGES)
    def pre_activations(self, x: torch.Tensor) -> torch.Tensor:
        """The hidden layer before its non-linearity, ``W₁ x + b₁``: x of shape (batch, d_in) → (batch, d_hidden)."""
        self._check_input(x)
        return self._pre_activations(x)

    @_validate.arguments(x=_IMAGES)
    def hidden(self, x: torch.Tensor) -> torch.Tensor:
        """Hidden activations ``act(W₁ x + b₁)``: x of shape (batch, d_in) → (batch, d_hidden)."""
        self._check_input(x)
        return self._hidden(x)

    @_validate.arguments(x=_IMAGES)
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits of shape (batch, n_classes) for images x of shape (batch, d_in)."""
        self._check_input(x)
        return self._logits(x)

    # the layers without the door checks (the training loop calls these)
    def _pre_activations(self, x: torch.Tensor) -> torch.Tensor:
        return x @ self.W1.T + self.b1

    def _hidden(self, x: torch.Tensor) -> torch.Tensor:
        pre = self._pre_activations(x)  # (batch, d_hidden)
        return torch.relu(pre) if self.activation == "relu" else pre

    def _logits(self, x: torch.Tensor) -> torch.Tensor:
        return self._hidden(x) @ self.W2.T + self.b2

    @_validate.arguments(X=_validate.Tensor(ndim=2), y=_validate.Tensor(ndim=1, integer=True))
    @torch.no_grad()
    def accuracy(self, X: torch.Tensor, y: torch.Tensor) -> float:
        """Share of the images in X (n, d_in) whose largest logit is the label in y (n,)."""
        X = _images(self, X)
        y = _labels("y", y, X.shape[0], rows="X")
        return (self(X).argmax(dim=1) == y.to(X.device)).float().mean().item()

    def _check_input(self, x) -> None:
        if not isinstance(x, torch.Tensor) or x.ndim != 2 or x.shape[1] != self.d_in:
            shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
            raise ValueError(f"x must be a tensor of shape (batch, d_in) = (batch, {self.d_in}), got {shape}")
        if x.dtype != self.W1.dtype:  # torch's own error ("expected m1 and m2 to have the same dtype") is deep
            raise ValueError(
                f"x must hold the model's dtype {self.W1.dtype}, got {x.dtype}; pass x.to({self.W1.dtype})"
            )

    def extra_repr(self) -> str:
        return f"{self.d_in} → {self.d_hidden} ({self.activation}) → {self.n_classes}"


_MODEL = _validate.Instance(DigitsMLP)
_ACTIVATIONS = _validate.Tensor(ndim=2)  # (n, d): one row per example
_LABELS = _validate.Tensor(ndim=1, integer=True)


@_validate.arguments(
    model=_MODEL,
    X=_validate.Tensor(ndim=2, nonempty=True),
    y=_LABELS,
    epochs=_validate.Int(1),
    batch_size=_validate.Int(1),
    lr=_validate.Real(0, 1e3, low_open=True),
    momentum=_validate.Real(0, 1, high_open=True),
    progress=_validate.Flag(),
    **_validate.RANDOMNESS,
)
def train(
    model: DigitsMLP,
    X: torch.Tensor,
    y: torch.Tensor,
    epochs: int = 40,
    batch_size: int = 128,
    lr: float = 0.1,
    momentum: float = 0.9,
    *,
    seed=None,
    generator=None,
    progress: bool = True,
) -> torch.Tensor:
    """Fit `model` to images X (n, d_in) and labels y (n,) by SGD with momentum on the cross-entropy.

    SGD's update is rotation-equivariant (rotating the hidden layer before a step and after it commute), unlike
    Adam's per-coordinate step sizes, so with an identity activation nothing prefers the neuron basis. That is
    why this loop is not `superpose_lib.engine.fit`, whose optimiser is Adam: chapter 02's argument rests on it.

    Parameters
    ----------
    epochs, batch_size, lr, momentum : passes over the data, minibatch size, step size, momentum.
    seed, generator : source of randomness for the minibatch order.
    progress : bool
        Show a tqdm progress bar (one tick per epoch).

    Returns
    -------
    tensor of shape (epochs,): the mean training loss of each epoch.

    Examples
    --------
    >>> data = load_digits_split(seed=0)
    >>> model = DigitsMLP(seed=0)
    >>> losses = train(model, data.X_train, data.y_train, epochs=3, seed=0, progress=False)
    >>> losses.shape, bool(losses[-1] < losses[0])
    (torch.Size([3]), True)
    """
    X = _images(model, X)
    y = _labels("y", y, X.shape[0], model.n_classes, rows="X")
    gen = _validate.generator(seed, generator)
    device = model.W1.device
    X, y = X.to(device), y.to(device)
    optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=momentum)
    history = torch.empty(epochs)
    with cpu_threads(engine.threads_for(batch_size * model.W1.numel()), device):
        for epoch in tqdm(range(epochs), desc="training", disable=not progress):
            order = torch.randperm(len(y), generator=gen).to(device)
            total = 0.0
            for start in range(0, len(y), batch_size):
                batch = order[start : start + batch_size]
                loss = torch.nn.functional.cross_entropy(model._logits(X[batch]), y[batch])
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                total += loss.item() * len(batch)
            history[epoch] = total / len(y)
    if not _validate.finite_tensor(history):
        raise ValueError(f"training diverged: the loss became NaN or inf (lr = {lr:g}); pass a smaller lr or check X")
    return history


@_validate.arguments(
    data=_validate.Optional(_validate.Instance(DigitsSplit)),
    activation=_validate.Choice(*ACTIVATIONS),
    d_hidden=_validate.Int(1),
    epochs=_validate.Int(1),
    seed=_validate.Optional(_validate.Int(0)),
    progress=_validate.Flag(),
    device=_validate.Device(),
)
def train_digits_mlp(
    data: DigitsSplit | None = None,
    activation: str = "relu",
    d_hidden: int = 32,
    epochs: int = 40,
    *,
    seed=0,
    progress: bool = True,
    device=None,
) -> DigitsMLP:
    """Build and train the chapter's MLP in one call (a couple of seconds on a CPU).

    Parameters
    ----------
    data : DigitsSplit, optional
        The images to train on (``load_digits_split(seed=seed)`` when None).
    activation, d_hidden : the hidden layer's non-linearity and width.
    epochs : passes over the training images.
    seed : int
        Seeds both the initial weights and the minibatch order.

    Examples
    --------
    >>> data = load_digits_split(seed=0)
    >>> model = train_digits_mlp(data, epochs=5, seed=0, progress=False)
    >>> model.accuracy(data.X_test, data.y_test) > 0.8
    True
    """
    data = load_digits_split(seed=seed) if data is None else data
    model = DigitsMLP(data.X_train.shape[1], d_hidden, 10, activation, seed=seed, device=device)
    train(model, data.X_train, data.y_train, epochs=epochs, seed=seed, progress=progress)
    return model


@_validate.arguments(model=_MODEL, R=_validate.Tensor(ndim=2))
def rotate_hidden(model: DigitsMLP, R) -> DigitsMLP:
    """A copy of `model` whose hidden layer is rotated by the orthogonal (d_hidden, d_hidden) matrix R.

    ``W₁ → R W₁``, ``b₁ → R b₁``, ``W₂ → W₂ Rᵀ``: the new pre-activations are R times the old ones and the
    second layer undoes R (RᵀR = I). With an identity activation the logits are unchanged; with ReLU they are
    not, because ReLU(R z) ≠ R ReLU(z).

    Examples
    --------
    >>> model = DigitsMLP(d_hidden=4, activation="identity", seed=0)
    >>> rotated = rotate_hidden(model, random_rotation(4, seed=1))
    >>> x = torch.rand(3, 64)
    >>> torch.allclose(rotated(x), model(x), atol=1e-5)
    True
    """
    n = model.d_hidden
    if tuple(R.shape) != (n, n):
        raise ValueError(f"R must have shape (d_hidden, d_hidden) = ({n}, {n}), got {tuple(R.shape)}")
    identity = torch.eye(n, dtype=torch.float64)
    if not torch.allclose(R.double().cpu() @ R.double().cpu().T, identity, atol=1e-4):
        raise ValueError("R must be orthogonal (R Rᵀ = I), e.g. geometry.random_rotation(d_hidden)")
    rotated = copy.deepcopy(model)
    R = R.to(device=model.W1.device, dtype=model.W1.dtype)
    with torch.no_grad():
        rotated.W1.copy_(R @ model.W1)  # (d_hidden, d_in)
        rotated.b1.copy_(R @ model.b1)  # (d_hidden,)
        rotated.W2.copy_(model.W2 @ R.T)  # (n_classes, d_hidden)
    return rotated


@_validate.arguments(n=_validate.Int(2), i=_validate.Int(0), j=_validate.Int(0), angle=_validate.Real())
def plane_rotation(n: int, i: int, j: int, angle: float) -> torch.Tensor:
    """The (n, n) rotation by `angle` radians in the plane of axes i and j, leaving every other axis fixed.

    Examples
    --------
    >>> import math
    >>> plane_rotation(3, 0, 1, math.pi / 2).round().tolist()
    [[0.0, -1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]]
    """
    _validate.fits_in_memory("n", 3 * 8 * n * n)
    for name, axis in (("i", i), ("j", j)):
        if axis >= n:
            raise ValueError(f"{name} must be an axis below n = {n}, got {axis}")
    if i == j:
        raise ValueError(f"i and j must be two different axes, got i = j = {i}")
    angle = torch.tensor(float(angle), dtype=torch.float64)
    R = torch.eye(n, dtype=torch.float64)
    R[i, i], R[i, j] = angle.cos(), -angle.sin()
    R[j, i], R[j, j] = angle.sin(), angle.cos()
    return R.float()


@_validate.arguments(model=_MODEL, X=_validate.Tensor(ndim=2), pre_activation=_validate.Flag())
@torch.no_grad()
def hidden_activations(model: DigitsMLP, X: torch.Tensor, *, pre_activation: bool = False) -> torch.Tensor:
    """The hidden layer's activations for images X (n, d_in), as a (n, d_hidden) tensor without gradients.

    With ``pre_activation=True``, the values before the non-linearity, ``W₁ x + b₁`` (for the identity
    network the two are the same).
    """
    X = _images(model, X)
    return model.pre_activations(X) if pre_activation else model.hidden(X)


@_validate.arguments(activations=_ACTIVATIONS, labels=_LABELS, n_classes=_validate.Int(1))
def class_means(activations, labels, n_classes: int = 10) -> torch.Tensor:
    """Each neuron's mean activation on each class: (n, d_hidden) and labels (n,) → (n_classes, d_hidden).

    Examples
    --------
    >>> class_means(torch.tensor([[1.0], [3.0], [10.0]]), torch.tensor([0, 0, 1]), n_classes=2)
    tensor([[ 2.],
            [10.]])
    """
    labels = _labels("labels", labels, activations.shape[0])
    _validate.fits_in_memory("n_classes", 4 * 8 * n_classes * activations.shape[1])
    if labels.numel() == 0:
        raise ValueError("labels must hold at least one label (and activations one row)")
    if labels.min() < 0 or labels.max() >= n_classes:
        raise ValueError(
            f"labels must lie in 0..n_classes − 1 = 0..{n_classes - 1}, got {labels.min()} to {labels.max()}"
        )
    counts = torch.bincount(labels, minlength=n_classes).to(activations.dtype)  # (n_classes,)
    if (counts == 0).any():
        raise ValueError(
            "every class needs at least one example in labels; pass n_classes equal to the number of classes"
        )
    sums = torch.zeros(n_classes, activations.shape[1], dtype=activations.dtype, device=activations.device)
    sums.index_add_(0, labels.to(activations.device), activations)
    return sums / counts.to(activations.device)[:, None]


@_validate.arguments(activations=_ACTIVATIONS, labels=_LABELS, n_classes=_validate.Int(1))
def class_selectivity(activations, labels, n_classes: int = 10) -> torch.Tensor:
    """Per-neuron class selectivity ``(μ_max − μ_rest) / (μ_max + μ_rest)`` (Morcos et al. 2018).

    μ_max is the neuron's largest class-mean activation and μ_rest the average of its other class means.
    For non-negative (ReLU) activations it lies in [0, 1]: 0 when every class drives the neuron equally, 1 when
    only one class does. A neuron that never fires gets 0.

    Parameters
    ----------
    activations : tensor of shape (n, d_hidden), labels : tensor of shape (n,) with values in 0..n_classes−1

    Returns
    -------
    tensor of shape (d_hidden,)

    Examples
    --------
    >>> acts = torch.tensor([[1.0, 2.0], [0.0, 2.0], [0.0, 2.0]])
    >>> class_selectivity(acts, torch.tensor([0, 1, 2]), n_classes=3)
    tensor([1., 0.])
    """
    means = class_means(activations, labels, n_classes)  # (n_classes, d_hidden)
    top = means.max(dim=0).values  # (d_hidden,)
    rest = (means.sum(dim=0) - top) / (means.shape[0] - 1)
    denominator = top + rest
    return torch.where(denominator != 0, (top - rest) / torch.where(denominator != 0, denominator, 1.0), 0.0)


@_validate.arguments(activations=_ACTIVATIONS, k=_validate.Int(1))
def top_activating(activations, k: int = 10) -> torch.Tensor:
    """The indices of each neuron's `k` most strongly activating examples, strongest first.

    Parameters
    ----------
    activations : tensor of shape (n, d_hidden)
    k : int, at most n

    Returns
    -------
    int64 tensor of shape (d_hidden, k): row i lists the examples that drive neuron i hardest.

    Examples
    --------
    >>> top_activating(torch.tensor([[0.0, 5.0], [3.0, 1.0], [2.0, 4.0]]), k=2)
    tensor([[1, 2],
            [0, 2]])
    """
    if k > activations.shape[0]:
        raise ValueError(
            f"k must be at most the number of examples (rows of activations: {activations.shape[0]}), got {k}"
        )
    return torch.topk(activations.T, k, dim=1).indices


@_validate.arguments(activations=_ACTIVATIONS, basis=_validate.Optional(_validate.Tensor(ndim=2)))
def basis_kurtosis(activations, basis=None) -> torch.Tensor:
    """Pearson kurtosis of the activations along each direction of a basis.

    Parameters
    ----------
    activations : tensor of shape (n, d)
    basis : tensor of shape (d, d) whose **columns** are the directions, optional
        The neuron basis (the identity) when None.

    Returns
    -------
    tensor of shape (d,); NaN for a direction along which the activations are constant (a dead neuron).

    Examples
    --------
    >>> x = torch.randn(20_000, 3, generator=torch.Generator().manual_seed(0))
    >>> [round(value, 1) for value in basis_kurtosis(x).tolist()]
    [3.0, 3.0, 3.0]
    """
    from .metrics import kurtosis

    activations = _samples(activations)
    if basis is None:
        return kurtosis(activations, dim=0)
    basis = basis.to(activations)
    if basis.shape[0] != activations.shape[1]:
        raise ValueError(
            f"basis must have one row per activation dimension ({activations.shape[1]}), got shape {tuple(basis.shape)}"
        )
    return kurtosis(activations @ basis, dim=0)


@_validate.arguments(
    activations=_ACTIVATIONS, n_rotations=_validate.Int(1), progress=_validate.Flag(), **_validate.RANDOMNESS
)
def random_basis_kurtosis(
    activations, n_rotations: int = 200, *, seed=None, generator=None, progress: bool = False
) -> torch.Tensor:
    """Mean kurtosis along the directions of `n_rotations` Haar-random bases: the null for "is the neuron
    basis special?".

    Returns
    -------
    tensor of shape (n_rotations,): for each random basis R, the mean over its d directions of the kurtosis of
    ``activations @ R``. Compare it with ``basis_kurtosis(activations).nanmean()`` for the neuron basis; NaN
    when the activations are constant along every direction. ``progress=True`` shows a tqdm bar over the
    rotations (for a wide layer or many rotations).

    Examples
    --------
    >>> x = torch.randn(5_000, 4, generator=torch.Generator().manual_seed(0))
    >>> random_basis_kurtosis(x, 10, seed=0).shape
    torch.Size([10])
    """
    activations = _samples(activations)
    gen = _validate.generator(seed, generator)
    d = activations.shape[1]
    rotations = tqdm(range(n_rotations), desc="random bases", disable=not progress)
    stats = [basis_kurtosis(activations, random_rotation(d, generator=gen)).nanmean() for _ in rotations]
    return torch.stack(stats)


@_validate.arguments(
    n_samples=_validate.Int(2), n_dims=_validate.Int(1), n_draws=_validate.Int(1), **_validate.RANDOMNESS
)
def gaussian_kurtosis_null(
    n_samples: int, n_dims: int = 1, n_draws: int = 1_000, *, seed=None, generator=None
) -> torch.Tensor:
    """The finite-sample null: the mean kurtosis of `n_dims` Gaussian columns of `n_samples` draws, simulated.

    A Gaussian's kurtosis is 3, but a sample's is biased low and noisy: its expectation is
    3 (n − 1) / (n + 1) (Joanes and Gill, 1998). Use this to judge whether a measured value is really above 3.

    Returns
    -------
    tensor of shape (n_draws,)

    Examples
    --------
    >>> null = gaussian_kurtosis_null(50, n_draws=4_000, seed=0)
    >>> round(null.mean().item(), 1), round(3 * 49 / 51, 1)
    (2.9, 2.9)
    """
    _validate.fits_in_memory("n_samples, n_dims and n_draws", 4 * 4 * n_draws * n_samples * n_dims,
                             hint="pass smaller sizes")  # fmt: skip
    from .metrics import kurtosis

    gen = _validate.generator(seed, generator)
    samples = torch.randn(n_draws, n_samples, n_dims, generator=gen)  # (draws, samples, dims)
    return kurtosis(samples, dim=1).mean(dim=1)


@_validate.arguments(
    activations=_ACTIVATIONS,
    targets=_validate.Tensor(ndim=1),
    l2=_validate.Real(0, 1e6),
    steps=_validate.Int(1),
    progress=_validate.Flag(),
)
def fit_linear_probe(activations, targets, *, l2: float = 1e-3, steps: int = 500, progress: bool = False):
    """Logistic regression ``P(target | h) = σ(w·h + b)`` fitted by full-batch L-BFGS from zero (deterministic).

    Parameters
    ----------
    activations : tensor of shape (n, d)
    targets : tensor of shape (n,) of 0/1 (or booleans)
    l2 : weight of the ``½ l2 ‖w‖²`` penalty that keeps w finite on separable data.
    steps : the most L-BFGS iterations.
    progress : show a tqdm bar over the loss evaluations (at most 1.25 × steps; for a large probe; it can be
        interrupted).

    Returns
    -------
    (w, b): the probe direction, shape (d,), and its bias (a 0-d tensor). ``h @ w + b > 0`` predicts 1.

    Examples
    --------
    >>> h = torch.tensor([[0.0, 1.0], [0.0, 2.0], [1.0, 0.0], [2.0, 0.0]])
    >>> w, b = fit_linear_probe(h, torch.tensor([1, 1, 0, 0]))
    >>> ((h @ w + b > 0).long() == torch.tensor([1, 1, 0, 0])).all().item()
    True
    """
    targets = targets.to(activations)
    if targets.shape[0] != activations.shape[0]:
        raise ValueError(
            f"targets must have one entry per row of activations ({activations.shape[0]}), got {targets.shape[0]}"
        )
    if not ((targets == 0) | (targets == 1)).all():
        raise ValueError("targets must hold only 0 and 1 (or False and True)")
    w = torch.zeros(activations.shape[1], dtype=activations.dtype, requires_grad=True)
    b = torch.zeros((), dtype=activations.dtype, requires_grad=True)
    # The penalised loss is strictly convex, so L-BFGS from zero finds its unique minimum (no randomness). This is
    # not superpose_lib.engine's job: a full-batch second-order solve converges in a few dozen iterations where
    # minibatch Adam would need thousands and stop short of the exact minimum.
    optimizer = torch.optim.LBFGS([w, b], lr=1.0, max_iter=steps, line_search_fn="strong_wolfe")

    bar = tqdm(total=optimizer.defaults["max_eval"], desc="linear probe", disable=not progress)

    def closure():
        bar.update()
        optimizer.zero_grad(set_to_none=True)
        logits = activations @ w + b  # (n,)
        loss = torch.nn.functional.binary_cross_entropy_with_logits(logits, targets) + 0.5 * l2 * w.pow(2).sum()
        loss.backward()
        return loss

    threads = engine.threads_for(activations.numel())
    with torch.enable_grad(), cpu_threads(threads, activations.device):
        optimizer.step(closure)
    bar.close()
    return w.detach(), b.detach()


def _samples(activations: torch.Tensor) -> torch.Tensor:
    """Activations (n, d) with n ≥ 2 samples and d ≥ 1 directions (kurtosis needs two samples)."""
    if activations.shape[0] < 2 or activations.shape[1] < 1:
        raise ValueError(f"activations must have shape (n ≥ 2, d ≥ 1), got {tuple(activations.shape)}")
    return activations


def _labels(name: str, labels: torch.Tensor, n: int, n_classes: int | None = None, rows: str = "activations"):
    """Class labels (int64, as declared) of shape (n,), in 0..n_classes−1 when given; else a ValueError."""
    if labels.shape[0] != n:
        raise ValueError(
            f"{name} must be integers of shape (n,) = ({n},), one per row of {rows}; got shape {tuple(labels.shape)}"
        )
    if n_classes is not None and n and (labels.min() < 0 or labels.max() >= n_classes):
        raise ValueError(f"{name} must lie in 0..{n_classes - 1}, got values from {labels.min()} to {labels.max()}")
    return labels


def _images(model: DigitsMLP, X: torch.Tensor) -> torch.Tensor:
    """Images (n, d_in) for `model`, in the model's dtype, or a ValueError naming X."""
    if X.shape[1] != model.d_in:
        raise ValueError(f"X must have shape (n, d_in) = (n, {model.d_in}), got {tuple(X.shape)}")
    return X.to(model.W1.dtype)
