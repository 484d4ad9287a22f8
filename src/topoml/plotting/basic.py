"""Basic plots used by the reports. Figures are built with :class:`matplotlib.figure.Figure`
directly (no pyplot global state, works headless)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib.figure import Figure

__all__ = ["new_axes", "line_plot", "heatmap", "histograms"]


def new_axes(width: float = 5.0, height: float = 3.6):
    """A fresh figure with one axes; returns ``ax`` (``ax.figure`` is the figure)."""
    fig = Figure(figsize=(width, height))
    return fig.add_subplot(1, 1, 1)


def epoch_axis(ax, label: str = "epoch"):
    """Label the x axis as epochs, with integer ticks only (no tick at 1.5 epochs); returns ``ax``."""
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel(label)
    return ax


def line_plot(
    x: Sequence[float],
    series: Mapping[str, Sequence[float]],
    *,
    errors: Mapping[str, Sequence[float]] | None = None,
    xlabel: str = "",
    ylabel: str = "",
    title: str = "",
    xscale: str = "linear",
    yscale: str = "linear",
    style: str = "-o",
    ax=None,
):
    """One line per entry of ``series`` over ``x`` (optional error bars); returns ``ax``."""
    ax = ax if ax is not None else new_axes()
    for name, y in series.items():
        err = None if errors is None else errors.get(name)
        if err is not None:
            ax.errorbar(x, y, yerr=err, fmt=style, label=name, capsize=3, ms=4)
        else:
            ax.plot(x, y, style, label=name, ms=4)
    ax.set_xscale(xscale)
    ax.set_yscale(yscale)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    if series:
        ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    return ax


def heatmap(
    z: np.ndarray,
    x: np.ndarray,
    y: np.ndarray,
    *,
    xlabel: str = "",
    ylabel: str = "",
    title: str = "",
    cmap: str = "viridis",
    colorbar: str = "",
    ax=None,
):
    """``z[i, j]`` at ``x[j]``, ``y[i]`` as an image with a colour bar; returns ``ax``."""
    ax = ax if ax is not None else new_axes()
    im = ax.pcolormesh(x, y, z, shading="auto", cmap=cmap)
    ax.figure.colorbar(im, ax=ax, label=colorbar)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    return ax


def histograms(
    samples: Mapping[str, np.ndarray],
    *,
    bins: np.ndarray | int = 100,
    xlabel: str = "",
    title: str = "",
    ax=None,
):
    """Normalized histograms (each sums to 1), one per entry; returns ``ax``."""
    ax = ax if ax is not None else new_axes()
    for name, s in samples.items():
        s = np.asarray(s)
        w = np.full(len(s), 1.0 / max(len(s), 1))
        ax.hist(s, bins=bins, weights=w, histtype="stepfilled", alpha=0.55, label=name)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("fraction")
    if title:
        ax.set_title(title)
    if samples:
        ax.legend(fontsize=8)
    return ax
