"""Data sets of zhang2018: every set has exactly the winding numbers it claims; seeded; class mix."""

import numpy as np
import pytest

from topoml.data import winding_sets as ws
from topoml.errors import InputError
from topoml.hamiltonians import chiral1d
from topoml.invariants.winding import winding_number


def _check_labels(s: ws.WindingSet):
    assert s.x.dtype == np.float32 and s.x.shape == (len(s), 33, 2)
    assert s.w.dtype == np.int64
    assert np.allclose(np.hypot(s.x[..., 0], s.x[..., 1]), 1, atol=1e-6)  # normalized input
    # labels are the discrete winding of the very input the network sees, and trusted (no error)
    assert np.array_equal(winding_number(s.x.astype(np.float64)), s.w)


def test_training_set_class_mix_exact():
    s = ws.fourier_set(2000, rng=0)
    _check_labels(s)
    a = np.abs(s.w)
    assert (np.sum(a == 0), np.sum(a == 1), np.sum(a == 2)) == (740, 1000, 260)
    assert set(np.unique(s.w)) == {-2, -1, 0, 1, 2}


def test_natural_mix_c2():
    s = ws.fourier_set(2000, c=2, class_mix=None, rng=1)
    _check_labels(s)
    assert np.abs(s.w).max() <= 2


def test_test_sets_have_exactly_their_windings():
    ii = ws.wind_unwind_set(500, rng=2)
    iii = ws.prescribed_winding_set(500, (3, -3), rng=3)
    iv = ws.prescribed_winding_set(501, (4, -4), rng=4)
    for s in (ii, iii, iv):
        _check_labels(s)
    assert set(ii.w) == {0}
    assert iii.counts() == {-3: 250, 3: 250}
    assert set(iv.counts()) == {-4, 4} and len(iv) == 501


def test_allowed_windings():
    s = ws.fourier_set(400, class_mix={0: 0.5, 1: 0.5}, allowed=(0, 1), rng=5)
    assert s.counts() == {0: 200, 1: 200}


def test_ssh_set_labels():
    s = ws.ssh_set(1000, rng=6)
    _check_labels(s)
    assert set(np.unique(s.w)) <= {0, 1}


def test_seeded_and_reproducible():
    a, b = ws.fourier_set(300, rng=7), ws.fourier_set(300, rng=7)
    assert np.array_equal(a.x, b.x) and np.array_equal(a.w, b.w)
    c = ws.fourier_set(300, rng=8)
    assert not np.array_equal(a.x, c.x)


def test_prescribed_winding_is_fourier_of_cutoff_c():
    h = chiral1d.prescribed_winding(3, 5, c=4, L=64, rng=9)
    z = h[:, :-1, 0] + 1j * h[:, :-1, 1]
    spec = np.fft.fft(z, axis=1)
    freqs = np.fft.fftfreq(64, 1 / 64)
    assert np.allclose(spec[:, np.abs(freqs) > 4], 0, atol=1e-8 * np.abs(spec).max())


def test_label_noise():
    w = np.zeros(1000, dtype=np.int64)
    noisy = ws.add_label_noise(w, 0.04, rng=0)
    assert np.sum(noisy != w) == 40 and set(np.unique(noisy)) <= {-1, 0, 1}
    with pytest.raises(InputError):
        ws.add_label_noise(w, 1.5)


@pytest.mark.parametrize("bad", [0, -3, 2.5])
def test_bad_sizes(bad):
    with pytest.raises(InputError):
        ws.fourier_set(bad)


def test_bad_family_parameters():
    with pytest.raises(InputError):
        chiral1d.prescribed_winding(5, 10, c=4)
    with pytest.raises(InputError):
        chiral1d.wind_unwind(10, L=31)
    with pytest.raises(InputError):
        chiral1d.k_grid(1)
    with pytest.raises(InputError):
        ws.fourier_set(10, class_mix={0: -1.0})
    with pytest.raises(InputError):
        ws.ssh_set(10, ratio_range=(1.0, -1.0))
