"""The RG network's accuracy against lattice size N: margalit2022's open question (issue 13, item 5).

    python benchmarks/rg_accuracy_vs_size.py --out runs/rg-vs-size [--sizes 8 16 32 64 128] [--n 200]
        [--chunk 10] [--bott-max 32] [--kpm-min 64] [--seed 13] [--weights FILE] [--workers 2]
        [--engine process|dask|serial] [--scheduler ADDR] [--no-progress]

For each N of ``--sizes``, ``--n`` lattices of the margalit2022 *uniform* test distribution, with the μ
disorder width scaled with N (``0.3·N/4``; ``docs/conventions-margalit2022.md``), drawn exactly as the
reproduction's test sets are: the dataset definition of
:func:`topoml.experiments.margalit2022.dataset_config` (seed ``derive_seed(--seed, "rg-vs-size", N)``,
one shard per chunk of ``--chunk`` lattices), read shard by shard with
:func:`topoml.data.generate.shard_inputs` (float32 inputs, as stored in a dataset). Each lattice gets

* labels, each with its certificate (gap, certified flag; ``chern_numbers``): the certified
  spectral-localizer index at every N, the dense Bott index for N <= ``--bott-max``, and the KPM local
  Chern marker (an estimate with a stochastic error, never certified; seed ``derive_seed(--seed,
  "rg-vs-size-kpm", N, chunk)``) for N >= ``--kpm-min`` (0: never), a second label where Bott is out of
  reach;
* the Chern network's answer and confidence (``predict_chern``; the packaged ``base ∘ RG`` weights or
  ``--weights``).

Per N the report gives the network's accuracy against each label, the two answers that ignore the
disorder (``chern_baselines``: "always 0" and "clean phase of the averages") against the reference
label, the agreement between every pair of labels, the label histograms, the certified fractions, 95 %
Wilson intervals (``scipy.stats.binomtest``), and the time per lattice of each method (labels measured
inside the jobs, one thread each; the network in the main process; on a loaded machine compare ratios
only). The network counts as useful at N when its interval lies above the intervals of both baselines,
against the reference label: Bott where it was computed (exact on the torus, and the physical label where
the two disagree at small N: README, "Large lattices"), else the localizer.

Output (a :class:`topoml.runs.rundir.RunDir` at ``--out``): ``report.md`` (tables and figure),
``metrics.json`` (every number), ``summary.json`` (headline accuracies), ``figures/accuracy_vs_size.png``
(accuracy against N, log₂ axis) and one ``jobs/N0032-c0003-bott/result.json`` per (size, chunk, label
method): per-lattice labels, certificates and the labelling time. The report is rewritten after each
size, so it grows while a long study runs.

Resumable and extensible: the labels are the expensive part and run as jobs of the run directory
(``RunDir.run_jobs`` on the ``topoml.runs.executor`` engines), one job per (N, chunk, method), each stored
atomically when it finishes; a kill loses at most the jobs in flight and rerunning the same command skips
the finished ones. The run's configuration is what defines the lattices (``--n``, ``--chunk``,
``--seed``): another one on the same ``--out`` is refused, while more sizes, a larger ``--bott-max`` or a
``--kpm-min`` only add jobs. The network is scored when the report is written, never stored in a job: a
rerun with other ``--weights`` re-scores every size in seconds without relabelling. Lattices, labels and
predictions are a function of the options above, never of ``--workers`` or ``--engine``. Bad options end
with a one-line message and exit status 2.
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import math
import os
import sys
import time
from pathlib import Path

if __name__ == "__main__":  # one thread per library before any loads, as in the worker processes (with one
    # worker the jobs run in this process, which loads MKL and torch later)
    from topoml.runs.executor import THREAD_VARS

    os.environ.update(dict.fromkeys(THREAD_VARS, "1"))

import numpy as np  # noqa: E402

#: Methods that label the lattices, in report order (Bott and the localizer are exact and certified; KPM is
#: a stochastic estimate, never certified).
LABELS = ("bott", "localizer", "kpm")
#: Pairs of labels whose agreement is reported.
PAIRS = (("bott", "localizer"), ("bott", "kpm"), ("localizer", "kpm"))
NAMES = {"bott": "Bott", "localizer": "localizer", "kpm": "KPM"}
#: The two answers that ignore the disorder (``topoml.evaluate.metrics.chern_baselines``).
BASELINES = {"always_zero": "always 0", "clean_phase": "clean phase of the averages"}
FIGURE = "accuracy_vs_size"


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors (no usage dump)."""

    def error(self, message: str):  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    from topoml.cli.types import add_engine_options, nonnegative_int, positive_int

    p = _Parser(prog="rg_accuracy_vs_size", description="Accuracy of the RG network against lattice size N "
                "(margalit2022's open question), with exact labels, baselines and error bars.")
    p.add_argument("--out", required=True, help="run folder (created; rerun the same command to resume)")
    p.add_argument("--sizes", type=positive_int, nargs="+", default=[8, 16, 32, 64, 128],
                   help="lattice sizes N = 4·2^k (default: 8 16 32 64 128)")
    p.add_argument("--n", type=positive_int, default=200, help="lattices per size (default 200)")
    p.add_argument("--chunk", type=positive_int, default=10,
                   help="lattices per job (the unit a kill can lose; part of the draw; default 10)")
    p.add_argument("--bott-max", type=nonnegative_int, default=32,
                   help="largest N labelled by the dense Bott index too (default 32)")
    p.add_argument("--kpm-min", type=nonnegative_int, default=64,
                   help="smallest N labelled by the KPM Chern marker too (default 64; 0: never)")
    p.add_argument("--seed", type=nonnegative_int, default=13, help="root seed (default 13)")
    p.add_argument("--weights", default=None, help="network weights (.safetensors; default: the packaged base∘RG)")
    p.add_argument("--workers", type=positive_int, default=1, help="worker processes (default 1)")
    add_engine_options(p)
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    return p


