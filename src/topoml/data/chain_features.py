"""Network inputs of SSH-family chains: positive-energy amplitudes, the correlation ``G`` and the RSWN
label, from one SVD of the hopping block (Oriekhov et al., arXiv:2509.26261; ``docs/spec-oriekhov2025.md``).

With ``G = Σ_n a_n b_n† = q/2`` (the positive-energy A and B amplitudes, :func:`chain_features`) the
real-space winding number is ``W = Σ_ij T_ij |G_ij|²`` (:func:`topoml.invariants.real_space.winding_tensor`).
:func:`chain_features` runs the SVD pass of :func:`topoml.invariants.real_space.real_space_winding_number`
itself, so the label and the features come from one decomposition. :func:`fix_gauge` and
:func:`scramble_gauge` fix or randomize the per-state phases the networks see.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from topoml.errors import ShapeError
from topoml.hamiltonians.ssh import _check_vw, chain_hamiltonian, hopping_matrix
from topoml.invariants.real_space import (
    DEFAULT_ATOL,
    DEFAULT_GAP_TOL,
    DEFAULT_NONLOCALITY_TOL,
    RealSpaceWinding,
    _check_options,
    _finish,
    _geometry,
    _stats_from_svd,
    _svd_chunks,
)
from topoml.rng import RngLike, as_generator

__all__ = ["ChainFeatures", "chain_features", "fix_gauge", "scramble_gauge"]

class ChainFeatures(NamedTuple):
    """Network inputs of chains (:func:`chain_features`); ``...`` is the batch shape.

    Attributes
    ----------
    energies : ndarray of float64, shape (..., L)
        The ``L`` positive energies, ascending (singular values of ``h``; for chains with on-site terms
        the upper half of the spectrum).
    a, b : ndarray of shape (..., L, L)
        ``a[..., i, n]`` (``b[..., i, n]``): amplitude of the ``n``-th positive-energy eigenstate on site
        ``A_i`` (``B_i``), in the deterministic gauge of :func:`fix_gauge`; ``|a_n|² + |b_n|² = 1``.
    G : ndarray of shape (..., L, L)
        ``G = Σ_n a_n b_n† = a @ b†`` (``= Q_AB / 2``), independent of the eigenvector phases and of
        rotations inside degenerate levels (not of the arbitrary pairing of exact zero modes).
    v : ndarray, shape (..., L)
        Intra-cell hoppings.
    w : ndarray, shape (..., R, L)
        Inter-cell hoppings.
    winding : RealSpaceWinding or None
        The RSWN from the same SVD (``on_gapless="flag"``); ``None`` with on-site terms (no chiral
        symmetry, no protected label).
    """

    energies: np.ndarray
    a: np.ndarray
    b: np.ndarray
    G: np.ndarray
    v: np.ndarray
    w: np.ndarray
    winding: RealSpaceWinding | None

    def site_amplitudes(self) -> np.ndarray:
        """Eigenvectors in site order ``A_0, B_0, A_1, …``: shape ``(..., 2L, L)`` (columns are states)."""
        L = self.a.shape[-2]
        psi = np.empty(self.a.shape[:-2] + (2 * L, self.a.shape[-1]), dtype=np.result_type(self.a, self.b))
        psi[..., 0::2, :] = self.a
        psi[..., 1::2, :] = self.b
        return psi


def _check_amplitudes(a, b) -> tuple[np.ndarray, np.ndarray]:
    a, b = np.asarray(a), np.asarray(b)
    if a.shape != b.shape or a.ndim < 2:
        raise ShapeError(f"a and b must have the same shape (..., L, n_states), got {a.shape} and {b.shape}")
    return a, b


def fix_gauge(a: np.ndarray, b: np.ndarray, *, rtol: float = 1e-8) -> tuple[np.ndarray, np.ndarray]:
    """Deterministic phase of eigenvectors ``(a_n, b_n)``: the largest A amplitude is real and positive.

    For every state (column ``n``) the pivot is the first cell ``i`` with
    ``|a[i, n]| >= (1 − rtol) max_i |a[i, n]|`` (ties broken by the lowest index); both ``a[:, n]`` and
    ``b[:, n]`` are multiplied by ``conj(a[i, n]) / |a[i, n]|``. Real input stays real (a sign). Fixes
    the ``U(1)`` freedom of non-degenerate levels; inside a degenerate level the basis stays arbitrary
    (use ``G``, which does not depend on it).

    Parameters
    ----------
    a, b : ndarray of shape (..., L, n_states)
        A and B amplitudes, states in columns.
    rtol : float
        Relative tie tolerance of the pivot.

    Returns
    -------
    a, b : new arrays of the same shapes and dtypes
    """
    a, b = _check_amplitudes(a, b)
    mag = np.abs(a)
    top = mag.max(axis=-2, keepdims=True)
    pivot_idx = np.argmax(mag >= (1.0 - rtol) * top, axis=-2)[..., None, :]
    pivot = np.take_along_axis(a, pivot_idx, axis=-2)
    pmag = np.abs(pivot)
    if np.iscomplexobj(a) or np.iscomplexobj(b):
        phase = np.where(pmag > 0, np.conj(pivot) / np.where(pmag > 0, pmag, 1.0), 1.0)
    else:
        phase = np.where(pivot < 0, -1.0, 1.0)
    return a * phase, b * phase


def scramble_gauge(a: np.ndarray, b: np.ndarray, *, rng: RngLike = None) -> tuple[np.ndarray, ...]:
    """Eigenvectors in a random gauge: every state ``n`` times a random sign (real input) or phase (complex).

    ``G = a @ b†`` is unchanged; the raw amplitudes (a gauge-dependent network input) are not. Undo with
    :func:`fix_gauge`.

    Parameters
    ----------
    a, b : ndarray of shape (..., L, n_states)
    rng : int, Generator, SeedSequence or None

    Returns
    -------
    a, b : new arrays of the same shapes and dtypes
    """
    a, b = _check_amplitudes(a, b)
    gen = as_generator(rng)
    shape = a.shape[:-2] + (1, a.shape[-1])
    if np.iscomplexobj(a) or np.iscomplexobj(b):
        phase = np.exp(2j * np.pi * gen.uniform(size=shape))
    else:
        phase = np.where(gen.uniform(size=shape) < 0.5, -1.0, 1.0)
    return a * phase, b * phase


def chain_features(
    v,
    w,
    *,
    periodic: bool = False,
    onsite=None,
    gauge: bool = True,
    window: float | tuple[int, int] | None = None,
    atol: float = DEFAULT_ATOL,
    nonlocality_tol: float = DEFAULT_NONLOCALITY_TOL,
    gap_tol: float = DEFAULT_GAP_TOL,
) -> ChainFeatures:
    """Network inputs of SSH-family chains, with their RSWN from the same SVD.

    Without on-site terms: one SVD ``h = U Σ V†`` of the hopping block gives the positive-energy
    eigenstates ``ψ_n = (u_n, v_n)/√2`` (energy ``σ_n``), ``G = U V†/2`` and the RSWN. With on-site
    terms (chiral symmetry broken, e.g. :func:`topoml.hamiltonians.ssh.onsite_disorder`): ``eigh`` of the
    dense ``H``, the upper ``L`` states as the "positive-energy" ones, ``G = Σ a_n b_n†`` of those, and no
    label.

    Parameters
    ----------
    v : array_like of shape (..., L)
        Intra-cell hoppings.
    w : array_like of shape (..., R, L)
        Inter-cell hoppings.
    periodic : bool, default False
    onsite : array_like of shape (..., 2L), optional
        On-site energies in site order (breaks chiral symmetry).
    gauge : bool, default True
        Apply :func:`fix_gauge` to ``(a, b)``; ``False`` leaves LAPACK's phases.
    window, atol, nonlocality_tol, gap_tol
        As :func:`real_space_winding_number`.

    Returns
    -------
    ChainFeatures

    Raises
    ------
    ShapeError, InputError
        As :func:`topoml.hamiltonians.ssh.hopping_matrix` / ``chain_hamiltonian``, or ``L`` too small for
        the window.
    """
    v, w = _check_vw(v, w)
    if onsite is not None:
        H = chain_hamiltonian(v, w, periodic=periodic, onsite=onsite)
        L = v.shape[-1]
        E, psi = np.linalg.eigh(H)
        a, b = psi[..., 0::2, L:], psi[..., 1::2, L:]
        if gauge:
            a, b = fix_gauge(a, b)
        G = a @ np.conj(np.swapaxes(b, -1, -2))
        batch = H.shape[:-2]
        return ChainFeatures(E[..., L:], a, b, G, np.broadcast_to(v, batch + v.shape[-1:]),
                             np.broadcast_to(w, batch + w.shape[-2:]), None)
    h = hopping_matrix(v, w, periodic=periodic)
    _check_options(atol, nonlocality_tol, gap_tol, "flag", "flag")
    batch_shape, L = h.shape[:-2], h.shape[-1]
    g = _geometry(L, window, periodic)
    flat = h.reshape((-1, L, L))
    n = flat.shape[0]
    a = np.empty_like(flat)
    b = np.empty_like(flat)
    G = np.empty_like(flat)
    value, tau, gap = np.empty(n), np.empty(n), np.empty(n)
    s_all = np.empty((n, L))
    r2 = np.sqrt(0.5)
    for i0, i1, U, s, Vh in _svd_chunks(flat):
        value[i0:i1], tau[i0:i1], gap[i0:i1] = _stats_from_svd(U, s, Vh, g)
        s_all[i0:i1] = s
        G[i0:i1] = 0.5 * (U @ Vh)
        a[i0:i1] = r2 * U[:, :, ::-1]
        b[i0:i1] = r2 * np.conj(np.swapaxes(Vh, -1, -2))[:, :, ::-1]
    if gauge:
        a, b = fix_gauge(a, b)
    winding = _finish(
        value, tau, s_all, gap, atol=atol, nonlocality_tol=nonlocality_tol, gap_tol=gap_tol,
        window=(g.start, g.stop), batch_shape=batch_shape, on_gapless="flag", on_unquantized="flag",
    )
    shape = batch_shape + (L, L)
    return ChainFeatures(
        s_all[:, ::-1].reshape(batch_shape + (L,)), a.reshape(shape), b.reshape(shape), G.reshape(shape),
        v, w, winding,
    )
