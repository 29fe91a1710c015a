"""The figures and the explorer of chapters 06 and 07: they draw what they are given, and reject bad shapes."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from superpose_lib.plotting import feature_directions_2d, feature_norm_bars, phase_map  # noqa: E402
from superpose_lib.widgets import toy_model_explorer, trained_toy_geometry  # noqa: E402


def test_feature_norm_bars_draws_one_bar_per_feature_with_its_norm():
    W = torch.tensor([[1.0, -1.0, 0.0], [0.0, 0.0, 0.5]])
    ax = feature_norm_bars(W, title="bars")
    widths = [patch.get_width() for patch in ax.patches]
    assert widths == pytest.approx([1.0, 1.0, 0.5])
    # the antipodal pair is fully superposed (yellow end of the map), the lone feature not at all
    colors = [patch.get_facecolor() for patch in ax.patches]
    assert colors[0] == pytest.approx(plt.cm.plasma(1.0)) and colors[2] == pytest.approx(plt.cm.plasma(0.0))
    plt.close("all")
    with pytest.raises(ValueError, match="W must have shape"):
        feature_norm_bars(torch.ones(3))


def test_feature_norm_bars_colour_is_unclipped_so_pairs_and_pentagons_differ():
    angles = torch.arange(5) * 2 * torch.pi / 5
    pentagon = torch.stack([angles.cos(), angles.sin()])  # each feature's superposition is 1.5
    pair = torch.tensor([[1.0, -1.0, 0.0], [0.0, 0.0, 1.0]])  # 1, 1 and 0
    colours = {}
    for name, W in (("pentagon", pentagon), ("pair", pair)):
        _, ax = plt.subplots()
        feature_norm_bars(W, ax=ax, vmax=3.0)
        colours[name] = [patch.get_facecolor() for patch in ax.patches]
    assert colours["pentagon"][0] == pytest.approx(plt.cm.plasma(0.5))
    assert colours["pair"][0] == pytest.approx(plt.cm.plasma(1 / 3)) and colours["pair"][2] == pytest.approx(
        plt.cm.plasma(0.0)
    )
    plt.close("all")


def test_feature_norm_bars_draws_a_colour_bar_and_integer_feature_ticks():
    fig, axes = plt.subplots(1, 3)
    for k, ax in enumerate(axes):
        feature_norm_bars(torch.eye(2, 20), ax=ax, vmax=2.0, colorbar=axes if k == 2 else False)
    assert len(fig.axes) == 4  # three panels and one shared colour bar
    assert fig.axes[-1].get_ylabel() == "Σⱼ≠ᵢ (Ŵᵢ·Wⱼ)²" and fig.axes[-1].get_ylim() == pytest.approx((0.0, 2.0))
    ticks = axes[0].get_yticks()
    assert len(ticks) > 1 and all(float(tick).is_integer() for tick in ticks)
    _, ax = plt.subplots()
    feature_norm_bars(torch.eye(2, 3), ax=ax)
    assert len(ax.figure.axes) == 2  # its own colour bar by default
    plt.close("all")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"vmax": 0.0}, "vmax must be a finite number > 0"),
        ({"colorbar": 3}, "colorbar must be True or False or a list"),
    ],
)
def test_feature_norm_bars_rejects_a_bad_scale_or_colour_bar(kwargs, message):
    with pytest.raises(ValueError, match=message):
        feature_norm_bars(torch.eye(2, 3), **kwargs)
    plt.close("all")


def test_phase_map_checks_the_grid_shape():
    r, p = np.logspace(-1, 1, 3), np.logspace(0, -2, 4)
    ax = phase_map(np.zeros((3, 4)), r, p, title="phases")
    assert ax.get_xscale() == "log" and ax.get_title() == "phases"
    plt.close("all")
    with pytest.raises(ValueError, match="phases must have shape"):
        phase_map(np.zeros((4, 3)), r, p)


def test_explorer_callback_trains_the_five_feature_model_and_caches_it():
    W, b = trained_toy_geometry(0.03, 1.0, steps=1_500)
    assert W.shape == (2, 5) and b.shape == (5,)
    assert (W.norm(dim=0) > 0.9).all() and (b < 0).all()  # sparse, equal importance: a pentagon
    again = trained_toy_geometry(0.03, 1.0, steps=1_500)
    assert again[0] is W  # cached: moving a slider back is instant
    dense, _ = trained_toy_geometry(1.0, 0.7, steps=1_500)
    assert (dense.norm(dim=0) > 0.5).sum() == 2
    with pytest.raises(ValueError, match=r"density must be a number in \(0, 1\]"):
        trained_toy_geometry(0.0, 0.9)
    assert toy_model_explorer() is not None
    plt.close("all")


def test_feature_directions_2d_draws_each_feature_in_its_given_colour():
    W = torch.tensor([[1.0, 0.0, -1.0, 0.0], [0.0, 1.0, 0.0, -1.0]])
    ax = feature_directions_2d(W, colors=["tab:red", "tab:red", "tab:blue", "tab:blue"])
    arrows = [text.arrow_patch.get_edgecolor() for text in ax.texts if getattr(text, "arrow_patch", None)]
    assert len(arrows) == 4
    assert arrows[0] == pytest.approx(matplotlib.colors.to_rgba("tab:red"))
    assert arrows[3] == pytest.approx(matplotlib.colors.to_rgba("tab:blue"))
    plt.close("all")
    for bad in (["tab:red"] * 3, "tab:red"):
        with pytest.raises(ValueError, match="colors must be"):
            feature_directions_2d(W, colors=bad)


def test_neuron_weight_stacks_stacks_each_neurons_weights_above_and_below_zero():
    from superpose_lib.plotting import neuron_weight_stacks

    # neuron 0 reads feature 2 (+1) and feature 0 (−0.5); neuron 1 reads feature 1 (+0.7) and feature 3 (+0.2)
    W = torch.tensor([[-0.5, 0.0, 1.0, 0.0], [0.0, 0.7, 0.0, 0.2]])
    ax = neuron_weight_stacks(W, title="stacks")
    blocks = [(patch.get_x() + patch.get_width() / 2, patch.get_y(), patch.get_height()) for patch in ax.patches]
    columns = {}
    for x, bottom, height in blocks:
        columns.setdefault(round(x), []).append((bottom, height))
    # neuron 1's largest weight is on feature 1, neuron 0's on feature 2: neuron 1 comes first
    assert [label.get_text() for label in ax.get_xticklabels()] == ["1", "0"]
    up = {column: sum(h for _, h in parts if h > 0) for column, parts in columns.items()}
    down = {column: sum(h for _, h in parts if h < 0) for column, parts in columns.items()}
    assert up == pytest.approx({0: 0.9, 1: 1.0}) and down == pytest.approx({0: 0.0, 1: -0.5})
    assert sorted(bottom for bottom, _ in columns[0]) == pytest.approx([0.0, 0.7])  # stacked, not overlapping
    assert ax.get_title() == "stacks" and len(ax.figure.axes) == 2  # the feature colour bar
    plt.close("all")
    small_left_out = neuron_weight_stacks(W, min_weight=0.6, colorbar=False)
    assert sorted(abs(patch.get_height()) for patch in small_left_out.patches) == pytest.approx([0.7, 1.0])
    plt.close("all")


@pytest.mark.parametrize(
    ("W", "kwargs", "message"),
    [
        (torch.ones(3), {}, "W must have 2 dimensions"),
        (torch.tensor([[float("nan"), 1.0]]), {}, "W must be finite"),
        (torch.ones(2, 3), {"colorbar": "yes"}, "colorbar must be True or False"),
        (torch.ones(2, 3), {"min_weight": -0.1}, "min_weight must be a finite number >= 0"),
    ],
)
def test_neuron_weight_stacks_rejects_bad_input(W, kwargs, message):
    from superpose_lib.plotting import neuron_weight_stacks

    with pytest.raises(ValueError, match=message):
        neuron_weight_stacks(W, **kwargs)
    plt.close("all")
