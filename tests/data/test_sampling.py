"""Samplers of disordered p+ip lattices (topoml.data.sampling): specs, shapes, disorder, densities."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from topoml.data.sampling import (
    CHANNELS,
    DisorderSpec,
    SamplingSpec,
    boundary_biased_density,
    boundary_distance,
    disorder_widths,
    sample_averages,
    sample_disorder,
    sample_lattices,
)
from topoml.errors import ConfigError, InputError, ShapeError

# ------------------------------------------------------------------------------------------ spec


def test_defaults_follow_conventions():
    s = SamplingSpec(lattice_size=4)
    assert CHANNELS == ("mu", "t_minus", "delta")
    assert s.averages == "boundary_biased" and s.alpha == 0.03
    assert s.mu_range == (-4.0, 4.0) and s.t_minus_range == (-2.0, 2.0) and s.delta_range == (0.1, 0.2)
    np.testing.assert_allclose(s.widths(), [0.3, 0.2, 0.05])
    np.testing.assert_allclose(SamplingSpec(lattice_size=8).widths(), [0.6, 0.2, 0.05])
    np.testing.assert_allclose(SamplingSpec(lattice_size=16).widths(), [1.2, 0.2, 0.05])
    fixed = DisorderSpec(scale_mu_with_size=False)
    np.testing.assert_allclose(disorder_widths(fixed, 16), [0.3, 0.2, 0.05])


@pytest.mark.parametrize(
    "data, key",
    [
        ({"lattice_size": 4, "alpah": 0.1}, "alpah"),
        ({"lattice_size": 4, "disorder": {"mu": 0.3, "sigma": 1}}, "disorder.sigma"),
    ],
)
def test_unknown_keys_rejected_by_name(data, key):
    with pytest.raises(ConfigError, match=f"unknown config key 'sampling.{key}'"):
        SamplingSpec.from_dict(data, "sampling.")


@pytest.mark.parametrize(
    "data, fragment",
    [
        ({"lattice_size": 4, "disorder": {"mu": -0.1}}, "disorder.mu"),
        ({"lattice_size": 4, "disorder": {"delta": float("nan")}}, "disorder.delta"),
        ({"lattice_size": 4, "mu_range": [4.0, -4.0]}, "mu_range"),
        ({"lattice_size": 4, "t_minus_range": [0.0, float("inf")]}, "t_minus_range"),
        ({"lattice_size": 4, "alpha": 0.0}, "alpha"),
        ({"lattice_size": 1}, "lattice_size"),
        ({"lattice_size": 4, "averages": "grid"}, "averages"),
        ({}, "lattice_size"),
    ],
)
def test_invalid_values_rejected(data, fragment):
    with pytest.raises(ConfigError, match=fragment) as info:
        SamplingSpec.from_dict(data)
    assert "\n" not in str(info.value)


def test_spec_is_frozen_and_serializable():
    s = SamplingSpec(lattice_size=6, averages="uniform")
    with pytest.raises(Exception):
        s.lattice_size = 8
    assert SamplingSpec.model_validate_json(s.model_dump_json()) == s


# ------------------------------------------------------------------------------------------ lattices


def test_sample_lattices_shape_dtype_and_determinism():
    spec = SamplingSpec(lattice_size=6)
    x, avg = sample_lattices(50, spec, 7, return_averages=True)
    assert x.shape == (50, 6, 6, 3) and x.dtype == np.float64
    assert avg.shape == (50, 3) and avg.dtype == np.float64
    np.testing.assert_array_equal(x, sample_lattices(50, spec, 7))
    np.testing.assert_array_equal(x, sample_lattices(50, spec, np.random.SeedSequence(7)))
    assert not np.array_equal(x, sample_lattices(50, spec, 8))
    assert sample_lattices(0, spec, 0).shape == (0, 6, 6, 3)


def test_lattice_mean_equals_average_and_disorder_is_bounded():
    spec = SamplingSpec(lattice_size=8)
    x, avg = sample_lattices(400, spec, 1, return_averages=True)
    np.testing.assert_allclose(x.mean(axis=(1, 2)), avg, rtol=0, atol=1e-13)
    dis = x - avg[:, None, None, :]
    w = spec.widths()
    # before re-centring |d| <= w/2; the shift is at most w/2
    assert np.all(np.abs(dis) <= w + 1e-12)
    # the widths are used (not a fraction of them): the spread reaches close to w
    assert np.all(dis.max(axis=(0, 1, 2)) - dis.min(axis=(0, 1, 2)) > 0.9 * w)


def test_disorder_uniform_with_full_width_before_recentring():
    w = np.array([0.6, 0.2, 0.05])
    d = sample_disorder(2000, 4, w, 3, recenter=False)
    for c in range(3):
        u = d[..., c].ravel() / w[c] + 0.5
        assert stats.kstest(u, "uniform").pvalue > 1e-3


def test_disorder_is_recentred_exactly():
    d = sample_disorder(300, 5, [0.3, 0.2, 0.05], 4)
    assert d.shape == (300, 5, 5, 3)
    assert np.abs(d.mean(axis=(1, 2))).max() < 1e-16
    zero = sample_disorder(3, 4, [0.0, 0.0, 0.0], 0)
    assert not zero.any()


@settings(max_examples=25, deadline=None)
@given(
    n=st.integers(0, 4),
    size=st.integers(1, 7),
    widths=st.lists(st.floats(0, 3, allow_nan=False), min_size=3, max_size=3),
    seed=st.integers(0, 2**32 - 1),
)
def test_disorder_property(n, size, widths, seed):
    d = sample_disorder(n, size, widths, seed)
    assert d.shape == (n, size, size, 3)
    assert np.all(np.isfinite(d))
    if n:
        assert np.abs(d.mean(axis=(1, 2))).max() <= 1e-15 * max(1.0, max(widths))
        assert np.all(np.abs(d) <= np.asarray(widths) + 1e-12)


@pytest.mark.parametrize(
    "call, exc",
    [
        (lambda: sample_disorder(2, 4, [0.1, 0.2], 0), ShapeError),
        (lambda: sample_disorder(2, 4, [0.1, -0.2, 0.0], 0), InputError),
        (lambda: sample_disorder(2, 4, [0.1, np.nan, 0.0], 0), InputError),
        (lambda: sample_disorder(2, 0, [0.1, 0.2, 0.0], 0), InputError),
        (lambda: sample_disorder(-1, 4, [0.1, 0.2, 0.0], 0), InputError),
        (lambda: sample_lattices(2.5, SamplingSpec(lattice_size=4), 0), InputError),
        (lambda: sample_lattices(2, SamplingSpec(lattice_size=4), -3), InputError),
        (lambda: sample_lattices(2, SamplingSpec(lattice_size=4), "seed"), InputError),
        (lambda: boundary_biased_density(0.0, 0.0, alpha=-1.0), InputError),
    ],
)
def test_bad_arguments_raise_documented_errors(call, exc):
    with pytest.raises(exc):
        call()


# ------------------------------------------------------------------------------------------ averages


def test_boundary_distance_known_values():
    mu = np.array([2.0, -2.0, 0.0, 0.0, 3.0, 1.0])
    tm = np.array([0.7, -1.9, 0.0, 1.0, -2.0, 0.5])
    want = [0.0, 0.0, 0.0, 1 / np.sqrt(2), 0.5 / np.sqrt(2), 0.0]
    np.testing.assert_allclose(boundary_distance(mu, tm), want, atol=1e-15)
    assert boundary_biased_density(2.0, 0.3) == pytest.approx(1 / 0.03)


def test_uniform_averages():
    spec = SamplingSpec(lattice_size=4, averages="uniform")
    a = sample_averages(20000, spec, 11)
    for c, (lo, hi) in enumerate((spec.mu_range, spec.t_minus_range, spec.delta_range)):
        assert lo <= a[:, c].min() and a[:, c].max() <= hi
        assert stats.kstest((a[:, c] - lo) / (hi - lo), "uniform").pvalue > 1e-3


def _bin_probabilities(spec: SamplingSpec, bins: int, fine: int = 40) -> np.ndarray:
    """Exact-up-to-quadrature probabilities of (mu, t_minus) bins under 1/(alpha + d)."""
    (m0, m1), (t0, t1) = spec.mu_range, spec.t_minus_range
    nm, nt = bins * fine, bins * fine
    mu = m0 + (np.arange(nm) + 0.5) * (m1 - m0) / nm
    tm = t0 + (np.arange(nt) + 0.5) * (t1 - t0) / nt
    f = boundary_biased_density(mu[:, None], tm[None, :], spec.alpha)
    p = f.reshape(bins, fine, bins, fine).sum(axis=(1, 3))
    return p / p.sum()


@pytest.mark.parametrize(
    "box",
    [
        {},  # the paper's box: every phase boundary crosses it
        {"mu_range": (3.0, 4.0), "t_minus_range": (-0.2, 0.2)},  # no boundary inside: d_min = 0.5
        {"mu_range": (-1.0, 3.0), "t_minus_range": (0.5, 2.0), "alpha": 0.1},
    ],
)
def test_boundary_biased_density_chi_square(box):
    spec = SamplingSpec(lattice_size=4, **box)
    n, bins = 200_000, 12
    a = sample_averages(n, spec, 2022)
    (m0, m1), (t0, t1) = spec.mu_range, spec.t_minus_range
    assert m0 <= a[:, 0].min() and a[:, 0].max() <= m1 and t0 <= a[:, 1].min() and a[:, 1].max() <= t1
    counts, _, _ = np.histogram2d(a[:, 0], a[:, 1], bins=bins, range=[[m0, m1], [t0, t1]])
    p = _bin_probabilities(spec, bins)
    assert stats.chisquare(counts.ravel(), n * p.ravel()).pvalue > 1e-3
    # the test has power: the uniform density is rejected
    uniform = np.full(bins * bins, n / bins**2)
    assert stats.chisquare(counts.ravel(), uniform).pvalue < 1e-12
    # delta is uniform whatever the bias
    assert stats.kstest((a[:, 2] - 0.1) / 0.1, "uniform").pvalue > 1e-3


def test_boundary_biased_marginal_distance():
    """The distance d to the boundary has the exact CDF implied by 1/(alpha + d) (KS test)."""
    spec = SamplingSpec(lattice_size=4)
    a = sample_averages(50_000, spec, 5)
    d = boundary_distance(a[:, 0], a[:, 1])
    # reference CDF of d: uniform points weighted by the density (a grid would quantize d near 0)
    ref = np.random.default_rng(12345)
    m = 3_000_000
    dd = boundary_distance(ref.uniform(-4, 4, m), ref.uniform(-2, 2, m))
    w = 1 / (0.03 + dd)
    order = np.argsort(dd)
    cdf_x, cdf_y = dd[order], np.cumsum(w[order]) / w.sum()
    assert stats.kstest(d, lambda q: np.interp(q, cdf_x, cdf_y)).pvalue > 1e-3
    # and it is strongly biased: far more mass near the boundaries than uniform sampling gives
    assert np.mean(d < 0.05) > 3 * np.mean(dd < 0.05)


def test_fixed_ranges():
    spec = SamplingSpec(lattice_size=4, mu_range=(-2.0, -2.0), delta_range=(0.15, 0.15))
    a = sample_averages(1000, spec, 0)
    assert np.all(a[:, 0] == -2.0) and np.all(a[:, 2] == 0.15)
    assert a[:, 1].min() >= -2 and a[:, 1].max() <= 2
