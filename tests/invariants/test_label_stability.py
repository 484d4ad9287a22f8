"""How stable the margalit2022 Bott label is: small perturbations of the disorder (``perturb_disorder``), coarse
graining (``block_average``), and the metric that sets the two against the labels (``label_agreement``; the
``stability`` job of ``topoml reproduce margalit2022``, issue 10, session 18)."""

from __future__ import annotations

import numpy as np
import pytest

from topoml.data.sampling import SamplingSpec, perturb_disorder, sample_lattices
from topoml.errors import InputError, ShapeError
from topoml.evaluate.metrics import label_agreement
from topoml.hamiltonians.pip import block_average, clean_lattice
from topoml.invariants.bott import bott_index
from topoml.invariants.chern import clean_chern_number


def test_block_average_keeps_the_averages_and_matches_the_torch_decimation():
    x = sample_lattices(5, SamplingSpec(lattice_size=8, averages="uniform"), 3)
    b = block_average(x)
    assert b.shape == (5, 4, 4, 3) and b.dtype == np.float64
    assert np.allclose(b.mean(axis=(1, 2)), x.mean(axis=(1, 2)), atol=1e-12)
    assert np.allclose(b[1, 2, 3], x[1, 4:6, 6:8].mean(axis=(0, 1)))
    assert np.allclose(block_average(x[0]), b[0])
    assert np.allclose(block_average(x, 4), block_average(b))
    torch = pytest.importorskip("torch")
    from topoml.nets.rg import decimation

    assert np.allclose(decimation(torch.from_numpy(x)).numpy(), b, atol=1e-12)
    # a clean lattice stays clean, with its parameters
    assert np.allclose(block_average(clean_lattice(8, -1.0, 0.2, 0.15)), clean_lattice(4, -1.0, 0.2, 0.15))


@pytest.mark.parametrize(
    "call, exc",
    [
        (lambda x: block_average(x, 3), ShapeError),
        (lambda x: block_average(x, 0), InputError),
        (lambda x: block_average(x, 2.0), InputError),
        (lambda x: block_average(x, 8), InputError),  # a 1×1 lattice
        (lambda x: block_average(x[..., :2]), ShapeError),
        (lambda x: block_average(np.where(x > 0, np.nan, x)), InputError),
    ],
)
def test_block_average_bad_input(call, exc):
    x = sample_lattices(2, SamplingSpec(lattice_size=8), 0)
    with pytest.raises(exc):
        call(x)


def test_perturb_disorder_keeps_averages_and_bounds_the_move():
    spec = SamplingSpec(lattice_size=8, averages="uniform")
    x = sample_lattices(50, spec, 1)
    w = spec.widths()
    xp = perturb_disorder(x, 0.1, w, 7)
    assert xp.shape == x.shape and xp.dtype == np.float64
    assert np.allclose(xp.mean(axis=(1, 2)), x.mean(axis=(1, 2)), atol=1e-12)
    move = np.abs(xp - x).max(axis=(0, 1, 2))
    assert np.all(move <= 0.1 * w + 1e-12)  # |η - mean η| <= w, so at most eps·w
    assert np.all(move > 0.02 * w)  # and it does move every channel
    assert np.array_equal(perturb_disorder(x, 0.1, w, 7), xp)  # a function of the seed
    assert not np.array_equal(perturb_disorder(x, 0.1, w, 8), xp)
    assert np.array_equal(perturb_disorder(x, 0.0, w, 7), x)
    assert np.allclose(perturb_disorder(x[3], 0.1, w, 7).mean(axis=(0, 1)), x[3].mean(axis=(0, 1)))
    for bad_eps in (-0.1, np.nan, np.inf, True, "0.1"):
        with pytest.raises(InputError):
            perturb_disorder(x, bad_eps, w, 0)
    with pytest.raises(ShapeError):
        perturb_disorder(x, 0.1, w[:2], 0)
    with pytest.raises(InputError):
        perturb_disorder(np.full_like(x, np.nan), 0.1, w, 0)


def test_label_agreement_counts():
    """Labels set by hand on clean lattices whose averages are in known phases."""
    x = np.stack([clean_lattice(4, mu, tm, 0.15) for mu, tm in [(-1.0, 0.2), (1.0, 0.2), (-3.0, -0.5),
                                                                 (3.0, 0.1), (0.0, 0.6), (2.0, 0.1)]])
    c = clean_chern_number(*np.mean(x[:5], axis=(1, 2))[:, :2].T)
    assert c.tolist() == [1, -1, 0, 0, 0]  # the last lattice sits on the line mu = 2: in neither split
    y = np.array([1, -1, 0, 1, 0, 0])
    other = np.array([1, 0, 0, 0, 0, 1])
    r = label_agreement(x, y, other)
    assert r["all"]["n"] == 6 and r["all"]["agree"] == 3 / 6
    assert r["all"]["nonzero"] == 3 and r["all"]["kept_nonzero"] == 1 / 3
    assert r["all"]["other_nonzero"] == 2 / 6 and r["all"]["always_zero"] == 3 / 6
    assert r["topological"] == {"n": 2, "agree": 0.5, "nonzero": 2, "kept_nonzero": 0.5, "other_nonzero": 0.5,
                                "always_zero": 0.0}
    t = r["trivial"]
    assert t["n"] == 3 and t["agree"] == 2 / 3 and t["nonzero"] == 1 and t["kept_nonzero"] == 0.0
    none = label_agreement(x[2:3], y[2:3], other[2:3])
    assert np.isnan(none["all"]["kept_nonzero"]) and none["topological"]["n"] == 0
    with pytest.raises(ShapeError):
        label_agreement(x, y[:3], other[:3])
    with pytest.raises(InputError):
        label_agreement(x, y, other + 0.5)
    bad = x.copy()
    bad[0, 0, 0, 0] = np.inf
    with pytest.raises(InputError):
        label_agreement(bad, y, other)


