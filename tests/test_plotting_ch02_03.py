"""The chapter 02 plotting helper: an image grid that draws on one axes and rejects bad shapes."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from superpose_lib.plotting import image_grid  # noqa: E402


def test_image_grid_tiles_flat_images_with_labels():
    images = torch.rand(7, 64)
    ax = image_grid(images, ncols=3, labels=list("abcdefg"), title="seven")
    canvas = ax.images[0].get_array()
    # 3 rows and 3 columns of 8 × 8 images: 1-pixel gaps between columns, 3 pixels above each row for its labels
    assert canvas.shape == (3 * 11 + 1, 3 * 9 + 1)
    assert np.allclose(canvas[3:11, 1:9], images[0].reshape(8, 8).numpy())
    assert [text.get_text() for text in ax.texts] == list("abcdefg")
    assert ax.get_title() == "seven"
    plt.close("all")


def test_image_grid_centres_weights_on_zero():
    weights = np.array([[[-2.0, 1.0], [0.5, 0.0]]])
    ax = image_grid(weights, symmetric=True)
    assert ax.images[0].get_clim() == (-2.0, 2.0)
    plt.close("all")


def test_image_grid_draws_on_the_given_axes_with_one_pixel_gaps_without_labels():
    _, ax = plt.subplots()
    assert image_grid(np.zeros((2, 4, 4)), ax=ax) is ax
    assert ax.images[0].get_array().shape == (4 + 2, 2 * 5 + 1)
    plt.close("all")


@pytest.mark.parametrize(
    ("images", "kwargs", "message"),
    [
        (np.zeros((3, 10)), {}, "cannot be shown as 8 × 8"),
        (np.zeros(64), {}, "must have shape"),
        (np.zeros((2, 64)), {"labels": ["a"]}, "one entry per image"),
    ],
)
def test_image_grid_rejects_bad_input(images, kwargs, message):
    with pytest.raises(ValueError, match=message):
        image_grid(images, **kwargs)
