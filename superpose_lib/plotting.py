"""Figures the notebooks share. Every function draws on `ax` (a new figure when None) and returns it."""

from __future__ import annotations

import matplotlib.axes
import matplotlib.pyplot as plt
import numpy as np
import torch

from . import _validate as _v

# Every panel takes the axes to draw on (a new figure when None) and a title (a default one when None).
_PANEL = {"ax": _v.Optional(_v.Instance(matplotlib.axes.Axes, what="matplotlib Axes")), "title": _v.Optional(_v.Text())}


def _axes(ax, figsize=(4, 4)):
    if ax is None:
        _, ax = plt.subplots(figsize=figsize)
    return ax


def _numpy(value) -> np.ndarray:
    if isinstance(value, torch.Tensor):
        return value.detach().cpu().numpy()
    return np.asarray(value)


@_v.arguments(
    W=_v.Tensor(2, nonempty=True),
    labels=_v.Optional(_v.Each(_v.Text(or_number=True))),
    limit=_v.Optional(_v.Real(0, low_open=True)),
    colors=_v.Optional(_v.Each(_v.Instance(object, what="matplotlib colour"))),
    **_PANEL,
)
def feature_directions_2d(W, ax=None, title=None, labels=None, limit=None, colors=None):
    """Draw the columns of a (2, n_features) matrix W as arrows from the origin, with the unit circle.

    ``limit`` is the half-width of both axes; by default it fits W. Pass the same value to panels that should
    be compared (snapshots of one W during training), so that lengths read the same in each. ``colors`` gives
    one matplotlib colour per feature (for example one per set of correlated features); by default feature i
    gets the i-th of evenly spaced viridis colours.
    """
    W = _numpy(W)
    if W.ndim != 2 or W.shape[0] != 2:
        raise ValueError(f"W must have shape (2, n_features) to be drawn in the plane, got {W.shape}")
    if labels is not None and len(labels) != W.shape[1]:
        raise ValueError(f"labels must have one entry per feature (column of W: {W.shape[1]}), got {len(labels)}")
    if colors is not None and len(colors) != W.shape[1]:
        raise ValueError(f"colors must be a sequence of one colour per feature ({W.shape[1]}), got {colors!r}")
    ax = _axes(ax)
    angle = np.linspace(0, 2 * np.pi, 200)
    ax.plot(np.cos(angle), np.sin(angle), color="0.85", lw=1)
    if colors is None:
        colors = plt.cm.viridis(np.linspace(0, 0.9, W.shape[1]))
    for i in range(W.shape[1]):
        ax.annotate("", xy=W[:, i], xytext=(0, 0), arrowprops={"arrowstyle": "-|>", "color": colors[i], "lw": 2})
        label = labels[i] if labels is not None else str(i)
        ax.text(*(1.12 * W[:, i]), label, color=colors[i], ha="center", va="center")
    if limit is None:
        limit = max(1.3, 1.25 * float(np.abs(W).max()))
    ax.set(xlim=(-limit, limit), ylim=(-limit, limit), aspect="equal", xlabel="hidden dim 0", ylabel="hidden dim 1")
    if title:
        ax.set_title(title)
    return ax


@_v.arguments(
    matrix=_v.Tensor(),
    labels=_v.Optional(_v.Each(_v.Text(or_number=True))),
    vmin=_v.Real(),
    vmax=_v.Real(),
    annotate=_v.Flag(),
    **_PANEL,
)
def similarity_heatmap(matrix, labels=None, ax=None, title=None, vmin=-1.0, vmax=1.0, annotate=True):
    """A square heatmap (cosines, WᵀW, ...) with a diverging colour map centred on 0."""
    matrix = _numpy(matrix)
    if matrix.ndim != 2:
        raise ValueError(f"matrix must be 2-dimensional, got shape {matrix.shape}")
    if labels is not None and len(labels) != matrix.shape[0]:
        raise ValueError(f"labels must have one entry per row of matrix ({matrix.shape[0]}), got {len(labels)}")
    ax = _axes(ax, figsize=(4.5, 4))
    image = ax.imshow(matrix, cmap="RdBu_r", vmin=vmin, vmax=vmax)
    if labels is not None:
        ax.set_xticks(range(len(labels)), labels, rotation=60, ha="right")
        ax.set_yticks(range(len(labels)), labels)
    if annotate and matrix.shape[0] <= 12 and matrix.shape[1] <= 12:
        for (r, c), value in np.ndenumerate(matrix):
            color = "white" if abs(value) > 0.6 * max(abs(vmin), abs(vmax)) else "black"
            ax.text(c, r, f"{value:.2f}", ha="center", va="center", fontsize=7, color=color)
    ax.figure.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
    if title:
        ax.set_title(title)
    return ax


