"""Spectral-localizer Chern number of large disordered p+ip lattices (sparse, certified).

The localizer index (Loring, Ann. Phys. 356, 383 (2015); Loring & Schulz-Baldes, J. Noncommut. Geom.
(2017); Cerjan & Loring, arXiv:1907.11791 and arXiv:2411.03515) of a gapped Hamiltonian ``H`` at energy
``E`` is half the signature of the Hermitian matrix

    L = [[H − E, κ(X − iY)], [κ(X + iY), −(H − E)]]

with ``X``, ``Y`` the position operators and ``κ > 0`` a tuning parameter. It needs only the sparse
``H`` (:func:`topoml.hamiltonians.pip.bdg_hamiltonian` with ``sparse=True``): the signature comes from
the inertia of a sparse symmetric-indefinite LDLᵀ factorization, never from a dense matrix.

Real form (class D)
-------------------
In the Majorana basis (``Ω H Ω† = iK``, ``K`` real antisymmetric) and at ``E = 0`` (the BdG
particle-hole symmetric energy), ``L`` commutes with the antiunitary ``τ_x ⊗ complex conjugation``, so
it is orthogonally similar (``T = [[1, i], [1, −i]]/√2``) to the **real symmetric** matrix of the same
dimension ``4N²``::

    R = [[κX, −K − κY], [K − κY, −κX]]

which has the same eigenvalues, hence the same signature, as ``L``. This halves the dimension of the
usual complex → real embedding (which has every eigenvalue twice). ``K`` is built from the sparse BdG
matrix, so the two routes share one Hamiltonian.

Positions on the torus
----------------------
The lattice is periodic, and the localizer index is a *local* quantity (it probes a disk of radius
about ``‖H‖/κ`` around the origin of ``X``, ``Y``). Positions are the site coordinates measured from
``center`` (default: the lattice centre ``((N−1)/2, (N−1)/2)``), wrapped into ``[−N/2, N/2)``; the
Hamiltonian keeps all its periodic bonds, so there are no edges (no edge modes: the open-boundary
localizer meets zero-energy edge modes in the ``|μ| < 2|t₋|`` phase and returns wrong, non-integer
signatures; README, "Large lattices"). The jump of the wrapped coordinate across the seam is far from the
probed disk and is gapped by ``κ|X| ≈ κN/2``. The "sin positions" ``(N/2π) sin(2πX/N)`` are *not* used:
their map of the torus to the plane has degree 0 (four zeros with local degrees ``+1, −1, −1, +1``), so
their localizer index vanishes in every phase.

Sign convention
---------------
``chern = −sig(L)/2``: the sign of :func:`topoml.invariants.bott.bott_index` (``+1`` on the clean lattice
at ``μ = −1, t₋ = 0.2``), tested against the clean formula and the dense Bott index.

Certificate
-----------
* ``gap``: the localizer gap ``min |λ(L)|`` (shift-invert Lanczos with the same factorization). The
  signature cannot change under any perturbation of ``L`` smaller than ``gap`` (Weyl), so the index is
  robust to perturbations of ``H`` of norm below ``gap``; a tiny ``gap`` (below ``gap_tol``) means the
  index is not defined at this ``κ`` (a localized zero mode, a seam that is not gapped, or a phase
  boundary).
* ``perturbed_pivots``: PARDISO replaces tiny pivots by ``±ε‖L‖``; then the inertia can be wrong, and the
  result is not certified.

The localizer index equals the Chern number of the infinite system when ``κ`` is small compared with
``g³/(‖H‖ ‖[H, X]‖)`` (``g`` the bulk gap) and the probed disk fits (Loring & Schulz-Baldes). At small
``N`` and small gaps both conditions cannot hold at once: there the localizer and the (global, torus)
Bott index can differ, and the certificate does not see it. The measured agreement is in the README
("Large lattices").

Solver
------
PARDISO (MKL, through ``pypardiso``; the ``large`` extra), real symmetric indefinite mode (matrix type
−2), phase 12: ``iparm[21]``/``iparm[22]`` are the numbers of positive/negative eigenvalues. The
inertia is that of the factorized (permuted, scaled) matrix, which is congruent to ``L``. MUMPS
(``python-mumps``, ``kwant``) does not install from wheels here; ``qdldl`` needs quasi-definite matrices
(``L`` is not); SuperLU (``scipy.sparse.linalg.splu``) does not give an inertia.

PARDISO loads MKL (and Intel OpenMP) into the process. Loaded before torch, that MKL takes over the MKL
kernels inside torch for the rest of the process: trainings there stay valid but are not bit-identical
to a fresh process's (README, "Conventions and design"). Import torch first, or train in another process.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
import scipy.sparse as sp

from topoml.errors import ConfigError, GapClosedError, InputError, ShapeError, SymmetryError
from topoml.hamiltonians.pip import bdg_hamiltonian, check_lattice, site_positions

__all__ = [
    "DEFAULT_KAPPA_N",
    "LocalizerResult",
    "localizer_chern_number",
    "localizer_gap",
    "localizer_matrix",
    "majorana_sparse",
    "sparse_inertia",
]

#: Default ``κ·N`` (``κ = DEFAULT_KAPPA_N / N``). Agreement with the dense Bott index on 120 disordered
#: lattices for κ·N = 1.5, 2, 3, 4, 6: 66, 70, 73, 69, 68 % at N = 12; 78, 82, 80, 74, 73 % at N = 16;
#: every clean phase right at N = 32–64 with 3. Smaller κ·N leaves the seam of the wrapped positions
#: ungapped (tiny localizer gap, e.g. κ·N = 1 in the |μ| < 2|t₋| phase); larger κ·N misses small gaps.
DEFAULT_KAPPA_N = 3.0
#: Default smallest certified localizer gap (units of ``t₊ = 1``).
DEFAULT_GAP_TOL = 1e-6


class LocalizerResult(NamedTuple):
    """Localizer Chern number of one lattice.

    Attributes
    ----------
    chern : int
        ``−sig(L)/2`` (sign convention of :func:`~topoml.invariants.bott.bott_index`).
    signature : int
        Signature of ``L`` (positive minus negative eigenvalues), from the LDLᵀ inertia.
    gap : float
        Localizer gap ``min |λ(L)|`` (units of ``t₊ = 1``); ``nan`` if not computed (``certify=False``).
    kappa : float
        The ``κ`` used.
    perturbed_pivots : int
        Pivots PARDISO had to perturb (0 for a trustworthy inertia).
    certified : bool
        ``gap >= gap_tol`` and no perturbed pivots (``False`` when the gap was not computed).
    """

    chern: int
    signature: int
    gap: float
    kappa: float
    perturbed_pivots: int
    certified: bool


# --------------------------------------------------------------------------------------------------
# matrices


def majorana_sparse(x: np.ndarray) -> sp.csr_array:
    """Sparse real antisymmetric Majorana form ``K`` (``Ω H Ω† = iK``) of one lattice.

    Same matrix as :func:`topoml.hamiltonians.pip.majorana_hamiltonian`, built from the sparse BdG matrix
    ``bdg_hamiltonian(x, sparse=True)`` (no dense ``2N²×2N²`` array).

    Parameters
    ----------
    x : array_like of shape (N, N, 3)

    Returns
    -------
    scipy.sparse.csr_array of float64, shape (2N², 2N²)
        Basis ``(a_1 … a_{N²}, b_1 … b_{N²})``, ``a = c + c†``, ``b = −i(c − c†)``.
    """
    H = bdg_hamiltonian(x, sparse=True)
    n = H.shape[0] // 2
    eye = sp.identity(n, format="csr", dtype=np.complex128)
    omega = sp.block_array([[eye, eye], [-1j * eye, 1j * eye]], format="csr") / math.sqrt(2.0)
    iK = omega @ H @ omega.conj().T
    K = sp.csr_array((iK.data.imag, iK.indices, iK.indptr), shape=iK.shape)  # iK is purely imaginary
    K.eliminate_zeros()
    return K


def _wrapped_positions(N: int, center: tuple[float, float] | None) -> tuple[np.ndarray, np.ndarray]:
    X, Y = site_positions(N)
    c = ((N - 1) / 2, (N - 1) / 2) if center is None else center
    out = []
    for P, c0 in ((X, c[0]), (Y, c[1])):
        d = P - float(c0)
        out.append(d - N * np.floor(d / N + 0.5))  # wrapped into [−N/2, N/2)
    return out[0], out[1]


def _check_kappa(kappa: float | None, N: int) -> float:
    if kappa is None:
        return DEFAULT_KAPPA_N / N
    if isinstance(kappa, bool) or not isinstance(kappa, (int, float, np.integer, np.floating)) or not (math.isfinite(kappa) and kappa > 0):
        raise InputError(f"kappa must be a positive finite number, got {kappa!r}")
    return float(kappa)


def _check_center(center, N: int) -> tuple[float, float] | None:
    if center is None:
        return None
    c = np.asarray(center, dtype=np.float64) if np.ndim(center) == 1 else None
    if c is None or c.shape != (2,) or not np.all(np.isfinite(c)):
        raise InputError(f"center must be a pair of finite site coordinates (i, j), got {center!r}")
    return float(c[0]), float(c[1])


def localizer_matrix(x: np.ndarray, *, kappa: float | None = None, center: tuple[float, float] | None = None) -> sp.csr_array:
    """Real symmetric form ``R`` of the spectral localizer of one p+ip lattice at ``E = 0``.

    ``R = [[κX, −K − κY], [K − κY, −κX]]`` (module docstring), orthogonally similar to the complex
    localizer ``[[H, κ(X − iY)], [κ(X + iY), −H]]``.

    Parameters
    ----------
    x : array_like of shape (N, N, 3)
        Per-site ``(mu, t_minus, delta)``, periodic lattice (:mod:`topoml.hamiltonians.pip`).
    kappa : float, optional
        Tuning parameter ``κ > 0`` (energy per lattice spacing); default ``DEFAULT_KAPPA_N / N``.
    center : (float, float), optional
        Origin of the positions in site coordinates ``(i, j)``; default the lattice centre.

    Returns
    -------
    scipy.sparse.csr_array of float64, shape (4N², 4N²)

    Raises
    ------
    ShapeError, InputError
        Invalid lattice (:func:`~topoml.hamiltonians.pip.check_lattice`), ``kappa`` or ``center``.
    """
    x = check_lattice(x, batch=False)
    N = x.shape[0]
    kappa = _check_kappa(kappa, N)
    X, Y = _wrapped_positions(N, _check_center(center, N))
    K = majorana_sparse(x)
    kx = sp.diags_array(kappa * np.concatenate([X, X]))
    ky = sp.diags_array(kappa * np.concatenate([Y, Y]))
    return sp.block_array([[kx, -K - ky], [K - ky, -kx]], format="csr")


# --------------------------------------------------------------------------------------------------
# solver


_SOLVER = None


def _pardiso():
    """One PARDISO solver per process (creating one looks up the MKL library: ~0.5 s)."""
    global _SOLVER
    if _SOLVER is None:
        try:
            import pypardiso
        except ImportError as e:  # pragma: no cover - depends on the install
            raise ConfigError(
                "the localizer needs pypardiso (MKL PARDISO): pip install 'topoml[large]'"
            ) from e
        _SOLVER = pypardiso.PyPardisoSolver(mtype=-2)  # real symmetric indefinite
    return _SOLVER


def _factorize(A: sp.csr_array):
    """Factorize a real symmetric matrix (upper triangle passed); return the solver and its CSR."""
    s = _pardiso()
    s.free_memory(everything=True)
    U = sp.csr_matrix(sp.triu(A, format="csr"))
    U.sort_indices()
    s.factorize(U)
    return s, U


def _check_symmetric(A) -> sp.csr_array:
    if not sp.issparse(A) or A.ndim != 2 or A.shape[0] != A.shape[1] or A.shape[0] == 0:
        raise ShapeError(f"expected a square scipy sparse matrix, got {type(A).__name__} of shape {getattr(A, 'shape', None)}")
    if np.iscomplexobj(A.data) or not np.issubdtype(A.dtype, np.number):
        raise InputError(f"expected a real symmetric matrix, got dtype {A.dtype} (embed a complex Hermitian matrix first)")
    A = sp.csr_array(A, dtype=np.float64)
    if not np.all(np.isfinite(A.data)):
        raise InputError("the matrix contains NaN or inf")
    asym = abs(A - A.T).max() if A.nnz else 0.0
    if asym > 1e-12 * max(1.0, abs(A).max() if A.nnz else 0.0):
        raise SymmetryError(f"the matrix is not symmetric (max|A − Aᵀ| = {asym:.2e}); the inertia needs a symmetric matrix")
    return A


def sparse_inertia(A: sp.sparray) -> tuple[int, int, int]:
    """Inertia of a real symmetric sparse matrix from its LDLᵀ factorization (MKL PARDISO).

    Parameters
    ----------
    A : scipy sparse array of shape (n, n), real symmetric (only the upper triangle is read)

    Returns
    -------
    (positive, negative, perturbed_pivots) : tuple of int
        Numbers of positive and negative eigenvalues, and of pivots PARDISO perturbed (the inertia is
        reliable only when this is 0).

    Raises
    ------
    ShapeError, InputError
        ``A`` is not a square, real, finite sparse matrix.
    SymmetryError
        ``A`` is not symmetric (``max|A − Aᵀ| > 1e-12·max|A|``).
    ConfigError
        pypardiso is not installed.
    """
    A = _check_symmetric(A)
    s, _ = _factorize(A)
    return int(s.iparm[21]), int(s.iparm[22]), int(s.iparm[13])


def localizer_gap(A: sp.sparray, *, tol: float = 1e-4) -> float:
    """Smallest ``|λ|`` of a real symmetric sparse matrix (shift-invert Lanczos at 0, PARDISO solves).

    Parameters
    ----------
    A : scipy sparse array of shape (n, n), real symmetric
    tol : float, default 1e-4
        Relative accuracy of the eigenvalue (ARPACK ``tol``).

    Returns
    -------
    float
        ``min |λ(A)|``; ``0.0`` if ``A`` is numerically singular.
    """
    import scipy.sparse.linalg as sla

    A = _check_symmetric(A)
    s, U = _factorize(A)
    n = A.shape[0]

    def solve(b):
        return s.solve(U, np.asarray(b, dtype=np.float64).reshape(n, -1)).reshape(np.shape(b))

    op = sla.LinearOperator((n, n), matvec=solve, dtype=np.float64)
    try:
        lam = sla.eigsh(A, k=1, sigma=0.0, OPinv=op, which="LM", tol=tol, return_eigenvectors=False,
                        v0=np.ones(n) / math.sqrt(n))
    except Exception:  # pragma: no cover - singular factorization or no convergence
        return 0.0
    return float(abs(lam[0]))


# --------------------------------------------------------------------------------------------------
# public API


def localizer_chern_number(
    x: np.ndarray,
    *,
    kappa: float | None = None,
    center: tuple[float, float] | None = None,
    certify: bool = True,
    gap_tol: float = DEFAULT_GAP_TOL,
    on_gapless: str = "flag",
) -> LocalizerResult:
    """Chern number of one disordered p+ip lattice from the spectral localizer (sparse, certified).

    Parameters
    ----------
    x : array_like of shape (N, N, 3)
        Per-site ``(mu, t_minus, delta)`` (units of ``t₊ = 1``), periodic lattice, axis i is x
        (:mod:`topoml.hamiltonians.pip`). Any ``N >= 2``; useful (and cheaper than
        :func:`~topoml.invariants.bott.bott_index`) from ``N ≈ 32``: N = 256 takes seconds.
    kappa : float, optional
        ``κ > 0``; default ``DEFAULT_KAPPA_N / N`` (3/N).
    center : (float, float), optional
        Where the index is probed (site coordinates ``(i, j)``); default the lattice centre.
    certify : bool, default True
        Compute the localizer gap (shift-invert Lanczos, about as costly as the factorization again).
    gap_tol : float, default 1e-6
        Smallest certified localizer gap.
    on_gapless : {"flag", "raise"}, default "flag"
        What to do when the result is not certified (gap below ``gap_tol`` or perturbed pivots):
        ``"flag"`` returns it with ``certified=False``; ``"raise"`` raises ``GapClosedError``.

    Returns
    -------
    LocalizerResult
        ``chern`` (sign convention of ``bott_index``: ``+1`` at ``μ = −1, t₋ = 0.2``), ``signature``,
        ``gap``, ``kappa``, ``perturbed_pivots``, ``certified``.

    Raises
    ------
    ShapeError, InputError
        Invalid lattice (wrong shape, batch, NaN/inf), ``kappa``, ``center``, ``gap_tol`` or ``on_gapless``.
    GapClosedError
        ``on_gapless="raise"`` and the localizer gap is below ``gap_tol`` (or pivots were perturbed).
    ConfigError
        pypardiso is not installed (``pip install 'topoml[large]'``).

    Notes
    -----
    Loring, Ann. Phys. 356, 383 (2015), Eq. (1.3) and Thm. 1.1 (class A in 2D; class D through its
    complexification); the real form and the torus positions are explained in the module docstring.
    """
    if on_gapless not in ("raise", "flag"):
        raise InputError(f"on_gapless must be 'raise' or 'flag', got {on_gapless!r}")
    if isinstance(gap_tol, bool) or not isinstance(gap_tol, (int, float, np.integer, np.floating)) or not (gap_tol >= 0 and math.isfinite(gap_tol)):
        raise InputError(f"gap_tol must be a non-negative finite number, got {gap_tol!r}")
    x = check_lattice(x, batch=False)
    N = x.shape[0]
    kappa = _check_kappa(kappa, N)
    R = localizer_matrix(x, kappa=kappa, center=center)
    pos, neg, pert = sparse_inertia(R)
    if pos + neg != R.shape[0]:  # a zero pivot: singular
        pert = max(pert, 1)
    sig = pos - neg
    gap = localizer_gap(R) if certify else float("nan")
    certified = bool(certify and pert == 0 and gap >= gap_tol)
    if certify and not certified and on_gapless == "raise":
        raise GapClosedError(
            f"localizer gap {gap:.2e} < gap_tol = {gap_tol:g} (or {pert} perturbed pivots) at kappa = {kappa:g}: "
            "the localizer index is not defined here; try another kappa or center, or a gapped lattice"
        )
    # an invertible L of even dimension 4N² has an even signature; an odd one was flagged above
    return LocalizerResult(chern=int(np.trunc(-sig / 2)),
                           signature=int(sig), gap=gap, kappa=kappa, perturbed_pivots=int(pert), certified=certified)
