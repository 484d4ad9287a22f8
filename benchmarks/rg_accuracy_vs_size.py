"""The RG network's accuracy against lattice size N: margalit2022's open question (issue 13, item 5).

    python benchmarks/rg_accuracy_vs_size.py --out runs/rg-vs-size [--sizes 8 16 32 64 128] [--n 200]
        [--chunk 10] [--bott-max 32] [--seed 13] [--weights FILE] [--workers 2]
        [--engine process|dask|serial] [--scheduler ADDR] [--no-progress]

For each N of ``--sizes``, ``--n`` lattices of the margalit2022 *uniform* test distribution, with the μ
disorder width scaled with N (``0.3·N/4``; ``docs/conventions-margalit2022.md``), drawn exactly as the
reproduction's test sets are: the dataset definition of
:func:`topoml.experiments.margalit2022.dataset_config` (seed ``derive_seed(--seed, "rg-vs-size", N)``,
one shard per chunk of ``--chunk`` lattices), read shard by shard with
:func:`topoml.data.generate.shard_inputs` (float32 inputs, as stored in a dataset). Each lattice gets

* the certified spectral-localizer index (``chern_numbers(method="localizer")``, every N) and the dense
  Bott index (``method="bott"``, N <= ``--bott-max``), each with its certificate (gap, certified flag);
* the Chern network's answer and confidence (``predict_chern``; the packaged ``base ∘ RG`` weights or
  ``--weights``).

Per N the report gives the network's accuracy against each label, the two answers that ignore the
disorder (``chern_baselines``: "always 0" and "clean phase of the averages") against each label, the
Bott/localizer agreement, the label histograms, the certified fractions, 95 % Wilson intervals
(``scipy.stats.binomtest``), and the time per lattice of each method (measured inside the jobs, one
thread each; on a loaded machine compare ratios only). The network counts as useful at N when its
interval lies above the intervals of both baselines, against the reference label: Bott where it was
computed (exact on the torus, and the physical label where the two disagree at small N: README, "Large
lattices"), else the localizer.

Output (a :class:`topoml.runs.rundir.RunDir` at ``--out``): ``report.md`` (tables and figure),
``metrics.json`` (every number), ``summary.json`` (headline accuracies), ``figures/accuracy_vs_size.png``
(accuracy against N, log₂ axis) and ``jobs/N0032-c0003/result.json`` (one per chunk: per-lattice
labels, certificates, network outputs and timings). The report is rewritten after each size, so it
grows while a long study runs.

Resumable: the labelling runs as jobs of the run directory (``RunDir.run_jobs`` on the
``topoml.runs.executor`` engines), one job per (N, chunk), each stored atomically when it finishes; a
kill loses at most the chunks in flight and rerunning the same command skips the finished ones. Another
configuration on the same ``--out`` is refused. Lattices, labels and predictions are a function of the
options above, never of ``--workers`` or ``--engine``. Bad options end with a one-line message and exit
status 2.
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

#: Methods that label the lattices (exact, certified), in report order.
LABELS = ("localizer", "bott")
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
    p.add_argument("--seed", type=nonnegative_int, default=13, help="root seed (default 13)")
    p.add_argument("--weights", default=None, help="network weights (.safetensors; default: the packaged base∘RG)")
    p.add_argument("--workers", type=positive_int, default=1, help="worker processes (default 1)")
    add_engine_options(p)
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    return p


# ------------------------------------------------------------------------------------------ plan
def study_config(args: argparse.Namespace) -> dict:
    """The run's configuration (what defines its numbers; not workers or engine), checked.

    Raises
    ------
    ConfigError
        Repeated sizes; more chunks than a dataset may have.
    ShapeError
        A size the network cannot take (not 4·2^k).
    CheckpointError
        Missing or foreign weights file.
    """
    from topoml.data.generate import GenerateConfig
    from topoml.errors import CheckpointError, ConfigError
    from topoml.evaluate.predict import check_net_size, packaged_weights
    from topoml.train.checkpoint import read_model_metadata

    sizes = sorted(args.sizes)
    if len(set(sizes)) != len(sizes):
        raise ConfigError(f"--sizes repeats a size: {' '.join(map(str, args.sizes))}")
    path = Path(args.weights).resolve() if args.weights else packaged_weights()
    if not path.is_file():
        raise CheckpointError(f"weights file {path} not found")
    meta = read_model_metadata(path)
    for N in sizes:
        check_net_size(meta, N, f"--sizes {N}")
    config = {"study": "rg_accuracy_vs_size", "sizes": sizes, "n": args.n, "chunk": args.chunk,
              "bott_max": args.bott_max, "seed": args.seed,
              "weights": {"path": str(path) if args.weights else "packaged",
                          "sha256": hashlib.sha256(path.read_bytes()).hexdigest()}}
    for N in sizes:
        GenerateConfig.from_dict(dataset(config, N))  # e.g. too many chunks: fail before any work
    return config


def dataset(config: dict, N: int) -> dict:
    """The lattices of size ``N``: a margalit2022 uniform test set (:func:`~topoml.data.generate.GenerateConfig`
    mapping), ``--chunk`` lattices per shard, seeded by ``derive_seed(seed, "rg-vs-size", N)``."""
    from topoml.experiments.margalit2022 import DataSpec, dataset_config
    from topoml.rng import derive_seed

    spec = DataSpec(lattice_size=N, averages="uniform", n_samples=config["n"], shard_size=config["chunk"],
                    seed=derive_seed(config["seed"], "rg-vs-size", N))
    return dataset_config(f"rg-vs-size-{N}", spec)


def _weights(config: dict) -> str | None:
    """The weights file of the config for :func:`~topoml.evaluate.predict.load_chern_model` (None: packaged)."""
    return None if config["weights"]["path"] == "packaged" else config["weights"]["path"]


def plan(config: dict, N: int) -> list[dict]:
    """The jobs of size ``N``: one per chunk of lattices (a shard of :func:`dataset`)."""
    data = dataset(config, N)
    return [{"id": f"N{N:04d}-c{k:04d}", "N": N, "chunk": k, "dataset": data, "bott": N <= config["bott_max"],
             "weights": _weights(config)} for k in range(math.ceil(config["n"] / config["chunk"]))]


# ------------------------------------------------------------------------------------------ jobs
@functools.lru_cache(maxsize=2)
def _network(weights: str | None):
    from topoml.evaluate.predict import load_chern_model

    return load_chern_model(weights)[0]


@functools.lru_cache(maxsize=1)
def _start_localizer() -> None:
    """Start MKL PARDISO once per process (about 0.5 s), outside the timed labelling."""
    from topoml.hamiltonians.pip import clean_lattice
    from topoml.invariants import chern_numbers

    chern_numbers(clean_lattice(4, -1.0, 0.2, 0.15), method="localizer")


def _certificates(r) -> dict:
    return {"chern": r.chern, "gap": r.gap, "deviation": r.deviation, "certified": r.certified}


def label_chunk(job: dict) -> tuple[dict, dict[str, bytes]]:
    """The job of one chunk (a top-level function for the process and Dask workers): draw its lattices,
    label them (localizer; Bott when ``job["bott"]``), predict with the network. Returns the result of
    :meth:`~topoml.runs.rundir.RunDir.run_jobs`: per-lattice arrays as lists, and ``seconds`` per method."""
    from topoml.data.generate import shard_inputs
    from topoml.evaluate.predict import predict_chern
    from topoml.invariants import chern_numbers
    from topoml.runs.rundir import to_jsonable

    net = _network(job["weights"])  # torch before MKL (PARDISO) in every process: see run()
    _start_localizer()
    x32, _ = shard_inputs(job["dataset"], job["chunk"])
    x = x32.astype(np.float64)
    out: dict = {"N": job["N"], "chunk": job["chunk"], "n": len(x), "seconds": {}}
    for method in LABELS if job["bott"] else LABELS[:1]:
        t = time.perf_counter()
        out[method] = _certificates(chern_numbers(x, method=method))
        out["seconds"][method] = time.perf_counter() - t
    t = time.perf_counter()
    chern, raw, confidence = predict_chern(net, x32)
    out["seconds"]["network"] = time.perf_counter() - t
    out["network"] = {"chern": chern, "output": raw, "confidence": confidence}
    return to_jsonable(out), {}


def gather(results: list[dict]) -> dict[str, dict[str, np.ndarray]]:
    """Concatenate the chunks' per-lattice lists (in chunk order) into arrays, per method."""
    methods = [m for m in (*LABELS, "network") if m in results[0]]
    return {m: {k: np.asarray([v for r in results for v in r[m][k]]) for k in results[0][m]} for m in methods}


