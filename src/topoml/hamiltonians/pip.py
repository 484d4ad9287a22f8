"""Disordered p+ip superconductor on an N×N periodic square lattice (margalit2022).

The tight-binding BdG Hamiltonian of Margalit, Lesser, Pereg-Barnea, Oreg, PRB 105, 205139 (2022),
Eq. 1, with every convention the paper leaves implicit fixed as in ``docs/conventions-margalit2022.md``
(established by reproducing the authors' published Bott-index labels exactly).

Lattice and parameters
----------------------
A lattice is an array ``x`` of shape ``(N, N, 3)`` (or ``(n, N, N, 3)`` for a batch), float64, with the
per-site channels ``(mu, t_minus, delta)`` in the last axis (:data:`CHANNELS`). **Axis i is x, axis j is
y.** Site ``(i, j)`` has flat index ``s = i·N + j``. Energies are in units of ``t₊ = 1``; the hoppings
are ``t_x = (1 + t₋)/2`` and ``t_y = (1 − t₋)/2``. Both directions are periodic. A bond takes the
parameters of the site it *starts* from: site ``(i, j)`` owns the x bond to ``(i+1, j)`` and the y bond
to ``(i, j+1)``.

Hamiltonian
-----------
``H = [[h, D], [D†, −h]]`` in the Nambu basis ``(c_1 … c_n, c_1† … c_n†)``, ``n = N²``, with

* ``h`` (real symmetric): ``h[s, s] = −μ_s``, ``h[s, s+x̂] = h[s+x̂, s] = +t_x(s)``,
  ``h[s, s+ŷ] = h[s+ŷ, s] = +t_y(s)``;
* ``D`` (antisymmetric): ``D = (A − Aᵀ)/2`` with bond amplitudes ``A[s, s+x̂] = Δ_s`` and
  ``A[s, s+ŷ] = iΔ_s``, i.e. ``D[s, s+x̂] = Δ_s/2 = −D[s+x̂, s]`` and ``D[s, s+ŷ] = iΔ_s/2 = −D[s+ŷ, s]``.

Contributions of bonds that connect the same pair of sites add up (this happens only for ``N = 2``).
Particle-hole symmetry ``τ_x H* τ_x = −H`` holds for every input. The clean (uniform) system has the
Bloch Hamiltonian ``[[ε(k), Δ(k)], [Δ(k)*, −ε(k)]]`` with ``ε(k) = −μ + 2t_x cos k_x + 2t_y cos k_y`` and
``Δ(k) = iΔ sin k_x − Δ sin k_y`` (:func:`bloch_hamiltonian`).

Majorana form
-------------
With ``a_s = c_s + c_s†`` and ``b_s = −i(c_s − c_s†)`` (the unitary ``Ω = [[1, 1], [−i, i]]/√2`` per
site), ``Ω H Ω† = iK`` with ``K`` real antisymmetric (:func:`majorana_hamiltonian`)::

    K = [[Im D, h − Re D], [−h − Re D, −Im D]]

Both Majoranas of a site sit at the site's position, so position operators stay diagonal in this basis.

Flat vectors
------------
The authors store a lattice as one channel-major vector of length ``3N²``: all μ, then all t₋, then all
Δ, each in C order over ``(i, j)`` (:func:`to_flat`, :func:`from_flat`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal, NamedTuple, overload

import numpy as np

from topoml.errors import InputError, ShapeError

if TYPE_CHECKING:  # pragma: no cover
    import scipy.sparse as sp

__all__ = [
    "CHANNELS",
    "MIN_SIZE",
    "check_lattice",
    "check_lattice_shape",
    "hoppings",
    "clean_lattice",
    "disordered_lattice",
    "block_average",
    "to_flat",
    "from_flat",
    "site_positions",
    "normal_block",
    "pairing_block",
    "bdg_hamiltonian",
    "bdg_energies",
    "majorana_hamiltonian",
    "bloch_hamiltonian",
    "LatticeSymmetry",
    "symmetry_group",
]

#: Channel order of the last axis of a lattice array.
CHANNELS = ("mu", "t_minus", "delta")
#: Smallest supported linear size N (N = 1 would make bonds start and end on the same site).
MIN_SIZE = 2


def check_lattice_shape(shape: tuple[int, ...], *, batch: bool | None = None, name: str = "x") -> None:
    """The shape rule of lattices, shared by :func:`check_lattice` and the networks' input check
    (:func:`topoml.nets.rg.check_lattice_batch`): ``(N, N, 3)`` or ``(n, N, N, 3)``, channels
    ``(mu, t_minus, delta)`` last, ``N >= 2``.

    Parameters
    ----------
    shape : tuple of int
    batch : bool or None
        ``True``: require ``(n, N, N, 3)``; ``False``: require ``(N, N, 3)``; ``None``: accept either.
    name : str
        Name of the argument, used in error messages.

    Raises
    ------
    ShapeError
        Wrong number of axes, last axis not 3, non-square lattice, or ``N < 2``.
    """
    shape = tuple(shape)
    allowed = {None: (3, 4), False: (3,), True: (4,)}[batch]
    if len(shape) not in allowed or shape[-1] != 3:
        want = {None: "(N, N, 3) or (n, N, N, 3)", False: "(N, N, 3)", True: "(n, N, N, 3)"}[batch]
        raise ShapeError(f"{name} must have shape {want} with channels (mu, t_minus, delta) last, got {shape}")
    if shape[-3] != shape[-2]:
        raise ShapeError(f"{name} must be a square N×N lattice, got {shape[-3]}×{shape[-2]} (shape {shape})")
    if shape[-2] < MIN_SIZE:
        raise ShapeError(f"{name}: lattice size N must be >= {MIN_SIZE}, got N = {shape[-2]}")


def check_lattice(x: np.ndarray, *, batch: bool | None = None, name: str = "x",
                  dtype: type = np.float64) -> np.ndarray:
    """Validate a lattice (or a batch of lattices) and return it as float64 (or ``dtype``).

    The one validation of lattice arrays: the exact methods take float64 (default), the networks
    float32 (:func:`topoml.evaluate.predict.check_lattices`).

    Parameters
    ----------
    x : array_like of shape (N, N, 3) or (n, N, N, 3)
        Per-site ``(mu, t_minus, delta)``, real and finite.
    batch : bool or None
        ``True``: require ``(n, N, N, 3)``; ``False``: require ``(N, N, 3)``; ``None``: accept either.
    name : str
        Name of the argument, used in error messages.
    dtype : numpy float type, default float64
        Values must stay finite after the cast (e.g. ``1e300`` fails for float32).

    Returns
    -------
    ndarray of ``dtype``, same shape

    Raises
    ------
    ShapeError
        See :func:`check_lattice_shape`.
    InputError
        Non-real dtype, NaN or inf (also after the cast to ``dtype``).
    """
    x = np.asarray(x)
    if not (np.issubdtype(x.dtype, np.integer) or np.issubdtype(x.dtype, np.floating)) or x.dtype == bool:
        raise InputError(f"{name} must be a real numeric array of (mu, t_minus, delta), got dtype {x.dtype}")
    check_lattice_shape(x.shape, batch=batch, name=name)
    with np.errstate(over="ignore", invalid="ignore"):  # overflow to inf is reported just below
        x = x.astype(dtype, copy=False)
    if not np.all(np.isfinite(x)):
        beyond = f" (or values beyond {np.dtype(dtype).name} range)" if np.dtype(dtype) != np.float64 else ""
        raise InputError(f"{name} contains NaN or inf{beyond}; every site parameter must be finite")
    return x


def hoppings(t_minus: np.ndarray | float) -> tuple[np.ndarray, np.ndarray]:
    """Hoppings ``t_x = (1 + t₋)/2`` and ``t_y = (1 − t₋)/2`` (units of ``t₊ = 1``).

    Parameters
    ----------
    t_minus : float or array_like

    Returns
    -------
    (t_x, t_y) : tuple of ndarray of float64, shape of ``t_minus``
    """
    t_minus = np.asarray(t_minus, dtype=np.float64)
    return 0.5 * (1.0 + t_minus), 0.5 * (1.0 - t_minus)


def clean_lattice(N: int, mu: float, t_minus: float, delta: float) -> np.ndarray:
    """Uniform (disorder-free) lattice.

    Parameters
    ----------
    N : int
        Linear size, ``N >= 2``.
    mu, t_minus, delta : float
        Chemical potential, hopping anisotropy, pairing (units of ``t₊ = 1``).

    Returns
    -------
    ndarray of float64, shape (N, N, 3)

    Raises
    ------
    InputError
        ``N`` not an integer ``>= 2`` or non-finite parameters.
    """
    if not isinstance(N, (int, np.integer)) or isinstance(N, bool) or N < MIN_SIZE:
        raise InputError(f"N must be an integer >= {MIN_SIZE}, got {N!r}")
    x = np.empty((int(N), int(N), 3))
    x[...] = (mu, t_minus, delta)
    return check_lattice(x, batch=False)


def disordered_lattice(
    mu_bar: np.ndarray | float,
    t_minus_bar: np.ndarray | float,
    delta_bar: np.ndarray | float,
    disorder: np.ndarray,
) -> np.ndarray:
    """Average parameters plus a fixed disorder pattern: ``x = (μ̄, t̄₋, Δ̄) + disorder``.

    This is how the reference phase diagrams are built (``docs/conventions-margalit2022.md``): one
    zero-mean disorder pattern, many averages.

    Parameters
    ----------
    mu_bar, t_minus_bar, delta_bar : float or array_like, broadcastable to a common shape ``S``
        Lattice averages (units of ``t₊ = 1``).
    disorder : array_like of shape (N, N, 3)
        Per-site deviations, channels ``(mu, t_minus, delta)``. Not required to have zero mean.

    Returns
    -------
    ndarray of float64, shape ``S + (N, N, 3)``

    Raises
    ------
    ShapeError, InputError
        Invalid ``disorder`` or non-finite averages.
    """
    disorder = check_lattice(disorder, batch=False, name="disorder")
    avg = np.stack(np.broadcast_arrays(*(np.asarray(v, dtype=np.float64) for v in (mu_bar, t_minus_bar, delta_bar))), -1)
    if not np.all(np.isfinite(avg)):
        raise InputError("lattice averages contain NaN or inf")
    return avg[..., None, None, :] + disorder


def block_average(x: np.ndarray, factor: int = 2) -> np.ndarray:
    """Decimation: the ``factor × factor`` block average of a lattice or a batch, ``2N × 2N → N × N`` for ``factor = 2``.

    Site ``(i, j)`` of the output averages the sites ``(f·i … f·i+f−1, f·j … f·j+f−1)`` of the input, per channel,
    so the lattice averages are kept exactly. This is the baseline RG map of margalit2022 (Sec. III: the RG network
    is initialized to it; :func:`topoml.nets.rg.decimation` is the same map in torch), here without torch, for
    exact labels of coarse-grained lattices.

    Parameters
    ----------
    x : array_like of shape (M, M, 3) or (n, M, M, 3)
        Per-site ``(mu, t_minus, delta)``; ``M`` divisible by ``factor`` and ``M / factor >= 2``.
    factor : int, default 2

    Returns
    -------
    ndarray of float64, shape (M/f, M/f, 3) or (n, M/f, M/f, 3)

    Raises
    ------
    ShapeError
        Not a lattice (batch), or ``M`` not divisible by ``factor``.
    InputError
        ``factor`` not an integer ``>= 1``, an output smaller than :data:`MIN_SIZE`, or NaN/inf.
    """
    if isinstance(factor, bool) or not isinstance(factor, (int, np.integer)) or factor < 1:
        raise InputError(f"factor must be an integer >= 1, got {factor!r}")
    x = check_lattice(x)
    M = x.shape[-2]
    if M % factor:
        raise ShapeError(f"lattice size {M} is not divisible by the block size {factor}")
    if M // factor < MIN_SIZE:
        raise InputError(f"block averages of a {M}x{M} lattice by {factor} would be smaller than {MIN_SIZE}x{MIN_SIZE}")
    m = M // factor
    return x.reshape(x.shape[:-3] + (m, factor, m, factor, 3)).mean(axis=(-4, -2))


def to_flat(x: np.ndarray) -> np.ndarray:
    """Lattice(s) → the authors' channel-major flat vector(s).

    Parameters
    ----------
    x : array_like of shape (..., N, N, 3)

    Returns
    -------
    ndarray of float64, shape (..., 3N²)
        ``[μ_0 … μ_{N²−1}, t₋_0 …, Δ_0 …]``, site ``s = i·N + j``.
    """
    x = np.asarray(x, dtype=np.float64)
    if x.ndim < 3 or x.shape[-1] != 3 or x.shape[-3] != x.shape[-2]:
        raise ShapeError(f"x must have shape (..., N, N, 3), got {x.shape}")
    N = x.shape[-2]
    return np.moveaxis(x, -1, -3).reshape(*x.shape[:-3], 3 * N * N)


def from_flat(v: np.ndarray, N: int | None = None) -> np.ndarray:
    """The authors' channel-major flat vector(s) → lattice(s) (inverse of :func:`to_flat`).

    Parameters
    ----------
    v : array_like of shape (..., 3N²)
    N : int, optional
        Linear size; inferred from the length when omitted.

    Returns
    -------
    ndarray of float64, shape (..., N, N, 3)

    Raises
    ------
    ShapeError
        The last axis is not ``3N²`` for an integer ``N``.
    """
    v = np.asarray(v, dtype=np.float64)
    if v.ndim < 1:
        raise ShapeError("v must have at least one axis of length 3N²")
    L = v.shape[-1]
    if N is None:
        N = int(round(np.sqrt(L / 3)))
    if 3 * N * N != L or N < 1:
        raise ShapeError(f"flat vector length {L} is not 3N² for N = {N}")
    return np.moveaxis(v.reshape(*v.shape[:-1], 3, N, N), -3, -1)


def site_positions(N: int) -> tuple[np.ndarray, np.ndarray]:
    """Integer coordinates ``(X, Y)`` of the sites in flat order ``s = i·N + j``.

    Returns
    -------
    X, Y : ndarray of int64, shape (N²,)
        ``X[s] = i`` (axis i, x) and ``Y[s] = j`` (axis j, y).
    """
    s = np.arange(N * N)
    return s // N, s % N


def _bonds(N: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Flat site index ``s`` and its +x and +y neighbours (periodic)."""
    s = np.arange(N * N)
    i, j = s // N, s % N
    return s, ((i + 1) % N) * N + j, i * N + (j + 1) % N


