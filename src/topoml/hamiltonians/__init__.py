"""Lattice and Bloch Hamiltonians (numpy/scipy only)."""