# ------------------------------------------------------------------------------------------ numbers
def rate(k: int, n: int) -> dict:
    """A binomial proportion ``k/n`` with its 95 % Wilson interval."""
    from scipy.stats import binomtest

    ci = binomtest(int(k), int(n)).proportion_ci(confidence_level=0.95, method="wilson")
    return {"value": k / n, "k": int(k), "n": int(n), "ci95": [float(ci.low), float(ci.high)]}


def size_summary(N: int, results: list[dict], x: np.ndarray) -> dict:
    """All numbers of one size from its jobs' ``results`` (chunk order) and its lattices ``x`` (n, N, N, 3)."""
    from topoml.evaluate.metrics import accuracy, chern_baselines

    a = gather(results)
    pred = a["network"]["chern"]
    n = len(pred)
    row: dict = {"N": N, "n": n, "labels": {}}
    for m in LABELS:
        if m not in a:
            continue
        y, cert = a[m]["chern"], a[m]["certified"].astype(bool)
        base = chern_baselines(x, y)
        values, counts = np.unique(y, return_counts=True)
        row["labels"][m] = {
            "histogram": {int(v): int(c) for v, c in zip(values, counts)},
            "certified": rate(cert.sum(), n),
            "min_gap": float(a[m]["gap"].min()),
            "network": rate(round(accuracy(pred, y) * n), n),
            "network_on_certified": rate(np.sum(pred[cert] == y[cert]), int(cert.sum())) if cert.any() else None,
            **{b: rate(round(base[b] * n), n) for b in BASELINES},
        }
    if all(m in a for m in LABELS):
        both = a["bott"]["certified"].astype(bool) & a["localizer"]["certified"].astype(bool)
        same = a["bott"]["chern"] == a["localizer"]["chern"]
        row["agreement"] = rate(same.sum(), n)
        row["agreement_certified"] = rate(same[both].sum(), int(both.sum())) if both.any() else None
    row["reference"] = "bott" if "bott" in row["labels"] else "localizer"
    ref = row["labels"][row["reference"]]
    row["network_beats_baselines"] = bool(ref["network"]["ci95"][0] > max(ref[b]["ci95"][1] for b in BASELINES))
    row["confidence_mean"] = float(a["network"]["confidence"].mean())
    seconds = {m: sum(r["seconds"][m] for r in results) / n for m in results[0]["seconds"]}
    row["seconds_per_lattice"] = seconds
    return row


