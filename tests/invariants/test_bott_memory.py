"""Dense Bott index, one-lattice route: lean memory (issue 13: about 20·m² bytes, m = 2N²)."""

from __future__ import annotations

import tracemalloc

import numpy as np

from topoml.hamiltonians.pip import clean_lattice
from topoml.invariants import bott as bott_mod
from topoml.invariants.bott import bott_index_hamiltonian
from topoml.hamiltonians.pip import bdg_hamiltonian


def test_single_route_peak_memory_about_20_m2():
    N = 16
    m = 2 * N * N
    x = clean_lattice(N, -1.0, 0.2, 0.15)
    x[3, 5, 0] += 0.4  # break translation symmetry (degenerate spectrum otherwise)
    bott_mod._bott_single(x)  # warm-up (LAPACK pointers, phases)
    tracemalloc.start()
    try:
        raw, gap = bott_mod._bott_single(x)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak <= 22 * m * m, f"peak {peak / m**2:.1f}·m² bytes"  # the previous route: 48·m²
    ref = bott_index_hamiltonian(bdg_hamiltonian(x))
    assert round(raw) == 1 == int(ref.label)
    assert abs(raw - float(ref.raw)) < 1e-9 and abs(gap - float(ref.gap)) < 1e-9 * max(1.0, gap)


def test_bidiagonal_svd_matches_numpy():
    rng = np.random.default_rng(0)
    d, e = rng.normal(size=40), rng.normal(size=39)
    s, U, VT = bott_mod._bidiagonal_svd(d, e)
    B = np.diag(d) + np.diag(e, 1)  # upper bidiagonal
    np.testing.assert_allclose(U @ np.diag(s) @ VT, B, atol=1e-12)
    np.testing.assert_allclose(s, np.linalg.svd(B, compute_uv=False), rtol=1e-12)
