"""Figures the notebooks share. Every function draws on `ax` (a new figure when None) and returns it."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import torch


def _axes(ax, figsize=(4, 4)):
    if ax is None:
        _, ax = plt.subplots(figsize=figsize)
    return ax


def _numpy(value) -> np.ndarray:
    if isinstance(value, torch.Tensor):
        return value.detach().cpu().numpy()
    return np.asarray(value)


def feature_directions_2d(W, ax=None, title=None, labels=None):
    """Draw the columns of a (2, n_features) matrix W as arrows from the origin, with the unit circle."""
    W = _numpy(W)
    if W.ndim != 2 or W.shape[0] != 2:
        raise ValueError(f"W must have shape (2, n_features) to be drawn in the plane, got {W.shape}")
    ax = _axes(ax)
    angle = np.linspace(0, 2 * np.pi, 200)
    ax.plot(np.cos(angle), np.sin(angle), color="0.85", lw=1)
    colors = plt.cm.viridis(np.linspace(0, 0.9, W.shape[1]))
    for i in range(W.shape[1]):
        ax.annotate("", xy=W[:, i], xytext=(0, 0), arrowprops={"arrowstyle": "-|>", "color": colors[i], "lw": 2})
        label = labels[i] if labels is not None else str(i)
        ax.text(*(1.12 * W[:, i]), label, color=colors[i], ha="center", va="center")
    limit = max(1.3, 1.25 * float(np.abs(W).max()))
    ax.set(xlim=(-limit, limit), ylim=(-limit, limit), aspect="equal", xlabel="hidden dim 0", ylabel="hidden dim 1")
    if title:
        ax.set_title(title)
    return ax


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
