"""One timed GPU run of issue 10 (session 15): 4×4 base networks of margalit2022 trained at the paper's scale of
samples, with fresh Bott labels computed beside the training on the machine's CPU cores.

Not part of the CPU pipeline (``topoml reproduce margalit2022`` stays the deliverable); this is the "extra row" a lent
GPU buys (issue 10, Compute). Usage (the session-15 run, on a 16-core H200 machine):

    OPENBLAS_NUM_THREADS=1 PYTHONPATH=src python scripts/gpu_base_4x4.py --out OUT --budget 540 --workers 14 \
        --batch 4096 --lr 2e-3 --models w96:96:6,w192:192:6
    # then the fine-tuning run of the width-192 network (README, session 15)
    topoml generate holdout4.toml --out D/holdout4 --workers 14   # likewise holdout4_bb (the profile's held-out sets)
    OPENBLAS_NUM_THREADS=1 PYTHONPATH=src python scripts/gpu_base_4x4.py --out OUT2 --budget 200 --final-reserve 25 \
        --workers 14 --batch 4096 --lr 2e-4 --warmup 0.15 --min-start 2000000 --models w192:192:6 \
        --init w192=OUT/w192 --seed 15002 --eval-data holdout4=D/holdout4 --eval-data holdout4_bb=D/holdout4_bb
    # session 16: two more fine-tuning runs, each from the one before (OUT3 then OUT4 is the shipped 4x4 base)
    OPENBLAS_NUM_THREADS=1 PYTHONPATH=src python scripts/gpu_base_4x4.py --out OUT3 --budget 525 --final-reserve 30 \
        --workers 14 --batch 4096 --lr 7e-4 --warmup 0.1 --min-start 1000000 --models w192:192:6 \
        --init w192=OUT2/w192 --seed 15003 --eval-every 120 --eval-data holdout4=D/holdout4 --eval-data holdout4_bb=D/holdout4_bb
    OPENBLAS_NUM_THREADS=1 PYTHONPATH=src python scripts/gpu_base_4x4.py --out OUT4 --budget 215 --final-reserve 25 \
        --workers 14 --batch 4096 --lr 2e-4 --warmup 0.15 --min-start 1000000 --models w192:192:6 \
        --init w192=OUT3/w192 --seed 15004 --eval-every 100 --eval-data holdout4=D/holdout4 --eval-data holdout4_bb=D/holdout4_bb
    # the next lease (prepared in session 16): measure the step's variants first (~1-2 min), then go on from the
    # shipped base on any machine (--conv auto times both convolution routes first; --compile if the benchmark says so)
    python benchmarks/bench_gpu_base.py --json OUT5/bench.json
    OPENBLAS_NUM_THREADS=1 PYTHONPATH=src python scripts/gpu_base_4x4.py --out OUT5 --budget 420 ... --lr 5e-4 \
        --models w192:192:6 --init w192=src/topoml/weights/margalit2022_chern.safetensors --seed 15005 --conv auto

On the ``device`` tool's machine (no pydantic there): ``bash scripts/gpu_wheels.sh`` here once (the wheels into the
git-excluded ``.whl/``), carry ``.whl`` (and a folder with the held-out sets' TOMLs: the default profile's
``holdout4`` / ``holdout4_bb`` lines), and start the command with
``python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/site .whl/*.whl;
export PYTHONPATH=/tmp/site:$PWD/src``.

What it does, in one process plus a pool of ``--workers`` labelling processes:

* the pool draws boundary-biased 4×4 lattices in chunks (chunk ``i`` from the generator seeded by ``(seed, i)``,
  :func:`topoml.data.sampling.sample_lattices`), and labels each with :func:`topoml.invariants.bott_spectrum`
  (label = ``rint(Σ θ / 2π)``, plus the 16 positive BdG energies, the auxiliary targets); first it labels the two
  test sets of the session-13/14 pilots (50,000 uniform lattices of seed 13002, 50,000 boundary-biased of seed 13003,
  ``/work/pilots/s13/gen_aux.py``: chunks of 10,000 from ``SeedSequence(seed).spawn(5)``), so that their figures compare with the pilot table;
* the training starts once ``--min-start`` lattices are labelled and draws every batch uniformly from all the
  lattices labelled so far (the set grows during the run), with a fresh random element of the label's 64-element
  symmetry group per lattice (:func:`topoml.train.random_symmetries`, on the GPU);
* every model of ``--models`` (``name:width:blocks``, :class:`topoml.nets.rg.InvariantBaseNet` with a class head and
  an :class:`~topoml.nets.rg.AuxiliaryHead` on the standardized energies) takes a step on the same batch: AdamW,
  bfloat16 autocast, a one-cycle schedule over wall-clock time (5 % warm-up, then cosine to 0) that ends at
  ``--budget`` seconds minus the final evaluation;
* ``--init NAME=STEM`` starts a model from the weights of an earlier run (a fine-tuning run: a new ``--seed`` for
  fresh lattices, a smaller ``--lr``, ``--warmup``), or from the 4×4 base of a Chern model file
  (``--init w192=src/topoml/weights/margalit2022_chern.safetensors`` goes on from the shipped base on any machine,
  ``--models w192:192:6``); ``--eval-data NAME=DIR`` adds dataset folders of
  ``topoml generate`` (the held-out sets) to the final scores, which are computed in float32 without TF32;
* every ``--eval-every`` seconds it scores each model on the two test sets (float32) and writes its weights
  (``OUT/<name>.safetensors``, the wrapped net's ``state_dict`` alone, in shards of at most 15 MB) and
  ``OUT/results.json`` (config, versions, the learning curve, throughput, labels made); at the end the same with the
  group-averaged scores.

The number of steps is what the time allows, so the run is not bit-reproducible (the data are: chunk ``i`` always
holds the same lattices); ``results.json`` records the steps and samples each model took.
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import multiprocessing as mp
import os
import platform
import queue
import sys
import threading
import time

import numpy as np

TEST_SETS = {"test_u": ("uniform", 13002), "test_bb": ("boundary_biased", 13003)}
TEST_CHUNK = 5_000


def _label(x: np.ndarray):
    from topoml.invariants import bott_spectrum

    sp = bott_spectrum(x, workers=1)
    y = np.rint(sp.phases.sum(-1) / (2 * np.pi)).astype(np.int8)
    return y, sp.energies.astype(np.float32)


def label_task(task):
    """Worker: ``("test", name, k, x)`` labels given lattices; ``("train", i, n, seed)`` draws chunk ``i`` too."""
    from topoml.data.sampling import SamplingSpec, sample_lattices

    if task[0] == "test":
        _, name, k, x = task
        y, e = _label(x)
        return "test", name, k, x, y, e
    _, i, n, seed = task
    rng = np.random.default_rng([seed, i])
    x = sample_lattices(n, SamplingSpec(lattice_size=4, averages="boundary_biased"), rng=rng).astype(np.float32)
    y, e = _label(x)
    return "train", i, None, x, y, e


def _tasks(args, tests):
    for name, x in tests.items():  # test chunks first: the training waits for them
        for k in range(0, len(x), TEST_CHUNK):
            yield ("test", name, k, x[k:k + TEST_CHUNK])
    for i in range(100_000):
        yield ("train", i, args.chunk, args.seed)


def load_run_weights(stem: str) -> tuple[dict, dict]:
    """The weights a run saved under ``stem`` (``stem.safetensors`` or its shards ``stem.part*.safetensors``) and
    their metadata (``kwargs``, ``steps``, ``samples``, ``init``); ``SystemExit`` when there are none.

    ``stem`` may also name a margalit2022 Chern model file (``….safetensors``, e.g. the packaged
    ``src/topoml/weights/margalit2022_chern.safetensors``): then its 4×4 base network, with the training record of
    the model's metadata (``steps``, ``samples``, and ``n_labelled``, the 4×4 lattices it was trained on), so that a
    GPU session can go on from the shipped base on a fresh machine (``--init w192=src/topoml/...``)."""
    import glob

    from safetensors import safe_open

    if stem.endswith(".safetensors"):
        if not os.path.isfile(stem):
            raise SystemExit(f"no model file {stem}")
        with safe_open(stem, "pt") as h:
            head = h.metadata() or {}
            if "topoml_net" not in head:
                raise SystemExit(f"{stem} is not a topoml model file")
            spec, info = json.loads(head["topoml_net"]), json.loads(head.get("topoml_metadata", "{}"))
            if spec.get("name") != "margalit2022.chern":
                raise SystemExit(f"{stem} holds a {spec.get('name')!r} network, not a margalit2022 Chern model")
            state = {k[len("base."):]: h.get_tensor(k) for k in h.keys() if k.startswith("base.")}
        base = info.get("base", {})
        return state, {"kwargs": {k: v for k, v in spec["kwargs"]["base"].items() if k != "symmetrize"},
                       "steps": base.get("steps", 0), "samples": base.get("samples_seen", 0), "init": None,
                       "n_labelled": info.get("train_samples", {}).get("4x4")}
    files = sorted(glob.glob(stem + ".safetensors")) or sorted(glob.glob(stem + ".part*.safetensors"))
    if not files:
        raise SystemExit(f"no weights {stem}.safetensors or {stem}.part*.safetensors")
    state, meta = {}, {}
    for f in files:
        with safe_open(f, "pt") as h:
            meta = json.loads(h.metadata()["config"])
            state.update({k: h.get_tensor(k) for k in h.keys()})
    return state, meta


def _save_sharded(state: dict, path_stem: str, meta: dict, limit: int = 15_000_000) -> list[str]:
    from safetensors.torch import save_file

    shards, cur, size = [], {}, 0
    for k, v in state.items():
        nbytes = v.numel() * v.element_size()
        if cur and size + nbytes > limit:
            shards.append(cur)
            cur, size = {}, 0
        cur[k] = v.detach().float().cpu().contiguous()
        size += nbytes
    shards.append(cur)
    names = []
    for j, sh in enumerate(shards):
        name = f"{path_stem}.safetensors" if len(shards) == 1 else f"{path_stem}.part{j}.safetensors"
        save_file(sh, name + ".tmp", metadata={"config": json.dumps(meta), "shard": f"{j}/{len(shards)}"})
        os.replace(name + ".tmp", name)
        names.append(os.path.basename(name))
    return names


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--budget", type=float, default=500.0, help="seconds from start to the end of the final save")
    ap.add_argument("--final-reserve", type=float, default=30.0, help="seconds kept for the final evaluation")
    ap.add_argument("--workers", type=int, default=14)
    ap.add_argument("--chunk", type=int, default=20_000)
    ap.add_argument("--seed", type=int, default=15001)
    ap.add_argument("--models", default="w96:96:6,w192:192:6")
    ap.add_argument("--batch", type=int, default=2048)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--aux-weight", type=float, default=1.0)
    ap.add_argument("--min-start", type=int, default=200_000)
    ap.add_argument("--capacity", type=int, default=60_000_000)
    ap.add_argument("--eval-every", type=float, default=60.0)
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--conv", choices=("conv", "gemm", "auto"), default="conv",
                    help="how the training step computes the 3x3 convolutions (topoml.nets.rg.set_conv_impl; the "
                    "evaluations always use conv); auto: the faster for each model, timed on 20 steps of a copy "
                    "before the training (benchmarks/bench_gpu_base.py measures more variants)")
    ap.add_argument("--compile", action="store_true", help="torch.compile the training step's network (its compile "
                    "time counts against --budget)")
    ap.add_argument("--warmup", type=float, default=0.05, help="fraction of the schedule spent warming up")
    ap.add_argument("--init", action="append", default=[], metavar="NAME=STEM",
                    help="start model NAME from weights STEM(.safetensors | .part*.safetensors) of an earlier run")
    ap.add_argument("--eval-data", action="append", default=[], metavar="NAME=DIR",
                    help="also score the final networks on a dataset folder of `topoml generate` (float32, no TF32)")
    ap.add_argument("--test-n", type=int, default=50_000, help="lattices of each test set (the first ones)")
    ap.add_argument("--check", default=None, help="npz with the local pilot test labels (y_u, y_bb, sums of x)")
    args = ap.parse_args()
    try:  # bad options fail here, before any labelling
        specs = [(n, int(w), int(b)) for n, w, b in (m.split(":") for m in args.models.split(","))]
        inits = dict(a.split("=", 1) for a in args.init)
        eval_data = dict(a.split("=", 1) for a in args.eval_data)
    except ValueError:
        raise SystemExit("--models is NAME:WIDTH:BLOCKS[,...]; --init NAME=STEM; --eval-data NAME=DIR") from None
    if not set(inits) <= {n for n, _, _ in specs}:
        raise SystemExit(f"--init names a model not in --models: {sorted(set(inits) - {n for n, _, _ in specs})}")
    t0 = time.time()
    os.makedirs(args.out, exist_ok=True)
    log_f = open(os.path.join(args.out, "log.txt"), "a")

    def log(*a):
        s = f"[{time.time() - t0:6.1f}s] " + " ".join(str(v) for v in a)
        print(s, flush=True)
        log_f.write(s + "\n")
        log_f.flush()

    from topoml.data.sampling import SamplingSpec, sample_lattices

    # the pilots' test sets: 5 chunks of 10,000 lattices, chunk k from SeedSequence(seed).spawn(5)[k]
    if not 0 < args.test_n <= 50_000:
        raise SystemExit(f"--test-n must be in 1..50000, got {args.test_n}")
    chunks = -(-args.test_n // 10_000)
    tests = {name: np.concatenate([sample_lattices(10_000, SamplingSpec(lattice_size=4, averages=kind),
                                                   rng=np.random.default_rng(s)).astype(np.float32)
                                   for s in np.random.SeedSequence(seed).spawn(5)[:chunks]])[:args.test_n]
             for name, (kind, seed) in TEST_SETS.items()}
    ctx = mp.get_context("spawn")
    pool = ctx.Pool(args.workers)
    q: queue.Queue = queue.Queue()
    stop = threading.Event()

    def collect():
        try:
            for r in pool.imap(label_task, _tasks(args, tests)):
                q.put(r)
                if stop.is_set():
                    return
        except Exception as exc:  # the pool was closed at the end, or a worker failed
            q.put(("error", repr(exc)))

    threading.Thread(target=collect, daemon=True).start()
    log("pool started", args.workers, "workers")

    import torch
    import torch.nn.functional as F

    from topoml.nets.rg import CHERN_CLASSES, AuxiliaryHead, InvariantBaseNet, set_conv_impl
    from topoml.train.trainer import random_symmetries

    dev = torch.device(args.device)
    torch.manual_seed(args.seed)
    if dev.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
        torch.backends.cudnn.benchmark = True
        log("gpu", torch.cuda.get_device_name(0), "torch", torch.__version__)
    cap = args.capacity
    X = torch.empty((cap, 4, 4, 3), dtype=torch.float32, device=dev)
    Y = torch.empty((cap,), dtype=torch.int64, device=dev)
    E = torch.empty((cap, 16), dtype=torch.float32, device=dev)
    n_avail = 0
    test_parts: dict = {name: {} for name in tests}
    e_mean = e_std = None
    errors: list[str] = []

    def drain(block: bool = False) -> None:
        nonlocal n_avail, e_mean, e_std
        while True:
            try:
                r = q.get(timeout=1.0) if block else q.get_nowait()
            except queue.Empty:
                return
            block = False
            if r[0] == "error":
                errors.append(r[1])
                log("label error", r[1])
                continue
            kind, key, k, x, y, e = r
            if kind == "test":
                test_parts[key][k] = (y, e)
                continue
            if e_mean is None:
                e_mean, e_std = e.mean(0), e.std(0) + 1e-6
            m = min(len(x), cap - n_avail)
            if m <= 0:
                continue
            X[n_avail:n_avail + m] = torch.from_numpy(x[:m]).to(dev)
            Y[n_avail:n_avail + m] = torch.from_numpy(y[:m].astype(np.int64)).to(dev)
            E[n_avail:n_avail + m] = torch.from_numpy(((e[:m] - e_mean) / e_std).astype(np.float32)).to(dev)
            n_avail += m

    while n_avail < args.min_start or any(len(p) < -(-args.test_n // TEST_CHUNK) for p in test_parts.values()):
        drain(block=True)
        if time.time() - t0 > args.budget / 2:
            raise SystemExit("labels too slow: " + str(n_avail))
    log("labelled", n_avail, "training lattices and the test sets; start training")
    test_x = {n: torch.from_numpy(x).to(dev) for n, x in tests.items()}
    test_y = {n: np.concatenate([test_parts[n][k][0] for k in sorted(test_parts[n])]).astype(np.int64) for n in tests}
    check = {}
    if args.check and os.path.exists(args.check) and args.test_n == 50_000:
        c = np.load(args.check)
        for n, key in (("test_u", "u"), ("test_bb", "bb")):
            check[n] = {"x_equal": bool(np.allclose(c["x_" + key], tests[n].reshape(len(tests[n]), -1).sum(1))),
                        "label_mismatches": int((c["y_" + key] != test_y[n]).sum())}
        log("check against the local pilot test sets", check)

    def pick_conv(view) -> tuple[str, dict]:
        """The faster convolution route of ``view``'s training step (forward + backward of a copy under the run's
        autocast, 20 timed steps after 5 on the first labelled lattices) and the seconds per step of each."""
        idx = torch.arange(args.batch, device=dev) % n_avail
        x = X[idx]
        times = {}
        for impl in ("conv", "gemm"):
            v = set_conv_impl(copy.deepcopy(view), impl)
            for i in range(25):
                if i == 5:
                    if dev.type == "cuda":
                        torch.cuda.synchronize()
                    t = time.perf_counter()
                with torch.autocast(device_type=dev.type, dtype=torch.bfloat16, enabled=dev.type == "cuda"):
                    out = v(x)
                out.float().square().mean().backward()
            if dev.type == "cuda":
                torch.cuda.synchronize()
            times[impl] = (time.perf_counter() - t) / 20
        return min(times, key=times.get), times

    models = {}
    for name, width, blocks in specs:
        net = InvariantBaseNet(width=width, blocks=blocks, hidden=128, head="classes")
        if name in inits:
            net.load_state_dict(load_run_weights(inits[name])[0])
            log("model", name, "starts from", inits[name])
        view = AuxiliaryHead(net.to(dev), 16, hidden=128).to(dev)
        conv, timing = (args.conv, None) if args.conv != "auto" else pick_conv(view)
        set_conv_impl(net, conv)
        if timing:
            log("model", name, "trains with conv =", conv, {k: f"{1e3 * v:.2f} ms" for k, v in timing.items()})
        kw = {"fused": True} if dev.type == "cuda" else {}
        opt = torch.optim.AdamW(view.parameters(), lr=args.lr, weight_decay=1e-4, **kw)
        models[name] = {"net": net, "view": view, "opt": opt, "fwd": torch.compile(view) if args.compile else view,
                        "steps": 0, "width": width, "blocks": blocks, "conv": conv, "conv_timing_s": timing,
                        "params": sum(p.numel() for p in net.parameters()), "loss": float("nan"),
                        "diverged": False}
    k0 = CHERN_CLASSES[0]
    results = {"args": vars(args), "python": platform.python_version(), "numpy": np.__version__,
               "torch": torch.__version__, "device": torch.cuda.get_device_name(0) if dev.type == "cuda" else "cpu",
               "test_sets": {n: {"kind": k, "seed": s, "n": args.test_n} for n, (k, s) in TEST_SETS.items()},
               "always_zero": {n: float((test_y[n] == 0).mean()) for n in tests}, "check": check, "curve": [],
               "models": {}}

    @torch.no_grad()
    def evaluate(sym: bool) -> dict:
        out = {}
        for name, m in models.items():
            net = m["net"]
            net.eval()
            net.symmetrize = sym
            set_conv_impl(net, "conv")
            res = {}
            for tn, tx in test_x.items():
                pred = torch.cat([net(tx[i:i + 8192]).argmax(1) for i in range(0, len(tx), 8192)]).cpu().numpy()
                res[tn] = float((pred + k0 == test_y[tn]).mean())
            net.symmetrize = False
            set_conv_impl(net, m["conv"])
            net.train()
            out[name] = res
        return out

    def save(final: bool) -> None:
        for name, m in models.items():
            meta = {"kwargs": m["net"].config, "steps": m["steps"], "samples": m["steps"] * args.batch,
                    "final": final, "init": inits.get(name)}
            m["files"] = _save_sharded(m["net"].state_dict(), os.path.join(args.out, name), meta)
            results["models"][name] = {k: v for k, v in m.items() if k not in ("net", "view", "opt", "fwd")}
        results["n_labelled"] = n_avail
        results["errors"] = errors
        results["elapsed_s"] = time.time() - t0
        if dev.type == "cuda":
            results["gpu_max_mem_gb"] = torch.cuda.max_memory_allocated() / 1e9
        with open(os.path.join(args.out, "results.json.tmp"), "w") as f:
            json.dump(results, f, indent=1)
        os.replace(os.path.join(args.out, "results.json.tmp"), os.path.join(args.out, "results.json"))

    t_train = time.time()
    t_end = t0 + args.budget - args.final_reserve
    T = t_end - t_train
    next_eval = t_train + args.eval_every
    next_log = t_train + 10
    step = 0
    while True:
        now = time.time()
        if now >= t_end:
            break
        frac = (now - t_train) / T
        w = args.warmup
        lr = (args.lr / 25 + (args.lr - args.lr / 25) * frac / w if frac < w
              else 0.5 * args.lr * (1 + math.cos(math.pi * (frac - w) / (1 - w))))
        if step % 50 == 0:
            drain()
        B = args.batch
        idx = torch.randint(0, n_avail, (B,), device=dev)
        x, y = random_symmetries(X[idx], Y[idx])  # the energies E[idx] are invariant
        e = E[idx]
        for m in models.values():
            if m["diverged"]:
                continue
            for g in m["opt"].param_groups:
                g["lr"] = lr
            with torch.autocast(device_type=dev.type, dtype=torch.bfloat16, enabled=dev.type == "cuda"):
                out = m["fwd"](x)
            out = out.float()
            loss = F.cross_entropy(out[:, :5], y - k0) + args.aux_weight * F.mse_loss(out[:, 5:], e)
            m["opt"].zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(m["view"].parameters(), 5.0)
            m["opt"].step()
            m["steps"] += 1
            m["_loss"] = loss
        step += 1
        if now >= next_log or now >= next_eval:
            for name, m in models.items():
                if not m["diverged"]:
                    m["loss"] = float(m["_loss"].item())
                    if not math.isfinite(m["loss"]):
                        m["diverged"] = True
                        log(name, "diverged at step", m["steps"])
                m.pop("_loss", None)
            log(f"step {step} lr {lr:.2e} labelled {n_avail} samples/model {step * B} "
                f"({step * B / (now - t_train):.0f}/s) losses",
                {n: round(m["loss"], 4) for n, m in models.items()})
            next_log = now + 10
        if now >= next_eval:
            acc = evaluate(False)
            results["curve"].append({"t": round(now - t0, 1), "step": step, "samples": step * B,
                                     "labelled": n_avail, "lr": lr, "acc": acc})
            log("eval", acc)
            save(final=False)
            next_eval = now + args.eval_every
    for m in models.values():
        m.pop("_loss", None)
    stop.set()
    pool.terminate()
    drain()
    results["train_s"] = time.time() - t_train
    results["steps"] = step
    if dev.type == "cuda":  # the final scores in float32
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
    if eval_data:
        from topoml.data.store import open_dataset

        for name, path in eval_data.items():
            with open_dataset(path) as ds:
                test_x[name] = torch.from_numpy(np.asarray(ds.inputs[:], dtype=np.float32)).to(dev)
                test_y[name] = np.asarray(ds.labels[:]).astype(np.int64)
                results.setdefault("eval_data", {})[name] = {
                    "path": path, "n": len(test_y[name]), "content_sha256": ds.content_sha256,
                    "always_zero": float((test_y[name] == 0).mean())}
    results["final"] = {"plain": evaluate(False), "group_averaged": evaluate(True)}
    log("final", json.dumps(results["final"]))
    save(final=True)
    log("done; labelled", n_avail, "steps", step, "samples/model", step * args.batch)


if __name__ == "__main__":
    sys.exit(main())
