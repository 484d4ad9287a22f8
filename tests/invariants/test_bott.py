"""Bott index of the disordered p+ip superconductor (topoml.invariants.bott).

Reference data: the authors' phase diagrams (``../shared/data/margalit2022/data_{1,2,3}.mat``); a fixed
subset is checked in the default run, all 480,000 labels under ``-m slow``.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from functools import lru_cache
from pathlib import Path

import numpy as np
import pytest
from hypothesis import assume, example, given, settings
from hypothesis import strategies as st

from topoml.errors import GapClosedError, InputError, QuantizationError, ShapeError, SymmetryError
from topoml.hamiltonians.pip import bdg_hamiltonian, clean_lattice, disordered_lattice, site_positions
from topoml.invariants import bott as bott_mod
from topoml.invariants.bott import BottResult, bott_index, bott_index_hamiltonian, bott_phase_diagram
from topoml.invariants.chern import clean_chern_number, fhs_chern_number
from topoml.runs import Executor

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "margalit2022"
FILES = [DATA / f"data_{k}.mat" for k in (1, 2, 3)]
needs_data = pytest.mark.skipif(
    not all(f.exists() for f in FILES), reason=f"margalit2022 reference data not found in {DATA}"
)


@lru_cache(maxsize=None)
def reference(k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(disorder (4,4,3), mu_bar (400,), t_minus_bar (400,), raw Bott (400, 400)) of data_k.mat."""
    from scipy.io import loadmat

    d = loadmat(DATA / f"data_{k}.mat")
    dis = np.stack([d[key].reshape(4, 4) for key in ("mu_dis", "t_minus_dis", "Delta_dis")], axis=-1)
    return dis, 2 * d["xvec"].ravel(), d["yvec"].ravel(), d["Bott_vec"].reshape(400, 400)


def reference_subset(k: int, n_random: int = 700, n_boundary: int = 600, n_worst: int = 100) -> np.ndarray:
    """Grid points (a, b): random ones, ones next to a label change (closest to gap closings), the
    least integer raw values, and every |label| = 2 point. Fixed seed."""
    _, _, _, B = reference(k)
    L = np.rint(B)
    rng = np.random.default_rng(1000 + k)
    edge = np.zeros_like(L, dtype=bool)
    for axis in (0, 1):
        d = np.diff(L, axis=axis) != 0
        sl = [slice(None)] * 2
        sl[axis] = slice(1, None)
        edge[tuple(sl)] |= d
        sl[axis] = slice(None, -1)
        edge[tuple(sl)] |= d
    boundary = np.argwhere(edge)
    pts = [
        np.argwhere(np.ones_like(edge))[rng.choice(L.size, n_random, replace=False)],
        boundary[rng.choice(len(boundary), min(n_boundary, len(boundary)), replace=False)],
        np.array(np.unravel_index(np.argsort(-np.abs(B - L), axis=None)[:n_worst], L.shape)).T,
        np.argwhere(np.abs(L) == 2),
    ]
    return np.unique(np.concatenate(pts), axis=0)


def lattices_at(k: int, ab: np.ndarray) -> np.ndarray:
    dis, mu, tm, _ = reference(k)
    return disordered_lattice(mu[ab[:, 0]], tm[ab[:, 1]], 0.15, dis)


def random_lattices(rng: np.random.Generator, N: int, n: int, *, mu=(-2.5, 2.5), tm=(-1.2, 1.2), w=(0.6, 0.4, 0.1)) -> np.ndarray:
    avg = np.stack([rng.uniform(*mu, n), rng.uniform(*tm, n), rng.uniform(0.1, 0.3, n)], -1)
    dis = rng.uniform(-0.5, 0.5, (n, N, N, 3)) * np.asarray(w)
    return avg[:, None, None, :] + dis


def brute_force(x: np.ndarray) -> float:
    """The definition verbatim: full 2N²×2N² projector, compressions, all eigenvalues."""
    N = x.shape[0]
    n = N * N
    H = bdg_hamiltonian(x)
    _, W = np.linalg.eigh(H)
    P = W[:, :n] @ W[:, :n].conj().T
    X, Y = site_positions(N)
    I = np.eye(2 * n)
    U = P @ np.diag(np.exp(2j * np.pi * np.r_[X, X] / N)) @ P + I - P
    V = P @ np.diag(np.exp(2j * np.pi * np.r_[Y, Y] / N)) @ P + I - P
    lam = np.linalg.eigvals(V @ U @ V.conj().T @ U.conj().T)
    return float(np.imag(np.sum(np.log(lam))) / (2 * np.pi))


