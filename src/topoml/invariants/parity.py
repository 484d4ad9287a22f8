"""Ground-state fermion parity (the Z₂ Pfaffian index) of class-D p+ip lattices.

For a BdG Hamiltonian written in Majorana form, ``H ≅ iK`` with ``K`` real antisymmetric
(:func:`topoml.hamiltonians.pip.majorana_hamiltonian`), the parity of the many-body ground state is

    P = sign Pf(K)                      (Kitaev, Phys.-Usp. 44, 131 (2001), Eq. 14)

normalized so that the empty lattice (the vacuum, ``μ → −∞``: on-site energy ``−μ > 0``) has
``P = +1`` (even). With the project's Majorana ordering ``(a_1 … a_n, b_1 … b_n)`` no extra sign is
needed for any ``N``: the vacuum's ``K = [[0, −μ], [μ, 0]]`` has ``Pf = (−1)^{n(n−1)/2}(−μ)^n > 0``,
because ``n = N²`` is ``0 mod 4`` (even ``N``) or ``1 mod 8`` (odd ``N``), so ``n(n−1)/2`` is even.

On a clean periodic lattice the parity is the product of ``sgn ε(K)`` over the four time-reversal
invariant momenta present on an even torus, which equals ``(−1)^C`` of the clean Chern number
(:func:`topoml.invariants.chern.clean_chern_number`). On a disordered lattice it changes only where
the many-body gap closes (a level crosses zero energy), so comparing it with the Bott label tells a
label change by a closing gap (both change) from one by the geometry of the occupied states (the Bott
label changes, the parity does not) — see the margalit2022 report.

Numpy/scipy only (plus ``pfapack``, a maintained Pfaffian library: Wimmer, ACM TOMS 38, 30 (2012)).
"""

from __future__ import annotations

from typing import Literal, NamedTuple

import numpy as np

from topoml.errors import GapClosedError, InputError
from topoml.hamiltonians.pip import check_lattice, majorana_hamiltonian

__all__ = ["ParityResult", "fermion_parity", "pfaffian_sign"]


class ParityResult(NamedTuple):
    """Result of :func:`fermion_parity`.

    Attributes
    ----------
    parity : int64 scalar or ndarray of shape (n,)
        ``+1`` (even ground state) or ``−1`` (odd); ``0`` where the gap is below ``gap_tol`` and
        ``on_gapless="flag"``.
    gap : float64 scalar or ndarray of shape (n,)
        Smallest ``|E|`` of the BdG spectrum (units of ``t₊``).
    """

    parity: np.ndarray
    gap: np.ndarray


def pfaffian_sign(K: np.ndarray) -> int:
    """Sign (``+1``, ``−1`` or ``0``) of the Pfaffian of one real antisymmetric matrix.

    Parameters
    ----------
    K : ndarray of float64, shape (m, m), m even, antisymmetric

    Uses pfapack's Parlett–Reid routine with a decimal exponent (``skpf10_d``), so the sign survives
    matrices whose Pfaffian over- or underflows float64 (large lattices).

    Raises
    ------
    InputError
        Not square, odd size, or not antisymmetric (to 1e-12 relative).
    """
    import ctypes

    from pfapack.ctypes import skpf10_d

    K = np.asarray(K, dtype=np.float64)
    if K.ndim != 2 or K.shape[0] != K.shape[1] or K.shape[0] % 2:
        raise InputError(f"need an even square antisymmetric matrix, got shape {K.shape}")
    scale = float(np.max(np.abs(K))) if K.size else 0.0
    if not np.isfinite(scale):
        raise InputError("matrix contains NaN or inf")
    if np.max(np.abs(K + K.T), initial=0.0) > 1e-12 * max(scale, 1.0):
        raise InputError("matrix is not antisymmetric")
    out = (ctypes.c_double * 2)(0.0, 0.0)
    status = skpf10_d(K.shape[0], np.asfortranarray(K), out, b"U", b"P")
    if status != 0:  # pragma: no cover - pfapack reports invalid arguments only
        raise InputError(f"pfapack failed with status {status}")
    return int(np.sign(out[0]))


def fermion_parity(
    x: np.ndarray,
    *,
    on_gapless: Literal["raise", "flag"] = "raise",
    gap_tol: float = 1e-9,
) -> ParityResult:
    """Ground-state fermion parity ``sign Pf(K)`` of one p+ip lattice or a batch (a Z₂ invariant).

    Parameters
    ----------
    x : array_like of shape (N, N, 3) or (n, N, N, 3)
        Per-site ``(mu, t_minus, delta)``, units of ``t₊ = 1``, periodic (:mod:`topoml.hamiltonians.pip`).
    on_gapless : {"raise", "flag"}, default "raise"
        What to do when the BdG gap is below ``gap_tol`` (the parity is then undefined): raise
        :class:`~topoml.errors.GapClosedError`, or return parity ``0`` for that lattice.
    gap_tol : float > 0, default 1e-9
        Gap threshold (units of ``t₊``).

    Returns
    -------
    ParityResult
        ``parity`` (int64: +1 even, −1 odd, 0 flagged) and ``gap`` (float64); numpy scalars for one
        lattice, arrays of shape ``(n,)`` for a batch. On a clean even lattice ``parity = (−1)^C``.

    Raises
    ------
    ShapeError, InputError
        Bad lattice (see :func:`~topoml.hamiltonians.pip.check_lattice`) or bad options.
    GapClosedError
        A gap below ``gap_tol`` with ``on_gapless="raise"``.

    Notes
    -----
    Cost per lattice: one SVD and one Pfaffian of a real ``2N² × 2N²`` matrix (dense).
    """
    x = check_lattice(x)
    if on_gapless not in ("raise", "flag"):
        raise InputError(f"on_gapless must be 'raise' or 'flag', got {on_gapless!r}")
    if not (isinstance(gap_tol, (int, float)) and np.isfinite(gap_tol) and gap_tol > 0):
        raise InputError(f"gap_tol must be a positive number, got {gap_tol!r}")
    single = x.ndim == 3
    xb = x[None] if single else x
    parity = np.zeros(len(xb), dtype=np.int64)
    gap = np.zeros(len(xb))
    for i, xi in enumerate(xb):
        K = majorana_hamiltonian(xi)
        gap[i] = np.linalg.svd(K, compute_uv=False)[-1]  # the spectrum of iK is that of H
        parity[i] = pfaffian_sign(K) if gap[i] >= gap_tol else 0
    bad = gap < gap_tol
    if on_gapless == "raise" and bad.any():
        k = int(np.argmax(bad))
        raise GapClosedError(f"BdG gap {gap[k]:.2e} < gap_tol = {gap_tol:g} (lattice {k}): the parity is "
                             "undefined; pass on_gapless='flag' to flag such lattices")
    if single:
        return ParityResult(parity[0], gap[0])
    return ParityResult(parity, gap)
