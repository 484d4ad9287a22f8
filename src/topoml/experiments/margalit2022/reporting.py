"""The markdown report of a margalit2022 run (``report.md``): the paper-vs-ours table, the final table with its
baselines, the cost, prediction-mode, packaged-weights, parity, stability and ablation tables."""

from __future__ import annotations

import math

import numpy as np

from topoml.experiments.margalit2022.config import FINAL_SIZES, PAPER, Margalit2022Config
from topoml.experiments.margalit2022.stages import _sets16, scored_set


def _epoch_name(epoch: int) -> str:
    return "the start point (no trained epoch beat it)" if epoch == -1 else f"epoch {epoch}"


def _pct(v) -> str:
    return "—" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{100 * v:.2f} %"


def _binom(p: float, n: int) -> str:
    se = 100 * math.sqrt(max(p * (1 - p), 1.0 / n) / n)
    return f"{_pct(p)} ± {se:.2f}" if se < 0.1 else f"{_pct(p)} ± {se:.1f}"


def format_table(summary: dict) -> str:
    """The paper-vs-ours table (markdown)."""
    r = summary
    d, rg, sc = r["decimation"], r["rg"], r["rg_scratch"]
    rows = [("base, 4×4", f"{PAPER['base4']:.2f} %", _pct(r["base"]["acc4"]))]
    if "averages" in r:
        rows += [("baseline blind to disorder, 4×4: clean formula at the averages / network on the averages "
                  "(not in the paper)", "—",
                  f"{_pct(r['averages']['clean_formula_acc4'])} / {_pct(r['averages']['acc4'])}")]
    rows += [
        ("decimation + base, 8×8 / 16×16", f"{PAPER['decimation'][8]:.2f} / {PAPER['decimation'][16]:.2f} %",
         f"{_pct(d.get('acc8'))} / {_pct(d.get('acc16'))}"),
        ("RG without decimation init, 8×8 / 16×16", f"{PAPER['rg_scratch'][8]:.2f} / {PAPER['rg_scratch'][16]:.2f} %",
         f"{_pct(sc['selected'].get('acc8'))} / {_pct(sc['selected'].get('acc16'))}"),
        ("RG with decimation init, 8×8 / 16×16", f"{PAPER['rg'][8]:.2f} / {PAPER['rg'][16]:.2f} %",
         f"{_pct(rg['selected'].get('acc8'))} / {_pct(rg['selected'].get('acc16'))}"),
    ]
    if "acc32" in rg["selected"]:
        rows.append(("RG with decimation init, 32×32 (not in the paper)", "—",
                     _binom(rg["selected"]["acc32"], rg.get("n_test32", 1)) + f" (n = {rg.get('n_test32')})"))
    if "tied" in r:
        t = r["tied"]["selected"]
        rows.append(("+ tied 16×16 stage, 8×8 / 16×16 / 32×32", "(proposed, not done)",
                     f"{_pct(t.get('acc8'))} / {_pct(t.get('acc16'))} / {_pct(t.get('acc32'))}"))
    for key, what in (("joint", "8×8"), ("joint_tied", "then 16×16")):
        if key in r:
            t = r[key]["selected"]
            rows.append((f"+ base copy fine-tuned with the RG ({what}), 8×8 / 16×16 / 32×32", "(not in the paper)",
                         f"{_pct(t.get('acc8'))} / {_pct(t.get('acc16'))} / {_pct(t.get('acc32'))}"))
    if "direct8" in r:
        rows.append(("+ an 8×8 copy of its own, trained on 8×8 alone (8×8; larger sizes unchanged)", "(not in the paper)",
                     _pct(r["direct8"]["acc8"])))
    lines = ["| | paper | ours |", "|---|---|---|"] + [f"| {a} | {b} | {c} |" for a, b, c in rows]
    return "\n".join(lines)


_PAPER_BY_SIZE = {4: PAPER["base4"], 8: PAPER["rg"][8], 16: PAPER["rg"][16]}


