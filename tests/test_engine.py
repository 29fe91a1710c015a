"""The training engine (`superpose_lib.engine`): every hand-written gradient in the library against autograd,
Adam against `torch.optim.Adam`, the schedule, the hooks, the thread policy, and a new model trained through
autograd with no engine change."""

import importlib
import inspect
import math
import pkgutil

import pytest
import torch

import superpose_lib
from superpose_lib import engine
from superpose_lib.engine import Adam, fit, learning_rate, threads_for
from superpose_lib.features import FixedDataset, SparseFeatures
from superpose_lib.sae import SAE, SyntheticFeatures, train_sae
from superpose_lib.toy_models import AbsoluteValueModel, PrivilegedBasisModel, ToyModel, train

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


def _nudged(model, keep=()):
    """Move every parameter but those named in `keep` off its initial value (zero biases hide mistakes), keeping
    SAE padding at zero."""
    gen = torch.Generator().manual_seed(3)
    with torch.no_grad():
        for name, param in model.named_parameters():
            if name in keep:
                continue
            param.add_(0.1 * torch.randn(param.shape, generator=gen).to(param.device))
        if isinstance(model, SAE):
            for p in (model.W_enc, model.W_dec):
                p.mul_(model.latent_mask.unsqueeze(1))
            model.b_enc.mul_(model.latent_mask)
    return model


def _toy(cls, importance=None, **kwargs):
    def make(device):
        p = torch.tensor([[1.0], [0.5], [0.1], [0.9]])
        weights = 0.8 ** torch.arange(8.0) if importance is None else importance
        return cls(8, 3, 4, p, weights, seed=0, device=device, **kwargs)

    return make


def _toy_batch(model, gen):
    return model.data.sample(64, gen)  # (instances, batch, features)


def _sae(**kwargs):
    return lambda device: SAE(6, [9, 12, 7], n_instances=3, seed=0, device=device, **kwargs)


# (name, model factory, batch factory): every model in the library that writes its gradients by hand
HAND_GRADIENT_CASES = [
    ("ToyModel", _toy(ToyModel), _toy_batch),
    ("ToyModel-linear", _toy(ToyModel, activation="linear"), _toy_batch),
    ("ToyModel-hidden_l1", _toy(ToyModel, hidden_l1=torch.tensor([0.0, 0.01, 0.05, 0.3])), _toy_batch),
    ("ToyModel-correlated", _toy(ToyModel, correlation="correlated"), _toy_batch),
    ("ToyModel-zero-importance", _toy(ToyModel, importance=torch.tensor([1.0, 0.0] * 4)), _toy_batch),
    ("PrivilegedBasisModel", _toy(PrivilegedBasisModel), _toy_batch),
    ("PrivilegedBasisModel-hidden_l1", _toy(PrivilegedBasisModel, hidden_l1=0.05), _toy_batch),
    ("AbsoluteValueModel", _toy(AbsoluteValueModel), _toy_batch),
    ("SAE-relu-shared", _sae(l1_coeff=[0.0, 0.05, 0.2]), lambda m, g: torch.randn(40, 6, generator=g).to(m.W_enc)),
    ("SAE-relu-per-instance", _sae(l1_coeff=0.1), lambda m, g: torch.randn(3, 40, 6, generator=g).to(m.W_enc)),
    ("SAE-topk", _sae(architecture="topk", k=3), lambda m, g: torch.randn(40, 6, generator=g).to(m.W_enc)),
]


def _assert_hand_gradients_match_autograd(name, model, X):
    params = list(model.parameters())
    ref_loss = model.batch_loss(X)
    ref_grads = torch.autograd.grad(ref_loss.sum(), params)
    ref_state = getattr(model, "_last_batch", None)
    with torch.no_grad():
        loss, grads = model.batch_loss_and_grads(X.clone())
    assert loss.shape == ref_loss.shape == (model.n_instances,)
    assert torch.allclose(loss, ref_loss.detach(), rtol=1e-5, atol=1e-6)
    assert len(grads) == len(params)
    for (pname, param), grad, ref in zip(model.named_parameters(), grads, ref_grads):
        assert grad.shape == param.shape and grad.dtype == param.dtype, pname
        assert torch.allclose(grad, ref, rtol=1e-4, atol=1e-6), f"{name}: gradient of {pname}"
    if ref_state is not None:  # what the SAE keeps for its hooks agrees too
        assert torch.allclose(model._last_batch[0], ref_state[0], atol=1e-5)
        assert torch.equal(model._last_batch[1], ref_state[1])


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize(("name", "make", "batch"), HAND_GRADIENT_CASES, ids=[c[0] for c in HAND_GRADIENT_CASES])
def test_hand_written_gradients_match_autograd(name, make, batch, dtype, device):
    model = _nudged(make(device)).to(dtype)
    X = batch(model, torch.Generator(device=device).manual_seed(1))
    assert X.dtype == dtype
    _assert_hand_gradients_match_autograd(name, model, X)
    # the same batch laid out in memory another way (a transposed copy, viewed back)
    _assert_hand_gradients_match_autograd(name, model, X.transpose(-1, -2).contiguous().transpose(-1, -2))


