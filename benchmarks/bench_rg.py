"""Network inference vs Bott index, time per lattice at N = 16, 32, 64, 128 (margalit2022 Fig. 1b).

    python benchmarks/bench_rg.py                 # packaged weights, Bott up to N = 32
    python benchmarks/bench_rg.py --bott-max 64   # adds one 64x64 Bott label (minutes)

One thread for both (``OPENBLAS_NUM_THREADS=1``, ``torch.set_num_threads(1)``), measured in the same
run; the ratio is Bott time / network time (the speed-up of base ∘ RG^k).
"""

import argparse
import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import torch  # noqa: E402

from topoml.evaluate.timing import runtime_table  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--weights", help="model file (default: packaged weights)")
    ap.add_argument("--sizes", default="4,8,16,32,64,128")
    ap.add_argument("--bott-max", type=int, default=32)
    args = ap.parse_args()
    torch.set_num_threads(1)
    from topoml.evaluate.predict import packaged_weights
    from topoml.train.checkpoint import load_model

    net, meta = load_model(args.weights or packaged_weights())
    rows = runtime_table(net, [int(s) for s in args.sizes.split(",")], args.bott_max)
    print(f"network: {meta['net']}  load: {os.getloadavg()[0]:.2f}")
    print("| N | network s/lattice | Bott s/lattice | Bott / network |")
    print("|---|---|---|---|")
    for r in rows:
        bott = f"{r['bott_s']:.3e} | {r['speedup']:,.0f}x" if "bott_s" in r else "not run | —"
        print(f"| {r['N']} | {r['network_s']:.3e} | {bott} |")


if __name__ == "__main__":
    main()
