"""Bott index of the disordered p+ip superconductor (margalit2022 labels).

Definition (Loring & Hastings, EPL 92, 67004 (2010); as used by Margalit et al., PRB 105, 205139 (2022),
with the conventions of ``docs/conventions-margalit2022.md``): let ``P`` project onto the ``N²``
lowest eigenstates of the BdG matrix ``H`` (:func:`topoml.hamiltonians.pip.bdg_hamiltonian`, ``E < 0``),
``U = P e^{2πiX/N} P + (1 − P)`` and ``V = P e^{2πiY/N} P + (1 − P)``, with ``X`` the site coordinate
along axis i and ``Y`` along axis j (particle and hole components of a site share its position). Then

    Bott = +(1/2π) Im Σ_k log λ_k(V U V† U†)        (principal log, all eigenvalues)

and the label is ``round(Bott)``. The compressions are used as they are (not re-unitarized).

Sign convention
---------------
With this sign the clean lattice has ``Bott = C = ½[sgn(μ−2) + sgn(μ+2) − sgn(μ−2t₋) − sgn(μ+2t₋)]``
(``+1`` at ``μ = −1, t₋ = 0.2``; :func:`topoml.invariants.chern.clean_chern_number`), which is minus the
Fukui–Hatsugai–Suzuki Chern number of the negative-energy band. Exact symmetries (tested):

* translating the disorder pattern (``np.roll`` over axes i, j) leaves the index unchanged;
* transposing the lattice **and** negating t₋ (``x.transpose(1, 0, 2) * (1, −1, 1)``, so that every bond
  keeps its hopping) leaves it unchanged: the pairing chirality (Δ on x bonds, iΔ on y bonds) is tied to
  the axes, so this relabelling is a mirror image combined with complex conjugation, two sign flips;
* exchanging the roles of X and Y for the *same* Hamiltonian (permuting the sites of the BdG matrix by
  ``(i, j) → (j, i)``, :func:`bott_index_hamiltonian`) flips the sign, because
  ``V U V† U† → U V U† V† = (V U V† U†)†``;
* ``μ → −μ`` on every site flips the sign for even N (``H ≅ −H`` by a staggered gauge; the
  occupied and empty spaces trade places); ``Δ → −Δ`` leaves it unchanged (gauge).

Algorithm
---------
Everything works in the occupied subspace (``N²×N²`` instead of ``2N²×2N²``): with ``W`` the
``2N²×N²`` matrix of occupied eigenvectors, ``U_occ = W† e^{2πiX/N} W`` (the position operator is
diagonal, so this is one matrix product), and ``λ(V U V† U†)`` restricted to ``ran P`` are the
eigenvalues of ``V_occ U_occ V_occ† U_occ†``; the other ``N²`` eigenvalues are exactly 1.

The occupied eigenvectors come from the real antisymmetric Majorana form ``K`` (``Ω H Ω† = iK``,
:func:`topoml.hamiltonians.pip.majorana_hamiltonian`), in real arithmetic: a Householder reduction
``K = Q T Qᵀ`` (LAPACK ``dgehrd``/``dorghr``; the Hessenberg form of an antisymmetric matrix is
antisymmetric tridiagonal), and ``S† (iT) S = J`` with ``S = diag(i^k)`` is the real symmetric
tridiagonal matrix with zero diagonal and off-diagonal ``t_k = T_{k+1,k}``. The eigenvectors ``z`` of
``J`` for its ``N²`` lowest eigenvalues give ``W = Q S z``. Small lattices (``N <=`` :data:`BATCH_MAX_N`)
are processed in batches with numpy's stacked LAPACK calls, solving ``J`` as the SVD of the
``N²×N²`` bidiagonal matrix it is made of (``J ≅ [[0, B], [Bᵀ, 0]]``, eigenvalues ``±σ``); larger ones
one at a time with LAPACK's bidiagonal divide-and-conquer SVD (``dbdsdc``) of the same ``B`` (MRRR fails
to converge on some zero-diagonal matrices), with about ``20·m²`` bytes of peak memory
(``m = 2N²``; N = 96 fits in 24 GB). This replaces the complex Hermitian ``2N²×2N²`` eigensolve at about half
its cost. The last step is the ``N²×N²`` general eigenvalue problem (eigenvalues only, ``zgeev``),
which dominates for small N.

Gap
---
``gap`` is the smallest ``|E|`` over the ``2N²`` BdG eigenvalues, i.e. half the spectral gap around
``E = 0`` (the spectrum is ``±`` symmetric), in units of ``t₊ = 1``. The projector, hence the label, is
ill-defined where it vanishes; samples with a small ``gap`` (or a raw value far from an integer) sit at
a gap closing and can be flagged or resampled.

Threads
-------
The small dense eigenproblems are fastest with one BLAS thread per process and one process per core
(``workers=``): the chunks of a batch run on :func:`topoml.runs.executor.map`, whose worker processes
start with ``OPENBLAS_NUM_THREADS=1`` (and the OpenMP/MKL equivalents) and exit if the calling process
dies; in the calling process the BLAS pools are limited to one thread per chunk (``threadpoolctl``).

Gap policy
----------
``on_gapless="raise"`` (default) raises where the label is undefined: ``gap < min_gap``
(:class:`~topoml.errors.GapClosedError`), ``Δ = 0`` on every site (no pairing gap, GapClosedError), or a
raw value farther than ``max_deviation`` from an integer (:class:`~topoml.errors.QuantizationError`).
``on_gapless="flag"`` labels every sample and marks those in ``BottResult.gapless`` (datasets do this and
store the gap).
"""

