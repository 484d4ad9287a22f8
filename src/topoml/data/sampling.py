"""Samplers of disordered p+ip superconductor lattices (margalit2022 training and test sets).

A sample is an ``N × N`` periodic lattice with three real parameters per site, in the channel order
``(mu, t_minus, delta)`` (:data:`CHANNELS`): chemical potential ``μ``, hopping anisotropy
``t₋ = (t_x − t_y)`` (with ``t₊ = 1``) and pairing ``Δ``. Energies are in units of ``t₊ = 1``. A batch is an
array of shape ``(n, N, N, 3)``, ``x[s, i, j, c]`` with axis ``i`` along x and axis ``j`` along y
(``docs/conventions-margalit2022.md``).

Each sample is (Margalit et al., PRB 105, 205139 (2022), App. A 1):

1. **averages** ``(μ̄, t̄₋, Δ̄)``: ``μ̄ ∈ [−4, 4]``, ``t̄₋ ∈ [−2, 2]``, ``Δ̄ ∈ [0.1, 0.2]``, drawn

   * ``"uniform"`` (test sets), or
   * ``"boundary_biased"`` (training sets, Eq. A1): density ``∝ 1/(α + d(μ̄/2, t̄₋))`` over
     ``(μ̄, t̄₋)``, ``α = 0.03``, with ``d`` the perpendicular distance of ``(μ̄/2, t̄₋)`` to the nearest
     clean phase boundary, i.e. to the lines ``μ/2 = ±1`` and ``μ/2 = ±t₋`` (:func:`boundary_distance`);
     ``Δ̄`` uniform. The density is continuous (not restricted to a grid) and sampled exactly by
     rejection from the uniform distribution on the box (:func:`sample_averages`).

2. **disorder**: per site and channel, uniform with full widths ``0.3·(N/4)`` for ``μ``, ``0.2`` for
   ``t₋`` and ``0.05`` for ``Δ`` (the paper's ``[−0.15, 0.15]``, ``[−0.1, 0.1]``, ``[−0.025, 0.025]``
   at ``N = 4``), then shifted so that each channel's disorder has zero mean over the lattice
   (:func:`sample_disorder`). The lattice is ``averages + disorder``, so the lattice mean of each
   channel equals its average (to float64 rounding).

The parameters are collected in a :class:`SamplingSpec` (a :class:`topoml.runs.config.StrictModel`:
unknown keys are rejected, ``SamplingSpec.from_dict`` raises :class:`~topoml.errors.ConfigError` naming
the key), which is what dataset configs and HDF5 provenance record. Every function takes ``rng`` (int seed, numpy
``Generator``, ``SeedSequence`` or ``None``); the draws are a deterministic function of it.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import Field, field_validator

from topoml.errors import InputError, ShapeError
from topoml.hamiltonians.pip import check_lattice
from topoml.rng import RngLike, as_generator
from topoml.runs.config import StrictModel

__all__ = [
    "CHANNELS",
    "DEFAULT_ALPHA",
    "DisorderSpec",
    "SamplingSpec",
    "boundary_biased_density",
    "boundary_distance",
    "disorder_widths",
    "perturb_disorder",
    "sample_averages",
    "sample_disorder",
    "sample_lattices",
]

#: Channel order of the last axis of a lattice tensor.
CHANNELS: tuple[str, str, str] = ("mu", "t_minus", "delta")
#: Bias constant α of the boundary-biased density (paper Eq. A1).
DEFAULT_ALPHA = 0.03
#: Proposals drawn per accepted sample are grown adaptively; this caps one proposal batch.
_MAX_PROPOSALS = 1 << 20
_SQRT2 = float(np.sqrt(2.0))


class DisorderSpec(StrictModel):
    """Per-site disorder: uniform full widths per channel, re-centred to zero mean.

    Attributes
    ----------
    mu, t_minus, delta : float, >= 0
        Full widths (units of ``t₊``) at ``N = reference_size``; a site's disorder is uniform on
        ``[−w/2, w/2]``. Defaults 0.3, 0.2, 0.05 (margalit2022, App. A 1).
    scale_mu_with_size : bool, default True
        Scale the ``μ`` width as ``N / reference_size`` (0.3 at 4×4, 0.6 at 8×8, 1.2 at 16×16), as the
        authors did for their larger lattices (``docs/conventions-margalit2022.md``). ``t₋`` and ``Δ``
        widths never scale.
    reference_size : int, default 4
        Lattice size at which the widths above apply.
    recenter : bool, default True
        Shift each channel's disorder to zero mean over the lattice (the paper's choice).
    """

    mu: float = Field(0.3, ge=0)
    t_minus: float = Field(0.2, ge=0)
    delta: float = Field(0.05, ge=0)
    scale_mu_with_size: bool = True
    reference_size: int = Field(4, ge=1)
    recenter: bool = True


class SamplingSpec(StrictModel):
    """What to sample: lattice size, the distribution of averages, and the disorder.

    Attributes
    ----------
    lattice_size : int, >= 2
        ``N`` of the ``N × N`` periodic lattice.
    averages : {"boundary_biased", "uniform"}, default "boundary_biased"
        Distribution of ``(μ̄, t̄₋)``: density ``∝ 1/(α + d)`` (training sets) or uniform (test sets).
        ``Δ̄`` is uniform in both cases.
    alpha : float, > 0, default 0.03
        ``α`` of the boundary-biased density (paper Eq. A1).
    mu_range, t_minus_range, delta_range : (float, float)
        Closed ranges of the averages ``μ̄``, ``t̄₋``, ``Δ̄`` (units of ``t₊``); defaults
        ``(−4, 4)``, ``(−2, 2)``, ``(0.1, 0.2)``. ``low == high`` fixes the value.
    disorder : DisorderSpec
        Per-site disorder widths.
    """

    lattice_size: int = Field(ge=2)
    averages: Literal["boundary_biased", "uniform"] = "boundary_biased"
    alpha: float = Field(DEFAULT_ALPHA, gt=0)
    mu_range: tuple[float, float] = (-4.0, 4.0)
    t_minus_range: tuple[float, float] = (-2.0, 2.0)
    delta_range: tuple[float, float] = (0.1, 0.2)
    disorder: DisorderSpec = DisorderSpec()

    @field_validator("mu_range", "t_minus_range", "delta_range", mode="before")
    @classmethod
    def _pair(cls, v):
        return tuple(v) if isinstance(v, list) else v  # TOML/JSON arrays are lists

    @field_validator("mu_range", "t_minus_range", "delta_range")
    @classmethod
    def _ordered(cls, v: tuple[float, float]) -> tuple[float, float]:
        if not v[0] <= v[1]:
            raise ValueError(f"range must be [low, high] with low <= high, got {list(v)}")
        return v

    def widths(self) -> np.ndarray:
        """Full disorder widths ``(w_mu, w_t_minus, w_delta)`` at this lattice size, float64 shape (3,)."""
        return disorder_widths(self.disorder, self.lattice_size)


def disorder_widths(disorder: DisorderSpec, lattice_size: int) -> np.ndarray:
    """Full widths of the per-site disorder at lattice size ``N``.

    Parameters
    ----------
    disorder : DisorderSpec
    lattice_size : int
        ``N`` (>= 1).

    Returns
    -------
    ndarray of float64, shape (3,)
        ``(w_mu · s, w_t_minus, w_delta)`` with ``s = N / reference_size`` if ``scale_mu_with_size`` else 1.

    Raises
    ------
    InputError
        ``lattice_size < 1``.
    """
    if int(lattice_size) < 1:
        raise InputError(f"lattice_size must be >= 1, got {lattice_size}")
    s = lattice_size / disorder.reference_size if disorder.scale_mu_with_size else 1.0
    return np.array([disorder.mu * s, disorder.t_minus, disorder.delta], dtype=np.float64)


def boundary_distance(mu: np.ndarray, t_minus: np.ndarray) -> np.ndarray:
    """Distance of ``(μ/2, t₋)`` to the nearest clean phase boundary of the p+ip model.

    The clean Chern number changes on the lines ``μ = ±2`` and ``μ = ±2t₋`` (``t₊ = 1``). In the plane
    ``(μ/2, t₋)`` these are the vertical lines ``μ/2 = ±1`` (distance ``|μ/2 ∓ 1|``) and the diagonals
    ``μ/2 = ±t₋`` (perpendicular distance ``|μ/2 ∓ t₋| / √2``), margalit2022 Eq. A1.

    Parameters
    ----------
    mu, t_minus : array_like of float
        Averages ``μ̄`` and ``t̄₋`` (units of ``t₊``), broadcastable.

    Returns
    -------
    ndarray of float64
        ``d ≥ 0``, the broadcast shape of the inputs.
    """
    x = 0.5 * np.asarray(mu, dtype=np.float64)
    y = np.asarray(t_minus, dtype=np.float64)
    d_vert = np.abs(np.abs(x) - 1.0)
    d_diag = np.minimum(np.abs(x - y), np.abs(x + y)) / _SQRT2
    return np.minimum(d_vert, d_diag)


def boundary_biased_density(mu: np.ndarray, t_minus: np.ndarray, alpha: float = DEFAULT_ALPHA) -> np.ndarray:
    """Unnormalized boundary-biased density ``1 / (α + d(μ/2, t₋))`` (margalit2022 Eq. A1).

    Parameters
    ----------
    mu, t_minus : array_like of float
        Averages ``μ̄`` and ``t̄₋`` (units of ``t₊``), broadcastable.
    alpha : float, > 0
        Bias constant (0.03 in the paper).

    Returns
    -------
    ndarray of float64
        Values in ``(0, 1/α]``; the density over ``(μ̄, t̄₋)`` is proportional to it on the sampling box.

    Raises
    ------
    InputError
        ``alpha <= 0`` or not finite.
    """
    if not (np.isfinite(alpha) and alpha > 0):
        raise InputError(f"alpha must be a positive finite number, got {alpha}")
    return 1.0 / (alpha + boundary_distance(mu, t_minus))


def _min_distance_on_box(mu_range: tuple[float, float], t_range: tuple[float, float]) -> float:
    """Exact ``min d`` over the rectangle: 0 if a boundary line crosses it, else the nearest corner."""
    xs = np.array([mu_range[0], mu_range[1]]) / 2.0
    ys = np.array(t_range, dtype=np.float64)
    cx, cy = np.meshgrid(xs, ys)
    cx, cy = cx.ravel(), cy.ravel()
    best = np.inf
    # signed distances of the four corners to each line; a line meets the box iff they change sign
    for signed in (cx - 1.0, cx + 1.0, (cx - cy) / _SQRT2, (cx + cy) / _SQRT2):
        if signed.min() <= 0.0 <= signed.max():
            return 0.0
        best = min(best, float(np.abs(signed).min()))
    return best


def _check_n(n: int) -> int:
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0:
        raise InputError(f"number of samples must be a non-negative integer, got {n!r}")
    return int(n)


def sample_averages(n: int, spec: SamplingSpec, rng: RngLike = None) -> np.ndarray:
    """Draw the lattice averages ``(μ̄, t̄₋, Δ̄)`` of ``n`` samples.

    ``"uniform"``: independent uniform draws on the three ranges. ``"boundary_biased"``: ``(μ̄, t̄₋)``
    from the density ``∝ 1/(α + d(μ̄/2, t̄₋))`` on ``mu_range × t_minus_range`` (margalit2022 Eq. A1),
    sampled exactly by rejection: a uniform proposal is accepted with probability
    ``(α + d_min)/(α + d) ≤ 1``, ``d_min`` the exact minimum of ``d`` over the box (0 when a boundary
    crosses it); about 17 % of proposals are accepted on the paper's box with ``α = 0.03``. ``Δ̄`` is
    uniform and drawn after ``(μ̄, t̄₋)``.

    Parameters
    ----------
    n : int
        Number of samples (>= 0).
    spec : SamplingSpec
    rng : int, numpy.random.Generator, numpy.random.SeedSequence or None

    Returns
    -------
    ndarray of float64, shape (n, 3)
        Columns in :data:`CHANNELS` order, units of ``t₊``.

    Raises
    ------
    InputError
        ``n`` negative or not an integer, or ``rng`` of the wrong type.
    """
    n = _check_n(n)
    gen = as_generator(rng)
    (m0, m1), (t0, t1), (d0, d1) = spec.mu_range, spec.t_minus_range, spec.delta_range
    out = np.empty((n, 3), dtype=np.float64)
    if spec.averages == "uniform":
        out[:, 0] = gen.uniform(m0, m1, n)
        out[:, 1] = gen.uniform(t0, t1, n)
    else:
        alpha = spec.alpha
        top = alpha + _min_distance_on_box(spec.mu_range, spec.t_minus_range)
        filled = 0
        rate = 0.15  # running estimate of the acceptance rate (proposal batch sizing only)
        while filled < n:
            need = n - filled
            m = int(min(_MAX_PROPOSALS, max(64, need / max(rate, 1e-3) * 1.1 + 16)))
            mu = gen.uniform(m0, m1, m)
            tm = gen.uniform(t0, t1, m)
            u = gen.random(m)
            ok = u * (alpha + boundary_distance(mu, tm)) < top
            k = int(ok.sum())
            rate = max(k / m, 1e-3)
            take = min(k, need)
            out[filled:filled + take, 0] = mu[ok][:take]
            out[filled:filled + take, 1] = tm[ok][:take]
            filled += take
    out[:, 2] = gen.uniform(d0, d1, n)
    return out


def sample_disorder(
    n: int,
    lattice_size: int,
    widths: np.ndarray,
    rng: RngLike = None,
    *,
    recenter: bool = True,
) -> np.ndarray:
    """Per-site disorder, uniform with the given full widths, re-centred to zero mean per channel.

    Parameters
    ----------
    n : int
        Number of samples (>= 0).
    lattice_size : int
        ``N`` (>= 1).
    widths : array_like of shape (3,)
        Full widths ``(w_mu, w_t_minus, w_delta)``, non-negative and finite (units of ``t₊``); a value
        is uniform on ``[−w/2, w/2]`` before re-centring.
    rng : int, numpy.random.Generator, numpy.random.SeedSequence or None
    recenter : bool, default True
        Subtract each sample's lattice mean per channel, so every channel has zero mean (paper App. A 1).

    Returns
    -------
    ndarray of float64, shape (n, N, N, 3)

    Raises
    ------
    ShapeError
        ``widths`` is not of shape (3,).
    InputError
        Negative/NaN/inf widths, bad ``n`` or ``lattice_size``.
    """
    n = _check_n(n)
    if isinstance(lattice_size, bool) or not isinstance(lattice_size, (int, np.integer)) or lattice_size < 1:
        raise InputError(f"lattice_size must be a positive integer, got {lattice_size!r}")
    w = np.asarray(widths, dtype=np.float64)
    if w.shape != (3,):
        raise ShapeError(f"widths must have shape (3,) for (mu, t_minus, delta), got {w.shape}")
    if not np.all(np.isfinite(w)) or np.any(w < 0):
        raise InputError(f"disorder widths must be finite and non-negative, got {w.tolist()}")
    gen = as_generator(rng)
    x = gen.random((n, lattice_size, lattice_size, 3))
    x -= 0.5
    x *= w
    if recenter:
        x -= x.mean(axis=(1, 2), keepdims=True)
    return x


def perturb_disorder(x: np.ndarray, eps: float, widths: np.ndarray, rng: RngLike = None) -> np.ndarray:
    """Move every site of each lattice by a fresh zero-mean disorder pattern ``eps`` times as wide: ``x + eps·η``.

    ``η`` is drawn as :func:`sample_disorder` (uniform per site and channel with the full ``widths``, re-centred),
    so each lattice's averages are unchanged and each site moves by at most ``eps·w`` per channel (``eps·w/2``
    before the re-centring). Used to
    measure how stable a label is against small changes of the disorder pattern (the ``stability`` job of
    ``topoml reproduce margalit2022``): a predictor that answers alike for ``x`` and its perturbation cannot be
    right on both where their labels differ.

    Parameters
    ----------
    x : array_like of shape (N, N, 3) or (n, N, N, 3)
        Lattices, channels ``(mu, t_minus, delta)`` (units of ``t₊``).
    eps : float
        Relative size of the perturbation, finite and ``>= 0`` (``0`` returns a copy of ``x``).
    widths : array_like of shape (3,)
        Full disorder widths at this size (:meth:`SamplingSpec.widths`, :func:`disorder_widths`).
    rng : int, numpy.random.Generator, numpy.random.SeedSequence or None

    Returns
    -------
    ndarray of float64, same shape as ``x``

    Raises
    ------
    ShapeError
        ``x`` is not a lattice (batch) or ``widths`` not of shape (3,).
    InputError
        NaN/inf in ``x``, ``eps`` negative or not finite, bad widths.
    """
    x = check_lattice(x)
    if isinstance(eps, bool) or not isinstance(eps, (int, float, np.integer, np.floating)) or not np.isfinite(eps) or eps < 0:
        raise InputError(f"eps must be a finite number >= 0, got {eps!r}")
    batch = x[None] if x.ndim == 3 else x
    eta = sample_disorder(len(batch), batch.shape[1], widths, rng)
    out = batch + float(eps) * eta
    return out[0] if x.ndim == 3 else out


def sample_lattices(
    n: int,
    spec: SamplingSpec,
    rng: RngLike = None,
    *,
    return_averages: bool = False,
) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    """Draw ``n`` disordered lattices ``averages + disorder`` (margalit2022 App. A 1).

    The averages are drawn first (:func:`sample_averages`), then the disorder
    (:func:`sample_disorder` with ``spec.widths()``), from one generator.

    Parameters
    ----------
    n : int
        Number of samples (>= 0).
    spec : SamplingSpec
    rng : int, numpy.random.Generator, numpy.random.SeedSequence or None
    return_averages : bool, default False
        Also return the averages.

    Returns
    -------
    x : ndarray of float64, shape (n, N, N, 3)
        ``x[s, i, j, c]``: sample ``s``, site ``(i, j)`` (axis ``i`` along x), channel ``c`` in
        :data:`CHANNELS` order; units of ``t₊``.
    averages : ndarray of float64, shape (n, 3)
        Only if ``return_averages``; equals ``x.mean(axis=(1, 2))`` up to rounding when ``recenter``.

    Raises
    ------
    InputError
        Bad ``n`` or ``rng``.
    """
    gen = as_generator(rng)
    avg = sample_averages(n, spec, gen)
    x = sample_disorder(n, spec.lattice_size, spec.widths(), gen, recenter=spec.disorder.recenter)
    x += avg[:, None, None, :]
    return (x, avg) if return_averages else x
