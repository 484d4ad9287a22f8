"""Agreement of the localizer Chern number with the dense Bott index and the clean formula — a script.

    python benchmarks/localizer_agreement.py [--sizes 8,16,24,32,48] [--samples 400,400,200,60,8]
                                            [--kappa-n 3] [--out agreement.json]

For each N: disordered lattices from the margalit2022 test distribution (uniform averages, disorder
widths 0.3·N/4, 0.2, 0.05, zero mean; ``topoml.data.sampling``), labelled by ``bott_index`` (dense,
exact on the torus) and ``localizer_chern_number`` (sparse). Prints the agreement rate, the rate on
lattices with a BdG gap above 0.03 and 0.05, the share of certified localizer results, the confusion
counts, and — for each disagreement — which of the two labels has the parity of the ground-state
fermion parity ``sign Pf(K)`` (``(−1)^C`` on a clean lattice; ``topoml.invariants.parity``). Also the
clean formula on a 14×9 grid of (μ, t₋) at Δ = 0.15 (every phase, including |μ| < 2|t₋|).
"""

from __future__ import annotations

import argparse
import json
import os
import time

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import numpy as np  # noqa: E402


def main() -> None:
    from topoml.data.sampling import SamplingSpec, sample_lattices
    from topoml.hamiltonians.pip import clean_lattice
    from topoml.invariants.bott import bott_index
    from topoml.invariants.chern import clean_chern_number
    from topoml.invariants.localizer import DEFAULT_KAPPA_N, localizer_chern_number
    from topoml.invariants.parity import fermion_parity

    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="8,16,24,32,48")
    ap.add_argument("--samples", default="400,400,200,60,8")
    ap.add_argument("--kappa-n", type=float, default=DEFAULT_KAPPA_N)
    ap.add_argument("--seed", type=int, default=13)
    ap.add_argument("--out", default=None)
    a = ap.parse_args()
    sizes = [int(s) for s in a.sizes.split(",")]
    samples = [int(s) for s in a.samples.split(",")]
    print(f"load average at start: {os.getloadavg()}", flush=True)
    out = {}
    grid = [(m, t) for m in np.linspace(-3.9, 3.9, 14) for t in np.linspace(-1.9, 1.9, 9)]
    for N, n in zip(sizes, samples):
        x = sample_lattices(n, SamplingSpec(lattice_size=N, averages="uniform"), rng=np.random.SeedSequence([a.seed, N]))
        t0 = time.perf_counter()
        b = bott_index(x)
        tb = time.perf_counter() - t0
        t0 = time.perf_counter()
        loc = [localizer_chern_number(xi, kappa=a.kappa_n / N) for xi in x]
        tl = time.perf_counter() - t0
        par = fermion_parity(x, on_gapless="flag").parity
        L = np.array([r.chern for r in loc])
        cert = np.array([r.certified for r in loc])
        B = b.label
        agree = L == B
        dis = ~agree
        # for a disagreement, which label has the parity of the ground state ((−1)^C)?
        bott_par = np.sum(dis & (par == (-1) ** np.abs(B)) & (par != (-1) ** np.abs(L)))
        loc_par = np.sum(dis & (par == (-1) ** np.abs(L)) & (par != (-1) ** np.abs(B)))
        both_par = np.sum(dis & (par == (-1) ** np.abs(L)) & (par == (-1) ** np.abs(B)))
        cl = [(localizer_chern_number(clean_lattice(N, m, t, 0.15), kappa=a.kappa_n / N, certify=False).chern,
               clean_chern_number(m, t)) for m, t in grid]
        conf = {f"bott={i},loc={j}": int(np.sum((B == i) & (L == j))) for i in range(-2, 3) for j in range(-2, 3)
                if np.sum((B == i) & (L == j))}
        row = {
            "N": N, "n": n, "agree": float(agree.mean()),
            "agree_gap>0.03": float(agree[b.gap > 0.03].mean()), "n_gap>0.03": int(np.sum(b.gap > 0.03)),
            "agree_gap>0.05": float(agree[b.gap > 0.05].mean()), "n_gap>0.05": int(np.sum(b.gap > 0.05)),
            "certified": float(cert.mean()), "agree_certified": float(agree[cert].mean()) if cert.any() else None,
            "disagree_parity_favours_bott": int(bott_par), "disagree_parity_favours_localizer": int(loc_par),
            "disagree_parity_both": int(both_par), "confusion": conf,
            "clean_agree": f"{sum(p == q for p, q in cl)}/{len(cl)}",
            "seconds_bott_per_lattice": tb / n, "seconds_localizer_per_lattice": tl / n,
        }
        out[N] = row
        print(json.dumps(row), flush=True)
    print(f"load average at end: {os.getloadavg()}", flush=True)
    if a.out:
        with open(a.out, "w") as f:
            json.dump(out, f, indent=2)


if __name__ == "__main__":
    main()
