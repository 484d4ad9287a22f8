"""Phase diagrams of one disorder realization over the averages ``(μ̄, t̄₋)`` (margalit2022, Fig. 2).

Drawing only: the labels come from :func:`topoml.invariants.bott.bott_phase_diagram` (or a network's
predictions), e.g.::

    r = bott_phase_diagram(disorder, mu_bar, t_minus_bar, 0.15, workers=2)
    ax = plot_phase_diagram(r.label, mu_bar, t_minus_bar)

:func:`plot_phase_diagram` takes ``ax=None`` and returns the ``Axes`` it drew on; nothing here calls
``plt.show`` or changes the backend, so it works under Agg.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from topoml.errors import InputError, ShapeError

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes

__all__ = ["plot_phase_diagram"]


def _edges(c: np.ndarray) -> np.ndarray:
    """Cell edges around (sorted or not) 1D grid centers, for pcolormesh."""
    if c.size == 1:
        return np.array([c[0] - 0.5, c[0] + 0.5])
    mid = 0.5 * (c[1:] + c[:-1])
    return np.concatenate([[2 * c[0] - mid[0]], mid, [2 * c[-1] - mid[-1]]])


def plot_phase_diagram(
    labels: np.ndarray,
    mu_bar: np.ndarray,
    t_minus_bar: np.ndarray,
    *,
    ax: Axes | None = None,
    clean_boundaries: bool = True,
    colorbar: bool = True,
    cmap: str = "coolwarm",
    title: str | None = None,
) -> Axes:
    """Draw labels over ``(μ̄, t̄₋)`` with a discrete colour per integer and the clean phase boundaries.

    Parameters
    ----------
    labels : array_like of shape (A, B)
        Labels ``[a, b]`` at ``(mu_bar[a], t_minus_bar[b])`` (integers: Bott labels, e.g. the ``label`` of
        :func:`~topoml.invariants.bott.bott_phase_diagram`, or a network's predictions).
    mu_bar, t_minus_bar : array_like of shapes (A,) and (B,)
        The grids of average chemical potential and hopping anisotropy (units of ``t₊ = 1``).
    ax : matplotlib Axes, optional
        Axes to draw on; a new figure is made when omitted.
    clean_boundaries : bool, default True
        Overlay the clean gap-closing lines ``μ = ±2`` and ``μ = ±2t₋``.
    colorbar : bool, default True
    cmap : str, default "coolwarm"
    title : str, optional

    Returns
    -------
    matplotlib.axes.Axes

    Raises
    ------
    ShapeError
        Labels not 2D or not matching the grids.
    InputError
        NaN/inf in the grids.
    """
    labels = np.asarray(labels)
    mu_bar = np.asarray(mu_bar, dtype=np.float64)
    t_minus_bar = np.asarray(t_minus_bar, dtype=np.float64)
    if labels.ndim != 2 or labels.shape != (mu_bar.size, t_minus_bar.size) or mu_bar.ndim != 1 or t_minus_bar.ndim != 1:
        raise ShapeError(
            f"labels must have shape (len(mu_bar), len(t_minus_bar)) = ({mu_bar.size}, {t_minus_bar.size}), got {labels.shape}"
        )
    if not (np.all(np.isfinite(mu_bar)) and np.all(np.isfinite(t_minus_bar))):
        raise InputError("mu_bar and t_minus_bar must be finite")

    import matplotlib.pyplot as plt
    from matplotlib.colors import BoundaryNorm, ListedColormap

    if ax is None:
        _, ax = plt.subplots(figsize=(5, 4))
    lab = np.rint(np.nan_to_num(labels.astype(np.float64), nan=0.0)).astype(int)
    lo, hi = int(min(lab.min(initial=0), -1)), int(max(lab.max(initial=0), 1))
    values = np.arange(lo, hi + 1)
    base = plt.get_cmap(cmap)
    colours = ListedColormap([base(0.5 + 0.5 * v / max(abs(lo), abs(hi))) for v in values])
    norm = BoundaryNorm(np.arange(lo - 0.5, hi + 1.0), colours.N)
    # x axis: μ̄, y axis: t̄₋ (labels[a, b] is at μ̄[a], t̄₋[b], hence the transpose)
    mesh = ax.pcolormesh(_edges(mu_bar), _edges(t_minus_bar), lab.T, cmap=colours, norm=norm, shading="flat")
    if clean_boundaries:
        t = np.linspace(t_minus_bar.min(), t_minus_bar.max(), 2)
        style = dict(color="k", lw=0.8, ls="--")
        for s in (-2.0, 2.0):
            ax.plot([s, s], [t[0], t[-1]], **style)  # μ = ±2
            ax.plot(s * t, t, **style)  # μ = ±2t₋
        ax.set_xlim(_edges(mu_bar)[[0, -1]].min(), _edges(mu_bar)[[0, -1]].max())
        ax.set_ylim(_edges(t_minus_bar)[[0, -1]].min(), _edges(t_minus_bar)[[0, -1]].max())
    ax.set_xlabel(r"$\bar\mu$")
    ax.set_ylabel(r"$\bar t_-$")
    if title is not None:
        ax.set_title(title)
    if colorbar:
        cb = ax.figure.colorbar(mesh, ax=ax, ticks=values)
        cb.set_label("Bott index")
    return ax
