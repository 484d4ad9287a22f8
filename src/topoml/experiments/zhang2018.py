"""Reproduction of Zhang, Shen, Zhai, "Machine learning topological invariants with neural networks",
PRL 120, 066401 (2018): a CNN learns the winding number of 1D chiral Hamiltonians and generalizes to
winding numbers it never saw.

Thin driver: config → data (:mod:`topoml.data.winding_sets`) → training jobs (:mod:`topoml.train.loop`,
run in parallel and resumable by :mod:`topoml.experiments.runner`) → evaluation → report. Studies:

* Table I: FC and CNN accuracy on tests (i)-(iv), mean ± spread over seeds;
* the SSH-only shortcut (linear model on SSH data, tested on SSH and on general w ∈ {0, 1});
* the output distribution of the CNN (supplement Fig. 1);
* opening the black box: D(n=1) on the probe of Eq. 14 against Eq. 15 (Fig. 3);
* the L2 sweep with and without 4 % noisy labels (Fig. 4);
* training on c = 2 data (supplement).
"""

from __future__ import annotations

import time
import zlib
from functools import lru_cache
from pathlib import Path

import numpy as np

from topoml.data import winding_sets as ws
from topoml.experiments.config import StrictModel, load_profile
from topoml.experiments.runner import run_jobs
from topoml.rundir import QUICK_NOTE, RunDir, md_cell

__all__ = ["Zhang2018Config", "PAPER", "load_config", "run", "build_datasets"]

#: Numbers reported in the paper (accuracy in %).
PAPER = {
    "table1": {"fc": [82.2, 99.1, 22.8, 1.4], "cnn": [99.6, 100.0, 98.2, 99.3]},
    "c2": [99.3, 100.0, 97.0, 98.4],
    "ssh": {"ssh": 100.0, "general": 50.0},
}
TESTS = ("i", "ii", "iii", "iv")
TEST_NAMES = {
    "i": "(i) |w| ≤ 2",
    "ii": "(ii) wind-unwind, w = 0",
    "iii": "(iii) w = ±3",
    "iv": "(iv) w = ±4",
}


class Zhang2018Config(StrictModel):
    """Configuration of the zhang2018 reproduction (profiles in ``configs/zhang2018.toml``)."""

    profile: str = "default"
    seed: int = 2018
    L: int = 32
    c: int = 4
    n_train: int = 100_000
    n_val: int = 10_000
    n_test: int = 10_000
    seeds: int = 5
    epochs: int = 25
    lr: float = 1e-3
    batch_size: int = 50
    schedule: str = "constant"
    c2_seeds: int = 3
    c2_epochs: int = 25
    sweep_epochs: int = 10
    l2_values: list[float] = [0.0, 1e-4, 1e-3, 1e-2, 1e-1]
    noise_fraction: float = 0.04
    n_ssh_train: int = 100_000
    ssh_epochs: int = 1
    workers: int = 2

    def model_post_init(self, __context) -> None:
        from topoml.errors import ConfigError

        positive = ("L", "c", "n_train", "n_val", "n_test", "seeds", "epochs", "batch_size", "c2_epochs",
                    "sweep_epochs", "n_ssh_train", "ssh_epochs", "workers")
        for k in positive:
            if getattr(self, k) < 1:
                raise ConfigError(f"config key '{k}' must be >= 1, got {getattr(self, k)}")
        if self.c2_seeds < 0 or self.seed < 0:
            raise ConfigError("config keys 'seed' and 'c2_seeds' must be >= 0")
        if self.L != 32:
            raise ConfigError("the paper's networks are built for L = 32 (config key 'L')")
        if self.c < 4:
            raise ConfigError("test (iv) needs winding ±4, so the Fourier cutoff 'c' must be >= 4")
        if not (0 <= self.noise_fraction <= 1) or any(v < 0 for v in self.l2_values) or not self.l2_values:
            raise ConfigError("need 0 <= noise_fraction <= 1 and a non-empty list of l2_values >= 0")
        if self.schedule not in ("constant", "cosine") or not self.lr > 0:
            raise ConfigError("schedule must be 'constant' or 'cosine' and lr > 0")


