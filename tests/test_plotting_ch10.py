"""Chapter 10 figures: they draw what they say and refuse bad input."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from superpose_lib import plotting  # noqa: E402


def test_null_distribution_histogram_marks_the_observation_and_the_floor():
    ax = plotting.null_distribution_histogram(torch.randn(200), 1.5, floor=0.5, xlabel="mean interference")
    assert [line.get_xdata()[0] for line in ax.lines] == [1.5, 0.5]
    assert ax.get_xlabel() == "mean interference" and ax.get_title() and len(ax.patches) == 40
    plt.close("all")
    with pytest.raises(ValueError, match="at least 2 draws"):
        plotting.null_distribution_histogram(torch.ones(1), 0.0)


def test_superposition_versus_hidden_size_draws_a_curve_per_label_and_the_reference():
    d = np.array([2, 4, 8])
    ax = plotting.superposition_versus_hidden_size(d, [np.ones(3), np.zeros(3)], ["a", "b"], reference=(d, d / 8, "r"))
    assert len(ax.lines) == 3 and ax.get_xlabel() == "hidden size d"
    plt.close("all")
    with pytest.raises(ValueError, match="one curve per label"):
        plotting.superposition_versus_hidden_size(d, [np.ones(2)], ["a"])


def test_p_value_histograms_draw_one_outline_per_label_and_the_uniform_line():
    ax = plotting.p_value_histograms([np.linspace(0, 1, 50), np.ones(10)], ["a", "b"], alpha=0.05)
    assert len(ax.patches) == 2 and [line.get_ydata()[0] for line in ax.lines][:1] == [1.0]
    assert ax.get_xlabel() == "p-value"
    plt.close("all")
    with pytest.raises(ValueError, match="one non-empty set"):
        plotting.p_value_histograms([np.ones(3)], ["a", "b"])
    with pytest.raises(ValueError, match=r"lie in \[0, 1\]"):
        plotting.p_value_histograms([np.array([1.5])], ["a"])


def test_power_versus_density_draws_a_curve_per_label_and_the_level():
    density = np.array([1.0, 0.1, 0.01])
    ax = plotting.power_versus_density(density, [np.zeros(3), np.ones(3)], ["a", "b"])
    assert len(ax.lines) == 3 and ax.get_xscale() == "log"
    plt.close("all")
    with pytest.raises(ValueError, match="one curve per label"):
        plotting.power_versus_density(density, [np.ones(2)], ["a"])