@pytest.mark.parametrize(("name", "make", "batch"), HAND_GRADIENT_CASES, ids=[c[0] for c in HAND_GRADIENT_CASES])
def test_hand_written_gradients_match_autograd_on_the_relu_kinks(name, make, batch):
    # zero inputs and zero biases in front of the ReLUs put pre-activations exactly at 0, where both sides must
    # take the same derivative (torch.relu's: 0)
    model = _nudged(make("cpu"), keep=("b", "b_enc"))
    X = batch(model, torch.Generator().manual_seed(1))
    X[..., ::2, :] = 0.0  # every other input is all zeros
    _assert_hand_gradients_match_autograd(name, model, X)


def test_every_hand_written_gradient_in_the_library_is_tested():
    tested = {type(make("cpu")) for _, make, _ in HAND_GRADIENT_CASES}
    found = set()
    for info in pkgutil.iter_modules(superpose_lib.__path__):
        module = importlib.import_module(f"superpose_lib.{info.name}")
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if cls.__module__ == module.__name__ and "batch_loss_and_grads" in vars(cls):
                found.add(cls)
    assert found and found <= tested, f"untested hand-written gradients: {sorted(c.__name__ for c in found - tested)}"


@pytest.mark.parametrize("fused", [True, False])
def test_adam_matches_torch_optim_adam(fused):
    gen = torch.Generator().manual_seed(0)
    ours = [torch.randn(3, 4, generator=gen), torch.randn(5, generator=gen)]
    theirs = [torch.nn.Parameter(p.clone()) for p in ours]
    adam, reference = Adam(ours), torch.optim.Adam(theirs, lr=1e-2)
    adam._fused = fused and adam._fused  # the fallback path (no fused kernel) too
    for step in range(5):
        grads = [torch.randn(p.shape, generator=gen) for p in ours]
        if step % 2:  # a gradient laid out unlike its parameter (autograd returns some transposed)
            grads[0] = grads[0].T.contiguous().T
        adam.step(grads, 1e-2)
        for p, g in zip(theirs, grads):
            p.grad = g.clone()
        reference.step()
    for p, q in zip(ours, theirs):
        assert torch.allclose(p, q.detach(), atol=1e-6)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("fused", [True, False])
def test_adam_follows_torch_optim_adam_over_many_scheduled_steps(fused, dtype):
    # 400 steps of the cosine schedule with warm-up; one parameter is itself a transposed view, and the
    # gradients alternate between their parameter's layout and another one
    gen = torch.Generator().manual_seed(0)
    ours = [torch.randn(3, 4, generator=gen, dtype=dtype), torch.randn(4, 3, generator=gen, dtype=dtype).T]
    theirs = [torch.nn.Parameter(p.clone()) for p in ours]
    adam, reference = Adam(ours), torch.optim.Adam(theirs, lr=1e-2)
    adam._fused = fused and adam._fused
    steps = 400
    for step in range(steps):
        lr = learning_rate(step, steps, 1e-2, "cosine", warmup=50)
        grads = [torch.randn(p.shape, generator=gen, dtype=dtype) for p in ours]
        grads[step % 2] = grads[step % 2].T.contiguous().T
        adam.step(grads, lr)
        for p, g in zip(theirs, grads):
            p.grad = g.clone()
        reference.param_groups[0]["lr"] = lr
        reference.step()
    assert adam._fused == (fused and hasattr(torch, "_fused_adam_"))
    for p, q in zip(ours, theirs):
        assert torch.allclose(p, q.detach(), rtol=0, atol=1e-5 if dtype == torch.float32 else 1e-12)


