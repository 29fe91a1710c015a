"""The shared figures draw what they are given and reject what they cannot draw."""

import matplotlib
import matplotlib.text

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from superpose_lib.plotting import feature_directions_2d, similarity_heatmap  # noqa: E402


def test_feature_directions_draws_one_arrow_and_label_per_column():
    ax = feature_directions_2d(torch.eye(2, 5), title="five")
    labels = [t.get_text() for t in ax.texts if t.get_text()]
    arrows = [t for t in ax.texts if isinstance(t, matplotlib.text.Annotation)]
    assert labels == ["0", "1", "2", "3", "4"] and len(arrows) == 5 and ax.get_title() == "five"
    plt.close("all")


def test_feature_directions_panels_share_the_limit_they_are_given():
    small, large = feature_directions_2d(0.1 * torch.eye(2, 5)), feature_directions_2d(3 * torch.eye(2, 5))
    assert small.get_xlim() != large.get_xlim()
    shared = [feature_directions_2d(scale * torch.eye(2, 5), limit=2.5) for scale in (0.1, 3)]
    assert all(ax.get_xlim() == ax.get_ylim() == (-2.5, 2.5) for ax in shared)
    plt.close("all")


def test_similarity_heatmap_annotates_small_matrices():
    ax = similarity_heatmap(torch.eye(3), labels=["a", "b", "c"])
    assert [t.get_text() for t in ax.texts][:2] == ["1.00", "0.00"]
    plt.close("all")


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: feature_directions_2d(torch.ones(3, 5)), r"W must have shape \(2, n_features\)"),
        (lambda: feature_directions_2d(torch.ones(2, 5), limit=0), "limit must be a finite number > 0"),
        (lambda: similarity_heatmap(torch.ones(3)), "matrix must be 2-dimensional"),
        (lambda: similarity_heatmap(torch.ones(2, 2), labels=["a"]), "labels must have one entry per row"),
    ],
)
def test_bad_arguments_raise_value_errors(call, message):
    with pytest.raises(ValueError, match=message):
        call()
