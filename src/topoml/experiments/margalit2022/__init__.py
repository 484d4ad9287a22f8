"""Reproduction of Margalit, Lesser, Pereg-Barnea, Oreg, "Renormalization-group-inspired neural networks
for computing topological invariants", PRB 105, 205139 (2022).

Thin driver (this module): config (:mod:`.config`, profiles in ``configs/margalit2022.toml``) → Bott-labelled
datasets (:mod:`topoml.data.generate`, cached in ``<run>/data``) → stages (:mod:`.stages`; each resumable: per-epoch
checkpoints by :class:`topoml.train.trainer.Trainer`, finished stages stored as jobs of the run directory) → figures
(:mod:`.figures`) → report (:mod:`.reporting`). Stages:

1. ``base``: the base network on boundary-biased 4×4 lattices; model selection by 4×4 test accuracy.
2. ``decimation``: the baseline ``base ∘ decimation^k`` on 8×8, 16×16, 32×32 test sets.
3. ``rg_init``: the RG network regressed onto 2×2 average pooling on 8×8 inputs uniform in
   ``[−5, 5]`` (App. B 1).
4. ``rg``: ``base ∘ RG`` trained on 8×8 Bott labels with the base frozen, from the decimation
   initialization; after every epoch 8×8 and 16×16 accuracy; the epoch with the best 16×16 accuracy
   is kept (the paper's early stop on generalization).
5. ``rg_scratch``: the same from a random initialization.
6. ``tied``: the paper's proposed next step — ``base ∘ RG ∘ RG`` (two tied copies) trained on 16×16.
   Baseline (not in the paper, ``averages``, after ``base``): a network on the three lattice averages
   only and the clean closed formula at the averages — what can be had without reading the disorder.
   ``joint`` / ``joint_tied`` (not in the paper, issue 10; ``joint.epochs = 0`` skips them): a copy of the
   base fine-tuned together with the RG network on 8×8 (selected at 8×8), then on 16×16 (selected at
   16×16; ``joint_tied_mix`` alternates 8×8 batches with them); the shipped compound keeps the 4×4 base for
   4×4 lattices (``CompoundNet.coarse_base``), and the copy reads ``coarse_size`` lattices (8: 8×8 ones with
   no RG step, so the ``joint`` stage trains it alone). The shipped RG stage is the one with the best 16×16
   accuracy. ``direct8`` (issue 10, session 12; ``direct8.epochs = 0`` skips it): a copy of the last joint
   stage's copy trained on the 8×8 sets alone, which answers 8×8 lattices in the shipped compound
   (``CompoundNet.size_nets``); every other size keeps its route.
   ``packaged`` (issue 10, session 16; ``packaged = false`` skips it): the weights that ``topoml predict`` ships
   (``topoml/weights/margalit2022_chern.safetensors``; their 4×4 base was trained on a GPU by
   ``scripts/gpu_base_4x4.py``) scored on this run's sets like the run's own model, so that the report measures the
   product too; recomputed when the packaged file changes (its SHA-256 is recorded).
   ``parity`` (issue 10): the ground-state fermion parity (``topoml.invariants.fermion_parity``) of every
   lattice of the 4×4 to 32×32 sets of the final table, set against their Bott labels: where the disorder
   moves a label by an odd step, does the parity follow it (a closing gap) or stay with the clean phase (the
   geometry of the occupied states)? Data only, computed once.
   ``stability`` (issue 10, session 18): the Bott labels of each size's uniform scored set again, after every site
   is moved by a small fraction of the disorder widths and after 2×2 block averaging (decimation), against the
   lattices' own labels: how smooth the label is in the disorder pattern, and whether coarse graining keeps it.
   Data only, stored per set.
7. ``ablation-<row>``: base-network ablation rows (after the shipped-style model is written, so an
   interrupted run has its main table first); ``rg_ablation-<row>``: RG-stage rows behind the same
   base (own decimation pre-training ``rg_ablation-<row>-init`` when the row's RG has no ``skip``).
8. figures: phase diagrams of the reference disorder patterns (Fig. 2), accuracy per epoch (Fig. 3),
   RG flow of clean lattices (Fig. 7), a single impurity through the RG map (Fig. 8), runtime of
   Bott vs the network (Fig. 1b).

Accuracy everywhere: fraction of test lattices with ``round(output) == Bott label``; test sets are
uniform in the averages (``docs/conventions-margalit2022.md``), ``*_bb`` sets boundary-biased. The ``test`` sets
select epochs and stages; the optional ``holdout`` sets (same distributions, fresh seeds) are scored by the final
table only, and the shipped model's recorded accuracy is theirs where they exist.
"""

from __future__ import annotations

import time
from pathlib import Path

from topoml.experiments.margalit2022.config import (FINAL_SIZES, PAPER, AblationRow, DataSpec, Margalit2022Config,
                                                    NetSpec, RGAblationRow, StageSpec, dataset_config, load_config)