from __future__ import annotations

from concurrent.futures import Executor
from typing import NamedTuple

import numpy as np
import scipy.linalg as sla
from scipy.linalg import lapack

from topoml.errors import GapClosedError, InputError, QuantizationError, ShapeError, SymmetryError
from topoml.hamiltonians.pip import check_lattice, disordered_lattice, majorana_hamiltonian, site_positions
from topoml.runs import executor as runs

__all__ = [
    "BATCH_MAX_N",
    "DEFAULT_MAX_DEVIATION",
    "DEFAULT_MIN_GAP",
    "BottResult",
    "bott_index",
    "bott_index_hamiltonian",
    "bott_phase_diagram",
]

#: Largest N processed with stacked (batched) LAPACK calls; larger lattices go one at a time.
BATCH_MAX_N = 12
#: Default ``min_gap``: a BdG gap below this (units of t₊) is a gap closing (the label is undefined).
DEFAULT_MIN_GAP = 1e-8
#: Default ``max_deviation``: a raw Bott value farther than this from an integer is not a label (gapped
#: disordered lattices are within ~1e-4 of an integer; Δ → 0 or a nearby closing gives 0.1–0.5).
DEFAULT_MAX_DEVIATION = 0.1
#: Elements of the ``(batch, 2N², 2N²)`` work arrays per chunk (float64): 1 MiB, so that a chunk's
#: arrays stay in a core's L2 cache (128 lattices at 4×4: ~15 % faster per label than 512 or 2048).
_CHUNK_ELEMENTS = 1 << 17


class BottResult(NamedTuple):
    """Bott index of one lattice (scalars) or of a batch (arrays of shape ``(n,)`` or grid shape).

    Attributes
    ----------
    raw : ndarray of float64
        ``(1/2π) Im Σ log λ(V U V† U†)``; an integer up to rounding unless the gap nearly closes.
    label : ndarray of int64
        ``round(raw)``, the label of the reference data.
    gap : ndarray of float64
        Smallest ``|E|`` of the BdG spectrum (half the gap around zero energy), units of ``t₊ = 1``.
    gapless : ndarray of bool
        The label is undefined there: ``gap < min_gap``, ``|raw − label| > max_deviation``, or ``Δ = 0`` on
        every site (no pairing gap). Only ``on_gapless="flag"`` returns such samples.
    """

    raw: np.ndarray
    label: np.ndarray
    gap: np.ndarray
    gapless: np.ndarray


# --------------------------------------------------------------------------------------------------
# kernels


def _phases(N: int) -> tuple[np.ndarray, np.ndarray]:
    """``e^{2πiX/N}``, ``e^{2πiY/N}`` on the ``2N²`` (Majorana or Nambu) components."""
    X, Y = site_positions(N)
    px = np.exp(2j * np.pi * X / N)
    py = np.exp(2j * np.pi * Y / N)
    return np.concatenate([px, px]), np.concatenate([py, py])


def _raw_from_states(W: np.ndarray, N: int) -> np.ndarray:
    """Bott value from occupied states ``W`` of shape (..., 2N², N²), orthonormal columns."""
    return _angles_from_states(W, N).sum(axis=-1) / (2 * np.pi)


def _angles_from_states(W: np.ndarray, N: int) -> np.ndarray:
    """Eigenphases (unsorted, in (−π, π]) of ``V U V† U†`` on the occupied space, shape (..., N²)."""
    n = N * N
    px, py = _phases(N)
    Wh = np.conj(np.swapaxes(W, -1, -2))
    UV = Wh @ np.concatenate([px[:, None] * W, py[:, None] * W], axis=-1)  # [U_occ | V_occ]
    U, V = UV[..., :n], UV[..., n:]
    M = (V @ U) @ np.conj(np.swapaxes(U @ V, -1, -2))  # V U V† U†
    if M.ndim == 2:
        lam = sla.eigvals(M, overwrite_a=True, check_finite=False)
    else:
        lam = np.linalg.eigvals(M)
    return np.angle(lam)


def _states_from_tridiagonal(Q: np.ndarray, Ze: np.ndarray, Zo: np.ndarray) -> np.ndarray:
    """``W = Q S z`` with ``S = diag(i^k)``.

    ``Q`` (..., m, m) real orthogonal; ``Ze``, ``Zo`` (..., n, n) real: the even (``k = 2a``) and odd
    (``k = 2a + 1``) rows of the occupied eigenvectors ``z`` of ``J``.
    """
    n = Ze.shape[-1]
    sign = np.where(np.arange(n) % 2 == 0, 1.0, -1.0)[:, None]  # i^{2a} = (−1)^a, i^{2a+1} = i (−1)^a
    A = Q[..., :, 0::2] @ (sign * Ze)
    B = Q[..., :, 1::2] @ (sign * Zo)
    return A + 1j * B