# --------------------------------------------------------------------------------- reference data


@needs_data
@pytest.mark.parametrize("k", [1, 2, 3])
def test_reference_subset(k):
    ab = reference_subset(k)
    assert len(ab) > 1000
    r = bott_index(lattices_at(k, ab))
    ref = reference(k)[3][ab[:, 0], ab[:, 1]]
    bad = np.flatnonzero(r.label != np.rint(ref))
    assert bad.size == 0, f"{bad.size} labels differ, first at grid point {ab[bad[0]]}: {r.raw[bad[0]]} vs {ref[bad[0]]}"
    assert np.max(np.abs(r.raw - ref)) < 0.05


@needs_data
def test_reference_contains_chern_two():
    """|label| = 2 occurs on disordered 4×4 lattices (data_1 has five −2 points) and is reproduced."""
    ab = np.argwhere(np.rint(reference(1)[3]) == -2)
    assert len(ab) == 5
    r = bott_index(lattices_at(1, ab))
    np.testing.assert_array_equal(r.label, -2)
    counts = {int(v) for k in (1, 2, 3) for v in np.unique(np.rint(reference(k)[3]))}
    assert {-2, -1, 0, 1} <= counts


@needs_data
@pytest.mark.slow
@pytest.mark.parametrize("k", [1, 2, 3])
def test_reference_full(k):
    """All 160,000 labels of data_k (3 × 160,000 = 480,000), two workers."""
    dis, mu, tm, B = reference(k)
    r = bott_phase_diagram(dis, mu, tm, 0.15, workers=2)
    bad = np.argwhere(r.label != np.rint(B))
    assert bad.size == 0, f"data_{k}: {len(bad)} labels differ, first at {bad[0]}"
    assert np.max(np.abs(r.raw - B)) < 0.05


# --------------------------------------------------------------------------------- phase diagrams


def test_phase_diagram_layout_matches_pointwise_labels():
    rng = np.random.default_rng(42)
    disorder = rng.uniform(-0.5, 0.5, (4, 4, 3)) * [0.3, 0.2, 0.05]
    disorder -= disorder.mean(axis=(0, 1))
    mu = np.array([-3.0, -1.0, 0.5, 1.2])
    tm = np.array([-0.4, 0.2, 1.1])
    pd = bott_phase_diagram(disorder, mu, tm, 0.15)
    assert pd.label.shape == pd.raw.shape == pd.gap.shape == (4, 3)
    for a in range(4):
        for b in range(3):
            r = bott_index(disordered_lattice(mu[a], tm[b], 0.15, disorder))
            assert pd.label[a, b] == r.label and pd.raw[a, b] == pytest.approx(r.raw, abs=1e-9)


def test_clean_phase_diagram_matches_formula():
    mu = np.linspace(-3.5, 3.5, 8)
    tm = np.linspace(-1.8, 1.8, 7)
    pd = bott_phase_diagram(np.zeros((6, 6, 3)), mu, tm, 0.5)
    M, T = np.meshgrid(mu, tm, indexing="ij")
    far = np.min(np.abs([M - 2, M + 2, M - 2 * T, M + 2 * T]), axis=0) > 0.35
    np.testing.assert_array_equal(pd.label[far], clean_chern_number(M[far], T[far]))


def test_phase_diagram_bad_input():
    with pytest.raises(ShapeError):
        bott_phase_diagram(np.zeros((4, 3, 3)), np.zeros(2), np.zeros(2))
    with pytest.raises(InputError):
        bott_phase_diagram(np.zeros((4, 4, 3)), np.array([np.nan]), np.zeros(2))


# --------------------------------------------------------------------------------- known values


def test_clean_sign_convention():
    r = bott_index(clean_lattice(6, -1.0, 0.2, 0.15))
    assert isinstance(r, BottResult)
    assert r.label == 1 and r.label.dtype == np.int64 and r.raw.dtype == np.float64
    assert abs(r.raw - 1) < 1e-10
    assert bott_index(clean_lattice(6, 1.0, 0.2, 0.15)).label == -1


