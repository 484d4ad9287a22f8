"""Benchmark: one 8x8 Bott label in the calling process, BLAS threads limited (threadpoolctl) or not.

    python benchmarks/bench_threads.py [--n 8] [--reps 20]

`bott_index` limits the BLAS/OpenMP pools of the calling process to one thread for each chunk
(`topoml.runs.executor.blas_threads`); worker processes already start with OPENBLAS_NUM_THREADS=1. Here the
same lattice is labelled with the limit and with it disabled (the library's default thread count,
e.g. one per core), interleaved, and the mean seconds per label and the ratio are printed. The ratio
grows with the machine's load (OpenBLAS threads spin and wait for busy cores).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import time

import numpy as np

from topoml.hamiltonians.pip import disordered_lattice
from topoml.invariants import bott
from topoml.runs import executor


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=8)
    ap.add_argument("--reps", type=int, default=20)
    args = ap.parse_args()
    x = disordered_lattice(-1.0, 0.2, 0.15, np.random.default_rng(0).uniform(-0.1, 0.1, (args.n, args.n, 3)))
    limited = executor.blas_threads
    bott.bott_index(x)
    times = {"one thread": 0.0, "unlimited": 0.0}
    for _ in range(args.reps):
        for name, ctx in (("one thread", limited), ("unlimited", lambda n: contextlib.nullcontext())):
            executor.blas_threads = ctx
            t = time.perf_counter()
            bott.bott_index(x)
            times[name] += time.perf_counter() - t
    executor.blas_threads = limited
    load = os.getloadavg()[0]
    a, b = times["one thread"] / args.reps, times["unlimited"] / args.reps
    print(f"{args.n}x{args.n} Bott label, load {load:.1f}, {os.cpu_count()} CPUs: one thread {a * 1e3:.1f} ms, "
          f"unlimited {b * 1e3:.1f} ms, ratio unlimited/one {b / a:.1f}")


if __name__ == "__main__":
    main()
