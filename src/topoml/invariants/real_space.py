"""Real-space winding number (RSWN) of 1D chiral (class AIII) chains.

The RSWN of Mondragon-Shem, Hughes, Song and Prodan, PRL 113, 046802 (2014) (their winding-number
formula, written there as ``ν = −(1/L') Tr'{Q_BA [X, Q_AB]}``), for the SSH-family chains of
:mod:`topoml.hamiltonians.ssh` (Oriekhov et al., arXiv:2509.26261; ``docs/spec-oriekhov2025.md``).

Definition and sign convention
------------------------------
With the flat-band Hamiltonian ``Q = P₊ − P₋ = sign(H)``, its block ``q = Q_AB = P_A Q P_B`` (rows A,
columns B) and the **unit-cell** coordinate ``x_n = n`` (the same for ``A_n`` and ``B_n``)::

    W = (1/L') Tr'_B{ Q_BA [X, Q_AB] } = (1/L') Σ_{j ∈ window} Σ_i (x_i − x_j) |q_ij|²

where ``Tr'_B`` runs over the B sites of the ``L'`` cells of a bulk window. Each column of the unitary
``q`` is the A-sublattice image of a B site, so ``W`` is the mean displacement (in cells) by which ``Q``
moves a bulk B site onto the A sublattice. For ``v_n = 0`` (``q`` maps ``B_n`` to ``A_{n+1}``) it is
exactly ``+1``; when ``w^{(2)}`` dominates it is ``+2``; it equals the k-space winding number of
``h(k) = v + Σ_r w_r e^{irk}`` (anticlockwise positive, :func:`topoml.invariants.winding.winding_number`)
for clean chains.

This is the MSHSP expression with the **overall sign reversed**. With the spec's Hamiltonian
(``w`` hops ``B_n → A_{n+1}``), the literal ``−(1/L') Tr'{Q_BA [X, Q_AB]}`` gives ``−1`` in the
``|v| < |w|`` phase (checked numerically: −0.99999… at ``L = 40``, ``v/w = 0.3``); the spec asks for
``+1``. Reversing the sign is what exchanging the names of the sublattices does: the chain with A and B
exchanged has hopping block ``h†``, and ``W(h†) = −W(h)`` (exactly for a window symmetric under
the inversion ``n → L−1−n`` of a clean chain, up to finite-size terms otherwise; tested).

One SVD
-------
In the sublattice basis ``H = [[0, h], [h†, 0]]``; with the SVD ``h = U Σ V†`` the positive-energy
eigenstates are ``ψ_k = (u_k, v_k)/√2`` with energy ``σ_k``, and ``q = U V†`` (the unitary polar factor of
``h``). The labels come from one SVD of the ``L × L`` hopping block, with no sign ambiguity for
near-zero modes: the SVD pairs every left singular vector with a right one even when ``σ_k`` is tiny.

With ``G = Σ_n a_n b_n† = q/2`` (the positive-energy A and B amplitudes,
:func:`topoml.data.chain_features.chain_features`)
``W = Σ_ij T_ij |G_ij|²`` with ``T_ij = (4/L') (x_i − x_j) χ_window(j)`` (:func:`winding_tensor`) —
the spec's ``T`` with the sign reversed, for the reason above.

Window
------
Default: the central half of the chain, cells ``[m, L − m)`` with ``m = ⌊L/4⌋`` (``window=0.5``;
``L' = L − 2m``), symmetric under ``n → L−1−n``. This reproduces the spec's check value ≈ 0.79 at
``L = 20``, ``v/w = 0.8`` (0.7936; a margin of 4 or 6 cells gives 0.73 / 0.83). The full trace over an
open chain is identically 0 (``q`` is unitary: every row and column has unit weight), so the window is
essential. Periodic chains (``periodic=True``) use minimum-image displacements
``d_ij ∈ (−L/2, L/2)`` (``d = ±L/2`` counts as 0) and by default the whole ring as the window; the
full-ring value is ``Σ_d d |q̂_d|²``, the winding of ``h(k)/|h(k)|``, up to tails of ``q`` at distance
``L/2``.

Labelling near transitions
--------------------------
A finite chain gives a non-integer value near a transition, biased towards the smaller ``|W|``, largely
because the left and right edge modes of a topological open chain are paired in ``q`` across the whole
chain (a long negative displacement: dropping that rank-one term ``u₀ v₀†`` would raise 0.79 to 0.94 at
``L = 20``, ``v/w = 0.8``). Clean nearest-neighbour SSH, central-half window::

    v/w     0.80   0.90   0.95   0.99   1.00   1.01   1.05   1.10
    L=20    0.794  0.407  0.218  0.120  0.103  0.088  0.047  0.022
    L=100   1.000  0.991  0.854  0.220  0.108  0.050  0.003  0.000
    L=200   1.000  1.000  0.990  0.391  0.109  0.023  0.000  0.000

At the critical point the value is 0.093–0.109 for ``L = 8..200`` (0.16–0.21 where two zeros of
``h(z)`` cross the unit circle together, e.g. ``v = w₂``, ``w₁ = 0``). Rounding alone therefore
mislabels topological chains close to the transition (``0.88 < v/w < 1`` at ``L = 20``).

Rule: the label is ``round(W)``; it is **valid** only if

1. ``|W − round(W)| <= atol`` (*quantized*; ``atol = 0.05``, half the smallest critical-point value
   above), and
2. the *nonlocality* ``τ = (1/L') Σ_{j ∈ window} Σ_{i : |x_i − x_j| > ℓ} |x_i − x_j| |q_ij|² <=
   nonlocality_tol = 0.05``, with ``ℓ`` the distance from the window to the nearest edge (``⌊L/4⌋`` on
   a ring): the part of ``W`` carried by hops longer than ``ℓ``, i.e. by the edges and the edge-mode
   pairing. Condition 1 alone is not enough when two zeros of ``h(z)`` lie close to the unit circle:
   the finite-size value then drifts through the lower integer (``h(z) = (z − 0.93)(z + 0.93)``, true
   ``W = 2``, gives ``W = 1.002`` at ``L = 36``, with ``τ = 0.55``).
3. the chain is gapped (below).

Measured on 1500 random clean chains per cell (``v, w_r`` uniform in ``[−1, 1]``, ``R = 1, 2, 3``,
``L = 12, 20, 40, 80``; 300 at ``L = 160``) against the k-space winding: quantized but wrong labels
occur (up to 47 of 1500 at ``L = 12``, ``R = 3``) and all of them have ``τ >= 0.124``; wrong labels
of any deviation have ``τ >= 0.12``. With both conditions no wrong label was kept, at a cost of
1.5–7.5 % of the quantized samples at ``L = 80`` (``R = 1``: 95.5 % quantized, 94.1 % valid), more on
short chains with long range (``L = 20``, ``R = 3``: 29 %). Invalid
samples should be excluded from datasets (or raise :class:`~topoml.errors.QuantizationError` with
``on_unquantized="raise"``, which checks condition 1).

Gap closing
-----------
``q = U V†`` is unique only if ``h`` has no zero singular value; a zero mode inside the bulk makes
``sign(H)`` and the label depend on an arbitrary pairing. The exponentially small singular values of
the ``|W|`` edge-mode pairs of an open topological chain are harmless: they live outside the window.
Precisely: the *bulk gap* is the smallest singular value ``σ_k`` whose left or right singular vector
puts more than ``10⁻³`` of its weight on the window cells (edge modes of the default window carry
``~ (σ_edge/σ_max)^{1/2}``), and the chain is **gapless** if ``bulk_gap <= gap_tol · σ_max``
(``gap_tol = 1e-12``: numerically zero; the SVD still pairs a singular value of ``10⁻¹¹ σ_max`` to
about ``10⁻⁵``). Examples: a periodic chain at ``|v| = |w|`` with even ``L`` (``h(π) = 0``), an open
topological chain cut in the bulk, the full trace ``window=(0, L)`` of an open topological chain (its
edge modes are then in the window). Gapless chains raise :class:`~topoml.errors.GapClosedError` (or are
flagged with ``on_gapless="flag"``). Strongly disordered chains near the boundary (Griffiths regime) can
have bulk states this close to zero energy; generate datasets with ``on_gapless="flag"``.

Disorder
--------
The value stays quantized under chiral-preserving hopping disorder away from the critical line; the
exact phase boundary of the disordered MSHSP chain and the disorder-averaged RSWN are in
:mod:`topoml.invariants.disorder`.
"""