@pytest.mark.parametrize("N", [6, 8])
def test_clean_phase_diagram_matches_formula_and_fhs(N):
    mu = np.linspace(-3.7, 3.7, 14)
    tm = np.linspace(-1.9, 1.9, 11)
    M, T = np.meshgrid(mu, tm, indexing="ij")
    dist = np.min(np.abs([M - 2, M + 2, M - 2 * T, M + 2 * T]), axis=0)
    r = bott_phase_diagram(np.zeros((N, N, 3)), mu, tm, 0.5)
    far = dist > 0.35
    formula = clean_chern_number(M[far], T[far])
    np.testing.assert_array_equal(r.label[far], formula)
    np.testing.assert_array_equal(r.label[far], -fhs_chern_number(M[far], T[far], 0.5))
    assert set(np.unique(formula)) == {-1, 0, 1}


def test_matches_brute_force_definition():
    rng = np.random.default_rng(7)
    for N in (3, 4, 5, 6):
        x = random_lattices(rng, N, 4)
        r = bott_index(x)
        np.testing.assert_allclose(r.raw, [brute_force(xi) for xi in x], atol=1e-8)
        E = [np.linalg.eigvalsh(bdg_hamiltonian(xi)) for xi in x]
        np.testing.assert_allclose(r.gap, [np.abs(e).min() for e in E], rtol=1e-10, atol=1e-13)


def test_single_batch_and_matrix_routes_agree():
    """Batched (N <= BATCH_MAX_N), one-at-a-time and complex-matrix routes give the same values."""
    rng = np.random.default_rng(8)
    for N in (2, 4, 5, 7):
        x = random_lattices(rng, N, 3)
        batch = bott_mod._bott_batch(x)
        for i, xi in enumerate(x):
            raw_s, gap_s = bott_mod._bott_single(xi)
            rm = bott_index_hamiltonian(bdg_hamiltonian(xi))
            assert raw_s == pytest.approx(batch[0][i], abs=1e-9) and rm.raw == pytest.approx(raw_s, abs=1e-9)
            assert gap_s == pytest.approx(batch[1][i], rel=1e-9) and rm.gap == pytest.approx(gap_s, rel=1e-9)
            one = bott_index(xi)
            assert one.raw.shape == () and one.raw == pytest.approx(raw_s, abs=1e-9)


def test_large_lattice_single_route():
    """N > BATCH_MAX_N goes one lattice at a time; compare with the complex-matrix route."""
    N = bott_mod.BATCH_MAX_N + 1
    x = random_lattices(np.random.default_rng(9), N, 1, mu=(-1.2, -0.8), tm=(0.1, 0.3), w=(0.5, 0.2, 0.05))
    r = bott_index(x)
    rm = bott_index_hamiltonian(bdg_hamiltonian(x[0]), N)
    assert r.raw[0] == pytest.approx(rm.raw, abs=1e-8) and r.label[0] == rm.label == 1


def test_odd_and_tiny_lattices():
    r = bott_index(clean_lattice(5, -1.0, 0.2, 0.3))
    assert r.label == 1
    r2 = bott_index(clean_lattice(2, -1.0, 0.2, 0.3), on_gapless="flag")
    assert np.isfinite(r2.raw) and r2.gap > 0
    assert r2.gapless == (abs(r2.raw - r2.label) > 0.1)  # 2x2 is too small for a quantized value


def test_empty_batch():
    r = bott_index(np.zeros((0, 4, 4, 3)))
    assert r.raw.shape == r.label.shape == r.gap.shape == (0,)


# --------------------------------------------------------------------------------- symmetries


lattice_params = dict(
    seed=st.integers(0, 2**32 - 1),
    N=st.sampled_from([4, 6]),
    mu=st.floats(-2.6, 2.6),
    tm=st.floats(-1.3, 1.3),
)


# The raw Bott value of a gapped lattice is an integer up to rounding, but the rounding is amplified by
# the smallest eigenvalues of the compressed V U V† U† (their angles are ill-conditioned): a trivial 4×4
# lattice on the line μ = −2 gave raw −4.3e-7 and its transposed twin −3.0e-8 at gap 0.039. Exactness of
# a symmetry is checked on the spectrum (the gap, to 1e-9 relative) and on the label; the raw values only
# to this rounding tolerance.
RAW_TOL = 1e-5