def _size_rows(fin: dict):
    """For each size of a final table ``fin`` that has a scored set: ``(n, names, cells)`` — the uniform and
    boundary-biased set names that stand for it (:func:`scored_set`) and the markdown cells shared by the tables:
    paper, accuracy ± SE with the set for each, "always 0" and "clean phase" (uniform / biased)."""
    for n in FINAL_SIZES:
        names = [scored_set(fin, n, s) for s in ("", "_bb")]
        rows = [fin.get(k) if k else None for k in names]
        if rows == [None, None]:
            continue

        def acc(k, r):
            return "—" if r is None else _binom(r["accuracy"], r["n"]) + f" (`{k}`, n = {r['n']:,})"

        def pair(key):
            return " / ".join("—" if r is None else _pct(r[key]) for r in rows)

        paper = f"{_PAPER_BY_SIZE[n]:.2f} %" if n in _PAPER_BY_SIZE else "—"
        yield n, names, {"paper": paper, "acc": [acc(k, r) for k, r in zip(names, rows)],
                         "always_zero": pair("always_zero"), "clean_phase": pair("clean_phase")}


def format_final_table(summary: dict) -> str:
    """Final table (markdown): the shipped model on the held-out sets of every size (the test sets where a
    size has none) beside the paper and the two baselines, and on the test sets that selected its epochs."""
    fin = summary.get("final", {})
    lines = ["| size | paper | ours, uniform | ours, boundary-biased | always 0 (uniform / biased) | "
             "clean phase of the averages (uniform / biased) | same model on the selection sets (uniform / biased) |",
             "|---|---|---|---|---|---|---|"]
    for n, names, c in _size_rows(fin):
        sel = [fin.get(f"test{n}{s}") for s in ("", "_bb")]
        sel = " / ".join("—" if r is None or k is None or not k.startswith("holdout") else _pct(r["accuracy"])
                         for r, k in zip(sel, names))
        lines.append(f"| {n}×{n} | {c['paper']} | {c['acc'][0]} | {c['acc'][1]} | {c['always_zero']} | "
                     f"{c['clean_phase']} | {sel} |")
    return "\n".join(lines)


def _stage_cost(cfg: Margalit2022Config, r: dict, key: str) -> tuple[int, float]:
    """``(samples seen, training seconds)`` of stage ``key`` in a run's summary ``r`` (a mixed stage sees its
    alternating batches too)."""
    v = r[key]
    if key == "rg_init":
        return v["samples"], v["train_seconds"]
    if "samples_seen" in v:
        return v["samples_seen"], v["train_seconds"]
    per_epoch = getattr(cfg, key).samples_per_epoch or v["train_samples"]
    return v["epochs"] * per_epoch * (2 if v.get("mix") else 1), v["train_seconds"]


def _route(r: dict, n: int) -> list[str]:
    """The stages whose training is behind the run's model at size ``n``, in order: the base at 4×4, the ``direct8``
    copy at 8×8 when the run has one, else the chain of RG stages that led to the shipped one."""
    def chain(stage: str) -> list[str]:
        if stage == "rg":
            return ["base", "rg_init", "rg"]
        start = {"tied": "rg", "joint": r.get("joint", {}).get("start", "rg"), "joint_tied": "joint",
                 "direct8": "joint_tied" if "joint_tied" in r else "joint"}[stage]
        return chain(start) + [stage]

    if n == 4:
        return ["base"]
    return chain("direct8" if n == 8 and "direct8" in r else r.get("model_stage", "rg"))


_STAGE_SETS = {"base": ("base_train",), "rg": ("rg_train",), "joint": ("rg_train",), "direct8": ("rg_train",),
               "tied": ("tied_train",), "joint_tied": ("joint_tied_train", "joint_tied_mix")}


