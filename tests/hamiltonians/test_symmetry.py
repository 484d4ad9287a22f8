"""The exact symmetries of the margalit2022 Bott label (issue 10 facts), checked against bott_index."""

import numpy as np
import pytest

from topoml.data.sampling import SamplingSpec, sample_lattices
from topoml.errors import InputError, ShapeError
from topoml.hamiltonians.pip import LatticeSymmetry, symmetry_group
from topoml.invariants import bott_index


@pytest.fixture(scope="module")
def lattices():
    # boundary-biased: many labels there are decided by the disorder pattern
    x = sample_lattices(400, SamplingSpec(lattice_size=4), rng=11)
    return x, bott_index(x).label


def test_group_has_64_distinct_elements_at_4x4():
    g = symmetry_group(4)
    assert len(g) == 64 and len(set(g)) == 64 and g[0] == LatticeSymmetry()
    assert len(symmetry_group(5)) == 50  # mu -> -mu needs a bipartite (even) torus


@pytest.mark.parametrize("k", range(0, 64, 3))
def test_each_symmetry_keeps_or_flips_the_bott_label(lattices, k):
    x, label = lattices
    g = symmetry_group(4)[k]
    assert np.array_equal(bott_index(g.apply(x)).label, g.sign * label)


def test_symmetries_at_8x8():
    x = sample_lattices(24, SamplingSpec(lattice_size=8), rng=3)
    label = bott_index(x).label
    for g in (LatticeSymmetry((3, 5), True, True), LatticeSymmetry((1, 0), False, True), LatticeSymmetry((2, 7), True)):
        assert np.array_equal(bott_index(g.apply(x)).label, g.sign * label)


def test_naive_mirror_is_not_a_symmetry(lattices):
    # a bond takes the parameters of its origin site: reversing an axis moves them to its end site
    x, label = lattices
    agree = np.mean(bott_index(x[:, ::-1].copy()).label == label)
    assert 0.8 < agree < 0.99


def test_apply_does_not_modify_input_and_is_invertible(lattices):
    x, _ = lattices
    x0 = x.copy()
    g = LatticeSymmetry((1, 3), True, True)
    y = g.apply(x)
    assert np.array_equal(x, x0)
    # inverse: undo mu, transpose back (transpose is an involution), shift back
    back = LatticeSymmetry((-1, -3))
    z = back.apply(LatticeSymmetry((0, 0), True, True).apply(y))
    assert np.array_equal(z, x)


def test_bad_input():
    with pytest.raises(ShapeError):
        LatticeSymmetry().apply(np.zeros((4, 5, 3)))
    with pytest.raises(InputError):
        symmetry_group(1)