def one_lattice(seed: int, N: int, mu: float, tm: float) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.array([mu, tm, 0.2]) + rng.uniform(-0.5, 0.5, (N, N, 3)) * [0.8, 0.4, 0.1]


@settings(max_examples=20, deadline=None)
@given(**lattice_params, shift=st.tuples(st.integers(0, 5), st.integers(0, 5)))
def test_translation_invariance(seed, N, mu, tm, shift):
    x = one_lattice(seed, N, mu, tm)
    r = bott_index(np.stack([x, np.roll(x, shift, axis=(0, 1))]))
    assume(r.gap[0] > 1e-6)
    assert r.label[0] == r.label[1]
    assert r.gap[1] == pytest.approx(r.gap[0], rel=1e-9)
    assert r.raw[1] == pytest.approx(r.raw[0], abs=RAW_TOL)


@settings(max_examples=20, deadline=None)
@given(**lattice_params)
@example(seed=18616, N=4, mu=-2.0, tm=-0.3125)  # raw −4.3e-7 vs −3.0e-8 (CI flake, session 6)
def test_mirror_symmetries(seed, N, mu, tm):
    """x ↔ y relabelling of the input with t₋ → −t₋ keeps every bond's hopping; the pairing chirality
    (Δ on x bonds, iΔ on y bonds) is tied to the axes, so it is a mirror image *and* a complex
    conjugation: the index is unchanged. Plain transposition (t₋ kept) is not a symmetry."""
    x = one_lattice(seed, N, mu, tm)
    xt = x.transpose(1, 0, 2) * np.array([1.0, -1.0, 1.0])
    r = bott_index(np.stack([x, xt]))
    assume(r.gap[0] > 1e-6)
    assert r.label[0] == r.label[1]
    assert r.gap[1] == pytest.approx(r.gap[0], rel=1e-9)
    assert r.raw[1] == pytest.approx(r.raw[0], abs=RAW_TOL)


@settings(max_examples=10, deadline=None)
@given(**lattice_params)
def test_exchanging_x_and_y_flips_sign(seed, N, mu, tm):
    """The same Hamiltonian with sites relabelled (i, j) → (j, i): X and Y trade places, sign flips."""
    x = one_lattice(seed, N, mu, tm)
    H = bdg_hamiltonian(x)
    n = N * N
    perm = np.arange(n).reshape(N, N).T.ravel()
    p2 = np.r_[perm, perm + n]
    r = bott_index_hamiltonian(H, N)
    rp = bott_index_hamiltonian(H[np.ix_(p2, p2)], N)
    assume(r.gap > 1e-6)
    assert rp.label == -r.label
    assert rp.raw == pytest.approx(-r.raw, abs=RAW_TOL)


@settings(max_examples=20, deadline=None)
@given(**lattice_params)
def test_chemical_potential_reversal_and_pairing_gauge(seed, N, mu, tm):
    """μ → −μ flips the sign (even N: H ≅ −H by a staggered gauge); Δ → −Δ is a gauge (unchanged)."""
    x = one_lattice(seed, N, mu, tm)
    r = bott_index(np.stack([x, x * [-1.0, 1.0, 1.0], x * [1.0, 1.0, -1.0]]))
    assume(r.gap[0] > 1e-6)
    assert r.label[1] == -r.label[0] and r.label[2] == r.label[0]
    assert r.raw[1] == pytest.approx(-r.raw[0], abs=RAW_TOL)
    assert r.raw[2] == pytest.approx(r.raw[0], abs=RAW_TOL)
    np.testing.assert_allclose(r.gap, r.gap[0], rtol=1e-9)


def test_nontrivial_examples_of_symmetries():
    """The property tests above also see nonzero indices (not only the trivial phase)."""
    x = clean_lattice(4, -1.0, 0.2, 0.15) + np.random.default_rng(3).uniform(-0.15, 0.15, (4, 4, 3))
    r = bott_index(np.stack([x, x.transpose(1, 0, 2) * [1, -1, 1], x * [-1, 1, 1], np.roll(x, 1, axis=0)]))
    np.testing.assert_array_equal(r.label, [1, 1, -1, 1])


