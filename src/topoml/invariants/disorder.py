"""Disorder theory of the MSHSP chain: the exact phase boundary and the disorder-averaged RSWN.

For the chain ``t_n = 1 + W₁ε_n`` (inter-cell), ``m_n = m + W₂ε'_n`` (intra-cell), ``ε`` uniform in
``[−½, ½]`` (Mondragon-Shem, Hughes, Song and Prodan, PRL 113, 046802 (2014)), the real-space winding
number (:func:`topoml.invariants.real_space.real_space_winding_number`) stays quantized away from the
critical line, where the zero-energy localization length diverges: ``E ln|m_n| = E ln|t_n|`` — exact and
in closed form (:func:`zero_mode_lyapunov`, :func:`critical_mass`), including the disorder-driven
topological Anderson insulator at ``m > 1``. :func:`disorder_averaged_winding` computes the
disorder-averaged RSWN on a grid to compare with it.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from topoml.errors import InputError
from topoml.hamiltonians.ssh import hopping_matrix
from topoml.invariants.real_space import (
    _CHUNK_ELEMENTS,
    DEFAULT_ATOL,
    _check_options,
    bulk_window,
    real_space_winding_number,
)
from topoml.rng import RngLike, as_generator

__all__ = [
    "DisorderAverage",
    "critical_mass",
    "disorder_averaged_winding",
    "disorder_winding_exact",
    "mean_log_abs",
    "zero_mode_lyapunov",
]

def mean_log_abs(center, width) -> np.ndarray | float:
    """``E ln|c + W ε|`` for ``ε`` uniform in ``[−½, ½]``, in closed form.

    ``= [F(c + W/2) − F(c − W/2)] / W`` with ``F(u) = u ln|u| − u``; ``ln|c|`` for ``W = 0``; a series
    ``ln|c| − x²/24 − x⁴/320`` (``x = W/c``) for ``|W| < 10⁻³ |c|``, where the difference would cancel.

    Parameters
    ----------
    center, width : float or array_like (broadcast)
        ``c`` and ``W`` (the sign of ``W`` does not matter).

    Returns
    -------
    float or ndarray of float64
        ``−inf`` for ``c = W = 0``.
    """
    c = np.asarray(center, dtype=np.float64)
    W = np.abs(np.asarray(width, dtype=np.float64))
    if not (np.all(np.isfinite(c)) and np.all(np.isfinite(W))):
        raise InputError("center and width must be finite")
    c, W = np.broadcast_arrays(c, W)
    ac = np.abs(c)
    with np.errstate(divide="ignore", invalid="ignore"):
        small = W < 1e-3 * ac
        x2 = np.where(small, (W / np.where(ac > 0, ac, 1.0)) ** 2, 0.0)
        series = np.log(np.where(ac > 0, ac, 1.0)) - x2 / 24 - x2 * x2 / 320
        series = np.where(ac > 0, series, -np.inf)

        def F(u):
            au = np.abs(u)
            return np.where(au > 0, u * np.log(np.where(au > 0, au, 1.0)), 0.0) - u

        Wsafe = np.where(W > 0, W, 1.0)
        closed = (F(c + W / 2) - F(c - W / 2)) / Wsafe
    out = np.where(small | (W == 0), series, closed)
    return float(out) if out.ndim == 0 else out


def zero_mode_lyapunov(m, W1, W2) -> np.ndarray | float:
    """``Λ = E ln|m_n| − E ln|t_n|`` of the MSHSP chain: the inverse zero-mode localization length.

    Chain: intra-cell ``m_n = m + W₂ ε'_n``, inter-cell ``t_n = 1 + W₁ ε_n``
    (:func:`topoml.hamiltonians.ssh.mshsp_hoppings`). The ``E = 0`` state on A obeys
    ``a_{n+1} = −(m_n / t_n)* a_n``, so ``|a_n| ~ e^{nΛ}``: ``Λ < 0`` gives an edge mode, winding ``+1``;
    ``Λ > 0`` is trivial; ``Λ = 0`` is the exact phase boundary ``E ln|m_n| = E ln|t_n|``
    (Mondragon-Shem, Hughes, Song, Prodan, PRL 113, 046802 (2014)). The localization length is
    ``ξ = 1/|Λ|`` cells.

    Parameters
    ----------
    m, W1, W2 : float or array_like (broadcast)

    Returns
    -------
    float or ndarray of float64
    """
    return mean_log_abs(m, W2) - mean_log_abs(1.0, W1)


def disorder_winding_exact(m, W1, W2) -> np.ndarray | int:
    """Thermodynamic-limit winding number of the MSHSP chain: ``1`` where ``Λ < 0``, else ``0``.

    ``Λ`` is :func:`zero_mode_lyapunov`; on the boundary ``Λ = 0`` itself the invariant is undefined
    (returned as 0). Returns an int for scalar input, an int64 array otherwise.
    """
    out = (np.asarray(zero_mode_lyapunov(m, W1, W2)) < 0).astype(np.int64)
    return int(out) if out.ndim == 0 else out


def critical_mass(W1, W2) -> np.ndarray | float:
    """Exact phase boundary ``m_c(W₁, W₂) >= 0`` of the MSHSP chain: topological iff ``|m| < m_c``.

    Solves ``E ln|m_c + W₂ε'| = E ln|1 + W₁ε|`` (``Λ = 0``) by bisection to machine precision;
    ``E ln|m + W₂ε'|`` increases with ``m >= 0``, so the root is unique. ``m_c = 0`` where even ``m = 0``
    is trivial (``ln(W₂/2) − 1 >= E ln|1 + W₁ε|``). ``m_c > 1`` for some ``(W₁, W₂)``: the topological
    Anderson insulator (trivial clean chain, topological disordered one).

    Parameters
    ----------
    W1, W2 : float or array_like (broadcast), >= 0

    Returns
    -------
    float or ndarray of float64
    """
    W1 = np.abs(np.asarray(W1, dtype=np.float64))
    W2 = np.abs(np.asarray(W2, dtype=np.float64))
    W1, W2 = np.broadcast_arrays(W1, W2)
    g = np.asarray(mean_log_abs(1.0, W1))
    lo = np.zeros(W1.shape)
    hi = W2 / 2 + np.exp(g) + 1.0  # E ln|hi + W₂ε| >= ln(hi − W₂/2) > g
    empty = np.asarray(mean_log_abs(0.0, W2)) >= g
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        up = np.asarray(mean_log_abs(mid, W2)) >= g
        hi = np.where(up, mid, hi)
        lo = np.where(up, lo, mid)
        if np.all(hi - lo <= 4 * np.finfo(float).eps * np.maximum(hi, 1.0)):
            break
    out = np.where(empty, 0.0, 0.5 * (lo + hi))
    return float(out) if out.ndim == 0 else out


class DisorderAverage(NamedTuple):
    """Result of :func:`disorder_averaged_winding` (arrays of the grid shape).

    Attributes
    ----------
    mean : ndarray of float64
        Disorder-averaged RSWN value over the gapped samples.
    sem : ndarray of float64
        Standard error of ``mean`` (sample standard deviation / √n).
    label_mean : ndarray of float64
        Mean of the rounded labels.
    quantized_fraction : ndarray of float64
        Fraction of samples with ``|W − round(W)| <= atol``.
    n_valid : ndarray of int64
        Number of gapped samples (all, except on a measure-zero set).
    exact : ndarray of int64
        :func:`disorder_winding_exact` (thermodynamic limit).
    lyapunov : ndarray of float64
        :func:`zero_mode_lyapunov` (``Λ < 0``: topological).
    """

    mean: np.ndarray
    sem: np.ndarray
    label_mean: np.ndarray
    quantized_fraction: np.ndarray
    n_valid: np.ndarray
    exact: np.ndarray
    lyapunov: np.ndarray


def _seed_sequence(rng: RngLike) -> np.random.SeedSequence:
    if isinstance(rng, np.random.SeedSequence):
        return rng
    if isinstance(rng, (int, np.integer)) and not isinstance(rng, bool) and rng >= 0:
        return np.random.SeedSequence(int(rng))
    return np.random.SeedSequence(int(as_generator(rng).integers(0, 2**63 - 1)))


def disorder_averaged_winding(
    m,
    W1,
    W2,
    *,
    L: int = 100,
    n_samples: int = 32,
    window: float | tuple[int, int] | None = None,
    atol: float = DEFAULT_ATOL,
    rng: RngLike = None,
) -> DisorderAverage:
    """Disorder-averaged RSWN of the MSHSP chain on a grid of ``(m, W₁, W₂)``, open boundaries.

    Sample ``s`` draws ``ε_n, ε'_n`` (uniform in ``[−½, ½]``) once, from the ``s``-th child of the seed
    sequence of ``rng``, and uses them at every grid point (common random numbers: smooth diagrams,
    results independent of the grid and of chunking): ``v_n = m + W₂ ε'_n``, ``w_n = 1 + W₁ ε_n``.

    Parameters
    ----------
    m, W1, W2 : float or array_like (broadcast to the grid shape)
        Mean intra-cell hopping and the inter-/intra-cell disorder strengths (units of ``t = 1``).
    L : int, default 100
        Cells per chain.
    n_samples : int, default 32
        Disorder realizations per grid point.
    window, atol
        As :func:`real_space_winding_number`.
    rng : int, Generator, SeedSequence or None

    Returns
    -------
    DisorderAverage

    Examples
    --------
    >>> m, W = np.meshgrid(np.linspace(0, 2, 21), np.linspace(0, 4, 21))
    >>> avg = disorder_averaged_winding(m, W, W / 2, L=60, n_samples=8, rng=0)   # doctest: +SKIP
    """
    if not isinstance(L, (int, np.integer)) or isinstance(L, bool) or L < 1:
        raise InputError(f"L must be an integer >= 1, got {L!r}")
    if not isinstance(n_samples, (int, np.integer)) or isinstance(n_samples, bool) or n_samples < 1:
        raise InputError(f"n_samples must be an integer >= 1, got {n_samples!r}")
    _check_options(atol, 0.0, 0.0, "flag", "flag")
    m, W1, W2 = (np.asarray(x, dtype=np.float64) for x in (m, W1, W2))
    if not all(np.all(np.isfinite(x)) for x in (m, W1, W2)) or np.any(W1 < 0) or np.any(W2 < 0):
        raise InputError("m, W1, W2 must be finite, with W1, W2 >= 0")
    m, W1, W2 = np.broadcast_arrays(m, W1, W2)
    grid = m.shape
    mf, W1f, W2f = (x.ravel() for x in (m, W1, W2))
    P = mf.size
    L = int(L)
    start, stop = bulk_window(L, window)
    total = np.zeros(P)
    total2 = np.zeros(P)
    labels = np.zeros(P)
    quant = np.zeros(P)
    nval = np.zeros(P, dtype=np.int64)
    chunk = max(1, _CHUNK_ELEMENTS // (L * L))
    for child in _seed_sequence(rng).spawn(int(n_samples)):
        gen = np.random.default_rng(child)
        eps_inter = gen.uniform(-0.5, 0.5, size=L)
        eps_intra = gen.uniform(-0.5, 0.5, size=L)
        for a in range(0, P, chunk):
            b = min(P, a + chunk)
            v = mf[a:b, None] + W2f[a:b, None] * eps_intra
            w = (1.0 + W1f[a:b, None] * eps_inter)[:, None, :]
            res = real_space_winding_number(
                hopping=hopping_matrix(v, w), window=(start, stop), atol=atol, on_gapless="flag"
            )
            ok = np.asarray(res.gapped)
            val = np.where(ok, res.value, 0.0)
            total[a:b] += val
            total2[a:b] += val * val
            labels[a:b] += np.where(ok, res.label, 0)
            quant[a:b] += ok & np.asarray(res.quantized)
            nval[a:b] += ok
    with np.errstate(invalid="ignore", divide="ignore"):
        nv = np.where(nval > 0, nval, 1)
        mean = np.where(nval > 0, total / nv, np.nan)
        var = np.maximum(total2 / nv - (total / nv) ** 2, 0.0) * nv / np.maximum(nv - 1, 1)
        sem = np.where(nval > 1, np.sqrt(var / nv), np.nan)
        label_mean = np.where(nval > 0, labels / nv, np.nan)
    lyap = np.asarray(zero_mode_lyapunov(m, W1, W2))
    return DisorderAverage(
        mean.reshape(grid), sem.reshape(grid), label_mean.reshape(grid), (quant / n_samples).reshape(grid),
        nval.reshape(grid), (lyap < 0).astype(np.int64).reshape(grid), lyap.reshape(grid),
    )