def test_fit_is_adam_on_the_autograd_gradients_with_the_schedule():
    # the engine takes exactly the steps torch.optim.Adam takes on autograd's gradients, lr set per step
    model, twin = _nudged(_toy(ToyModel)("cpu")), _nudged(_toy(ToyModel)("cpu"))
    steps, lr = 8, 1e-2
    train(model, steps=steps, batch_size=32, lr=lr, schedule="cosine", warmup=3, seed=4, progress=False)
    optimizer = torch.optim.Adam(twin.parameters(), lr=lr)
    gen = torch.Generator().manual_seed(4)
    for step in range(steps):
        X = twin.data.sample(32, gen)
        for group in optimizer.param_groups:
            group["lr"] = learning_rate(step, steps, lr, "cosine", 3)
        optimizer.zero_grad()
        twin.batch_loss(X).sum().backward()
        optimizer.step()
    for p, q in zip(model.parameters(), twin.parameters()):
        assert torch.allclose(p, q, atol=1e-5)


@pytest.mark.parametrize("cls", [ToyModel, AbsoluteValueModel])
def test_autograd_and_hand_gradients_train_the_same_model(cls):
    runs = []
    for gradients in ("hand", "autograd"):
        model = _toy(cls)("cpu")
        history = train(model, steps=40, batch_size=64, lr=1e-2, seed=2, gradients=gradients, progress=False)
        runs.append((history, [p.detach().clone() for p in model.parameters()]))
    assert torch.allclose(runs[0][0], runs[1][0], atol=1e-5)
    for p, q in zip(runs[0][1], runs[1][1]):
        assert torch.allclose(p, q, atol=1e-4)


class _UntiedToyModel(torch.nn.Module):
    """A model the library does not have (an untied linear autoencoder), defined by its loss alone."""

    def __init__(self, n_features, d_hidden, n_instances, seed):
        super().__init__()
        gen = torch.Generator().manual_seed(seed)
        self.W_enc = torch.nn.Parameter(0.3 * torch.randn(n_instances, d_hidden, n_features, generator=gen))
        self.W_dec = torch.nn.Parameter(0.3 * torch.randn(n_instances, n_features, d_hidden, generator=gen))
        self.b = torch.nn.Parameter(torch.zeros(n_instances, 1, n_features))

    def batch_loss(self, X):  # X: (instances, batch, features)
        out = X @ self.W_enc.transpose(1, 2) @ self.W_dec.transpose(1, 2) + self.b
        return ((out - X) ** 2).mean(dim=(1, 2))


def test_a_new_model_trains_through_autograd_with_no_engine_change():
    data = SparseFeatures(6, torch.tensor([[1.0], [0.1]]), n_instances=2)
    model = _UntiedToyModel(6, 6, 2, seed=0)  # as many dimensions as features: it can learn the identity
    gen = torch.Generator().manual_seed(0)
    history = fit(model, data.sample, 1_500, 256, 1e-2, schedule="cosine", generator=gen, progress=False)
    assert history.shape == (1_500, 2)
    final = model.batch_loss(data.sample(4_096, torch.Generator().manual_seed(1))).detach()
    assert (final < 0.05 * history[:10].mean(dim=0)).all()
    with pytest.raises(ValueError, match='gradients="hand" needs a model with batch_loss_and_grads'):
        fit(model, data.sample, 5, 8, 1e-2, gradients="hand", progress=False)


