"""Families of 1D chiral (class AIII) two-band Bloch Hamiltonians ``H(k) = h_x σ_x + h_y σ_y``.

All functions return ``h`` sampled at ``k = 2πn/L``, ``n = 0..L`` (both end points, as the input of
Zhang, Shen, Zhai, PRL 120, 066401 (2018), Eq. 1), as float64 arrays of shape ``(n, L+1, 2)`` with
``(h_x, h_y)`` in the last axis. Energies are in arbitrary units (only the direction of ``h`` matters for
the winding number). Use :func:`normalize` for the network input ``h̃ = h/|h|``.
"""

from __future__ import annotations

import numpy as np

from topoml.errors import GapClosedError, InputError
from topoml.rng import RngLike, as_generator

__all__ = [
    "k_grid",
    "normalize",
    "ssh",
    "fourier_coefficients",
    "fourier_hamiltonian",
    "random_fourier",
    "wind_unwind",
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
    """
    t = np.atleast_1d(np.asarray(t, dtype=np.float64))
    tp = np.atleast_1d(np.asarray(t_prime, dtype=np.float64))
    if t.ndim != 1 or tp.ndim != 1:
        raise InputError("t and t_prime must be scalars or 1D arrays")
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
    inc = gen.exponential(1.0, size=(n, m))
    g = np.concatenate([np.zeros((n, 1)), np.cumsum(inc, axis=1)], axis=1)
    return g / g[:, -1:]


def wind_unwind(n: int, c: int = 4, L: int = 32, rng: RngLike = None) -> np.ndarray:
    """Hamiltonians that wind up during ``k ∈ [0, π]`` and unwind back during ``[π, 2π]`` (paper Eq. 8).

    ``θ(k) = f1(k)`` on ``[0, π]`` and ``θ(k) = f1(π) − f2(k − π)`` on ``[π, 2π]``, with ``f1, f2``
    random increasing functions, ``f1(0) = f2(0) = 0`` and ``f1(π) = f2(π) = A``, ``A`` uniform in
    ``(0, cπ]``. ``h = (cos θ, sin θ)``; the winding number is always 0. ``L`` must be even so that
    ``k = π`` is a sample point.

    Returns
    -------
    ndarray of float64, shape (n, L+1, 2)
    """
    n = _check_n(n)
    L = _check_L(L)
    if L % 2:
        raise InputError(f"wind_unwind needs an even L (k = π on the grid), got {L}")
    gen = as_generator(rng)
    half = L // 2
    amp = gen.uniform(0.0, 1.0, size=(n, 1))
    amp = (1.0 - amp) * c * np.pi  # (0, cπ]
    f1 = amp * _monotone_profiles(gen, n, half)
    f2 = amp * _monotone_profiles(gen, n, half)
    theta = np.concatenate([f1, amp - f2[:, 1:]], axis=1)  # (n, L+1)
    return np.stack([np.cos(theta), np.sin(theta)], axis=-1)


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
