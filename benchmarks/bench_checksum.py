"""Benchmark: what lazy shard-checksum verification costs a reader of a topoml dataset.

    python benchmarks/bench_checksum.py [--quick]

`open_dataset` verifies each shard's SHA-256 content digest on the first read that touches it
(`verify="lazy"`, the default): that read reads the whole shard once and hashes it. Timed in the same run,
interleaved (best of several rounds, a fresh `open_dataset` each time, files in the page cache):

* full read: `ds.inputs[:]` + `ds.labels[:]` with `verify=False` (baseline) and `verify="lazy"`;
* first random batch: 256 random samples from a freshly opened dataset (worst case for lazy checks:
  every shard touched is read whole);
* an epoch of random batches (all samples in batches of 256), where the check is paid once per shard;
* `verify=True` (every shard checked at open) against a full read without checks.

The ratios (lazy / off) are the cost; 1.0 would be free.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np

from bench_rswn import best_times  # interleaved best-of-N timing (benchmarks/ is on sys.path when run)
from topoml.data.store import dataset_digest, open_dataset, shard_filename, write_manifest, write_shard


def make_dataset(folder: Path, n_shards: int, shard_size: int, size: int) -> None:
    rng = np.random.default_rng(0)
    shards = []
    for k in range(n_shards):
        x = rng.uniform(-1, 1, (shard_size, size, size, 3)).astype(np.float32)
        info = write_shard(folder / shard_filename(k, n_shards), inputs=x,
                           labels=rng.integers(-1, 2, shard_size), raw_bott=rng.normal(size=shard_size),
                           gaps=rng.uniform(0, 1, shard_size))
        shards.append(info.to_dict())
    write_manifest(folder, {"format": "topoml.lattice_dataset", "schema_version": 1, "complete": True,
                            "n_samples": n_shards * shard_size, "lattice_size": size, "shards": shards,
                            "content_sha256": dataset_digest([s["content_sha256"] for s in shards])})


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    n_shards, shard_size, size, repeat = (4, 2_000, 8, 3) if args.quick else (10, 10_000, 8, 5)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        make_dataset(folder, n_shards, shard_size, size)
        n = n_shards * shard_size
        idx = np.random.default_rng(1).permutation(n)

        def full(verify):
            with open_dataset(folder, verify=verify) as ds:
                ds.inputs[:], ds.labels[:]

        def first_batch(verify):
            with open_dataset(folder, verify=verify) as ds:
                ds[np.sort(idx[:256])]

        def epoch(verify):
            with open_dataset(folder, verify=verify) as ds:
                for a in range(0, n, 256):
                    ds[np.sort(idx[a:a + 256])]

        t = best_times({
            "full_off": lambda: full(False), "full_lazy": lambda: full("lazy"), "full_open": lambda: full(True),
            "batch_off": lambda: first_batch(False), "batch_lazy": lambda: first_batch("lazy"),
            "epoch_off": lambda: epoch(False), "epoch_lazy": lambda: epoch("lazy"),
        }, repeat)
    mb = n * size * size * 3 * 4 / 2**20
    print(f"{n_shards} shards x {shard_size} samples of {size}x{size} ({mb:.0f} MiB of inputs); best of {repeat}")
    for what in ("full", "batch", "epoch"):
        print(f"{what:6s}: off {t[what + '_off'] * 1e3:8.1f} ms, lazy {t[what + '_lazy'] * 1e3:8.1f} ms, "
              f"ratio lazy/off {t[what + '_lazy'] / t[what + '_off']:.2f}")
    print(f"verify=True (all shards at open) + full read: {t['full_open'] * 1e3:.1f} ms, "
          f"ratio {t['full_open'] / t['full_off']:.2f} against no check")


if __name__ == "__main__":
    main()