def _scatter(out: np.ndarray, rows: np.ndarray, cols: np.ndarray, vals: np.ndarray, accumulate: bool) -> None:
    """``out[..., rows, cols] += vals`` on the last two axes (vals of shape (..., len(rows)))."""
    if accumulate:
        flat = out.reshape(*out.shape[:-2], -1)
        idx = rows * out.shape[-1] + cols
        for k in range(len(idx)):  # tiny N only (N = 2): bonds share site pairs
            flat[..., idx[k]] += vals[..., k]
    else:
        out[..., rows, cols] += vals


def normal_block(x: np.ndarray) -> np.ndarray:
    """Normal block ``h`` of the BdG Hamiltonian (real symmetric, see module docstring).

    Parameters
    ----------
    x : array_like of shape (N, N, 3) or (n, N, N, 3)

    Returns
    -------
    ndarray of float64, shape (N², N²) or (n, N², N²)

    Raises
    ------
    ShapeError, InputError
        See :func:`check_lattice`.
    """
    x = check_lattice(x)
    N = x.shape[-2]
    n = N * N
    s, sx, sy = _bonds(N)
    p = x.reshape(*x.shape[:-3], n, 3)
    tx, ty = hoppings(p[..., 1])
    h = np.zeros((*x.shape[:-3], n, n))
    h[..., s, s] = -p[..., 0]
    acc = N == 2
    for a, b, t in ((s, sx, tx), (s, sy, ty)):
        _scatter(h, a, b, t, acc)
        _scatter(h, b, a, t, acc)
    return h


