"""Families of 1D chiral (class AIII) two-band Bloch Hamiltonians ``H(k) = h_x σ_x + h_y σ_y``.

All functions return ``h`` sampled at ``k = 2πn/L``, ``n = 0..L`` (both end points, as the input of
Zhang, Shen, Zhai, PRL 120, 066401 (2018), Eq. 1), as float64 arrays of shape ``(n, L+1, 2)`` with
``(h_x, h_y)`` in the last axis. Energies are in arbitrary units (only the direction of ``h`` matters for
the winding number). Use :func:`normalize` for the network input ``h̃ = h/|h|``.
"""

from __future__ import annotations

import numpy as np

from topoml.errors import GapClosedError, InputError, ShapeError
from topoml.rng import RngLike, as_generator

__all__ = [
    "k_grid",
    "normalize",
    "ssh",
    "fourier_coefficients",
    "fourier_hamiltonian",
    "random_fourier",
    "wind_unwind",
    "prescribed_winding",
    "uniform_winding",
    "phase_input",
]


def _check_L(L: int) -> int:
    if not isinstance(L, (int, np.integer)) or isinstance(L, bool) or L < 2:
        raise InputError(f"L (number of k intervals) must be an integer >= 2, got {L!r}")
    return int(L)


def _check_n(n: int) -> int:
    if not isinstance(n, (int, np.integer)) or isinstance(n, bool) or n < 0:
        raise InputError(f"number of Hamiltonians must be a non-negative integer, got {n!r}")
    return int(n)


def k_grid(L: int = 32) -> np.ndarray:
    """The ``L+1`` momenta ``k = 2πn/L``, ``n = 0..L`` (float64, shape ``(L+1,)``)."""
    L = _check_L(L)
    return 2 * np.pi * np.arange(L + 1) / L


def normalize(h: np.ndarray) -> np.ndarray:
    """``h̃ = h/|h|`` pointwise (paper Eq. 1 input).

    Parameters
    ----------
    h : ndarray of shape (..., L+1, 2)

    Returns
    -------
    ndarray of float64, same shape

    Raises
    ------
    GapClosedError
        If ``|h(k)| == 0`` at some point.
    """
    h = np.asarray(h, dtype=np.float64)
    norm = np.hypot(h[..., 0], h[..., 1])[..., None]
    if np.any(norm == 0):
        raise GapClosedError("|h(k)| = 0 at a sample point: cannot normalize a gapless Hamiltonian")
    return h / norm


def ssh(t: np.ndarray | float, t_prime: np.ndarray | float, L: int = 32) -> np.ndarray:
    """SSH model ``h(k) = (t + t' cos k, t' sin k)`` (paper Eq. 4).

    ``w = 0`` for ``|t| > |t'|`` and ``w = 1`` for ``|t'| > |t|`` (``h_x + i h_y = t + t' e^{ik}``).

    Parameters
    ----------
    t, t_prime : float or array_like of shape (n,)
        Intra- and inter-cell hoppings.
    L : int

    Returns
    -------
    ndarray of float64, shape (n, L+1, 2)

    Raises
    ------
    InputError
        Not scalars or 1D arrays, or NaN/inf.
    ShapeError
        ``t`` and ``t_prime`` of different lengths (neither a scalar).
    """
    t = np.atleast_1d(np.asarray(t, dtype=np.float64))
    tp = np.atleast_1d(np.asarray(t_prime, dtype=np.float64))
    if t.ndim != 1 or tp.ndim != 1:
        raise InputError("t and t_prime must be scalars or 1D arrays")
    if len(t) != len(tp) and 1 not in (len(t), len(tp)):
        raise ShapeError(f"t and t_prime must have the same length (or one be a scalar), got {len(t)} and {len(tp)}")
    t, tp = np.broadcast_arrays(t, tp)
    if not (np.all(np.isfinite(t)) and np.all(np.isfinite(tp))):
        raise InputError("t and t_prime must be finite")
    k = k_grid(L)
    hx = t[:, None] + tp[:, None] * np.cos(k)
    hy = tp[:, None] * np.sin(k)
    return np.stack([hx, hy], axis=-1)


