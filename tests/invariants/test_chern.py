"""Clean Chern numbers (topoml.invariants.chern): closed formula, FHS, sign relation, errors."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from topoml.errors import GapClosedError, InputError, SamplingError
from topoml.invariants.chern import chern_number, clean_chern_number, fhs_chern_number

# (mu, t_minus, C) in the label / Bott convention: C = +1 at mu = −1, t_minus = 0.2
KNOWN = [
    (-1.0, 0.2, 1),
    (1.0, 0.2, -1),
    (-1.5, 0.5, 1),
    (1.5, -0.5, -1),
    (0.0, 0.5, 0),  # between the lines mu = ±2 t_minus
    (0.2, 1.0, 0),
    (3.0, 0.0, 0),
    (-3.0, 1.0, 0),
    (-2.5, 1.5, -1),  # |mu| > 2 but |mu| < 2|t_minus|
    (2.5, 1.5, 1),
]


@pytest.mark.parametrize("mu, tm, c", KNOWN)
def test_known_values(mu, tm, c):
    assert clean_chern_number(mu, tm) == c
    assert chern_number(mu, tm) == c
    assert fhs_chern_number(mu, tm, 0.4) == -c  # negative-energy band, standard orientation
    assert fhs_chern_number(mu, tm, 0.4, band="upper") == c
    assert chern_number(mu, tm, 0.4, method="fhs") == c


def test_vectorized_shapes_and_types():
    mu = np.array([[-1.0, 1.0, 3.0]])
    tm = np.array([[0.2], [0.3]])
    c = clean_chern_number(mu, tm)
    assert c.shape == (2, 3) and c.dtype == np.int64
    np.testing.assert_array_equal(c, [[1, -1, 0], [1, -1, 0]])
    f = fhs_chern_number(mu, tm, 0.4, nk=24)
    assert f.shape == (2, 3) and f.dtype == np.int64
    np.testing.assert_array_equal(f, -c)
    assert isinstance(clean_chern_number(-1.0, 0.2), int)
    assert isinstance(fhs_chern_number(-1.0, 0.2, 0.4), int)


def boundary_distance(mu: float, tm: float) -> float:
    return float(np.min(np.abs([mu - 2, mu + 2, mu - 2 * tm, mu + 2 * tm])))


@settings(max_examples=40, deadline=None)
@given(mu=st.floats(-4, 4), tm=st.floats(-2, 2), delta=st.floats(0.3, 1.0))
def test_formula_equals_minus_fhs_away_from_boundaries(mu, tm, delta):
    assume(boundary_distance(mu, tm) > 0.25)
    assert fhs_chern_number(mu, tm, delta, nk=48) == -clean_chern_number(mu, tm)


@settings(max_examples=40, deadline=None)
@given(mu=st.floats(-4, 4), tm=st.floats(-2, 2))
def test_formula_symmetries(mu, tm):
    assume(boundary_distance(mu, tm) > 1e-9)
    c = clean_chern_number(mu, tm)
    assert c in (-1, 0, 1)
    assert clean_chern_number(-mu, tm) == -c  # μ → −μ flips (H ≅ −H)
    assert clean_chern_number(mu, -tm) == c  # t_x ↔ t_y relabelling keeps it


def test_gap_closed_on_boundaries():
    for mu, tm in [(2.0, 0.3), (-2.0, 0.0), (1.0, 0.5), (-0.6, 0.3)]:
        with pytest.raises(GapClosedError, match="boundary"):
            clean_chern_number(mu, tm)
        with pytest.raises(GapClosedError):
            fhs_chern_number(mu, tm, 0.3, nk=16)  # the closing momenta {0, π}² lie on the grid
    with pytest.raises(GapClosedError):
        clean_chern_number(np.array([-1.0, 2.0]), 0.2)
    with pytest.raises(GapClosedError):
        clean_chern_number(2.05, 0.2, atol=0.1)
    with pytest.raises(GapClosedError):
        fhs_chern_number(-1.0, 0.2, 0.0)  # Δ = 0 with a Fermi surface on the grid


def test_coarse_grid_is_flagged():
    with pytest.raises(SamplingError, match="increase nk"):
        fhs_chern_number(0.3, 0.2, 0.1, nk=7)


def test_bad_input():
    with pytest.raises(InputError):
        clean_chern_number(np.nan, 0.2)
    with pytest.raises(InputError):
        clean_chern_number(1.0, np.inf)
    with pytest.raises(InputError):
        clean_chern_number(1.0 + 0j, 0.2)
    with pytest.raises(InputError):
        clean_chern_number(1.0, 0.2, atol=-1)
    with pytest.raises(InputError):
        fhs_chern_number(-1.0, 0.2, 0.3, nk=3)
    with pytest.raises(InputError):
        fhs_chern_number(-1.0, 0.2, 0.3, band="middle")
    with pytest.raises(InputError):
        fhs_chern_number(-1.0, 0.2, np.nan)
    with pytest.raises(InputError, match="delta"):
        chern_number(-1.0, 0.2, method="fhs")
    with pytest.raises(InputError):
        chern_number(-1.0, 0.2, method="kubo")
