"""Winding number of 1D chiral (class AIII) two-band Bloch Hamiltonians.

A chiral two-band Hamiltonian ``H(k) = h_x(k) σ_x + h_y(k) σ_y`` defines the loop
``U(k) = h̃_x(k) + i h̃_y(k)`` on the unit circle (``h̃ = h/|h|``); its winding number counts how many
times ``U`` goes anticlockwise around the origin as ``k`` runs over the Brillouin zone
(Zhang, Shen, Zhai, PRL 120, 066401 (2018), Eqs. 2-3).

Sign convention
---------------
``w > 0`` for anticlockwise winding, so ``h(k) = (cos wk, sin wk)`` has winding number ``w`` and the
SSH model ``h = (t + t' cos k, t' sin k)`` has ``w = 1`` for ``|t'| > |t|``. This is the sign of the
continuum formula Eq. 2, ``w = -i/2π ∮ U* ∂_k U dk``. The discrete Eq. 3 of the paper is printed with an
extra minus sign, which contradicts Eq. 2 and the text (``w > 0`` anticlockwise); we follow Eq. 2:
``w = (1/2π) Σ_{n=1}^{L} Δθ(n)`` with ``Δθ(n) = [θ(n) − θ(n−1)]`` wrapped into ``[−π, π)``.

Trust of the discrete formula
-----------------------------
The discrete sum equals the winding of the continuous loop only if ``U`` moves by less than π between
neighbouring sample points. A step ``|Δθ|`` close to π is ambiguous (the sampled points cannot tell
which way round the loop went), and a vanishing ``|h(k)|`` makes the phase undefined. Both are
rejected: :func:`winding_number` raises :class:`~topoml.errors.SamplingError` /
:class:`~topoml.errors.GapClosedError`; :func:`winding_diagnostics` flags them per sample (used by the
dataset generators, which resample flagged Hamiltonians).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from topoml.errors import GapClosedError, InputError, SamplingError, ShapeError

__all__ = [
    "DEFAULT_GAP_TOL",
    "DEFAULT_MAX_STEP",
    "WindingDiagnostics",
    "phase_steps",
    "winding_diagnostics",
    "winding_number",
]

#: Relative gap tolerance: a sample point with ``|h(k)| <= DEFAULT_GAP_TOL * max_k |h(k)|`` is gapless.
DEFAULT_GAP_TOL = 1e-6
#: Largest phase step (radians) between neighbouring k points for which Eq. 3 is trusted (0.75 π).
DEFAULT_MAX_STEP = 0.75 * np.pi
#: Tolerance on ``U(k=2π) == U(k=0)`` (closed loop), on the normalized vectors.
_CLOSURE_TOL = 1e-6
#: Elements (samples x k points) processed at a time; keeps temporaries in cache.
_CHUNK_ELEMENTS = 1 << 16


class WindingDiagnostics(NamedTuple):
    """Per-sample result of :func:`winding_diagnostics` (all arrays of shape ``batch_shape``).

    Attributes
    ----------
    winding : ndarray of int64
        The discrete winding number (meaningful where ``valid``).
    max_step : ndarray of float64
        ``max_n |Δθ(n)|`` in radians, in ``[0, π]``.
    min_norm : ndarray of float64
        ``min_k |h(k)| / max_k |h(k)|`` (1 for normalized input).
    valid : ndarray of bool
        ``min_norm > gap_tol`` and ``max_step <= max_step_tol``.
    """

    winding: np.ndarray
    max_step: np.ndarray
    min_norm: np.ndarray
    valid: np.ndarray


def _check_h(h: np.ndarray) -> np.ndarray:
    h = np.asarray(h)
    if not np.issubdtype(h.dtype, np.number) or np.iscomplexobj(h):
        raise InputError(f"h must be a real numeric array, got dtype {h.dtype}")
    if h.ndim < 2 or h.shape[-1] != 2:
        raise ShapeError(
            f"h must have shape (..., L+1, 2) with (h_x, h_y) in the last axis, got shape {h.shape}"
        )
    if h.shape[-2] < 3:
        raise ShapeError(f"need at least 3 k points (L >= 2) per Hamiltonian, got {h.shape[-2]}")
    h = h.astype(np.float64, copy=False)
    if not np.all(np.isfinite(h)):
        raise InputError("h contains NaN or inf; every h(k) must be finite")
    return h


def phase_steps(h: np.ndarray) -> np.ndarray:
    """Phase increments ``Δθ(n) = θ(n) − θ(n−1)`` wrapped into ``[−π, π)`` (paper Eq. 3).

    Parameters
    ----------
    h : array_like of shape (..., L+1, 2)
        ``(h_x, h_y)`` at ``k = 2πn/L``, ``n = 0..L`` (normalized or not).

    Returns
    -------
    ndarray of float64, shape (..., L)

    Raises
    ------
    ShapeError, InputError
        Wrong shape, non-real dtype, NaN or inf.
    """
    h = _check_h(h)
    d = np.diff(np.arctan2(h[..., 1], h[..., 0]), axis=-1)
    d -= 2 * np.pi * (d >= np.pi)
    d += 2 * np.pi * (d < -np.pi)
    return d


def winding_diagnostics(
    h: np.ndarray,
    *,
    gap_tol: float = DEFAULT_GAP_TOL,
    max_step: float = DEFAULT_MAX_STEP,
) -> WindingDiagnostics:
    """Discrete winding number with per-sample trust flags; never raises on physics.

    Parameters
    ----------
    h : array_like of shape (..., L+1, 2)
        ``(h_x, h_y)`` at ``k = 2πn/L``, ``n = 0..L``; the loop must be closed (``h(2π) ∝ h(0)``).
    gap_tol : float
        Relative tolerance below which ``|h(k)|`` counts as zero (gap closed).
    max_step : float
        Largest trusted ``|Δθ|`` in radians, in ``(0, π)``.

    Returns
    -------
    WindingDiagnostics

    Raises
    ------
    ShapeError, InputError
        Wrong shape, NaN/inf, tolerances out of range, or an open loop (``h(2π)`` not along ``h(0)``).
    """
    if not (0 < max_step < np.pi):
        raise InputError(f"max_step must lie in (0, π), got {max_step}")
    if not (0 <= gap_tol < 1):
        raise InputError(f"gap_tol must lie in [0, 1), got {gap_tol}")
    h = _check_h(h)
    batch_shape = h.shape[:-2]
    flat = h.reshape(-1, *h.shape[-2:])
    n = flat.shape[0]
    winding = np.empty(n, dtype=np.int64)
    abs_max = np.empty(n)
    min_norm = np.empty(n)
    # Chunks that fit in cache: the element-wise pipeline is memory-bound on large batches.
    chunk = max(1, _CHUNK_ELEMENTS // flat.shape[1])
    two_pi = 2 * np.pi
    for a in range(0, n, chunk):
        b = min(n, a + chunk)
        x, y = np.ascontiguousarray(flat[a:b].transpose(2, 0, 1))
        n2 = x * x + y * y
        top = n2.max(axis=-1)
        bottom = n2.min(axis=-1)
        with np.errstate(invalid="ignore", divide="ignore"):
            min_norm[a:b] = np.sqrt(np.where(top > 0, bottom / np.where(top > 0, top, 1.0), 0.0))
            # closed loop: h(2π) along h(0), checked on the normalized end points
            r0, r1 = np.sqrt(n2[:, 0]), np.sqrt(n2[:, -1])
            gap = np.maximum(np.abs(x[:, -1] / r1 - x[:, 0] / r0), np.abs(y[:, -1] / r1 - y[:, 0] / r0))
        open_loop = (min_norm[a:b] > gap_tol) & (gap > _CLOSURE_TOL)
        if np.any(open_loop):
            idx = np.unravel_index(a + int(np.argmax(open_loop)), batch_shape) if batch_shape else ()
            raise InputError(
                f"h(k=2π) differs from h(k=0) at sample {tuple(map(int, idx))}: "
                "pass L+1 points k = 2πn/L, n = 0..L, of a periodic h(k)"
            )
        # Eq. 3: Δθ = θ(n) − θ(n−1) wrapped into [−π, π)
        d = np.diff(np.arctan2(y, x), axis=-1)
        d -= two_pi * (d >= np.pi)
        d += two_pi * (d < -np.pi)
        winding[a:b] = np.rint(d.sum(axis=-1) / two_pi).astype(np.int64)
        abs_max[a:b] = np.maximum(d.max(axis=-1), -d.min(axis=-1))
    valid = (min_norm > gap_tol) & (abs_max <= max_step)
    winding, abs_max, min_norm, valid = (v.reshape(batch_shape) for v in (winding, abs_max, min_norm, valid))
    return WindingDiagnostics(winding=winding, max_step=abs_max, min_norm=min_norm, valid=valid)


def winding_number(
    h: np.ndarray,
    *,
    gap_tol: float = DEFAULT_GAP_TOL,
    max_step: float = DEFAULT_MAX_STEP,
    on_gapless: str = "raise",
) -> np.ndarray | int | WindingDiagnostics:
    """Winding number of chiral Bloch Hamiltonians by the discrete formula (Zhang et al. 2018, Eq. 3).

    ``w = (1/2π) Σ_{n=1}^{L} Δθ(n)``, ``Δθ(n) = [θ(n) − θ(n−1)]`` wrapped into ``[−π, π)``,
    ``θ(n) = arg[h_x + i h_y](k = 2πn/L)``. Positive for anticlockwise winding (sign of Eq. 2; see the
    module docstring for the sign typo in the printed Eq. 3). Vectorized over leading batch axes.

    Parameters
    ----------
    h : array_like of shape (L+1, 2) or (..., L+1, 2)
        ``(h_x, h_y)`` at ``k = 2πn/L``, ``n = 0..L`` (normalized as in the paper's input, or not:
        the phase does not depend on the norm). Real, finite; closed loop ``h(2π) ∝ h(0)``.
    gap_tol : float, default 1e-6
        ``|h(k)| <= gap_tol · max_k |h(k)|`` at any sample point counts as a closed gap.
    max_step : float, default 0.75π
        Phase steps ``|Δθ| > max_step`` make the sampled loop ambiguous.
    on_gapless : {"raise", "flag"}, default "raise"
        The gap policy (README): raise, or return the :class:`WindingDiagnostics` of
        :func:`winding_diagnostics`, whose ``valid`` is False where the gap closes (or the k grid is too
        coarse).

    Returns
    -------
    int or ndarray of int64 with shape ``h.shape[:-2]``, or WindingDiagnostics (``on_gapless="flag"``)

    Raises
    ------
    ShapeError
        ``h`` is not of shape (..., L+1, 2) with L >= 2.
    InputError
        NaN/inf, non-real dtype, open loop, or tolerances out of range.
    GapClosedError
        ``|h(k)|`` vanishes (within ``gap_tol``) at a sample point of some Hamiltonian (``on_gapless="raise"``).
    SamplingError
        Some ``|Δθ(n)| > max_step``: the k grid is too coarse for Eq. 3 to be trusted (``on_gapless="raise"``).
    """
    if on_gapless not in ("raise", "flag"):
        raise InputError(f"on_gapless must be 'raise' or 'flag', got {on_gapless!r}")
    d = winding_diagnostics(h, gap_tol=gap_tol, max_step=max_step)
    if on_gapless == "flag":
        return d
    if not np.all(d.valid):
        bad = np.argwhere(np.atleast_1d(~d.valid))[0]
        where = tuple(bad.tolist()) if np.ndim(d.valid) else ()
        mn = np.atleast_1d(d.min_norm)[tuple(bad)]
        if mn <= gap_tol:
            raise GapClosedError(
                f"|h(k)| vanishes at a sample point (relative min {mn:.2e} <= {gap_tol:g}) for sample {where}; "
                "the winding number is undefined at a gap closing"
            )
        ms = np.atleast_1d(d.max_step)[tuple(bad)]
        raise SamplingError(
            f"phase step |Δθ| = {ms:.3f} rad > max_step = {max_step:.3f} for sample {where}; "
            "sample h(k) on a finer k grid"
        )
    w = d.winding
    return int(w) if np.ndim(w) == 0 else w
