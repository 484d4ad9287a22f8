"""Real-space SSH-family chains: layout, symmetries, Bloch form, disorder samplers, bad input."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from topoml.errors import InputError, ShapeError, SymmetryError
from topoml.hamiltonians import ssh


# ---------------------------------------------------------------------------- layout
def test_site_order_and_hopping_block():
    L = 5
    v = np.arange(1.0, L + 1)  # v_n = n + 1
    w = 10 + np.arange(2 * L, dtype=float).reshape(2, L)  # w^(r)_n = 10 + (r-1) L + n
    H = ssh.chain_hamiltonian(v, w)
    assert H.shape == (2 * L, 2 * L)
    for n in range(L):
        assert H[2 * n, 2 * n + 1] == v[n]  # A_n <- B_n
        for r in (1, 2):
            if n + r < L:
                assert H[2 * (n + r), 2 * n + 1] == w[r - 1, n]  # A_{n+r} <- B_n
    h = ssh.hopping_matrix(v, w)
    assert np.array_equal(H[0::2, 1::2], h)
    assert np.array_equal(ssh.hopping_block(H), h)
    assert np.array_equal(H, H.T)
    assert np.all(np.triu(h, 1) == 0)  # open chain: lower-triangular banded block
    assert h[L - 1, L - 2] == w[0, L - 2] and h[L - 1, L - 3] == w[1, L - 3]


def test_periodic_wraps_bonds():
    L = 6
    v, w = ssh.uniform_hoppings(L, 0.3, [1.0, 0.5])
    h = ssh.hopping_matrix(v, w, periodic=True)
    assert h[0, L - 1] == 1.0 and h[1, L - 1] == 0.5 and h[0, L - 2] == 0.5
    assert np.allclose(h.sum(axis=0), 1.8) and np.allclose(h.sum(axis=1), 1.8)


def test_chiral_symmetry_and_spectrum():
    v, w = ssh.disordered_hoppings(*ssh.uniform_hoppings(12, 0.5, [1.0, 0.3]), intra_strength=0.4, inter_strength=0.4, rng=0)
    for periodic in (False, True):
        H = ssh.chain_hamiltonian(v, w, periodic=periodic)
        g = ssh.chiral_operator(12)
        assert np.allclose(g[:, None] * H * g[None, :], -H)
        E = np.linalg.eigvalsh(H)
        assert np.allclose(E, -E[::-1])
        s = np.linalg.svd(H[0::2, 1::2], compute_uv=False)
        assert np.allclose(np.sort(s), E[12:])


def test_uniform_hoppings_shapes_and_batch():
    v, w = ssh.uniform_hoppings(7, [0.1, 0.2, 0.3], [[1.0, 0.5]] * 3)
    assert v.shape == (3, 7) and w.shape == (3, 2, 7)
    v[0, 0] = 5.0  # writable copies
    assert ssh.chain_hamiltonian(v, w).shape == (3, 14, 14)
    vc, wc = ssh.uniform_hoppings(4, 1j, 2.0)
    assert vc.dtype == np.complex128 and wc.shape == (1, 4)
    H = ssh.chain_hamiltonian(vc, wc)
    assert np.allclose(H, H.conj().T)


def test_hopping_parameters_roundtrip():
    rng = np.random.default_rng(1)
    v, w = rng.normal(size=(4, 9)), rng.normal(size=(4, 3, 9))
    v2, w2 = ssh.hopping_parameters(ssh.hopping_matrix(v, w, periodic=True), periodic=True)
    assert np.array_equal(v2, v) and np.array_equal(w2, w)
    v3, w3 = ssh.hopping_parameters(ssh.hopping_matrix(v, w))
    assert np.array_equal(v3, v) and w3.shape == (4, 3, 9)
    for r in (1, 2, 3):
        assert np.array_equal(w3[:, r - 1, : 9 - r], w[:, r - 1, : 9 - r])
        assert np.all(w3[:, r - 1, 9 - r :] == 0)
    with pytest.raises(InputError, match="range"):
        ssh.hopping_parameters(ssh.hopping_matrix(v, w), R=1)
    with pytest.raises(InputError, match="above the diagonal"):
        ssh.hopping_parameters(ssh.hopping_matrix(v, w).swapaxes(-1, -2))


def test_bloch_hopping_matches_periodic_spectrum():
    # the singular values of the periodic hopping block are |h(k)| on k = 2πn/L
    L = 16
    v, w = 0.4 + 0.2j, np.array([1.0, -0.3j, 0.2])
    hk = ssh.bloch_hopping(v, w, L)
    assert hk.shape == (L + 1, 2)
    s = np.linalg.svd(ssh.hopping_matrix(*ssh.uniform_hoppings(L, v, w), periodic=True), compute_uv=False)
    assert np.allclose(np.sort(s), np.sort(np.hypot(hk[:-1, 0], hk[:-1, 1])))
    k1 = 2 * np.pi / L  # h(k) = v + Σ_r w_r e^{irk}, checked at one k point
    z1 = v + sum(w[r] * np.exp(1j * (r + 1) * k1) for r in range(3))
    assert np.allclose(hk[1], [z1.real, z1.imag])
    assert np.array_equal(hk[-1], hk[0])


# ---------------------------------------------------------------------------- disorder
def test_hopping_disorder_seeded_bounded_chiral():
    v0, w0 = ssh.uniform_hoppings(50, 0.5, [1.0, 0.2])
    a = ssh.disordered_hoppings(v0, w0, intra_strength=0.3, inter_strength=0.6, rng=5)
    b = ssh.disordered_hoppings(v0, w0, intra_strength=0.3, inter_strength=0.6, rng=5)
    c = ssh.disordered_hoppings(v0, w0, intra_strength=0.3, inter_strength=0.6, rng=6)
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1]) and not np.array_equal(a[0], c[0])
    assert np.all(np.abs(a[0] - v0) <= 0.15) and np.all(np.abs(a[1] - w0) <= 0.3)
    assert np.std(a[0] - v0) > 0.05
    m = ssh.disordered_hoppings(v0, w0, intra_strength=0.5, inter_strength=0.5, kind="multiplicative", rng=1)
    assert np.all(np.abs(m[0] / v0 - 1) <= 0.25) and np.all(np.abs(m[1] / w0 - 1) <= 0.25)
    ssh.check_chain_hamiltonian(ssh.chain_hamiltonian(*a))  # still chiral
    z = ssh.disordered_hoppings(v0, w0, rng=0)
    assert np.array_equal(z[0], v0) and np.array_equal(z[1], w0)


def test_onsite_disorder_breaks_chiral_symmetry():
    v, w = ssh.uniform_hoppings(10, 0.5, 1.0)
    V = ssh.onsite_disorder(10, 0.2, rng=3)
    assert V.shape == (20,) and np.all(np.abs(V) <= 0.1)
    assert ssh.onsite_disorder(10, 0.2, size=(2, 3), rng=3).shape == (2, 3, 20)
    H = ssh.chain_hamiltonian(v, w, onsite=V)
    assert np.allclose(np.diag(H), V)
    with pytest.raises(SymmetryError, match="chiral"):
        ssh.check_chain_hamiltonian(H)
    E = np.linalg.eigvalsh(H)
    assert not np.allclose(E, -E[::-1])


def test_mshsp_hoppings():
    v, w = ssh.mshsp_hoppings(1.2, 1.0, 2.0, 30, size=4, rng=0)
    assert v.shape == (4, 30) and w.shape == (4, 1, 30)
    assert np.all(np.abs(v - 1.2) <= 1.0) and np.all(np.abs(w - 1.0) <= 0.5)
    v2, w2 = ssh.mshsp_hoppings(1.2, 1.0, 2.0, 30, size=4, rng=0)
    assert np.array_equal(v, v2) and np.array_equal(w, w2)


# ---------------------------------------------------------------------------- bad input
def test_bad_parameters():
    with pytest.raises(InputError, match="NaN or inf"):
        ssh.hopping_matrix([0.5, np.nan, 0.5], [[1.0, 1.0, 1.0]])
    with pytest.raises(ShapeError):
        ssh.hopping_matrix([0.5, 0.5, 0.5], [1.0, 1.0, 1.0])  # w must be (..., R, L)
    with pytest.raises(ShapeError):
        ssh.hopping_matrix([0.5, 0.5, 0.5], [[1.0, 1.0]])
    with pytest.raises(InputError, match="R < L"):
        ssh.hopping_matrix(*ssh.uniform_hoppings(2, 0.5, [1.0, 1.0]))
    with pytest.raises(InputError, match="L > 2R"):
        ssh.hopping_matrix(*ssh.uniform_hoppings(4, 0.5, [1.0, 1.0]), periodic=True)
    with pytest.raises(InputError):
        ssh.uniform_hoppings(0, 0.5, 1.0)
    with pytest.raises(InputError):
        ssh.hopping_matrix(["a"], [["b"]])
    v, w = ssh.uniform_hoppings(5, 0.5, 1.0)
    with pytest.raises(InputError):
        ssh.disordered_hoppings(v, w, intra_strength=-1.0)
    with pytest.raises(InputError):
        ssh.disordered_hoppings(v, w, kind="gaussian")
    with pytest.raises(ShapeError):
        ssh.chain_hamiltonian(v, w, onsite=np.zeros(7))
    with pytest.raises(InputError):
        ssh.chain_hamiltonian(v, w, onsite=np.zeros(10, dtype=complex))


def test_check_chain_hamiltonian_rejects():
    H = ssh.chain_hamiltonian(*ssh.uniform_hoppings(6, 0.5, 1.0))
    with pytest.raises(ShapeError):
        ssh.check_chain_hamiltonian(H[:-1, :-1])  # odd size
    with pytest.raises(ShapeError):
        ssh.check_chain_hamiltonian(H[:, :-2])
    G = H.copy()
    G[0, 3] = 0.7  # not Hermitian
    with pytest.raises(SymmetryError, match="Hermitian"):
        ssh.check_chain_hamiltonian(G)
    G = H.copy()
    G[0, 2] = G[2, 0] = 0.1  # A0-A1 hopping: Hermitian, not chiral
    with pytest.raises(SymmetryError, match="chiral"):
        ssh.check_chain_hamiltonian(G)
    G = H.copy()
    G[3, 3] = np.inf
    with pytest.raises(InputError, match="NaN or inf"):
        ssh.check_chain_hamiltonian(G)
    G = H.copy()
    G[0, 0] = 1e-13  # round-off below tolerance passes
    ssh.check_chain_hamiltonian(G)


# ---------------------------------------------------------------------------- properties
@settings(max_examples=30, deadline=None)
@given(
    L=st.integers(5, 12),
    R=st.integers(0, 2),
    seed=st.integers(0, 2**32 - 1),
    periodic=st.booleans(),
    cplx=st.booleans(),
)
def test_random_chains_are_chiral_and_hermitian(L, R, seed, periodic, cplx):
    rng = np.random.default_rng(seed)
    v, w = rng.normal(size=L), rng.normal(size=(R, L))
    if cplx:
        v = v * np.exp(1j * rng.uniform(0, 2 * np.pi, L))
        w = w * np.exp(1j * rng.uniform(0, 2 * np.pi, (R, L)))
    H = ssh.chain_hamiltonian(v, w, periodic=periodic)
    ssh.check_chain_hamiltonian(H)
    g = ssh.chiral_operator(L)
    assert np.allclose(g[:, None] * H * g[None, :], -H)
    v2, w2 = ssh.hopping_parameters(ssh.hopping_block(H), R, periodic=periodic)
    assert np.allclose(v2, v)
    if periodic:
        assert np.allclose(w2, w)
