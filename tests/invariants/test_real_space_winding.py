"""Real-space winding number: known values, sign, window, k-space agreement, disorder, the T|G|² identity,
network features and their gauge, the exact disorder boundary, bad input."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from topoml.errors import GapClosedError, InputError, QuantizationError, ShapeError, SymmetryError
from topoml.hamiltonians import ssh
from topoml.data.chain_features import chain_features, fix_gauge, scramble_gauge
from topoml.invariants.disorder import (
    critical_mass,
    disorder_averaged_winding,
    disorder_winding_exact,
    mean_log_abs,
    zero_mode_lyapunov,
)
from topoml.invariants.real_space import (
    DEFAULT_ATOL,
    bulk_window,
    real_space_winding_number,
    winding_from_correlation,
    winding_tensor,
)
from topoml.invariants.winding import winding_diagnostics


def rswn(L, v, w, **kw):
    return real_space_winding_number(ssh.chain_hamiltonian(*ssh.uniform_hoppings(L, v, w), periodic=kw.get("periodic", False)), **kw)


def swap_sublattices(H):
    L2 = H.shape[-1]
    perm = np.arange(L2).reshape(-1, 2)[:, ::-1].ravel()  # A_n <-> B_n
    return H[..., perm[:, None], perm[None, :]]


# ---------------------------------------------------------------------------- known values and sign
@pytest.mark.parametrize(
    ("v", "w", "expected"),
    [
        (1.5, 1.0, 0),
        (0.5, 1.0, 1),
        (-0.5, 1.0, 1),
        (0.5, -1.0, 1),
        (0.0, 1.0, 1),
        (0.3, [0.5, 1.0], 2),  # w^(2) dominates
        (0.0, [0.0, 1.0], 2),
        (0.2, [0.3, 0.4, 1.2], 3),
        (2.0, [0.3, 0.5], 0),
    ],
)
def test_known_values(v, w, expected):
    r = rswn(48, v, w)
    assert r.label == expected and r.valid and r.deviation < 1e-3
    assert isinstance(r.label, int) and isinstance(r.value, float) and r.window == (12, 36)


def test_exact_values_in_flat_band_limit():
    # v = 0: q maps B_n to A_{n+r} exactly, so W = r to round-off
    for r in (1, 2, 3):
        w = np.zeros(r)
        w[-1] = 1.0
        res = rswn(30, 0.0, w)
        assert abs(res.value - r) < 1e-13 and res.nonlocality < 1e-13


def test_spec_check_value_and_literal_mshsp_sign():
    # spec: L = 20, v/w = 0.8 gives about 0.79 with the central-half window
    res = rswn(20, 0.8, 1.0)
    # independent dense evaluation of (1/L') Tr' q^† [X, q] over the central half (q = U V† of the hopping)
    h20 = ssh.hopping_matrix(*ssh.uniform_hoppings(20, 0.8, 1.0))
    U, _, Vh = np.linalg.svd(h20)
    q = U @ Vh
    X = np.diag(np.arange(20.0))
    direct = np.trace((q.conj().T @ (X @ q - q @ X))[5:15, 5:15]).real / 10
    assert res.window == (5, 15) and abs(res.value - direct) < 1e-10
    assert abs(res.value - 0.79) < 0.01  # the spec's "about 0.79"
    assert res.label == 1 and not res.quantized and not res.valid
    # the literal -(1/L') Tr'{Q_BA [X, Q_AB]} is -W: our convention is its opposite
    h = ssh.hopping_matrix(*ssh.uniform_hoppings(40, 0.3, 1.0))
    U, _, Vh = np.linalg.svd(h)
    q = U @ Vh
    X = np.diag(np.arange(40.0))
    comm = X @ q - q @ X
    lit = -np.trace((q.conj().T @ comm)[10:30, 10:30]) / 20
    assert abs(lit + 1) < 1e-6
    assert abs(real_space_winding_number(hopping=h).value - 1) < 1e-6


def test_sign_flips_when_sublattices_are_exchanged():
    for v, w, expected in [(0.4, 1.0, 1), (0.3, [0.5, 1.0], 2), (1.7, 1.0, 0)]:
        H = ssh.chain_hamiltonian(*ssh.uniform_hoppings(40, v, w))
        a = real_space_winding_number(H)
        b = real_space_winding_number(swap_sublattices(H))
        c = real_space_winding_number(hopping=H[0::2, 1::2].T)
        assert a.label == expected and b.label == -expected and c.label == -expected
        assert abs(a.value + b.value) < 1e-12  # symmetric window, inversion-symmetric chain
    # disordered chains: opposite labels
    v, w = ssh.disordered_hoppings(*ssh.uniform_hoppings(60, 0.4, 1.0), intra_strength=0.4, inter_strength=0.4, rng=2)
    h = ssh.hopping_matrix(v, w)
    assert real_space_winding_number(hopping=h).label == 1
    assert real_space_winding_number(hopping=h.conj().T).label == -1


def test_full_trace_over_open_chain_is_zero():
    for v, w in [(0.5, 1.0), (1.5, 1.0), (0.3, [0.5, 1.0]), (0.0, 1.0)]:
        L = 30
        res = rswn(L, v, w, window=(0, L), on_gapless="flag")
        assert abs(res.value) < 1e-12
    rng = np.random.default_rng(0)
    h = ssh.hopping_matrix(rng.normal(size=(5, 25)), rng.normal(size=(5, 2, 25)))
    assert np.all(np.abs(real_space_winding_number(hopping=h, window=(0, 25), on_gapless="flag").value) < 1e-12)


def test_site_coordinates_shift_by_minus_half():
    # spec: site coordinates instead of cell coordinates shift the value by a constant -1/2
    h = ssh.hopping_matrix(*ssh.uniform_hoppings(40, 0.4, 1.0))
    U, _, Vh = np.linalg.svd(h)
    q = U @ Vh
    xA, xB = 2.0 * np.arange(40), 2.0 * np.arange(40) + 1  # site positions, cell length 2
    d = (xA[:, None] - xB[None, 10:30]) / 2  # in cells
    site_value = np.sum(d * q[:, 10:30] ** 2) / 20
    assert abs(site_value - (rswn(40, 0.4, 1.0).value - 0.5)) < 1e-12


def test_invariant_under_scaling_and_global_phase():
    h = ssh.hopping_matrix(*ssh.disordered_hoppings(*ssh.uniform_hoppings(40, 0.6, [1.0, 0.4]), intra_strength=0.5, inter_strength=0.5, rng=4))
    base = real_space_winding_number(hopping=h).value
    assert abs(real_space_winding_number(hopping=3.5 * h).value - base) < 1e-10
    assert abs(real_space_winding_number(hopping=np.exp(0.7j) * h).value - base) < 1e-10
    phases = np.exp(1j * np.random.default_rng(1).uniform(0, 6, 40))  # U(1) gauge on each site
    g = phases[:, None] * h * np.exp(0.3j * np.arange(40))[None, :]
    assert abs(real_space_winding_number(hopping=g).value - base) < 1e-10


# ---------------------------------------------------------------------------- agreement with k space
@pytest.mark.parametrize("L", [16, 40, 100])
@pytest.mark.parametrize("R", [1, 2, 3])
def test_agrees_with_k_space_winding(L, R):
    rng = np.random.default_rng(100 * L + R)
    n = 100
    v, w = rng.uniform(-1, 1, n), rng.uniform(-1, 1, (n, R))
    k = winding_diagnostics(ssh.bloch_hopping(v, w, 1024))
    res = real_space_winding_number(hopping=ssh.hopping_matrix(*ssh.uniform_hoppings(L, v, w)), on_gapless="flag")
    both = res.valid & k.valid
    assert np.array_equal(res.label[both], k.winding[both])
    assert both.mean() > {16: 0.2, 40: 0.45, 100: 0.7}[L]
    per = real_space_winding_number(
        hopping=ssh.hopping_matrix(*ssh.uniform_hoppings(L, v, w), periodic=True), periodic=True, on_gapless="flag"
    )
    ok = per.valid & k.valid
    assert np.array_equal(per.label[ok], k.winding[ok]) and ok.mean() > 0.2


def test_agrees_with_k_space_for_complex_hoppings():
    rng = np.random.default_rng(7)
    n, R = 100, 2
    v = rng.uniform(-1, 1, n) * np.exp(2j * np.pi * rng.uniform(size=n))
    w = rng.uniform(-1, 1, (n, R)) * np.exp(2j * np.pi * rng.uniform(size=(n, R)))
    k = winding_diagnostics(ssh.bloch_hopping(v, w, 1024))
    res = real_space_winding_number(hopping=ssh.hopping_matrix(*ssh.uniform_hoppings(60, v, w)), on_gapless="flag")
    both = res.valid & k.valid
    assert both.mean() > 0.5 and np.array_equal(res.label[both], k.winding[both])
    # the number of zeros of v + Σ w_r z^r inside the unit disk
    roots_inside = [int(np.sum(np.abs(np.roots(np.r_[w[i, ::-1], v[i]])) < 1)) for i in range(n)]
    assert np.array_equal(res.label[both], np.array(roots_inside)[both])


def test_periodic_full_ring():
    res = rswn(40, 0.3, [0.5, 1.0], periodic=True)
    assert res.window == (0, 40) and abs(res.value - 2) < 1e-8
    assert abs(res.sigma_min - res.bulk_gap) == 0  # no edge modes on a ring


@settings(max_examples=40, deadline=None)
@given(
    v=st.floats(-1, 1),
    w1=st.floats(-1, 1),
    w2=st.floats(-1, 1),
    L=st.sampled_from([24, 48]),
)
def test_property_valid_labels_equal_k_space(v, w1, w2, L):
    k = winding_diagnostics(ssh.bloch_hopping(v, [w1, w2], 512))
    res = real_space_winding_number(hopping=ssh.hopping_matrix(*ssh.uniform_hoppings(L, v, [w1, w2])), on_gapless="flag")
    if res.valid and k.valid[()]:
        assert res.label == int(k.winding)


# ---------------------------------------------------------------------------- disorder
@pytest.mark.parametrize(
    ("v", "w", "kind", "strength", "expected"),
    [
        (0.4, 1.0, "additive", 0.8, 1),
        (0.4, 1.0, "multiplicative", 0.9, 1),
        (1.8, 1.0, "additive", 0.8, 0),
        (0.3, [0.4, 1.0], "multiplicative", 0.8, 2),
    ],
)
def test_quantized_under_chiral_preserving_disorder(v, w, kind, strength, expected):
    v0, w0 = ssh.uniform_hoppings(80, v, w)
    vd, wd = ssh.disordered_hoppings(
        np.broadcast_to(v0, (20, 80)), np.broadcast_to(w0, (20,) + w0.shape),
        intra_strength=strength, inter_strength=strength, kind=kind, rng=11,
    )
    res = real_space_winding_number(hopping=ssh.hopping_matrix(vd, wd))
    assert res.label.shape == (20,)
    assert np.all(res.valid) and np.all(res.label == expected) and res.deviation.max() < 0.02


def test_exact_boundary_formula():
    # mean_log_abs against quadrature, both branches and the limits
    from scipy.integrate import quad

    for c, W in [(1.1, 2.0), (0.3, 1.0), (0.0, 3.0), (-2.0, 1.5), (1.0, 5e-4), (2.0, 3e-3)]:
        ref = quad(lambda e: np.log(abs(c + W * e)), -0.5, 0.5, points=[-c / W] if abs(c / W) < 0.5 else None, limit=200)[0]
        assert abs(mean_log_abs(c, W) - ref) < 1e-9
    assert mean_log_abs(2.0, 0.0) == np.log(2.0) and mean_log_abs(0.0, 0.0) == -np.inf
    x = np.linspace(0.0, 2e-3, 41)  # continuous across the series switch at W = 1e-3 c
    assert np.all(np.abs(np.diff(np.asarray(mean_log_abs(1.0, x)))) < 1e-6)
    # boundary: clean limit, W1 = W2 symmetry, root property, monotonicity in m
    assert abs(critical_mass(0.0, 0.0) - 1) < 1e-12
    assert np.allclose(critical_mass([0.5, 2.0, 4.0], [0.5, 2.0, 4.0]), 1.0)
    W1, W2 = np.array([0.0, 1.0, 2.0, 0.0]), np.array([3.0, 4.0, 1.0, 1.0])
    mc = critical_mass(W1, W2)
    assert np.all(np.abs(zero_mode_lyapunov(mc, W1, W2)) < 1e-12)
    assert mc[0] > 1 and mc[1] > 1  # topological Anderson insulator region
    assert critical_mass(0.0, 6.0) == 0.0  # ln(3) - 1 > 0: no topological phase at all
    assert disorder_winding_exact(mc[0] * 0.9, 0.0, 3.0) == 1 and disorder_winding_exact(mc[0] * 1.1, 0.0, 3.0) == 0


def test_disorder_averaged_rswn_matches_exact_boundary():
    # well inside each phase (|Λ| >= 0.3): clean-like topological, trivial, the topological Anderson
    # insulator (clean chain trivial, m = 1.05 > 1) and a disorder-trivialized chain (m = 0.5)
    m = np.array([0.4, 2.0, 1.05, 0.5])
    W1 = np.array([1.0, 1.0, 0.0, 0.0])
    W2 = np.array([1.0, 1.0, 3.0, 8.0])
    lam = zero_mode_lyapunov(m, W1, W2)
    assert np.all(np.abs(lam) > 0.3)
    avg = disorder_averaged_winding(m, W1, W2, L=200, n_samples=16, rng=0)
    assert avg.mean.shape == (4,) and np.all(avg.n_valid >= 14)  # rare Griffiths zero modes are flagged
    assert np.array_equal(avg.exact, [1, 0, 1, 0])
    assert np.all(np.abs(avg.mean - avg.exact) < 0.05)
    assert np.array_equal(avg.label_mean, avg.exact.astype(float))
    # reproducible and independent of the grid layout (common random numbers per sample)
    again = disorder_averaged_winding(m[2:3].reshape(1, 1), W1[2], W2[2], L=200, n_samples=16, rng=0)
    assert again.mean.shape == (1, 1) and again.mean[0, 0] == pytest.approx(avg.mean[2], abs=1e-12)


def test_disorder_average_on_a_grid():
    mm, WW = np.meshgrid([0.3, 2.5], [0.0, 1.0])
    avg = disorder_averaged_winding(mm, WW, WW, L=40, n_samples=4, rng=1)
    assert avg.mean.shape == (2, 2)
    assert np.allclose(avg.mean, [[1, 0], [1, 0]], atol=0.05)
    with pytest.raises(InputError):
        disorder_averaged_winding(0.5, -1.0, 0.0)
    with pytest.raises(InputError):
        disorder_averaged_winding(0.5, 1.0, 1.0, n_samples=0)


# ---------------------------------------------------------------------------- T |G|^2 identity and features
@pytest.mark.parametrize("periodic", [False, True])
@pytest.mark.parametrize("cplx", [False, True])
def test_tensor_identity_reproduces_rswn(periodic, cplx):
    rng = np.random.default_rng(5)
    L, R = 30, 2
    v, w = rng.uniform(-1, 1, (6, L)), rng.uniform(-1, 1, (6, R, L))
    if cplx:
        v = v * np.exp(2j * np.pi * rng.uniform(size=v.shape))
        w = w * np.exp(2j * np.pi * rng.uniform(size=w.shape))
    f = chain_features(v, w, periodic=periodic)
    W = winding_from_correlation(f.G, periodic=periodic)
    ref = real_space_winding_number(hopping=ssh.hopping_matrix(v, w, periodic=periodic), periodic=periodic, on_gapless="flag")
    assert np.max(np.abs(W - ref.value)) < 1e-12
    assert np.array_equal(f.winding.value, ref.value)
    # explicit T of the spec: T_ij = -(4/L')(x_i - x_j) χ(j) gives -W (the literal MSHSP sign)
    start, stop = bulk_window(L, periodic=periodic)
    x = np.arange(L)
    T_spec = np.zeros((L, L))
    d = x[:, None] - x[None, start:stop]
    if periodic:
        d = np.mod(d + L / 2, L) - L / 2
        d[d == -L / 2] = 0
    T_spec[:, start:stop] = -(4 / (stop - start)) * d
    assert np.allclose(T_spec, -winding_tensor(L, periodic=periodic))
    assert np.max(np.abs(np.einsum("nij,ij->n", np.abs(f.G) ** 2, T_spec) + ref.value)) < 1e-12


def test_features_are_eigenstates():
    rng = np.random.default_rng(6)
    v, w = rng.uniform(-1, 1, (3, 20)), rng.uniform(-1, 1, (3, 2, 20))
    f = chain_features(v, w)
    assert f.a.shape == f.b.shape == f.G.shape == (3, 20, 20) and f.energies.shape == (3, 20)
    assert np.all(np.diff(f.energies, axis=-1) >= 0) and np.all(f.energies >= 0)
    psi = f.site_amplitudes()
    H = ssh.chain_hamiltonian(v, w)
    assert np.allclose(H @ psi, psi * f.energies[:, None, :])
    assert np.allclose(np.swapaxes(psi, -1, -2) @ psi, np.eye(20))
    assert np.allclose(np.sum(f.a**2, axis=-2), 0.5)  # |a_n| = |b_n| = 1/√2 (chiral partners)
    assert np.allclose(f.a @ np.swapaxes(f.b, -1, -2), f.G)
    assert f.v is not None and f.w.shape == (3, 2, 20)
    # deterministic gauge: the largest A amplitude of every state is positive
    idx = np.argmax(np.abs(f.a), axis=-2)
    assert np.all(np.take_along_axis(f.a, idx[:, None, :], axis=-2) > 0)


def test_G_is_gauge_invariant():
    rng = np.random.default_rng(8)
    # complex chain: random U(1) phases of every eigenvector leave G unchanged
    L = 24
    v = rng.uniform(-1, 1, L) * np.exp(2j * np.pi * rng.uniform(size=L))
    w = rng.uniform(-1, 1, (1, L)) * np.exp(2j * np.pi * rng.uniform(size=(1, L)))
    f = chain_features(v, w, gauge=False)
    ph = np.exp(2j * np.pi * rng.uniform(size=L))
    a, b = f.a * ph, f.b * ph
    assert np.allclose(a @ b.conj().T, f.G, atol=1e-13)
    assert not np.allclose(a, f.a)
    # ... and fix_gauge undoes the scrambling: deterministic gauge
    a0, b0 = fix_gauge(f.a, f.b)
    a1, b1 = fix_gauge(a, b)
    assert np.allclose(a0, a1, atol=1e-13) and np.allclose(b0, b1, atol=1e-13)
    # clean ring: ±k degenerate levels; any rotation inside a degenerate level leaves G unchanged
    fc = chain_features(*ssh.uniform_hoppings(L, 0.4, 1.0), periodic=True, gauge=False)
    E = fc.energies
    a, b = fc.a.copy(), fc.b.copy()
    groups = np.split(np.arange(L), np.where(np.diff(E) > 1e-9)[0] + 1)
    assert max(len(g) for g in groups) == 2
    for g in groups:
        Q, _ = np.linalg.qr(rng.normal(size=(len(g), len(g))))
        a[:, g], b[:, g] = a[:, g] @ Q, b[:, g] @ Q
    assert not np.allclose(a, fc.a)
    assert np.allclose(a @ b.T, fc.G, atol=1e-12)
    # raw amplitudes are gauge dependent: the network input changes, G does not
    assert winding_from_correlation(a @ b.T, periodic=True) == pytest.approx(fc.winding.value, abs=1e-12)


def test_scrambled_gauge_changes_amplitudes_not_G():
    v, w = ssh.disordered_hoppings(*ssh.uniform_hoppings(30, 0.5, 1.0), intra_strength=0.5, inter_strength=0.5, rng=3)
    f = chain_features(v, w)
    a, b = scramble_gauge(f.a, f.b, rng=0)
    assert a.dtype == np.float64 and not np.allclose(a, f.a)
    assert np.allclose(a @ b.T, f.G, atol=1e-13)
    a2, b2 = fix_gauge(a, b)
    assert np.allclose(a2, f.a) and np.allclose(b2, f.b)
    ac, bc = scramble_gauge(f.a.astype(complex), f.b, rng=1)
    assert ac.dtype == np.complex128 and np.allclose(ac @ bc.conj().T, f.G, atol=1e-13)


def test_features_with_onsite_terms():
    v, w = ssh.uniform_hoppings(20, 1.6, 1.0)  # trivial and gapped: no zero modes
    f0 = chain_features(v, w)
    fz = chain_features(v, w, onsite=np.zeros(40))
    assert fz.winding is None
    assert np.allclose(fz.G, f0.G, atol=1e-10) and np.allclose(fz.energies, f0.energies)
    fd = chain_features(v, w, onsite=ssh.onsite_disorder(20, 0.5, rng=0))
    assert fd.a.shape == (20, 20) and not np.allclose(fd.G, f0.G)


# ---------------------------------------------------------------------------- batches and options
def test_batch_shapes_and_scalars():
    v, w = ssh.uniform_hoppings(16, np.array([[0.5, 1.5, 0.2], [2.0, 0.1, 0.7]]), 1.0)
    H = ssh.chain_hamiltonian(v, w)
    res = real_space_winding_number(H)
    assert res.value.shape == res.label.shape == res.valid.shape == (2, 3)
    assert res.label.tolist() == [[1, 0, 1], [0, 1, 1]]
    single = real_space_winding_number(H[1, 2])
    assert single.value == pytest.approx(res.value[1, 2], abs=1e-13) and isinstance(single.valid, bool)
    assert real_space_winding_number(hopping=H[..., 0::2, 1::2]).label.tolist() == res.label.tolist()


def test_window_options():
    assert bulk_window(20) == (5, 15) and bulk_window(21) == (5, 16) and bulk_window(4) == (1, 3)
    assert bulk_window(20, periodic=True) == (0, 20) and bulk_window(20, 0.8) == (2, 18)
    assert bulk_window(20, (3, 9)) == (3, 9)
    a = rswn(60, 0.4, 1.0, window=0.3)
    b = rswn(60, 0.4, 1.0, window=(20, 40))
    assert a.window == (21, 39) and a.label == b.label == 1
    with pytest.raises(InputError):
        bulk_window(20, 1.5)
    with pytest.raises(InputError):
        bulk_window(20, (5, 5))
    with pytest.raises(ShapeError):
        bulk_window(20, (5, 25))


def test_labelling_near_transition():
    # the finite-size value at the transition is ~0.1 (biased to the smaller |W|): atol = 0.05 keeps it out
    for L in (8, 20, 100):
        crit = rswn(L, 1.0, 1.0)
        assert 0.08 < crit.value < 0.12 and not crit.quantized and crit.nonlocality > 0.1
    assert DEFAULT_ATOL == 0.05
    with pytest.raises(QuantizationError, match="transition"):
        rswn(20, 0.8, 1.0, on_unquantized="raise")
    # two zeros of h(z) = (z - 0.93)(z + 0.93) = -0.8649 + z² near the unit circle (W = 2): at L = 36 the
    # value drifts through 1 (1.002: quantized, wrong); the nonlocality (0.55) flags it; a long chain gives 2
    res = rswn(36, -0.8649, [0.0, 1.0])
    assert res.label == 1 and res.quantized and res.nonlocality > 0.1 and not res.valid
    big = rswn(400, -0.8649, [0.0, 1.0])
    assert big.valid and big.label == 2


# ---------------------------------------------------------------------------- bad input
def test_non_chiral_and_non_hermitian_rejected():
    v, w = ssh.uniform_hoppings(10, 0.5, 1.0)
    H = ssh.chain_hamiltonian(v, w, onsite=ssh.onsite_disorder(10, 0.3, rng=0))
    with pytest.raises(SymmetryError, match="chiral"):
        real_space_winding_number(H)
    H = ssh.chain_hamiltonian(v, w)
    H[0, 3] += 0.5
    with pytest.raises(SymmetryError, match="Hermitian"):
        real_space_winding_number(H)


def test_nan_rejected():
    H = ssh.chain_hamiltonian(*ssh.uniform_hoppings(10, 0.5, 1.0))
    H[4, 5] = H[5, 4] = np.nan
    with pytest.raises(InputError, match="NaN"):
        real_space_winding_number(H)
    with pytest.raises(InputError, match="NaN"):
        real_space_winding_number(hopping=H[0::2, 1::2])
    with pytest.raises(InputError, match="NaN"):
        real_space_winding_number(H, check=False)


def test_too_small_for_window():
    with pytest.raises(ShapeError, match="too small"):
        rswn(3, 0.5, 1.0)
    with pytest.raises(ShapeError):
        rswn(10, 0.5, 1.0, window=(2, 12))
    rswn(4, 0.5, 1.0)  # L = 4 is the smallest chain for the default window


def test_gapless_chains():
    # periodic chain at |v| = |w| with even L: h(k = π) = 0
    with pytest.raises(GapClosedError, match="gap"):
        rswn(40, 1.0, 1.0, periodic=True)
    flagged = rswn(40, 1.0, 1.0, periodic=True, on_gapless="flag")
    assert not flagged.gapped and not flagged.valid and flagged.bulk_gap < 1e-12
    # open topological chain cut in the bulk: zero modes at the cut, inside the window
    v, w = ssh.uniform_hoppings(60, 0.1, 1.0)
    w[0, 30] = 0.0
    with pytest.raises(GapClosedError):
        real_space_winding_number(hopping=ssh.hopping_matrix(v, w))
    # exponentially small edge modes of an open chain are not a gap closing
    res = rswn(600, 0.3, 1.0)
    assert res.sigma_min < 1e-15 and res.bulk_gap > 0.5 and res.valid and res.label == 1
    # batch: one gapless member raises, flag mode reports it
    hs = np.stack([ssh.hopping_matrix(*ssh.uniform_hoppings(40, x, 1.0), periodic=True) for x in (0.5, 1.0)])
    with pytest.raises(GapClosedError, match=r"chain \(1,\)"):
        real_space_winding_number(hopping=hs, periodic=True)
    assert real_space_winding_number(hopping=hs, periodic=True, on_gapless="flag").gapped.tolist() == [True, False]


def test_bad_arguments():
    H = ssh.chain_hamiltonian(*ssh.uniform_hoppings(10, 0.5, 1.0))
    with pytest.raises(InputError, match="exactly one"):
        real_space_winding_number()
    with pytest.raises(InputError, match="exactly one"):
        real_space_winding_number(H, hopping=H[0::2, 1::2])
    with pytest.raises(ShapeError):
        real_space_winding_number(H[:-1, :-1])
    with pytest.raises(ShapeError):
        real_space_winding_number(hopping=np.ones((4, 5)))
    for kw in ({"atol": 0.7}, {"gap_tol": -1.0}, {"on_gapless": "ignore"}, {"nonlocality_tol": -1.0}):
        with pytest.raises(InputError):
            real_space_winding_number(H, **kw)
    with pytest.raises(InputError):
        real_space_winding_number(hopping=np.array([["a"]]))


def test_physics_modules_do_not_import_torch():
    import subprocess
    import sys

    code = (
        "import sys, topoml.hamiltonians.ssh, topoml.invariants.real_space;"
        "assert 'torch' not in sys.modules, 'torch imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.slow
def test_large_chains_agree_with_k_space():
    rng = np.random.default_rng(9)
    for _ in range(3):
        v, w = rng.uniform(-1, 1), rng.uniform(-1, 1, 3)
        k = winding_diagnostics(ssh.bloch_hopping(v, w, 4096))
        res = rswn(1000, v, w, on_gapless="flag")
        if k.valid and res.valid:
            assert res.label == int(k.winding)