def format_cost_table(cfg: Margalit2022Config, r: dict) -> str:
    """What the run's model cost at each size of the final table (markdown): the stages behind its answer, the
    Bott-labelled training lattices they read, the samples they saw and their training wall time."""
    lines = [f"Training behind the run's model at each size (wall time of the training epochs with {cfg.threads} "
             "torch thread(s); labels and evaluation excluded):", "",
             "| size | stages | Bott-labelled training lattices | samples seen | training time |", "|---|---|---|---|---|"]
    fin = r.get("final", {})
    for n in FINAL_SIZES:
        if not (scored_set(fin, n) or scored_set(fin, n, "_bb")):
            continue
        stages = [k for k in _route(r, n) if k in r]
        sets = {t for k in stages for attr in _STAGE_SETS.get(k, ()) for t in getattr(cfg, attr)}
        seen, sec = (sum(c) for c in zip(*(_stage_cost(cfg, r, k) for k in stages)))
        lines.append(f"| {n}×{n} | {' → '.join(stages)} | {sum(cfg.data[t].n_samples for t in sets):,} | {seen:,} | "
                     + (f"{sec / 3600:.2f} h |" if sec >= 36 else f"{sec:.0f} s |"))
    return "\n".join(lines)


def format_modes_table(summary: dict) -> str:
    """The shipped model's two prediction modes, the same weights: plain, and averaged over the label's
    point symmetries (markdown), on the sets of the final table."""
    fin = summary.get("final", {})
    mode = "group-averaged" if summary.get("symmetrize") else "plain"
    lines = [f"Prediction modes of the same weights (the shipped model predicts **{mode}**; group-averaged = "
             "log-probabilities averaged over identity, transposition with t₋ → −t₋, μ → −μ and both, 4× the "
             "inference cost; the sets of the final table):", "",
             "| size | plain, uniform / biased | group-averaged, uniform / biased |", "|---|---|---|"]
    for n in FINAL_SIZES:
        u, b = (fin.get(k) if k else None for k in (scored_set(fin, n, s) for s in ("", "_bb")))
        if u is None and b is None:
            continue
        cells = [" / ".join("—" if r is None else _pct(r[key]) for r in (u, b))
                 for key in ("accuracy_plain", "accuracy_group_averaged")]
        lines.append(f"| {n}×{n} | {cells[0]} | {cells[1]} |")
    return "\n".join(lines)


def format_parity_table(parity: dict) -> str:
    """The ``parity`` job's tables (markdown): per scored set, where the Bott labels and the fermion parity
    disagree; at 4×4 also by distance to the clean phase lines and by Δ̄ (:func:`topoml.evaluate.metrics.parity_breakdown`)."""
    def cells(v):
        return (f"{v['n']:,} | {_pct(v['disorder_decided'])} | {v['odd_changes']:,} | {_pct(v['follows_clean'])} | "
                f"{_pct(v['mismatch'])} | {v['gapless']:,}")

    head = ("lattices | labels decided by the disorder | of them, odd steps (the parity can tell) | parity of the clean "
            "phase on those | parity ≠ (−1)^C (gapped lattices) | gapless")
    lines = ["The fermion parity sign Pf(K) (`topoml.invariants.fermion_parity`) equals (−1)^C on clean lattices and "
             "changes only where the many-body gap closes. Where the disorder moves the Bott label away from the "
             "clean phase of the averages by an odd step, a parity that stays with the clean phase says the label "
             "moved through the geometry of the occupied states, not through a closing gap.", "",
             f"| set | {head} |", "|---|" + "---|" * 6]
    lines += [f"| `{k}` | {cells(v['all'])} |" for k, v in parity.items()]
    for k, v in parity.items():
        if v["size"] != 4:
            continue
        lines += ["", f"`{k}` by bin:", "", f"| bin | {head} |", "|---|" + "---|" * 6]
        for key, name in (("distance", "distance d of (μ̄/2, t̄₋)"), ("delta", "Δ̄")):
            lines += [f"| {name} ∈ [{b['lo']:g}, {b['hi']:g}) | {cells(b)} |" for b in v[key]]
    return "\n".join(lines)


