"""Topological invariants (numpy/scipy only, never torch).

1D chiral (AIII) chains: :func:`winding_number` (Bloch, k-space), :func:`real_space_winding_number`
(open or periodic chains, disordered), :func:`ring_winding_number` (twisted ring, 10⁶ cells), and the
exact disorder phase boundary (:mod:`topoml.invariants.disorder`).
2D class-D p+ip lattices: :func:`bott_index` (dense, exact on the torus) and the spectra behind it
(:func:`bott_spectrum`), :func:`chern_number` /
:func:`clean_chern_number` / :func:`fhs_chern_number` (clean, k-space), :func:`localizer_chern_number`
(sparse, certified; the ``large`` extra), :func:`kpm_chern_number` (sparse KPM Chern marker, with a
stochastic error), :func:`chern_numbers` (one interface over the lattice methods), and the ground-state
:func:`fermion_parity` (Pfaffian).
"""

from topoml.invariants.bott import (BottResult, BottSpectrum, bott_index, bott_index_hamiltonian,
                                    bott_phase_diagram, bott_spectrum)
from topoml.invariants.chain_winding import RingWinding, ring_winding_number
from topoml.invariants.chern import chern_number, clean_chern_number, fhs_chern_number
from topoml.invariants.disorder import critical_mass, disorder_averaged_winding, disorder_winding_exact
from topoml.invariants.kpm import KPMResult, kpm_chern_number
from topoml.invariants.lattice_chern import ChernNumbers, chern_numbers
from topoml.invariants.localizer import LocalizerResult, localizer_chern_number
from topoml.invariants.parity import ParityResult, fermion_parity
from topoml.invariants.real_space import RealSpaceWinding, real_space_winding_number
from topoml.invariants.winding import winding_diagnostics, winding_number

__all__ = [
    "BottResult",
    "BottSpectrum",
    "ChernNumbers",
    "KPMResult",
    "LocalizerResult",
    "ParityResult",
    "RealSpaceWinding",
    "RingWinding",
    "bott_index",
    "bott_index_hamiltonian",
    "bott_phase_diagram",
    "bott_spectrum",
    "chern_number",
    "chern_numbers",
    "clean_chern_number",
    "critical_mass",
    "disorder_averaged_winding",
    "disorder_winding_exact",
    "fermion_parity",
    "fhs_chern_number",
    "kpm_chern_number",
    "localizer_chern_number",
    "real_space_winding_number",
    "ring_winding_number",
    "winding_diagnostics",
    "winding_number",
]
