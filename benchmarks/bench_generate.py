"""Benchmark of end-to-end dataset generation (sampling + Bott labels + HDF5 shards on disk).

Usage::

    python benchmarks/bench_generate.py            # 1,000,000 4x4 training samples + 4x4/8x8 rates
    python benchmarks/bench_generate.py --quick    # small runs only (about a minute)

Target (issue 3): one million 4x4 boundary-biased training samples, written as HDF5, in under 3 minutes
on the 2-core development machine. Besides the end-to-end figures it reports the single-process cost of
each stage (sampling, labelling, writing) so that a miss can be attributed. Timings depend on the load
of the (shared) machine: run it when nothing else is running.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path


def _stage_rates(size: int, n: int) -> dict:
    """Samples/s of each stage in this process (one BLAS thread is set by the caller's environment)."""
    import numpy as np

    from topoml.data import store
    from topoml.data.generate import _batch_size
    from topoml.data.sampling import SamplingSpec, sample_lattices
    from topoml.invariants.bott import bott_index

    spec = SamplingSpec(lattice_size=size)
    t = time.perf_counter()
    x, avg = sample_lattices(n, spec, 0, return_averages=True)
    t_sample = time.perf_counter() - t
    x32 = x.astype(np.float32)
    xd = x32.astype(np.float64)
    step = _batch_size(size)
    bott_index(xd[: min(step, n)], on_gapless="flag")  # warm-up (imports, caches)
    t = time.perf_counter()
    parts = [bott_index(xd[a:a + step], on_gapless="flag") for a in range(0, n, step)]
    t_label = time.perf_counter() - t
    raw = np.concatenate([p.raw for p in parts])
    lab = np.concatenate([p.label for p in parts])
    gap = np.concatenate([p.gap for p in parts])
    with tempfile.TemporaryDirectory() as d:
        arrays = {"inputs": x32, "labels": lab, "raw_bott": raw, "gaps": gap, "averages": avg}
        store.write_shard(Path(d) / "warm.h5", **arrays)  # first call gathers provenance (git, versions)
        t = time.perf_counter()
        store.write_shard(Path(d) / "s.h5", **arrays)
        t_write = time.perf_counter() - t
    return {"sampling": n / t_sample, "labelling": n / t_label, "writing": n / t_write, "label_batch": step}


def _generate(n: int, size: int, shard: int, workers: int, engine: str, out: Path) -> dict:
    from topoml.data.generate import generate_dataset

    cfg = {"name": f"bench-{size}x{size}-{n}", "seed": 2022, "n_samples": n, "shard_size": shard,
           "sampling": {"lattice_size": size, "averages": "boundary_biased"}}
    if out.exists():
        shutil.rmtree(out)
    t = time.perf_counter()
    summary = generate_dataset(cfg, out, workers=workers, engine=engine, progress=sys.stderr.isatty())
    wall = time.perf_counter() - t
    size_bytes = sum(p.stat().st_size for p in out.iterdir())
    return {"n": n, "lattice": f"{size}x{size}", "workers": workers, "engine": engine, "wall_s": wall,
            "samples_per_s": n / wall, "MB_on_disk": size_bytes / 1e6,
            "label_counts": summary["label_counts"], "gap_min": summary["gap"]["min"]}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="small runs only, no million-sample run")
    ap.add_argument("--workers", type=int, default=None, help="worker processes (default: available CPUs)")
    ap.add_argument("--engine", choices=("process", "dask"), default="process")
    ap.add_argument("--out", type=Path, default=None, help="scratch folder (default: a temporary folder)")
    ap.add_argument("--json", type=Path, default=None, help="also write the results as JSON here")
    ap.add_argument("--million-only", action="store_true", help="only the 1e6-sample 4x4 run")
    args = ap.parse_args(argv)

    workers = args.workers or len(os.sched_getaffinity(0))
    scratch = args.out or Path(tempfile.mkdtemp(prefix="topoml-bench-"))
    scratch.mkdir(parents=True, exist_ok=True)
    results: dict = {"workers": workers, "engine": args.engine, "cpus": os.cpu_count()}
    small = {} if args.million_only else {
        "generate_4x4": (20_000 if args.quick else 100_000, 4, 10_000),
        "generate_8x8": (1_000 if args.quick else 5_000, 8, 250),
    }
    try:
        if not args.million_only:  # single-process stage costs (one BLAS thread, like the workers)
            results["stages_4x4"] = _stage_rates(4, 5_000 if args.quick else 20_000)
            results["stages_8x8"] = _stage_rates(8, 200 if args.quick else 1_000)
        for key, (n, size, shard) in small.items():
            results[key] = _generate(n, size, shard, workers, args.engine, scratch / key)
            print(f"{key}: {results[key]['samples_per_s']:,.0f} samples/s "
                  f"({results[key]['n']:,} in {results[key]['wall_s']:.1f} s)", flush=True)
        if not args.quick:
            r = _generate(1_000_000, 4, 10_000, workers, args.engine, scratch / "million_4x4")
            r["target_s"] = 180.0
            r["met_target"] = r["wall_s"] < 180.0
            results["million_4x4"] = r
    finally:
        if args.out is None:
            shutil.rmtree(scratch, ignore_errors=True)

    print("\nstage rates, one process (samples/s):")
    for key in ("stages_4x4", "stages_8x8") if "stages_4x4" in results else ():
        s = results[key]
        print(f"  {key[-3:]}: sampling {s['sampling']:>12,.0f}  labelling {s['labelling']:>9,.0f}  "
              f"writing {s['writing']:>12,.0f}  (label batch {s['label_batch']})")
    print(f"end to end ({workers} workers, {args.engine}):")
    for key in ("generate_4x4", "generate_8x8", "million_4x4"):
        if key in results:
            r = results[key]
            print(f"  {key}: {r['n']:>9,} samples in {r['wall_s']:7.1f} s = {r['samples_per_s']:>8,.0f} samples/s, "
                  f"{r['MB_on_disk']:.1f} MB")
    if "million_4x4" in results:
        r = results["million_4x4"]
        print(f"  target: 1e6 4x4 samples < 180 s -> {'MET' if r['met_target'] else 'NOT MET'} ({r['wall_s']:.1f} s)")
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(var, "1")  # before numpy loads: the stage timings use one thread
    sys.exit(main())