# ------------------------------------------------------------------------------------------ plan
def study_config(args: argparse.Namespace) -> dict:
    """The run's configuration: what defines its lattices (``n``, ``chunk``, ``seed``; not the sizes, label
    methods, network, workers or engine, which only select jobs or re-score), checked with the options.

    Raises
    ------
    ConfigError
        Repeated sizes; more chunks than a dataset may have.
    """
    from topoml.data.generate import GenerateConfig
    from topoml.errors import ConfigError

    if len(set(args.sizes)) != len(args.sizes):
        raise ConfigError(f"--sizes repeats a size: {' '.join(map(str, args.sizes))}")
    config = {"study": "rg_accuracy_vs_size", "n": args.n, "chunk": args.chunk, "seed": args.seed}
    for N in args.sizes:
        GenerateConfig.from_dict(dataset(config, N))  # e.g. too many chunks: fail before any work
    return config


def network_info(args: argparse.Namespace) -> dict:
    """The network to score (path or "packaged", sha256), checked against every size.

    Raises
    ------
    CheckpointError
        Missing or foreign weights file.
    ShapeError
        A size the network cannot take (not 4·2^k).
    """
    from topoml.errors import CheckpointError
    from topoml.evaluate.predict import check_net_size, packaged_weights
    from topoml.train.checkpoint import read_model_metadata

    path = Path(args.weights).resolve() if args.weights else packaged_weights()
    if not path.is_file():
        raise CheckpointError(f"weights file {path} not found")
    meta = read_model_metadata(path)
    for N in args.sizes:
        check_net_size(meta, N, f"--sizes {N}")
    return {"path": str(path) if args.weights else "packaged", "file": str(path),
            "sha256": hashlib.sha256(path.read_bytes()).hexdigest()}


def dataset(config: dict, N: int) -> dict:
    """The lattices of size ``N``: a margalit2022 uniform test set (:func:`~topoml.data.generate.GenerateConfig`
    mapping), ``--chunk`` lattices per shard, seeded by ``derive_seed(seed, "rg-vs-size", N)``."""
    from topoml.experiments.margalit2022 import DataSpec, dataset_config
    from topoml.rng import derive_seed

    spec = DataSpec(lattice_size=N, averages="uniform", n_samples=config["n"], shard_size=config["chunk"],
                    seed=derive_seed(config["seed"], "rg-vs-size", N))
    return dataset_config(f"rg-vs-size-{N}", spec)