from __future__ import annotations

from typing import Literal, NamedTuple

import numpy as np

from topoml.errors import GapClosedError, InputError, QuantizationError, ShapeError
from topoml.hamiltonians.ssh import DEFAULT_SYMMETRY_TOL, hopping_block

__all__ = [
    "DEFAULT_ATOL",
    "DEFAULT_GAP_TOL",
    "DEFAULT_NONLOCALITY_TOL",
    "DEFAULT_WINDOW",
    "RealSpaceWinding",
    "bulk_window",
    "real_space_winding_number",
    "winding_from_correlation",
    "winding_tensor",
]

#: Largest ``|W − round(W)|`` of a quantized sample (half the critical-point value ≈ 0.1 of the clean
#: nearest-neighbour chain; see the module docstring).
DEFAULT_ATOL = 0.05
#: Relative bulk-gap tolerance: ``bulk_gap <= DEFAULT_GAP_TOL * σ_max`` is a closed gap.
DEFAULT_GAP_TOL = 1e-12
#: Largest nonlocality ``τ`` of a valid label (no wrong label of clean random chains, R <= 3, L = 12..160,
#: had ``τ < 0.12``; see the module docstring).
DEFAULT_NONLOCALITY_TOL = 0.05
#: A singular pair with more than this weight in the window counts for the bulk gap.
_WINDOW_WEIGHT_TOL = 1e-3
#: Default window of an open chain: the central half of the cells.
DEFAULT_WINDOW = 0.5
#: Matrix elements (chains x L x L) decomposed per batched SVD call (bounds temporary memory).
_CHUNK_ELEMENTS = 1 << 18