def pairing_block(x: np.ndarray) -> np.ndarray:
    """Pairing block ``D`` of the BdG Hamiltonian (complex antisymmetric, see module docstring).

    Parameters
    ----------
    x : array_like of shape (N, N, 3) or (n, N, N, 3)

    Returns
    -------
    ndarray of complex128, shape (N², N²) or (n, N², N²)
        ``D[s, s+x̂] = Δ_s/2``, ``D[s, s+ŷ] = iΔ_s/2``, ``D = −Dᵀ``.

    Raises
    ------
    ShapeError, InputError
        See :func:`check_lattice`.
    """
    x = check_lattice(x)
    N = x.shape[-2]
    n = N * N
    s, sx, sy = _bonds(N)
    half = 0.5 * x.reshape(*x.shape[:-3], n, 3)[..., 2]
    D = np.zeros((*x.shape[:-3], n, n), dtype=np.complex128)
    acc = N == 2
    _scatter(D, s, sx, half.astype(np.complex128), acc)
    _scatter(D, sx, s, -half.astype(np.complex128), acc)
    _scatter(D, s, sy, 1j * half, acc)
    _scatter(D, sy, s, -1j * half, acc)
    return D


@overload
def bdg_hamiltonian(x: np.ndarray, *, sparse: Literal[False] = ...) -> np.ndarray: ...
@overload
def bdg_hamiltonian(x: np.ndarray, *, sparse: Literal[True]) -> sp.csr_array: ...