def methods(args: argparse.Namespace, N: int) -> tuple[str, ...]:
    """The label methods of size ``N`` (:data:`LABELS` order)."""
    use = {"bott": N <= args.bott_max, "localizer": True, "kpm": 0 < args.kpm_min <= N}
    return tuple(m for m in LABELS if use[m])


def plan(config: dict, N: int, methods: tuple[str, ...]) -> list[dict]:
    """The jobs of size ``N``: one per (chunk of lattices = a shard of :func:`dataset`, label method)."""
    from topoml.rng import derive_seed

    data = dataset(config, N)
    return [{"id": f"N{N:04d}-c{k:04d}-{m}", "N": N, "chunk": k, "method": m, "dataset": data,
             **({"seed": derive_seed(config["seed"], "rg-vs-size-kpm", N, k)} if m == "kpm" else {})}
            for k in range(math.ceil(config["n"] / config["chunk"])) for m in methods]


# ------------------------------------------------------------------------------------------ jobs
@functools.lru_cache(maxsize=1)
def _start_localizer() -> None:
    """Start MKL PARDISO once per process (about 0.5 s), outside the timed labelling."""
    from topoml.hamiltonians.pip import clean_lattice
    from topoml.invariants import chern_numbers

    chern_numbers(clean_lattice(4, -1.0, 0.2, 0.15), method="localizer")


def label_chunk(job: dict) -> tuple[dict, dict[str, bytes]]:
    """The job of one (chunk, method) (a top-level function for the process and Dask workers): draw the
    chunk's lattices and label them. Returns the result of :meth:`~topoml.runs.rundir.RunDir.run_jobs`:
    per-lattice labels and certificates as lists, and the labelling ``seconds``."""
    import torch  # noqa: F401 - torch before MKL (PARDISO) in every process, as in the main process, which
    # scores the network: the last bits of a localizer gap depend on the order the two libraries loaded in

    from topoml.data.generate import shard_inputs
    from topoml.invariants import chern_numbers
    from topoml.runs.rundir import to_jsonable

    if job["method"] == "localizer":
        _start_localizer()
    x32, _ = shard_inputs(job["dataset"], job["chunk"])
    t = time.perf_counter()
    r = chern_numbers(x32.astype(np.float64), method=job["method"],
                      **({"seed": job["seed"]} if job["method"] == "kpm" else {}))
    seconds = time.perf_counter() - t
    def floats(a) -> list:  # NaN (a certificate the method does not have) is stored as null
        return [None] * len(x32) if a is None else [float(v) if np.isfinite(v) else None for v in a]

    out = {"N": job["N"], "chunk": job["chunk"], "n": len(x32), "method": job["method"], "seconds": seconds,
           "chern": r.chern, "gap": floats(r.gap), "deviation": floats(r.deviation), "certified": r.certified,
           "error": floats(r.error)}
    return to_jsonable(out), {}


def gather(results: list[dict]) -> dict[str, np.ndarray]:
    """Concatenate the per-lattice lists of one method's chunks (in chunk order) into arrays."""
    return {k: np.asarray([v for r in results for v in r[k]], dtype=float if k in ("gap", "deviation", "error")
                          else None)
            for k in ("chern", "gap", "deviation", "certified", "error")}


def score(net, x32: np.ndarray) -> dict:
    """The network's Chern numbers, outputs and confidences on lattices ``x32`` (float32), and its time per
    lattice (this process)."""
    from topoml.evaluate.predict import predict_chern

    t = time.perf_counter()
    chern, raw, confidence = predict_chern(net, x32)
    return {"chern": chern, "output": raw, "confidence": confidence,
            "seconds": (time.perf_counter() - t) / len(x32)}


# ------------------------------------------------------------------------------------------ numbers
def rate(k: int, n: int) -> dict:
    """A binomial proportion ``k/n`` with its 95 % Wilson interval."""
    from scipy.stats import binomtest

    ci = binomtest(int(k), int(n)).proportion_ci(confidence_level=0.95, method="wilson")
    return {"value": k / n, "k": int(k), "n": int(n), "ci95": [float(ci.low), float(ci.high)]}


