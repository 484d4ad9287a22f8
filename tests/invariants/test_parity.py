"""Ground-state fermion parity (Z2 Pfaffian index) of the p+ip lattice."""

import numpy as np
import pytest

from topoml.data.sampling import SamplingSpec, sample_lattices
from topoml.errors import GapClosedError, InputError, ShapeError
from topoml.hamiltonians.pip import clean_lattice, majorana_hamiltonian, symmetry_group
from topoml.invariants import bott_index, clean_chern_number, fermion_parity
from topoml.invariants.parity import pfaffian_sign

POINTS = [(-6.0, 0.1), (-1.0, 0.2), (1.0, 0.2), (-3.0, -0.5), (0.0, 0.6), (0.3, -1.2), (3.5, 0.1), (1.5, 0.4),
          (-0.5, -1.5)]


@pytest.mark.parametrize("N", [2, 4, 6, 8])
@pytest.mark.parametrize("mu,tm", POINTS)
def test_clean_even_lattices_give_minus_one_to_the_chern_number(N, mu, tm):
    p = fermion_parity(clean_lattice(N, mu, tm, 0.15)).parity
    assert p == (-1) ** abs(int(clean_chern_number(mu, tm)))


def test_vacuum_is_even_for_every_size():
    for N in range(2, 8):
        assert fermion_parity(clean_lattice(N, -8.0, 0.3, 0.1)).parity == 1


def test_known_pfaffians():
    # Pf [[0, a], [-a, 0]] = a; Pf of a block-diagonal matrix is the product of the blocks'
    assert pfaffian_sign(np.array([[0.0, 2.0], [-2.0, 0.0]])) == 1
    assert pfaffian_sign(np.array([[0.0, -2.0], [2.0, 0.0]])) == -1
    rng = np.random.default_rng(0)
    for _ in range(20):
        A = rng.normal(size=(8, 8))
        A = A - A.T
        # Pf(A)^2 = det(A), and Pf(B A B^T) = det(B) Pf(A)
        B = rng.normal(size=(8, 8))
        assert pfaffian_sign(B @ A @ B.T) == np.sign(np.linalg.det(B)) * pfaffian_sign(A)
    big = 50.0 * np.kron(np.eye(600), np.array([[0.0, 1.0], [-1.0, 0.0]]))  # Pf = 50^600 overflows float64
    assert pfaffian_sign(big) == 1


def test_invariant_under_the_label_symmetries():
    x = sample_lattices(300, SamplingSpec(lattice_size=4), rng=21)
    p = fermion_parity(x).parity
    for g in symmetry_group(4)[::9]:
        assert np.array_equal(fermion_parity(g.apply(x)).parity, p)  # (-1)^C is blind to the sign of C


def test_disorder_decided_bott_labels_keep_the_clean_parity():
    """Issue 10 fact: at 4x4, where the Bott label differs from the clean phase of the averages, the parity
    nearly always agrees with the clean phase (the disorder acts through the occupied states' geometry)."""
    x, av = sample_lattices(1500, SamplingSpec(lattice_size=4), rng=5, return_averages=True)
    p = fermion_parity(x).parity
    b = bott_index(x).label
    c = clean_chern_number(av[:, 0], av[:, 1])
    differ = b != c
    assert differ.sum() > 100  # boundary-biased averages: many labels differ from the clean phase
    assert np.mean(p[differ] == (-1) ** np.abs(c[differ])) > 0.95
    assert np.mean(p[differ] == (-1) ** np.abs(b[differ])) < 0.2


def test_majorana_sign_convention_is_consistent_with_the_hamiltonian():
    K = majorana_hamiltonian(clean_lattice(4, -1.0, 0.2, 0.15))
    assert np.allclose(K, -K.T)


def test_gapless_raise_and_flag():
    x = clean_lattice(4, 2.0, 0.2, 0.15)  # mu = 2: the clean gap closes at k = 0
    with pytest.raises(GapClosedError):
        fermion_parity(x)
    r = fermion_parity(np.stack([x, clean_lattice(4, -1.0, 0.2, 0.15)]), on_gapless="flag")
    assert list(r.parity) == [0, -1] and r.gap[0] < 1e-9 < r.gap[1]


@pytest.mark.parametrize("bad,err", [
    (np.zeros((4, 4)), ShapeError),
    (np.full((4, 4, 3), np.nan), InputError),
    (np.zeros((4, 5, 3)), ShapeError),
])
def test_bad_lattices(bad, err):
    with pytest.raises(err):
        fermion_parity(bad)


def test_bad_options():
    x = clean_lattice(4, -1.0, 0.2, 0.15)
    with pytest.raises(InputError):
        fermion_parity(x, on_gapless="ignore")
    with pytest.raises(InputError):
        fermion_parity(x, gap_tol=-1.0)
    with pytest.raises(InputError):
        pfaffian_sign(np.ones((4, 4)))


def test_parity_breakdown_counts():
    """``topoml.evaluate.metrics.parity_breakdown`` on lattices whose labels and parities are set by hand."""
    from topoml.evaluate.metrics import parity_breakdown

    x = np.stack([clean_lattice(4, mu, tm, 0.15) for mu, tm in [(-1.0, 0.2), (1.0, 0.2), (-3.0, -0.5),
                                                                 (3.0, 0.1), (0.0, 0.6), (-6.0, 0.1)]])
    c = clean_chern_number(*np.mean(x, axis=(1, 2))[:, :2].T)
    assert c.tolist() == [1, -1, 0, 0, 0, 0]
    y = c.copy()
    y[0] = 0   # odd change, the parity stays with the clean phase (-1)
    y[1] = 1   # even change (-1 -> 1): the parity cannot tell
    y[2] = 1   # odd change, the parity follows the label (-1)
    par = np.where(c % 2 == 0, 1, -1)
    par[2] = -1
    par[5] = 0  # gapless
    r = parity_breakdown(x, y, par)["all"]
    assert r["n"] == 6 and r["gapless"] == 1 and r["disorder_decided"] == 0.5
    assert r["odd_changes"] == 2 and r["follows_clean"] == 0.5
    assert r["mismatch"] == 1 / 5  # lattice 0: parity -1, label 0
    br = parity_breakdown(x, y, par)
    assert sum(b["n"] for b in br["distance"]) == 6 == sum(b["n"] for b in br["delta"])
    with pytest.raises(InputError):
        parity_breakdown(x, y, np.full(6, 2))
    with pytest.raises(ShapeError):
        parity_breakdown(x, y[:3], par[:3])
    bad = x.copy()
    bad[0, 0, 0, 0] = np.nan
    with pytest.raises(InputError, match="NaN"):
        parity_breakdown(bad, y, par)
    with pytest.raises(ShapeError):
        parity_breakdown(x[:0], y[:0], par[:0])


def test_parity_breakdown_on_bott_labels():
    """The issue-10 fact through the report's metric: far from the lines the parity is the label's; the labels the
    disorder decides by an odd step keep the clean phase's parity."""
    from topoml.evaluate.metrics import parity_breakdown

    x = sample_lattices(1500, SamplingSpec(lattice_size=4), rng=5)
    r = parity_breakdown(x, bott_index(x).label, fermion_parity(x, on_gapless="flag").parity)
    assert r["all"]["odd_changes"] > 100 and r["all"]["follows_clean"] > 0.95
    far = r["distance"][-1]
    assert far["n"] > 50 and far["mismatch"] < 0.05
