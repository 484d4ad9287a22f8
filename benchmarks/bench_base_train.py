"""Training throughput of 4x4 base networks: samples/s of forward + backward + optimizer step (issue 10).

    python benchmarks/bench_base_train.py [--threads 2] [--batch 256] [--steps 30] [--float32-only]

Compares, in one run and interleaved (so that machine load hits every network alike), the default
base network of `topoml reproduce margalit2022` since session 23 (InvariantBaseNet, width 64, 3 blocks, class head,
with the symmetry augmentation of the batch and the BdG energies of every batch as auxiliary targets, their eigvalsh
included: `aux_targets = "energies"`, forward pass under bfloat16 autocast: `precision = "bfloat16"`) against the
default of sessions 8-22 (width 96, 6 blocks; with and without the energies, in bfloat16 and in float32), the shipped
4x4 base since session 15 (width 192, the same recipe; trained on a GPU by scripts/gpu_base_4x4.py), the sessions 5-7
default (width 64, float32; also with the index-gather periodic padding those sessions used), the ablation rows'
width-64 network with 6 and with 3 residual blocks in float32 (the auxiliary targets included; session 22: at equal
training time the 3-block one sees 1.8x the samples and scores higher), and the paper's architecture at width 256
(BaseNet, 4.7 M parameters, regression; float32 and bfloat16) and at width 64 (narrow2022). Reports
samples/s per network and the ratio to the paper's network in float32. The figure that transfers between
machines is the ratio (bfloat16 gains need AMX or AVX-512-BF16; a CPU without them emulates bfloat16 20-50x
slower than float32, so the profile's `precision = "auto"` trains in float32 there, and the first line of the
output says which one this machine gets).
"""

import argparse
import os
import time

import torch

from topoml.nets import rg
from topoml.nets.registry import count_parameters
from topoml.nets.rg import AuxiliaryHead, BaseNet, InvariantBaseNet
from topoml.train.trainer import (StandardizedEnergies, auxiliary_loss, auxiliary_targets, chern_class_loss, chern_loss,
                                  native_bfloat16, resolve_precision, symmetry_augmented)


def _step_fn(net, loss, augment, bf16=False, gather_padding=False, aux=False, *, batch=256):
    """One training step of ``net`` on a fixed random batch (with the options of a row of the table below)."""
    def source(_epoch):
        yield x, y

    x = torch.randn(batch, 4, 4, 3)
    y = torch.randint(-1, 2, (batch,)).float()
    aug = symmetry_augmented(source, seed=0) if augment else source
    if aux:  # the BdG energies of every batch (eigvalsh) and the second head
        net, loss = AuxiliaryHead(net, 16), auxiliary_loss(loss, 16)
        aug = auxiliary_targets(aug, StandardizedEnergies(x.double().numpy()))
    opt = torch.optim.AdamW(net.parameters(), lr=1e-3)

    def step():
        if gather_padding:  # the periodic padding of sessions 5-7 (index gather at every size)
            rg._PAD_MATMUL_MAX_SITES, keep = 0, rg._PAD_MATMUL_MAX_SITES
        for xb, yb in aug(0):
            opt.zero_grad(set_to_none=True)
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
                out = net(xb)
            loss(out.float(), yb).backward()
            opt.step()
        if gather_padding:
            rg._PAD_MATMUL_MAX_SITES = keep

    return step


def main() -> None:
    torch.manual_seed(0)
    nets = {
        "invariant w64 x 3 blocks, classes, augmented, bfloat16, + BdG-energy auxiliary targets (default since "
        "session 23, where native)": (InvariantBaseNet(blocks=3), chern_class_loss, True, True, False, True),
        "invariant w96 x 6 blocks, classes, augmented, bfloat16, + BdG-energy auxiliary targets (default, sessions "
        "14-22)": (InvariantBaseNet(width=96), chern_class_loss, True, True, False, True),
        "invariant w96 x 6 blocks, classes, augmented, bfloat16 (default, sessions 8-13)":
            (InvariantBaseNet(width=96), chern_class_loss, True, True),
        "invariant w96 x 6 blocks, classes, augmented, float32": (InvariantBaseNet(width=96), chern_class_loss, True),
        "invariant w96 x 6 blocks, classes, augmented, float32, + BdG-energy auxiliary targets (session 14)":
            (InvariantBaseNet(width=96), chern_class_loss, True, False, False, True),
        "invariant w192 x 6 blocks, classes, augmented, float32, + BdG-energy auxiliary targets (shipped 4x4 base, "
        "session 15, trained on a GPU)": (InvariantBaseNet(width=192), chern_class_loss, True, False, False, True),
        "invariant w64 x 6 blocks, classes, augmented, float32":
            (InvariantBaseNet(), chern_class_loss, True),
        "invariant w64 x 6 blocks, classes, augmented, float32, + BdG-energy auxiliary targets (ablation row "
        "invariant)": (InvariantBaseNet(), chern_class_loss, True, False, False, True),
        "invariant w64 x 3 blocks, classes, augmented, float32, + BdG-energy auxiliary targets (ablation row "
        "shallow_equal_time, session 22)": (InvariantBaseNet(blocks=3), chern_class_loss, True, False, False, True),
        "invariant w64 x 6 blocks, classes, augmented, float32, index-gather padding (sessions 5-7)":
            (InvariantBaseNet(), chern_class_loss, True, False, True),
        "paper ResNet w256 depth 9, regression (the paper's)": (BaseNet(width=256), chern_loss, False),
        "paper ResNet w256 depth 9, regression, bfloat16": (BaseNet(width=256), chern_loss, False, True),
        "paper ResNet w64 depth 9, regression (narrow2022)": (BaseNet(width=64), chern_loss, False),
    }
    if args.float32_only:  # bfloat16 rows take minutes where the CPU emulates bfloat16
        nets = {k: v for k, v in nets.items() if not (len(v) > 3 and v[3])}
    steps = {k: _step_fn(*v, batch=args.batch) for k, v in nets.items()}
    nets = {k: v[0] for k, v in nets.items()}
    for s in steps.values():  # warm-up
        s()
    seconds = dict.fromkeys(steps, 0.0)
    for _ in range(args.steps):  # interleaved rounds
        for k, s in steps.items():
            t = time.perf_counter()
            s()
            seconds[k] += time.perf_counter() - t
    ref = args.steps * args.batch / seconds["paper ResNet w256 depth 9, regression (the paper's)"]
    print(f"threads {args.threads}, batch {args.batch}, {args.steps} steps each, load {os.getloadavg()[0]:.1f}, "
          f"native bfloat16: {'yes' if native_bfloat16('cpu') else 'no'} "
          f"(precision = \"auto\" trains in {resolve_precision('auto', 'cpu')} here)")
    print("| network | parameters | samples/s | vs the paper's |")
    print("|---|---|---|---|")
    for k, net in nets.items():
        rate = args.steps * args.batch / seconds[k]
        print(f"| {k} | {count_parameters(net):,} | {rate:,.0f} | {rate / ref:.2f}x |")


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--float32-only", action="store_true", help="leave out the bfloat16 rows")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    main()