# --------------------------------------------------------------------------------- pybott


def pybott_value(x: np.ndarray) -> float:
    """pybott's own pipeline (eigh, compute_uv, bott_matrix) with periodic positions lx = ly = N.

    With ``dagger=True`` pybott uses ``eig(U V U† V†)`` = ``eig((V U V† U†)†)``: its value is minus ours.
    (Its default ``dagger=False`` uses inverses, a different quantity on small lattices.)"""
    import matplotlib

    with matplotlib.rc_context():  # pybott sets text.usetex = True globally on import; undo it
        from pybott.bott import bott_matrix, compute_uv

    N = x.shape[0]
    n = N * N
    perm = np.empty(2 * n, dtype=int)
    perm[0::2], perm[1::2] = np.arange(n), np.arange(n, 2 * n)  # pybott: orbitals of a site adjacent
    H = bdg_hamiltonian(x)[np.ix_(perm, perm)]
    X, Y = site_positions(N)
    _, vecs = np.linalg.eigh(H)
    u, v = compute_uv(np.stack([X, Y], 1).astype(float), vecs, n, 2, lx=N, ly=N)
    return float(bott_matrix(u, v, dagger=True))


@needs_data
def test_agrees_with_pybott():
    if importlib.util.find_spec("pybott") is None:  # not importorskip: importing pybott turns on usetex globally
        pytest.skip("pybott not installed")
    ab = np.concatenate([np.argwhere(np.rint(reference(1)[3]) == v)[:2] for v in (-2, -1, 0, 1)])
    xs = list(lattices_at(1, ab)) + list(random_lattices(np.random.default_rng(4), 4, 30, mu=(-3, 3), tm=(-1, 1)))
    xs += list(random_lattices(np.random.default_rng(5), 6, 3, mu=(-1.5, -0.5), tm=(0, 0.4)))
    ours = np.concatenate([bott_index(np.stack(xs[:38])).label, bott_index(np.stack(xs[38:])).label])
    theirs = np.rint([-pybott_value(x) for x in xs]).astype(int)
    np.testing.assert_array_equal(ours, theirs)
    assert set(ours[:8]) == {-2, -1, 0, 1}


# --------------------------------------------------------------------------------- workers, options


def test_workers_give_identical_results():
    x = random_lattices(np.random.default_rng(11), 4, 64)
    r1 = bott_index(x)
    r2 = bott_index(x, workers=2, chunk_size=16)
    np.testing.assert_array_equal(r1.label, r2.label)
    np.testing.assert_allclose(r1.raw, r2.raw, atol=1e-12)
    with Executor(workers=2) as ex:  # workers kept for several calls
        r3 = bott_index(x, executor=ex)
        r4 = bott_index(x[:20], executor=ex)
    np.testing.assert_array_equal(r1.label, r3.label)
    np.testing.assert_array_equal(r1.raw, r3.raw)
    np.testing.assert_array_equal(r1.raw[:20], r4.raw)


def test_chunking_is_bitwise_neutral():
    """Every LAPACK call is per matrix: any chunk size (hence any worker count) gives the same bits."""
    x = random_lattices(np.random.default_rng(13), 4, 300)
    ref = bott_index(x)
    assert bott_mod._chunk_size(4) == 128
    for chunk in (1, 7, 128, 300):
        r = bott_index(x, chunk_size=chunk)
        np.testing.assert_array_equal(r.raw, ref.raw)
        np.testing.assert_array_equal(r.gap, ref.gap)


def test_min_gap_and_max_deviation():
    # μ = 2 closes the clean gap at k = (0, 0), which the 4×4 grid contains
    x = clean_lattice(4, 2.0, 0.3, 0.15)
    flagged = bott_index(x, on_gapless="flag")
    assert flagged.gap < 1e-12 and flagged.gapless
    with pytest.raises(GapClosedError, match="min_gap"):
        bott_index(x)  # the default policy raises
    with pytest.raises(GapClosedError, match="min_gap"):
        bott_index(x, min_gap=1e-6)
    with pytest.raises(GapClosedError):
        bott_index(np.stack([clean_lattice(4, -1.0, 0.2, 0.15), x]), min_gap=1e-6)
    both = bott_index(np.stack([clean_lattice(4, -1.0, 0.2, 0.15), x]), on_gapless="flag")
    np.testing.assert_array_equal(both.gapless, [False, True])
    ok = bott_index(clean_lattice(4, -1.0, 0.2, 0.15), min_gap=1e-3, max_deviation=1e-6)
    assert ok.label == 1 and not ok.gapless
    r = bott_index(x, min_gap=None, max_deviation=None)
    if abs(r.raw - r.label) > 1e-3:
        with pytest.raises(QuantizationError):
            bott_index(x, min_gap=None, max_deviation=1e-3)