def size_summary(N: int, labels: dict[str, dict[str, np.ndarray]], net: dict, x: np.ndarray,
                 seconds: dict[str, float]) -> dict:
    """All numbers of one size: its ``labels`` (method → :func:`gather` arrays), the network's :func:`score`
    ``net``, its lattices ``x`` (n, N, N, 3) and the labelling ``seconds`` per lattice of each method."""
    from topoml.evaluate.metrics import accuracy, chern_baselines

    pred = net["chern"]
    n = len(pred)
    row: dict = {"N": N, "n": n, "labels": {}, "agreement": {}}
    for m, a in labels.items():
        y, cert = a["chern"].astype(np.int64), a["certified"].astype(bool)
        base = chern_baselines(x, y)
        values, counts = np.unique(y, return_counts=True)
        row["labels"][m] = {
            "histogram": {int(v): int(c) for v, c in zip(values, counts)},
            "certified": rate(cert.sum(), n),
            "min_gap": float(np.nanmin(a["gap"])) if np.isfinite(a["gap"]).any() else None,
            "median_error": float(np.median(a["error"])) if np.isfinite(a["error"]).any() else None,
            "network": rate(round(accuracy(pred, y) * n), n),
            "network_on_certified": rate(np.sum(pred[cert] == y[cert]), int(cert.sum())) if cert.any() else None,
            **{b: rate(round(base[b] * n), n) for b in BASELINES},
        }
    for p, q in PAIRS:
        if p in labels and q in labels:
            row["agreement"][f"{p}={q}"] = rate(np.sum(labels[p]["chern"] == labels[q]["chern"]), n)
    row["reference"] = "bott" if "bott" in row["labels"] else "localizer"
    ref = row["labels"][row["reference"]]
    row["network_beats_baselines"] = bool(ref["network"]["ci95"][0] > max(ref[b]["ci95"][1] for b in BASELINES))
    row["confidence_mean"] = float(np.mean(net["confidence"]))
    row["network"] = {"chern": net["chern"].tolist(), "confidence": np.asarray(net["confidence"]).tolist()}
    row["seconds_per_lattice"] = {**seconds, "network": net["seconds"]}
    return row


# ------------------------------------------------------------------------------------------ report
def _pct(r: dict | None) -> str:
    if r is None:
        return "—"
    lo, hi = r["ci95"]
    return f"{100 * r['value']:.1f} % [{100 * lo:.1f}, {100 * hi:.1f}]"


