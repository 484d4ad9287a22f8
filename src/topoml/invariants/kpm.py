"""KPM local Chern marker of large disordered p+ip lattices: a sparse stochastic estimate.

Method (Varjas, Fruchart, Akhmerov & Perez-Piskunow, PRR 2, 013229 (2020)): the Chern number is the
real-space Chern marker (Kitaev, Ann. Phys. 321, 2 (2006); Bianco & Resta, PRB 84, 241106 (2011))
averaged over a region ``A`` of the bulk,

    C_A = (2πi / |A|) Tr_A( P [[X, P], [Y, P]] ) = (2πi / |A|) Tr_A( P X P Y P − P Y P X P ),

with ``P`` the ground-state projector, written in the paper's form (the formula the authors' code
evaluates; equation numbers are not quoted here, the formula is). Three approximations make it sparse:

* ``P = θ(−H)`` (Fermi function at ``E = 0``, zero temperature) is a Chebyshev expansion of ``M``
  moments of the rescaled BdG matrix ``H/a``, with the Jackson kernel
  (Weiße, Wellein, Alvermann & Fehske, RMP 78, 275 (2006)): only sparse
  matrix–vector products, never a dense matrix. Coefficients of ``θ(−x)``: ``c₀ = ½``,
  ``c_m = −2 sin(mπ/2)/(mπ)``. The Jackson kernel keeps the expanded step inside ``[0, 1]`` and smooths
  it over about ``resolution = πa/M`` (energy, units of ``t₊ = 1``), the energy resolution.
* ``Tr_A`` is a stochastic trace: ``Tr_A(O) ≈ mean_r ⟨v_r|O|v_r⟩`` with random-phase vectors
  ``v_r`` (entries ``e^{iφ}``, ``φ`` uniform) on the basis states of ``A`` and zero elsewhere. With
  ``O = PXPYP − PYPXP`` anti-Hermitian, ``⟨v|O|v⟩ = 2i Im⟨XPv|P|YPv⟩``: two expansions per vector.
* The trace is over both Nambu components of every site (particle and hole share the site's
  position), with ``|A|`` the number of sites (unit cell area 1), as for the Bott index.

Geometry: torus, tiled
----------------------
The lattice is periodic (the margalit2022 lattices and the Bott label live on a torus), so ``X`` is
only defined up to a seam. The paper cuts an open sample and keeps a bulk window. Here the torus is kept
with all its bonds (the Hamiltonian is exactly the one the Bott index labels), and cut into
``tiles × tiles`` rectangular tiles. Each tile ``A_k`` uses its own positions, the site coordinates
measured from the tile centre and wrapped into ``[−N/2, N/2)``. The seam of tile ``k`` then lies at
least ``N/2 − N/(2·tiles)`` from every site of ``A_k`` (``3N/8`` with 4 tiles per axis;
:func:`default_tiles` takes the fewest tiles that keep it ``>= SEAM_DISTANCE = 24``). The estimate
averages the whole lattice:

    C = Σ_k Tr_{A_k}(...) / N².

Why not open boundaries: in the ``|μ| < 2|t₋|`` phase the p+ip lattice has zero-energy edge modes along
open edges, and an open sample throws away the disorder outside the window. On the torus there are no
edges at all, and every site counts, as in the (global) Bott index. A tile's marker is exact only up to
corrections that decay as ``exp(−d/ξ)``, with ``d`` the distance to the seam and ``ξ ≈ v/g`` the
localization length of ``P``; the marker itself is local only on the scale ``ξ``. For the small
pairings of margalit2022 (``Δ ≈ 0.15``, ``ξ ≈ 10``) this needs ``N ≳ 48–64``: the clean ``C = 1`` marker
at ``μ = −1, t₋ = 0.2, Δ = 0.15`` is about 0.75 at N = 16 and reaches 1 within its error from N ≈ 48
(README, "Large lattices", and the tests). This finite-size bias pulls the estimate towards 0 and is
**not** part of the stated error.

Stochastic error
----------------
``vectors`` random vectors per tile (independent phases); ``z_{k,r}`` is the trace estimate of tile
``k`` from vector ``r``. ``estimate = Σ_k mean_r z_{k,r} / N²`` and its standard error is
``error = sqrt(Σ_k var_r(z_{k,r}) / vectors) / N²`` (sample variances, ``ddof=1``; ``tiles²·(vectors−1)``
degrees of freedom). It covers the random vectors only. It does **not** cover the expansion (finite
``M``), the seam (finite ``N``), or in-gap states. ``projector_defect = mean ⟨v|P − P²|v⟩/⟨v|v⟩``
(``0`` for an exact projector, at most ``¼``) measures the spectral weight inside the resolution
window around ``E = 0``. A large value means that ``P`` is not a projector there: the BdG gap is below
the resolution (more moments), or states sit at ``E ≈ 0``.

Sign convention
---------------
``chern = +(4π/N²) Σ Im⟨XPv|P|YPv⟩ = −(the paper's expression)``: the sign of
:func:`topoml.invariants.bott.bott_index` (``+1`` on the clean lattice at ``μ = −1, t₋ = 0.2``). The
paper's orientation gives the Chern number of the occupied band, which is minus the Bott label here
(``docs/conventions-margalit2022.md``). Tested against the clean formula and the dense Bott index.

Arithmetic
----------
The expansion runs in the Majorana basis (:func:`topoml.invariants.localizer.majorana_sparse`, built from
``bdg_hamiltonian(x, sparse=True)``; ``Ω H Ω† = iK`` with ``K`` real antisymmetric). A complex block
of vectors ``(n, k)`` is viewed as a real ``(n, 2k)`` block and, with ``T_m(iK/a) = i^m S_m``, the
Chebyshev recursion has real coefficients (:func:`_project`): each step is one real sparse product
``K @ S`` and one or two in-place vector updates (1.9× faster than the complex-arithmetic recursion,
measured at N = 128). ``Ω`` acts within each site, so the traces over tiles and the positions are unchanged. ``a`` is the Gershgorin bound
``max_i Σ_j |K_ij| ≥ ‖H‖``, times ``1.01``. Cost: ``2·M`` sparse products of a ``(2N², 2·tiles²·vectors)``
block. Memory: ``O(N² · tiles² · vectors)``, processed in column blocks of at most
:data:`MAX_BLOCK_BYTES`. Results do not depend on the blocking: every column is computed in the same
order.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
import scipy.sparse as sp

from topoml.errors import InputError
from topoml.hamiltonians.pip import check_lattice, site_positions
from topoml.rng import RngLike, as_generator

__all__ = [
    "DEFAULT_RESOLUTION",
    "DEFAULT_TILES",
    "DEFAULT_VECTORS",
    "SEAM_DISTANCE",
    "KPMResult",
    "check_options",
    "default_tiles",
    "jackson_kernel",
    "kpm_chern_number",
    "step_coefficients",
]

#: Default energy resolution ``πa/M`` (units of ``t₊ = 1``) when ``moments`` is not given:
#: ``M = ceil(πa / DEFAULT_RESOLUTION)``.
DEFAULT_RESOLUTION = 0.03
#: Default random vectors per tile (at least 2, for the error estimate).
DEFAULT_VECTORS = 2
#: Largest default number of tiles per axis (``tiles²`` regions; the seam ``3N/8`` away with 4).
DEFAULT_TILES = 4
#: Default tiles per axis: the fewest (2 … DEFAULT_TILES) that put every seam at least this many
#: sites from its tile (N >= 96: 2 tiles; N = 64: 4), about 2.5 localization lengths at Δ = 0.15.
SEAM_DISTANCE = 24
#: Largest working memory of one column block (about 10 complex ``(2N², k)`` arrays are alive at once).
MAX_BLOCK_BYTES = 256 * 2**20


class KPMResult(NamedTuple):
    """KPM local-Chern-marker estimate for one lattice.

    Attributes
    ----------
    chern : int
        ``round(estimate)`` (sign convention of :func:`~topoml.invariants.bott.bott_index`).
    estimate : float
        Chern marker averaged over the whole torus (``Σ_k Tr_{A_k}(...) / N²``).
    error : float
        Stochastic standard error of ``estimate`` (spread over the random vectors only).
    moments : int
        Chebyshev moments ``M``.
    vectors : int
        Random vectors per tile (``tiles² · vectors`` in all).
    tiles : int
        Tiles per axis.
    resolution : float
        Energy resolution ``πa/M`` of the expanded projector (units of ``t₊ = 1``).
    projector_defect : float
        ``mean ⟨v|P − P²|v⟩/⟨v|v⟩`` in ``[0, ¼]``: ``0`` for an exact projector; large where the gap is
        below ``resolution``.
    """

    chern: int
    estimate: float
    error: float
    moments: int
    vectors: int
    tiles: int
    resolution: float
    projector_defect: float


def jackson_kernel(moments: int) -> np.ndarray:
    """Jackson kernel ``g_m``, ``m = 0 … M−1`` (Weiße et al., RMP 78, 275 (2006)).

    Returns
    -------
    ndarray of float64, shape (moments,)
        ``g_m = [(M − m + 1) cos(πm/(M+1)) + sin(πm/(M+1)) cot(π/(M+1))] / (M + 1)``; ``g_0 = 1``.
    """
    M = int(moments)
    m = np.arange(M)
    q = np.pi / (M + 1)
    return ((M - m + 1) * np.cos(q * m) + np.sin(q * m) / np.tan(q)) / (M + 1)


def step_coefficients(moments: int) -> np.ndarray:
    """Jackson-damped Chebyshev coefficients of ``θ(−x)`` on ``[−1, 1]``: ``θ(−x) ≈ Σ_m c_m T_m(x)``.

    Returns
    -------
    ndarray of float64, shape (moments,)
        ``c_0 = ½``, ``c_m = −2 g_m sin(mπ/2)/(mπ)`` (zero for even ``m ≥ 2``).
    """
    M = int(moments)
    m = np.arange(1, M)
    c = np.empty(M)
    c[0] = 0.5
    c[1:] = -2.0 * np.sin(0.5 * np.pi * m) / (np.pi * m)
    c[2::2] = 0.0  # exact zeros (sin(kπ) is ~1e-16 in floating point)
    return c * jackson_kernel(M)


def _int_at_least(value, name: str, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
        raise InputError(f"{name} must be an integer >= {low}, got {value!r}")
    return int(value)


def default_tiles(N: int) -> int:
    """Fewest tiles per axis (2 … ``DEFAULT_TILES``, at most ``N``) whose seams lie ``>= SEAM_DISTANCE`` away.

    The seam of a tile lies ``N/2 − N/(2·tiles)`` sites from its farthest site. The stochastic error
    depends on the number of vectors per tile, not on the number of tiles, while the cost grows as
    ``tiles²``. So large lattices take 2 tiles per axis, and small ones the most allowed.
    """
    for t in range(2, DEFAULT_TILES + 1):
        if N * (t - 1) / (2 * t) >= SEAM_DISTANCE:
            return min(t, N)
    return min(DEFAULT_TILES, N)


def check_options(
    N: int, *, moments: int | None = None, vectors: int = DEFAULT_VECTORS, tiles: int | None = None, seed: int | None = None
) -> tuple[int | None, int, int]:
    """Validate the options of :func:`kpm_chern_number` for lattices of size ``N``.

    Returns
    -------
    (moments, vectors, tiles) : tuple
        ``moments`` stays ``None`` when not given; ``tiles`` defaults to :func:`default_tiles`.

    Raises
    ------
    InputError
        ``moments < 2``, ``vectors < 2``, ``tiles`` outside ``[2, N]``, a negative ``seed``, or a
        non-integer value.
    """
    if moments is not None:
        moments = _int_at_least(moments, "moments", 2)
    vectors = _int_at_least(vectors, "vectors", 2)
    tiles = default_tiles(N) if tiles is None else _int_at_least(tiles, "tiles", 2)
    if tiles > N:
        raise InputError(f"tiles must be <= N = {N} (one site per tile at most), got {tiles}")
    if seed is not None:
        _int_at_least(seed, "seed", 0)
    return moments, vectors, tiles


def _tiles(N: int, tiles: int) -> tuple[list[np.ndarray], np.ndarray, np.ndarray]:
    """Flat site indices of each tile and its wrapped positions ``(tiles², N²)`` (X and Y)."""
    X, Y = site_positions(N)
    parts = np.array_split(np.arange(N), tiles)
    sites, xs, ys = [], [], []
    for pi in parts:
        for pj in parts:
            sites.append((pi[:, None] * N + pj[None, :]).ravel())
            for P, c0, out in ((X, (pi[0] + pi[-1]) / 2, xs), (Y, (pj[0] + pj[-1]) / 2, ys)):
                d = P - c0
                out.append(d - N * np.floor(d / N + 0.5))  # wrapped into [−N/2, N/2)
    return sites, np.asarray(xs), np.asarray(ys)


def _project(K: sp.csr_array, scale: float, V: np.ndarray, coef: np.ndarray) -> np.ndarray:
    """``θ(−iK) V ≈ Σ_m c_m T_m(iK/scale) V`` for a complex block ``V`` (n, k).

    With ``T_m(iK/a) V = i^m S_m``, the Chebyshev recursion becomes the real-coefficient recursion
    ``S_m = (2/a) K S_{m−1} + S_{m−2}`` (``S_0 = V``, ``S_1 = K V / a``), run on the real view
    ``(n, 2k)`` of the complex block; ``c_m = 0`` for even ``m >= 2``, so
    ``θ(−iK) V = ½ V + i Σ_{m odd} (−1)^{(m−1)/2} c_m S_m``.
    """
    from scipy.linalg.blas import daxpy

    K2 = K * (2.0 / scale)
    S0 = np.ascontiguousarray(V, dtype=np.complex128).view(np.float64)
    S1 = K2 @ S0
    S1 *= 0.5
    acc = coef[1] * S1
    flat = acc.reshape(-1)
    for m in range(2, len(coef)):
        S2 = K2 @ S1
        S2 += S0
        if m % 2:
            daxpy(S2.reshape(-1), flat, a=(-1.0) ** ((m - 1) // 2) * coef[m])  # acc += c'_m S_m, in place
        S0, S1 = S1, S2
    out = acc.view(np.complex128) * 1j
    out += coef[0] * V
    return out


def kpm_chern_number(
    x: np.ndarray,
    *,
    moments: int | None = None,
    vectors: int = DEFAULT_VECTORS,
    tiles: int | None = None,
    rng: RngLike = None,
) -> KPMResult:
    """Chern number of one disordered p+ip lattice from the KPM local Chern marker (sparse, stochastic).

    A stochastic estimate with a stated error; not certified. Use it for lattices far larger than the
    correlation length (``N ≳ 48–64`` at ``Δ ≈ 0.15``), where the marker has converged; below, it is
    biased towards 0 by more than the stated error (module docstring).

    Parameters
    ----------
    x : array_like of shape (N, N, 3)
        Per-site ``(mu, t_minus, delta)`` (units of ``t₊ = 1``), periodic lattice, axis i is x
        (:mod:`topoml.hamiltonians.pip`); real, finite.
    moments : int, optional
        Chebyshev moments ``M >= 2``; default ``ceil(πa / DEFAULT_RESOLUTION)`` (``a`` the spectral
        bound: about 5–16 for margalit2022 lattices up to N = 256, whose μ disorder grows with N; hence
        ``M`` ≈ 350–1700).
    vectors : int, default 2
        Random-phase vectors per tile, ``>= 2`` (the error is estimated from their spread).
    tiles : int, optional
        Tiles per axis, ``2 <= tiles <= N``; default :func:`default_tiles` (4 below N = 64, 2 from
        N = 96). More tiles move each seam farther (``N/2 − N/(2·tiles)``), at a cost proportional to
        ``tiles²``; the stochastic error does not depend on them.
    rng : int, Generator, SeedSequence or None
        Random phases; the result is a deterministic function of it.

    Returns
    -------
    KPMResult
        ``chern`` (``round(estimate)``; ``+1`` at ``μ = −1, t₋ = 0.2``, as ``bott_index``),
        ``estimate``, ``error`` (stochastic standard error), ``moments``, ``vectors``, ``tiles``,
        ``resolution`` and ``projector_defect``.

    Raises
    ------
    ShapeError, InputError
        Invalid lattice (:func:`~topoml.hamiltonians.pip.check_lattice`: wrong shape, a batch, non-real,
        NaN/inf), ``moments``, ``vectors``, ``tiles`` or ``rng``.

    Notes
    -----
    Varjas, Fruchart, Akhmerov & Perez-Piskunow, PRR 2, 013229 (2020): ``C = (2πi/A) Tr_A P[[X,P],[Y,P]]``
    with a KPM projector and a stochastic trace over the bulk region; here on a tiled torus, with the
    sign of ``bott_index`` (module docstring).
    """
    x = check_lattice(x, batch=False)
    N = x.shape[0]
    moments, vectors, tiles = check_options(N, moments=moments, vectors=vectors, tiles=tiles)
    gen = as_generator(rng)

    from topoml.invariants.localizer import majorana_sparse

    K = sp.csr_array(majorana_sparse(x))
    n = K.shape[0]
    scale = 1.01 * float(abs(K).sum(axis=1).max())  # Gershgorin: ‖H‖ = ‖K‖ <= max row sum
    if moments is None:
        moments = max(2, math.ceil(np.pi * scale / DEFAULT_RESOLUTION))
    coef = step_coefficients(moments)
    sites, xs, ys = _tiles(N, tiles)
    T = len(sites)
    cols = [(r, k) for r in range(vectors) for k in range(T)]
    phases = [np.exp(2j * np.pi * gen.random(2 * len(sites[k]))) for _, k in cols]  # fixed draw order
    z = np.empty(len(cols))
    defect = np.empty(len(cols))
    width = max(1, MAX_BLOCK_BYTES // (10 * 16 * n))
    for a in range(0, len(cols), width):
        block = range(a, min(len(cols), a + width))
        V = np.zeros((n, len(block)), dtype=np.complex128)
        Xb = np.empty((n, len(block)))
        Yb = np.empty((n, len(block)))
        for c, j in enumerate(block):
            k = cols[j][1]
            V[np.concatenate([sites[k], sites[k] + n // 2]), c] = phases[j]
            Xb[:, c] = np.tile(xs[k], 2)
            Yb[:, c] = np.tile(ys[k], 2)
        A = _project(K, scale, V, coef)  # P v
        B = _project(K, scale, np.ascontiguousarray(Yb * A), coef)  # P Y P v
        z[block.start : block.stop] = 4.0 * np.pi * np.einsum("ij,ij->j", np.conj(Xb * A), B).imag
        defect[block.start : block.stop] = (
            np.einsum("ij,ij->j", np.conj(V), A).real - np.einsum("ij,ij->j", np.conj(A), A).real
        ) / np.einsum("ij,ij->j", np.conj(V), V).real
    zt = z.reshape(vectors, T)
    estimate = float(zt.mean(axis=0).sum() / N**2)
    error = float(math.sqrt(zt.var(axis=0, ddof=1).sum() / vectors) / N**2)
    return KPMResult(
        chern=int(np.rint(estimate)),
        estimate=estimate,
        error=error,
        moments=int(moments),
        vectors=vectors,
        tiles=tiles,
        resolution=float(np.pi * scale / moments),
        projector_defect=float(defect.mean()),
    )