# ----------------------------------------------------------------------------------------------------
# window and the tensor T


def bulk_window(L: int, window: float | tuple[int, int] | None = None, *, periodic: bool = False) -> tuple[int, int]:
    """The bulk window ``[start, stop)`` (unit-cell indices) of the real-space trace.

    Parameters
    ----------
    L : int
        Number of unit cells.
    window : float, (int, int) or None
        A float ``f`` in ``(0, 1]`` keeps the central cells ``[m, L − m)`` with
        ``m = ⌊(1 − f) L / 2⌋`` (``f = 0.5``: ``m = ⌊L/4⌋``); a pair ``(start, stop)`` is taken as given
        (``0 <= start < stop <= L``; ``(0, L)`` on an open chain is the full trace, identically 0).
        ``None``: ``0.5`` for open chains, ``1.0`` (the whole ring) for periodic chains.
    periodic : bool
        The chain is a ring (a fractional window may then reach the ends).

    Returns
    -------
    (start, stop) : tuple of int

    Raises
    ------
    ShapeError
        ``L`` too small for the window: a fractional window on an open chain must leave at least one
        cell on either side (``window=0.5`` needs ``L >= 4``), or ``stop > L``.
    InputError
        ``f`` outside ``(0, 1]``, a malformed pair, ``L < 1``.
    """
    if not isinstance(L, (int, np.integer)) or isinstance(L, bool) or L < 1:
        raise InputError(f"L must be an integer >= 1, got {L!r}")
    L = int(L)
    if window is None:
        window = 1.0 if periodic else DEFAULT_WINDOW
    if isinstance(window, (tuple, list)):
        if len(window) != 2 or not all(isinstance(i, (int, np.integer)) and not isinstance(i, bool) for i in window):
            raise InputError(f"window must be a fraction in (0, 1] or a pair of cell indices (start, stop), got {window!r}")
        start, stop = int(window[0]), int(window[1])
        if not 0 <= start < stop:
            raise InputError(f"window (start, stop) needs 0 <= start < stop, got {window!r}")
        if stop > L:
            raise ShapeError(f"window {window!r} does not fit in a chain of L = {L} cells")
        return start, stop
    try:
        f = float(window)
    except (TypeError, ValueError):
        raise InputError(f"window must be a fraction in (0, 1] or a pair (start, stop), got {window!r}") from None
    if not 0 < f <= 1:
        raise InputError(f"window fraction must lie in (0, 1], got {f}")
    margin = int(np.floor((1.0 - f) * L / 2 + 1e-9))
    start, stop = margin, L - margin
    if not periodic and margin < 1:
        need = int(np.ceil(2 / (1 - f) - 1e-9)) if f < 1 else None
        hint = f"use L >= {need}" if need else "use a fraction < 1 (the full trace over an open chain is identically 0)"
        raise ShapeError(
            f"L = {L} is too small for window fraction {f:g} on an open chain: no cell is left between the window "
            f"and the edges; {hint}"
        )
    if stop <= start:
        raise ShapeError(f"window fraction {f:g} leaves no cell in a chain of L = {L} cells")
    return start, stop


