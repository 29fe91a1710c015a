"""The digits MLP and the chapter 02–03 tools: the split, training, hidden-layer rotations, kurtosis tests,
selectivity, top-activating examples and the linear probe."""

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from superpose_lib import digits, geometry, metrics


@pytest.fixture(scope="module")
def data():
    return digits.load_digits_split(seed=0)


@pytest.fixture(scope="module")
def relu_model(data):
    return digits.train_digits_mlp(data, "relu", epochs=15, seed=0, progress=False)


def test_split_is_seeded_disjoint_and_scaled(data):
    again = digits.load_digits_split(seed=0)
    other = digits.load_digits_split(seed=1)
    assert torch.equal(data.X_train, again.X_train) and torch.equal(data.y_test, again.y_test)
    assert not torch.equal(data.y_train, other.y_train)
    assert len(data.y_train) + len(data.y_test) == 1797
    assert data.X_train.min() >= 0 and data.X_train.max() <= 1
    train_rows = {tuple(row.tolist()) + (int(label),) for row, label in zip(data.X_train, data.y_train)}
    assert len(train_rows) > 1300
    assert set(data.y_test.tolist()) == set(range(10))


def test_split_rejects_a_bad_fraction():
    with pytest.raises(ValueError, match="test_fraction"):
        digits.load_digits_split(test_fraction=1.5)


def test_trained_relu_network_reads_digits(data, relu_model):
    assert relu_model.accuracy(data.X_test, data.y_test) > 0.9


def test_training_is_reproducible_and_the_loss_falls(data):
    losses = []
    weights = []
    for _ in range(2):
        model = digits.DigitsMLP(activation="identity", seed=3)
        losses.append(digits.train(model, data.X_train, data.y_train, epochs=4, seed=5, progress=False))
        weights.append(model.W1.detach().clone())
    assert torch.equal(losses[0], losses[1]) and torch.equal(weights[0], weights[1])
    assert losses[0][-1] < losses[0][0]


def test_model_validates_its_arguments(data):
    with pytest.raises(ValueError, match="activation"):
        digits.DigitsMLP(activation="tanh")
    model = digits.DigitsMLP(seed=0)
    with pytest.raises(ValueError, match="x must be a tensor of shape"):
        model(torch.zeros(3, 10))
    with pytest.raises(ValueError, match="y must be"):
        digits.train(model, data.X_train, data.y_train[:5], epochs=1, progress=False)
    with pytest.raises(ValueError, match="lr"):
        digits.train(model, data.X_train, data.y_train, lr=0, progress=False)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), d_hidden=st.integers(1, 40))
def test_rotation_leaves_an_identity_network_unchanged(seed, d_hidden):
    model = digits.DigitsMLP(d_hidden=d_hidden, activation="identity", seed=seed)
    x = torch.rand(7, 64, generator=torch.Generator().manual_seed(seed))
    rotated = digits.rotate_hidden(model, geometry.random_rotation(d_hidden, seed=seed + 1))
    assert rotated is not model
    assert torch.allclose(rotated(x), model(x), atol=1e-5, rtol=1e-5)  # equal to float32 precision


def test_rotation_changes_a_relu_network_and_keeps_the_original(data, relu_model):
    W1 = relu_model.W1.detach().clone()
    R = geometry.random_rotation(32, seed=0)
    rotated = digits.rotate_hidden(relu_model, R)
    assert torch.equal(relu_model.W1, W1)
    assert torch.allclose(rotated.W1, R @ W1, atol=1e-6)
    assert torch.allclose(rotated.b1, R @ relu_model.b1, atol=1e-6)
    assert torch.allclose(rotated.W2, relu_model.W2 @ R.T, atol=1e-6)
    assert rotated.accuracy(data.X_test, data.y_test) < relu_model.accuracy(data.X_test, data.y_test) - 0.1


def test_permutation_is_a_symmetry_of_a_relu_network(data, relu_model):
    P = torch.eye(32)[torch.randperm(32, generator=torch.Generator().manual_seed(0))]
    permuted = digits.rotate_hidden(relu_model, P)
    assert torch.allclose(permuted(data.X_test), relu_model(data.X_test), atol=1e-5)


def test_rotate_hidden_rejects_non_orthogonal_or_misshapen_matrices(relu_model):
    with pytest.raises(ValueError, match="orthogonal"):
        digits.rotate_hidden(relu_model, 2 * torch.eye(32))
    with pytest.raises(ValueError, match="shape"):
        digits.rotate_hidden(relu_model, torch.eye(5))


@settings(max_examples=30, deadline=None)
@given(n=st.integers(2, 12), data=st.data(), angle=st.floats(-10, 10))
def test_plane_rotation_is_orthogonal_and_moves_only_its_plane(n, data, angle):
    i = data.draw(st.integers(0, n - 1))
    j = data.draw(st.integers(0, n - 1).filter(lambda value: value != i))
    R = digits.plane_rotation(n, i, j, angle).double()
    assert torch.allclose(R @ R.T, torch.eye(n, dtype=torch.float64), atol=1e-6)
    others = [k for k in range(n) if k not in (i, j)]
    assert torch.equal(R[others][:, others], torch.eye(len(others), dtype=torch.float64))
    assert math.isclose(R[i, i].item(), math.cos(angle), abs_tol=1e-6)


def test_plane_rotation_validates_axes():
    with pytest.raises(ValueError, match="two different axes"):
        digits.plane_rotation(4, 1, 1, 0.3)
    with pytest.raises(ValueError, match="below n"):
        digits.plane_rotation(4, 0, 4, 0.3)


