"""Winding number of chiral Bloch Hamiltonians: known values, symmetries, properties, bad input."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from topoml.errors import GapClosedError, InputError, SamplingError, ShapeError, TopomlError
from topoml.hamiltonians import chiral1d
from topoml.invariants.winding import phase_steps, winding_diagnostics, winding_number


def test_ssh_both_phases():
    # h = t + t' e^{ik}: trivial for |t| > |t'|, w = 1 for |t'| > |t| (either sign of t')
    h = chiral1d.ssh([1.0, 1.0, 1.0, -1.0, 0.3], [0.5, 2.0, -2.0, 0.3, -1.0])
    assert winding_number(h).tolist() == [0, 1, 1, 0, 1]


@pytest.mark.parametrize("w", range(-5, 6))
def test_uniform_winding_gives_w(w):
    # L = 32 resolves |w| <= 5 with steps 2π|w|/32 <= 0.625π
    assert winding_number(chiral1d.uniform_winding(w)[0]) == w


def test_scalar_and_batch_shapes():
    h = chiral1d.uniform_winding(np.array([[1, 2], [-1, 0]]).ravel()).reshape(2, 2, 33, 2)
    out = winding_number(h)
    assert out.shape == (2, 2) and out.tolist() == [[1, 2], [-1, 0]]
    assert isinstance(winding_number(h[0, 0]), int)


def test_reversing_k_flips_sign():
    h = chiral1d.random_fourier(2000, 4, 32, rng=1)
    d = winding_diagnostics(h)
    rev = winding_diagnostics(h[:, ::-1])
    assert np.array_equal(rev.winding[d.valid], -d.winding[d.valid])


def test_shifting_k_origin_keeps_w():
    h = chiral1d.random_fourier(2000, 4, 32, rng=2)
    d = winding_diagnostics(h)
    for s in (1, 7, 16):
        shifted = np.concatenate([h[:, s:-1], h[:, :s], h[:, s : s + 1]], axis=1)  # origin at k = 2πs/L
        assert np.array_equal(winding_diagnostics(shifted).winding[d.valid], d.winding[d.valid])


def test_scale_invariance_and_normalization():
    h = chiral1d.random_fourier(500, 4, 32, rng=3)
    d = winding_diagnostics(h)
    assert np.array_equal(winding_diagnostics(3.7 * h).winding, d.winding)
    assert np.array_equal(winding_diagnostics(chiral1d.normalize(h)).winding, d.winding)


def test_agrees_with_dense_sampling_on_trusted_samples():
    # the discrete formula on trusted L = 32 samples equals the winding of the continuous loop
    coef = chiral1d.fourier_coefficients(3000, 4, rng=4)
    coarse = winding_diagnostics(chiral1d.fourier_hamiltonian(coef, 32))
    fine = winding_diagnostics(chiral1d.fourier_hamiltonian(coef, 2048))
    ok = coarse.valid & fine.valid
    assert ok.mean() > 0.4
    assert np.mean(coarse.winding[ok] == fine.winding[ok]) > 0.999


def test_matches_sum_of_phase_steps():
    h = chiral1d.random_fourier(1000, 4, 32, rng=5)
    ref = np.rint(phase_steps(h).sum(-1) / (2 * np.pi)).astype(int)
    assert np.array_equal(winding_diagnostics(h).winding, ref)


@settings(max_examples=60, deadline=None)
@given(
    w=st.integers(-6, 6),
    phase=st.floats(0, 2 * np.pi),
    amp=st.floats(0.0, 0.45),
    seed=st.integers(0, 2**31 - 1),
)
def test_property_perturbed_winding_loops(w, phase, amp, seed):
    # e^{i(wk+φ)} (1 + small Fourier perturbation) keeps winding w; L = 64 resolves |w| <= 6
    L = 64
    gen = np.random.default_rng(seed)
    k = chiral1d.k_grid(L)
    m = np.arange(1, 4)
    pert = (gen.uniform(-1, 1, (3,)) + 1j * gen.uniform(-1, 1, (3,))) @ np.exp(1j * np.outer(m, k)) / 3
    z = np.exp(1j * (w * k + phase)) * (1 + amp * pert / np.maximum(1, np.abs(pert).max()))
    z[-1] = z[0]
    h = np.stack([z.real, z.imag], -1)
    assert winding_number(h) == w
    assert winding_number(h[::-1]) == -w  # reversed orientation
    assert winding_number(np.stack([h[:, 0], -h[:, 1]], -1)) == -w  # complex conjugation


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), s=st.integers(1, 31))
def test_property_origin_shift_and_conjugation(seed, s):
    h = chiral1d.random_fourier(20, 4, 32, rng=seed)
    d = winding_diagnostics(h)
    shifted = np.concatenate([h[:, s:-1], h[:, :s], h[:, s : s + 1]], axis=1)
    conj = h * np.array([1.0, -1.0])
    assert np.array_equal(winding_diagnostics(shifted).winding[d.valid], d.winding[d.valid])
    assert np.array_equal(winding_diagnostics(conj).winding[d.valid], -d.winding[d.valid])


# ---------------------------------------------------------------------------- bad input
@pytest.mark.parametrize("shape", [(33,), (33, 3), (2, 2), (5, 33, 1)])
def test_wrong_shape(shape):
    with pytest.raises(ShapeError):
        winding_number(np.ones(shape))


def test_nan_and_inf():
    h = chiral1d.uniform_winding(1)
    for bad in (np.nan, np.inf):
        g = h.copy()
        g[0, 3, 0] = bad
        with pytest.raises(InputError, match="NaN or inf"):
            winding_number(g)


def test_complex_and_string_rejected():
    with pytest.raises(InputError):
        winding_number(np.ones((33, 2), dtype=complex))
    with pytest.raises(InputError):
        winding_number(np.array([["a", "b"]] * 33))


def test_gapless_rejected_and_flagged():
    # SSH at t = t': h(π) = 0
    h = chiral1d.ssh(1.0, 1.0)
    with pytest.raises(GapClosedError):
        winding_number(h)
    d = winding_diagnostics(h)
    assert not d.valid[0] and d.min_norm[0] < 1e-6
    assert issubclass(GapClosedError, TopomlError)


def test_coarse_sampling_rejected_and_flagged():
    h = chiral1d.uniform_winding(7, L=16)  # steps of 2π·7/16 = 0.875π > 0.75π
    with pytest.raises(SamplingError, match="finer k grid"):
        winding_number(h)
    assert not winding_diagnostics(h).valid[0]
    # a looser threshold accepts it
    assert winding_number(h, max_step=0.9 * np.pi)[0] == 7


def test_open_loop_rejected():
    h = chiral1d.uniform_winding(1)[0].copy()
    h[-1] = [0.0, 1.0]
    with pytest.raises(InputError, match="differs from h\\(k=0\\)"):
        winding_number(h)


def test_bad_tolerances():
    h = chiral1d.uniform_winding(1)
    with pytest.raises(InputError):
        winding_number(h, max_step=4.0)
    with pytest.raises(InputError):
        winding_number(h, gap_tol=-1)


def test_physics_modules_do_not_import_torch():
    import subprocess
    import sys

    code = (
        "import sys, topoml.hamiltonians.chiral1d, topoml.invariants.winding, topoml.data.winding_sets;"
        "assert 'torch' not in sys.modules, 'torch imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