def load_config(profile: str = "default", overrides: dict | None = None, config_file=None) -> Zhang2018Config:
    """Validated config of ``profile`` (``default`` or ``quick``) with ``overrides``."""
    return load_profile(Zhang2018Config, "zhang2018", profile, overrides, config_file)


def _seed(base: int, name: str) -> int:
    """A stable seed for ``name`` derived from the base seed."""
    return int(np.random.SeedSequence([base, zlib.crc32(name.encode())]).generate_state(1)[0])


# --------------------------------------------------------------------------------------- data
@lru_cache(maxsize=2)
def _datasets_cached(config_json: str) -> dict[str, ws.WindingSet]:
    cfg = Zhang2018Config.model_validate_json(config_json)
    return build_datasets(cfg)


def build_datasets(cfg: Zhang2018Config) -> dict[str, ws.WindingSet]:
    """All data sets of the reproduction, each seeded from ``cfg.seed`` and its name."""
    s, L, c = cfg.seed, cfg.L, cfg.c
    sets = {
        "train": ws.fourier_set(cfg.n_train, c=c, L=L, rng=_seed(s, "train"), name="train"),
        "val": ws.fourier_set(cfg.n_val, c=c, L=L, rng=_seed(s, "val"), name="val"),
        "i": ws.fourier_set(cfg.n_test, c=c, L=L, rng=_seed(s, "i"), name="i"),
        "ii": ws.wind_unwind_set(cfg.n_test, c=c, L=L, rng=_seed(s, "ii"), name="ii"),
        "iii": ws.prescribed_winding_set(cfg.n_test, (3, -3), c=c, L=L, rng=_seed(s, "iii"), name="iii"),
        "iv": ws.prescribed_winding_set(cfg.n_test, (4, -4), c=c, L=L, rng=_seed(s, "iv"), name="iv"),
        "train_c2": ws.fourier_set(cfg.n_train, c=2, L=L, class_mix=None, rng=_seed(s, "train_c2"), name="train_c2"),
        "ssh_train": ws.ssh_set(cfg.n_ssh_train, L=L, rng=_seed(s, "ssh_train"), name="ssh_train"),
        "ssh_test": ws.ssh_set(cfg.n_test, L=L, rng=_seed(s, "ssh_test"), name="ssh_test"),
        "general01": ws.fourier_set(
            cfg.n_test, c=c, L=L, class_mix={0: 0.5, 1: 0.5}, allowed=(0, 1), rng=_seed(s, "general01"), name="general01"
        ),
    }
    return sets


# --------------------------------------------------------------------------------------- jobs
def _jobs(cfg: Zhang2018Config) -> list[dict]:
    jobs = []
    for net in ("cnn", "fc"):
        for k in range(cfg.seeds):
            jobs.append({"id": f"table1-{net}-seed{k}", "net": net, "data": "train", "epochs": cfg.epochs,
                         "l2": 0.0, "noise": 0.0, "seed": _seed(cfg.seed, f"{net}-{k}"), "eval": list(TESTS)})
    for k in range(cfg.c2_seeds):
        jobs.append({"id": f"c2-cnn-seed{k}", "net": "cnn", "data": "train_c2", "epochs": cfg.c2_epochs,
                     "l2": 0.0, "noise": 0.0, "seed": _seed(cfg.seed, f"c2-{k}"), "eval": list(TESTS)})
    for noise in (0.0, cfg.noise_fraction):
        for lam in cfg.l2_values:
            tag = "noisy" if noise > 0 else "clean"
            jobs.append({"id": f"l2-{tag}-{lam:g}", "net": "cnn", "data": "train", "epochs": cfg.sweep_epochs,
                         "l2": lam, "noise": noise, "seed": _seed(cfg.seed, "l2-sweep"), "eval": list(TESTS)})
    jobs.append({"id": "ssh-linear", "net": "linear", "data": "ssh_train", "epochs": cfg.ssh_epochs, "l2": 0.0,
                 "noise": 0.0, "seed": _seed(cfg.seed, "ssh"), "eval": ["ssh_test", "general01"]})
    for j in jobs:
        j["config"] = cfg.model_dump_json()
    return jobs