def bdg_hamiltonian(x: np.ndarray, *, sparse: bool = False) -> np.ndarray | sp.csr_array:
    """BdG matrix ``H = [[h, D], [D†, −h]]`` of one lattice or a batch (paper Eq. 1).

    Dense construction is vectorized over a batch; ``sparse=True`` builds a ``scipy.sparse`` CSR
    matrix of one lattice (at most ``18·N²`` nonzeros of ``4N⁴``), for large N.

    Parameters
    ----------
    x : array_like of shape (N, N, 3) or (n, N, N, 3)
        Per-site ``(mu, t_minus, delta)`` (units of ``t₊ = 1``); a batch is only accepted with
        ``sparse=False``.
    sparse : bool, default False

    Returns
    -------
    ndarray of complex128, shape (2N², 2N²) or (n, 2N², 2N²); or scipy.sparse.csr_array (2N², 2N²)
        Nambu basis ``(c_1 … c_{N²}, c_1† … c_{N²}†)``, site ``s = i·N + j``. Hermitian and
        particle-hole symmetric (``τ_x H* τ_x = −H``).

    Raises
    ------
    ShapeError, InputError
        See :func:`check_lattice`; a batch with ``sparse=True``.
    """
    if sparse:
        return _bdg_sparse(check_lattice(x, batch=False))
    x = check_lattice(x)
    n = x.shape[-2] ** 2
    h = normal_block(x)
    D = pairing_block(x)
    H = np.empty((*x.shape[:-3], 2 * n, 2 * n), dtype=np.complex128)
    H[..., :n, :n] = h
    H[..., n:, n:] = -h
    H[..., :n, n:] = D
    H[..., n:, :n] = -D.conj()  # D† = −D* for antisymmetric D
    return H


