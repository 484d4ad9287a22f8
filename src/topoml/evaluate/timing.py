"""Runtime of exact invariants vs networks (margalit2022 Fig. 1b), measured in one call."""

from __future__ import annotations

import math
import time

import numpy as np

__all__ = ["network_seconds_per_lattice", "runtime_table"]


def network_seconds_per_lattice(net, n: int, *, batch: int = 8, reps: int = 3) -> float:
    """Best-of-``reps`` inference time per ``n × n`` lattice of ``net`` (batch of ``batch``, current torch threads)."""
    import torch

    x = torch.zeros(batch, n, n, 3)
    x[..., 0], x[..., 1], x[..., 2] = -1.0, 0.2, 0.15
    with torch.no_grad():
        net.eval()
        net(x)
        best = math.inf
        for _ in range(reps):
            t0 = time.perf_counter()
            net(x)
            best = min(best, time.perf_counter() - t0)
    return best / batch


def runtime_table(net, sizes, bott_max: int, rng_seed: int = 0, reps: int = 3) -> list[dict]:
    """Seconds per lattice of :func:`topoml.invariants.bott.bott_index` and of ``net`` for each size,
    both on **one thread** (torch and the BLAS/OpenMP pools of this process, set here and restored).

    Parameters
    ----------
    net : torch.nn.Module
        Maps ``(batch, N, N, 3)`` to ``(batch,)`` for every ``N`` in ``sizes``.
    sizes : iterable of int
    bott_max : int
        Bott is timed only for ``N <= bott_max`` (its cost grows as N^6).
    rng_seed : int
        Seeds the weak disorder of the timed lattices (μ̄ = −1, t̄₋ = 0.2, Δ̄ = 0.15).
    reps : int, default 3
        Both timings are the best of ``reps`` runs after a warm-up (a loaded machine only adds time).

    Returns
    -------
    list of dict
        ``{"N", "network_s", "bott_s", "speedup"}`` (the last two only where Bott was timed);
        ``speedup = bott_s / network_s``, a ratio of two timings of the same run.
    """
    import torch

    from topoml.hamiltonians.pip import disordered_lattice
    from topoml.invariants.bott import bott_index
    from topoml.runs.executor import blas_threads

    rows = []
    rng = np.random.default_rng(rng_seed)
    old_threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with blas_threads(1):
            for n in sizes:
                row = {"N": int(n), "network_s": network_seconds_per_lattice(net, n, reps=reps)}
                if n <= bott_max:
                    count = max(1, min(64, 4096 // n**2))
                    x = disordered_lattice(-1.0, 0.2, 0.15, rng.uniform(-0.1, 0.1, (n, n, 3)))
                    xs = np.repeat(x[None], count, axis=0)
                    bott_index(xs[:1])  # warm-up (LAPACK workspaces)
                    best = math.inf
                    for _ in range(max(1, reps)):
                        t0 = time.perf_counter()
                        bott_index(xs)
                        best = min(best, time.perf_counter() - t0)
                    row["bott_s"] = best / count
                    row["speedup"] = row["bott_s"] / row["network_s"]
                rows.append(row)
    finally:
        torch.set_num_threads(old_threads)
    return rows
