"""Chern number of the clean p+ip superconductor, two independent ways (margalit2022).

The clean (uniform) lattice of :mod:`topoml.hamiltonians.pip` has the Bloch BdG Hamiltonian
``H(k) = [[ε(k), Δ(k)], [Δ(k)*, −ε(k)]]``, ``ε = −μ + 2t_x cos k_x + 2t_y cos k_y``,
``Δ(k) = iΔ sin k_x − Δ sin k_y``, ``t_x,y = (1 ± t₋)/2`` (units of ``t₊ = 1``). Its gap closes (for
``Δ ≠ 0``) only at ``k ∈ {0, π}²``, i.e. on the lines ``μ = ±2`` and ``μ = ±2t₋``.

Sign convention (``docs/conventions-margalit2022.md``)
------------------------------------------------------
The label sign is that of the Bott index (:func:`topoml.invariants.bott.bott_index`):

    C = ½[sgn(μ−2) + sgn(μ+2) − sgn(μ−2t₋) − sgn(μ+2t₋)]      (C = +1 at μ = −1, t₋ = 0.2)

which is **minus** the Fukui–Hatsugai–Suzuki (FHS) Chern number of the negative-energy band computed
with the standard orientation (``k_x`` along lattice axis i, then ``k_y`` along axis j)::

    bott_label == clean_chern_number(mu, t_minus) == -fhs_chern_number(mu, t_minus, delta)

:func:`chern_number` returns the label-convention value by either method.

Sources: Margalit et al., PRB 105, 205139 (2022), Fig. 2(a); Fukui, Hatsugai, Suzuki, J. Phys. Soc. Jpn.
74, 1674 (2005), Eqs. 6-8.
"""

from __future__ import annotations

from typing import Literal, NamedTuple

import numpy as np

from topoml.errors import GapClosedError, InputError, SamplingError
from topoml.hamiltonians.pip import bloch_hamiltonian

__all__ = ["DEFAULT_NK", "ChernResult", "chern_number", "clean_chern_number", "fhs_chern_number"]

#: Default number of k points per direction of the FHS grid.
DEFAULT_NK = 48
#: Default largest trusted |plaquette flux| (radians) of the FHS formula.
DEFAULT_MAX_FLUX = 0.5 * np.pi


def _as_float(name: str, v: np.ndarray | float) -> np.ndarray:
    a = np.asarray(v)
    if not (np.issubdtype(a.dtype, np.integer) or np.issubdtype(a.dtype, np.floating)) or a.dtype == bool:
        raise InputError(f"{name} must be real, got dtype {a.dtype}")
    a = a.astype(np.float64, copy=False)
    if not np.all(np.isfinite(a)):
        raise InputError(f"{name} contains NaN or inf")
    return a


class ChernResult(NamedTuple):
    """Result of the Chern-number functions with ``on_gapless="flag"``.

    Attributes
    ----------
    chern_number : int or ndarray of int64
        The value (meaningless where ``gapless``).
    gapless : bool or ndarray of bool
        The gap closes there (the Chern number is undefined).
    """

    chern_number: np.ndarray | int
    gapless: np.ndarray | bool


def _check_policy(on_gapless: str) -> None:
    if on_gapless not in ("raise", "flag"):
        raise InputError(f"on_gapless must be 'raise' or 'flag', got {on_gapless!r}")


def _flagged(c: np.ndarray, gapless: np.ndarray) -> ChernResult:
    return ChernResult(_out(c), bool(gapless) if gapless.ndim == 0 else gapless)


def _out(c: np.ndarray) -> np.ndarray | int:
    return int(c) if np.ndim(c) == 0 else c


