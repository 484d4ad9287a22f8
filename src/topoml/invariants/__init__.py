"""Topological invariants (numpy/scipy only): winding numbers, Bott index, Chern numbers."""

from topoml.invariants.winding import winding_diagnostics, winding_number

__all__ = ["winding_number", "winding_diagnostics"]
