"""Winding number of very long disordered chiral chains (10⁶ cells in about a second): twisted ring.

For the SSH-family chain of :mod:`topoml.hamiltonians.ssh` (hopping block ``h``: ``h[n, n] = v_n``,
``h[n + r, n] = w^{(r)}_n``, ``r = 1 … R``) closed into a ring with a twist ``z = e^{iθ}`` on the bonds
that cross the seam, ``det h(z)`` is a polynomial of degree ``<= R`` in ``z`` and the winding number is
the winding of ``θ ↦ det h(e^{iθ})``, i.e. the number of its zeros inside the unit disk (the argument
principle; the twisted-boundary-condition winding of Niu, Thouless and Wu, PRB 31, 3372 (1985) for a
chiral chain). For a clean chain this is the k-space winding of ``v + Σ_r w_r e^{irk}``
(:func:`topoml.invariants.winding.winding_number`), sign convention of
:func:`topoml.invariants.real_space.real_space_winding_number` (``+1`` for ``|v| < |w|``).

Algorithm (no ``L × L`` matrix)
-------------------------------
``h(z) = h₀ + z C`` with ``h₀`` the open chain (lower triangular, ``det h₀ = Π v_n``) and ``C`` the
``R × R`` corner of wrapped bonds, so ``det h(z) = det h₀ · det(1 + z S)`` with
``S = (h₀⁻¹)[L−R:, :R] · C[:R, L−R:]``: the zeros are ``z = −1/μ`` for the eigenvalues ``μ`` of ``S``, and
**the winding number is the number of eigenvalues of S with |μ| > 1**. The block of ``h₀⁻¹`` is a
product of ``L − R`` companion (transfer) matrices of the recurrence
``x_n = −Σ_r w^{(r)}_{n−r} x_{n−r} / v_n``, computed with QR re-orthogonalization every few steps
(Lyapunov-exponent style), so that its exponentially large and small directions both survive: the
accumulated ``log|diag R|`` give ``log|μ_i|`` up to ``O(1)`` terms. For ``R = 1`` it is exact:
``log|μ| = Σ ln|w_n| − Σ ln|v_n|``, i.e. ``W = 1`` iff ``Σ ln|w_n| > Σ ln|v_n|`` — the finite-chain
version of the exact disorder phase boundary ``E ln|m_n| = E ln|t_n|`` of Mondragon-Shem, Hughes, Song
and Prodan, PRL 113, 046802 (2014) (:func:`~topoml.invariants.disorder.zero_mode_lyapunov`).

Certificate
-----------
``margin = min_i |log|μ_i|| / L``: the smallest Lyapunov exponent (inverse zero-mode localization length
in cells). The label is ``certified`` when ``margin · L >= margin_tol`` (default 10, i.e. every zero of
``det h(z)`` is at least ``e^{10/L}``-fold away from the unit circle in radius: far beyond the ``O(1)``
uncertainty of the QR estimate); otherwise the chain is too close to a transition for its length.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from topoml.errors import GapClosedError, InputError, ShapeError
from topoml.hamiltonians.ssh import _check_vw

__all__ = ["RingWinding", "ring_winding_number"]

#: Transfer matrices multiplied between two QR re-orthogonalizations, for blocks whose condition
#: numbers multiply to at most e^18 (:func:`_log_cond`); other blocks go one step at a time. (Blocks of
#: 32 regardless of conditioning lost the subdominant direction: wrong labels on clean R = 2, 3 chains.)
_BLOCK = 8


class RingWinding(NamedTuple):
    """Twisted-ring winding number of one chain.

    Attributes
    ----------
    label : int
        Number of zeros of ``det h(z)`` inside the unit disk, in ``[0, R]``.
    exponents : ndarray of float64, shape (R,)
        ``log|μ_i| / L`` (Lyapunov exponents of the zero-energy transfer matrices, decreasing).
    margin : float
        ``min_i |exponents_i|``.
    certified : bool
        ``margin · L >= margin_tol``.
    """

    label: int
    exponents: np.ndarray
    margin: float
    certified: bool


def _log_cond(T: np.ndarray) -> np.ndarray:
    """Upper bound on ``log cond_∞(T_n)`` of each companion matrix ``T`` (n, R, R) (``inf`` if singular)."""
    with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
        norm = np.max(np.sum(np.abs(T), axis=-1), axis=-1)
        last = np.abs(T[:, 0, -1])  # |w^{(R)}_{n−R} / v_n|: the companion inverse divides by it
        inv = np.maximum(1.0, (1.0 + np.sum(np.abs(T[:, 0, :-1]), axis=-1)) / last)
        out = np.log(norm) + np.log(inv)
    return np.where(np.isfinite(out), out, np.inf)


def _exponents(v: np.ndarray, w: np.ndarray) -> np.ndarray:
    """``log|μ_i|`` (not divided by L), decreasing, of ``S`` for one chain ``v (L,)``, ``w (R, L)``."""
    L, R = v.shape[0], w.shape[0]
    if R == 1:  # exact: μ = w_{L−1} Π_{n=1}^{L−1} (−w_{n−1}/v_n) / v_0
        with np.errstate(divide="ignore"):
            return np.array([np.sum(np.log(np.abs(w[0]))) - np.sum(np.log(np.abs(v)))])
    dtype = np.result_type(v, w, np.float64)
    # initial conditions: x = h₀⁻¹ e_j for j < R, rows 0 … R−1 (top-left R×R lower-triangular block)
    top = np.zeros((R, R), dtype=dtype)
    for n in range(R):
        top[n, n] = v[n]
        for r in range(1, n + 1):
            top[n, n - r] = w[r - 1, n - r]
    X0 = np.linalg.solve(top, np.eye(R, dtype=dtype))  # rows n = 0..R−1, columns j
    state = X0[::-1].copy()  # s_{R−1} = (x_{R−1}, …, x_0) for each j
    # companion matrices T_n for n = R … L−1: first row −w^{(r)}_{n−r} / v_n, then a shift
    n = np.arange(R, L)
    T = np.zeros((n.size, R, R), dtype=dtype)
    for r in range(1, R + 1):
        T[:, 0, r - 1] = -w[r - 1, n - r] / v[n]
    T[:, np.arange(1, R), np.arange(R - 1)] = 1.0
    # product T_{L−1} ⋯ T_R · state, QR-renormalized after every block of _BLOCK steps whose condition
    # numbers multiply to at most e^18 (so no direction is lost to rounding), else after every step
    nb = -(-n.size // _BLOCK)
    pad = nb * _BLOCK - n.size
    if pad:
        T = np.concatenate([T, np.broadcast_to(np.eye(R, dtype=dtype), (pad, R, R))])
    Tb = T.reshape(nb, _BLOCK, R, R)
    good = _log_cond(T).reshape(nb, _BLOCK).sum(axis=1) <= 18.0
    with np.errstate(over="ignore", invalid="ignore"):
        P = Tb[:, 0]
        for k in range(1, _BLOCK):  # block products, vectorized over blocks: T_{b,k} ⋯ T_{b,0}
            P = Tb[:, k] @ P
    logs = np.zeros(R)
    Q = state
    for b in range(nb):
        for M in ((P[b],) if good[b] else Tb[b]):
            Q, Rm = np.linalg.qr(M @ Q)
            d = np.abs(np.diagonal(Rm))
            logs += np.log(np.where(d > 0, d, np.finfo(float).tiny))
    # S = (h₀⁻¹)[L−R:, :R] · C: with h₀⁻¹ block = rev(Q diag(e^{logs}) U) the |μ_i| are e^{logs_i} up to O(1)
    return np.sort(logs)[::-1]


def ring_winding_number(v, w, *, margin_tol: float = 10.0, on_gapless: str = "flag") -> RingWinding:
    """Winding number of one long disordered chiral chain from the twisted ring (module docstring).

    Parameters
    ----------
    v : array_like of shape (L,)
        Intra-cell hoppings ``v_n`` (real or complex, nonzero).
    w : array_like of shape (R, L)
        Inter-cell hoppings ``w[r-1, n] = w^{(r)}_n`` (``B_n → A_{n+r}``), as in
        :func:`topoml.hamiltonians.ssh.hopping_matrix`; ``L > 2R``.
    margin_tol : float, default 10
        ``certified`` iff ``margin · L >= margin_tol``.
    on_gapless : {"flag", "raise"}, default "flag"
        Not certified: flag it (``certified=False``) or raise :class:`~topoml.errors.GapClosedError`.

    Returns
    -------
    RingWinding
        ``label`` (int, ``+1`` for ``|v| < |w|``, as ``real_space_winding_number``), ``exponents``,
        ``margin``, ``certified``.

    Raises
    ------
    ShapeError
        ``v`` not ``(L,)`` or ``w`` not ``(R, L)`` with ``R >= 1``, or ``L <= 2R``.
    InputError
        NaN/inf, bad ``margin_tol`` or ``on_gapless``.
    GapClosedError
        A zero intra-cell hopping (``det h₀ = 0``), or not certified with ``on_gapless="raise"``.
    """
    if on_gapless not in ("raise", "flag"):
        raise InputError(f"on_gapless must be 'raise' or 'flag', got {on_gapless!r}")
    if isinstance(margin_tol, bool) or not isinstance(margin_tol, (int, float, np.integer, np.floating)) or not (margin_tol >= 0 and math.isfinite(margin_tol)):
        raise InputError(f"margin_tol must be a non-negative finite number, got {margin_tol!r}")
    v, w = _check_vw(v, w)
    if v.ndim != 1:
        raise ShapeError(f"one chain at a time: v must have shape (L,), got {v.shape}")
    L, R = v.shape[0], w.shape[0]
    if R < 1 or L <= 2 * R:
        raise ShapeError(f"need R >= 1 hopping ranges and L > 2R cells, got R = {R}, L = {L}")
    if np.any(v == 0):
        raise GapClosedError("a zero intra-cell hopping v_n: det h₀ = 0, the twisted-ring route needs v_n ≠ 0")
    logs = _exponents(v, w)
    label = int(np.sum(logs > 0))
    margin = float(np.min(np.abs(logs)) / L)
    certified = bool(margin * L >= margin_tol)
    if not certified and on_gapless == "raise":
        raise GapClosedError(
            f"the chain is within {margin * L:.2g} < margin_tol = {margin_tol:g} (in log|μ|) of a transition: "
            "its winding number is not determined at this length"
        )
    return RingWinding(label=label, exponents=logs / L, margin=margin, certified=certified)