def clean_chern_number(
    mu: np.ndarray | float, t_minus: np.ndarray | float, *, atol: float = 0.0, on_gapless: str = "raise"
) -> np.ndarray | int | ChernResult:
    """Closed-formula Chern number of the clean lattice (label/Bott sign convention).

    ``C = ½[sgn(μ−2) + sgn(μ+2) − sgn(μ−2t₋) − sgn(μ+2t₋)]``, valid for any ``Δ ≠ 0``.

    Parameters
    ----------
    mu, t_minus : float or array_like, broadcastable
        Chemical potential and hopping anisotropy (units of ``t₊ = 1``).
    atol : float, default 0
        Points within ``atol`` of a phase boundary (``|μ ∓ 2| <= atol`` or ``|μ ∓ 2t₋| <= atol``) count
        as gapless.
    on_gapless : {"raise", "flag"}, default "raise"
        The gap policy (README): raise on a phase boundary, or return a :class:`ChernResult` whose
        ``gapless`` marks the boundary points.

    Returns
    -------
    int or ndarray of int64 (broadcast shape), or ChernResult (``on_gapless="flag"``)
        Values in ``{−1, 0, 1}``.

    Raises
    ------
    InputError
        NaN/inf or non-real input, negative ``atol``.
    GapClosedError
        Some point lies on a clean phase boundary, where the Chern number is undefined
        (``on_gapless="raise"``).
    """
    _check_policy(on_gapless)
    mu = _as_float("mu", mu)
    t_minus = _as_float("t_minus", t_minus)
    if not np.isfinite(atol) or atol < 0:
        raise InputError(f"atol must be a non-negative finite number, got {atol!r}")
    mu, t_minus = np.broadcast_arrays(mu, t_minus)
    closings = np.stack([mu - 2, mu + 2, mu - 2 * t_minus, mu + 2 * t_minus])
    on = np.any(np.abs(closings) <= atol, axis=0)
    if on_gapless == "flag":
        return _flagged(_clean_formula(closings), on)
    if np.any(on):
        k = np.argwhere(np.atleast_1d(on))[0]
        mu0, t0 = np.atleast_1d(mu)[tuple(k)], np.atleast_1d(t_minus)[tuple(k)]
        raise GapClosedError(
            f"(mu, t_minus) = ({mu0:g}, {t0:g}) lies on a clean phase boundary (|mu| = 2 or |mu| = 2|t_minus|); "
            "the Chern number is undefined there"
        )
    return _out(_clean_formula(closings))


def _clean_formula(closings: np.ndarray) -> np.ndarray:
    s = np.sign(closings)
    return np.rint(0.5 * (s[0] + s[1] - s[2] - s[3])).astype(np.int64)


