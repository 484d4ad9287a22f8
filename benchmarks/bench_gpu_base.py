"""Training-step throughput of the 4×4 base network on the machine's accelerator, for implementation variants of the
same network, in one run (issue 10, session 16; prepared for the next GPU lease, where ``scripts/gpu_base_4x4.py``
trains the width-192 base at 270,000 samples/s on one H200, by our count of its arithmetic about a tenth of its
bfloat16 dense peak).

    python benchmarks/bench_gpu_base.py [--device cuda] [--width 192] [--blocks 6] [--batch 4096] [--steps 100] \
        [--variants eager,channels_last,gemm,compile,compile_gemm] [--json OUT.json]

One step = what ``gpu_base_4x4.py`` does per batch: a fresh random symmetry of the label's group per lattice
(:func:`topoml.train.random_symmetries`), forward through :class:`~topoml.nets.rg.AuxiliaryHead` (class head + the 16
BdG energies) under bfloat16 autocast (CUDA; float32 elsewhere), cross-entropy + MSE, backward, gradient clipping,
fused AdamW. Every variant starts from a copy of the same weights and takes the same batches:

* ``eager``: the library's network as it is (circular padding by a 0/1 matrix product, then ``nn.Conv2d``);
* ``channels_last``: the same with channels-last weights (``module.to(memory_format=torch.channels_last)``);
* ``gemm``: each circular 3×3 convolution as one matrix product (:func:`topoml.nets.rg.set_conv_impl`: the 9
  neighbours of every site gathered into a ``(batch·sites, 9·channels)`` matrix times the ``(9·channels, out)``
  kernel; the same parameters, the same numbers up to rounding, checked by the first-step loss below);
* ``compile``, ``compile_gemm``: the above under ``torch.compile`` (its compile time is reported apart).

Prints per variant the first-step loss (float32 on a CPU: equal across variants to rounding), the compile or
warm-up time, and samples/s with the ratio to ``eager``; ``--json`` writes the same. The figure to carry between
machines is the ratio; what wins decides the options of the next GPU run (``scripts/gpu_base_4x4.py --conv gemm``,
``--compile``).
"""

from __future__ import annotations

import argparse
import copy
import json
import time

import torch
import torch.nn.functional as F

from topoml.nets.rg import CHERN_CLASSES, AuxiliaryHead, InvariantBaseNet, set_conv_impl
from topoml.train.trainer import random_symmetries

VARIANTS = ("eager", "channels_last", "gemm", "compile", "compile_gemm")


def build(variant: str, view: torch.nn.Module) -> tuple[torch.nn.Module, torch.nn.Module]:
    """``(trained module, callable)`` of a variant: a copy of ``view``, and what the step calls."""
    mod = copy.deepcopy(view)
    if variant == "channels_last":
        mod = mod.to(memory_format=torch.channels_last)
    if variant in ("gemm", "compile_gemm"):
        set_conv_impl(mod, "gemm")
    return mod, (torch.compile(mod) if variant.startswith("compile") else mod)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--width", type=int, default=192)
    ap.add_argument("--blocks", type=int, default=6)
    ap.add_argument("--batch", type=int, default=4096)
    ap.add_argument("--steps", type=int, default=100)
    ap.add_argument("--warmup", type=int, default=10)
    ap.add_argument("--variants", default=",".join(VARIANTS))
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    variants = args.variants.split(",")
    if not set(variants) <= set(VARIANTS) or not variants:
        raise SystemExit(f"--variants: a comma-separated subset of {','.join(VARIANTS)}")
    if args.steps < 1 or args.warmup < 0 or args.batch < 1:
        raise SystemExit("--steps >= 1, --warmup >= 0, --batch >= 1")
    dev = torch.device(args.device)
    cuda = dev.type == "cuda"
    torch.manual_seed(0)
    view = AuxiliaryHead(InvariantBaseNet(width=args.width, blocks=args.blocks, hidden=128, head="classes"), 16,
                         hidden=128).to(dev)
    gen = torch.Generator(device=dev).manual_seed(1)
    n_batches = 4  # the same few batches for every variant, cycled
    xs = [torch.rand(args.batch, 4, 4, 3, device=dev, generator=gen) * torch.tensor([8.0, 4.0, 0.1], device=dev)
          - torch.tensor([4.0, 2.0, -0.1], device=dev) for _ in range(n_batches)]
    ys = [torch.randint(-1, 2, (args.batch,), device=dev, generator=gen) for _ in range(n_batches)]
    es = [torch.randn(args.batch, 16, device=dev, generator=gen) for _ in range(n_batches)]
    k0 = CHERN_CLASSES[0]

    def sync():
        if cuda:
            torch.cuda.synchronize()

    rows = {}
    for variant in variants:
        mod, fn = build(variant, view)
        opt = torch.optim.AdamW(mod.parameters(), lr=1e-3, weight_decay=1e-4, **({"fused": True} if cuda else {}))
        sym = torch.Generator(device=dev).manual_seed(2)

        def step(i: int) -> torch.Tensor:
            x, y = random_symmetries(xs[i % n_batches], ys[i % n_batches], generator=sym)
            with torch.autocast(device_type=dev.type, dtype=torch.bfloat16, enabled=cuda):
                out = fn(x)
            out = out.float()
            loss = F.cross_entropy(out[:, :5], y - k0) + F.mse_loss(out[:, 5:], es[i % n_batches])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(mod.parameters(), 5.0)
            opt.step()
            return loss

        t = time.perf_counter()
        first = float(step(0).item())  # includes the compilation
        for i in range(1, args.warmup + 1):
            step(i)
        sync()
        t_first = time.perf_counter() - t
        t = time.perf_counter()
        for i in range(args.steps):
            step(i)
        sync()
        dt = time.perf_counter() - t
        rows[variant] = {"first_loss": first, "first_and_warmup_s": t_first,
                         "samples_per_s": args.steps * args.batch / dt}
        print(f"{variant:14s} first-step loss {first:.6f}  compile/warm-up {t_first:6.1f} s  "
              f"{rows[variant]['samples_per_s']:12,.0f} samples/s", flush=True)
    if "eager" in rows:
        for r in rows.values():
            r["ratio_to_eager"] = r["samples_per_s"] / rows["eager"]["samples_per_s"]
        print("ratios to eager:", {k: round(r["ratio_to_eager"], 2) for k, r in rows.items()})
    info = {"device": torch.cuda.get_device_name(dev) if cuda else "cpu", "torch": torch.__version__,
            "args": vars(args), "variants": rows}
    if args.json:
        with open(args.json, "w") as f:
            json.dump(info, f, indent=1)


if __name__ == "__main__":
    main()