def test_gap_policy_issue_cases():
    """Issue 12: a closing gap (gap 7e-16) and Δ = 0 gave labels; now they raise, or are flagged."""
    closing = clean_lattice(8, 2.0, 0.2, 0.15)
    with pytest.raises(GapClosedError):
        bott_index(closing)
    r = bott_index(closing, on_gapless="flag")
    assert r.gapless and r.gap < 1e-8
    unpaired = clean_lattice(8, -0.5, 0.2, 0.0)
    r = bott_index(unpaired, on_gapless="flag")
    assert r.gapless and abs(r.raw - r.label) > 0.1  # the raw value really is not a label
    with pytest.raises(GapClosedError, match="delta = 0"):
        bott_index(unpaired)
    with pytest.raises(GapClosedError, match="delta = 0"):
        bott_index(clean_lattice(8, -1.0, 0.2, 0.0))  # quantized-looking (0.999) but undefined
    # near-integer Bott value, finite gap, nonzero pairing: raises QuantizationError when not quantized
    from topoml.errors import PhysicsError

    with pytest.raises(PhysicsError):
        bott_index(np.stack([clean_lattice(8, -1.0, 0.2, 0.15), unpaired]))
    with pytest.raises(InputError, match="on_gapless"):
        bott_index(closing, on_gapless="ignore")


def test_phase_diagram_flags_gap_closings():
    from topoml.invariants.bott import bott_phase_diagram

    r = bott_phase_diagram(np.zeros((4, 4, 3)), np.array([-1.0, 2.0]), np.array([0.3]))
    np.testing.assert_array_equal(r.gapless[:, 0], [False, True])
    assert r.gap.shape == (2, 1)
    with pytest.raises(GapClosedError):
        bott_phase_diagram(np.zeros((4, 4, 3)), np.array([-1.0, 2.0]), np.array([0.3]), on_gapless="raise")


# --------------------------------------------------------------------------------- bad input


@pytest.mark.parametrize("shape", [(4, 4), (4, 5, 3), (4, 4, 2), (1, 1, 3), (3, 2, 4, 4, 3), (2, 4, 5, 3)])
def test_bad_shapes(shape):
    with pytest.raises(ShapeError):
        bott_index(np.zeros(shape))


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_input(bad):
    x = clean_lattice(4, -1.0, 0.2, 0.15)
    x[0, 0, 2] = bad
    with pytest.raises(InputError, match="NaN or inf"):
        bott_index(x)
    with pytest.raises(InputError):
        bott_index(np.stack([clean_lattice(4, -1.0, 0.2, 0.15), x]))
    H = bdg_hamiltonian(clean_lattice(4, -1.0, 0.2, 0.15))
    H[3, 3] = bad
    with pytest.raises(InputError):
        bott_index_hamiltonian(H)


def test_bad_options():
    x = clean_lattice(4, -1.0, 0.2, 0.15)
    for kw in ({"workers": 0}, {"workers": 1.5}, {"chunk_size": 0}, {"min_gap": -1.0}, {"max_deviation": np.nan}):
        with pytest.raises(InputError):
            bott_index(x, **kw)
    with pytest.raises(InputError):
        bott_index(x.astype(complex))
    with pytest.raises(ShapeError):
        bott_phase_diagram(np.zeros((4, 4, 3)), np.zeros((2, 2)), np.zeros(3))


