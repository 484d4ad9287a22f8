"""The paper's figures for a margalit2022 run: phase diagrams (Fig. 2), accuracy per epoch (Fig. 3), RG flow
(Fig. 7), a single impurity (Fig. 8) and runtime (Fig. 1b)."""

from __future__ import annotations

import math

import numpy as np

from topoml.experiments.margalit2022.stages import _predict
from topoml.runs.rundir import RunDir


def _fig_phase_diagrams(cfg, rd: RunDir, base) -> dict:
    from topoml.data.reference import find_shared_data, load_margalit2022_reference
    from topoml.hamiltonians.pip import disordered_lattice
    from matplotlib.figure import Figure

    from topoml.plotting.phase_diagram import plot_phase_diagram

    folder = find_shared_data("margalit2022")
    if folder is None:
        return {"skipped": "reference data not found (../shared/data/margalit2022 or $TOPOML_SHARED_DATA)"}
    out, s = {}, cfg.phase_diagram_stride
    for k in (1, 2, 3):
        ref = load_margalit2022_reference(folder / f"data_{k}.mat")
        mu, tm = ref.mu_bar[::s], ref.t_minus_bar[::s]
        x = disordered_lattice(mu[:, None], tm[None, :], 0.15, ref.disorder).astype(np.float32)
        pred = _predict(base, x.reshape(-1, 4, 4, 3)).reshape(len(mu), len(tm))
        label = ref.label[::s, ::s]
        out[f"data_{k}"] = {"agreement": float(np.mean(pred == label)), "points": int(label.size)}
        fig = Figure(figsize=(9.5, 3.8))
        axes = fig.subplots(1, 2, gridspec_kw={"wspace": 0.4})  # room for the colour bar label
        plot_phase_diagram(label, mu, tm, ax=axes[0], title=f"Bott (reference data_{k})")
        plot_phase_diagram(pred, mu, tm, ax=axes[1],
                           title=f"base network ({100 * out[f'data_{k}']['agreement']:.2f} % agree)")
        out[f"data_{k}"]["figure"] = rd.savefig(fig, f"fig2_phase_diagram_{k}")
    return out


def _fig_epochs(rd: RunDir, results: dict) -> str:
    from matplotlib.figure import Figure

    from topoml.plotting import epoch_axis

    fig = Figure(figsize=(9, 3.6))
    axes = fig.subplots(1, 2, sharey=True)
    for ax, job, title in zip(axes, ("rg", "rg_scratch"), ("decimation init", "random init")):
        r = results.get(job)
        if not r:
            continue
        ep = [-1] + [h["epoch"] for h in r["history"]]
        for n, c in ((8, "C0"), (16, "C1")):
            acc = [r["initial"].get(f"acc{n}", np.nan)] + [h["metrics"].get(f"acc{n}", np.nan) for h in r["history"]]
            ax.plot(np.array(ep) + 1, 100 * np.array(acc), "o-", color=c, label=f"{n}×{n}")
        ax.axvline(r["best_epoch"] + 1, color="gray", ls=":", label="selected")
        epoch_axis(ax, "epoch (0 = initialization)")
        ax.set_title(f"RG network, {title}")
        ax.legend()
    axes[0].set_ylabel("accuracy (%)")
    return rd.savefig(fig, "fig3_accuracy_per_epoch")


