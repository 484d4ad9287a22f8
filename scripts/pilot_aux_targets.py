"""Pilot of sessions 13-14 (issue 10): dense auxiliary targets for the 4×4 base network. The maintained path is the
base stage's ``aux_targets`` (``topoml.nets.rg.AuxiliaryHead``, ``topoml.train.auxiliary_loss``).

The README's tables "auxiliary targets" (margalit2022, sessions 13 and 14) come from this script. Usage:

    python scripts/pilot_aux_targets.py gen DIR/train1m.npz 1000000 13001 boundary_biased --workers 2
    python scripts/pilot_aux_targets.py gen DIR/test_u.npz 50000 13002 uniform --workers 2
    python scripts/pilot_aux_targets.py gen DIR/test_bb.npz 50000 13003 boundary_biased --workers 2
    python scripts/pilot_aux_targets.py train DIR r1_spec --aux energies --weight 1 --samples 500000
    python scripts/pilot_aux_targets.py gen DIR/train1m_b.npz 1000000 14001 boundary_biased --workers 2  # session 14
    python scripts/pilot_aux_targets.py train DIR r3_energies_2m --aux energies --augment --samples 2000000 \
        --train train1m.npz,train1m_b.npz

``gen`` draws 4×4 lattices (``sample_lattices``) and stores the Bott label with the spectra behind it
(:func:`topoml.invariants.bott_spectrum`: 16 Bott phases, 16 positive BdG energies). ``train`` trains the
invariant base network (width 64, 6 blocks) with the default profile's base schedule (AdamW 2e-3, one-cycle with
5 % warm-up, batch 256), float32, one pass over fresh lattices, no augmentation (``--augment``: random exact
symmetries per sample), plus a second head on the pooled
features that regresses the standardized targets (loss = cross-entropy + weight · mean squared error); it appends
the accuracy of the class head on the two test sets (plain and group-averaged) to ``DIR/results.jsonl``.
"""

import argparse
import json
import math
import time

import numpy as np


def gen(a) -> None:
    from topoml.data.sampling import SamplingSpec, sample_lattices
    from topoml.invariants import bott_spectrum

    x = sample_lattices(a.n, SamplingSpec(lattice_size=4, averages=a.kind), rng=a.seed).astype(np.float32)
    sp = bott_spectrum(x, workers=a.workers)
    y = np.rint(sp.phases.sum(-1) / (2 * np.pi)).astype(np.int64)
    np.savez(a.out, x=x, y=y, energies=sp.energies.astype(np.float32), phases=sp.phases.astype(np.float32))
    print(a.out, "classes", dict(zip(*np.unique(y, return_counts=True))))


def train(a) -> None:
    import torch
    import torch.nn as nn
    import torch.nn.functional as F

    from topoml.nets.rg import CHERN_CLASSES, InvariantBaseNet
    from topoml.train.trainer import symmetry_augmented

    def aug(src):
        return symmetry_augmented(src, a.seed)

    if a.augment and a.aux in ("phases", "both"):
        raise SystemExit("--augment needs targets invariant under the symmetries: the Bott phases change sign with mu")
    torch.manual_seed(a.seed)
    torch.set_num_threads(a.threads)
    parts = [np.load(f"{a.dir}/{f}") for f in a.train.split(",")]
    d = {k: np.concatenate([p[k] for p in parts]) for k in ("x", "y", "energies", "phases")}
    x = torch.from_numpy(d["x"])
    y = torch.from_numpy(d["y"] - CHERN_CLASSES[0])
    targets = {"none": np.zeros((len(x), 1), np.float32), "energies": d["energies"], "phases": d["phases"],
               "both": np.concatenate([d["energies"], d["phases"]], 1)}[a.aux]
    A = torch.from_numpy(((targets - targets.mean(0)) / (targets.std(0) + 1e-6)).astype(np.float32))
    net = InvariantBaseNet(width=a.width, blocks=6, hidden=128, head="classes")
    aux = nn.Sequential(nn.Linear(2 * a.width, 128), nn.ReLU(), nn.Linear(128, A.shape[1]))
    opt = torch.optim.AdamW(list(net.parameters()) + list(aux.parameters()), lr=a.lr, weight_decay=1e-4)
    B, n = 256, min(a.samples, len(x))
    total = n // B
    warm = max(1, total // 20)
    perm = torch.randperm(n)
    t0 = time.time()
    net.train()
    for step in range(total):
        lr = (a.lr / 25 + (a.lr - a.lr / 25) * step / warm if step < warm
              else 0.5 * a.lr * (1 + math.cos(math.pi * (step - warm) / max(1, total - warm))))
        for g in opt.param_groups:
            g["lr"] = lr
        idx = perm[step * B:(step + 1) * B]
        xb, yb = x[idx], y[idx]
        if a.augment:  # random exact symmetries; the targets (spectra) are invariant, the label flips with mu
            xb, yc = next(aug(lambda e: iter([(xb, (yb + CHERN_CLASSES[0]).float())]))(step))
            yb = yc.long() - CHERN_CLASSES[0]
        h = net.pairs(F.relu(net.first(net._features(xb))))
        pooled = torch.cat([h.mean(dim=(2, 3)), h.amax(dim=(2, 3))], dim=1)
        loss = F.cross_entropy(net.head(pooled), yb)
        if a.aux != "none" and a.weight > 0:
            loss = loss + a.weight * F.mse_loss(aux(pooled), A[idx])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if step % 500 == 0:
            print(f"{a.name} step {step}/{total} loss {loss.item():.4f} {time.time() - t0:.0f}s", flush=True)
    net.eval()
    res = {"name": a.name, "aux": a.aux, "augment": a.augment, "weight": a.weight, "seed": a.seed, "width": a.width, "samples": n,
           "train_s": time.time() - t0}
    with torch.no_grad():
        for name in ("test_u", "test_bb"):
            t = np.load(f"{a.dir}/{name}.npz")
            tx = torch.from_numpy(t["x"])
            for sym in (False, True):
                net.symmetrize = sym
                pred = np.concatenate([net(tx[i:i + 4096]).argmax(1).numpy() for i in range(0, len(tx), 4096)])
                res[name + ("_sym" if sym else "")] = float((pred + CHERN_CLASSES[0] == t["y"]).mean())
    net.symmetrize = False
    print(json.dumps(res), flush=True)
    with open(f"{a.dir}/results.jsonl", "a") as f:
        f.write(json.dumps(res) + "\n")


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    g = sub.add_parser("gen")
    g.add_argument("out")
    g.add_argument("n", type=int)
    g.add_argument("seed", type=int)
    g.add_argument("kind", choices=["uniform", "boundary_biased"])
    g.add_argument("--workers", type=int, default=2)
    t = sub.add_parser("train")
    t.add_argument("dir")
    t.add_argument("name")
    t.add_argument("--train", default="train1m.npz", help="training files in DIR, comma-separated (concatenated)")
    t.add_argument("--aux", choices=["none", "energies", "phases", "both"], default="none")
    t.add_argument("--weight", type=float, default=1.0)
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--width", type=int, default=64)
    t.add_argument("--samples", type=int, default=500_000)
    t.add_argument("--lr", type=float, default=2e-3)
    t.add_argument("--threads", type=int, default=2)
    t.add_argument("--augment", action="store_true", help="random exact symmetries per sample (symmetry_augmented)")
    args = ap.parse_args()
    gen(args) if args.cmd == "gen" else train(args)
