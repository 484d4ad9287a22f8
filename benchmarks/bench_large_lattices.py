"""Time and peak memory of Chern numbers of large disordered lattices against N — a script, not a test.

    python benchmarks/bench_large_lattices.py [--bott 16,24,32] [--localizer 16,32,48,64,128,256]
                                              [--network 16,32,64,128] [--out table.json]

Every case runs in a fresh subprocess (one BLAS/MKL thread), on one lattice of the margalit2022 test
distribution at that N (``topoml.data.sampling``, seed N), and reports wall time and the peak resident
memory above the interpreter's baseline (``ru_maxrss``):

* ``bott``: the dense Bott index (``bott_index``, one-lattice route);
* ``localizer``: ``localizer_chern_number`` with its certificate (inertia + localizer gap), and the
  inertia alone;
* ``network``: the packaged ``base ∘ RG`` network (``topoml chern --method network``), N = 4·2^k.

The table gives the localizer's speed-up over the dense route wherever both ran (same run). The machine
is shared: the load average is printed; compare ratios, not absolute times.
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
    import numpy as np

    from topoml.data.sampling import SamplingSpec, sample_lattices

    x = sample_lattices(1, SamplingSpec(lattice_size=N, averages="uniform"), rng=N)[0]
    out: dict = {"method": method, "N": N}
    if method == "bott":
        from topoml.invariants.bott import bott_index

        bott_index(x[:4, :4].copy())  # imports, LAPACK pointers
        base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        t = time.perf_counter()
        r = bott_index(x)
        out.update(seconds=time.perf_counter() - t, chern=int(r.label), gap=float(r.gap))
    elif method == "localizer":
        from topoml.invariants.localizer import localizer_chern_number

        localizer_chern_number(x[:8, :8].copy())  # MKL load
        base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        t = time.perf_counter()
        r0 = localizer_chern_number(x, certify=False)
        t1 = time.perf_counter()
        r = localizer_chern_number(x)
        t2 = time.perf_counter()
        assert r.chern == r0.chern
        out.update(seconds=t2 - t1, seconds_inertia_only=t1 - t, chern=r.chern, gap=r.gap, certified=r.certified,
                   kappa=r.kappa)
    elif method == "network":
        import torch

        from topoml.evaluate.predict import load_chern_model, predict_chern

        torch.set_num_threads(1)
        net, _ = load_chern_model()
        predict_chern(net, x[None, :4, :4].astype(np.float32))
        base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        t = time.perf_counter()
        label, raw, conf = predict_chern(net, x[None].astype(np.float32))
        out.update(seconds=time.perf_counter() - t, chern=int(label[0]), confidence=float(conf[0]))
    else:
        raise SystemExit(f"unknown method {method}")
    out["peak_mib"] = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - base) / 1024
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--bott", default="16,24,32")
    ap.add_argument("--localizer", default="16,32,48,64,128,256")
    ap.add_argument("--network", default="16,32,64,128")
    ap.add_argument("--out", default=None)
    ap.add_argument("--one", nargs=2, metavar=("METHOD", "N"), help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.one:
        print(json.dumps(_one(a.one[0], int(a.one[1]))))
        return
    print(f"load average at start: {os.getloadavg()}", flush=True)
    rows = []
    for method in ("bott", "localizer", "network"):
        for s in filter(None, getattr(a, method).split(",")):
            p = subprocess.run([sys.executable, __file__, "--one", method, s], capture_output=True, text=True)
            if p.returncode != 0:
                print(f"{method} N={s}: failed: {p.stderr.strip().splitlines()[-1:]}", flush=True)
                continue
            row = json.loads(p.stdout.strip().splitlines()[-1])
            rows.append(row)
            print(json.dumps(row), flush=True)
    print(f"load average at end: {os.getloadavg()}", flush=True)
    dense = {r["N"]: r for r in rows if r["method"] == "bott"}
    print("\n| method | N | time (s) | peak memory (MiB) | Chern | certificate | speed-up vs dense |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        cert = {"bott": lambda r: f"BdG gap {r['gap']:.3g}",
                "localizer": lambda r: f"localizer gap {r['gap']:.3g} ({'certified' if r['certified'] else 'NOT certified'})",
                "network": lambda r: f"confidence {r['confidence']:.3f} (no certificate)"}[r["method"]](r)
        sp = f"{dense[r['N']]['seconds'] / r['seconds']:.1f}×" if r["method"] != "bott" and r["N"] in dense else ""
        t = f"{r['seconds']:.3g}" + (f" (inertia only {r['seconds_inertia_only']:.3g})" if "seconds_inertia_only" in r else "")
        print(f"| {r['method']} | {r['N']} | {t} | {r['peak_mib']:.0f} | {r['chern']:+d} | {cert} | {sp} |")
    if a.out:
        with open(a.out, "w") as f:
            json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main()
