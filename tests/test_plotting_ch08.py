"""Chapter 08 figures: they draw what they say and refuse bad input."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from superpose_lib import plotting  # noqa: E402


def test_l1_ball_meets_line_marks_the_sparse_corner():
    ax = plotting.l1_ball_meets_line([1.0, 2.5], 5.0)
    corner = ax.collections[0].get_offsets()[0]
    assert np.allclose(corner, [0.0, 2.0])  # on the z₂ axis: the coefficient with the larger |a|
    assert ax.get_xlabel() == "z₁" and ax.get_title()
    plt.close("all")
    with pytest.raises(ValueError, match="two nonzero"):
        plotting.l1_ball_meets_line([1.0, 0.0], 1.0)


def test_convergence_against_bounds_draws_a_curve_and_a_bound_per_method():
    t = np.arange(1, 51)
    ax = plotting.convergence_against_bounds([1 / t, 1 / t**2], [2 / t, 2 / t**2], ["ISTA", "FISTA"])
    assert len(ax.lines) == 4 and ax.get_xscale() == "log"
    plt.close("all")


def test_phase_diagram_checks_shapes_and_draws_the_curve():
    deltas, rhos = np.linspace(0.1, 0.9, 5), np.linspace(0.05, 0.95, 4)
    ax = plotting.phase_diagram(np.zeros((4, 5)), deltas, rhos, theory=(deltas, 0.3 * np.ones(5)))
    assert len(ax.images) == 1 and len(ax.lines) == 1
    plt.close("all")
    with pytest.raises(ValueError, match="shape"):
        plotting.phase_diagram(np.zeros((5, 4)), deltas, rhos)
