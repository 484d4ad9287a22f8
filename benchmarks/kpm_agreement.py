"""Agreement of the KPM Chern marker with the dense Bott index on disordered lattices — a script.

    python benchmarks/kpm_agreement.py [--sizes 16,24,32] [--samples 120,60,16] [--seed 13] [--out a.json]

For each N: lattices of the margalit2022 test distribution (uniform averages, disorder widths 0.3·N/4,
0.2, 0.05, zero mean; ``topoml.data.sampling``), labelled by ``bott_index`` (dense, exact on the torus)
and ``kpm_chern_number`` (defaults, seed = lattice index). Prints the agreement rate, overall and on
lattices with a BdG gap above 0.05, the confusion counts, the share of lattices whose KPM estimate is
within 3 stated errors of the Bott label, and the median stated error.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from collections import Counter

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import numpy as np  # noqa: E402


def main() -> None:
    from topoml.data.sampling import SamplingSpec, sample_lattices
    from topoml.invariants.bott import bott_index
    from topoml.invariants.kpm import kpm_chern_number

    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="16,24,32")
    ap.add_argument("--samples", default="120,60,16")
    ap.add_argument("--seed", type=int, default=13)
    ap.add_argument("--out", default=None)
    a = ap.parse_args()
    print(f"load average at start: {os.getloadavg()}", flush=True)
    out = {}
    for N, n in zip((int(s) for s in a.sizes.split(",")), (int(s) for s in a.samples.split(","))):
        x = sample_lattices(n, SamplingSpec(lattice_size=N, averages="uniform"), rng=np.random.SeedSequence([a.seed, N]))
        t0 = time.perf_counter()
        b = bott_index(x, on_gapless="flag")
        tb = time.perf_counter() - t0
        t0 = time.perf_counter()
        k = [kpm_chern_number(xi, rng=i) for i, xi in enumerate(x)]
        tk = time.perf_counter() - t0
        est = np.array([r.estimate for r in k])
        err = np.array([r.error for r in k])
        K = np.array([r.chern for r in k])
        agree = K == b.label
        gapped = b.gap > 0.05
        row = {
            "n": n, "agreement": float(agree.mean()),
            "n_gap_above_0.05": int(gapped.sum()),
            "agreement_gap_above_0.05": float(agree[gapped].mean()) if gapped.any() else None,
            "within_3_errors": float((np.abs(est - b.label) <= 3 * err).mean()),
            "median_error": float(np.median(err)),
            "confusion_bott_kpm": {f"{p}->{q}": c for (p, q), c in sorted(Counter(zip(b.label.tolist(), K.tolist())).items())},
            "seconds_bott": tb, "seconds_kpm": tk,
        }
        out[N] = row
        print(N, json.dumps(row), flush=True)
    print(f"load average at end: {os.getloadavg()}", flush=True)
    print("\n| N | lattices | agreement with dense Bott | BdG gap > 0.05 | within 3 stated errors | median stated error "
          "| Bott → KPM disagreements | time KPM / Bott |")
    print("|---|---|---|---|---|---|---|---|")
    for N, r in out.items():
        dis = ", ".join(f"{k}: {v}" for k, v in r["confusion_bott_kpm"].items() if k.split("->")[0] != k.split("->")[1])
        g = "–" if r["agreement_gap_above_0.05"] is None else f"{100 * r['agreement_gap_above_0.05']:.1f} % ({r['n_gap_above_0.05']})"
        print(f"| {N} | {r['n']} | {100 * r['agreement']:.1f} % | {g} | {100 * r['within_3_errors']:.1f} % "
              f"| {r['median_error']:.3f} | {dis or 'none'} | {r['seconds_kpm'] / r['seconds_bott']:.2f} |")
    if a.out:
        with open(a.out, "w") as f:
            json.dump(out, f, indent=1)


if __name__ == "__main__":
    main()
