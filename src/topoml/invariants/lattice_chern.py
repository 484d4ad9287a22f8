"""Chern numbers of many p+ip lattices by a chosen method, with certificates, workers and progress.

One entry point, :func:`chern_numbers`, for the exact routes of :mod:`topoml.invariants`:

* ``"bott"`` — the dense Bott index (:func:`~topoml.invariants.bott.bott_index`, the margalit2022
  label; exact on the torus; memory ``~20·(2N²)²`` bytes, N ≤ ~96 in 24 GB). Certificate: the BdG
  gap and the distance of the raw value to the nearest integer.
* ``"localizer"`` — the sparse spectral-localizer index
  (:func:`~topoml.invariants.localizer.localizer_chern_number`; N = 256 in seconds). Certificate: the
  localizer gap and whether it is certified.
* ``"kpm"`` — the KPM local Chern marker (:func:`~topoml.invariants.kpm.kpm_chern_number`), a fast
  stochastic estimate, never certified. Certificate: its stochastic standard error (``error``) and
  ``|estimate − chern|`` (``deviation``).

(The network route of ``topoml chern --method network`` needs torch and lives in the CLI layer.)
The work is mapped in chunks (one lattice per task, or ``bott_index``'s batch for small N) on
:func:`topoml.runs.executor.map`: a process pool (one BLAS thread per worker), a
:class:`topoml.runs.Executor` (process or Dask) or any ``concurrent.futures.Executor``; results do not
depend on the number of workers.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from concurrent.futures import Executor
from typing import NamedTuple

import numpy as np

from topoml.errors import ConfigError, InputError
from topoml.hamiltonians.pip import check_lattice
from topoml.runs import executor as runs

__all__ = ["EXACT_METHODS", "METHODS", "ChernNumbers", "chern_numbers"]

#: Exact (certifiable) methods of :func:`chern_numbers`.
EXACT_METHODS = ("bott", "localizer")
#: Methods of :func:`chern_numbers`: the exact ones and the stochastic ``"kpm"``.
METHODS = (*EXACT_METHODS, "kpm")


class ChernNumbers(NamedTuple):
    """Chern numbers of a batch, with each method's certificate (arrays of shape ``(n,)``).

    Attributes
    ----------
    method : str
    chern : ndarray of int64
        Sign convention of :func:`~topoml.invariants.bott.bott_index` for every method.
    gap : ndarray of float64
        ``"bott"``: the BdG gap (smallest ``|E|``); ``"localizer"``: the localizer gap ``min |λ(L)|``;
        ``"kpm"``: NaN (not computed).
    deviation : ndarray of float64
        ``"bott"``: ``|raw − label|``; ``"localizer"``: 0 (the signature is an integer); ``"kpm"``:
        ``|estimate − chern|``.
    certified : ndarray of bool
        ``"bott"``: ``gap >= gap_tol`` and ``deviation <= 0.1``; ``"localizer"``: the localizer
        certificate (gap ``>= gap_tol``, no perturbed pivots); ``"kpm"``: always False.
    error : ndarray of float64
        ``"kpm"``: the stochastic standard error of the estimate; NaN for the exact methods.
    """

    method: str
    chern: np.ndarray
    gap: np.ndarray
    deviation: np.ndarray
    certified: np.ndarray
    error: np.ndarray | None = None


def _chunk(task: tuple[str, np.ndarray, dict]) -> list[tuple[int, float, float, bool, float]]:
    """Results of one task: a chunk (b, N, N, 3) of lattices."""
    method, x, opts = task
    if method == "bott":
        from topoml.invariants.bott import bott_index

        r = bott_index(x)
        dev = np.abs(r.raw - r.label)
        ok = (r.gap >= opts["gap_tol"]) & (dev <= 0.1)
        return [(int(a), float(b), float(c), bool(d), math.nan) for a, b, c, d in zip(r.label, r.gap, dev, ok)]
    if method == "kpm":
        from topoml.invariants.kpm import kpm_chern_number

        r = kpm_chern_number(x[0], moments=opts["moments"], vectors=opts["vectors"], rng=opts["rng"])
        return [(r.chern, math.nan, abs(r.estimate - r.chern), False, r.error)]
    from topoml.invariants.localizer import localizer_chern_number

    out = []
    for xi in x:
        r = localizer_chern_number(xi, kappa=opts["kappa"], gap_tol=opts["gap_tol"])
        out.append((r.chern, r.gap, 0.0, r.certified, math.nan))
    return out


def chern_numbers(
    x: np.ndarray,
    *,
    method: str = "localizer",
    kappa: float | None = None,
    gap_tol: float = 1e-6,
    workers: int = 1,
    executor: runs.Executor | Executor | None = None,
    progress: bool | Callable[[int], None] = False,
    moments: int | None = None,
    vectors: int | None = None,
    seed: int | None = None,
) -> ChernNumbers:
    """Chern numbers of one lattice or a batch by ``method``, with certificates.

    Parameters
    ----------
    x : array_like of shape (N, N, 3) or (n, N, N, 3)
        Per-site ``(mu, t_minus, delta)`` (units of ``t₊ = 1``), periodic (:mod:`topoml.hamiltonians.pip`).
    method : {"bott", "localizer", "kpm"}, default "localizer"
    kappa : float, optional
        Localizer ``κ`` (default ``3/N``); only for ``"localizer"``.
    moments, vectors : int, optional
        ``"kpm"`` only: Chebyshev moments and random vectors per tile
        (:func:`~topoml.invariants.kpm.kpm_chern_number` defaults).
    seed : int, optional
        ``"kpm"`` only: lattice ``i`` uses the ``i``-th child of ``SeedSequence(seed)`` (default 0), so
        results do not depend on ``workers``.
    gap_tol : float, default 1e-6
        Smallest certified gap (units of ``t₊``).
    workers : int, default 1
        Processes (one BLAS thread each); 1 computes in the calling process.
    executor : topoml.runs.Executor or concurrent.futures.Executor, optional
        Use these workers (e.g. ``topoml.runs.Executor(engine="dask", scheduler_address=addr)``) instead of
        ``workers``.
    progress : bool or callable, default False
        ``True``: a tqdm bar; a callable is called with the number of finished lattices.

    Returns
    -------
    ChernNumbers
        Arrays of shape ``(n,)`` (``(1,)`` for one lattice).

    Raises
    ------
    ShapeError, InputError
        Invalid lattices or options (``workers``, ``gap_tol``, ``kappa``, ``moments``, ``vectors``, ``seed``).
    ConfigError
        Unknown ``method``; ``"localizer"`` without pypardiso; a method's option given to another.
    """
    if method not in METHODS:
        raise ConfigError(f"unknown method {method!r}: choose one of {', '.join(METHODS)}")
    if isinstance(workers, bool) or not isinstance(workers, (int, np.integer)) or workers < 1:
        raise InputError(f"workers must be a positive integer, got {workers!r}")
    if isinstance(gap_tol, bool) or not isinstance(gap_tol, (int, float, np.integer, np.floating)) or not (gap_tol >= 0 and math.isfinite(gap_tol)):
        raise InputError(f"gap_tol must be a non-negative finite number, got {gap_tol!r}")
    if kappa is not None and method != "localizer":
        raise ConfigError(f"kappa applies to method 'localizer' only, not {method!r}")
    for name, value in (("moments", moments), ("vectors", vectors), ("seed", seed)):
        if value is not None and method != "kpm":
            raise ConfigError(f"{name} applies to method 'kpm' only, not {method!r}")
    x = check_lattice(x)
    xb = x[None] if x.ndim == 3 else x
    if method == "localizer":
        from topoml.invariants.localizer import _check_kappa, _pardiso

        _check_kappa(kappa, xb.shape[1])
        _pardiso()  # fail early (ConfigError) when pypardiso is missing
    opts = {"kappa": kappa, "gap_tol": float(gap_tol)}
    size = 1
    if method == "bott":  # small lattices: batched LAPACK chunks (bott_index's own chunk size)
        from topoml.invariants.bott import _chunk_size

        size = _chunk_size(xb.shape[1])
    tasks = [(method, xb[a : a + size], opts) for a in range(0, len(xb), size)]
    if method == "kpm":  # one seed per lattice: independent of workers and chunking
        from topoml.invariants.kpm import DEFAULT_VECTORS, check_options
        from topoml.rng import spawn_seeds

        seed = 0 if seed is None else seed
        vectors = DEFAULT_VECTORS if vectors is None else vectors
        check_options(xb.shape[1], moments=moments, vectors=vectors, seed=seed)
        tasks = [(method, t[1], {"moments": moments, "vectors": vectors, "rng": s})
                 for t, s in zip(tasks, spawn_seeds(seed, len(tasks)))]
    report = progress if callable(progress) else None
    engine = "process" if workers > 1 and len(tasks) > 1 else "serial"
    parts = runs.map(_chunk, tasks, workers=min(int(workers), max(1, len(tasks))), engine=engine, executor=executor,
                     on_result=None if report is None else lambda i, r: report(len(r)), weight=lambda t: len(t[1]),
                     progress=progress is True, desc=f"chern ({method})", unit="lattice")
    out = [row for part in parts for row in part]
    a = list(zip(*out)) if out else [[], [], [], [], []]
    return ChernNumbers(
        method=method,
        chern=np.asarray(a[0], dtype=np.int64),
        gap=np.asarray(a[1], dtype=np.float64),
        deviation=np.asarray(a[2], dtype=np.float64),
        certified=np.asarray(a[3], dtype=bool),
        error=np.asarray(a[4], dtype=np.float64),
    )
