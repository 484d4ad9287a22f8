"""Benchmark: real-space winding-number labels per second, against the one SVD they need.

    python benchmarks/bench_rswn.py [--quick]

For L = 100 and L = 1000 disordered SSH chains (one core, one BLAS thread): labels/s of
`real_space_winding_number` (from the 2L x 2L Hamiltonian, with its symmetry checks, and from the L x L
hopping block), against `scipy.linalg.svd` of the L x L hopping block (U, s, V†: what the label needs),
timed in the same run on the same chains. The ratio time(label) / time(SVD) is the overhead of
everything that is not the SVD (validation, q = U V† on the window, the displacement sum, the bulk-gap
weights); 1.0 would be free.
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import scipy.linalg  # noqa: E402


def best_times(fns: dict, repeat: int) -> dict:
    """Best wall time of each function over ``repeat`` rounds, the functions interleaved in every round
    (so that a change of machine load hits all of them alike)."""
    best = {k: float("inf") for k in fns}
    for _ in range(repeat):
        for k, fn in fns.items():
            t = time.perf_counter()
            fn()
            best[k] = min(best[k], time.perf_counter() - t)
    return best


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="fewer chains and rounds (about 15 s; the full run about 45 s)")
    args = ap.parse_args()

    from topoml.hamiltonians import ssh
    from topoml.invariants.real_space import real_space_winding_number

    cases = [(100, 50 if args.quick else 100), (1000, 1)]
    repeat = 3 if args.quick else 7
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(
        f"one core, OPENBLAS_NUM_THREADS={os.environ['OPENBLAS_NUM_THREADS']}, numpy {np.__version__}, "
        f"scipy {scipy.__version__}, load average {load} on {os.cpu_count()} cores; best of {repeat} interleaved rounds"
    )
    for L, n in cases:
        v, w = ssh.disordered_hoppings(
            *ssh.uniform_hoppings(L, np.full(n, 0.6), 1.0), intra_strength=0.5, inter_strength=0.5, rng=0
        )
        H = ssh.chain_hamiltonian(v, w)
        h = np.ascontiguousarray(H[:, 0::2, 1::2])
        t = best_times(
            {
                "svd": lambda: [scipy.linalg.svd(x) for x in h],
                "h": lambda: real_space_winding_number(hopping=h, on_gapless="flag"),
                "H": lambda: real_space_winding_number(H, on_gapless="flag"),
            },
            repeat,
        )
        res = real_space_winding_number(hopping=h, on_gapless="flag")
        print(
            f"L = {L:4d} ({n} chains per round, {np.mean(res.valid):.0%} valid, labels {sorted(set(res.label.tolist()))}):\n"
            f"  scipy.linalg.svd of the hopping block   {n / t['svd']:10.2f} /s\n"
            f"  real_space_winding_number(hopping=h)    {n / t['h']:10.2f} labels/s   time ratio to SVD {t['h'] / t['svd']:.2f}\n"
            f"  real_space_winding_number(H), checked   {n / t['H']:10.2f} labels/s   time ratio to SVD {t['H'] / t['svd']:.2f}"
        )


if __name__ == "__main__":
    main()
