"""Disordered p+ip BdG lattice (topoml.hamiltonians.pip): conventions, symmetries, layouts, errors."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from topoml.errors import InputError, ShapeError
from topoml.hamiltonians import pip


def random_lattice(rng: np.random.Generator, N: int, batch: int | None = None) -> np.ndarray:
    shape = (N, N) if batch is None else (batch, N, N)
    return np.stack(
        [rng.uniform(-3, 3, shape), rng.uniform(-1.5, 1.5, shape), rng.uniform(0.05, 0.3, shape)], axis=-1
    )


def tau_x(n: int) -> np.ndarray:
    z, e = np.zeros((n, n)), np.eye(n)
    return np.block([[z, e], [e, z]])


# ------------------------------------------------------------------------------ matrix elements


def test_matrix_elements_follow_conventions():
    """On-site −μ, +t_x / +t_y hoppings, Δ/2 and iΔ/2 pairing, bonds owned by their start site."""
    N = 4
    rng = np.random.default_rng(0)
    x = random_lattice(rng, N)
    h, D = pip.normal_block(x), pip.pairing_block(x)
    i, j = 1, 3  # y neighbour wraps around
    s = i * N + j
    sx = ((i + 1) % N) * N + j
    sy = i * N + (j + 1) % N
    mu, tm, de = x[i, j]
    assert h[s, s] == -mu
    assert h[s, sx] == h[sx, s] == pytest.approx((1 + tm) / 2)
    assert h[s, sy] == h[sy, s] == pytest.approx((1 - tm) / 2)
    assert D[s, sx] == pytest.approx(de / 2) and D[sx, s] == pytest.approx(-de / 2)
    assert D[s, sy] == pytest.approx(1j * de / 2) and D[sy, s] == pytest.approx(-1j * de / 2)
    # exactly 4 neighbours per site, no further-range terms
    assert np.count_nonzero(h - np.diag(np.diag(h)), axis=1).max() == 4
    assert np.count_nonzero(D, axis=1).max() == 4


def test_bond_takes_parameters_of_its_start_site():
    N = 5
    x = pip.clean_lattice(N, 0.0, 0.0, 0.0)
    x[2, 2] = (0.0, 0.6, 0.4)  # only site (2, 2) differs
    h, D = pip.normal_block(x), pip.pairing_block(x)
    s = 2 * N + 2
    changed_h = {tuple(sorted(p)) for p in zip(*np.nonzero(np.abs(h - 0.5 * (np.abs(h) > 0)) > 1e-12))}
    assert changed_h == {(s, 3 * N + 2), (s, 2 * N + 3)}  # its +x and +y bonds only
    assert h[s, 3 * N + 2] == pytest.approx(0.8) and h[s, 2 * N + 3] == pytest.approx(0.2)
    assert set(zip(*np.nonzero(D))) == {(s, 3 * N + 2), (3 * N + 2, s), (s, 2 * N + 3), (2 * N + 3, s)}


@pytest.mark.parametrize("N", [2, 3, 4, 5])
def test_hermitian_particle_hole_symmetric(N):
    rng = np.random.default_rng(N)
    H = pip.bdg_hamiltonian(random_lattice(rng, N))
    n = N * N
    assert H.shape == (2 * n, 2 * n) and H.dtype == np.complex128
    np.testing.assert_allclose(H, H.conj().T, atol=0)
    tx = tau_x(n)
    np.testing.assert_allclose(tx @ H.conj() @ tx, -H, atol=0)
    h, D = pip.normal_block(random_lattice(rng, N)), pip.pairing_block(random_lattice(rng, N))
    np.testing.assert_array_equal(h, h.T)
    np.testing.assert_array_equal(D, -D.T)


def test_double_bonds_add_for_N2():
    x = pip.clean_lattice(2, 0.5, 0.2, 0.3)
    h = pip.normal_block(x)
    # sites 0=(0,0) and 2=(1,0) are joined by two x bonds, each t_x = 0.6
    assert h[0, 2] == pytest.approx(1.2) and h[0, 1] == pytest.approx(0.8)
    # the two pairing amplitudes of a doubled bond cancel for a uniform Δ
    assert np.abs(pip.pairing_block(x)).max() == 0


@pytest.mark.parametrize("N", [2, 3, 4, 6])
def test_batch_sparse_and_single_agree(N):
    rng = np.random.default_rng(10 + N)
    xb = random_lattice(rng, N, batch=3)
    Hb = pip.bdg_hamiltonian(xb)
    assert Hb.shape == (3, 2 * N * N, 2 * N * N)
    for k in range(3):
        H = pip.bdg_hamiltonian(xb[k])
        np.testing.assert_array_equal(Hb[k], H)
        Hs = pip.bdg_hamiltonian(xb[k], sparse=True)
        assert Hs.shape == H.shape and Hs.nnz <= 18 * N * N
        np.testing.assert_allclose(Hs.toarray(), H, atol=1e-15)


@pytest.mark.parametrize("N", [2, 4, 5])
def test_majorana_form(N):
    rng = np.random.default_rng(20 + N)
    x = random_lattice(rng, N, batch=2)
    K = pip.majorana_hamiltonian(x)
    n = N * N
    assert K.dtype == np.float64 and K.shape == (2, 2 * n, 2 * n)
    np.testing.assert_array_equal(K, -np.swapaxes(K, 1, 2))
    e = np.eye(n)
    omega = np.block([[e, e], [-1j * e, 1j * e]]) / np.sqrt(2)
    for k in range(2):
        H = pip.bdg_hamiltonian(x[k])
        np.testing.assert_allclose(omega @ H @ omega.conj().T, 1j * K[k], atol=1e-14)
        np.testing.assert_allclose(np.linalg.eigvalsh(1j * K[k]), np.linalg.eigvalsh(H), atol=1e-12)


@pytest.mark.parametrize("N", [4, 5, 6])
def test_bloch_hamiltonian_matches_clean_lattice(N):
    mu, tm, de = -0.7, 0.3, 0.25
    E = np.linalg.eigvalsh(pip.bdg_hamiltonian(pip.clean_lattice(N, mu, tm, de)))
    k = 2 * np.pi * np.arange(N) / N
    kx, ky = np.meshgrid(k, k, indexing="ij")
    Hk = pip.bloch_hamiltonian(kx, ky, mu, tm, de)
    assert Hk.shape == (N, N, 2, 2)
    np.testing.assert_allclose(np.sort(E), np.sort(np.linalg.eigvalsh(Hk).ravel()), atol=1e-12)
    # dispersion of the conventions page
    eps = -mu + (1 + tm) * np.cos(kx) + (1 - tm) * np.cos(ky)
    np.testing.assert_allclose(Hk[..., 0, 0].real, eps, atol=1e-14)


def test_bloch_pairing_chirality():
    """Δ(k) = iΔ sin k_x − Δ sin k_y: the Fourier transform of D[s, s+x̂] = Δ/2, D[s, s+ŷ] = iΔ/2."""
    N, de = 6, 0.3
    D = pip.pairing_block(pip.clean_lattice(N, 0.0, 0.0, de))
    X, Y = pip.site_positions(N)
    for a, b in [(1, 0), (0, 1), (1, 2), (3, 5)]:
        kx, ky = 2 * np.pi * a / N, 2 * np.pi * b / N
        expected = pip.bloch_hamiltonian(kx, ky, 0.0, 0.0, de)[0, 1]
        # Σ_{r,r'} e^{−ik·r} D[r, r'] e^{ik·r'} / n = Σ_δ D_δ e^{ik·δ}
        direct = np.sum(np.exp(-1j * (kx * X + ky * Y))[:, None] * D * np.exp(1j * (kx * X + ky * Y))[None, :]) / N**2
        assert direct == pytest.approx(expected, abs=1e-12)


# ------------------------------------------------------------------------------ layouts


def test_flat_vector_is_channel_major():
    N = 3
    x = np.arange(N * N * 3, dtype=float).reshape(N, N, 3)
    v = pip.to_flat(x)
    assert v.shape == (27,)
    np.testing.assert_array_equal(v[:9], x[..., 0].ravel())  # all μ, C order over (i, j)
    np.testing.assert_array_equal(v[9:18], x[..., 1].ravel())
    np.testing.assert_array_equal(v[18:], x[..., 2].ravel())
    np.testing.assert_array_equal(pip.from_flat(v), x)


@settings(max_examples=25, deadline=None)
@given(N=st.integers(2, 6), batch=st.integers(0, 3), seed=st.integers(0, 2**32 - 1))
def test_flat_roundtrip(N, batch, seed):
    rng = np.random.default_rng(seed)
    x = random_lattice(rng, N, batch=batch or None)
    v = pip.to_flat(x)
    assert v.shape == x.shape[:-3] + (3 * N * N,)
    np.testing.assert_array_equal(pip.from_flat(v, N), x)
    np.testing.assert_array_equal(pip.from_flat(v), x)


def test_helpers():
    tx, ty = pip.hoppings(np.array([0.2, -1.0]))
    np.testing.assert_allclose(tx, [0.6, 0.0])
    np.testing.assert_allclose(ty, [0.4, 1.0])
    X, Y = pip.site_positions(3)
    np.testing.assert_array_equal(X, [0, 0, 0, 1, 1, 1, 2, 2, 2])
    np.testing.assert_array_equal(Y, [0, 1, 2, 0, 1, 2, 0, 1, 2])
    dis = np.random.default_rng(0).normal(size=(4, 4, 3))
    x = pip.disordered_lattice(np.array([[1.0], [2.0]]), np.array([0.1, 0.2, 0.3]), 0.15, dis)
    assert x.shape == (2, 3, 4, 4, 3)
    np.testing.assert_allclose(x[1, 2] - dis, np.broadcast_to([2.0, 0.3, 0.15], (4, 4, 3)))


# ------------------------------------------------------------------------------ errors


@pytest.mark.parametrize(
    "shape, err",
    [((4, 4), ShapeError), ((4, 5, 3), ShapeError), ((4, 4, 2), ShapeError), ((1, 1, 3), ShapeError), ((2, 2, 4, 4, 3), ShapeError)],
)
def test_bad_shapes(shape, err):
    with pytest.raises(err):
        pip.bdg_hamiltonian(np.zeros(shape))


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite(bad):
    x = pip.clean_lattice(4, -1.0, 0.2, 0.15)
    x[1, 2, 0] = bad
    with pytest.raises(InputError, match="NaN or inf"):
        pip.bdg_hamiltonian(x)
    with pytest.raises(InputError):
        pip.majorana_hamiltonian(x)


def test_bad_dtypes_and_arguments():
    with pytest.raises(InputError):
        pip.bdg_hamiltonian(np.zeros((4, 4, 3), dtype=complex))
    with pytest.raises(InputError):
        pip.bdg_hamiltonian(np.zeros((4, 4, 3), dtype=bool))
    with pytest.raises(ShapeError):
        pip.bdg_hamiltonian(np.zeros((2, 4, 4, 3)), sparse=True)
    with pytest.raises(InputError):
        pip.clean_lattice(1, 0.0, 0.0, 0.0)
    with pytest.raises(ShapeError):
        pip.from_flat(np.zeros(10))
    with pytest.raises(ShapeError):
        pip.to_flat(np.zeros((3, 4, 3)))
    # error messages are one line
    with pytest.raises(ShapeError) as e:
        pip.normal_block(np.zeros((4, 5, 3)))
    assert "\n" not in str(e.value)