def test_pre_activations_are_what_the_relu_rectifies(data, relu_model):
    pre = digits.hidden_activations(relu_model, data.X_train, pre_activation=True)
    assert not pre.requires_grad and (pre < 0).any()
    assert torch.equal(digits.hidden_activations(relu_model, data.X_train), torch.relu(pre))
    with pytest.raises(ValueError, match="pre_activation must be True or False"):
        digits.hidden_activations(relu_model, data.X_train, pre_activation="yes")


def test_class_selectivity_on_known_cases():
    labels = torch.tensor([0, 1, 2, 0, 1, 2])
    only_zero = torch.tensor([1.0, 0, 0, 3, 0, 0])  # fires for class 0 only → 1
    uniform = torch.ones(6)  # the same for every class → 0
    dead = torch.zeros(6)  # never fires → 0 by convention
    half = torch.tensor([4.0, 1, 1, 4, 1, 1])  # μmax = 4, μrest = 1 → 3/5
    acts = torch.stack([only_zero, uniform, dead, half], dim=1)
    got = digits.class_selectivity(acts, labels, n_classes=3)
    assert torch.allclose(got, torch.tensor([1.0, 0.0, 0.0, 0.6]))


def test_class_means_and_selectivity_validate_labels():
    with pytest.raises(ValueError, match="labels must"):
        digits.class_means(torch.ones(3, 2), torch.tensor([0.0, 1.0, 1.0]))
    with pytest.raises(ValueError, match="at least one example"):
        digits.class_means(torch.ones(3, 2), torch.tensor([0, 1, 1]), n_classes=3)


def test_top_activating_returns_strongest_first():
    acts = torch.tensor([[0.0, 5.0], [3.0, 1.0], [2.0, 4.0], [1.0, 0.0]])
    assert digits.top_activating(acts, k=3).tolist() == [[1, 2, 3], [0, 2, 1]]
    with pytest.raises(ValueError, match="k must be at most"):
        digits.top_activating(acts, k=5)


def test_basis_kurtosis_uses_the_columns_of_the_basis():
    x = torch.randn(2_000, 3, generator=torch.Generator().manual_seed(0))
    R = geometry.random_rotation(3, seed=1)
    assert torch.allclose(digits.basis_kurtosis(x, R), metrics.kurtosis(x @ R))
    assert torch.allclose(digits.basis_kurtosis(x), metrics.kurtosis(x))


def test_sparse_axes_stand_out_from_random_bases():
    # Sparse, independent coordinates: heavy-tailed along the axes, mixed towards Gaussian along random bases.
    gen = torch.Generator().manual_seed(0)
    x = torch.rand(5_000, 8, generator=gen) * (torch.rand(5_000, 8, generator=gen) < 0.1)
    along_axes = digits.basis_kurtosis(x).mean()
    random = digits.random_basis_kurtosis(x, 50, seed=0)
    assert along_axes > random.max()


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 10_000), n_samples=st.integers(200, 2_000))
def test_gaussian_sample_kurtosis_lies_within_its_simulated_null(seed, n_samples):
    sample = torch.randn(n_samples, 1, generator=torch.Generator().manual_seed(seed))
    null = digits.gaussian_kurtosis_null(n_samples, 1, n_draws=2_000, seed=seed + 1)
    low, high = torch.quantile(null, torch.tensor([0.0005, 0.9995])).tolist()
    assert low <= metrics.kurtosis(sample).item() <= high
    assert abs(null.mean().item() - 3 * (n_samples - 1) / (n_samples + 1)) < 0.05


def test_linear_probe_finds_a_planted_direction():
    gen = torch.Generator().manual_seed(0)
    h = torch.randn(2_000, 10, generator=gen)
    direction = geometry.random_unit_vectors(1, 10, seed=1)[0]
    targets = (h @ direction > 0.3).long()
    w, b = digits.fit_linear_probe(h, targets)
    assert torch.cosine_similarity(w, direction, dim=0) > 0.95
    assert ((h @ w + b > 0).long() == targets).float().mean() > 0.97
    again, _ = digits.fit_linear_probe(h, targets)
    assert torch.equal(w, again)


def test_linear_probe_validates_targets():
    with pytest.raises(ValueError, match="only 0 and 1"):
        digits.fit_linear_probe(torch.ones(3, 2), torch.tensor([0, 1, 2]))
    with pytest.raises(ValueError, match="one entry per row"):
        digits.fit_linear_probe(torch.ones(3, 2), torch.tensor([0, 1]))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_model_trains_on_cuda(data):
    model = digits.train_digits_mlp(data, epochs=2, seed=0, progress=False, device="cuda")
    assert model.W1.device.type == "cuda"
    assert digits.rotate_hidden(model, geometry.random_rotation(32, seed=0)).W1.device.type == "cuda"


def test_the_layers_of_the_mlp_name_a_bad_batch():
    """pre_activations, hidden and forward refuse NaN, another dtype and a wrong width by name; forward is the
    readout of hidden."""
    model = digits.DigitsMLP(d_hidden=8, seed=0)
    x = torch.rand(5, 64, generator=torch.Generator().manual_seed(0))
    assert torch.allclose(model(x), model.hidden(x) @ model.W2.T + model.b2)
    assert torch.equal(model.hidden(x), torch.relu(model.pre_activations(x)))
    nan = x.clone()
    nan[0, 0] = math.nan
    for method in (model.pre_activations, model.hidden, model.forward):
        with pytest.raises(ValueError, match="x must be finite"):
            method(nan)
        with pytest.raises(ValueError, match="x must hold the model's dtype torch.float32, got torch.float64"):
            method(x.double())
        with pytest.raises(ValueError, match=r"x must be a tensor of shape \(batch, d_in\) = \(batch, 64\)"):
            method(x[:, :10])