def format_stability_table(stability: dict) -> str:
    """The ``stability`` job's table (markdown): per uniform scored set, and within it for the lattices whose
    averages are in a topological clean phase, how often the Bott label survives small changes of the disorder
    pattern and coarse graining (:func:`topoml.evaluate.metrics.label_agreement`)."""
    eps = sorted({e for v in stability.values() for e in v["perturbed"]}, key=float)
    dec = sorted({m for v in stability.values() for m in v["decimated"]}, key=int, reverse=True)

    def cell(a):
        if a is None or not a["n"]:
            return "—"
        nz = f"{_pct(a['kept_nonzero'])} of {a['nonzero']:,}" if a["nonzero"] else "none"
        return f"{_pct(a['agree'])} ({nz})"

    head = ([f"moved by {e} × the disorder widths" for e in eps]
            + [f"2×2 block averages to {m}×{m}, then Bott" for m in dec])
    lines = ["The same lattices, labelled again after a change that a predictor could hardly tell: every site moved by a "
             "fresh zero-mean disorder pattern a fraction of the size's disorder widths (averages kept), or the "
             "lattice coarse grained by 2×2 block averages (decimation, the RG network's starting map; Sec. III of the "
             "paper) — the share of labels that stay the same (in brackets: of the C ≠ 0 labels). A predictor that "
             "answers alike for a lattice and its perturbation is right on at most one of the two where their labels "
             "differ; \"decimation, then Bott\" is decimation + a perfect base network.", "",
             "| set | lattices | always 0 | " + " | ".join(head) + " |", "|---|" + "---|" * (2 + len(head))]
    for name, v in stability.items():
        for part, what in (("all", f"`{name}`"), ("topological", f"`{name}`, averages in a C ≠ 0 clean phase")):
            first = v["perturbed"].get(eps[0]) if eps else None
            ref = first or next(iter(v["decimated"].values()), None)
            if ref is None or not ref[part]["n"]:
                continue
            cells = [cell(v["perturbed"].get(e, {}).get(part)) for e in eps]
            cells += [cell(v["decimated"].get(m, {}).get(part)) for m in dec]
            lines.append(f"| {what} | {ref[part]['n']:,} | {_pct(ref[part]['always_zero'])} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def format_packaged_table(summary: dict) -> str:
    """The packaged weights (``topoml predict``'s default) on this run's sets (markdown; ``""`` when the run did not
    score them): the final table's columns, with this run's own model beside them."""
    from topoml.evaluate.predict import PACKAGED_MODEL

    pk = summary.get("packaged")
    if not pk:
        return ""
    if "error" in pk:
        return f"Not scored: {pk['error']}."
    fin, own = pk["final"], summary.get("final", {})
    base = pk.get("base", {})
    trained = (f"; training of its 4×4 base: {base['source']}, {base['samples_seen']:,} samples seen"
               + (f" of {pk['train_samples']['4x4']:,} labelled lattices" if "4x4" in pk.get("train_samples", {}) else "")
               if "source" in base and "samples_seen" in base else "")
    lines = [f"`topoml predict` without `--weights` uses the packaged `topoml/weights/{PACKAGED_MODEL}` (SHA-256 "
             f"`{pk['sha256'][:16]}…`, source: {pk.get('source', 'unrecorded')}{trained}; it predicts "
             f"{'group-averaged' if pk.get('symmetrize') else 'plain'}). Scored here like this run's model; a `test` "
             "set of this run with the seed of a set that selected the packaged model's epochs is not held out "
             "for it either.", "",
             "| size | paper | packaged, uniform | packaged, boundary-biased | this run's model, uniform / biased | "
             "always 0 (uniform / biased) | clean phase of the averages (uniform / biased) |",
             "|---|---|---|---|---|---|---|"]
    for n, names, c in _size_rows(fin):
        mine = " / ".join("—" if own.get(k) is None else _pct(own[k]["accuracy"]) for k in names)
        lines.append(f"| {n}×{n} | {c['paper']} | {c['acc'][0]} | {c['acc'][1]} | {mine} | {c['always_zero']} | "
                     f"{c['clean_phase']} |")
    return "\n".join(lines)


def _net_desc(net: dict) -> str:
    if net["kind"] == "invariant":
        return (f"invariant (circular padding, mean+max pool) width {net['width']}, {net['blocks']} residual blocks, "
                f"{net['head']} head{', group-averaged' if net.get('symmetrize') else ''}")
    return f"paper ResNet width {net['width']}, depth {net['depth']}, {net['padding']} padding"


def format_ablation_table(summary: dict) -> str:
    """Base-network ablation rows (markdown): the same test sets and selection for every row, and the same run seed
    except where the seed column says otherwise (a row repeated on another seed measures the spread); the training
    minutes are each row's epochs summed, evaluation excluded, with the torch threads of its job (one since session
    25, ``workers`` rows at a time; ``threads`` of the run before; rows of another depth or width differ in
    compute)."""
    rows = summary.get("ablation", {})
    lines = ["| row | network | head / loss | augment | optimizer, peak lr, schedule | training data | seed | "
             "samples seen | parameters | training minutes | 4×4 uniform | 4×4 boundary-biased | "
             "group-averaged: uniform / biased |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for name, r in rows.items():
        net, st = r["net"], r["stage"]
        desc = _net_desc(net)
        head = ("classes / cross-entropy" if net["head"] == "classes" else "regression / \\|d\\| + d²") \
            if net["kind"] == "invariant" else "regression / \\|d\\| + d²"
        if st.get("aux_targets", "none") != "none" and st.get("aux_weight", 1.0) > 0:
            head += f" + {st['aux_weight']:g} × MSE of the BdG energies (auxiliary head)"
        minutes = "—" if r.get("train_seconds") is None else f"{r['train_seconds'] / 60:.1f}"
        lines.append(f"| {name} | {desc} | {head} | {'yes' if st['augment'] else 'no'} | "
                     f"{st['optimizer']}, {st['lr']:g}, {st['schedule']} | {' + '.join(r['train'])} | "
                     f"{r.get('seed', '—')} | {r['samples_seen']:,} | {r['parameters']:,} | {minutes} | "
                     f"{_pct(r['acc4'])} | {_pct(r.get('acc4_bb'))} | {_pct(r.get('acc4_group_averaged'))} / "
                     f"{_pct(r.get('acc4_bb_group_averaged'))} |")
    return "\n".join(lines)


def format_rg_ablation_table(summary: dict) -> str:
    """RG-stage ablation rows (markdown), beside the run's own ``rg`` stage."""
    def accs(r):
        return " | ".join(_pct(r["selected"].get(f"acc{n}")) for n in (8, 16, 32))

    lines = ["| row | RG network | start | optimizer, lr | samples seen | 8×8 | 16×16 | 32×32 |", "|---|---|---|---|---|---|---|---|",
             f"| rg (the run's stage) | | | | | {accs(summary['rg'])} |"]
    for name, r in summary.get("rg_ablation", {}).items():
        net, st = r["net"], r["stage"]
        start = "decimation (skip)" if net["skip"] != "none" else f"pre-trained onto decimation ({r['init_samples']:,})"
        lines.append(f"| {name} | width {net['width']}, skip = {net['skip']} | {start} | {st['optimizer']}, {st['lr']:g} | "
                     f"{r['samples_seen']:,} | {accs(r)} |")
    return "\n".join(lines)


def report(cfg: Margalit2022Config, r: dict) -> str:
    """The markdown report of a finished run."""
    b, ri, rg, sc = r["base"], r["rg_init"], r["rg"], r["rg_scratch"]
    hours = (b["train_seconds"] + ri["train_seconds"] + rg["train_seconds"] + sc["train_seconds"]
             + sum(r.get(k, {}).get("train_seconds", 0) for k in ("tied", "joint", "joint_tied", "direct8"))) / 3600
    sets16 = set().union(*(_sets16(cfg, r, k) for k in ("tied", "joint", "joint_tied") if k in r))
    n_train = sum(cfg.data[t].n_samples for t in set(cfg.base_train + cfg.rg_train) | sets16)
    f = r["figures"]
    lines = [
        "# margalit2022 — RG networks for Chern numbers of disordered p+ip lattices",
        "",
        f"Profile `{cfg.profile}`. Networks: base {_net_desc(cfg.base_net.model_dump())} "
        f"({r['parameters']['base']:,} parameters; the paper: width 256, zero padding, 4.7 M); "
        f"RG width {cfg.rg_net.width}/{cfg.rg_net.inner_width or cfg.rg_net.width}, {cfg.rg_net.padding} padding "
        f"({r['parameters']['rg']:,} parameters; the paper: 256/512, about 18 M).",
        f"Training data: {n_train:,} Bott-labelled lattices ({100 * n_train / 1.6e8:.2f} % of the paper's "
        f"1e8 + 5e7 + (init) 5e7 = 1.6e8) plus {ri['samples']:,} random lattices for the decimation pre-training; "
        f"training wall time {hours:.2f} h with {cfg.threads} torch thread(s) (epochs summed, baselines excluded).",
        f"Model written to `model.safetensors` (and figures 1b, 7, 8): base + the RG network of stage "
        f"`{r.get('model_stage', 'rg')}` (the best 16×16 accuracy of the RG stages "
        + ", ".join(f"`{k}`" for k in ("rg", "tied", "joint", "joint_tied") if k in r) + ")"
        + ("; behind the RG network a copy of the base fine-tuned with it, the 4×4 base unchanged."
           if r.get("model_stage", "").startswith("joint") else "."),
        "Accuracy = fraction of uniform test lattices with round(output) = Bott label; test sets: "
        + ", ".join(f"{k} {v:,}" for k, v in r["datasets"].items() if k.startswith(("test", "holdout"))) + ".",
        "",
        format_table(r),
        "",
        "## Final table: the shipped model on uniform and boundary-biased test sets, with the baselines",
        "",
        "The paper's text says its test sets are uniform in the averages; the authors' code validates on "
        "the boundary-biased training distribution. Both are scored here; ± is one binomial standard error. "
        "The `test` sets at 4×4–16×16 chose the epochs and the shipped stage (the paper's protocol) and were "
        "looked at while the profile was tuned; the `holdout` sets, same distributions and fresh seeds, were "
        "touched by nothing but this table, so they are the measured accuracy wherever a size has one (the "
        "last column shows the optimism of the selection sets).",
        "",
        format_final_table(r),
        "",
        format_cost_table(cfg, r),
        "",
        format_modes_table(r),
        "",
    ]
    if r.get("packaged"):
        lines += ["## The packaged weights of `topoml predict` on the same sets", "", format_packaged_table(r), ""]
    fin = r.get("final", {})
    shown = [k for k in (scored_set(fin, n, s) for n in FINAL_SIZES for s in ("", "_bb")) if k]
    for k in shown:
        v = fin[k]
        if "breakdown" not in v:
            continue
        lines += [f"### 4×4 accuracy of the shipped base network on `{k}`, by distance to the clean phase lines, by Δ̄ "
                  "and by the branch-cut margin", "",
                  "The margin π − max |θ| of the eigenphases θ of V U V† U† (`BottSpectrum.margin`): where it is small, "
                  "a small change of the lattice moves an eigenphase across the cut and the label with it.", "",
                  "| bin | lattices | network | clean phase of the averages | labels decided by the disorder | "
                  "network on those |", "|---|---|---|---|---|---|"]
        for key, name in (("distance", "distance d of (μ̄/2, t̄₋)"), ("delta", "Δ̄"), ("margin", "margin (rad)")):
            for row in v["breakdown"].get(key, []):
                lines.append(f"| {name} ∈ [{row['lo']:g}, {row['hi']:g}) | {row['n']:,} | {_pct(row['accuracy'])} | "
                             f"{_pct(row['clean_phase'])} | {_pct(row['disorder_decided'])} | "
                             f"{_pct(row.get('accuracy_decided'))} |")
        lines.append("")
    if r.get("parity"):
        lines += ["## Bott labels and the ground-state fermion parity", "", format_parity_table(r["parity"]), ""]
    if r.get("stability"):
        lines += ["## How stable the label is: small changes of the disorder, and coarse graining", "",
                  format_stability_table(r["stability"]), ""]
    conf_rows = [(k, fin[k]["confidence"]) for k in shown if "confidence" in fin[k]]
    if conf_rows:
        lines += ["## Confidence (what `topoml predict` prints) against accuracy", "",
                  "| test set | " + " | ".join(f"conf. {x['lo']}–{x['hi']}: share / acc." for x in conf_rows[0][1]["bins"])
                  + " | " + " | ".join(f"cut {c['cut']}: kept / acc. kept / acc. flagged" for c in conf_rows[0][1]["cuts"])
                  + " |", "|---|" + "---|" * (len(conf_rows[0][1]["bins"]) + len(conf_rows[0][1]["cuts"]))]
        for k, t in conf_rows:
            lines.append(f"| {k} | " + " | ".join(f"{_pct(x['fraction'])} / {_pct(x['accuracy'])}" for x in t["bins"])
                         + " | " + " | ".join(f"{_pct(c['kept'])} / {_pct(c['accuracy_kept'])} / {_pct(c['accuracy_flagged'])}"
                                              for c in t["cuts"]) + " |")
        lines.append("")
    if r.get("ablation"):
        threads = sorted({a.get("threads") for a in r["ablation"].values()} - {None})
        lines += ["## Base-network ablation (same test sets and model selection; the run seed unless a row names "
                  "its own)", "", format_ablation_table(r), ""]
        if threads:
            lines += [f"Each row trained with {'/'.join(map(str, threads))} torch thread(s), {cfg.workers} row(s) at a "
                      "time: its minutes compare with the other rows', not with the stages above.", ""]
    if r.get("rg_ablation"):
        lines += ["## RG-stage ablation (same base, seeds, training sets and selection as the rg stage)", "",
                  format_rg_ablation_table(r), ""]
    lines += [
        "## Stages",
        "",
        f"* base: {cfg.base.optimizer}, lr {cfg.base.lr}, batch {cfg.base.batch_size}, {cfg.base.schedule} schedule, "
        f"{cfg.base.epochs} epochs ({b.get('samples_seen', b['train_samples'] * cfg.base.epochs):,} samples seen"
        f"{', each with a random exact symmetry' if cfg.base.augment else ''}) over {b['train_samples']:,} "
        f"boundary-biased 4×4 lattices; best epoch {b['best_epoch']} by 4×4 (uniform) test accuracy.",
    ]
    if "averages" in r:
        av = r["averages"]
        net = av["net"]
        lines.append(f"* baseline blind to the disorder pattern: a perceptron on the three lattice averages "
                     f"({net['depth']} hidden layers of {net['width']}) trained like the base network "
                     f"({cfg.averages.optimizer}, lr {cfg.averages.lr}, batch {cfg.averages.batch_size}, "
                     f"{cfg.averages.epochs} epochs, {av['train_seconds']:.0f} s) reaches {_pct(av['acc4'])} on 4×4; "
                     f"the clean closed formula at the averages {_pct(av['clean_formula_acc4'])}. The base network's "
                     f"margin over it, {100 * (b['acc4'] - av['acc4']):+.2f} points, is what it learned from the disorder.")
    lines += [
        (f"* decimation pre-training: {ri['samples']:,} lattices uniform in [−{cfg.init_range}, {cfg.init_range}]; "
         if ri["samples"] else f"* no decimation pre-training: the RG network (skip = {cfg.rg_net.skip}) is a "
         "correction on top of 2×2 block averaging that starts at zero; ")
        + f"RMS distance from 2×2 average pooling on held-out 8×8 / 16×16 inputs "
        f"{ri['final_metrics']['rms8']:.3f} / {ri['final_metrics']['rms16']:.3f}; base ∘ RG_init accuracy "
        f"8×8 {_pct(ri.get('compound_acc8'))}, 16×16 {_pct(ri.get('compound_acc16'))}.",
        f"* RG with decimation init: {cfg.rg.optimizer}, lr {cfg.rg.lr}, batch {cfg.rg.batch_size}, {cfg.rg.epochs} epochs "
        + (f"of {cfg.rg.samples_per_epoch:,} samples " if cfg.rg.samples_per_epoch else "")
        + f"over {rg['train_samples']:,} 8×8 lattices; selected {_epoch_name(rg['best_epoch'])} (best 16×16 accuracy, "
        f"the paper's early stop); at the best 8×8 epoch ({rg['best_epoch_by_acc8']}): {rg['at_best_acc8']}; "
        f"final epoch: {rg['final']}.",
        f"* RG from random init: selected {_epoch_name(sc['best_epoch'])} by 8×8 accuracy; final epoch: {sc['final']}.",
    ]
    if "tied" in r:
        t = r["tied"]
        lines.append(f"* tied 16×16 stage (two copies of one RG network, the paper's proposed next step): "
                     f"{cfg.tied.epochs} epochs over {t['train_samples']:,} 16×16 lattices from the selected RG; "
                     f"before: {t['initial']}; selected {_epoch_name(t['best_epoch'])}: {t['selected']}.")
    for key, size, sets, sel in (("joint", 8, cfg.rg_train, "8×8"), ("joint_tied", 16, cfg.joint_tied_train, "16×16")):
        if key in r:
            t, st = r[key], getattr(cfg, key)
            reads = (f"; the copy reads {cfg.coarse_size}×{cfg.coarse_size} lattices, after RG^k down to that size"
                     + (", so at 8×8 it trains alone, with no RG step" if cfg.coarse_size == 8 else ""))
            lines.append(f"* {key} ({size}×{size}): a copy of the base fine-tuned together with the RG network{reads} "
                         f"({st.optimizer}, lr {st.lr:g}, batch {st.batch_size}, {st.epochs} epochs"
                         + (f" of {st.samples_per_epoch:,} samples" if st.samples_per_epoch else "")
                         + f" over {t['train_samples']:,} lattices of {', '.join(sets)}"
                         + (f", batches alternating with as many of {', '.join(t['mix'])}" if t.get("mix") else "")
                         + f"); before: {t['initial']}; "
                         f"selected {_epoch_name(t['best_epoch'])} by {sel} accuracy: {t['selected']}.")
    if "direct8" in r:
        t, st = r["direct8"], cfg.direct8
        lines.append(f"* direct8 (8×8): a copy of the shipped stage's base copy trained on {', '.join(cfg.rg_train)} alone "
                     f"({st.optimizer}, lr {st.lr:g}, batch {st.batch_size}, {st.epochs} epochs"
                     + (f" of {st.samples_per_epoch:,} samples" if st.samples_per_epoch else "")
                     + f"), which answers 8×8 lattices in the shipped model (16×16 and larger keep the shared copy); "
                     f"8×8 accuracy {_pct(t['start_acc8'])} before, {_pct(t['acc8'])} at the selected "
                     f"{_epoch_name(t['best_epoch'])}.")
    lines += ["", "## Figures", ""]
    pd = f["phase_diagrams"]
    if "skipped" in pd:
        lines.append(f"* Fig. 2 (phase diagrams): skipped — {pd['skipped']}.")
    else:
        for k, v in pd.items():
            lines.append(f"* Fig. 2, reference disorder `{k}`: base network agrees with the Bott labels on "
                         f"{_pct(v['agreement'])} of {v['points']:,} grid points — ![]({v['figure']})")
    lines.append(f"* Fig. 3, accuracy per epoch: ![]({f['accuracy_per_epoch']})")
    fl = f["rg_flow"]
    lines.append(f"* Fig. 7, RG flow of clean {cfg.flow_size}×{cfg.flow_size} lattices ({fl['steps']} steps): mean |drift| of "
                 f"(μ̄, t̄₋) {np.round(fl['mean_abs_drift_mu_tminus'], 3).tolist()}; largest site-to-site std after the "
                 f"flow {fl['max_site_std_after']:.3f} — ![]({fl['figure']})")
    im = f["impurity"]
    lines.append(f"* Fig. 8, single impurity δμ ∈ {im['delta_mu']} at site (4, 6) of a clean 8×8 lattice: change of μ' at "
                 f"the parent coarse site (2, 3) {np.round(im['change_at_parent_site'], 3).tolist()}, largest change anywhere "
                 f"{np.round(im['max_change_mu'], 3).tolist()} — ![]({im['figure']})")
    lines += ["", "## Runtime (Fig. 1b; one thread, seconds per lattice)", "",
              "| N | network | Bott | Bott / network |", "|---|---|---|---|"]
    for row in f["runtime"]["rows"]:
        lines.append(f"| {row['N']} | {row['network_s']:.2e} | "
                     + (f"{row['bott_s']:.2e} | {row['speedup']:.3g}× |" if "bott_s" in row else "not run (too slow) | — |"))
    lines += ["", f"![]({f['runtime']['figure']})", ""]
    return "\n".join(lines) + "\n"