from topoml.experiments.margalit2022.figures import (_fig_epochs, _fig_flow, _fig_impurity, _fig_phase_diagrams,
                                                     _fig_runtime)
from topoml.experiments.margalit2022.reporting import (format_ablation_table, format_final_table, format_table,
                                                    report)
from topoml.experiments.margalit2022.stages import (_Data, _base_net, _final_table, _log, _net_kwargs, _sets16,
                                                    _stage_ablation, _stage_averages, _stage_base, _stage_decimation,
                                                    _stage_direct8, _stage_packaged, _stage_parity, _stage_rg,
                                                    _stage_rg_ablation, _stage_rg_init, _stage_stability, final_row,
                                                    fit_4x4, fit_rg, fit_rg_init, scored_set, train_base, train_rg)
from topoml.rng import derive_seed
from topoml.runs.executor import Engine
from topoml.runs.rundir import RunDir

__all__ = ["Margalit2022Config", "DataSpec", "NetSpec", "StageSpec", "AblationRow", "RGAblationRow", "PAPER",
           "load_config", "dataset_config", "run", "report", "format_table", "format_final_table",
           "format_ablation_table", "final_row", "scored_set", "fit_4x4", "fit_rg_init", "fit_rg", "train_base",
           "train_rg"]


def run(cfg: Margalit2022Config, out: str | Path, progress: bool = True, engine: Engine = "process",
        scheduler_address: str | None = None) -> dict:
    """Run (or resume) the reproduction into ``out`` (locked meanwhile); returns the summary (also
    ``summary.json``). The datasets are generated on ``engine`` with ``cfg.workers`` workers (the data do
    not depend on either); the trainings run in this process with ``cfg.threads`` torch threads, except the
    ablation rows: ``cfg.workers`` at a time with one thread each (their results do not depend on ``workers``)."""
    out = Path(out)
    with RunDir(out, cfg.model_dump(), seed=cfg.seed) as rd:
        return _run(cfg, out, rd, progress, engine, scheduler_address)