def _train_job(job: dict) -> tuple[dict, dict[str, bytes]]:
    """Worker: train one network and evaluate it (top-level so that spawned workers can import it)."""
    import torch

    from topoml.evaluate.metrics import accuracy
    from topoml.nets import get_net
    from topoml.train.checkpoint import state_bytes
    from topoml.train.loop import FitConfig, fit, predict

    cfg = Zhang2018Config.model_validate_json(job["config"])
    sets = _datasets_cached(job["config"])
    train = sets[job["data"]]
    y = train.w
    if job["noise"] > 0:
        y = ws.add_label_noise(y, job["noise"], rng=job["seed"])
    torch.manual_seed(job["seed"])
    net = get_net(f"zhang2018.{job['net']}", L=cfg.L)
    fc = FitConfig(epochs=job["epochs"], batch_size=cfg.batch_size, lr=cfg.lr, l2=job["l2"], schedule=cfg.schedule)
    hist = fit(net, train.x, y, fc, seed=job["seed"], validation=(sets["val"].x, sets["val"].w))
    acc = {name: accuracy(predict(net, sets[name].x), sets[name].w) for name in job["eval"]}
    result = {
        "id": job["id"], "net": job["net"], "data": job["data"], "seed": job["seed"], "l2": job["l2"],
        "noise": job["noise"], "epochs": job["epochs"], "accuracy": acc, "history": hist.to_dict(),
    }
    return result, {"weights.safetensors": state_bytes(net, metadata={"net": f"zhang2018.{job['net']}"})}


def _load_net(rundir: RunDir, job_id: str, name: str, L: int):
    from topoml.nets import get_net
    from topoml.train.checkpoint import load_weights

    return load_weights(get_net(f"zhang2018.{name}", L=L), rundir.job_dir(job_id) / "weights.safetensors")


# --------------------------------------------------------------------------------------- report
def _pct(m: float, s: float | None = None) -> str:
    return f"{100 * m:.1f}" if s is None else f"{100 * m:.1f} ± {100 * s:.1f}"


