"""Real-space SSH-family chains: chiral (class AIII) tight-binding chains with hoppings of range R.

A chain of ``L`` unit cells with sublattices A and B (Oriekhov et al., arXiv:2509.26261; spec
``docs/spec-oriekhov2025.md``)::

    H = Σ_n [ v_n c†_{A,n} c_{B,n} + Σ_{r=1..R} w^{(r)}_n c†_{A,n+r} c_{B,n} ] + h.c.

``v_n`` is the intra-cell hopping of cell ``n``, ``w^{(r)}_n`` the inter-cell hopping of range ``r`` from
``B_n`` to ``A_{n+r}``. Energies are in the units of the hoppings (``w = 1`` in the standard chains).

Conventions
-----------
* **Site order** of the dense ``2L × 2L`` Hamiltonian: ``A_0, B_0, A_1, B_1, …`` (site ``2n`` is
  ``A_n``, site ``2n + 1`` is ``B_n``). The chiral operator is ``Γ = diag(+1, −1, +1, −1, …)`` and
  ``Γ H Γ = −H``.
* **Hopping block** ``h = H[0::2, 1::2]`` (rows A, columns B), shape ``(L, L)``:
  ``h[n, n] = v_n`` and ``h[n + r, n] = w^{(r)}_n``; in the sublattice basis ``H = [[0, h], [h†, 0]]``.
  An open chain therefore has a lower-triangular banded ``h``.
* **Parameter arrays**: ``v`` of shape ``(..., L)`` and ``w`` of shape ``(..., R, L)`` with
  ``w[..., r-1, n] = w^{(r)}_n``. The same arrays describe the open and the periodic chain: an open
  chain ignores the bonds that would leave it (``w[..., r-1, n]`` with ``n + r >= L``), a periodic
  chain closes them (``B_n → A_{(n+r) mod L}``).
* **Bloch Hamiltonian** of a clean chain (constant ``v``, ``w_r``): ``h(k) = v + Σ_r w_r e^{irk}``
  (:func:`bloch_hopping`), whose winding (anticlockwise positive, as
  :func:`topoml.invariants.winding.winding_number`) is ``+1`` for ``|v| < |w|`` (nearest-neighbour SSH)
  and ``+2`` when ``w^{(2)}`` dominates; it is the number of zeros of ``v + Σ_r w_r z^r`` inside the unit
  disk. :func:`topoml.invariants.real_space.real_space_winding_number` uses the same sign.
* **Disorder** (all samplers take ``rng``; ``ε`` uniform in ``[−½, ½]``): chiral-preserving hopping
  disorder ``t → t + W ε`` (``kind="additive"``) or ``t → t (1 + W ε)`` (``kind="multiplicative"``),
  independently on every bond; chiral-breaking on-site disorder ``V_s = W ε_s`` on every site, an
  out-of-distribution test (the winding number is no longer protected).
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from topoml.errors import InputError, ShapeError, SymmetryError
from topoml.rng import RngLike, as_generator

__all__ = [
    "DEFAULT_SYMMETRY_TOL",
    "bloch_hopping",
    "chain_hamiltonian",
    "check_chain_hamiltonian",
    "chiral_operator",
    "disordered_hoppings",
    "hopping_block",
    "hopping_matrix",
    "hopping_parameters",
    "mshsp_hoppings",
    "onsite_disorder",
    "uniform_hoppings",
]

#: Relative tolerance of the Hermiticity and chiral-symmetry checks: violations larger than
#: ``DEFAULT_SYMMETRY_TOL * max|H|`` raise :class:`~topoml.errors.SymmetryError`.
DEFAULT_SYMMETRY_TOL = 1e-10


# ----------------------------------------------------------------------------------------------------
# validation helpers


def _check_int(name: str, value, minimum: int) -> int:
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < minimum:
        raise InputError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def _as_numeric(name: str, x) -> np.ndarray:
    x = np.asarray(x)
    if x.dtype == object or not (np.issubdtype(x.dtype, np.number) or x.dtype == bool):
        raise InputError(f"{name} must be a numeric array, got dtype {x.dtype}")
    x = x.astype(np.complex128 if np.iscomplexobj(x) else np.float64, copy=False)
    if not np.all(np.isfinite(x)):
        raise InputError(f"{name} contains NaN or inf; every hopping and energy must be finite")
    return x


def _check_strength(name: str, value: float) -> float:
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise InputError(f"{name} must be a real number, got {value!r}") from None
    if not np.isfinite(value) or value < 0:
        raise InputError(f"{name} must be a finite number >= 0, got {value}")
    return value


def _check_vw(v, w) -> tuple[np.ndarray, np.ndarray]:
    """Validate ``v (..., L)`` and ``w (..., R, L)``; broadcast their batch shapes."""
    v = _as_numeric("v", v)
    w = _as_numeric("w", w)
    if v.ndim < 1:
        raise ShapeError("v must have shape (..., L), got a scalar; use uniform_hoppings(L, v, w) for a clean chain")
    if w.ndim < 2:
        raise ShapeError(f"w must have shape (..., R, L) with w[..., r-1, n] = w^(r)_n, got shape {w.shape}")
    L = v.shape[-1]
    if L < 1:
        raise ShapeError("a chain needs at least one unit cell (L >= 1)")
    if w.shape[-1] != L:
        raise ShapeError(f"w must have shape (..., R, L) with L = {L} (from v), got shape {w.shape}")
    try:
        batch = np.broadcast_shapes(v.shape[:-1], w.shape[:-2])
    except ValueError:
        raise ShapeError(f"batch shapes of v {v.shape[:-1]} and w {w.shape[:-2]} do not broadcast") from None
    dtype = np.result_type(v, w)
    v = np.broadcast_to(v, batch + (L,)).astype(dtype, copy=False)
    w = np.broadcast_to(w, batch + w.shape[-2:]).astype(dtype, copy=False)
    return v, w


# ----------------------------------------------------------------------------------------------------
# construction


def uniform_hoppings(L: int, v, w) -> tuple[np.ndarray, np.ndarray]:
    """Parameter arrays of clean (translation-invariant) chains.

    Parameters
    ----------
    L : int
        Number of unit cells, ``L >= 1``.
    v : float, complex or array_like of shape (...)
        Intra-cell hopping(s).
    w : float, complex or array_like of shape (..., R)
        Inter-cell hoppings ``(w^{(1)}, …, w^{(R)})``; a scalar means ``R = 1``.

    Returns
    -------
    v : ndarray of shape (..., L)
    w : ndarray of shape (..., R, L)
        float64, or complex128 if any input is complex; batch shapes of ``v`` and ``w`` broadcast.

    Examples
    --------
    >>> v, w = uniform_hoppings(20, 0.5, 1.0)            # SSH, winding 1
    >>> v, w = uniform_hoppings(20, 0.3, [0.5, 1.0])     # range 2, winding 2
    """
    L = _check_int("L", L, 1)
    v = _as_numeric("v", v)
    w = _as_numeric("w", w)
    if w.ndim == 0:
        w = w[None]
    vv, ww = _check_vw(np.repeat(v[..., None], L, axis=-1), np.repeat(w[..., None], L, axis=-1))
    return vv.copy(), ww.copy()


def hopping_matrix(v, w, *, periodic: bool = False) -> np.ndarray:
    """The ``L × L`` hopping block ``h`` (rows A, columns B) of SSH-family chains.

    ``h[n, n] = v_n`` and ``h[n + r, n] = w^{(r)}_n`` (open: bonds with ``n + r >= L`` are dropped;
    periodic: ``h[(n + r) mod L, n] += w^{(r)}_n``). ``H = [[0, h], [h†, 0]]`` in the sublattice basis.

    Parameters
    ----------
    v : array_like of shape (..., L)
        Intra-cell hoppings ``v_n``.
    w : array_like of shape (..., R, L)
        Inter-cell hoppings, ``w[..., r-1, n] = w^{(r)}_n`` (``B_n → A_{n+r}``); ``R = 0`` is allowed.
    periodic : bool, default False
        Close the chain into a ring (needs ``L > 2R``, so that every bond has a unique shortest length).

    Returns
    -------
    ndarray of shape (..., L, L)
        float64, or complex128 for complex hoppings.

    Raises
    ------
    ShapeError
        Inconsistent shapes.
    InputError
        NaN/inf, non-numeric dtype, ``R >= L`` (open) or ``2R >= L`` (periodic).
    """
    v, w = _check_vw(v, w)
    L, R = v.shape[-1], w.shape[-2]
    if periodic and 2 * R >= L:
        raise InputError(f"a periodic chain of range R = {R} needs L > 2R cells, got L = {L}")
    if not periodic and R >= L:
        raise InputError(f"hopping range R = {R} does not fit in an open chain of L = {L} cells (need R < L)")
    h = np.zeros(v.shape[:-1] + (L, L), dtype=v.dtype)
    idx = np.arange(L)
    h[..., idx, idx] = v
    for r in range(1, R + 1):
        if periodic:
            h[..., (idx + r) % L, idx] += w[..., r - 1, :]
        else:
            h[..., idx[:-r] + r, idx[:-r]] = w[..., r - 1, : L - r]
    return h


def chain_hamiltonian(v, w, *, periodic: bool = False, onsite=None) -> np.ndarray:
    """Dense ``2L × 2L`` Hamiltonian of SSH-family chains, sites ordered ``A_0, B_0, A_1, B_1, …``.

    Parameters
    ----------
    v : array_like of shape (..., L)
        Intra-cell hoppings.
    w : array_like of shape (..., R, L)
        Inter-cell hoppings, ``w[..., r-1, n] = w^{(r)}_n``.
    periodic : bool, default False
        Ring instead of an open chain.
    onsite : array_like of shape (..., 2L), optional
        Real on-site energies in site order (breaks chiral symmetry unless zero; see
        :func:`onsite_disorder`).

    Returns
    -------
    ndarray of shape (..., 2L, 2L)
        Hermitian; ``H[..., 0::2, 1::2]`` is :func:`hopping_matrix` ``(v, w)``.

    Raises
    ------
    ShapeError, InputError
        As :func:`hopping_matrix`; ``onsite`` of the wrong shape, complex or not finite.
    """
    h = hopping_matrix(v, w, periodic=periodic)
    L = h.shape[-1]
    batch = h.shape[:-2]
    if onsite is not None:
        onsite = _as_numeric("onsite", onsite)
        if np.iscomplexobj(onsite):
            raise InputError("on-site energies must be real (H must be Hermitian)")
        if onsite.ndim < 1 or onsite.shape[-1] != 2 * L:
            raise ShapeError(f"onsite must have shape (..., 2L) = (..., {2 * L}), got {onsite.shape}")
        try:
            batch = np.broadcast_shapes(batch, onsite.shape[:-1])
        except ValueError:
            raise ShapeError(f"batch shape of onsite {onsite.shape[:-1]} does not broadcast with {batch}") from None
    H = np.zeros(batch + (2 * L, 2 * L), dtype=h.dtype)
    H[..., 0::2, 1::2] = h
    H[..., 1::2, 0::2] = np.conj(np.swapaxes(h, -1, -2))
    if onsite is not None:
        i = np.arange(2 * L)
        H[..., i, i] = onsite
    return H


def chiral_operator(L: int) -> np.ndarray:
    """``Γ = diag(+1, −1, +1, −1, …)`` (float64, shape ``(2L,)``): +1 on A, −1 on B; ``Γ H Γ = −H``."""
    L = _check_int("L", L, 1)
    return np.tile([1.0, -1.0], L)


def check_chain_hamiltonian(H, *, tol: float = DEFAULT_SYMMETRY_TOL) -> np.ndarray:
    """Validate dense chain Hamiltonians: shape, finiteness, Hermiticity, chiral symmetry.

    Parameters
    ----------
    H : array_like of shape (..., 2L, 2L)
        Sites ordered ``A_0, B_0, A_1, B_1, …``.
    tol : float, default 1e-10
        Relative tolerance: ``max(|H_AA|, |H_BB|)`` (the sublattice-diagonal blocks, which
        ``Γ H Γ = −H`` requires to vanish) and ``max|H_AB − H_BA†|`` must not exceed ``tol · max|H|``.
        (Hermiticity is checked on the off-diagonal blocks, the only ones a chiral ``H`` has.)

    Returns
    -------
    ndarray of float64 or complex128, shape (..., 2L, 2L)
        ``H`` as an array (no copy when already of that dtype).

    Raises
    ------
    ShapeError
        ``H`` is not a stack of square matrices of even size ``2L >= 2``.
    InputError
        NaN/inf or a non-numeric dtype.
    SymmetryError
        ``H`` breaks chiral symmetry (on-site terms, or A–A / B–B hoppings; checked first) or is not
        Hermitian.
    """
    H = np.asarray(H)
    if H.dtype == object or not (np.issubdtype(H.dtype, np.number) or H.dtype == bool):
        raise InputError(f"H must be a numeric array, got dtype {H.dtype}")
    H = H.astype(np.complex128 if np.iscomplexobj(H) else np.float64, copy=False)
    if H.ndim < 2 or H.shape[-1] != H.shape[-2] or H.shape[-1] % 2 or H.shape[-1] == 0:
        raise ShapeError(
            f"H must have shape (..., 2L, 2L) with sites ordered A0, B0, A1, B1, ..., got shape {H.shape}"
        )
    # Sublattice-block maxima in two contiguous passes: |H|, then the max over cells of each row's
    # sublattice (an (..., 2, 2L) array whose even/odd columns are the A/B columns). NaN propagates.
    L = H.shape[-1] // 2
    rows = np.abs(H).reshape(H.shape[:-2] + (L, 2, 2 * L)).max(axis=-3)
    m_aa, m_ab = rows[..., 0, 0::2].max(axis=-1), rows[..., 0, 1::2].max(axis=-1)
    m_ba, m_bb = rows[..., 1, 0::2].max(axis=-1), rows[..., 1, 1::2].max(axis=-1)
    m_diag = np.maximum(m_aa, m_bb)
    scale = np.maximum(np.maximum(m_ab, m_ba), m_diag)
    if not np.all(np.isfinite(scale)):
        raise InputError("H contains NaN or inf; every matrix element must be finite")
    bad = m_diag > tol * scale
    if np.any(bad):
        i = int(np.argmax(np.ravel(bad)))
        raise SymmetryError(
            f"H breaks chiral symmetry: an A–A or B–B element (on-site energy or same-sublattice hopping) of "
            f"size {np.ravel(m_diag)[i]:.3g} > {tol:g} · max|H| (sample {i}); the winding number needs "
            "Γ H Γ = −H with sites ordered A0, B0, A1, B1, ..."
        )
    herm = _absmax(H[..., 0::2, 1::2] - np.conj(np.swapaxes(H[..., 1::2, 0::2], -1, -2)))
    bad = herm > tol * scale
    if np.any(bad):
        i = int(np.argmax(np.ravel(bad)))
        raise SymmetryError(
            f"H is not Hermitian (max |H − H†| = {np.ravel(herm)[i]:.3g} > {tol:g} · max|H|, sample {i}); "
            "pass a Hermitian chain Hamiltonian"
        )
    return H


def _absmax(x: np.ndarray) -> np.ndarray:
    """``max |x|`` over the last two axes (NaN propagates)."""
    if np.iscomplexobj(x):
        return np.max(np.abs(x), axis=(-2, -1), initial=0.0)
    return np.maximum(np.max(x, axis=(-2, -1), initial=0.0), -np.min(x, axis=(-2, -1), initial=0.0))


def hopping_block(H, *, check: bool = True, tol: float = DEFAULT_SYMMETRY_TOL) -> np.ndarray:
    """The hopping block ``h = H[..., 0::2, 1::2]`` (rows A, columns B) of chiral chain Hamiltonians.

    Parameters
    ----------
    H : array_like of shape (..., 2L, 2L)
        Sites ordered ``A_0, B_0, A_1, B_1, …``.
    check : bool, default True
        Validate with :func:`check_chain_hamiltonian` (Hermiticity, chiral symmetry, NaN/inf).
    tol : float
        Relative symmetry tolerance of the check.

    Returns
    -------
    ndarray of shape (..., L, L)
        A contiguous copy.

    Raises
    ------
    ShapeError, InputError, SymmetryError
        As :func:`check_chain_hamiltonian` (only shapes and dtype when ``check=False``).
    """
    if check:
        H = check_chain_hamiltonian(H, tol=tol)
    else:
        H = np.asarray(H)
        if H.ndim < 2 or H.shape[-1] != H.shape[-2] or H.shape[-1] % 2 or H.shape[-1] == 0:
            raise ShapeError(f"H must have shape (..., 2L, 2L), got shape {H.shape}")
    return np.ascontiguousarray(H[..., 0::2, 1::2])


def hopping_parameters(h, R: int | None = None, *, periodic: bool = False, tol: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Recover ``(v, w)`` from hopping blocks (the inverse of :func:`hopping_matrix`).

    Parameters
    ----------
    h : array_like of shape (..., L, L)
        Hopping blocks (rows A, columns B).
    R : int, optional
        Hopping range; by default the smallest range that holds every non-zero element.
    periodic : bool, default False
        Read bond ``B_n → A_{(n+r) mod L}`` (ring) instead of ``B_n → A_{n+r}`` (open; the ``w`` entries
        of missing bonds are returned as 0).
    tol : float, default 0
        Elements with ``|h_ij| <= tol · max|h|`` count as zero when inferring ``R`` and checking that
        ``h`` is an SSH-family block.

    Returns
    -------
    v : ndarray of shape (..., L)
    w : ndarray of shape (..., R, L)

    Raises
    ------
    ShapeError, InputError
        Non-square input, NaN/inf, or ``h`` has non-zero elements outside the bands ``0..R`` (e.g. an
        A_{n} ← B_{n+1} hopping, which is not of the SSH-family form; use ``h†`` for the chain with
        exchanged sublattices).
    """
    h = _as_numeric("h", h)
    if h.ndim < 2 or h.shape[-1] != h.shape[-2] or h.shape[-1] == 0:
        raise ShapeError(f"h must have shape (..., L, L), got shape {h.shape}")
    L = h.shape[-1]
    i, j = np.meshgrid(np.arange(L), np.arange(L), indexing="ij")
    offset = (i - j) % L if periodic else i - j  # bond length r of element h[i, j]
    scale = np.max(np.abs(h), axis=(-2, -1), initial=0.0)[..., None, None]
    nonzero = np.abs(h) > tol * scale
    if np.any(nonzero & (offset < 0)):
        raise InputError("h has elements above the diagonal: not an open SSH-family hopping block (h[n+r, n] only)")
    occupied = np.any(nonzero, axis=tuple(range(h.ndim - 2)))
    r_needed = int(offset[occupied].max(initial=0))
    if R is None:
        R = r_needed
    R = _check_int("R", R, 0)
    if r_needed > R:
        raise InputError(f"h has hoppings of range {r_needed} > R = {R}")
    if periodic and 2 * R >= L:
        raise InputError(f"a periodic chain of range R = {R} needs L > 2R cells, got L = {L}")
    idx = np.arange(L)
    v = h[..., idx, idx].copy()
    w = np.zeros(h.shape[:-2] + (R, L), dtype=h.dtype)
    for r in range(1, R + 1):
        if periodic:
            w[..., r - 1, :] = h[..., (idx + r) % L, idx]
        else:
            w[..., r - 1, : L - r] = h[..., idx[:-r] + r, idx[:-r]]
    return v, w