def test_the_label_is_smooth_and_decimation_nearly_keeps_it_at_8x8():
    """The facts the ``stability`` job measures, at a size a test can afford (200 uniform 8×8 lattices; session 18:
    2,000 lattices, 100 % kept at eps = 0.01, 99.5 % at 0.1; one 2×2 decimation then Bott keeps 91–94 % at 16×16 and
    8×8, but 76 % at 32×32)."""
    spec = SamplingSpec(lattice_size=8, averages="uniform")
    x = sample_lattices(200, spec, 1808)
    y = bott_index(x, on_gapless="flag").label
    near = label_agreement(x, y, bott_index(perturb_disorder(x, 0.01, spec.widths(), 1), on_gapless="flag").label)
    assert near["all"]["agree"] >= 0.98
    far = label_agreement(x, y, bott_index(perturb_disorder(x, 1.0, spec.widths(), 1), on_gapless="flag").label)
    assert far["all"]["agree"] < near["all"]["agree"]  # a whole new pattern is not a small change
    dec = label_agreement(x, y, bott_index(block_average(x), on_gapless="flag").label)
    assert 0.85 <= dec["all"]["agree"] < 1.0
    assert dec["all"]["agree"] > np.mean(y == 0)  # better than "always 0" at 8×8


def test_topological_phases_lie_within_sqrt2_minus_1_of_a_phase_line():
    """Why the 32×32 labels collapse to 0 (README, margalit2022): no point of a C ≠ 0 clean phase lies farther than
    √2 − 1 ≈ 0.414 from a phase line (in the (μ/2, t₋) units of the boundary distance), less than the half-width of
    the site-to-site μ disorder at 32×32 in those units (2.4 / 4 = 0.6; 16×16: 0.3)."""
    from topoml.data.sampling import boundary_distance, disorder_widths, DisorderSpec

    mu, tm = np.meshgrid(np.linspace(-4, 4, 1601) + 1e-9, np.linspace(-2, 2, 801) + 3e-9)
    mu, tm = mu.ravel(), tm.ravel()
    c = clean_chern_number(mu, tm)
    d = boundary_distance(mu, tm)
    assert abs(d[c != 0].max() - (np.sqrt(2) - 1)) < 0.01 and d[c == 0].max() > 0.99
    half = {n: disorder_widths(DisorderSpec(), n)[0] / 4 for n in (16, 32)}
    assert half[16] < np.sqrt(2) - 1 < half[32]
    assert half == pytest.approx({16: 0.3, 32: 0.6})


def test_labels_that_a_small_move_flips_sit_near_the_branch_cut():
    """``BottSpectrum.margin`` (π − max |θ|) marks the labels a small change of the disorder flips, whatever the BdG
    gap: 2,000 uniform 4×4 lattices moved by 10 % of the disorder widths; the flipped ones have a median margin far
    below the set's (session 18: 0.18 against 1.99)."""
    from topoml.invariants.bott import bott_spectrum

    spec = SamplingSpec(lattice_size=4, averages="uniform")
    x = sample_lattices(2000, spec, 1804)
    sp = bott_spectrum(x)
    y = bott_index(x).label
    assert np.allclose(sp.margin, np.pi - np.abs(sp.phases).max(axis=1))
    assert np.all((sp.margin >= 0) & (sp.margin <= np.pi)) and sp.margin.shape == (2000,)
    assert bott_spectrum(x[0]).margin.shape == () and bott_spectrum(x[0]).margin == sp.margin[0]
    flipped = bott_index(perturb_disorder(x, 0.1, spec.widths(), 5), on_gapless="flag").label != y
    assert flipped.sum() >= 10
    assert np.median(sp.margin[flipped]) < 0.25 * np.median(sp.margin)


def test_accuracy_breakdown_by_margin():
    from topoml.evaluate.metrics import MARGIN_BINS, accuracy_breakdown

    x = sample_lattices(6, SamplingSpec(lattice_size=4, averages="uniform"), 2)
    y = np.array([0, 1, 0, -1, 0, 0])
    pred = np.array([0, 0, 0, -1, 1, 0])
    margin = np.array([0.01, 0.02, 0.5, 2.0, 0.05, np.pi])
    b = accuracy_breakdown(x, y, pred, margin=margin)
    assert [(r["lo"], r["hi"]) for r in b["margin"]] == list(zip(MARGIN_BINS[:-1], MARGIN_BINS[1:]))
    assert [r["n"] for r in b["margin"]] == [2, 1, 0, 1, 2]  # π falls in the closed last bin
    assert b["margin"][0]["accuracy"] == 0.5 and b["margin"][1]["accuracy"] == 0.0 and b["margin"][4]["accuracy"] == 1.0
    assert "margin" not in accuracy_breakdown(x, y, pred)
    with pytest.raises(ShapeError):
        accuracy_breakdown(x, y, pred, margin=margin[:3])
    with pytest.raises(InputError):
        accuracy_breakdown(x, y, pred, margin=margin + 4)