def run(cfg: Zhang2018Config, out: str | Path, *, progress: bool = True) -> dict:
    """Run the reproduction into run directory ``out`` (resumes if it holds the same config).

    Returns
    -------
    dict
        The summary (also written to ``out/summary.json``).
    """
    from topoml.evaluate.interpret import local_winding_map
    from topoml.evaluate.metrics import mean_spread
    from topoml.nets import count_parameters, get_net
    from topoml.plotting import epoch_axis, heatmap, histograms, line_plot, new_axes
    from topoml.train.loop import predict

    t0 = time.perf_counter()
    rundir = RunDir(out, cfg.model_dump(), seed=cfg.seed)
    sets = _datasets_cached(cfg.model_dump_json())
    data_info = {k: {"n": len(v), "counts": v.counts(), "trusted_fraction": round(v.trusted_fraction, 4)}
                 for k, v in sets.items()}
    results = run_jobs(rundir, _jobs(cfg), _train_job, workers=cfg.workers, progress=progress, desc="zhang2018")

    metrics: dict = {"data": data_info, "jobs": results}
    figures: dict[str, str] = {}

    # Table I ----------------------------------------------------------------------------
    table1 = {}
    for net in ("fc", "cnn"):
        rows = [results[f"table1-{net}-seed{k}"]["accuracy"] for k in range(cfg.seeds)]
        table1[net] = {t: mean_spread([r[t] for r in rows]) for t in TESTS}
        table1[net]["per_seed"] = {t: [r[t] for r in rows] for t in TESTS}
    c2 = None
    if cfg.c2_seeds:
        rows = [results[f"c2-cnn-seed{k}"]["accuracy"] for k in range(cfg.c2_seeds)]
        c2 = {t: mean_spread([r[t] for r in rows]) for t in TESTS}
    ssh = results["ssh-linear"]["accuracy"]
    sweep = {tag: {lam: results[f"l2-{tag}-{lam:g}"]["accuracy"] for lam in cfg.l2_values} for tag in ("clean", "noisy")}
    params = {n: count_parameters(get_net(f"zhang2018.{n}", L=cfg.L)) for n in ("fc", "cnn", "linear")}
    cnn_sps = [results[f"table1-cnn-seed{k}"]["history"]["samples_per_second"] for k in range(cfg.seeds)]

    # Figures ------------------------------------------------------------------------------
    ax = new_axes()
    for net, style in (("cnn", "-"), ("fc", "--")):
        curves = np.array([results[f"table1-{net}-seed{k}"]["history"]["val_loss"] for k in range(cfg.seeds)])
        ep = np.arange(1, curves.shape[1] + 1)
        ax.plot(ep, curves.mean(0), style, label=f"{net.upper()} (mean of {cfg.seeds} seeds)")
        ax.fill_between(ep, curves.min(0), curves.max(0), alpha=0.2)
    ax.set_yscale("log")
    epoch_axis(ax)
    ax.set_ylabel("validation MSE")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    figures["training_curves"] = rundir.savefig(ax.figure, "training_curves")

    cnn0 = _load_net(rundir, "table1-cnn-seed0", "cnn", cfg.L)
    outputs = {TEST_NAMES[t]: predict(cnn0, sets[t].x) for t in ("i", "iii", "iv")}
    ax = histograms(outputs, bins=np.linspace(-5, 5, 401), xlabel="network output w̃",
                    title="CNN output distribution (seed 0)")
    figures["output_distribution"] = rundir.savefig(ax.figure, "output_distribution")
    all_out = np.concatenate(list(outputs.values()))
    output_stats = {"median_distance_to_integer": float(np.median(np.abs(all_out - np.rint(all_out)))),
                    "fraction_within_0.1": float(np.mean(np.abs(all_out - np.rint(all_out)) < 0.1))}

    bb = local_winding_map(cnn0, L=cfg.L)
    fig_ax = new_axes(10, 3.6)
    fig = fig_ax.figure
    fig.delaxes(fig_ax)
    ax1, ax2 = fig.subplots(1, 2, gridspec_kw={"wspace": 0.4})  # room for the colour bar label
    heatmap(bb.D, bb.dphi, bb.phi, xlabel="Δφ", ylabel="φ", title="CNN D(n=1) on the probe of Eq. 14",
            colorbar="D(n=1), CNN output", ax=ax1)
    step = (bb.dphi + np.pi) % (2 * np.pi) - np.pi
    ax2.plot(bb.dphi, bb.D.mean(0), "-", label="D(n=1), mean over φ")
    ax2.fill_between(bb.dphi, bb.D.min(0), bb.D.max(0), alpha=0.3, label="min-max over φ")
    ax2.plot(bb.dphi, bb.slope * step + bb.offset, "k--", label=f"fit {bb.slope:.3f}·Δθ + {bb.offset:.3f} (Eq. 15)")
    for edge in (-bb.fit_range, bb.fit_range):
        ax2.axvline(edge, color="grey", lw=0.8, ls=":")
    ax2.set_xlabel("Δφ")
    ax2.set_ylabel("D(n=1)")
    ax2.legend(fontsize=7)
    ax2.grid(alpha=0.3)
    figures["black_box"] = rundir.savefig(fig, "black_box")
    black_box = {"slope": bb.slope, "offset": bb.offset, "r2": bb.r2, "phi_dependence": bb.phi_dependence,
                 "fit_range": bb.fit_range}

    lams = [max(v, 1e-6) for v in cfg.l2_values]
    series = {}
    for tag, style in (("clean", "-o"), ("noisy", "--s")):
        for t in ("i", "iii", "iv"):
            series[f"{TEST_NAMES[t]}, {tag}"] = [100 * sweep[tag][lam][t] for lam in cfg.l2_values]
    ax = new_axes(6, 4)
    for name, ys in series.items():
        ax.plot(lams, ys, "--s" if "noisy" in name else "-o", label=name, ms=4)
    ax.set_xscale("log")
    ax.set_xlabel("L2 strength λ (λ = 0 drawn at 1e-6)")
    ax.set_ylabel("accuracy (%)")
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3)
    figures["l2_sweep"] = rundir.savefig(ax.figure, "l2_sweep")

    lin = _load_net(rundir, "ssh-linear", "linear", cfg.L)
    wgt = lin.linear.weight.detach().numpy().reshape(cfg.L + 1, 2)
    k = 2 * np.pi * np.arange(cfg.L + 1) / cfg.L
    ax = line_plot(k, {"weight on h̃x(k)": wgt[:, 0], "weight on h̃y(k)": wgt[:, 1]}, xlabel="k",
                   ylabel="weight", title="Linear model trained on SSH data")
    figures["ssh_linear_weights"] = rundir.savefig(ax.figure, "ssh_linear_weights")

    # Acceptance ---------------------------------------------------------------------------------
    cnn_mean = {t: table1["cnn"][t][0] for t in TESTS}
    acceptance = {
        "cnn_i_ge_99": cnn_mean["i"] >= 0.99,
        "cnn_ii_ge_99": cnn_mean["ii"] >= 0.99,
        "cnn_iii_ge_97": cnn_mean["iii"] >= 0.97,
        "cnn_iv_ge_97": cnn_mean["iv"] >= 0.97,
    }
    summary = {
        "experiment": "zhang2018",
        "profile": cfg.profile,
        "table1": {net: {t: {"mean": table1[net][t][0], "spread": table1[net][t][1]} for t in TESTS}
                   for net in ("fc", "cnn")},
        "paper_table1": PAPER["table1"],
        "c2": None if c2 is None else {t: {"mean": c2[t][0], "spread": c2[t][1]} for t in TESTS},
        "ssh_shortcut": ssh,
        "l2_sweep": sweep,
        "black_box": black_box,
        "output_distribution": output_stats,
        "parameters": params,
        "cnn_training_samples_per_second": float(np.mean(cnn_sps)),
        "acceptance": acceptance,
        "wall_seconds": time.perf_counter() - t0,
        "resumed": rundir.resumed,
    }
    metrics.update({"table1": table1, "c2": c2, "black_box": black_box, "output_distribution": output_stats})
    rundir.write_json("metrics.json", metrics)
    rundir.write_json("summary.json", summary)
    rundir.write_text("report.md", _report(cfg, summary, table1, c2, data_info, figures))
    return summary