def _householder(Kt: np.ndarray, lwork: int) -> np.ndarray:
    """Reduce ``−K`` (passed as the F-ordered view ``Kᵀ``) in place; return ``t`` of ``K = Q T Qᵀ``.

    On return the buffer holds ``Q`` (as an F-ordered matrix, i.e. ``Qᵀ`` in the C-ordered parent).
    """
    hq, tau, info = lapack.dgehrd(Kt, lwork=lwork, overwrite_a=1)
    if info != 0:  # pragma: no cover - LAPACK argument error
        raise RuntimeError(f"LAPACK dgehrd failed with info = {info}")
    t = -np.diagonal(hq, -1).copy()  # Hessenberg of −K has subdiagonal −t
    q, info = lapack.dorghr(hq, tau, lwork=lwork, overwrite_a=1)
    if info != 0:  # pragma: no cover
        raise RuntimeError(f"LAPACK dorghr failed with info = {info}")
    if not np.may_share_memory(q, Kt):  # pragma: no cover - f2py copied: write back
        Kt[...] = q
    return t


def _lwork(m: int) -> int:
    a = int(lapack.dgehrd_lwork(m)[0])
    b = int(lapack.dorghr_lwork(m)[0])
    return max(a, b, m)


def _bott_batch(x: np.ndarray, spectra: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Raw Bott values and gaps of a batch (b, N, N, 3) of small lattices (stacked LAPACK); with ``spectra``,
    the eigenphases of ``V U V† U†`` (b, N²) and the positive BdG energies (b, N²) instead (both ascending).

    ``J`` (zero diagonal, off-diagonal ``t``) is, with even indices first, ``[[0, B], [Bᵀ, 0]]`` with
    ``B`` lower bidiagonal (``B[a, a] = t_{2a}``, ``B[a, a−1] = t_{2a−1}``). With ``B = U Σ Vᵀ`` the
    eigenvalues are ``±σ`` and the occupied (``−σ``) eigenvectors are ``(U; −V)/√2``.
    """
    b, N = x.shape[0], x.shape[1]
    n = N * N
    m = 2 * n
    K = majorana_hamiltonian(x)  # (b, m, m), C order
    lwork = _lwork(m)
    t = np.empty((b, m - 1))
    for s in range(b):
        t[s] = _householder(K[s].T, lwork)  # K[s] now holds Q_sᵀ
    Bd = np.zeros((b, n, n))
    a = np.arange(n)
    Bd[:, a, a] = t[:, 0::2]
    Bd[:, a[1:], a[:-1]] = t[:, 1::2]
    U, sigma, Vh = np.linalg.svd(Bd)
    r = 1.0 / np.sqrt(2.0)
    W = _states_from_tridiagonal(np.swapaxes(K, -1, -2), r * U, -r * np.swapaxes(Vh, -1, -2))
    if spectra:
        return np.sort(_angles_from_states(W, N), axis=-1), sigma[:, ::-1].copy()
    return _raw_from_states(W, N), sigma[:, -1]


def _dbdsdc():
    """LAPACK ``dbdsdc`` (bidiagonal divide-and-conquer SVD) from scipy's Cython LAPACK, via ctypes.

    ``scipy.linalg.lapack`` does not wrap it; ``scipy.linalg.cython_lapack`` exports its pointer.
    """
    global _DBDSDC
    if _DBDSDC is None:
        import ctypes

        from scipy.linalg import cython_lapack

        cap = cython_lapack.__pyx_capi__["dbdsdc"]
        ctypes.pythonapi.PyCapsule_GetName.restype = ctypes.c_char_p
        ctypes.pythonapi.PyCapsule_GetName.argtypes = [ctypes.py_object]
        ctypes.pythonapi.PyCapsule_GetPointer.restype = ctypes.c_void_p
        ctypes.pythonapi.PyCapsule_GetPointer.argtypes = [ctypes.py_object, ctypes.c_char_p]
        ptr = ctypes.pythonapi.PyCapsule_GetPointer(cap, ctypes.pythonapi.PyCapsule_GetName(cap))
        dp, ip, cp = ctypes.POINTER(ctypes.c_double), ctypes.POINTER(ctypes.c_int), ctypes.c_char_p
        _DBDSDC = ctypes.CFUNCTYPE(None, cp, cp, ip, dp, dp, dp, ip, dp, ip, dp, ip, dp, ip, ip)(ptr)
    return _DBDSDC


_DBDSDC = None


def _bidiagonal_svd(d: np.ndarray, e: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """SVD ``Bᵀ = U diag(s) VT`` of the upper bidiagonal ``Bᵀ`` (diagonal ``d``, superdiagonal ``e``).

    Returns ``s`` (decreasing), ``U`` and ``VT`` (n, n), Fortran order; work ``3n² + 4n`` doubles.
    """
    import ctypes

    n = d.shape[0]
    dd = np.array(d, dtype=np.float64)
    ee = np.zeros(n)
    ee[: n - 1] = e
    U = np.empty((n, n), order="F")
    VT = np.empty((n, n), order="F")
    work = np.empty(3 * n * n + 4 * n)
    iwork = np.empty(8 * n, dtype=np.intc)
    q, iq = np.zeros(1), np.zeros(1, dtype=np.intc)
    info, nn = ctypes.c_int(0), ctypes.c_int(n)
    dp, ip = ctypes.POINTER(ctypes.c_double), ctypes.POINTER(ctypes.c_int)
    _dbdsdc()(b"U", b"I", ctypes.byref(nn), dd.ctypes.data_as(dp), ee.ctypes.data_as(dp), U.ctypes.data_as(dp),
              ctypes.byref(nn), VT.ctypes.data_as(dp), ctypes.byref(nn), q.ctypes.data_as(dp), iq.ctypes.data_as(ip),
              work.ctypes.data_as(dp), iwork.ctypes.data_as(ip), ctypes.byref(info))
    if info.value != 0:  # pragma: no cover
        raise RuntimeError(f"LAPACK dbdsdc failed with info = {info.value}")
    return dd, U, VT


def _bott_single(x: np.ndarray) -> tuple[float, float]:
    """Raw Bott value and gap of one lattice (N, N, 3): LAPACK one matrix at a time, lean memory.

    ``J ≅ [[0, B], [Bᵀ, 0]]`` as in :func:`_bott_batch`, with the SVD of the bidiagonal ``B`` from
    LAPACK's bidiagonal divide and conquer (``dbdsdc``; no dense ``n×n`` reduction, and unlike MRRR it
    converges on every zero-diagonal matrix). Peak memory about ``20·m²`` bytes (``m = 2N²``): ``Q``
    (``8m²``), the two singular-vector matrices (``2m²`` each) and ``dbdsdc``'s work (``6m²``), then ``Q``
    and the occupied states ``W`` (``8m²``); the rest works in column blocks (:func:`_occupied_states`,
    :func:`_compressions`).
    """
    N = x.shape[0]
    n = N * N
    m = 2 * n
    K = majorana_hamiltonian(x)
    t = _householder(K.T, _lwork(m))
    sigma, Ut, VT = _bidiagonal_svd(t[0::2], t[1::2])  # Bᵀ = Ut Σ VT, so B = VTᵀ Σ Utᵀ
    r = 1.0 / np.sqrt(2.0)
    Ze = VT.T  # left singular vectors of B (views; scaled in place below)
    Ze *= r
    Ut *= -r  # Zo = −(right singular vectors of B)/√2
    W = _occupied_states(K.T, Ze, Ut)
    del K, Ze, Ut, VT
    Uo, Vo = _compressions(W, N)
    del W
    VU, UV = Vo @ Uo, Uo @ Vo
    del Uo, Vo
    return _raw_from_products(VU, UV), float(sigma[-1])


def _blocks(n: int, m: int) -> list[slice]:
    """Column blocks of about ``m²/16`` elements' worth of ``m``-long columns (at least 16 columns)."""
    b = max(16, n // 8)
    return [slice(a, min(a + b, n)) for a in range(0, n, b)]


def _occupied_states(Q: np.ndarray, Ze: np.ndarray, Zo: np.ndarray) -> np.ndarray:
    """``W = Q S z`` of :func:`_states_from_tridiagonal` for one lattice, Fortran-ordered, in column blocks.

    ``Q`` (m, m) real orthogonal; ``Ze``, ``Zo`` (n, n) real, scaled in place by the signs of ``S``.
    Returns complex (m, n), F order (no full-size temporaries beyond ``W``).
    """
    m, n = Q.shape[0], Ze.shape[-1]
    sign = np.where(np.arange(n) % 2 == 0, 1.0, -1.0)[:, None]
    Ze *= sign
    Zo *= sign
    W = np.empty((m, n), dtype=np.complex128, order="F")
    Qe, Qo = Q[:, 0::2], Q[:, 1::2]
    for blk in _blocks(n, m):
        W[:, blk].real = Qe @ Ze[:, blk]
        W[:, blk].imag = Qo @ Zo[:, blk]
    return W


def _compressions(W: np.ndarray, N: int) -> tuple[np.ndarray, np.ndarray]:
    """``U_occ = W† e^{2πiX/N} W`` and ``V_occ`` of one lattice (W of shape (m, n), F order).

    Built in column blocks with ``zgemm`` (``W†`` is never formed), F-ordered ``(n, n)`` results.
    """
    from scipy.linalg import blas

    n = N * N
    px, py = _phases(N)
    Uo = np.empty((n, n), dtype=np.complex128, order="F")
    Vo = np.empty((n, n), dtype=np.complex128, order="F")
    for blk in _blocks(n, W.shape[0]):
        Uo[:, blk] = blas.zgemm(1.0, W, px[:, None] * W[:, blk], trans_a=2)
        Vo[:, blk] = blas.zgemm(1.0, W, py[:, None] * W[:, blk], trans_a=2)
    return Uo, Vo


def _raw_from_products(VU: np.ndarray, UV: np.ndarray) -> float:
    """``(1/2π) Σ arg λ(M)`` with ``M = (V U)(U V)† = V U V† U†`` formed by ``zgemm`` (no conjugate copy)."""
    from scipy.linalg import blas

    M = blas.zgemm(1.0, VU, UV, trans_b=2)
    lam = sla.eigvals(M, overwrite_a=True, check_finite=False)
    return float(np.angle(lam).sum() / (2 * np.pi))


def _bott_chunk(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Raw values and gaps of a validated batch (b, N, N, 3), any N (the process-pool task)."""
    N = x.shape[1]
    if x.shape[0] == 0:
        return np.zeros(0), np.zeros(0)
    if N <= BATCH_MAX_N:
        return _bott_batch(x)
    out = [_bott_single(xi) for xi in x]
    return np.array([o[0] for o in out]), np.array([o[1] for o in out])


def _chunk_size(N: int) -> int:
    return max(1, _CHUNK_ELEMENTS // (2 * N * N) ** 2) if N <= BATCH_MAX_N else 1


def _check_workers(workers: int) -> int:
    if not isinstance(workers, (int, np.integer)) or isinstance(workers, bool) or workers < 1:
        raise InputError(f"workers must be a positive integer, got {workers!r}")
    return int(workers)


def _default_chunk(N: int, n: int, workers: int, executor) -> int:
    """Lattices per task: :func:`_chunk_size`, cut so that each worker gets at least two tasks when it helps."""
    chunk = _chunk_size(N)
    if workers > 1 or executor is not None:
        par = workers if executor is None else getattr(executor, "workers", getattr(executor, "_max_workers", workers))
        chunk = max(1, min(chunk, -(-n // (2 * par))))
    return chunk


def _run_chunks(x: np.ndarray, chunk: int, workers: int, executor, kernel=None) -> tuple[np.ndarray, np.ndarray]:
    """The two outputs of ``kernel`` (default :func:`_bott_chunk`: raw values and gaps) over a validated batch,
    in chunks of ``chunk`` lattices on the run engine, concatenated along the batch axis."""
    kernel = _bott_chunk if kernel is None else kernel
    pieces = [x[a : a + chunk] for a in range(0, x.shape[0], chunk)] or [x]
    engine = "process" if workers > 1 and len(pieces) > 1 else "serial"
    out = runs.map(kernel, pieces, workers=min(workers, len(pieces)), engine=engine, executor=executor)
    return np.concatenate([o[0] for o in out]), np.concatenate([o[1] for o in out])


def _finish(raw: np.ndarray, gap: np.ndarray, shape: tuple[int, ...], min_gap: float, max_deviation: float,
            on_gapless: str, unpaired: np.ndarray | None = None) -> BottResult:
    """Labels and the gap policy: raise at the first undefined sample, or flag it (``gapless``)."""
    raw = raw.reshape(shape)
    gap = gap.reshape(shape)
    label = np.rint(raw).astype(np.int64)
    dev = np.abs(raw - label)
    closed = gap < min_gap
    unpaired = np.zeros(shape, dtype=bool) if unpaired is None else unpaired.reshape(shape)
    unquantized = dev > max_deviation
    gapless = closed | unquantized | unpaired
    if on_gapless == "raise" and raw.size and np.any(gapless):
        i = int(np.argmax(gapless.ravel()))
        idx = tuple(map(int, np.unravel_index(i, shape))) if shape else ()
        hint = "; pass on_gapless='flag' to label it anyway (result.gapless marks it)"
        if closed.ravel()[i]:
            raise GapClosedError(
                f"BdG gap {gap.ravel()[i]:.2e} < min_gap = {min_gap:g} at sample {idx}: "
                f"the Bott index is ill-defined at a gap closing{hint}"
            )
        if unpaired.ravel()[i]:
            raise GapClosedError(f"delta = 0 on every site of sample {idx}: no pairing gap, the Bott index "
                                 f"is undefined{hint}")
        raise QuantizationError(
            f"Bott value {raw.ravel()[i]:.4f} is {dev.ravel()[i]:.3f} from an integer (> max_deviation = "
            f"{max_deviation:g}) at sample {idx}: the gap is nearly closed there{hint}"
        )
    if not shape:
        return BottResult(raw=raw[()], label=label[()], gap=gap[()], gapless=gapless[()])
    return BottResult(raw=raw, label=label, gap=gap, gapless=gapless)


def _check_policy(on_gapless: str) -> str:
    if on_gapless not in ("raise", "flag"):
        raise InputError(f"on_gapless must be 'raise' or 'flag', got {on_gapless!r}")
    return on_gapless


def _check_tol(value: float | None, name: str) -> float:
    """A tolerance: non-negative (``None`` means no check: ``inf`` for a deviation, 0 for a gap)."""
    if value is None:
        return np.inf if name == "max_deviation" else 0.0
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) \
            or not np.isfinite(value) or value < 0:
        raise InputError(f"{name} must be a non-negative finite number or None, got {value!r}")
    return float(value)


# --------------------------------------------------------------------------------------------------
# public API


def bott_index(
    x: np.ndarray,
    *,
    workers: int = 1,
    executor: runs.Executor | Executor | None = None,
    chunk_size: int | None = None,
    on_gapless: str = "raise",
    min_gap: float | None = DEFAULT_MIN_GAP,
    max_deviation: float | None = DEFAULT_MAX_DEVIATION,
) -> BottResult:
    """Bott index (margalit2022 label) of one disordered p+ip lattice or of a batch.

    Parameters
    ----------
    x : array_like of shape (N, N, 3) or (n, N, N, 3)
        Per-site ``(mu, t_minus, delta)`` in units of ``t₊ = 1``; axis i is x, axis j is y, periodic
        (see :mod:`topoml.hamiltonians.pip`). Any ``N >= 2`` (odd included).
    workers : int, default 1
        Processes to use for a batch (one BLAS thread each, :func:`topoml.runs.executor.map`); 1 computes
        in the calling process. The pool is started (``spawn``, about a second) and closed inside the
        call; scripts need the ``if __name__ == "__main__":`` guard.
    executor : topoml.runs.Executor or concurrent.futures.Executor, optional
        Reuse workers (``with topoml.runs.Executor(workers=2) as ex:``, also Dask) instead of starting a
        pool; overrides ``workers``.
    chunk_size : int, optional
        Lattices per task; default: about 1 MiB of work arrays per chunk for ``N <= BATCH_MAX_N``
        (128 lattices at 4×4, 8 at 8×8), one lattice otherwise.
    on_gapless : {"raise", "flag"}, default "raise"
        What to do where the label is undefined (the gap policy shared by every invariant, see the
        README): ``"raise"`` an error, or ``"flag"`` the sample (``result.gapless``) and return
        ``round(raw)`` with the gap, as the dataset generator does.
    min_gap : float or None, default 1e-8
        ``gap < min_gap`` (units of ``t₊``) is a gap closing. ``None``: no gap check.
    max_deviation : float or None, default 0.1
        ``|raw − label| > max_deviation`` means the gap nearly closes (or Δ vanishes): the value is
        not a label. ``None``: no check.

    Returns
    -------
    BottResult
        ``raw`` (float64), ``label`` (int64), ``gap`` (float64, units of ``t₊``), ``gapless`` (bool):
        numpy scalars for a single lattice, arrays of shape ``(n,)`` for a batch. The sign convention is
        that of the conventions page: the clean lattice at ``μ = −1, t₋ = 0.2`` has label ``+1``.

    Raises
    ------
    ShapeError
        ``x`` is not ``(N, N, 3)`` / ``(n, N, N, 3)``, not square, or ``N < 2``.
    InputError
        Non-real dtype, NaN/inf, bad ``workers``/``chunk_size``/tolerances/``on_gapless``.
    GapClosedError
        ``on_gapless="raise"`` and some ``gap < min_gap``, or ``Δ = 0`` on every site of a lattice.
    QuantizationError
        ``on_gapless="raise"`` and some ``|raw − label| > max_deviation``.

    Notes
    -----
    Source: Margalit et al., PRB 105, 205139 (2022), Sec. II and Ref. [42] (Loring & Hastings 2010);
    exact conventions in ``docs/conventions-margalit2022.md``. Reproduces all 480,000 labels of the
    authors' reference phase diagrams.
    """
    x = check_lattice(x)
    workers = _check_workers(workers)
    on_gapless = _check_policy(on_gapless)
    min_gap = _check_tol(min_gap, "min_gap")
    max_deviation = _check_tol(max_deviation, "max_deviation")
    single = x.ndim == 3
    xb = x[None] if single else x
    N = xb.shape[1]
    if chunk_size is None:
        chunk = _default_chunk(N, xb.shape[0], workers, executor)
    else:
        if not isinstance(chunk_size, (int, np.integer)) or isinstance(chunk_size, bool) or chunk_size < 1:
            raise InputError(f"chunk_size must be a positive integer, got {chunk_size!r}")
        chunk = int(chunk_size)
    raw, gap = _run_chunks(np.ascontiguousarray(xb), chunk, workers, executor)  # one BLAS thread per chunk
    unpaired = ~np.any(xb[..., 2] != 0, axis=(1, 2))
    return _finish(raw, gap, () if single else (xb.shape[0],), min_gap, max_deviation, on_gapless, unpaired)


class BottSpectrum(NamedTuple):
    """The spectra behind a Bott index (:func:`bott_spectrum`), of one lattice or of a batch.

    Attributes
    ----------
    phases : ndarray of float64, shape (N²,) or (n, N²)
        Eigenphases ``arg λ`` of ``V U V† U†`` on the occupied space, ascending in ``(−π, π]``;
        ``phases.sum(-1) / 2π`` is :attr:`BottResult.raw`.
    energies : ndarray of float64, shape (N²,) or (n, N²)
        The non-negative half of the BdG spectrum, ascending (``energies[..., 0]`` is :attr:`BottResult.gap`),
        units of ``t₊``.
    """

    phases: np.ndarray
    energies: np.ndarray

    @property
    def margin(self) -> np.ndarray:
        """``π − max_k |θ_k|``, float64 of shape ``()`` or ``(n,)``: how far the eigenphase nearest the branch cut at
        ``±π`` is from it, in radians. The label changes where one crosses the cut, so a small margin marks a label
        that a small change of the lattice can flip, with or without a small BdG gap (README, margalit2022: the
        shipped 4×4 network's errors concentrate there)."""
        return np.pi - np.abs(self.phases).max(axis=-1)


def _spectrum_chunk(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Phases and energies of a validated batch (b, N, N, 3), one lattice per stacked call above BATCH_MAX_N."""
    if x.shape[0] == 0:
        n = x.shape[1] ** 2
        return np.zeros((0, n)), np.zeros((0, n))
    if x.shape[1] <= BATCH_MAX_N:
        return _bott_batch(x, spectra=True)
    out = [_bott_batch(xi[None], spectra=True) for xi in x]
    return np.concatenate([o[0] for o in out]), np.concatenate([o[1] for o in out])


def bott_spectrum(
    x: np.ndarray,
    *,
    workers: int = 1,
    executor: runs.Executor | Executor | None = None,
) -> BottSpectrum:
    """Eigenphases of the Bott matrix and the BdG spectrum of one p+ip lattice or of a batch.

    The Bott index is ``(1/2π) Σ_k θ_k`` over the eigenphases ``θ_k`` of ``V U V† U†`` on the occupied space
    (:func:`bott_index`; ``round`` of it is the label). The phases say more than their sum: how far each one is
    from the branch cut at ``±π``, where the label changes. Both spectra are dense targets for networks that
    learn the label (README, margalit2022, session 13: an auxiliary regression on the energies, and less on the
    phases, raised a 4×4 base network's accuracy at a fixed number of training samples). Exact symmetries (``tests/invariants/test_bott.py``): cyclic translations and
    the transposition with ``t₋ → −t₋`` leave both spectra unchanged; ``μ → −μ`` leaves the energies unchanged
    and negates the phases (``θ → −θ``, so the ascending list is negated and reversed), as the label.

    Parameters
    ----------
    x : array_like of shape (N, N, 3) or (n, N, N, 3)
        Per-site ``(mu, t_minus, delta)``, as for :func:`bott_index`. Every lattice is diagonalized densely
        (``2N² × 2N²``, all at once below ``N = 13``, one at a time above): meant for small lattices
        (``N <= 32``).
    workers : int, default 1
        Processes for a batch (as :func:`bott_index`).
    executor : topoml.runs.Executor or concurrent.futures.Executor, optional
        Reuse workers; overrides ``workers``.

    Returns
    -------
    BottSpectrum
        ``phases`` and ``energies``, float64, shape ``(N²,)`` for one lattice, ``(n, N²)`` for a batch. No gap
        policy applies: where the gap closes the phases are those of the degenerate subspace LAPACK picked.

    Raises
    ------
    ShapeError
        ``x`` is not ``(N, N, 3)`` / ``(n, N, N, 3)``, not square, or ``N < 2``.
    InputError
        Non-real dtype, NaN/inf, bad ``workers``.

    Notes
    -----
    Source: Loring & Hastings, EPL 92, 67004 (2010); Margalit et al., PRB 105, 205139 (2022), Sec. II.
    """
    x = check_lattice(x)
    workers = _check_workers(workers)
    single = x.ndim == 3
    xb = np.ascontiguousarray(x[None] if single else x)
    chunk = _default_chunk(xb.shape[1], xb.shape[0], workers, executor)
    phases, energies = _run_chunks(xb, chunk, workers, executor, _spectrum_chunk)
    return BottSpectrum(phases[0], energies[0]) if single else BottSpectrum(phases, energies)


def bott_index_hamiltonian(
    H: np.ndarray,
    N: int | None = None,
    *,
    hermitian_tol: float = 1e-10,
    on_gapless: str = "raise",
    min_gap: float | None = DEFAULT_MIN_GAP,
    max_deviation: float | None = DEFAULT_MAX_DEVIATION,
) -> BottResult:
    """Bott index of a given ``2N²×2N²`` BdG matrix (Nambu basis, site ``s = i·N + j``).

    Uses the generic complex route (``scipy.linalg.eigh`` for the ``N²`` lowest states, then the
    occupied-subspace formula), so it applies to any Hermitian matrix in the layout of
    :func:`topoml.hamiltonians.pip.bdg_hamiltonian`, including permuted or hand-modified ones.

    Parameters
    ----------
    H : array_like of shape (2N², 2N²)
        Hermitian, finite; rows/columns ``(c_1 … c_{N²}, c_1† … c_{N²}†)``, positions
        ``X = s // N``, ``Y = s % N`` for both halves.
    N : int, optional
        Linear size; inferred from the shape when omitted.
    hermitian_tol : float, default 1e-10
        Largest accepted ``max|H − H†| / max(1, max|H|)``.
    on_gapless, min_gap, max_deviation
        As in :func:`bott_index` (the gap policy).

    Returns
    -------
    BottResult
        Numpy scalars.

    Raises
    ------
    ShapeError
        ``H`` not square of size ``2N²`` (``N >= 2``).
    InputError
        NaN/inf, or a non-numeric dtype.
    SymmetryError
        ``H`` is not Hermitian within ``hermitian_tol``.
    GapClosedError, QuantizationError
        ``on_gapless="raise"`` and the gap or the quantization check fails (as in :func:`bott_index`).
    """
    on_gapless = _check_policy(on_gapless)
    H = np.asarray(H)
    if not np.issubdtype(H.dtype, np.number) or H.dtype == bool:
        raise InputError(f"H must be a numeric matrix, got dtype {H.dtype}")
    if H.ndim != 2 or H.shape[0] != H.shape[1]:
        raise ShapeError(f"H must be a square matrix of shape (2N², 2N²), got {H.shape}")
    m = H.shape[0]
    if N is None:
        N = int(round(np.sqrt(m / 2)))
    if not isinstance(N, (int, np.integer)) or isinstance(N, bool) or N < 2 or 2 * N * N != m:
        raise ShapeError(f"H of size {m} is not 2N² for an integer N >= 2 (N = {N!r})")
    H = H.astype(np.complex128, copy=False)
    if not np.all(np.isfinite(H)):
        raise InputError("H contains NaN or inf")
    scale = max(1.0, float(np.max(np.abs(H))))
    asym = float(np.max(np.abs(H - H.conj().T))) / scale
    if asym > hermitian_tol:
        raise SymmetryError(f"H is not Hermitian (max|H − H†|/max|H| = {asym:.2e} > {hermitian_tol:g}); pass a Hermitian BdG matrix")
    n = N * N
    E, W = sla.eigh(H, subset_by_index=[0, n], check_finite=False)  # N² + 1 lowest states
    gap = min(abs(E[n - 1]), abs(E[n]))
    raw = float(_raw_from_states(W[:, :n], N))
    return _finish(np.array([raw]), np.array([gap]), (), _check_tol(min_gap, "min_gap"),
                   _check_tol(max_deviation, "max_deviation"), on_gapless)


def bott_phase_diagram(
    disorder: np.ndarray,
    mu_bar: np.ndarray,
    t_minus_bar: np.ndarray,
    delta_bar: float = 0.15,
    *,
    workers: int = 1,
    executor: runs.Executor | Executor | None = None,
    on_gapless: str = "flag",
) -> BottResult:
    """Bott labels of one disorder pattern on a grid of average parameters (batched).

    A phase diagram is a dataset: it labels every grid point, gap closings included, and flags them
    (``gapless``, with the gap) unless ``on_gapless="raise"``.

    Lattice at grid point ``(a, b)``: ``μ = mu_bar[a] + disorder[..., 0]``,
    ``t₋ = t_minus_bar[b] + disorder[..., 1]``, ``Δ = delta_bar + disorder[..., 2]`` — the layout of the
    reference data (``Bott_vec.reshape(400, 400)[a, b]`` with ``mu_bar = 2·xvec``, ``t_minus_bar = yvec``).

    Parameters
    ----------
    disorder : array_like of shape (N, N, 3)
        Per-site deviations ``(mu, t_minus, delta)``; usually zero-mean per channel.
    mu_bar : array_like of shape (A,)
        Average chemical potentials (units of ``t₊ = 1``).
    t_minus_bar : array_like of shape (B,)
        Average hopping anisotropies.
    delta_bar : float, default 0.15
        Average pairing (the reference data use 0.15).
    workers, executor, on_gapless
        As in :func:`bott_index` (default ``on_gapless="flag"``).

    Returns
    -------
    BottResult
        Arrays of shape ``(A, B)``.

    Raises
    ------
    ShapeError, InputError
        Invalid ``disorder`` or grids (not 1D, NaN/inf).
    """
    mu_bar = np.asarray(mu_bar, dtype=np.float64)
    t_minus_bar = np.asarray(t_minus_bar, dtype=np.float64)
    if mu_bar.ndim != 1 or t_minus_bar.ndim != 1:
        raise ShapeError(f"mu_bar and t_minus_bar must be 1D grids, got shapes {mu_bar.shape} and {t_minus_bar.shape}")
    if not np.isfinite(delta_bar):
        raise InputError(f"delta_bar must be finite, got {delta_bar!r}")
    x = disordered_lattice(mu_bar[:, None], t_minus_bar[None, :], delta_bar, disorder)
    A, B = x.shape[:2]
    r = bott_index(x.reshape(A * B, *x.shape[2:]), workers=workers, executor=executor, on_gapless=on_gapless)
    return BottResult(*(f.reshape(A, B) for f in r))