def _run(cfg: Margalit2022Config, out: Path, rd: RunDir, progress: bool, engine: Engine,
         scheduler_address: str | None) -> dict:
    import torch

    from topoml.nets.registry import count_parameters
    from topoml.train.checkpoint import model_bytes

    torch.set_num_threads(cfg.threads)
    t_start = time.time()
    data = _Data(cfg, out, progress, engine, scheduler_address)
    results: dict = {"datasets": {k: v.n_samples for k, v in cfg.data.items() if v.n_samples}}

    _log("stage base", progress)
    base, results["base"] = _stage_base(cfg, rd, data, progress)
    _log(f"base: 4x4 accuracy {results['base']['acc4']:.4f}", progress)
    if cfg.averages.epochs > 0:
        results["averages"] = _stage_averages(cfg, rd, data, progress)
        _log(f"averages-only baseline: 4x4 accuracy {results['averages']['acc4']:.4f}", progress)
    results["decimation"] = _stage_decimation(cfg, rd, base, data)
    _log(f"decimation + base: {results['decimation']}", progress)
    rg0, results["rg_init"] = _stage_rg_init(cfg, rd, base, data, progress)
    import copy

    comp, results["rg"] = _stage_rg(cfg, rd, base, copy.deepcopy(rg0), data, progress, job="rg", st=cfg.rg,
                                    train=tuple(cfg.rg_train), select="acc16")
    _log(f"rg (decimation init): {results['rg']['selected']}", progress)
    torch.manual_seed(derive_seed(cfg.seed, "rg_scratch_init"))
    from topoml.nets.rg import RGNet

    scratch = RGNet(**_net_kwargs(cfg.rg_net, "rg"))
    _, results["rg_scratch"] = _stage_rg(cfg, rd, base, scratch, data, progress, job="rg_scratch",
                                         st=cfg.rg_scratch, train=tuple(cfg.rg_train), select="acc8")
    _log(f"rg (random init): {results['rg_scratch']['selected']}", progress)
    candidates = {"rg": comp}  # stage -> compound; the shipped model: the best 16x16 accuracy (earliest on ties)
    if cfg.tied.epochs > 0 and all(t in data for t in cfg.tied_train):
        candidates["tied"], results["tied"] = _stage_rg(
            cfg, rd, base, copy.deepcopy(comp.rg), data, progress, job="tied", st=cfg.tied, train=tuple(cfg.tied_train),
            select="acc16", eval_sizes=(8, 16, 32))
        _log(f"tied 16x16 stage: {results['tied']['selected']}", progress)
    if cfg.joint.epochs > 0:
        # a copy of the base fine-tuned with the RG network (issue 10): at 8x8 (selected at 8x8), then at
        # 16x16 (selected at 16x16), from the better of the RG stages so far; the 4x4 base stays as it is
        start = max(candidates, key=lambda s: results[s]["selected"]["acc16"])
        joint, results["joint"] = _stage_rg(
            cfg, rd, base, copy.deepcopy(candidates[start].rg), data, progress, job="joint", st=cfg.joint,
            train=tuple(cfg.rg_train), select="acc8", eval_sizes=(8, 16, 32), coarse_base=copy.deepcopy(base))
        results["joint"]["start"] = start
        candidates["joint"] = joint
        _log(f"joint 8x8 stage: {results['joint']['selected']}", progress)
        if cfg.joint_tied.epochs > 0 and all(t in data for t in cfg.joint_tied_train + cfg.joint_tied_mix):
            candidates["joint_tied"], results["joint_tied"] = _stage_rg(
                cfg, rd, base, copy.deepcopy(joint.rg), data, progress, job="joint_tied", st=cfg.joint_tied,
                train=tuple(cfg.joint_tied_train), select="acc16", eval_sizes=(8, 16, 32),
                coarse_base=copy.deepcopy(joint.coarse_base), mix=tuple(cfg.joint_tied_mix))
            _log(f"joint 16x16 stage: {results['joint_tied']['selected']}", progress)
    model_stage = max(candidates, key=lambda s: results[s]["selected"]["acc16"])
    comp = candidates[model_stage]
    if cfg.direct8.epochs > 0:
        last_joint = candidates["joint_tied" if "joint_tied" in candidates else "joint"]
        comp, results["direct8"] = _stage_direct8(cfg, rd, comp, last_joint.coarse_base, data, progress)
        _log(f"direct8 stage: 8x8 accuracy {results['direct8']['acc8']:.4f}", progress)
    comp.symmetrize = cfg.symmetrize
    results["model_stage"], results["symmetrize"] = model_stage, cfg.symmetrize
    results["final"] = _final_table(data, comp)
    results["final"]["model_stage"] = model_stage

    # the shipped-style model: base + the RG network of the stage with the best 16x16 accuracy; its recorded
    # accuracy is the final table's (uniform held-out sets where the run has them, the shipped prediction mode)
    spec = {"base": _net_kwargs(cfg.base_net, "base"), "rg": _net_kwargs(cfg.rg_net, "rg"),
            "base_kind": cfg.base_net.kind, **({"coarse_base": True} if comp.coarse_base is not None else {}),
            **({"coarse_size": comp.coarse_size} if comp.coarse_size != comp.base_size else {}),
            **({"symmetrize": True} if comp.symmetrize else {}),
            **({"size_nets": sorted(int(n) for n in comp.size_nets)} if len(comp.size_nets) else {})}
    used16 = sorted(_sets16(cfg, results, model_stage))
    fin = results["final"]
    scored = {str(n): name for n in FINAL_SIZES if (name := scored_set(fin, n))}
    meta = {"accuracy": {n: fin[k]["accuracy"] for n, k in scored.items()},
            "always_zero": {n: fin[k]["always_zero"] for n, k in scored.items()},
            "test_sets": scored, "held_out": {n: not fin[k]["selects"] for n, k in scored.items()},
            "stage": model_stage, "symmetrize": comp.symmetrize, "source": "topoml reproduce margalit2022",
            "profile": cfg.profile,
            "train_samples": {"4x4": sum(cfg.data[t].n_samples for t in cfg.base_train), "8x8": sum(cfg.data[t].n_samples for t in cfg.rg_train),
                              **({"16x16": sum(cfg.data[t].n_samples for t in used16)} if used16 else {})}}
    rd.write_bytes("model.safetensors", model_bytes(comp, "margalit2022.chern", spec, meta))
    results["parameters"] = {"base": count_parameters(_base_net(cfg.base_net)), "rg": count_parameters(comp.rg)}
    if cfg.packaged:
        _log("packaged weights", progress)
        results["packaged"] = _stage_packaged(rd, data)
    _log("fermion parity of the scored sets", progress)
    results["parity"] = _stage_parity(cfg, rd, data, progress)
    results["stability"] = _stage_stability(cfg, rd, data, progress)
    # the ablation rows run after the shipped-style model is written, so an interrupted run has its
    # main table first; each row is its own resumable job
    if cfg.ablation:
        results["ablation"] = _stage_ablation(cfg, rd, data, progress)
    if cfg.rg_ablation:
        results["rg_ablation"] = _stage_rg_ablation(cfg, rd, base, data, progress)

    _log("figures", progress)
    figs = {"phase_diagrams": _fig_phase_diagrams(cfg, rd, base), "accuracy_per_epoch": _fig_epochs(rd, results),
            "rg_flow": _fig_flow(cfg, rd, comp.rg), "impurity": _fig_impurity(rd, comp.rg)}
    torch.set_num_threads(1)
    from topoml.evaluate.timing import runtime_table

    rows = runtime_table(comp, cfg.runtime_sizes, cfg.runtime_bott_max)
    torch.set_num_threads(cfg.threads)
    figs["runtime"] = {"rows": rows, "figure": _fig_runtime(rd, rows)}
    results["figures"] = figs
    results["wall_seconds_last_session"] = time.time() - t_start
    rd.write_json("summary.json", results)
    rd.write_text("report.md", report(cfg, results))
    return results