def fourier_coefficients(n: int, c: int, rng: RngLike = None) -> np.ndarray:
    """Random Fourier coefficients of paper Eq. 7, uniform in ``[−1, 1]``.

    Returns
    -------
    ndarray of float64, shape (n, 2, 2, c+1)
        ``coef[s, i, 0, m] = a_{i,m}``, ``coef[s, i, 1, m] = b_{i,m}`` for component ``i ∈ {x, y}``.
    """
    n = _check_n(n)
    if not isinstance(c, (int, np.integer)) or c < 1:
        raise InputError(f"Fourier cutoff c must be an integer >= 1, got {c!r}")
    return as_generator(rng).uniform(-1.0, 1.0, size=(n, 2, 2, int(c) + 1))


def fourier_hamiltonian(coef: np.ndarray, L: int = 32) -> np.ndarray:
    """``h_i(k) = Σ_{m=0}^{c} [a_{i,m} cos(mk) + b_{i,m} sin(mk)]`` (paper Eq. 7).

    Parameters
    ----------
    coef : ndarray of shape (n, 2, 2, c+1)
        As returned by :func:`fourier_coefficients`.
    L : int

    Returns
    -------
    ndarray of float64, shape (n, L+1, 2)
    """
    coef = np.asarray(coef, dtype=np.float64)
    if coef.ndim != 4 or coef.shape[1:3] != (2, 2):
        raise InputError(f"coef must have shape (n, 2, 2, c+1), got {coef.shape}")
    k = k_grid(L)
    m = np.arange(coef.shape[-1])
    cos = np.cos(np.outer(m, k))  # (c+1, L+1)
    sin = np.sin(np.outer(m, k))
    h = coef[:, :, 0, :] @ cos + coef[:, :, 1, :] @ sin  # (n, 2, L+1)
    return np.ascontiguousarray(h.transpose(0, 2, 1))


def random_fourier(n: int, c: int = 4, L: int = 32, rng: RngLike = None) -> np.ndarray:
    """``n`` random Hamiltonians of paper Eqs. 6-7 (cutoff ``c``), shape ``(n, L+1, 2)``."""
    return fourier_hamiltonian(fourier_coefficients(n, c, rng), L)


def _monotone_profiles(gen: np.random.Generator, n: int, m: int) -> np.ndarray:
    """Random increasing functions g on m+1 points with g(0)=0, g(1)=1, shape (n, m+1)."""
    inc = gen.gamma(2.0, 1.0, size=(n, m))
    g = np.concatenate([np.zeros((n, 1)), np.cumsum(inc, axis=1)], axis=1)
    return g / g[:, -1:]