def bdg_energies(x: np.ndarray) -> np.ndarray:
    """The non-negative half of the BdG spectrum of one lattice or a batch (paper Eq. 1), ascending.

    The BdG spectrum is symmetric (``E → −E``, particle-hole symmetry), so these ``N²`` energies are all of it;
    ``[..., 0]`` is the gap of a periodic lattice. The same numbers as :attr:`topoml.invariants.BottSpectrum.energies`
    (there from the Majorana form, here from ``eigvalsh`` of :func:`bdg_hamiltonian`, which is faster when the
    occupied states are not needed). Invariant under the label's exact symmetries (:func:`symmetry_group`), so
    a dense, symmetry-blind target for networks that learn the label (``StageSpec.aux_targets`` of margalit2022).

    Parameters
    ----------
    x : array_like of shape (N, N, 3) or (n, N, N, 3)
        Per-site ``(mu, t_minus, delta)`` (units of ``t₊ = 1``). Dense: ``2N² × 2N²`` per lattice.

    Returns
    -------
    ndarray of float64, shape (N²,) or (n, N²)
        Units of ``t₊``.

    Raises
    ------
    ShapeError, InputError
        See :func:`check_lattice`.
    """
    x = check_lattice(x)
    n = x.shape[-2] ** 2
    return np.linalg.eigvalsh(bdg_hamiltonian(x))[..., n:]


