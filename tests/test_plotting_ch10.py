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