def _fig_flow(cfg, rd: RunDir, rg) -> dict:
    """Fig. 7: clean lattices of size ``flow_size`` through repeated RG steps, in the (μ̄/2, t̄₋) plane."""
    import torch
    from matplotlib.figure import Figure

    n = cfg.flow_size
    steps = int(math.log2(n // 4))
    mus = np.linspace(-3.5, 3.5, 8)
    tms = np.linspace(-1.75, 1.75, 8)
    starts = np.array([(m, t) for m in mus for t in tms])
    x = np.zeros((len(starts), n, n, 3), np.float32)
    x[..., 0] = starts[:, 0, None, None]
    x[..., 1] = starts[:, 1, None, None]
    x[..., 2] = 0.15
    traj = [np.c_[starts, np.full(len(starts), 0.15)]]
    h = torch.from_numpy(x)
    with torch.no_grad():
        rg.eval()
        for _ in range(steps):
            h = rg(h)
            traj.append(h.mean(dim=(1, 2)).double().numpy())
    traj = np.stack(traj, 1)  # (points, steps+1, 3)
    fig = Figure(figsize=(5.5, 4.2))
    ax = fig.subplots()
    for p in traj:
        ax.plot(p[:, 0] / 2, p[:, 1], "-", color="0.6", lw=0.8)
        ax.plot(p[-1, 0] / 2, p[-1, 1], "o", ms=3, color="C3")
        ax.plot(p[0, 0] / 2, p[0, 1], ".", ms=3, color="C0")
    for s in (-1, 1):
        ax.axvline(s, color="k", lw=0.6)
        ax.plot([-2, 2], [s * -2, s * 2], "k", lw=0.6)
    ax.set_xlim(-2.2, 2.2)
    ax.set_ylim(-2.2, 2.2)
    ax.set_xlabel("μ̄/2")
    ax.set_ylabel("t̄₋")
    ax.set_title(f"RG flow of clean {n}×{n} lattices ({steps} steps; blue start, red end)")
    drift = np.abs(traj[:, -1, :2] - traj[:, 0, :2]).mean(axis=0)
    spread = float(np.max(np.std(h.numpy(), axis=(1, 2))))
    return {"figure": rd.savefig(fig, "fig7_rg_flow"), "steps": steps,
            "mean_abs_drift_mu_tminus": drift.tolist(), "max_site_std_after": spread}


def _fig_impurity(rd: RunDir, rg) -> dict:
    """Fig. 8: a single impurity δμ at site (4, 6) of a clean 8×8 lattice (μ₀ = 0.5, t₋ = 1, Δ = 0.15)."""
    import torch
    from matplotlib.figure import Figure

    dmus = [0.0, 1.0, 2.0, 4.0]
    x = np.zeros((len(dmus), 8, 8, 3), np.float32)
    x[..., 0], x[..., 1], x[..., 2] = 0.5, 1.0, 0.15
    for i, d in enumerate(dmus):
        x[i, 4, 6, 0] += d
    with torch.no_grad():
        rg.eval()
        y = rg(torch.from_numpy(x)).numpy()
    fig = Figure(figsize=(3 * len(dmus), 3))
    axes = fig.subplots(1, len(dmus))
    for ax, d, yi in zip(axes, dmus, y):
        im = ax.imshow(yi[..., 0].T - 0.5, origin="lower", cmap="RdBu_r", vmin=-0.6, vmax=0.6)
        ax.set_title(f"δμ = {d}: μ' − μ₀")
        ax.set_xlabel("i (x)")
    fig.colorbar(im, ax=axes.tolist(), shrink=0.8)
    block = (2, 3)  # the coarse site containing (4, 6)
    dev = [float(np.abs(yi[..., 0] - y[0][..., 0]).max()) for yi in y]
    local = [float(yi[block + (0,)] - y[0][block + (0,)]) for yi in y]
    return {"figure": rd.savefig(fig, "fig8_impurity"), "delta_mu": dmus, "max_change_mu": dev,
            "change_at_parent_site": local, "clean_output_mean": y[0].mean(axis=(0, 1)).tolist()}


def _fig_runtime(rd: RunDir, rows: list[dict]) -> str:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(5, 3.6))
    ax = fig.subplots()
    ns = [r["N"] for r in rows]
    ax.loglog(ns, [r["network_s"] for r in rows], "o-", label="base ∘ RG^k (network)")
    nb = [r["N"] for r in rows if "bott_s" in r]
    ax.loglog(nb, [r["bott_s"] for r in rows if "bott_s" in r], "s-", label="Bott index")
    ax.set_xlabel("lattice size N")
    ax.set_ylabel("seconds per lattice (1 thread)")
    ax.legend()
    return rd.savefig(fig, "fig1b_runtime")