def wind_unwind(
    n: int, c: int = 4, L: int = 32, rng: RngLike = None, *, max_step: float = 0.75 * np.pi
) -> np.ndarray:
    """Hamiltonians that wind up during ``k ∈ [0, π]`` and unwind back during ``[π, 2π]`` (paper Eq. 8).

    ``θ(k) = f1(k)`` on ``[0, π]`` and ``θ(k) = f1(π) − f2(k − π)`` on ``[π, 2π]``, with ``f1, f2``
    random increasing functions (normalized cumulative sums of Gamma(2) increments),
    ``f1(0) = f2(0) = 0`` and ``f1(π) = f2(π) = A``, ``A`` uniform in ``(0, cπ]``;
    ``h = (cos θ, sin θ)``. The winding number is always 0. Profiles whose true phase step between
    neighbouring k points exceeds ``max_step`` are redrawn, so the sampled loop never aliases a full turn
    and the discrete formula recovers the true winding 0. ``L`` must be even (``k = π`` on the grid).

    Returns
    -------
    ndarray of float64, shape (n, L+1, 2)
    """
    n = _check_n(n)
    L = _check_L(L)
    if L % 2:
        raise InputError(f"wind_unwind needs an even L (k = π on the grid), got {L}")
    if not isinstance(c, (int, np.integer)) or c < 1:
        raise InputError(f"cutoff c must be an integer >= 1, got {c!r}")
    if c * np.pi / (L // 2) > max_step:
        raise InputError(f"L = {L} is too coarse for winding up to {c} turns in half the zone; use L >= {int(np.ceil(2 * c * np.pi / max_step))}")
    gen = as_generator(rng)
    half = L // 2
    out = np.empty((n, L + 1))
    filled = 0
    while filled < n:
        m = max(16, int(1.3 * (n - filled)))
        amp = (1.0 - gen.uniform(0.0, 1.0, size=(m, 1))) * c * np.pi  # (0, cπ]
        f1 = amp * _monotone_profiles(gen, m, half)
        f2 = amp * _monotone_profiles(gen, m, half)
        theta = np.concatenate([f1, amp - f2[:, 1:]], axis=1)  # (m, L+1)
        ok = np.abs(np.diff(theta, axis=1)).max(axis=1) <= max_step
        take = theta[ok][: n - filled]
        out[filled : filled + len(take)] = take
        filled += len(take)
    return np.stack([np.cos(out), np.sin(out)], axis=-1)


def prescribed_winding(w: int, n: int, c: int = 4, L: int = 32, rng: RngLike = None) -> np.ndarray:
    """Fourier Hamiltonians of cutoff ``c`` (paper Eq. 7) with winding number exactly ``w``.

    Writes ``h_x + i h_y = z(k) = γ e^{−ick} Π_{j=1}^{2c} (e^{ik} − r_j)``, a trigonometric polynomial of
    degree ``c`` (so ``h_x, h_y`` are Fourier series with cutoff ``c``) whose winding number is
    ``#{|r_j| < 1} − c``. ``c + w`` roots are drawn inside the unit disk (radius uniform in (0, 1)) and
    ``c − w`` outside (radius ``1/u``, ``u`` uniform in (0, 1)), with uniform angles and a random global
    phase ``γ``. Used for the test sets with winding numbers never seen in training (paper tests iii, iv),
    which uniform coefficients produce too rarely (``|w| = 4`` has probability ~1e-4 at ``c = 4``).

    Returns
    -------
    ndarray of float64, shape (n, L+1, 2)
    """
    n = _check_n(n)
    L = _check_L(L)
    if not isinstance(c, (int, np.integer)) or c < 1 or not isinstance(w, (int, np.integer)) or abs(w) > c:
        raise InputError(f"need integers c >= 1 and |w| <= c, got w={w!r}, c={c!r}")
    gen = as_generator(rng)
    n_in = c + int(w)
    radius = gen.uniform(0.0, 1.0, size=(n, 2 * c))
    radius[:, n_in:] = 1.0 / np.maximum(radius[:, n_in:], 1e-3)
    roots = radius * np.exp(2j * np.pi * gen.uniform(size=(n, 2 * c)))
    zeta = np.exp(1j * k_grid(L))
    z = np.prod(zeta[None, :, None] - roots[:, None, :], axis=-1) * zeta[None, :] ** (-c)
    z *= np.exp(2j * np.pi * gen.uniform(size=(n, 1)))
    z[:, -1] = z[:, 0]  # k = 2π and k = 0 are the same point; remove round-off
    return np.stack([z.real, z.imag], axis=-1)


def uniform_winding(w: int | np.ndarray, L: int = 32, phase: float | np.ndarray = 0.0) -> np.ndarray:
    """``h(k) = (cos(wk + φ), sin(wk + φ))``: winding number exactly ``w``.

    Returns
    -------
    ndarray of float64, shape (n, L+1, 2) with ``n = len(atleast_1d(w))``
    """
    w = np.atleast_1d(np.asarray(w))
    if not np.issubdtype(w.dtype, np.integer):
        raise InputError("w must be an integer or an integer array")
    phase = np.broadcast_to(np.asarray(phase, dtype=np.float64), w.shape)
    theta = w[:, None] * k_grid(L)[None, :] + phase[:, None]
    return np.stack([np.cos(theta), np.sin(theta)], axis=-1)


def phase_input(phi: np.ndarray, dphi: np.ndarray, L: int = 32) -> np.ndarray:
    """The probe input of paper Eq. 14: columns ``(cos(φ + mΔφ), sin(φ + mΔφ))``, ``m = 0..L``.

    Used to open the black box: the first convolution window sees ``θ(0) = φ`` and ``θ(1) = φ + Δφ``.
    (Not a closed loop in general; it is a probe of the network, not a Hamiltonian to label.)

    Returns
    -------
    ndarray of float64, shape (n, L+1, 2) for ``phi``, ``dphi`` broadcast to shape (n,)
    """
    phi, dphi = np.broadcast_arrays(np.atleast_1d(phi).astype(np.float64), np.atleast_1d(dphi).astype(np.float64))
    m = np.arange(_check_L(L) + 1)
    theta = phi[:, None] + dphi[:, None] * m[None, :]
    return np.stack([np.cos(theta), np.sin(theta)], axis=-1)