def _displacements(L: int, start: int, stop: int, periodic: bool) -> np.ndarray:
    """``d_ij = x_i − x_j`` for all cells ``i`` and window cells ``j`` (minimum image on a ring)."""
    x = np.arange(L, dtype=np.float64)
    d = x[:, None] - x[None, start:stop]
    if periodic:
        d = np.mod(d + L / 2, L) - L / 2  # in [−L/2, L/2)
        d[d == -L / 2] = 0.0  # a bond of length exactly L/2 has no direction
    return d


def winding_tensor(L: int, window: float | tuple[int, int] | None = None, *, periodic: bool = False) -> np.ndarray:
    """The tensor ``T`` of ``W = Σ_ij T_ij |G_ij|²`` (spec, "The topo network").

    ``T_ij = (4/L') (x_i − x_j) χ_window(j)``: ``i`` runs over the A sites, ``j`` over the B sites,
    ``x`` is the unit-cell coordinate (minimum image for ``periodic``). The spec writes
    ``−(4/L') (x_i − x_j) χ_bulk(j)``, the sign of the literal MSHSP formula; ours is reversed so that
    ``W = +1`` in the ``|v| < |w|`` SSH phase (module docstring).

    Parameters
    ----------
    L : int
    window, periodic
        As :func:`bulk_window`.

    Returns
    -------
    ndarray of float64, shape (L, L)
    """
    start, stop = bulk_window(L, window, periodic=periodic)
    T = np.zeros((L, L))
    T[:, start:stop] = (4.0 / (stop - start)) * _displacements(L, start, stop, periodic)
    return T


def winding_from_correlation(G, *, window: float | tuple[int, int] | None = None, periodic: bool = False) -> np.ndarray | float:
    """``W = Σ_ij T_ij |G_ij|²`` from ``G = Σ_n a_n b_n†`` (:func:`topoml.data.chain_features.chain_features`).

    Parameters
    ----------
    G : array_like of shape (..., L, L)
        ``G[i, j] = Σ_n a_n(i) b_n(j)*`` over the positive-energy states (``= q/2``).
    window, periodic
        As :func:`bulk_window`.

    Returns
    -------
    float or ndarray of float64 of shape ``G.shape[:-2]``
        Equal to :func:`real_space_winding_number` ``.value`` to round-off.
    """
    G = np.asarray(G)
    if G.ndim < 2 or G.shape[-1] != G.shape[-2]:
        raise ShapeError(f"G must have shape (..., L, L), got {G.shape}")
    T = winding_tensor(G.shape[-1], window, periodic=periodic)
    out = np.einsum("...ij,ij->...", np.abs(G) ** 2, T)
    return float(out) if out.ndim == 0 else out


# ----------------------------------------------------------------------------------------------------
# the RSWN


class RealSpaceWinding(NamedTuple):
    """Result of :func:`real_space_winding_number`: scalars for one chain, arrays of the batch shape.

    Attributes
    ----------
    value : float64
        The real-space winding number ``W`` (not rounded).
    label : int64
        ``round(W)``; a label only where ``valid``.
    deviation : float64
        ``|W − label|``, in ``[0, ½]``.
    nonlocality : float64
        ``τ = (1/L') Σ_{j ∈ window} Σ_{i : |x_i − x_j| > ℓ} |x_i − x_j| |q_ij|²``: the part of the
        displacement sum carried by hops longer than the distance ``ℓ`` from the window to the nearest edge
        (``ℓ = ⌊L/4⌋`` on a ring). It bounds how much the edges (and the pairing of edge modes) can move
        ``W``; a finite-size diagnostic in the units of ``W``.
    sigma_min : float64
        Smallest singular value of the hopping block = smallest ``|E|`` of ``H`` (energy units); for an
        open topological chain the edge-mode energy ``~ e^{−L/ξ}``.
    bulk_gap : float64
        Smallest singular value ``σ_k`` whose singular vectors ``u_k`` (on A) or ``v_k`` (on B) put more
        than ``1e-3`` of their weight inside the window: the smallest energy of a state that the trace sees
        (edge modes of an open chain are skipped).
    quantized : bool
        ``deviation <= atol``.
    gapped : bool
        ``bulk_gap > gap_tol · σ_max``.
    valid : bool
        ``gapped and quantized and nonlocality <= nonlocality_tol``: the label can be used.
    window : tuple of int
        The window ``(start, stop)`` of unit cells that was traced.
    """

    value: np.ndarray | float
    label: np.ndarray | int
    deviation: np.ndarray | float
    nonlocality: np.ndarray | float
    sigma_min: np.ndarray | float
    bulk_gap: np.ndarray | float
    quantized: np.ndarray | bool
    gapped: np.ndarray | bool
    valid: np.ndarray | bool
    window: tuple[int, int]


