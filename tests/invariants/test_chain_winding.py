"""Twisted-ring winding number of long chiral chains (topoml.invariants.chain_winding, issue 13)."""

from __future__ import annotations

import numpy as np
import pytest

from topoml.errors import GapClosedError, InputError, ShapeError
from topoml.hamiltonians.ssh import hopping_matrix, mshsp_hoppings, uniform_hoppings
from topoml.invariants.chain_winding import ring_winding_number
from topoml.invariants.disorder import disorder_winding_exact, zero_mode_lyapunov
from topoml.invariants.real_space import real_space_winding_number


def _rswn(v, w):
    return real_space_winding_number(hopping=hopping_matrix(v, w, periodic=True), periodic=True, on_gapless="flag")


def test_clean_chains_match_rswn_and_k_space():
    rng = np.random.default_rng(0)
    n = 0
    for R in (1, 2, 3):
        for _ in range(40):
            vv, ww = rng.uniform(-1, 1), rng.uniform(-1, 1, R)
            v, w = uniform_hoppings(60, vv, ww)
            r = ring_winding_number(v, w)
            rs = _rswn(v, w)
            if r.certified and rs.valid:
                n += 1
                assert r.label == rs.label, (vv, ww, r, rs.value)
    assert n >= 60
    v, w = uniform_hoppings(40, 0.3, [0.5, 1.0])  # winding 2
    assert ring_winding_number(v, w).label == 2 == _rswn(v, w).label


def test_disordered_complex_chains_match_rswn():
    rng = np.random.default_rng(1)
    n = 0
    for _ in range(40):
        v = rng.uniform(-1, 1, 100) + 0.3j * rng.normal(size=100)
        w = rng.uniform(-1, 1, (2, 100)) + 0.3j * rng.normal(size=(2, 100))
        r, rs = ring_winding_number(v, w), _rswn(v, w)
        if r.certified and rs.valid:
            n += 1
            assert r.label == rs.label
    assert n >= 30


def test_million_cells_follow_the_exact_disorder_boundary():
    """MSHSP chains of 10⁶ cells: where the boundary is sharp (|Λ|·√L ≫ 1) the label is the exact one."""
    rng = np.random.default_rng(2)
    L = 10**6
    for m, W1, W2 in [(0.7, 1.5, 1.5), (1.5, 0.5, 0.5), (1.2, 1.0, 2.5), (0.9, 2.5, 2.5), (1.1, 0.5, 2.5)]:
        lam = zero_mode_lyapunov(m, W1, W2)
        assert abs(lam) * np.sqrt(L) > 5
        v, w = mshsp_hoppings(m, W1, W2, L, rng=rng)
        r = ring_winding_number(v, w)
        assert r.certified and r.label == disorder_winding_exact(m, W1, W2)
        assert r.exponents[0] == pytest.approx(-lam, abs=5 / np.sqrt(L))  # log|μ|/L = −Λ up to fluctuations


def test_bad_input():
    v, w = uniform_hoppings(20, 0.5, 1.0)
    with pytest.raises(ShapeError):
        ring_winding_number(v[None], w[None])
    with pytest.raises(ShapeError):
        ring_winding_number(v[:4], np.ones((2, 4)))
    bad = v.copy()
    bad[3] = np.nan
    with pytest.raises(InputError):
        ring_winding_number(bad, w)
    with pytest.raises(InputError):
        ring_winding_number(v, w, on_gapless="ignore")
    zero = v.copy()
    zero[2] = 0.0
    with pytest.raises(GapClosedError):
        ring_winding_number(zero, w)
    v, w = uniform_hoppings(20, 1.0, 1.0)  # critical: |μ| = 1
    assert not ring_winding_number(v, w).certified
    with pytest.raises(GapClosedError):
        ring_winding_number(v, w, on_gapless="raise")