def format_tables(rows: list[dict]) -> str:
    """Three markdown tables: the network against the reference label and the baselines; the network
    against every label and the labels' agreement; labels, certificates and time per lattice."""
    lines = ["| N | n | reference label | network | always 0 | clean phase of the averages | network useful |",
             "|---|---|---|---|---|---|---|"]
    for r in rows:
        ref = r["labels"][r["reference"]]
        lines.append(f"| {r['N']} | {r['n']} | {NAMES[r['reference']]} | {_pct(ref['network'])} | "
                     f"{_pct(ref['always_zero'])} | {_pct(ref['clean_phase'])} | "
                     f"{'yes' if r['network_beats_baselines'] else 'no'} |")
    lines += ["", "| N | " + " | ".join(f"network vs {NAMES[m]}" for m in LABELS) + " | "
              + " | ".join(f"{NAMES[p]} = {NAMES[q]}" for p, q in PAIRS) + " |",
              "|---|" + "---|" * (len(LABELS) + len(PAIRS))]
    for r in rows:
        cells = [_pct(r["labels"][m]["network"]) if m in r["labels"] else "—" for m in LABELS]
        cells += [_pct(r["agreement"].get(f"{p}={q}")) for p, q in PAIRS]
        lines.append(f"| {r['N']} | " + " | ".join(cells) + " |")
    lines += ["", "| N | labels (C: count) | certified | min gap | KPM median error | network on certified "
              "(reference) | mean confidence | s per lattice |", "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lab = r["labels"]
        hist = "; ".join(f"{NAMES[m]} " + ", ".join(f"{c}: {k}" for c, k in lab[m]["histogram"].items())
                         for m in lab)
        cert = ", ".join(f"{NAMES[m]} {_pct(lab[m]['certified'])}" for m in lab if m != "kpm")
        gap = ", ".join(f"{NAMES[m]} {lab[m]['min_gap']:.2g}" for m in lab if lab[m]["min_gap"] is not None)
        err = f"{lab['kpm']['median_error']:.3f}" if "kpm" in lab and lab["kpm"]["median_error"] is not None else "—"
        sec = ", ".join(f"{NAMES.get(m, m)} {v:.3g}" for m, v in r["seconds_per_lattice"].items())
        lines.append(f"| {r['N']} | {hist} | {cert} | {gap} | {err} | "
                     f"{_pct(lab[r['reference']]['network_on_certified'])} | {r['confidence_mean']:.3f} | {sec} |")
    return "\n".join(lines) + "\n"


def useful_up_to(rows: list[dict]) -> int | None:
    """The largest N up to which the network beats both baselines at every size (None: not even at the first)."""
    best = None
    for r in rows:
        if not r["network_beats_baselines"]:
            break
        best = r["N"]
    return best


def plot(rows: list[dict]):
    """Accuracy against N (log₂ axis): the network against each label with 95 % intervals, the baselines
    (against the reference label) and the agreement between labels. Returns the figure."""
    from topoml.plotting import line_plot, new_axes

    N = [r["N"] for r in rows]

    def series(get):
        vals = [get(r) for r in rows]
        y = np.array([np.nan if v is None else 100 * v["value"] for v in vals])
        err = np.array([[np.nan, np.nan] if v is None else [100 * (v["value"] - v["ci95"][0]),
                                                            100 * (v["ci95"][1] - v["value"])] for v in vals]).T
        return y, np.maximum(err, 0.0)  # an interval end equal to the value may round to the wrong side

    def lab(m, k):
        return lambda r: r["labels"][m][k] if m in r["labels"] else None

    main = {f"network vs {NAMES[m]}": series(lab(m, "network")) for m in LABELS
            if any(m in r["labels"] for r in rows)}
    axes = {"xlabel": "lattice size N", "ylabel": "accuracy (%)"}  # every call sets them
    ax = line_plot(N, {k: v[0] for k, v in main.items()}, errors={k: v[1] for k, v in main.items()},
                   title="RG network against lattice size (95 % Wilson intervals)", ax=new_axes(6.4, 4.2), **axes)
    line_plot(N, {f"{name} (reference label)": series(lambda r, b=b: r["labels"][r["reference"]][b])[0]
                  for b, name in BASELINES.items()}, style="--s", ax=ax, **axes)
    agree = {f"{NAMES[p]} = {NAMES[q]}": series(lambda r, k=f"{p}={q}": r["agreement"].get(k))[0] for p, q in PAIRS
             if any(f"{p}={q}" in r["agreement"] for r in rows)}
    line_plot(N, agree, style=":^", ax=ax, **axes)
    ax.set_xscale("log", base=2)
    ax.set_xticks(N, [str(v) for v in N])
    ax.minorticks_off()
    return ax.figure


def write_report(rd, config: dict, network: dict, rows: list[dict], args: argparse.Namespace) -> None:
    """``metrics.json``, ``summary.json``, the figure and ``report.md`` of the sizes done so far."""
    from topoml.runs.rundir import md_cell

    upto = useful_up_to(rows)
    net = {k: network[k] for k in ("path", "sha256")}
    rd.write_json("metrics.json", {"config": config, "network": net, "sizes": {str(r["N"]): r for r in rows},
                                   "useful_up_to": upto})
    rd.write_json("summary.json", {"network": net, "useful_up_to": upto, "accuracy": {
        str(r["N"]): {**{f"network_vs_{m}": r["labels"][m]["network"]["value"] if m in r["labels"] else None
                         for m in LABELS},
                      "reference": r["reference"],
                      "best_baseline_vs_reference": max(r["labels"][r["reference"]][b]["value"] for b in BASELINES)}
        for r in rows}})
    fig = rd.savefig(plot(rows), FIGURE)
    done = [r["N"] for r in rows]
    pending = [N for N in sorted(args.sizes) if N not in done]
    kpm = f"KPM local Chern marker (N ≥ {args.kpm_min}; an estimate, never certified)" if args.kpm_min else ""
    text = [
        "# RG network accuracy against lattice size (margalit2022's open question)", "",
        f"{config['n']} lattices per size of the margalit2022 uniform test distribution (μ disorder width 0.3·N/4), "
        f"seed {config['seed']}, {config['chunk']} per job; labels: certified spectral-localizer index (every N), "
        f"dense Bott index (N ≤ {args.bott_max}){', ' + kpm if kpm else ''}; network: {md_cell(net['path'])} "
        f"(sha256 {net['sha256'][:12]}…). Accuracies with 95 % Wilson intervals; baselines ignore "
        "the disorder (always 0; the clean phase at the lattice averages).", "",
        format_tables(rows),
        "Reference label: Bott where computed, else the localizer (they disagree at small N, where Bott is the "
        "physical one: README, \"Large lattices\").", "",
        f"The network beats both baselines (95 % intervals apart, reference label) up to N = {upto}." if upto else
        "The network does not beat both baselines (95 % intervals apart, reference label) at the smallest size.",
        "", f"![accuracy against N]({fig})", "",
        "Label times per lattice are measured inside the jobs (one thread each), the network's in the main process; "
        "on a shared machine compare ratios only.",
    ]
    if pending:
        text += ["", f"Not finished yet: N = {', '.join(map(str, pending))} (rerun the same command to resume)."]
    rd.write_text("report.md", "\n".join(text) + "\n")


# ------------------------------------------------------------------------------------------ driver
def run(args: argparse.Namespace) -> dict:
    """Run (or resume) the study; returns the numbers per size, ``useful_up_to`` and ``jobs_computed``."""
    import torch

    from topoml.cli.types import engine_of
    from topoml.data.generate import shard_inputs
    from topoml.evaluate.predict import load_chern_model
    from topoml.runs.rundir import RunDir

    config = study_config(args)
    network = network_info(args)
    engine = engine_of(args, "process")
    rows, computed = [], 0
    with RunDir(args.out, config, seed=config["seed"]) as rd:
        net = load_chern_model(None if network["path"] == "packaged" else network["file"])[0]
        threads = torch.get_num_threads()
        for N in sorted(args.sizes):
            jobs = plan(config, N, methods(args, N))
            todo = sum(rd.job_result(j["id"]) is None for j in jobs)
            computed += todo
            results = rd.run_jobs(jobs, label_chunk, workers=args.workers, engine=engine,
                                  scheduler_address=args.scheduler, progress=not args.no_progress,
                                  desc=f"N = {N}")
            chunks = sorted({j["chunk"] for j in jobs})
            x = np.concatenate([shard_inputs(dataset(config, N), k)[0] for k in chunks])
            labels, seconds = {}, {}
            for m in methods(args, N):
                res = [results[j["id"]] for j in jobs if j["method"] == m]
                labels[m] = gather(res)
                seconds[m] = sum(r["seconds"] for r in res) / len(x)
            torch.set_num_threads(1)  # the network timed on one thread, as the labels
            try:
                scores = score(net, x)
            finally:
                torch.set_num_threads(threads)
            rows.append(size_summary(N, labels, scores, x.astype(np.float64), seconds))
            write_report(rd, config, network, rows, args)
            r = rows[-1]
            ref = r["labels"][r["reference"]]
            best = max((ref[b] for b in BASELINES), key=lambda v: v["value"])
            print(f"N = {N} ({todo} of {len(jobs)} label jobs computed): network vs {r['reference']} "
                  f"{_pct(ref['network'])}, best baseline {_pct(best)}", flush=True)
        print(f"report: {rd.path / 'report.md'}", flush=True)
    return {"sizes": {r["N"]: r for r in rows}, "useful_up_to": useful_up_to(rows), "jobs_computed": computed}


def main(argv: list[str] | None = None) -> int:
    from topoml.errors import TopomlError

    args = build_parser().parse_args(argv)
    try:
        run(args)
    except TopomlError as e:
        print(f"rg_accuracy_vs_size: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("rg_accuracy_vs_size: interrupted (finished chunks are kept; rerun the same command to resume)",
              file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