def test_hooks_run_in_order_and_see_each_step():
    calls = []

    class Probe(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.w = torch.nn.Parameter(torch.zeros(2))

        def batch_loss(self, X):
            calls.append(("loss", X))
            return ((self.w - 1) ** 2).sum().reshape(1)

    def sample(n, gen):
        calls.append(("sample", n))
        return n

    model = Probe()
    fit(model, sample, 3, 7, 0.1, before_update=lambda grads: calls.append(("before", len(grads))),
        after_update=lambda step, adam: calls.append(("after", step, adam.t)),
        on_step=lambda step, m: calls.append(("on_step", step, m is model)), progress=False)  # fmt: skip
    expected = []
    for step in range(3):
        expected += [("sample", 7), ("loss", 7), ("before", 1), ("after", step, step + 1), ("on_step", step, True)]
    assert calls == expected


def test_learning_rate_schedules():
    assert [learning_rate(s, 10, 1.0) for s in (0, 9)] == [1.0, 1.0]
    assert [learning_rate(s, 10, 1.0, warmup=4) for s in range(5)] == [0.25, 0.5, 0.75, 1.0, 1.0]
    cosine = [learning_rate(s, 100, 1.0, "cosine") for s in range(100)]
    assert cosine[0] == 1.0 and all(a > b for a, b in zip(cosine, cosine[1:]))
    assert cosine[-1] == pytest.approx(0.02, abs=1e-3)


def test_threads_are_chosen_by_size_and_restored():
    assert threads_for(engine.ONE_THREAD_BELOW - 1) == 1
    assert threads_for(engine.ONE_THREAD_BELOW) == torch.get_num_threads()
    seen = []
    before = torch.get_num_threads()
    model = ToyModel(5, 2, seed=0)
    train(
        model, steps=2, batch_size=8, seed=0, progress=False, on_step=lambda s, m: seen.append(torch.get_num_threads())
    )
    assert seen == [1, 1] and torch.get_num_threads() == before


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        (dict(steps=0), "steps"),
        (dict(batch_size=-1), "batch_size"),
        (dict(lr=0.0), "lr"),
        (dict(lr=float("nan")), "lr"),
        (dict(schedule="linear"), "schedule"),
        (dict(warmup=-1), "warmup"),
        (dict(gradients="numeric"), "gradients"),
        (dict(threads=0), "threads"),
    ],
)
def test_fit_names_its_bad_arguments(kwargs, name):
    model = ToyModel(5, 2, seed=0)
    args = dict(steps=5, batch_size=8, lr=1e-2) | kwargs
    with pytest.raises(ValueError, match=name):
        fit(model, model.data.sample, args.pop("steps"), args.pop("batch_size"), args.pop("lr"), progress=False,
            **args)  # fmt: skip


def test_fit_refuses_a_model_it_cannot_train():
    with pytest.raises(ValueError, match="batch_loss"):
        fit(torch.nn.Linear(2, 2), lambda n, g: None, 5, 8, 1e-2, progress=False)


class _Instances(torch.nn.Module):
    """Two instances of a mean estimator whose batch_loss returns `shape` (the right one is (2,))."""

    n_instances = 2

    def __init__(self, shape=(2,), nan_from=None):
        super().__init__()
        self.mu = torch.nn.Parameter(torch.zeros(2, 1))
        self.shape, self.nan_from, self.calls = shape, nan_from, 0

    def batch_loss(self, X):  # X: (batch, 1)
        per = ((X.T - self.mu) ** 2).mean(dim=1)  # (2,)
        if self.nan_from is not None and self.calls >= self.nan_from:
            per = per * torch.tensor([1.0, float("nan")])
        self.calls += 1
        if self.shape == (2,):
            return per
        return (X.T - self.mu).square().T.reshape(-1)[: math.prod(self.shape)].reshape(self.shape)


def _normal(n, gen):
    return 3 + torch.randn(n, 1, generator=gen)


@pytest.mark.parametrize("shape", [(), (7,), (2, 1), (1, 2)])
def test_fit_refuses_a_loss_that_is_not_one_per_instance(shape):
    # a loss per sample, or a scalar, would train on a different objective and record a history of another shape
    with pytest.raises(ValueError, match=r"batch_loss\(X\) must return one loss per instance"):
        fit(_Instances(shape), _normal, 3, 7, 0.1, generator=torch.Generator().manual_seed(0), progress=False)


def test_fit_refuses_a_loss_that_does_not_depend_on_the_parameters():
    class Constant(_Instances):
        def batch_loss(self, X):
            return torch.ones(2)

    with pytest.raises(ValueError, match="does not depend on the model's parameters"):
        fit(Constant(), _normal, 3, 7, 0.1, generator=torch.Generator().manual_seed(0), progress=False)


def test_fit_names_the_diverged_instances_and_lr_when_a_loss_stops_being_finite():
    model = _Instances(nan_from=4)
    with pytest.raises(ValueError, match=r"instance\(s\) \[1\].*from step 4.*smaller lr than 0.1"):
        fit(model, _normal, 10, 8, 0.1, generator=torch.Generator().manual_seed(0), progress=False)


