"""Time and peak memory of the KPM Chern marker against N, beside the localizer — a script, not a test.

    python benchmarks/bench_kpm.py [--sizes 16,32,48,64,128,256] [--localizer 16,32,48,64,128,256]
                                   [--out table.json]

Each case runs in a fresh subprocess with one BLAS/MKL thread, on one lattice of the margalit2022 test
distribution at that N (``topoml.data.sampling``, seed N: the lattices of ``bench_large_lattices.py``).
Wall time, CPU time of the process (``time.process_time``: what the case costs one core, less
sensitive to a loaded machine than wall time) and peak resident memory above the interpreter's
baseline (``ru_maxrss``) are reported:

* ``kpm``: ``kpm_chern_number`` with its defaults (resolution 0.03, 2 vectors per tile,
  ``default_tiles(N)``), seed 0;
* ``localizer``: ``localizer_chern_number`` with its certificate (inertia + localizer gap).

The two run interleaved at each N; the table gives the localizer / KPM ratios of CPU time, wall time
and memory wherever both ran in this run. The machine is shared: the load average is printed; compare
ratios, not absolute times.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time

def _one(method: str, N: int) -> dict:
    os.environ["OPENBLAS_NUM_THREADS"] = os.environ["MKL_NUM_THREADS"] = os.environ["OMP_NUM_THREADS"] = "1"
    from topoml.data.sampling import SamplingSpec, sample_lattices
    from topoml.invariants.kpm import kpm_chern_number
    from topoml.invariants.localizer import localizer_chern_number

    x = sample_lattices(1, SamplingSpec(lattice_size=N, averages="uniform"), rng=N)[0]
    run = {"kpm": lambda y: kpm_chern_number(y, rng=0), "localizer": localizer_chern_number}[method]
    run(x[:8, :8].copy())  # imports, MKL load
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t, c = time.perf_counter(), time.process_time()
    r = run(x)
    out = {"method": method, "N": N, "seconds": time.perf_counter() - t, "cpu_seconds": time.process_time() - c,
           **r._asdict()}
    out["peak_mib"] = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - base) / 1024
    return out


def _run(cmd: list[str]) -> dict | None:
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        print(f"{cmd[-2:]}: failed: {p.stderr.strip().splitlines()[-1:]}", flush=True)
        return None
    row = json.loads(p.stdout.strip().splitlines()[-1])
    print(json.dumps(row), flush=True)
    return row


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="16,32,48,64,128,256")
    ap.add_argument("--localizer", default="16,32,48,64,128,256")
    ap.add_argument("--out", default=None)
    ap.add_argument("--one", nargs=2, metavar=("METHOD", "N"), help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.one:
        print(json.dumps(_one(a.one[0], int(a.one[1]))))
        return
    print(f"load average at start: {os.getloadavg()}", flush=True)
    kpm, loc = {}, {}
    sizes = sorted({int(s) for s in filter(None, (a.sizes + "," + a.localizer).split(","))})
    for N in sizes:  # interleaved, so that both methods see a similar load at each N
        if str(N) in a.sizes.split(","):
            kpm[N] = _run([sys.executable, __file__, "--one", "kpm", str(N)])
        if str(N) in a.localizer.split(","):
            loc[N] = _run([sys.executable, __file__, "--one", "localizer", str(N)])
    print(f"load average at end: {os.getloadavg()}", flush=True)
    print("\n| N | KPM CPU / wall (s) | KPM memory (MiB) | KPM estimate (M, tiles) | localizer CPU / wall (s) "
          "| localizer memory (MiB) | localizer Chern | localizer/KPM: CPU, wall, memory |")
    print("|---|---|---|---|---|---|---|---|")
    for N in sizes:
        k, c = kpm.get(N), loc.get(N)
        ks = (f"{k['cpu_seconds']:.3g} / {k['seconds']:.3g} | {k['peak_mib']:.0f} | {k['estimate']:+.3f} ± {k['error']:.3f} "
              f"({k['moments']}, {k['tiles']})") if k else "– | – | –"
        cs = (f"{c['cpu_seconds']:.3g} / {c['seconds']:.3g} | {c['peak_mib']:.0f} | {c['chern']:+d} "
              f"({'certified' if c['certified'] else 'NOT certified'})") if c else "– | – | –"
        ratio = (f"{c['cpu_seconds'] / k['cpu_seconds']:.2f}×, {c['seconds'] / k['seconds']:.2f}×, "
                 f"{c['peak_mib'] / max(k['peak_mib'], 1):.1f}×") if k and c else "–"
        print(f"| {N} | {ks} | {cs} | {ratio} |")
    if a.out:
        with open(a.out, "w") as f:
            json.dump({"kpm": list(kpm.values()), "localizer": list(loc.values())}, f, indent=1)


if __name__ == "__main__":
    main()