def test_matrix_input_validation():
    H = bdg_hamiltonian(clean_lattice(4, -1.0, 0.2, 0.15))
    assert bott_index_hamiltonian(H).label == 1
    with pytest.raises(ShapeError):
        bott_index_hamiltonian(H[:, :-1])
    with pytest.raises(ShapeError):
        bott_index_hamiltonian(np.eye(30))  # 30 is not 2N²
    with pytest.raises(ShapeError):
        bott_index_hamiltonian(H, 3)
    A = H.copy()
    A[0, 1] += 0.1
    with pytest.raises(SymmetryError, match="not Hermitian") as e:
        bott_index_hamiltonian(A)
    assert "\n" not in str(e.value)


# --------------------------------------------------------------------------------- imports


def test_physics_modules_do_not_import_torch():
    code = (
        "import sys\n"
        "import topoml.hamiltonians.pip, topoml.invariants.bott, topoml.invariants.chern\n"
        "assert 'torch' not in sys.modules, 'torch imported'\n"
        "import topoml.invariants\n"
        "assert 'torch' not in sys.modules, 'torch imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


def test_public_exports():
    import topoml.invariants as inv

    for name in ("bott_index", "bott_phase_diagram", "BottResult", "chern_number", "clean_chern_number", "fhs_chern_number"):
        assert name in inv.__all__ and hasattr(inv, name)
    assert "winding_number" in inv.__all__


def test_bott_spectrum_sums_to_the_bott_value_and_holds_the_bdg_spectrum():
    from topoml.data.sampling import SamplingSpec, sample_lattices
    from topoml.invariants import bott_spectrum

    g = np.random.default_rng(21)
    for N, n in ((4, 40), (6, 5), (14, 1)):  # 14 > BATCH_MAX_N: one lattice per stacked call
        x = sample_lattices(n, SamplingSpec(lattice_size=N, averages="uniform"), rng=g)
        sp = bott_spectrum(x)
        ref = bott_index(x, on_gapless="flag")
        assert sp.phases.shape == sp.energies.shape == (n, N * N)
        assert sp.phases.dtype == sp.energies.dtype == np.float64
        assert np.all(np.diff(sp.phases, axis=-1) >= 0) and np.all(np.abs(sp.phases) <= np.pi)
        np.testing.assert_allclose(sp.phases.sum(-1) / (2 * np.pi), ref.raw, atol=1e-9)
        np.testing.assert_allclose(sp.energies[:, 0], ref.gap, rtol=1e-9, atol=1e-12)
        E = np.linalg.eigvalsh(bdg_hamiltonian(x[0]))
        np.testing.assert_allclose(sp.energies[0], np.sort(np.abs(E))[::2], atol=1e-9)
        one = bott_spectrum(x[0])
        assert one.phases.shape == (N * N,)
        np.testing.assert_allclose(one.phases, sp.phases[0], atol=1e-12)


def test_bott_spectrum_symmetries_and_workers():
    # the facts the session-13 auxiliary targets rely on: translations and the transposition with t- -> -t- keep
    # both spectra, mu -> -mu keeps the energies and negates the phases (ascending list negated and reversed)
    from topoml.data.sampling import SamplingSpec, sample_lattices
    from topoml.invariants import bott_spectrum

    g = np.random.default_rng(5)
    x = sample_lattices(300, SamplingSpec(lattice_size=4, averages="uniform"), rng=g)
    sp = bott_spectrum(x)
    for y in (np.roll(x, (1, 3), axis=(1, 2)), x.transpose(0, 2, 1, 3) * np.array([1.0, -1.0, 1.0])):
        t = bott_spectrum(y)
        np.testing.assert_allclose(t.phases, sp.phases, atol=1e-7)
        np.testing.assert_allclose(t.energies, sp.energies, atol=1e-9)
    m = bott_spectrum(x * np.array([-1.0, 1.0, 1.0]))
    np.testing.assert_allclose(m.phases, -sp.phases[:, ::-1], atol=1e-7)
    np.testing.assert_allclose(m.energies, sp.energies, atol=1e-9)
    two = bott_spectrum(x, workers=2)
    np.testing.assert_array_equal(two.phases, sp.phases)
    np.testing.assert_array_equal(two.energies, sp.energies)
    assert bott_spectrum(x[:0]).phases.shape == (0, 16)
    with pytest.raises(ShapeError):
        bott_spectrum(np.zeros((4, 5, 3)))
    with pytest.raises(InputError):
        bott_spectrum(np.full((4, 4, 3), np.nan))
    with pytest.raises(InputError):
        bott_spectrum(x, workers=0)
