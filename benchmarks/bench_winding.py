"""Benchmark: exact winding-number labels per second, and CNN training samples per second.

    python benchmarks/bench_winding.py [--quick]

Labels: `winding_number` on batches of L = 32 Hamiltonians (one core, one BLAS thread), against two
baselines timed in the same run: the textbook vectorized formula (np.angle, np.diff, np.mod over the
whole batch at once) and a per-sample Python loop. Training: samples/s of the zhang2018 CNN and FC
(Adam, batch 50, one torch thread).
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402


def best_rate(fn, n: int, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return n / best


def textbook(h: np.ndarray) -> np.ndarray:
    theta = np.angle(h[..., 0] + 1j * h[..., 1])
    d = np.mod(np.diff(theta, axis=-1) + np.pi, 2 * np.pi) - np.pi
    return np.rint(d.sum(-1) / (2 * np.pi)).astype(np.int64)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()

    from topoml.data.winding_sets import fourier_set
    from topoml.invariants.winding import winding_number

    n = 20_000 if args.quick else 200_000
    h = fourier_set(n, rng=0).x.astype(np.float64)
    rep = 2 if args.quick else 5
    ours = best_rate(lambda: winding_number(h), n, rep)
    base = best_rate(lambda: textbook(h), n, rep)
    m = 2000
    loop = best_rate(lambda: [winding_number(h[i]) for i in range(m)], m, 1)
    assert np.array_equal(winding_number(h), textbook(h))
    print(f"winding_number, batch of {n} (L = 32, incl. validation): {ours:,.0f} labels/s")
    print(f"textbook vectorized formula (no validation):            {base:,.0f} labels/s  (ours/textbook = {ours / base:.2f})")
    print(f"per-sample Python loop over winding_number:              {loop:,.0f} labels/s  (ours/loop = {ours / loop:.0f})")

    import torch

    from topoml.nets import get_net
    from topoml.train.trainer import TrainConfig, fit_arrays

    torch.set_num_threads(1)
    nt = 5_000 if args.quick else 50_000
    data = fourier_set(nt, rng=1)
    for name in ("zhang2018.cnn", "zhang2018.fc"):
        torch.manual_seed(0)
        hist = fit_arrays(get_net(name), data.x, data.w,
                          TrainConfig(epochs=1, batch_size=50, optimizer="adam", lr=1e-3, fused=True))
        print(f"training {name}: {hist['samples_per_second']:,.0f} samples/s (Adam, batch 50, 1 thread)")


if __name__ == "__main__":
    main()