def bloch_hopping(v, w, L: int = 32) -> np.ndarray:
    """``h(k) = v + Σ_r w_r e^{irk}`` of clean chains on the k grid, as ``(Re h, Im h)``.

    The input format of :func:`topoml.invariants.winding.winding_number`: ``k = 2πn/L``, ``n = 0..L``
    (the momenta of a periodic chain of ``L`` cells, plus ``k = 2π``). Its winding number (anticlockwise
    positive) equals the real-space winding number of the chain with the same hoppings.

    Parameters
    ----------
    v : float, complex or array_like of shape (...)
        Intra-cell hopping.
    w : float, complex or array_like of shape (..., R)
        Inter-cell hoppings ``w_1..w_R`` (a scalar means ``R = 1``).
    L : int, default 32
        Number of k intervals (``L >= 2``).

    Returns
    -------
    ndarray of float64, shape (..., L+1, 2)
    """
    L = _check_int("L", L, 2)
    v = _as_numeric("v", v)
    w = _as_numeric("w", w)
    if w.ndim == 0:
        w = w[None]
    k = 2 * np.pi * np.arange(L + 1) / L
    r = np.arange(1, w.shape[-1] + 1)
    phase = np.exp(1j * np.outer(r, k))  # (R, L+1)
    z = np.asarray(v)[..., None] + np.einsum("...r,rk->...k", w, phase)
    z[..., -1] = z[..., 0]  # k = 2π is k = 0; remove round-off
    return np.stack([z.real, z.imag], axis=-1)