def _bdg_sparse(x: np.ndarray):
    import scipy.sparse as sp

    N = x.shape[0]
    n = N * N
    s, sx, sy = _bonds(N)
    p = x.reshape(n, 3)
    tx, ty = hoppings(p[:, 1])
    half = 0.5 * p[:, 2]
    # normal block entries (h and −h), then pairing D and D† = −D*
    rows = [s, s, sx, s, sy]
    cols = [s, sx, s, sy, s]
    vals = [-p[:, 0], tx, tx, ty, ty]
    r_h, c_h, v_h = (np.concatenate(a) for a in (rows, cols, vals))
    r_d = np.concatenate([s, sx, s, sy])
    c_d = np.concatenate([sx, s, sy, s])
    v_d = np.concatenate([half, -half, 1j * half, -1j * half]).astype(np.complex128)
    r = np.concatenate([r_h, r_h + n, r_d, c_d + n])
    c = np.concatenate([c_h, c_h + n, c_d + n, r_d])
    v = np.concatenate([v_h, -v_h, v_d, np.conj(v_d)])  # (D†)[c, r] = conj(D[r, c])
    H = sp.coo_array((v.astype(np.complex128), (r, c)), shape=(2 * n, 2 * n))
    return H.tocsr()  # duplicates (N = 2) are summed


def majorana_hamiltonian(x: np.ndarray) -> np.ndarray:
    """Real antisymmetric ``K`` with ``Ω H Ω† = iK`` (Majorana basis, see module docstring).

    ``K = [[Im D, h − Re D], [−h − Re D, −Im D]]`` in the basis ``(a_1 … a_{N²}, b_1 … b_{N²})``,
    ``a = c + c†``, ``b = −i(c − c†)``. The spectrum of ``iK`` equals that of ``H``.

    Parameters
    ----------
    x : array_like of shape (N, N, 3) or (n, N, N, 3)

    Returns
    -------
    ndarray of float64, shape (2N², 2N²) or (n, 2N², 2N²)

    Raises
    ------
    ShapeError, InputError
        See :func:`check_lattice`.
    """
    x = check_lattice(x)
    N = x.shape[-2]
    n = N * N
    s, sx, sy = _bonds(N)
    p = x.reshape(*x.shape[:-3], n, 3)
    tx, ty = hoppings(p[..., 1])
    half = 0.5 * p[..., 2]
    K = np.zeros((*x.shape[:-3], 2 * n, 2 * n))
    acc = N == 2
    K[..., s, n + s] = -p[..., 0]  # h − Re D, on-site
    K[..., n + s, s] = p[..., 0]  # −h − Re D, on-site
    entries = (
        (s, sy, half), (sy, s, -half),  # Im D (y bonds)
        (n + s, n + sy, -half), (n + sy, n + s, half),  # −Im D
        (s, n + sx, tx - half), (sx, n + s, tx + half), (s, n + sy, ty), (sy, n + s, ty),  # h − Re D
        (n + s, sx, -tx - half), (n + sx, s, -tx + half), (n + s, sy, -ty), (n + sy, s, -ty),  # −h − Re D
    )
    for r, c, v in entries:
        _scatter(K, r, c, v, acc)
    return K


def bloch_hamiltonian(
    kx: np.ndarray | float,
    ky: np.ndarray | float,
    mu: np.ndarray | float,
    t_minus: np.ndarray | float,
    delta: np.ndarray | float,
) -> np.ndarray:
    """Bloch BdG Hamiltonian of the clean system, consistent with :func:`bdg_hamiltonian`.

    ``H(k) = [[ε(k), Δ(k)], [Δ(k)*, −ε(k)]]`` in the basis ``(c_k, c_{−k}†)``, with
    ``ε(k) = −μ + 2t_x cos k_x + 2t_y cos k_y`` and ``Δ(k) = iΔ sin k_x − Δ sin k_y``. On a periodic
    N×N lattice the real-space spectrum is that of ``H(k)`` at ``k = 2π(a, b)/N``.

    Parameters
    ----------
    kx, ky : float or array_like
        Momenta (radians per lattice spacing), along axis i (x) and axis j (y).
    mu, t_minus, delta : float or array_like
        Clean parameters (units of ``t₊ = 1``). All arguments broadcast to a common shape ``S``.

    Returns
    -------
    ndarray of complex128, shape ``S + (2, 2)``
    """
    kx, ky, mu, t_minus, delta = np.broadcast_arrays(*(np.asarray(v, dtype=np.float64) for v in (kx, ky, mu, t_minus, delta)))
    tx, ty = hoppings(t_minus)
    eps = -mu + 2 * tx * np.cos(kx) + 2 * ty * np.cos(ky)
    dk = 1j * delta * np.sin(kx) - delta * np.sin(ky)
    H = np.empty((*eps.shape, 2, 2), dtype=np.complex128)
    H[..., 0, 0] = eps
    H[..., 1, 1] = -eps
    H[..., 0, 1] = dk
    H[..., 1, 0] = np.conj(dk)
    return H