def fhs_chern_number(
    mu: np.ndarray | float,
    t_minus: np.ndarray | float,
    delta: np.ndarray | float,
    *,
    nk: int = DEFAULT_NK,
    band: Literal["lower", "upper"] = "lower",
    gap_tol: float = 1e-9,
    max_flux: float = DEFAULT_MAX_FLUX,
    on_gapless: str = "raise",
) -> np.ndarray | int | ChernResult:
    """Fukui–Hatsugai–Suzuki lattice Chern number of one band of the clean Bloch BdG Hamiltonian.

    ``C = (1/2π) Σ_k F(k)``, ``F(k) = arg[U_x(k) U_y(k+x̂) U_x(k+ŷ)* U_y(k)*]`` with link variables
    ``U_μ(k) = ⟨u(k)|u(k+μ̂)⟩/|⟨u(k)|u(k+μ̂)⟩|`` on the ``nk×nk`` grid ``k = 2π(a, b)/nk``; ``x`` is lattice
    axis i, ``y`` axis j. Gauge invariant and exactly integer. **Sign**: standard orientation, so the
    negative-energy band gives ``−C`` of :func:`clean_chern_number` (and of the Bott label).

    Parameters
    ----------
    mu, t_minus, delta : float or array_like, broadcastable to a shape ``S``
        Clean parameters (units of ``t₊ = 1``).
    nk : int, default 48
        k points per direction (``>= 4``). Even ``nk`` samples the gap-closing momenta ``{0, π}²``.
    band : {"lower", "upper"}, default "lower"
        The negative- or positive-energy band (their Chern numbers are opposite).
    gap_tol : float, default 1e-9
        ``min_k |E(k)| <= gap_tol`` counts as a closed gap.
    max_flux : float, default π/2
        Largest trusted ``|F(k)|``: a larger plaquette flux means the grid is too coarse. This check
        cannot see a feature the grid steps over entirely: near the Fermi surface the Berry curvature
        lives in a shell of width ``~Δ/v_F``, so use ``nk >> 2π·v_F/Δ`` (the default 48 is enough for
        ``Δ >= 0.1`` and parameters ``>= 0.25`` from a phase boundary).
    on_gapless : {"raise", "flag"}, default "raise"
        The gap policy (README): raise where the gap closes, or return a :class:`ChernResult` whose
        ``gapless`` marks those parameter sets (the flux check then skips them).

    Returns
    -------
    int or ndarray of int64 with shape ``S``, or ChernResult (``on_gapless="flag"``)

    Raises
    ------
    InputError
        NaN/inf, ``nk < 4``, bad ``band`` or tolerances.
    GapClosedError
        The gap closes on the grid (``min_k |E(k)| <= gap_tol``) for some parameter set
        (``on_gapless="raise"``).
    SamplingError
        Some plaquette flux exceeds ``max_flux``: increase ``nk`` (parameters close to a boundary).
    """
    _check_policy(on_gapless)
    if not isinstance(nk, (int, np.integer)) or isinstance(nk, bool) or nk < 4:
        raise InputError(f"nk must be an integer >= 4, got {nk!r}")
    if band not in ("lower", "upper"):
        raise InputError(f"band must be 'lower' or 'upper', got {band!r}")
    if not (0 < max_flux <= np.pi):
        raise InputError(f"max_flux must lie in (0, π], got {max_flux!r}")
    mu, t_minus, delta = np.broadcast_arrays(*(_as_float(nm, v) for nm, v in (("mu", mu), ("t_minus", t_minus), ("delta", delta))))
    shape = mu.shape
    k = 2 * np.pi * np.arange(nk) / nk
    kx, ky = np.meshgrid(k, k, indexing="ij")
    p = [v.reshape(-1, 1, 1) for v in (mu, t_minus, delta)]
    E, vecs = np.linalg.eigh(bloch_hamiltonian(kx, ky, *p))  # (P, nk, nk, 2), (P, nk, nk, 2, 2)
    gap = np.abs(E).min(axis=(-1, -2, -3))
    closed = gap <= gap_tol
    if on_gapless == "raise" and np.any(closed):
        i = int(np.argmax(closed))
        raise GapClosedError(
            f"clean BdG gap closes on the k grid (min |E| = {gap[i]:.1e}) at (mu, t_minus, delta) = "
            f"({mu.ravel()[i]:g}, {t_minus.ravel()[i]:g}, {delta.ravel()[i]:g}); the Chern number is undefined"
        )
    u = vecs[..., 0 if band == "lower" else 1]  # (P, nk, nk, 2)
    ux = np.roll(u, -1, axis=1)  # u(k + x̂)
    uy = np.roll(u, -1, axis=2)  # u(k + ŷ)
    uxy = np.roll(ux, -1, axis=2)  # u(k + x̂ + ŷ)

    def link(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return np.einsum("...i,...i->...", np.conj(a), b)

    F = np.angle(link(u, ux) * link(ux, uxy) * np.conj(link(uy, uxy)) * np.conj(link(u, uy)))
    worst = np.where(closed, 0.0, np.abs(F).max(axis=(-1, -2)))
    if np.any(worst > max_flux):
        i = int(np.argmax(worst))
        raise SamplingError(
            f"plaquette flux {worst[i]:.2f} rad > max_flux = {max_flux:.2f} at (mu, t_minus, delta) = "
            f"({mu.ravel()[i]:g}, {t_minus.ravel()[i]:g}, {delta.ravel()[i]:g}); increase nk (now {nk})"
        )
    c = np.rint(F.sum(axis=(-1, -2)) / (2 * np.pi)).astype(np.int64).reshape(shape)
    if on_gapless == "flag":
        return _flagged(c, closed.reshape(shape))
    return _out(c)


def chern_number(
    mu: np.ndarray | float,
    t_minus: np.ndarray | float,
    delta: np.ndarray | float | None = None,
    *,
    method: Literal["formula", "fhs"] = "formula",
    nk: int = DEFAULT_NK,
    on_gapless: str = "raise",
) -> np.ndarray | int | ChernResult:
    """Chern number of the clean p+ip lattice in the label (Bott) sign convention.

    Parameters
    ----------
    mu, t_minus : float or array_like, broadcastable
        Units of ``t₊ = 1``.
    delta : float or array_like, optional
        Pairing; required for ``method="fhs"`` (the closed formula holds for any ``Δ ≠ 0``).
    method : {"formula", "fhs"}, default "formula"
        ``"formula"``: :func:`clean_chern_number`; ``"fhs"``: ``−fhs_chern_number(..., band="lower")``.
    nk : int, default 48
        FHS grid size.
    on_gapless : {"raise", "flag"}, default "raise"
        The gap policy, as in :func:`clean_chern_number`.

    Returns
    -------
    int or ndarray of int64, or ChernResult (``on_gapless="flag"``)

    Raises
    ------
    InputError
        Unknown ``method``, missing ``delta`` for FHS, NaN/inf.
    GapClosedError, SamplingError
        As in :func:`clean_chern_number` / :func:`fhs_chern_number`.
    """
    if method == "formula":
        return clean_chern_number(mu, t_minus, on_gapless=on_gapless)
    if method == "fhs":
        if delta is None:
            raise InputError("method='fhs' needs the pairing delta")
        c = fhs_chern_number(mu, t_minus, delta, nk=nk, band="lower", on_gapless=on_gapless)
        if isinstance(c, ChernResult):
            return ChernResult(-c.chern_number if isinstance(c.chern_number, int) else np.negative(c.chern_number),
                               c.gapless)
        return -c if isinstance(c, int) else np.negative(c)
    raise InputError(f"method must be 'formula' or 'fhs', got {method!r}")
