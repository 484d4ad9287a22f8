"""Topological invariants (numpy/scipy only): winding numbers, Bott index, Chern numbers."""

from topoml.invariants.winding import winding_diagnostics, winding_number

__all__ = ["winding_number", "winding_diagnostics"]
from topoml.invariants.bott import BottResult, bott_index, bott_index_hamiltonian, bott_phase_diagram
from topoml.invariants.chern import chern_number, clean_chern_number, fhs_chern_number
from topoml.invariants.parity import ParityResult, fermion_parity

__all__ += [
    "BottResult",
    "bott_index",
    "bott_index_hamiltonian",
    "bott_phase_diagram",
    "chern_number",
    "clean_chern_number",
    "fhs_chern_number",
    "ParityResult",
    "fermion_parity",
]
from topoml.invariants.lattice_chern import ChernNumbers, chern_numbers

__all__ += ["ChernNumbers", "chern_numbers"]
from topoml.invariants.kpm import KPMResult, kpm_chern_number

__all__ += ["KPMResult", "kpm_chern_number"]