# ---------------------------------------------------------------------------------------------- symmetries


class LatticeSymmetry(NamedTuple):
    """An exact symmetry of the Chern number (Bott label) of a periodic p+ip lattice.

    Applied as: cyclic translation by ``shift`` sites along (x, y); then, if ``transpose``, swap the
    x and y axes **and** negate ``t_minus`` (``t_x ↔ t_y``); then, if ``negate_mu``, negate ``mu`` on
    every site (the disorder pattern included). The label is multiplied by :attr:`sign`: translations
    and the transposition keep it, ``mu → −mu`` flips it (C → −C).

    Why these are exact: a translation relabels sites; the transposition maps the x bonds (pairing
    ``Δ``) onto y bonds (pairing ``iΔ``), i.e. ``p_x + ip_y → p_y + ip_x = i(p_x − ip_y)``, whose
    reversed chirality is undone by the reversed orientation of the swapped axes, and each bond keeps
    the parameters of its starting site; ``mu → −mu`` is the staggered gauge ``c_r → (−1)^{i+j} c_r``
    (even ``N``) combined with particle-hole conjugation, which maps ``h → −h`` and reverses the
    chirality. A naive mirror ``i → −i`` is **not** exact, because a bond takes the parameters of its
    origin site and a mirror moves them to its end site. (Verified against :func:`topoml.invariants.bott_index`
    in ``tests/hamiltonians/test_symmetry.py``.) The group has ``4N²`` elements (64 at ``N = 4``).
    """

    shift: tuple[int, int] = (0, 0)
    transpose: bool = False
    negate_mu: bool = False

    @property
    def sign(self) -> int:
        """Factor by which the Chern number changes: −1 if ``negate_mu`` else +1."""
        return -1 if self.negate_mu else 1

    def apply(self, x: np.ndarray) -> np.ndarray:
        """Transform lattices ``x`` of shape ``(..., N, N, 3)`` (float; returns a new array, same shape)."""
        x = np.asarray(x)
        if x.ndim < 3 or x.shape[-1] != 3 or x.shape[-3] != x.shape[-2]:
            raise ShapeError(f"need lattices of shape (..., N, N, 3), got {x.shape}")
        y = np.roll(x, self.shift, axis=(-3, -2))
        if self.transpose:
            y = np.swapaxes(y, -3, -2).copy()
            y[..., 1] = -y[..., 1]
        if self.negate_mu:
            y = y.copy() if y is x else y
            y[..., 0] = -y[..., 0]
        return y


def symmetry_group(N: int) -> list[LatticeSymmetry]:
    """All ``4N²`` exact symmetries of the Bott label of an ``N × N`` lattice (64 at ``N = 4``).

    Parameters
    ----------
    N : int >= 2
        Linear lattice size. ``mu → −mu`` is exact for even ``N`` only (the staggered gauge needs a
        bipartite torus); for odd ``N`` the group returned has ``2N²`` elements without it.

    Returns
    -------
    list of LatticeSymmetry
        The identity first.
    """
    if not isinstance(N, (int, np.integer)) or N < MIN_SIZE:
        raise InputError(f"lattice size N must be an integer >= {MIN_SIZE}, got {N!r}")
    flips = (False, True) if N % 2 == 0 else (False,)
    return [LatticeSymmetry((a, b), t, m) for m in flips for t in (False, True)
            for a in range(N) for b in range(N)]
