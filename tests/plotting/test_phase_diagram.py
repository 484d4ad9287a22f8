"""Drawing phase diagrams (topoml.plotting.phase_diagram; the labels are tested in tests/invariants/test_bott.py)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from topoml.errors import InputError, ShapeError  # noqa: E402
from topoml.invariants.bott import bott_phase_diagram  # noqa: E402
from topoml.plotting.phase_diagram import plot_phase_diagram  # noqa: E402


@pytest.fixture(autouse=True)
def plain_text():
    """Other imports (e.g. pybott) may switch on usetex globally; these tests draw without LaTeX."""
    with matplotlib.rc_context({"text.usetex": False}):
        yield


@pytest.fixture(scope="module")
def disorder() -> np.ndarray:
    rng = np.random.default_rng(42)
    d = rng.uniform(-0.5, 0.5, (4, 4, 3)) * [0.3, 0.2, 0.05]
    return d - d.mean(axis=(0, 1))  # zero mean per channel


def test_plot_returns_axes(disorder, tmp_path):
    mu, tm = np.linspace(-3, 3, 6), np.linspace(-1, 1, 5)
    pd = bott_phase_diagram(disorder, mu, tm, 0.15)
    ax = plot_phase_diagram(pd.label, mu, tm, title="4×4")
    assert ax.get_xlabel() and ax.get_ylabel() and ax.get_title() == "4×4"
    ax.figure.savefig(tmp_path / "pd.png")
    assert (tmp_path / "pd.png").stat().st_size > 0
    plt.close(ax.figure)
    fig, given_ax = plt.subplots()
    out = plot_phase_diagram(pd.label, mu, tm, ax=given_ax, colorbar=False, clean_boundaries=False)
    assert out is given_ax
    plt.close(fig)


def test_plot_handles_two_and_single_cells():
    labels = np.array([[-2, 1], [0, 2]])
    ax = plot_phase_diagram(labels, np.array([-1.0, 1.0]), np.array([0.0, 0.5]))
    mesh = ax.collections[0]
    # x = μ̄, y = t̄₋: the mesh holds labels[a, b] at (μ̄[a], t̄₋[b]), one colour per integer
    assert np.array_equal(np.asarray(mesh.get_array()).reshape(2, 2), labels.T)
    assert np.allclose(mesh.get_coordinates()[0, :, 0], [-2.0, 0.0, 2.0])  # cell edges midway, μ̄ on x
    colours = mesh.cmap(mesh.norm(np.asarray(mesh.get_array())))
    assert len({tuple(c) for c in np.round(np.asarray(colours).reshape(-1, 4), 6)}) == 4  # four labels, four colours
    plt.close(ax.figure)
    # one cell: a finite, non-degenerate cell centred on the single grid point
    ax = plot_phase_diagram(np.array([[1]]), np.array([-1.0]), np.array([0.2]), colorbar=False)
    xy = ax.collections[0].get_coordinates()
    assert xy.shape == (2, 2, 2) and np.all(np.isfinite(xy))
    assert xy[0, 0, 0] < -1.0 < xy[0, 1, 0] and xy[0, 0, 1] < 0.2 < xy[1, 0, 1]
    plt.close(ax.figure)


def test_bad_input():
    with pytest.raises(ShapeError):
        plot_phase_diagram(np.zeros((2, 3)), np.zeros(3), np.zeros(2))
    with pytest.raises(ShapeError):
        plot_phase_diagram(np.zeros(3), np.zeros(3), np.zeros(1))
    with pytest.raises(InputError):
        plot_phase_diagram(np.zeros((1, 2)), np.array([np.nan]), np.zeros(2))
