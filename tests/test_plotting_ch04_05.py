"""Chapter 04's figures and its almost-orthogonality explorer: the callbacks are tested directly, since errors
inside a widget never fail a headless run."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from superpose_lib.geometry import random_unit_vectors  # noqa: E402
from superpose_lib.plotting import coherence_versus_k, dot_product_histogram  # noqa: E402
from superpose_lib.widgets import (  # noqa: E402
    almost_orthogonal_explorer,
    almost_orthogonal_figure,
    almost_orthogonal_summary,
)


def test_dot_product_histogram_draws_the_exact_density_and_the_band():
    V = random_unit_vectors(2_000, 50, seed=0)
    ax = dot_product_histogram((V[:1_000] * V[1_000:]).sum(dim=1), 50, eps=0.2)
    assert len(ax.lines) == 1 and len(ax.patches) > 10
    assert ax.get_title() == "n = 50" and ax.get_xlabel().startswith("dot product")
    assert "ε = 0.2" in [text.get_text() for text in ax.get_legend().get_texts()][1]
    plt.close("all")


def test_dot_product_histogram_handles_the_plane():
    angles = torch.rand(500, generator=torch.Generator().manual_seed(0)) * 6.283
    ax = dot_product_histogram(angles.cos(), 2)
    assert ax.get_xlim() == (-1.0, 1.0)
    plt.close("all")


def test_coherence_versus_k_draws_three_curves_and_the_measurements():
    ax = coherence_versus_k(64, [10, 100, 1000], measured=[0.3, 0.45, 0.56])
    labels = [line.get_label() for line in ax.lines]
    assert labels == ["√(4 ln k / n)", "second order", "Welch bound (floor)", "measured"]
    assert ax.get_xscale() == "log"
    plt.close("all")


def test_dot_product_histograms_overlay_on_one_shared_axis():
    ax = None
    for n in (3, 100):
        V = random_unit_vectors(2_000, n, seed=n)
        ax = dot_product_histogram((V[:1_000] * V[1_000:]).sum(dim=1), n, ax=ax, xlim=(-1, 1), label=f"n = {n}")
    assert ax.get_xlim() == (-1.0, 1.0)
    assert [text.get_text() for text in ax.get_legend().get_texts()] == ["n = 3", "n = 100"]
    assert len(ax.lines) == 2  # one exact density per dimension
    plt.close("all")


def test_coherence_versus_k_draws_error_bars_from_the_spread():
    ax = coherence_versus_k(64, [10, 100], measured=[0.3, 0.45], spread=[0.02, 0.01])
    assert len(ax.containers) == 1 and ax.containers[0].get_label() == "measured"
    plt.close("all")


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: dot_product_histogram(torch.tensor([]), 5), "at least one sampled dot product"),
        (lambda: coherence_versus_k(10, [1, 5]), "ks must be numbers of vectors >= 2"),
        (lambda: coherence_versus_k(10, []), "ks must not be empty"),
        (lambda: coherence_versus_k(10, [5, 50], measured=[0.1]), "one value per k"),
        (lambda: coherence_versus_k(10, [5, 50], measured=[0.1, 0.2], spread=[0.01]), "spread must have one"),
        (lambda: coherence_versus_k(10, [5, 50], spread=[0.01, 0.02]), "spread needs measured"),
        (lambda: dot_product_histogram(torch.zeros(5), 5, xlim=(0.5, -0.5)), "xlim must be"),
    ],
)
def test_chapter_04_figures_reject_what_they_cannot_draw(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_almost_orthogonal_summary_reports_coherence_bounds_and_jl():
    text = almost_orthogonal_summary(100, 300, 0.2, seed=0)
    lines = text.splitlines()
    assert lines[0].startswith("300 random unit vectors in R^100: coherence 0.")
    assert "Welch floor 0.08" in lines[0]
    assert "of 44,850" in lines[1]
    assert lines[2].endswith("exp(nε²/4) = 3")  # e^(100 · 0.2² / 4) = e ≈ 2.7
    assert lines[3] == "JL: 300 points keep their distances within 1 ± ε in 1,316 dimensions"


def test_almost_orthogonal_figure_has_both_panels():
    fig = almost_orthogonal_figure(30, 50, 0.3, seed=1)
    left, right = fig.axes
    assert left.get_title() == "pairwise cosines, k = 50, n = 30"
    assert right.lines[-1].get_label() == "measured"
    for curve in right.lines[:3]:  # the theory curves span the panel, not just the one k measured
        ks = curve.get_xdata()
        assert ks.min() <= 3 and ks.max() >= 450 and len(ks) > 50
    plt.close("all")


def test_coherence_versus_k_curves_span_k_range():
    ax = coherence_versus_k(64, [300], measured=[0.5], k_range=(2, 3000))
    assert ax.lines[0].get_xdata().min() == 2 and ax.lines[0].get_xdata().max() == 3000
    with pytest.raises(ValueError, match="k_range must be"):
        coherence_versus_k(64, [300], k_range=(300, 300))
    plt.close("all")


def test_almost_orthogonal_explorer_has_three_sliders_that_redraw(capsys, monkeypatch):
    monkeypatch.setattr(plt, "show", lambda: plt.close("all"))
    widget = almost_orthogonal_explorer(n=40, k=60, eps=0.25)
    sliders = [child for child in widget.children if hasattr(child, "continuous_update")]
    assert [s.description for s in sliders] == ["n", "k", "ε"]
    assert all(s.continuous_update is False for s in sliders)
    capsys.readouterr()
    sliders[1].value = 80
    assert "80 random unit vectors in R^40" in capsys.readouterr().out