# ------------------------------------------------------------------------------------------ report
def _pct(r: dict | None) -> str:
    if r is None:
        return "—"
    lo, hi = r["ci95"]
    return f"{100 * r['value']:.1f} % [{100 * lo:.1f}, {100 * hi:.1f}]"


def format_tables(rows: list[dict]) -> str:
    """Two markdown tables: accuracies, then labels, certificates and time per lattice."""
    lines = ["| N | n | network vs localizer | always 0 | clean phase | network vs Bott | always 0 (Bott) | "
             "clean phase (Bott) | Bott = localizer | network useful (reference label) |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        loc, bott = r["labels"]["localizer"], r["labels"].get("bott")
        cells = [str(r["N"]), str(r["n"]), _pct(loc["network"]), _pct(loc["always_zero"]), _pct(loc["clean_phase"])]
        cells += [_pct(bott[k]) if bott else "—" for k in ("network", "always_zero", "clean_phase")]
        cells += [_pct(r.get("agreement")), f"{'yes' if r['network_beats_baselines'] else 'no'} ({r['reference']})"]
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", "| N | localizer labels | certified (localizer / Bott) | min gap (localizer / Bott) | "
              "network on certified | mean confidence | s per lattice (localizer / Bott / network) |",
              "|---|---|---|---|---|---|---|"]
    for r in rows:
        lab = r["labels"]
        hist = ", ".join(f"{c}: {k}" for c, k in lab["localizer"]["histogram"].items())
        cert = " / ".join(_pct(lab[m]["certified"]) if m in lab else "—" for m in LABELS)
        gap = " / ".join(f"{lab[m]['min_gap']:.2g}" if m in lab else "—" for m in LABELS)
        sec = " / ".join(f"{r['seconds_per_lattice'][m]:.3g}" if m in r["seconds_per_lattice"] else "—"
                         for m in (*LABELS, "network"))
        lines.append(f"| {r['N']} | {hist} | {cert} | {gap} | {_pct(lab['localizer']['network_on_certified'])} | "
                     f"{r['confidence_mean']:.3f} | {sec} |")
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
    (against the reference label) and the Bott/localizer agreement. Returns the figure."""
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

    main = {"network vs localizer": series(lab("localizer", "network")),
            "network vs Bott": series(lab("bott", "network"))}
    axes = {"xlabel": "lattice size N", "ylabel": "accuracy (%)"}  # every call sets them
    ax = line_plot(N, {k: v[0] for k, v in main.items()}, errors={k: v[1] for k, v in main.items()},
                   title="RG network against lattice size (95 % Wilson intervals)", ax=new_axes(6.4, 4.2), **axes)
    line_plot(N, {f"{name} (reference label)": series(lambda r, b=b: r["labels"][r["reference"]][b])[0]
                  for b, name in BASELINES.items()}, style="--s", ax=ax, **axes)
    line_plot(N, {"Bott = localizer": series(lambda r: r.get("agreement"))[0]}, style=":^", ax=ax, **axes)
    ax.set_xscale("log", base=2)
    ax.set_xticks(N, [str(v) for v in N])
    ax.minorticks_off()
    return ax.figure


def write_report(rd, config: dict, rows: list[dict]) -> None:
    """``metrics.json``, ``summary.json``, the figure and ``report.md`` of the sizes done so far."""
    from topoml.runs.rundir import md_cell

    upto = useful_up_to(rows)
    rd.write_json("metrics.json", {"config": config, "sizes": {str(r["N"]): r for r in rows}, "useful_up_to": upto})
    rd.write_json("summary.json", {"useful_up_to": upto, "accuracy": {
        str(r["N"]): {"network_vs_localizer": r["labels"]["localizer"]["network"]["value"],
                      "network_vs_bott": r["labels"]["bott"]["network"]["value"] if "bott" in r["labels"] else None,
                      "reference": r["reference"],
                      "best_baseline_vs_reference": max(r["labels"][r["reference"]][b]["value"] for b in BASELINES)}
        for r in rows}})
    fig = rd.savefig(plot(rows), FIGURE)
    done = [r["N"] for r in rows]
    pending = [N for N in config["sizes"] if N not in done]
    text = [
        "# RG network accuracy against lattice size (margalit2022's open question)", "",
        f"{config['n']} lattices per size of the margalit2022 uniform test distribution (μ disorder width 0.3·N/4), "
        f"seed {config['seed']}, {config['chunk']} per job; labels: certified spectral-localizer index (every N) and "
        f"dense Bott index (N ≤ {config['bott_max']}); network: {md_cell(config['weights']['path'])} "
        f"(sha256 {config['weights']['sha256'][:12]}…). Accuracies with 95 % Wilson intervals; baselines ignore "
        "the disorder (always 0; the clean phase at the lattice averages).", "",
        format_tables(rows),
        "Reference label: Bott where computed, else the localizer (they disagree at small N, where Bott is the "
        "physical one: README, \"Large lattices\").", "",
        f"The network beats both baselines (95 % intervals apart, reference label) up to N = {upto}." if upto else
        "The network does not beat both baselines (95 % intervals apart, reference label) at the smallest size.",
        "", f"![accuracy against N]({fig})", "",
        "Times per lattice are measured inside the jobs (one thread each); on a shared machine compare ratios only.",
    ]
    if pending:
        text += ["", f"Not finished yet: N = {', '.join(map(str, pending))} (rerun the same command to resume)."]
    rd.write_text("report.md", "\n".join(text) + "\n")


# ------------------------------------------------------------------------------------------ driver
def run(args: argparse.Namespace) -> dict:
    """Run (or resume) the study; returns the numbers per size, ``useful_up_to`` and ``jobs_computed``."""
    from topoml.cli.types import engine_of
    from topoml.data.generate import shard_inputs
    from topoml.runs.rundir import RunDir

    config = study_config(args)
    engine = engine_of(args, "process")
    rows, computed = [], 0
    with RunDir(args.out, config, seed=config["seed"]) as rd:
        # Jobs may run in this process (one worker). A job's last bits (network outputs, localizer gaps)
        # depend on whether MKL or torch loaded first: torch first, here and in every job.
        _network(_weights(config))
        _start_localizer()
        for N in config["sizes"]:
            jobs = plan(config, N)
            todo = sum(rd.job_result(j["id"]) is None for j in jobs)
            computed += todo
            results = rd.run_jobs(jobs, label_chunk, workers=args.workers, engine=engine,
                                  scheduler_address=args.scheduler, progress=not args.no_progress,
                                  desc=f"N = {N}")
            x = np.concatenate([shard_inputs(j["dataset"], j["chunk"])[0] for j in jobs])
            rows.append(size_summary(N, [results[j["id"]] for j in jobs], x))
            write_report(rd, config, rows)
            r = rows[-1]
            ref = r["labels"][r["reference"]]
            best = max((ref[b] for b in BASELINES), key=lambda v: v["value"])
            print(f"N = {N} ({todo} of {len(jobs)} chunks computed): network vs {r['reference']} "
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