# ----------------------------------------------------------------------------------------------------
# disorder


def disordered_hoppings(
    v,
    w,
    *,
    intra_strength: float = 0.0,
    inter_strength: float = 0.0,
    kind: Literal["additive", "multiplicative"] = "additive",
    rng: RngLike = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Chiral-preserving hopping disorder: every bond gets its own ``ε`` uniform in ``[−½, ½]``.

    ``kind="additive"``: ``v_n → v_n + W_intra ε_n``, ``w^{(r)}_n → w^{(r)}_n + W_inter ε_{r,n}``;
    ``kind="multiplicative"``: ``t → t (1 + W ε)``. With ``v = m`` and ``w = 1`` (additive) this is the
    chain of Mondragon-Shem et al., PRL 113, 046802 (2014), ``W_inter = W₁``, ``W_intra = W₂``.
    The disorder is real; complex hoppings keep their phases (multiplicative) or get a real shift.

    Parameters
    ----------
    v : array_like of shape (..., L)
    w : array_like of shape (..., R, L)
    intra_strength, inter_strength : float >= 0
        Disorder strengths ``W_intra`` and ``W_inter`` (energy units for additive, dimensionless for
        multiplicative).
    kind : {"additive", "multiplicative"}
    rng : int, Generator, SeedSequence or None

    Returns
    -------
    v, w : ndarrays of the broadcast shapes (..., L) and (..., R, L)

    Raises
    ------
    InputError
        Negative or non-finite strengths, unknown ``kind``, bad ``v``/``w``.
    """
    v, w = _check_vw(v, w)
    wi = _check_strength("intra_strength", intra_strength)
    wo = _check_strength("inter_strength", inter_strength)
    if kind not in ("additive", "multiplicative"):
        raise InputError(f"kind must be 'additive' or 'multiplicative', got {kind!r}")
    gen = as_generator(rng)
    eps_v = gen.uniform(-0.5, 0.5, size=v.shape)
    eps_w = gen.uniform(-0.5, 0.5, size=w.shape)
    if kind == "additive":
        return v + wi * eps_v, w + wo * eps_w
    return v * (1.0 + wi * eps_v), w * (1.0 + wo * eps_w)


def onsite_disorder(L: int, strength: float, *, size: int | tuple[int, ...] = (), rng: RngLike = None) -> np.ndarray:
    """Chiral-breaking on-site disorder ``V_s = W ε_s``, ``ε_s`` uniform in ``[−½, ½]`` on every site.

    Pass the result as ``onsite`` to :func:`chain_hamiltonian`. On-site terms break ``Γ H Γ = −H``:
    :func:`topoml.invariants.real_space.real_space_winding_number` refuses such matrices
    (:class:`~topoml.errors.SymmetryError`); they are an out-of-distribution test for networks.

    Parameters
    ----------
    L : int
        Number of unit cells.
    strength : float >= 0
        ``W`` in energy units.
    size : int or tuple of int
        Batch shape.
    rng : int, Generator, SeedSequence or None

    Returns
    -------
    ndarray of float64, shape (*size, 2L)
        In site order ``A_0, B_0, A_1, …``.
    """
    L = _check_int("L", L, 1)
    strength = _check_strength("strength", strength)
    size = (size,) if isinstance(size, (int, np.integer)) else tuple(size)
    return strength * as_generator(rng).uniform(-0.5, 0.5, size=size + (2 * L,))


def mshsp_hoppings(
    m: float, W1: float, W2: float, L: int, *, size: int | tuple[int, ...] = (), rng: RngLike = None
) -> tuple[np.ndarray, np.ndarray]:
    """The disordered chain of Mondragon-Shem, Hughes, Song, Prodan, PRL 113, 046802 (2014).

    Intra-cell ``v_n = m + W₂ ε'_n``, inter-cell ``w_n = 1 + W₁ ε_n`` (``R = 1``), ``ε, ε'`` independent
    and uniform in ``[−½, ½]``. Its phase boundary is ``E ln|m_n| = E ln|t_n|``
    (:func:`topoml.invariants.disorder.zero_mode_lyapunov`).

    Returns
    -------
    v : ndarray of float64, shape (*size, L)
    w : ndarray of float64, shape (*size, 1, L)
    """
    L = _check_int("L", L, 1)
    W1 = _check_strength("W1", W1)
    W2 = _check_strength("W2", W2)
    try:
        m = float(m)
    except (TypeError, ValueError):
        raise InputError(f"m must be a real number, got {m!r}") from None
    if not np.isfinite(m):
        raise InputError(f"m must be finite, got {m}")
    size = (size,) if isinstance(size, (int, np.integer)) else tuple(size)
    gen = as_generator(rng)
    eps_intra = gen.uniform(-0.5, 0.5, size=size + (L,))
    eps_inter = gen.uniform(-0.5, 0.5, size=size + (1, L))
    return m + W2 * eps_intra, 1.0 + W1 * eps_inter