@pytest.mark.parametrize("gradients", ["hand", "autograd"])
def test_frozen_parameters_stay_as_they_are(gradients):
    model = ToyModel(5, 2, n_instances=2, feature_probability=0.3, seed=0)
    with torch.no_grad():
        model.b.fill_(0.1)
    model.b.requires_grad_(False)
    W = model.W.detach().clone()
    train(model, steps=20, batch_size=32, lr=1e-2, seed=0, gradients=gradients, progress=False)
    assert torch.equal(model.b, torch.full((2, 5), 0.1)) and not torch.equal(model.W, W)


def test_the_threads_are_restored_when_a_step_raises():
    before = torch.get_num_threads()

    def fail(step, model):
        raise KeyError("stop")

    with pytest.raises(KeyError):
        fit(_Instances(), _normal, 5, 4, 0.1, threads=1, on_step=fail, progress=False)
    assert torch.get_num_threads() == before


def test_learning_rate_and_adam_name_their_bad_arguments():
    with pytest.raises(ValueError, match="schedule"):
        learning_rate(5, 10, 1.0, "linear")
    with pytest.raises(ValueError, match="params"):
        Adam([])


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a second device")
def test_fit_names_a_generator_on_another_device():
    model = ToyModel(5, 2, seed=0, device="cuda")
    with pytest.raises(ValueError, match="generator"):
        train(model, steps=2, generator=torch.Generator().manual_seed(0), progress=False)


def _door_checks(monkeypatch, run) -> int:
    """How many calls of declared functions and methods `run` makes (each binds its arguments once)."""
    count = 0
    bind = inspect.Signature.bind

    def counted(self, *args, **kwargs):
        nonlocal count
        count += 1
        return bind(self, *args, **kwargs)

    monkeypatch.setattr(inspect.Signature, "bind", counted)
    run()
    monkeypatch.setattr(inspect.Signature, "bind", bind)
    return count


def _fixed(model):
    return FixedDataset(model.generate_batch(64, generator=torch.Generator().manual_seed(1)).transpose(0, 1))


@pytest.mark.parametrize(
    "train_for",
    [
        lambda steps: train(ToyModel(5, 2, n_instances=2, seed=0), steps=steps, batch_size=16, seed=0, progress=False),
        lambda steps: train(AbsoluteValueModel(4, 3, seed=0), steps=steps, batch_size=16, seed=0, progress=False,
                            gradients="autograd"),
        lambda steps: train(model := ToyModel(5, 2, seed=0), steps=steps, batch_size=16, seed=0, progress=False,
                            data=_fixed(model)),
        lambda steps: train_sae(SAE(4, 6, n_instances=2, seed=0), SyntheticFeatures(6, 4, seed=0).sample, steps=steps,
                                batch_size=16, seed=0, progress=False),
        lambda steps: train_sae(SAE(4, 6, seed=0), torch.randn(50, 4), steps=steps, batch_size=16, seed=0,
                                progress=False, gradients="autograd"),
    ],
    ids=["toy, hand gradients", "absolute value, autograd", "toy, fixed dataset", "sae, synthetic", "sae, autograd"],
)  # fmt: skip
def test_a_training_step_passes_through_no_door_check(monkeypatch, train_for):
    """The public methods that take a learner's data are declared (checked at every call), so the engine's step
    calls only the undeclared protocol (`batch_loss`, `batch_loss_and_grads`, the sampler, Adam's `_step`): the
    door checks a training run makes do not grow with its number of steps."""
    assert _door_checks(monkeypatch, lambda: train_for(6)) == _door_checks(monkeypatch, lambda: train_for(3))


def test_adam_step_names_gradients_that_do_not_match_the_parameters():
    adam = Adam([torch.zeros(3), torch.zeros(2, 2)])
    with pytest.raises(ValueError, match=r"grads must hold one gradient per parameter \(2\), got 1"):
        adam.step([torch.zeros(3)], lr=0.1)
    with pytest.raises(ValueError, match=r"grads\[1\] must be a tensor like its parameter, \(2, 2\)"):
        adam.step([torch.zeros(3), torch.zeros(4)], lr=0.1)
    with pytest.raises(ValueError, match="grads.* must be finite"):
        adam.step([torch.zeros(3), torch.full((2, 2), math.nan)], lr=0.1)
    with pytest.raises(ValueError, match="lr must be a finite number > 0"):
        adam.step([torch.zeros(3), torch.zeros(2, 2)], lr=-1.0)
    assert adam.t == 0  # nothing moved