def _svd_chunks(h: np.ndarray):
    """Yield ``(a, b, U, s, Vh)`` for consecutive chunks ``h[a:b]`` of a stack ``(N, L, L)``."""
    n, L = h.shape[0], h.shape[-1]
    chunk = max(1, _CHUNK_ELEMENTS // (L * L))
    for a in range(0, n, chunk):
        b = min(n, a + chunk)
        U, s, Vh = np.linalg.svd(h[a:b])
        yield a, b, U, s, Vh


class _Geometry(NamedTuple):
    start: int
    stop: int
    D: np.ndarray  # (L, L') displacements x_i − x_j, j in the window
    far: np.ndarray  # (L, L') |D| where |D| > ℓ, else 0


def _geometry(L: int, window, periodic: bool) -> _Geometry:
    start, stop = bulk_window(L, window, periodic=periodic)
    D = _displacements(L, start, stop, periodic)
    ell = L // 4 if periodic else min(start, L - stop)
    far = np.where(np.abs(D) > ell, np.abs(D), 0.0)
    return _Geometry(start, stop, D, far)


def _stats_from_svd(U: np.ndarray, s: np.ndarray, Vh: np.ndarray, g: _Geometry) -> tuple[np.ndarray, ...]:
    """``W``, nonlocality and bulk gap of a chunk from its SVD ``(n, L, L)``: ``q[:, window] = U V†[:, window]``."""
    n, L = s.shape
    Lp = g.stop - g.start
    qw = U @ Vh[:, :, g.start : g.stop]  # (n, L, L')
    P = (qw.real**2 + qw.imag**2 if np.iscomplexobj(qw) else qw * qw).reshape(n, -1)
    value = P @ g.D.ravel() / Lp
    tau = P @ g.far.ravel() / Lp
    Uw = U[:, g.start : g.stop, :]
    Vw = Vh[:, :, g.start : g.stop]
    weight = np.maximum(
        (Uw.real**2 + Uw.imag**2).sum(axis=1) if np.iscomplexobj(Uw) else (Uw * Uw).sum(axis=1),
        (Vw.real**2 + Vw.imag**2).sum(axis=2) if np.iscomplexobj(Vw) else (Vw * Vw).sum(axis=2),
    )
    bulk_gap = np.where(weight > _WINDOW_WEIGHT_TOL, s, np.inf).min(axis=1)
    return value, tau, bulk_gap


def _finish(
    value: np.ndarray,
    tau: np.ndarray,
    s: np.ndarray,
    bulk_gap: np.ndarray,
    *,
    atol: float,
    nonlocality_tol: float,
    gap_tol: float,
    window: tuple[int, int],
    batch_shape: tuple[int, ...],
    on_gapless: str,
    on_unquantized: str,
) -> RealSpaceWinding:
    """Labels and diagnostics from the values and the singular values (descending, shape (N, L))."""
    L = s.shape[-1]
    label = np.rint(value).astype(np.int64)
    deviation = np.abs(value - label)
    quantized = deviation <= atol
    s_max = s[:, 0]
    gapped = (bulk_gap > gap_tol * s_max) & (s_max > 0)
    if on_gapless == "raise" and not np.all(gapped):
        i = int(np.argmin(gapped))
        where = tuple(int(k) for k in np.unravel_index(i, batch_shape)) if batch_shape else ()
        raise GapClosedError(
            f"the bulk gap of chain {where} closes: a singular value {bulk_gap[i]:.3g} <= gap_tol · σ_max = "
            f"{gap_tol * s_max[i]:.3g} of the hopping block belongs to a state inside the window; sign(H) and the "
            "winding number are undefined (gap closing, or a chain cut in the bulk); "
            "pass on_gapless='flag' to flag such chains instead"
        )
    if on_unquantized == "raise" and not np.all(quantized):
        i = int(np.argmin(quantized))
        where = tuple(int(k) for k in np.unravel_index(i, batch_shape)) if batch_shape else ()
        raise QuantizationError(
            f"RSWN of chain {where} is {value[i]:.4f}, {deviation[i]:.3f} from the nearest integer (> atol = {atol:g}): "
            f"too close to a transition for L = {L}; use a longer chain or exclude the sample"
        )
    valid = gapped & quantized & (tau <= nonlocality_tol)
    fields = (value, label, deviation, tau, s[:, -1], bulk_gap, quantized, gapped, valid)
    if batch_shape == ():
        conv = (float, int, float, float, float, float, bool, bool, bool)
        return RealSpaceWinding(*(c(f[0]) for c, f in zip(conv, fields)), window=window)
    return RealSpaceWinding(*(f.reshape(batch_shape) for f in fields), window=window)


def _check_options(atol: float, nonlocality_tol: float, gap_tol: float, on_gapless: str, on_unquantized: str) -> None:
    if not (isinstance(atol, (int, float, np.floating)) and 0 <= atol < 0.5):
        raise InputError(f"atol must lie in [0, 0.5), got {atol!r}")
    if not (isinstance(nonlocality_tol, (int, float, np.floating)) and nonlocality_tol >= 0):
        raise InputError(f"nonlocality_tol must be a number >= 0 (inf disables the check), got {nonlocality_tol!r}")
    if not (isinstance(gap_tol, (int, float, np.floating)) and 0 <= gap_tol < 1):
        raise InputError(f"gap_tol must lie in [0, 1), got {gap_tol!r}")
    if on_gapless not in ("raise", "flag"):
        raise InputError(f"on_gapless must be 'raise' or 'flag', got {on_gapless!r}")
    if on_unquantized not in ("raise", "flag"):
        raise InputError(f"on_unquantized must be 'raise' or 'flag', got {on_unquantized!r}")


def _check_hopping(h) -> np.ndarray:
    h = np.asarray(h)
    if h.dtype == object or not (np.issubdtype(h.dtype, np.number) or h.dtype == bool):
        raise InputError(f"the hopping block must be numeric, got dtype {h.dtype}")
    if h.ndim < 2 or h.shape[-1] != h.shape[-2] or h.shape[-1] == 0:
        raise ShapeError(f"the hopping block must have shape (..., L, L) (rows A, columns B), got {h.shape}")
    h = h.astype(np.complex128 if np.iscomplexobj(h) else np.float64, copy=False)
    if not np.all(np.isfinite(h)):
        raise InputError("the hopping block contains NaN or inf; every hopping must be finite")
    return h


def real_space_winding_number(
    H=None,
    *,
    hopping=None,
    window: float | tuple[int, int] | None = None,
    periodic: bool = False,
    atol: float = DEFAULT_ATOL,
    nonlocality_tol: float = DEFAULT_NONLOCALITY_TOL,
    gap_tol: float = DEFAULT_GAP_TOL,
    on_gapless: Literal["raise", "flag"] = "raise",
    on_unquantized: Literal["raise", "flag"] = "flag",
    check: bool = True,
    symmetry_tol: float = DEFAULT_SYMMETRY_TOL,
) -> RealSpaceWinding:
    """Real-space winding number of chiral chains (Mondragon-Shem et al., PRL 113, 046802 (2014)).

    ``W = (1/L') Σ_{j ∈ window} Σ_i (x_i − x_j) |q_ij|²`` with ``q = Q_AB = U V†`` from one SVD
    ``h = U Σ V†`` of the hopping block (see the module docstring for the derivation, the sign and the
    window). ``+1`` for the nearest-neighbour SSH chain with ``|v| < |w|``, ``+2`` when ``w^{(2)}``
    dominates, ``0`` in the trivial phase; equal to the k-space winding of ``v + Σ_r w_r e^{irk}`` for
    clean chains. Vectorized over leading batch axes (batched LAPACK SVD).

    Parameters
    ----------
    H : array_like of shape (2L, 2L) or (..., 2L, 2L), optional
        Chain Hamiltonians with sites ordered ``A_0, B_0, A_1, B_1, …`` (real or complex). Must be
        Hermitian and chiral (no A–A or B–B elements).
    hopping : array_like of shape (L, L) or (..., L, L), optional
        Alternative entry: the hopping block ``h = H[0::2, 1::2]`` (rows A, columns B). Give exactly one
        of ``H`` and ``hopping``.
    window : float, (int, int) or None
        Bulk window (:func:`bulk_window`): default the central half (open) or the whole ring (periodic).
    periodic : bool, default False
        The chain is a ring: minimum-image displacements, no edge modes.
    atol : float, default 0.05
        ``|W − round(W)| <= atol`` is quantized.
    nonlocality_tol : float, default 0.05
        A label is valid only if ``nonlocality <= nonlocality_tol`` (``inf`` disables the check).
    gap_tol : float, default 1e-12
        ``bulk_gap <= gap_tol · σ_max`` is a closed gap.
    on_gapless : {"raise", "flag"}, default "raise"
        Raise :class:`~topoml.errors.GapClosedError` for a gapless chain, or only flag it
        (``gapped=False``).
    on_unquantized : {"flag", "raise"}, default "flag"
        Flag (``quantized=False``) or raise :class:`~topoml.errors.QuantizationError`.
    check : bool, default True
        Validate ``H`` (Hermiticity, chiral symmetry, NaN/inf); shapes and NaN/inf in the hopping block
        are always checked.
    symmetry_tol : float, default 1e-10
        Relative tolerance of the symmetry checks.

    Returns
    -------
    RealSpaceWinding
        ``value``, ``label``, ``deviation``, ``nonlocality``, ``sigma_min``, ``bulk_gap``, ``quantized``,
        ``gapped``, ``valid`` (Python scalars for one chain, arrays of the batch shape otherwise) and
        ``window``.

    Raises
    ------
    InputError
        Neither or both of ``H`` and ``hopping``, NaN/inf, bad options.
    ShapeError
        Not a stack of ``2L × 2L`` (or ``L × L``) matrices, or ``L`` too small for the window
        (``L >= 4`` for the default window of an open chain).
    SymmetryError
        ``H`` not Hermitian, or not chiral (on-site terms or same-sublattice hoppings).
    GapClosedError
        A chain is gapless (``on_gapless="raise"``).
    QuantizationError
        A value is farther than ``atol`` from an integer (``on_unquantized="raise"``).

    Examples
    --------
    >>> from topoml.hamiltonians.ssh import chain_hamiltonian, uniform_hoppings
    >>> real_space_winding_number(chain_hamiltonian(*uniform_hoppings(40, 0.3, 1.0))).label
    1
    """
    _check_options(atol, nonlocality_tol, gap_tol, on_gapless, on_unquantized)
    if (H is None) == (hopping is None):
        raise InputError("pass exactly one of H (the 2L x 2L Hamiltonian) and hopping (the L x L block)")
    if H is not None and check:
        h = hopping_block(H, check=True, tol=symmetry_tol)  # validated: finite, float64 / complex128
    else:
        h = _check_hopping(hopping_block(H, check=False) if H is not None else hopping)
    batch_shape, L = h.shape[:-2], h.shape[-1]
    g = _geometry(L, window, periodic)
    flat = np.ascontiguousarray(h.reshape((-1, L, L)))
    n = flat.shape[0]
    value, tau, gap = np.empty(n), np.empty(n), np.empty(n)
    s_all = np.empty((n, L))
    for a, b, U, s, Vh in _svd_chunks(flat):
        value[a:b], tau[a:b], gap[a:b] = _stats_from_svd(U, s, Vh, g)
        s_all[a:b] = s
    return _finish(
        value, tau, s_all, gap, atol=atol, nonlocality_tol=nonlocality_tol, gap_tol=gap_tol,
        window=(g.start, g.stop), batch_shape=batch_shape, on_gapless=on_gapless, on_unquantized=on_unquantized,
    )