# Chapter 02


@_v.arguments(
    images=_v.Tensor(),
    ncols=_v.Int(1),
    labels=_v.Optional(_v.Each(_v.Text(or_number=True))),
    image_shape=_v.Each(_v.Int(1), length=2),
    symmetric=_v.Flag(),
    cmap=_v.Text(),
    **_PANEL,
)
def image_grid(images, ncols=10, labels=None, ax=None, title=None, image_shape=(8, 8), cmap="gray_r", symmetric=False):
    """Tile small images (e.g. 8 × 8 digits or a neuron's input weights) into one grid on `ax`.

    Parameters
    ----------
    images : array of shape (n_images, h * w) or (n_images, h, w)
    ncols : images per row.
    labels : optional sequence of n_images short strings, written above each image.
    image_shape : (h, w) used when the images are flattened.
    cmap, symmetric : colour map; with ``symmetric=True`` the colour scale is centred on 0 (for weights).
    """
    images = _numpy(images).astype(float)
    if images.ndim == 2:
        h, w = image_shape
        if images.shape[1] != h * w:
            raise ValueError(f"images of {images.shape[1]} pixels cannot be shown as {h} × {w}: pass image_shape")
        images = images.reshape(-1, h, w)
    if images.ndim != 3 or len(images) == 0:
        raise ValueError(f"images must have shape (n_images, h * w) or (n_images, h, w), got {images.shape}")
    if labels is not None and len(labels) != len(images):
        raise ValueError(f"labels must have one entry per image ({len(images)}), got {len(labels)}")
    n, h, w = images.shape
    ncols = max(1, min(int(ncols), n))
    nrows = -(-n // ncols)
    pad = 1
    top = 3 if labels is not None else pad  # room above each image for its label
    canvas = np.full((nrows * (h + top) + pad, ncols * (w + pad) + pad), np.nan)
    for index, image in enumerate(images):
        r, c = divmod(index, ncols)
        canvas[top + r * (h + top) : top + r * (h + top) + h, pad + c * (w + pad) : pad + c * (w + pad) + w] = image
    ax = _axes(ax, figsize=(0.6 * ncols + 0.4, 0.6 * nrows * (h + top) / (h + pad) + 0.6))
    if symmetric:
        limit = float(np.nanmax(np.abs(canvas))) or 1.0
        ax.imshow(canvas, cmap="RdBu_r" if cmap == "gray_r" else cmap, vmin=-limit, vmax=limit)
    else:
        ax.imshow(canvas, cmap=cmap)
    if labels is not None:
        for index, label in enumerate(labels):
            r, c = divmod(index, ncols)
            ax.text(
                pad + c * (w + pad) + w / 2 - 0.5,
                r * (h + top) + top - 0.8,
                str(label),
                ha="center",
                va="bottom",
                fontsize=7,
            )
    ax.set_xticks([])
    ax.set_yticks([])
    if title:
        ax.set_title(title)
    return ax


# Chapter 04


@_v.arguments(
    dots=_v.Tensor(),
    n=_v.Int(1),
    eps=_v.Optional(_v.Real(0, 1, low_open=True)),
    bins=_v.Int(1, 1_000),
    xlim=_v.Optional(_v.Each(_v.Real(), length=2)),
    color=_v.Text(),
    label=_v.Optional(_v.Text()),
    **_PANEL,
)
def dot_product_histogram(dots, n, ax=None, eps=None, bins=60, title=None, xlim=None, color="tab:blue", label=None):
    """Histogram (as a density) of sampled dot products `dots` of unit vectors in R^n, with the exact density
    `geometry.dot_product_density` drawn over it and, when `eps` is given, the band |t| < eps shaded.

    By default the x-axis fits this n (±6/√n). Pass ``xlim=(-1, 1)`` and one `ax` with a `label` per call to
    overlay several dimensions on one shared axis, where the narrowing like 1/√n is visible."""
    from .geometry import dot_product_density

    dots = _numpy(dots).ravel()
    if dots.size == 0:
        raise ValueError("dots must contain at least one sampled dot product")
    if np.abs(dots).max() > 1 + 1e-3:
        raise ValueError(f"dots must be dot products of unit vectors, in [-1, 1], got up to {np.abs(dots).max():.4g}")
    if xlim is not None and not (len(xlim) == 2 and -1 <= xlim[0] < xlim[1] <= 1):
        raise ValueError(f"xlim must be (low, high) with -1 <= low < high <= 1, got {xlim!r}")
    ax = _axes(ax, figsize=(5, 3.5))
    ax.hist(dots, bins=bins, range=(-1, 1) if n <= 6 else None, density=True, color=color, alpha=0.5, label=label)
    half_width = min(1.0, 6 / np.sqrt(n)) if n > 6 else 1.0
    low, high = (-half_width, half_width) if xlim is None else xlim
    t = np.linspace(max(low, -half_width), min(high, half_width), 401)[1:-1]
    curve = "exact density" if label is None else "_exact density"  # one legend entry per overlaid histogram
    ax.plot(t, dot_product_density(torch.tensor(t), n).numpy(), color="black", lw=1.5, label=curve)
    if eps is not None:
        ax.axvspan(-eps, eps, color="tab:green", alpha=0.1, label=f"|t| < ε = {eps:g}")
    ax.set(xlabel="dot product t = u·v", ylabel="density", xlim=(low, high))
    ax.set_title(title or f"n = {n}")
    ax.legend(fontsize=8, loc="upper right")
    return ax


@_v.arguments(
    n=_v.Int(1),
    measured=_v.Optional(_v.Tensor(1)),
    k_range=_v.Optional(_v.Each(_v.Int(2), length=2)),
    spread=_v.Optional(_v.Tensor(1)),
    ks=_v.Tensor(1, nonempty=True),
    **_PANEL,
)
def coherence_versus_k(n, ks, measured=None, ax=None, title=None, k_range=None, spread=None):
    """The coherence of k random unit vectors in R^n against k: the leading-order law √(4 ln k / n), the
    second-order estimate and the Welch bound, with `measured` values (one per k, optional) as dots and, when
    given, their `spread` (one per k, e.g. the standard deviation over repeated draws) as error bars.

    The curves span `k_range` = (k_min, k_max), by default the range of `ks` (pass it when `ks` is one k)."""
    from .geometry import coherence_estimate, welch_bound

    ks = _numpy(ks)
    if (ks < 2).any():
        raise ValueError(f"ks must be numbers of vectors >= 2, got {ks!r}")
    if k_range is None and ks.min() == ks.max():
        raise ValueError(f"ks must hold at least two different k to span the curves, got {ks!r}; or pass k_range")
    low, high = (ks.min(), ks.max()) if k_range is None else k_range
    if not 2 <= low < high:
        raise ValueError(f"k_range must be (k_min, k_max) with 2 <= k_min < k_max, got {k_range!r}")
    ax = _axes(ax, figsize=(5, 3.5))
    dense = np.unique(np.geomspace(low, high, 200).astype(int))
    leading = [coherence_estimate(int(k), n, order=1) for k in dense]
    ax.plot(dense, leading, "--", color="tab:orange", label="√(4 ln k / n)")
    ax.plot(dense, [coherence_estimate(int(k), n, order=2) for k in dense], color="tab:red", label="second order")
    ax.plot(dense, [welch_bound(int(k), n) for k in dense], color="tab:green", label="Welch bound (floor)")
    if measured is not None:
        measured = _numpy(measured)
        if measured.shape != ks.shape:
            raise ValueError(f"measured must have one value per k ({ks.size}), got shape {measured.shape}")
        if spread is None:
            ax.plot(ks, measured, "o", color="tab:blue", label="measured")
        else:
            spread = _numpy(spread)
            if spread.shape != ks.shape or (spread < 0).any():
                raise ValueError(f"spread must have one non-negative value per k ({ks.size}), got {spread!r}")
            ax.errorbar(ks, measured, yerr=spread, fmt="o", color="tab:blue", capsize=3, label="measured")
    elif spread is not None:
        raise ValueError("spread needs measured: pass the measured values the error bars belong to")
    ax.set(xscale="log", xlabel="number of vectors k", ylabel="coherence  max |cos|", ylim=(0, None))
    ax.set_title(title or f"coherence of k random unit vectors in R^{n}")
    ax.legend(fontsize=8)
    return ax


# Chapter 06


@_v.arguments(
    W=_v.Tensor(),
    vmax=_v.Optional(_v.Real(0, low_open=True)),
    colorbar=_v.Either(_v.Flag(), _v.Each(_v.Instance(matplotlib.axes.Axes, what="matplotlib Axes"))),
    **_PANEL,
)
def feature_norm_bars(W, ax=None, title=None, vmax=None, colorbar=True):
    """Elhage et al.'s per-feature bars: length ‖Wᵢ‖, colour how much the feature shares its direction.

    W has shape (d_hidden, n_features); feature 0 is drawn at the top. The colour is the feature's
    superposition ``Σⱼ≠ᵢ (Ŵᵢ·Wⱼ)²`` (`superpose_lib.metrics.superposition`), unclipped, on a linear scale from
    0 (dark blue) to `vmax` (yellow) of the plasma map. For features of length 1 it counts how many other
    features' worth of its direction the feature shares: 0 alone, 1 in an antipodal pair, 1.5 in a regular
    pentagon, ``k / m − 1`` for k features spread evenly over m dimensions. Values above `vmax` are drawn yellow
    (the arrow of the colour bar).

    Parameters
    ----------
    vmax : positive float, optional
        The top of the colour scale. Pass the same value to panels that should be compared. By default the
        largest value among the represented features (‖Wᵢ‖ > 0.5), and at least 1.
    colorbar : bool or sequence of Axes
        True: a colour bar beside `ax`; a sequence of axes (a row of panels): one shared bar beside them all;
        False: none.
    """
    from matplotlib.colors import Normalize
    from matplotlib.ticker import MaxNLocator

    from .metrics import superposition

    W = torch.as_tensor(_numpy(W))
    if W.ndim != 2:
        raise ValueError(f"W must have shape (d_hidden, n_features), got {tuple(W.shape)}")
    norms = W.norm(dim=0).numpy()
    overlap = superposition(W).numpy()
    if vmax is None:
        vmax = max(1.0, float(overlap[norms > 0.5].max(initial=0.0)))
    scale = Normalize(0.0, vmax)
    ax = _axes(ax, figsize=(3, 0.25 * W.shape[1] + 1))
    ax.barh(np.arange(W.shape[1]), norms, color=plt.cm.plasma(scale(overlap)), edgecolor="0.3", linewidth=0.5)
    ax.set(ylim=(W.shape[1] - 0.5, -0.5), xlabel="‖Wᵢ‖", ylabel="feature (by importance)")
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    if colorbar is not False:
        beside = [ax] if colorbar is True else colorbar  # the declared list of Axes
        mappable = plt.cm.ScalarMappable(norm=scale, cmap="plasma")
        ax.figure.colorbar(mappable, ax=beside, extend="max", label="Σⱼ≠ᵢ (Ŵᵢ·Wⱼ)²")
    if title:
        ax.set_title(title)
    return ax


# Chapter 07


@_v.arguments(
    phases=_v.Tensor(2),
    relative_importance=_v.Tensor(1),
    density=_v.Tensor(1),
    names=_v.Optional(_v.Each(_v.Text(), length=3)),
    **_PANEL,
)
def phase_map(phases, relative_importance, density, ax=None, title=None, names=None):
    """Colour a (len(relative_importance), len(density)) grid of phase labels 0, 1, 2 on log-log axes."""
    from matplotlib.colors import ListedColormap

    phases = _numpy(phases)
    r, p = _numpy(relative_importance), _numpy(density)
    if phases.shape != (len(r), len(p)):
        raise ValueError(f"phases must have shape (len(relative_importance), len(density)) = {(len(r), len(p))}")
    names = names or ["extra feature dropped", "extra feature gets the dimension", "antipodal pair"]
    colors = ["#d9d9d9", "#6baed6", "#fd8d3c"]
    ax = _axes(ax, figsize=(5, 4))
    ax.pcolormesh(p, r, phases, cmap=ListedColormap(colors), vmin=-0.5, vmax=2.5, shading="nearest")
    ax.set(xscale="log", yscale="log", xlabel="feature density 1 − S")
    ax.set_ylabel("relative importance of the extra feature")
    for color, name in zip(colors, names):
        ax.scatter([], [], marker="s", color=color, label=name)
    ax.legend(loc="upper left", fontsize=7, framealpha=0.9)
    if title:
        ax.set_title(title)
    return ax


@_v.arguments(W=_v.Tensor(2, nonempty=True), min_weight=_v.Real(0), colorbar=_v.Flag(), **_PANEL)
def neuron_weight_stacks(W, ax=None, title=None, min_weight=0.0, colorbar=True):
    """Elhage et al.'s neuron stack plot: one column per neuron, its input weights stacked, coloured by feature.

    W has shape (n_neurons, n_features), a hidden ReLU layer's input weights (neurons as rows, features ordered
    by importance). Each weight of size at least `min_weight` is a block of height ``|w|``: positive weights
    stack upwards from 0, negative ones downwards, so a monosemantic neuron is one block and a polysemantic
    neuron a tower of several. The colour is the feature's index on the viridis map, from 0 (dark: the most
    important) to the largest index drawn. Neurons are drawn in the order of their largest weight's feature, most
    important first; the x tick labels give each column's neuron index.

    Parameters
    ----------
    min_weight : non-negative float
        Leave out weights smaller than this (0: draw them all).
    colorbar : bool
        Draw a colour bar for the feature index beside `ax`.
    """
    from matplotlib.colors import Normalize

    W = _numpy(W)
    n_neurons = W.shape[0]
    drawn = np.abs(W) >= min_weight if min_weight > 0 else np.abs(W) > 0
    order = np.argsort(np.abs(W).argmax(axis=1), kind="stable")  # neurons by their main feature's importance
    scale = Normalize(0, max(int(np.flatnonzero(drawn.any(axis=0)).max(initial=0)), 1))
    ax = _axes(ax, figsize=(0.2 * n_neurons + 2, 3))
    for column, neuron in enumerate(order):
        for sign in (1, -1):
            weights = W[neuron] * sign
            features = np.flatnonzero((weights > 0) & drawn[neuron])
            heights = weights[features]
            bottoms = np.concatenate([[0.0], np.cumsum(heights)[:-1]])
            ax.bar(np.full(len(features), column), sign * heights, bottom=sign * bottoms, width=0.8,
                   color=plt.cm.viridis(scale(features)), edgecolor="white", linewidth=0.3)  # fmt: skip
    ax.axhline(0, color="0.3", lw=0.6)
    ax.set_xticks(np.arange(n_neurons), [str(n) for n in order], fontsize=6)
    ax.set(
        xlim=(-0.6, n_neurons - 0.4),
        xlabel="neuron (by its largest weight's feature)",
        ylabel="|input weight|, stacked",
    )
    if colorbar:
        ax.figure.colorbar(plt.cm.ScalarMappable(norm=scale, cmap="viridis"), ax=ax, label="feature (by importance)")
    if title:
        ax.set_title(title)
    return ax


# Chapter 08


@_v.arguments(a=_v.Tensor(1), b=_v.Real(), **_PANEL)
def l1_ball_meets_line(a, b, ax=None, title=None):
    """The solutions of a₁z₁ + a₂z₂ = b (a line), the smallest L1 ball (a diamond) and L2 ball (a circle)
    that touch it: the diamond touches at a corner, on an axis (a sparse solution); the circle does not."""
    a = _numpy(a).astype(float).ravel()
    if a.shape != (2,) or not np.all(a != 0):
        raise ValueError(f"a must be two nonzero coefficients (a₁, a₂), got {a!r}")
    ax = _axes(ax)
    r1 = abs(b) / np.abs(a).max()  # the L1 radius where the diamond first touches the line
    r2 = abs(b) / np.linalg.norm(a)  # the L2 radius where the circle first touches it
    span = 1.4 * max(abs(b) / np.abs(a).min(), r1)
    t = np.linspace(-span, span, 200)
    ax.plot(t, (b - a[0] * t) / a[1], color="black", lw=1.5, label="solutions of a·z = b")
    diamond = r1 * np.array([[1, 0], [0, 1], [-1, 0], [0, -1], [1, 0]])
    ax.plot(diamond[:, 0], diamond[:, 1], color="tab:red", lw=2, label=f"L1 ball, radius {r1:.2f}")
    angle = np.linspace(0, 2 * np.pi, 200)
    ax.plot(r2 * np.cos(angle), r2 * np.sin(angle), color="tab:blue", lw=2, ls="--", label=f"L2 ball, radius {r2:.2f}")
    corner = np.zeros(2)
    corner[np.argmax(np.abs(a))] = b / a[np.argmax(np.abs(a))]
    ax.scatter(*corner, color="tab:red", zorder=3, s=40)
    ax.scatter(*(b * a / (a @ a)), color="tab:blue", zorder=3, s=40)
    ax.axhline(0, color="grey", lw=0.5)
    ax.axvline(0, color="grey", lw=0.5)
    limit = 1.2 * max(r1, r2, abs(b) / np.abs(a).max())
    ax.set(xlim=(-limit, limit), ylim=(-limit, limit), xlabel="z₁", ylabel="z₂", aspect="equal")
    ax.legend(loc="lower left", fontsize=7)
    ax.set_title(title or "The L1 ball touches the line at a corner")
    return ax


@_v.arguments(gaps=_v.Each(_v.Tensor(1)), bounds=_v.Each(_v.Tensor(1)), labels=_v.Each(_v.Text()), **_PANEL)
def convergence_against_bounds(gaps, bounds, labels, ax=None, title=None):
    """Objective gaps F(z_t) − F* (one curve per method) on log–log axes, each with its bound dashed."""
    ax = _axes(ax, figsize=(5, 3.5))
    colors = ["tab:orange", "tab:green", "tab:purple", "tab:brown"]
    for gap, bound, label, color in zip(gaps, bounds, labels, colors):
        gap, bound = _numpy(gap), _numpy(bound)
        t = np.arange(1, len(gap) + 1)
        ax.loglog(t, np.maximum(gap, 1e-16), color=color, label=f"{label}: measured gap")
        ax.loglog(t, bound, color=color, ls="--", label=f"{label}: bound")
    ax.set(xlabel="iteration t", ylabel="F(z_t) − F*")
    ax.legend(fontsize=7)
    ax.set_title(title or "Measured objective gaps under their bounds")
    return ax


@_v.arguments(
    success=_v.Tensor(2),
    deltas=_v.Tensor(1),
    rhos=_v.Tensor(1),
    theory=_v.Optional(_v.Each(_v.Tensor(1), length=2)),
    **_PANEL,
)
def phase_diagram(success, deltas, rhos, theory=None, ax=None, title=None):
    """Success rates on a (ρ, δ) grid as a heatmap (δ = n/N across, ρ = s/n up), with a curve over it.

    `success` has shape (len(rhos), len(deltas)); `theory` is an optional pair (δ values, ρ values)."""
    success, deltas, rhos = _numpy(success), _numpy(deltas), _numpy(rhos)
    if success.shape != (len(rhos), len(deltas)):
        raise ValueError(f"success must have shape (len(rhos), len(deltas)) = {(len(rhos), len(deltas))}")
    ax = _axes(ax, figsize=(4.5, 4))
    dd, dr = np.diff(deltas).mean() / 2, np.diff(rhos).mean() / 2
    extent = (deltas[0] - dd, deltas[-1] + dd, rhos[0] - dr, rhos[-1] + dr)
    image = ax.imshow(success, origin="lower", extent=extent, aspect="auto", cmap="viridis", vmin=0, vmax=1)
    plt.colorbar(image, ax=ax, label="fraction recovered")
    if theory is not None:
        ax.plot(_numpy(theory[0]), _numpy(theory[1]), color="white", lw=2, label="theory ρ(δ)")
        ax.legend(loc="upper left", fontsize=7)
    ax.set(xlabel="δ = n / N (measurements per unknown)", ylabel="ρ = s / n (nonzeros per measurement)")
    ax.set_title(title or "Phase transition")
    return ax


# Chapter 10


@_v.arguments(null=_v.Tensor(1), observed=_v.Real(), floor=_v.Optional(_v.Real()), xlabel=_v.Text(), **_PANEL)
def null_distribution_histogram(null, observed, floor=None, ax=None, title=None, xlabel="statistic"):
    """A statistic's random null distribution as a histogram, the observed value as a red line, and an optional
    floor (the least value any arrangement can reach) as a dashed black line."""
    null = _numpy(null).ravel()
    if null.size < 2:
        raise ValueError(f"null must hold at least 2 draws of the statistic, got {null.size}")
    ax = _axes(ax, figsize=(4.5, 3.2))
    width = 1e-3 * max(1.0, abs(float(null[0])))  # all draws equal: one visible bar around their value
    span = None if np.ptp(null) > 0 else (float(null[0]) - width, float(null[0]) + width)
    ax.hist(null, bins=40, range=span, color="0.7", label=f"random directions ({null.size} draws)")
    ax.axvline(float(observed), color="tab:red", lw=2, label="trained model")
    if floor is not None:
        ax.axvline(float(floor), color="black", ls="--", lw=1, label="floor k/d − 1")
    ax.set(xlabel=xlabel, ylabel="count")
    ax.legend(fontsize=7)
    ax.set_title(title or "Observed statistic against its random null")
    return ax


@_v.arguments(
    d_hidden=_v.Tensor(1, nonempty=True),
    fractions=_v.Each(_v.Tensor(1)),
    labels=_v.Each(_v.Text()),
    reference=_v.Optional(_v.Each(_v.Either(_v.Tensor(1), _v.Text()), length=3)),
    ylabel=_v.Text(),
    **_PANEL,
)
def superposition_versus_hidden_size(d_hidden, fractions, labels, reference=None, ax=None, title=None,
                                     ylabel="fraction of represented features in superposition"):  # fmt: skip
    """One curve per setting (e.g. density) of a fraction against the hidden size; `reference` is an optional
    (d values, fraction values, label) triple drawn dashed."""
    d_hidden = _numpy(d_hidden)
    fractions = [_numpy(f) for f in fractions]
    if len(fractions) != len(labels) or any(f.shape != d_hidden.shape for f in fractions):
        raise ValueError("fractions must hold one curve per label, each with one value per hidden size in d_hidden")
    ax = _axes(ax, figsize=(5, 3.5))
    for fraction, label in zip(fractions, labels):
        ax.plot(d_hidden, fraction, "o-", ms=4, label=label)
    if reference is not None:
        ax.plot(_numpy(reference[0]), _numpy(reference[1]), color="black", ls="--", lw=1, label=reference[2])
    ax.set(xlabel="hidden size d", ylabel=ylabel, ylim=(-0.03, 1.03))
    ax.legend(fontsize=7)
    ax.set_title(title or "Superposition against hidden size")
    return ax


@_v.arguments(
    p_values=_v.Each(_v.Tensor(1)),
    labels=_v.Each(_v.Text()),
    alpha=_v.Real(0, 1, low_open=True, high_open=True),
    **_PANEL,
)
def p_value_histograms(p_values, labels, alpha=0.05, ax=None, title=None):
    """Histograms of p-values on [0, 1], one outline per label, with the uniform density (a valid test at its
    null's boundary) as a dashed line and the level `alpha` as a dotted one."""
    p_values = [_numpy(p).ravel() for p in p_values]
    if len(p_values) != len(labels) or any(p.size == 0 for p in p_values):
        raise ValueError("p_values must hold one non-empty set of p-values per label")
    if any(((p < 0) | (p > 1)).any() for p in p_values):
        raise ValueError("p_values must lie in [0, 1]")
    ax = _axes(ax, figsize=(4.5, 3.2))
    bins = np.linspace(0, 1, 21)
    for p, label in zip(p_values, labels):
        ax.hist(p, bins=bins, density=True, histtype="step", lw=1.5, label=f"{label} ({p.size})")
    ax.axhline(1.0, color="black", ls="--", lw=1, label="uniform")
    ax.axvline(alpha, color="tab:red", ls=":", lw=1, label=f"level {alpha:g}")
    ax.set(xlabel="p-value", ylabel="density", xlim=(0, 1))
    ax.legend(fontsize=7)
    ax.set_title(title or "p-values of models without superposition")
    return ax


@_v.arguments(
    density=_v.Tensor(1),
    power=_v.Each(_v.Tensor(1)),
    labels=_v.Each(_v.Text()),
    alpha=_v.Real(0, 1, low_open=True, high_open=True),
    **_PANEL,
)
def power_versus_density(density, power, labels, alpha=0.05, ax=None, title=None):
    """A test's rejection rate against feature density (log axis), one curve per label, with the level."""
    density = _numpy(density)
    power = [_numpy(p) for p in power]
    if len(power) != len(labels) or any(p.shape != density.shape for p in power):
        raise ValueError("power must hold one curve per label, each with one value per density")
    ax = _axes(ax, figsize=(4.5, 3.2))
    for curve, label in zip(power, labels):
        ax.plot(density, curve, "o-", ms=4, label=label)
    ax.axhline(alpha, color="tab:red", ls=":", lw=1, label=f"level {alpha:g}")
    ax.set(xscale="log", xlabel="feature density", ylabel="share of models rejected", ylim=(-0.03, 1.03))
    ax.legend(fontsize=7)
    ax.set_title(title or "Power against density")
    return ax


@_v.arguments(word=_v.Text(), parts=_v.Each(_v.Instance(dict, what="dict from atoms.decompose")), **_PANEL)
def word_atoms_bars(word, parts, ax=None, title=None):
    """A word's sparse code as horizontal bars: one bar per atom, its coefficient, labelled by the atom's words.

    `parts` is what `atoms.decompose` returns: dicts with "atom", "coefficient" and "words", largest first.
    """
    if not parts:
        raise ValueError("parts must list at least one atom (the output of atoms.decompose)")
    ax = _axes(ax, figsize=(6, 0.5 + 0.45 * len(parts)))
    coefficients = [part["coefficient"] for part in parts]
    labels = [f"atom {part['atom']}: " + ", ".join(part["words"]) for part in parts]
    positions = np.arange(len(parts))[::-1]
    ax.barh(positions, coefficients, color=["tab:blue" if c > 0 else "tab:red" for c in coefficients])
    ax.set_yticks(positions, labels, fontsize=8)
    ax.axvline(0, color="black", lw=0.8)
    ax.set_xlabel("coefficient in the word's code")
    ax.set_title(title or f"'{word}' as a sum of atoms")
    return ax


@_v.arguments(records=_v.Each(_v.Instance(dict, what="dict of scores")), x=_v.Text(), y=_v.Text(), **_PANEL)
def tradeoff_scatter(records, x="explained_variance", y="coherence", ax=None, title=None):
    """One point per method, named in the legend: `records` are dicts with "method" and the two keys `x` and `y`.

    A legend rather than labels beside the points: methods with close scores would print their names over
    each other.
    """
    if not records:
        raise ValueError("records must hold at least one method's scores")
    for key, name in (("method", "records"), (x, "x"), (y, "y")):
        if any(key not in record for record in records):
            raise ValueError(f"{name}: every record must have the key {key!r}, got keys {sorted(records[0])}")
    ax = _axes(ax, figsize=(5.5, 4))
    markers = "osD^v<>Pp*hX"
    for i, record in enumerate(records):
        ax.scatter(record[x], record[y], s=45, marker=markers[i % len(markers)], label=record["method"])
    ax.legend(fontsize=8, loc="best")
    ax.margins(x=0.1, y=0.1)
    ax.set(xlabel=x.replace("_", " "), ylabel=y.replace("_", " "))
    ax.set_title(title or "Reconstruction against interpretability")
    return ax
