"""Training curves have integer epoch ticks only (issue 12: ticks at 1.5 epochs)."""

from __future__ import annotations

from topoml.plotting import epoch_axis, new_axes


def test_epoch_axis_has_integer_ticks():
    ax = new_axes()
    ax.plot([1, 2, 3], [0.3, 0.2, 0.1])
    epoch_axis(ax)
    ax.figure.canvas.draw()
    ticks = [t for t in ax.get_xticks() if ax.get_xlim()[0] <= t <= ax.get_xlim()[1]]
    assert ticks and all(float(t).is_integer() for t in ticks)
    assert ax.get_xlabel() == "epoch"
    plain = new_axes()
    plain.plot([1, 2, 3], [0.3, 0.2, 0.1])
    plain.figure.canvas.draw()
    assert any(not float(t).is_integer() for t in plain.get_xticks())  # what epoch_axis prevents
