"""Plotting helpers (matplotlib, no pyplot state): functions take ``ax=None`` and return ``ax``."""

from topoml.plotting.basic import epoch_axis, heatmap, histograms, line_plot, new_axes

__all__ = ["new_axes", "line_plot", "heatmap", "histograms", "epoch_axis"]