def _report(cfg, summary, table1, c2, data_info, figures) -> str:
    P = PAPER
    lines = [
        "# zhang2018 — winding numbers of 1D chiral Hamiltonians",
        "",
        "Zhang, Shen, Zhai, *Machine learning topological invariants with neural networks*, PRL 120, 066401 (2018).",
        f"Profile `{cfg.profile}`: {cfg.n_train} training Hamiltonians, {cfg.n_test} per test set, "
        f"{cfg.seeds} seeds × {cfg.epochs} epochs per network (Adam lr {cfg.lr:g}, batch {cfg.batch_size}, MSE). "
        "Our numbers are mean ± standard deviation over seeds; the paper reports one run.",
        "",
        *([f"> {QUICK_NOTE}", ""] if cfg.profile == "quick" else []),
        "## Table I — accuracy (%)",
        "",
        "| network | parameters | " + " | ".join(md_cell(TEST_NAMES[t]) for t in TESTS) + " |",
        "|---|---|" + "---|" * len(TESTS),
    ]
    for net, label in (("fc", "fully connected"), ("cnn", "convolutional")):
        ours = " | ".join(_pct(*table1[net][t]) for t in TESTS)
        paper = " | ".join(f"{v:.1f}" for v in P["table1"][net])
        lines.append(f"| {label}, ours | {summary['parameters'][net]} | {ours} |")
        lines.append(f"| {label}, paper | {4061 if net == 'fc' else 310} | {paper} |")
    acc = summary["acceptance"]
    lines += ["", "Acceptance (CNN mean ≥ 99 % on (i), (ii), ≥ 97 % on (iii), (iv)): "
              + ", ".join(f"{k}: {'met' if v else 'NOT met'}" for k, v in acc.items()), ""]
    if c2 is not None:
        lines += ["## CNN trained on c = 2 data (supplement) — accuracy (%)", "",
                  "| | " + " | ".join(md_cell(TEST_NAMES[t]) for t in TESTS) + " |", "|---|" + "---|" * len(TESTS),
                  "| ours (" + f"{cfg.c2_seeds} seeds) | " + " | ".join(_pct(*c2[t]) for t in TESTS) + " |",
                  "| paper | " + " | ".join(f"{v:.1f}" for v in P["c2"]) + " |", ""]
    s = summary["ssh_shortcut"]
    lines += ["## The SSH shortcut", "",
              f"A linear model (no hidden layer, {summary['parameters']['linear']} parameters) trained "
              f"{cfg.ssh_epochs} epoch(s) on {cfg.n_ssh_train} SSH Hamiltonians, (t − t')/t uniform in [−10, 10].", "",
              "| test set | ours | paper |", "|---|---|---|",
              f"| SSH | {_pct(s['ssh_test'])} | ~100 |",
              f"| general, w ∈ {{0, 1}} (50/50) | {_pct(s['general01'])} | ~50 |", "",
              f"![linear weights]({figures['ssh_linear_weights']})", ""]
    bb = summary["black_box"]
    lines += ["## Opening the black box (Fig. 3)", "",
              f"D(n=1) of the seed-0 CNN on the probe input of Eq. 14. Fit D ≈ a·Δθ + b with Δθ = wrap(Δφ), over "
              f"the steps present in the training data (|Δθ| ≤ {bb['fit_range']:.2f}, dotted lines): "
              f"a = {bb['slope']:.4f}, b = {bb['offset']:.4f}, R² = {bb['r2']:.3f}; "
              f"φ-dependence (RMS over φ / std of D) = {bb['phi_dependence']:.3f} "
              "(Eq. 15: D independent of φ and linear in the local phase step).", "",
              f"![black box]({figures['black_box']})", ""]
    od = summary["output_distribution"]
    lines += ["## Output distribution (supplement Fig. 1)", "",
              f"Median distance of the CNN output to the nearest integer: {od['median_distance_to_integer']:.4f}; "
              f"{100 * od['fraction_within_0.1']:.1f} % of outputs within 0.1 of an integer.", "",
              f"![outputs]({figures['output_distribution']})", ""]
    sw = summary["l2_sweep"]
    lines += ["## L2 regularization (Fig. 4)", "",
              f"CNN, {cfg.sweep_epochs} epochs (fewer than Table I), one seed; noisy: ±1 added to the label of "
              f"{100 * cfg.noise_fraction:.0f} % of the training data. Accuracy (%).", "",
              "| λ | " + " | ".join(md_cell(f"{TEST_NAMES[t]} clean") for t in ("i", "iii", "iv")) + " | "
              + " | ".join(md_cell(f"{TEST_NAMES[t]} noisy") for t in ("i", "iii", "iv")) + " |",
              "|---|" + "---|" * 6]
    for lam in cfg.l2_values:
        row = [_pct(sw["clean"][lam][t]) for t in ("i", "iii", "iv")] + [_pct(sw["noisy"][lam][t]) for t in ("i", "iii", "iv")]
        lines.append(f"| {lam:g} | " + " | ".join(row) + " |")
    lines += ["", f"![L2 sweep]({figures['l2_sweep']})", ""]
    lines += ["## Training", "", f"![training curves]({figures['training_curves']})", "",
              f"CNN training throughput: {summary['cnn_training_samples_per_second']:.0f} samples/s per worker "
              "(one thread).", ""]
    lines += ["## Data", "",
              "Only Hamiltonians on which the discrete formula (Eq. 3) can be trusted are kept (|h(k)| > 0 and every "
              "phase step |Δθ| ≤ 0.75π); `trusted` is the fraction of drawn Hamiltonians that passed.", "",
              "| set | n | winding numbers (count) | trusted |", "|---|---|---|---|"]
    for k, v in data_info.items():
        counts = ", ".join(f"{w}: {c}" for w, c in v["counts"].items())
        lines.append(f"| {k} | {v['n']} | {counts} | {v['trusted_fraction']:.3f} |")
    lines += ["", f"Wall time: {summary['wall_seconds']:.0f} s" + (" (resumed run)" if summary["resumed"] else ""), ""]
    return "\n".join(lines)


def format_table(summary: dict) -> str:
    """Table I as plain text, paper beside ours (printed by the CLI)."""
    t1 = summary["table1"]
    head = f"{'network':<22}" + "".join(f"{t:>16}" for t in TESTS)
    out = ["Table I — accuracy (%) on tests (i)-(iv), ours: mean ± spread over seeds", head]
    for net, label in (("fc", "fully connected"), ("cnn", "convolutional")):
        out.append(f"{label + ', ours':<22}" + "".join(f"{_pct(t1[net][t]['mean'], t1[net][t]['spread']):>16}" for t in TESTS))
        out.append(f"{label + ', paper':<22}" + "".join(f"{v:>16.1f}" for v in PAPER["table1"][net]))
    return "\n".join(out)

