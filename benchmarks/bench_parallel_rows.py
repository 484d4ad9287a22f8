"""Training throughput of the default 4x4 base network: P processes with one torch thread each against one process
with P threads (issue 10, session 25).

    python benchmarks/bench_parallel_rows.py [--processes 2] [--batch 256] [--steps 40] [--rounds 2]

The ablation rows of `topoml reproduce margalit2022` are independent trainings; since session 25 they run
`workers` at a time with one torch thread each (`RunDir.run_jobs`) instead of one after another with the run's
`threads`. This times the step of the default base network (width 64, 3 blocks, classes, symmetry augmentation,
BdG energies as auxiliary targets, bfloat16 autocast where native) both ways on the same batch: ``--steps`` steps
in one process with P threads, then the same steps in P spawned processes with one thread each, all at once
(``--rounds`` alternations, so that drifting machine load hits both alike). Prints the samples/s of each way
and their ratio: the figure to quote is the ratio, from one run on an otherwise idle machine.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import time


def _steps(threads: int, batch: int, steps: int, start=None) -> float:
    """Seconds for ``steps`` training steps with ``threads`` torch threads (after two warm-up steps)."""
    import torch
    from bench_base_train import _step_fn  # this folder is on sys.path, in spawned workers too

    from topoml.nets.rg import InvariantBaseNet
    from topoml.train.trainer import chern_class_loss, resolve_precision

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    bf16 = resolve_precision("auto", "cpu") == "bfloat16"
    step = _step_fn(InvariantBaseNet(blocks=3), chern_class_loss, True, bf16, False, True, batch=batch)
    step(), step()
    if start is not None:  # all processes start timing together
        start.wait()
    t = time.perf_counter()
    for _ in range(steps):
        step()
    return time.perf_counter() - t


def _worker(args):
    batch, steps, start = args
    return _steps(1, batch, steps, start)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--processes", type=int, default=2)
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--steps", type=int, default=40)
    ap.add_argument("--rounds", type=int, default=2)
    args = ap.parse_args()
    if min(args.processes, args.batch, args.steps, args.rounds) < 1:
        ap.error("--processes, --batch, --steps and --rounds must be >= 1")
    p = args.processes
    one = many = 0.0
    ctx = mp.get_context("spawn")
    with ctx.Manager() as manager:
        for _ in range(args.rounds):
            one += args.steps * args.batch / _steps(p, args.batch, args.steps)
            start = manager.Barrier(p)
            with ctx.Pool(p) as pool:
                secs = pool.map(_worker, [(args.batch, args.steps, start)] * p)
            many += p * args.steps * args.batch / max(secs)
    one, many = one / args.rounds, many / args.rounds
    from topoml.train.trainer import resolve_precision

    print(f"{p} processes, batch {args.batch}, {args.steps} steps x {args.rounds} rounds, load "
          f"{os.getloadavg()[0]:.1f}, precision {resolve_precision('auto', 'cpu')}; default base network "
          "(width 64, 3 blocks, energies)")
    print("| way | samples/s | ratio |")
    print("|---|---|---|")
    print(f"| one process, {p} torch threads | {one:,.0f} | 1.00x |")
    print(f"| {p} processes, one torch thread each | {many:,.0f} | {many / one:.2f}x |")


if __name__ == "__main__":
    main()
