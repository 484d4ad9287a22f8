"""The stages of the margalit2022 reproduction: datasets of a run, the training of the base and RG networks,
every stage as a resumable job of the run directory, and the scores of the final table."""

from __future__ import annotations

import math
import time
from pathlib import Path

import numpy as np

from topoml.experiments.margalit2022.config import (FINAL_SIZES, SELECTING_SETS, Margalit2022Config, NetSpec,
                                                    StageSpec, dataset_config)
from topoml.rng import derive_seed
from topoml.runs.executor import Engine
from topoml.runs.rundir import RunDir, atomic_write_bytes


def _log(msg: str, progress: bool = True) -> None:
    """One line per step and epoch (always; ``progress`` only switches the tqdm bars of data generation)."""
    print(f"[margalit2022 {time.strftime('%H:%M:%S')}] {msg}", flush=True)


# --------------------------------------------------------------------------------------- data
class _Data:
    """The datasets of a run, generated on first use into ``out/data/<name>`` (or reused when finished) and
    then held in memory (inputs float32 of shape (n, N, N, 3), labels int64 of shape (n,))."""

    def __init__(self, cfg: Margalit2022Config, out: Path, progress: bool, engine: Engine = "process",
                 scheduler_address: str | None = None):
        self.cfg, self.out, self.progress, self._cache = cfg, out, progress, {}
        self.engine, self.scheduler_address = engine, scheduler_address

    def __contains__(self, name: str) -> bool:
        return name in self.cfg.data and self.cfg.data[name].n_samples > 0

    def path(self, name: str) -> Path:
        from topoml.data.generate import generate_dataset

        spec, path = self.cfg.data[name], self.out / "data" / name
        _log(f"dataset {name}: {spec.n_samples} {spec.lattice_size}x{spec.lattice_size} lattices", self.progress)
        generate_dataset(dataset_config(name, spec), path, workers=self.cfg.workers, engine=self.engine,
                         scheduler_address=self.scheduler_address, progress=self.progress)
        return path

    def __getitem__(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        if name not in self._cache:
            self._cache[name] = _load_set(self.path(name))
        return self._cache[name]


def _load_set(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """A finished dataset's inputs (float32, (n, N, N, 3)) and labels (int64, (n,))."""
    from topoml.data.store import open_dataset

    with open_dataset(path) as ds:
        return np.asarray(ds.inputs[:], dtype=np.float32), np.asarray(ds.labels[:])


# --------------------------------------------------------------------------------------- stages
def _net_kwargs(spec: NetSpec, kind: str) -> dict:
    if kind == "base" and spec.kind == "invariant":
        return {"width": spec.width, "blocks": spec.blocks, "hidden": spec.hidden, "head": spec.head,
                "symmetrize": spec.symmetrize}
    kw = {"width": spec.width, "depth": spec.depth, "padding": spec.padding}
    if kind == "rg":
        kw["inner_width"] = spec.inner_width
        if spec.skip != "none":  # left out otherwise: specs of earlier runs unchanged
            kw["skip"] = spec.skip
    return kw


def _base_net(spec: NetSpec):
    from topoml.nets.rg import BaseNet, InvariantBaseNet

    return (InvariantBaseNet if spec.kind == "invariant" else BaseNet)(**_net_kwargs(spec, "base"))


def _loss(class_head: bool, st: StageSpec):
    """The loss of stage ``st`` behind a base network with (``class_head``) or without class logits: the
    paper's |d| + d² for regression outputs; for class logits cross-entropy, or |d| + d² on the expected
    Chern number (``st.loss = "expected"``)."""
    from topoml.train.trainer import chern_class_loss, chern_expected_loss, chern_loss

    if not class_head:
        return chern_loss
    return chern_expected_loss if st.loss == "expected" else chern_class_loss


def _train_config(st: StageSpec, seed: int):
    from topoml.train.trainer import TrainConfig

    return TrainConfig(epochs=st.epochs, batch_size=st.batch_size, optimizer=st.optimizer, lr=st.lr,
                       momentum=st.momentum, schedule=st.schedule, seed=seed, weight_decay=st.weight_decay,
                       precision=st.precision)


def _predict(net, x: np.ndarray, confidence: bool = False):
    """Predicted Chern numbers (int64) of lattices ``x`` (regression rounded, classes argmax), and with
    ``confidence`` also the confidence (:func:`topoml.evaluate.predict.predict_chern`)."""
    from topoml.evaluate.predict import predict_chern

    c, _, q = predict_chern(net, x, batch_size=2048)
    return (c, q) if confidence else c


def _accuracy(net, data, name: str) -> float:
    from topoml.evaluate.metrics import accuracy

    x, y = data[name]
    return accuracy(_predict(net, x), y)


def _epoch_printer(stage: str, progress: bool):
    def show(r: dict) -> None:
        m = ", ".join(f"{k} {v:.4f}" for k, v in r["metrics"].items())
        _log(f"{stage} epoch {r['epoch']}: loss {r['train_loss']:.4f}, {m} ({r['seconds']:.0f} s)", progress)

    return show


def _training_set(data, names: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
    """The sets ``names`` of ``data`` as one training set (concatenated in that order)."""
    xs, ys = zip(*(data[t] for t in names))
    return (xs[0], ys[0]) if len(xs) == 1 else (np.concatenate(xs), np.concatenate(ys))


#: lattices at the head of the training set that fix the standardization of auxiliary targets
AUX_REFERENCE = 20_000


def _training_view(net, st: StageSpec, size: int = 4):
    """What the trainer of stage ``st`` optimizes and checkpoints: ``net``, or with auxiliary targets ``net``
    inside an :class:`~topoml.nets.rg.AuxiliaryHead` (whose ``best.safetensors`` holds both heads)."""
    from topoml.nets.rg import AuxiliaryHead

    if not st.auxiliary:
        return net
    return AuxiliaryHead(net, outputs=size * size)  # the N² positive BdG energies


def fit_4x4(net, st: StageSpec, seed: int, folder: Path, data, stage: str, progress: bool, *,
            loss=None, train: tuple[str, ...] = ("train4",), size: int = 4) -> dict:
    """The 4×4 training stage (base network, ablation rows, averages baseline; also ``topoml train base``), and
    any network that reads lattices of one ``size`` directly (``direct8``: ``size = 8``).

    Trains ``net`` on the ``size``×``size`` sets ``train`` of ``data`` (a mapping name → (inputs, labels), e.g. a
    dict) with ``loss`` (default |d| + d²; symmetry augmentation if ``st.augment``; with ``st.aux_targets`` a second
    head regresses the lattices' BdG energies, standardized on the first :data:`AUX_REFERENCE` training lattices,
    and is dropped afterwards: ``net`` is what is scored and returned) and keeps the epoch with the
    best test accuracy (``acc{size}``, on ``data[f"test{size}"]``; the lowest training loss without that set);
    the boundary-biased ``test{size}_bb`` accuracy is recorded too when that set exists. Checkpoints and
    resume in ``folder``. Returns the stage's result (best epoch, its metrics, history)."""
    from topoml.train.trainer import (StandardizedEnergies, Trainer, auxiliary_loss, auxiliary_targets, chern_loss,
                                      symmetry_augmented, tensor_batches)

    def evaluate(_) -> dict:  # ``net`` itself, not the training view of an auxiliary head
        return {f"acc{size}{s}": _accuracy(net, data, f"test{size}{s}") for s in ("", "_bb") if f"test{size}{s}" in data}

    x, y = _training_set(data, train)
    model, loss = _training_view(net, st, size), loss or chern_loss
    if st.auxiliary:
        targets = StandardizedEnergies(x[:AUX_REFERENCE])
        loss = auxiliary_loss(loss, size * size, st.aux_weight)
    trainer = Trainer(model, _train_config(st, seed), folder, loss=loss, evaluate=evaluate,
                      select=f"acc{size}" if f"test{size}" in data else None)
    source = tensor_batches(x, y, st.batch_size, seed, samples_per_epoch=st.samples_per_epoch or None)
    if st.augment:
        source = symmetry_augmented(source, seed)
    if st.auxiliary:
        source = auxiliary_targets(source, targets)
    trainer.fit(source, on_epoch=_epoch_printer(stage, progress), progress=progress)
    best = trainer.load_best()
    seen = sum(r["samples"] for r in trainer.history)
    return {"best_epoch": best, **trainer.history[best]["metrics"], "train_samples": len(y),
            "samples_seen": seen, "epochs": st.epochs,
            "train_seconds": sum(r["train_seconds"] for r in trainer.history), "history": trainer.history}


def _stage_base(cfg, rd: RunDir, data: _Data, progress: bool):
    import torch

    from topoml.nets.registry import count_parameters
    from topoml.train.checkpoint import load_state_bytes

    seed = derive_seed(cfg.seed, "base")
    torch.manual_seed(seed)
    net = _base_net(cfg.base_net)
    done = rd.job_result("base")
    folder = rd.job_dir("base")
    if done is not None:
        load_state_bytes(_training_view(net, cfg.base), (folder / "best.safetensors").read_bytes())
        return net, done
    t0 = time.time()
    result = {**fit_4x4(net, cfg.base, seed, folder, data, "base", progress, loss=_loss(cfg.base_net.class_head, cfg.base),
                         train=tuple(cfg.base_train)),
              "parameters": count_parameters(net), "wall_seconds_this_session": time.time() - t0}
    rd.save_job("base", result)
    return net, result


def _stage_averages(cfg, rd: RunDir, data: _Data, progress: bool) -> dict:
    """Baselines blind to the disorder pattern: :class:`~topoml.nets.rg.AveragesNet` trained like the base
    network (same data, loss and selection), and the clean closed formula evaluated at the averages."""
    import torch

    from topoml.invariants.chern import clean_chern_number
    from topoml.nets.rg import AveragesNet

    done = rd.job_result("averages")
    if done is not None:
        return done
    seed = derive_seed(cfg.seed, "averages")
    torch.manual_seed(seed)
    net = AveragesNet()
    xt, yt = data["test4"]
    avg = xt.astype(np.float64).mean(axis=(1, 2))
    result = {**fit_4x4(net, cfg.averages, seed, rd.job_dir("averages"), data, "averages", progress),
              "net": net.config, "clean_formula_acc4": float(np.mean(clean_chern_number(avg[:, 0], avg[:, 1]) == yt))}
    rd.save_job("averages", result)
    return result


def _stage_ablation(cfg, rd: RunDir, data: _Data, progress: bool) -> dict:
    """Each row of ``cfg.ablation``: the base network and stage with the row's overrides, trained from the
    same seed (the row's own where it names one) on the row's 4×4 sets and scored on the same test sets
    (``ablation-<row>`` jobs).

    The rows are independent jobs of :meth:`RunDir.run_jobs`: ``cfg.workers`` at a time, each with one torch
    thread, so a row's result does not depend on ``cfg.workers`` (session 25, ``benchmarks/bench_parallel_rows.py``:
    on 2 cores two one-thread trainings of the default base network make 1.47x the samples/s of one two-thread
    training). Their datasets are labelled here first; each row checkpoints per epoch in its job folder and
    resumes there."""
    jobs = [{"id": f"ablation-{name}", "out": str(data.out), "train": list(row.train),
             "sets": [t for t in dict.fromkeys([*row.train, "test4", "test4_bb"]) if t in data],
             "net": {**cfg.base_net.model_dump(mode="json"), **row.base_net},
             "stage": {**cfg.base.model_dump(mode="json"), **row.base},
             "seed": cfg.seed if row.seed is None else row.seed} for name, row in cfg.ablation.items()]
    for t in dict.fromkeys(t for j in jobs for t in j["sets"]):  # labelled here, on cfg.workers processes
        data.path(t)
    done = rd.run_jobs(jobs, _ablation_job, workers=cfg.workers, engine=data.engine,
                       scheduler_address=data.scheduler_address, progress=progress, desc="ablation rows")
    out = {}
    for name in cfg.ablation:
        out[name] = done[f"ablation-{name}"]
        _log(f"ablation-{name}: 4x4 accuracy {out[name]['acc4']:.4f}", progress)
    return out


def _ablation_job(job: dict) -> tuple[dict, dict[str, bytes]]:
    """One ablation row (a :meth:`RunDir.run_jobs` worker): the network ``job["net"]`` trained with the stage
    ``job["stage"]`` from the run seed ``job["seed"]`` on the sets ``job["train"]``, in ``<out>/jobs/<id>`` (resuming
    from the epochs there), and scored; the sets ``job["sets"]`` are read from ``<out>/data``. Returns
    ``(result, {})``."""
    import torch

    from topoml.nets.registry import count_parameters

    out = Path(job["out"])
    data = {t: _load_set(out / "data" / t) for t in job["sets"]}
    spec, st = NetSpec.model_validate(job["net"]), StageSpec.model_validate(job["stage"])
    seed = derive_seed(job["seed"], "ablation")
    torch.manual_seed(seed)
    net = _base_net(spec)
    res = fit_4x4(net, st, seed, out / "jobs" / job["id"], data, job["id"], False, loss=_loss(spec.class_head, st),
                  train=tuple(job["train"]))
    res.pop("history")
    if spec.kind == "invariant" and not spec.symmetrize:  # the shipped prediction mode, beside the plain one
        net.symmetrize = True
        res.update({f"acc4{s}_group_averaged": _accuracy(net, data, f"test4{s}")
                    for s in ("", "_bb") if f"test4{s}" in data})
        net.symmetrize = False
    return {**res, "parameters": count_parameters(net), "net": spec.model_dump(), "stage": st.model_dump(),
            "train": job["train"], "seed": job["seed"], "threads": torch.get_num_threads()}, {}


def _stage_rg_ablation(cfg, rd: RunDir, base, data: _Data, progress: bool) -> dict:
    """Each row of ``cfg.rg_ablation``: an RG network with the row's ``rg_net`` (pre-trained onto
    decimation with the row's ``rg_init`` when it has no ``skip``) trained with the row's ``rg`` stage behind
    the frozen ``base`` on ``cfg.rg_train``, from the same seeds, selected like the ``rg`` stage."""
    import torch

    from topoml.nets.rg import CompoundNet, RGNet
    from topoml.nets.registry import count_parameters

    out = {}
    for name, row in cfg.rg_ablation.items():
        job = f"rg_ablation-{name}"
        done = rd.job_result(job)
        if done is None:
            net, init, st = row.resolve(cfg, name)
            torch.manual_seed(derive_seed(cfg.seed, "rg_init"))
            rg = RGNet(**_net_kwargs(net, "rg"))
            pre = 0
            if net.skip == "none":
                pre = fit_rg_init(rg, init, derive_seed(cfg.seed, "rg_init"), rd.job_dir(f"{job}-init"),
                                  cfg.init_range, progress)["samples"]
            res = fit_rg(CompoundNet(base, rg), st, derive_seed(cfg.seed, "rg"), rd.job_dir(job), data, progress,
                         job=job, train=tuple(cfg.rg_train), select="acc16", loss=_loss(cfg.base_net.class_head, st))
            res.pop("history")
            done = {**res, "net": net.model_dump(), "stage": st.model_dump(), "init_samples": pre,
                    "samples_seen": st.epochs * (st.samples_per_epoch or res["train_samples"]),
                    "parameters": count_parameters(rg)}
            rd.save_job(job, done)
        _log(f"{job}: {done['selected']}", progress)
        out[name] = done
    return out


def _sets16(cfg: Margalit2022Config, results: dict, stage: str) -> set[str]:
    """The 16×16 training sets behind the compound of RG stage ``stage`` (through the stages it started from)."""
    if stage == "tied":
        return set(cfg.tied_train)
    if stage == "joint":
        return _sets16(cfg, results, results["joint"].get("start", "rg"))
    if stage == "joint_tied":
        return set(cfg.joint_tied_train) | _sets16(cfg, results, "joint")
    return set()


def _final_table(data: _Data, comp) -> dict:
    """Every test and held-out set scored by the shipped model ``comp`` (its base at 4×4, base ∘ RG^k above; in
    its prediction mode, ``comp.symmetrize``) beside the baselines that ignore the disorder ("always 0", the
    clean phase of the averages), the accuracy of both prediction modes (``accuracy_plain``,
    ``accuracy_group_averaged``: the same weights), the confidence table, and at 4×4 the breakdown by
    distance to the phase lines and by pairing. Each row records ``selects``: whether the set chose an epoch
    or a stage (the ``test`` sets at 4×4–16×16; :func:`scored_set` prefers the held-out sets)."""
    rows = {}
    for name in (f"{kind}{n}{s}" for n in FINAL_SIZES for kind in ("test", "holdout") for s in ("", "_bb")):
        if name in data:
            rows[name] = final_row(comp, *data[name], selects=name in SELECTING_SETS)
    return rows


def _stage_packaged(rd: RunDir, data: _Data) -> dict:
    """The ``packaged`` job: the final table of the weights shipped with the package (``topoml predict``'s
    default) on this run's sets, with the file's SHA-256 and the training record of its metadata; a stored result
    is reused only while the packaged file is the same. A missing or unreadable packaged file (an installation
    without the package data) does not stop the run: the result is ``{"error": ...}``, not stored, and the report
    says so."""
    import hashlib

    from topoml.errors import CheckpointError
    from topoml.evaluate.predict import packaged_weights
    from topoml.train.checkpoint import load_model

    try:
        blob = packaged_weights().read_bytes()
        comp, meta = load_model(blob)
    except (OSError, CheckpointError) as e:
        return {"error": f"the packaged weights could not be read: {e}"}
    sha = hashlib.sha256(blob).hexdigest()
    done = rd.job_result("packaged")
    if done is not None and done.get("sha256") == sha:
        return done
    comp.eval()
    done = {"sha256": sha, "symmetrize": bool(comp.symmetrize),
            **{k: meta[k] for k in ("source", "base", "train_samples", "accuracy", "test_sets") if k in meta},
            "final": _final_table(data, comp)}
    rd.save_job("packaged", done)
    return done


#: Lattice sizes whose scored sets get the fermion-parity table (one core: about 0.4 ms per 4×4 lattice, 30–60 ms
#: per 16×16 and 6 s per 32×32 one, so the 200 lattices of ``holdout32`` cost 10 min on 2 workers). At 32×32 the
#: parity comes apart from the label (session 17, 100 uniform lattices: 27 % have parity ≠ (−1)^C).
PARITY_SIZES = (4, 8, 16, 32)


def _parity_chunk(x: np.ndarray) -> np.ndarray:
    from topoml.invariants.parity import fermion_parity

    return fermion_parity(x, on_gapless="flag").parity


def _stage_parity(cfg, rd: RunDir, data: _Data, progress: bool) -> dict:
    """The ``parity`` job (issue 10): the ground-state fermion parity of every lattice of the sets that stand for
    sizes :data:`PARITY_SIZES` in the final table (:func:`scored_set`: held-out where the run has them; uniform and
    boundary-biased), set against the Bott labels (:func:`topoml.evaluate.metrics.parity_breakdown`). Data only: no
    network; computed once (``cfg.workers`` processes, the result does not depend on them) and stored."""
    from topoml.evaluate.metrics import parity_breakdown
    from topoml.runs import executor as runs

    done = rd.job_result("parity")
    if done is not None:
        return done
    done = {}
    for n in PARITY_SIZES:
        for suffix in ("", "_bb"):
            name = scored_set(data, n, suffix)
            if name is None:
                continue
            x, y = data[name]
            step = max(1, 32768 // n ** 2)
            chunks = [x[i:i + step] for i in range(0, len(x), step)]
            parts = runs.map(_parity_chunk, chunks, workers=min(cfg.workers, len(chunks)),
                             engine="process" if cfg.workers > 1 and len(chunks) > 1 else "serial",
                             progress=progress, desc=f"parity {name}", unit="lattice", weight=len, total=len(x))
            done[name] = {"size": n, **parity_breakdown(x, y, np.concatenate(parts))}
    rd.save_job("parity", done)
    return done


#: The ``stability`` job: relative sizes of the disorder perturbations (:func:`topoml.data.sampling.perturb_disorder`)
#: and the most lattices it takes from each uniform scored set (the first ones). One core: a 32×32 Bott label costs
#: 4–9 s, so the 200 lattices of ``holdout32`` cost about 25 min on 2 workers for the two sizes of perturbation.
STABILITY_EPS = (0.01, 0.1)
STABILITY_MAX = 2000


def _stage_stability(cfg, rd: RunDir, data: _Data, progress: bool) -> dict:
    """The ``stability`` job (issue 10, session 18): how the exact label of each size's uniform scored set
    (:func:`scored_set`) responds to small changes of the disorder pattern and to coarse graining — the Bott labels
    of the same lattices with every site moved by ``eps`` times the disorder widths (:data:`STABILITY_EPS`, fresh
    zero-mean patterns, averages kept; :func:`topoml.data.sampling.perturb_disorder`), and of their 2×2 block
    averages, once and down to 4×4 (:func:`topoml.hamiltonians.pip.block_average`: decimation, then an exact label),
    each set against the lattices' own labels (:func:`topoml.evaluate.metrics.label_agreement`). Data only; at most
    :data:`STABILITY_MAX` lattices per set; seeds derived from ``cfg.seed``, labels on ``cfg.workers`` processes (the
    result does not depend on them); stored after every set, so a killed run keeps the sets it finished."""
    from topoml.data.sampling import SamplingSpec, perturb_disorder
    from topoml.evaluate.metrics import label_agreement
    from topoml.hamiltonians.pip import block_average
    from topoml.invariants.bott import bott_index

    done = rd.job_result("stability") or {}
    for n in FINAL_SIZES:
        name = scored_set(data, n)
        if name is None or name in done:
            continue
        _log(f"label stability of {name}", progress)
        x, y = data[name]
        x, y = x[:STABILITY_MAX].astype(np.float64), y[:STABILITY_MAX]
        widths = SamplingSpec.from_dict(dataset_config(name, cfg.data[name])["sampling"]).widths()
        row: dict = {"size": n, "n": len(y), "perturbed": {}, "decimated": {}}
        for k, eps in enumerate(STABILITY_EPS):
            xp = perturb_disorder(x, eps, widths, derive_seed(cfg.seed, "stability", name, k))
            labels = bott_index(xp, workers=cfg.workers, on_gapless="flag").label
            row["perturbed"][f"{eps:g}"] = label_agreement(x, y, labels)
        xc, m = x, n
        while m > 4:
            xc, m = block_average(xc), m // 2
            labels = bott_index(xc, workers=cfg.workers, on_gapless="flag").label
            row["decimated"][str(m)] = label_agreement(x, y, labels)
        done[name] = row
        rd.save_job("stability", done)
    return done


def final_row(comp, x: np.ndarray, y: np.ndarray, selects: bool = False) -> dict:
    """One row of the final table: a Chern model ``comp`` scored on lattices ``x`` ``(n, N, N, 3)`` with Bott labels
    ``y`` ``(n,)``, in its prediction mode (``comp.symmetrize``) — ``n``, ``accuracy``, the baselines that ignore the
    disorder, ``selects`` (as given), the accuracy of both modes, the confidence table and, at ``N = 4``, the
    breakdown by distance to the phase lines, by pairing and by the branch-cut margin of the Bott eigenphases
    (``scripts/ship_gpu_base.py`` scores with it too)."""
    from topoml.evaluate.metrics import accuracy_breakdown, chern_baselines, confidence_table

    shipped = comp.symmetrize
    pred, conf = _predict(comp, x, confidence=True)
    acc = float(np.mean(pred == y))
    comp.symmetrize = not shipped
    try:
        other = float(np.mean(_predict(comp, x) == y))
    finally:
        comp.symmetrize = shipped
    row = {"n": int(len(y)), "accuracy": acc, **chern_baselines(x, y), "selects": selects,
           "accuracy_plain": other if shipped else acc, "accuracy_group_averaged": acc if shipped else other,
           "confidence": confidence_table(pred, conf, y)}
    if x.shape[1] == 4:
        from topoml.invariants.bott import bott_spectrum

        row["breakdown"] = accuracy_breakdown(x, y, pred, margin=bott_spectrum(x.astype(np.float64)).margin)
    return row


def scored_set(final, n: int, suffix: str = "") -> str | None:
    """The name of the final-table row that stands for size ``n`` (``suffix`` ``""`` uniform, ``"_bb"``
    boundary-biased): the held-out set ``holdout{n}{suffix}`` when the run has one, else ``test{n}{suffix}``;
    ``None`` when neither was scored. ``final``: the final table, or anything that answers ``name in final``
    (the run's datasets)."""
    for name in (f"holdout{n}{suffix}", f"test{n}{suffix}"):
        if name in final:
            return name
    return None


def _compound_eval(data: _Data, sizes=(8, 16)):
    def evaluate(net) -> dict:
        return {f"acc{n}": _accuracy(net, data, f"test{n}") for n in sizes if f"test{n}" in data}

    return evaluate


def _stage_direct8(cfg, rd: RunDir, comp, start, data: _Data, progress: bool):
    """The ``direct8`` stage (issue 10, session 12): a copy of ``start`` (the last joint stage's copy of the base,
    which reads 8×8 lattices directly and, behind the RG network, the coarse-grained larger ones) trained on
    ``rg_train`` alone and selected by 8×8 accuracy; it becomes ``comp.size_nets[8]`` of the shipped compound
    ``comp``, so 8×8 lattices get their own network and every other size keeps its route (fine-tuning the
    shared copy on 8×8 lattices pulls it away from 16×16: session-11 pilot). Returns ``comp`` (with the new
    network in place) and the stage's result."""
    import copy

    import torch

    from topoml.train.checkpoint import load_state_bytes

    net = copy.deepcopy(start)
    for p in net.parameters():
        p.requires_grad_(True)
    net.train()
    folder, done = rd.job_dir("direct8"), rd.job_result("direct8")
    if done is None:
        seed = derive_seed(cfg.seed, "direct8")
        torch.manual_seed(seed)
        sets = {**{t: data[t] for t in cfg.rg_train}, **{k: data[k] for k in ("test8", "test8_bb") if k in data}}
        t0 = time.time()
        done = {**fit_4x4(net, cfg.direct8, seed, folder, sets, "direct8", progress,
                          loss=_loss(cfg.base_net.class_head, cfg.direct8), train=tuple(cfg.rg_train), size=8),
                "start_acc8": _accuracy(start, data, "test8"), "wall_seconds_this_session": time.time() - t0}
        rd.save_job("direct8", done)
    else:
        load_state_bytes(net, (folder / "best.safetensors").read_bytes())
    comp.size_nets["8"] = net.eval()
    return comp, done


def _stage_decimation(cfg, rd: RunDir, base, data: _Data):
    from topoml.nets.rg import CompoundNet, Decimation

    done = rd.job_result("decimation")
    if done is not None:
        return done
    comp = CompoundNet(base, Decimation())
    result = _compound_eval(data, (8, 16, 32))(comp)
    rd.save_job("decimation", result)
    return result


def _random_lattices(n: int, size: int, half_range: float, gen):
    import torch

    return (torch.rand(n, size, size, 3, generator=gen) * 2 - 1) * half_range


def _stage_rg_init(cfg, rd: RunDir, base, data: _Data, progress: bool):
    import torch

    from topoml.nets.rg import CompoundNet, RGNet
    from topoml.train.checkpoint import load_state_bytes

    seed = derive_seed(cfg.seed, "rg_init")
    torch.manual_seed(seed)
    rg = RGNet(**_net_kwargs(cfg.rg_net, "rg"))
    folder = rd.job_dir("rg_init")
    done = rd.job_result("rg_init")
    if done is not None:
        load_state_bytes(rg, (folder / "best.safetensors").read_bytes())
        return rg, done
    result = {**fit_rg_init(rg, cfg.rg_init, seed, folder, cfg.init_range, progress),
              **{f"compound_{k}": v for k, v in _compound_eval(data, (8, 16))(CompoundNet(base, rg)).items()}}
    rd.save_job("rg_init", result)
    return rg, result


def fit_rg_init(rg, st: StageSpec, seed: int, folder: Path, init_range: float, progress: bool) -> dict:
    """The decimation pre-training of an RG network (margalit2022 App. B 1; also ``topoml train rg``):
    ``rg`` regressed onto 2×2 average pooling of lattices drawn uniform in ``[−init_range, init_range]``,
    ``st.samples_per_epoch`` per epoch; the last epoch is kept (written to ``folder/best.safetensors``).
    Checkpoints and resume in ``folder``. Returns the RMS errors on held-out 8×8 and 16×16 draws per epoch.
    With ``st.epochs = 0`` (an RG network with ``skip``, which starts as decimation) nothing is trained."""
    import torch

    from topoml.nets.rg import decimation
    from topoml.train.checkpoint import state_bytes
    from topoml.train.trainer import Trainer, decimation_batches

    R = init_range
    held = {n: _random_lattices(2000, n, R, torch.Generator().manual_seed(seed + n)) for n in (8, 16)}

    def evaluate(net) -> dict:
        with torch.no_grad():
            net.eval()
            return {f"rms{n}": float(torch.sqrt(torch.mean((net(x) - decimation(x)) ** 2))) for n, x in held.items()}

    if st.epochs == 0:
        folder.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(folder / "best.safetensors", state_bytes(rg))
        return {"final_metrics": evaluate(rg), "samples": 0, "train_seconds": 0.0, "history": []}
    trainer = Trainer(rg, _train_config(st, seed), folder, evaluate=evaluate, select=None)
    trainer.fit(decimation_batches(st.samples_per_epoch, st.batch_size, half_range=R, seed=seed),
                on_epoch=_epoch_printer("rg_init", progress), progress=progress)
    # keep the last epoch (the regression target is fixed; no selection on test labels)
    atomic_write_bytes(folder / "best.safetensors", trainer.weights_bytes())
    return {"final_metrics": trainer.history[-1]["metrics"], "samples": st.samples_per_epoch * st.epochs,
            "train_seconds": sum(r["train_seconds"] for r in trainer.history), "history": trainer.history}


def _stage_rg(cfg, rd: RunDir, base, rg_start, data: _Data, progress: bool, *, job: str, st: StageSpec,
              train: str | tuple[str, ...], select: str, eval_sizes=(8, 16), coarse_base=None,
              mix: tuple[str, ...] = ()):
    from topoml.nets.rg import CompoundNet
    from topoml.train.checkpoint import load_state_bytes

    comp = CompoundNet(base, rg_start, coarse_base=coarse_base,
                       coarse_size=cfg.coarse_size if coarse_base is not None else None)
    folder = rd.job_dir(job)
    done = rd.job_result(job)
    if done is not None:
        kept = "start.safetensors" if done["best_epoch"] == -1 else "best.safetensors"
        load_state_bytes(comp, (folder / kept).read_bytes())
        return comp, done
    result = fit_rg(comp, st, derive_seed(cfg.seed, job), folder, data, progress, job=job, train=train,
                    select=select, eval_sizes=eval_sizes, loss=_loss(cfg.base_net.class_head, st), mix=mix)
    rd.save_job(job, result)
    return comp, result


def fit_rg(comp, st: StageSpec, seed: int, folder: Path, data, progress: bool, *, job: str,
           train: str | tuple[str, ...], select: str | None, eval_sizes=(8, 16), loss=None,
           mix: tuple[str, ...] = ()) -> dict:
    """An RG training stage (``rg``, ``rg_scratch``, ``tied``, ``joint``, ``joint_tied``; also ``topoml train
    rg``): the compound ``comp = base ∘ RG^k`` (base frozen; its ``coarse_base`` trained too, if it has one)
    trained with ``loss`` (default |d| + d²) on the set ``data[train]``
    (or the concatenation of several; an epoch is one pass, or ``st.samples_per_epoch`` samples of the
    stream of passes; each sample under a random exact symmetry of the label if ``st.augment``; with
    ``mix``, batches of those sets, as many samples, alternate with them: lattices of another size),
    evaluated after every epoch on ``test{n}`` for ``n`` in ``eval_sizes`` (those in ``data``, a mapping
    name → (inputs, labels)); the epoch with the best ``select`` metric is kept (loaded into ``comp``;
    ``None``: the lowest training loss). The start point is a candidate too (the paper's early stop on
    generalization, at zero epochs): when no trained epoch beats its ``select`` metric, the start is kept
    (``best_epoch = -1``, weights in ``folder/start.safetensors``). Checkpoints and resume in ``folder``.
    Returns the stage's result."""
    import torch

    from topoml.train.checkpoint import load_state_bytes, state_bytes
    from topoml.train.trainer import Trainer, chern_loss, interleaved, symmetry_augmented, tensor_batches

    evaluate = _compound_eval(data, eval_sizes)
    start = state_bytes(comp)
    initial = evaluate(comp)
    trainer = Trainer(comp, _train_config(st, seed), folder, evaluate=evaluate, select=select,
                      loss=loss or chern_loss)
    x, y = _training_set(data, (train,) if isinstance(train, str) else train)
    torch.manual_seed(seed)
    source = tensor_batches(x, y, st.batch_size, seed, samples_per_epoch=st.samples_per_epoch or None)
    if mix:
        xm, ym = _training_set(data, tuple(mix))
        source = interleaved(source, tensor_batches(xm, ym, st.batch_size, derive_seed(seed, "mix"),
                                                    samples_per_epoch=source.n_samples))
    if st.augment:
        source = symmetry_augmented(source, seed)
    trainer.fit(source, on_epoch=_epoch_printer(job, progress), progress=progress)
    best_8 = max(trainer.history, key=lambda r: (r["metrics"].get("acc8", 0), -r["epoch"]))["epoch"]
    best = trainer.load_best()
    selected = trainer.history[best]["metrics"]
    if select is not None and initial.get(select, -math.inf) > selected.get(select, -math.inf):
        atomic_write_bytes(folder / "start.safetensors", start)
        load_state_bytes(comp, start)  # no trained epoch generalizes better than the start point
        best, selected = -1, dict(initial)
    result = {"initial": initial, "best_epoch": best, "best_epoch_by_acc8": best_8, "mix": list(mix),
              "selected": selected, "at_best_acc8": trainer.history[best_8]["metrics"],
              "final": trainer.history[-1]["metrics"], "select": select, "train_samples": len(y),
              "epochs": st.epochs, "train_seconds": sum(r["train_seconds"] for r in trainer.history),
              "history": trainer.history}
    if "test32" in data:
        result["selected"]["acc32"] = _accuracy(comp, data, "test32")
        result["n_test32"] = len(data["test32"][1])
    return result


def train_base(cfg: Margalit2022Config, data, folder: Path, progress: bool = False):
    """``topoml train base``: the base stage of profile ``cfg`` (its ``base_net``, ``base`` stage and seed)
    on ``data`` (``{"train4": (x, y)}`` plus an optional ``"test4"`` that selects the epoch), checkpoints in
    ``folder``. Returns ``(net, (registry name, kwargs), result)``; the same network as ``reproduce``'s
    base stage on the same data."""
    import torch

    seed = derive_seed(cfg.seed, "base")
    torch.manual_seed(seed)
    net = _base_net(cfg.base_net)
    result = fit_4x4(net, cfg.base, seed, folder, data, "base", progress, loss=_loss(cfg.base_net.class_head, cfg.base))
    name = "margalit2022.base_invariant" if cfg.base_net.kind == "invariant" else "margalit2022.base"
    return net, (name, _net_kwargs(cfg.base_net, "base")), result


def train_rg(cfg: Margalit2022Config, base, data, train: str, folder: Path, init_folder: Path, *,
             random_init: bool = False, select: str | None = None, progress: bool = False):
    """``topoml train rg``: an RG network of profile ``cfg`` (``rg_net``; stage ``rg`` after the ``rg_init``
    decimation pre-training in ``init_folder``, or ``rg_scratch`` from a random initialization) inside
    ``base ∘ RG^k`` (``base`` frozen; class loss for a class head), trained on ``data[train]``, evaluated on
    every ``test{n}`` of ``data`` and selected by ``select``. Returns ``(compound, rg kwargs, result)``."""
    import torch

    from topoml.nets.rg import CompoundNet, RGNet
    job = "rg_scratch" if random_init else "rg"
    torch.manual_seed(derive_seed(cfg.seed, "rg_scratch_init" if random_init else "rg_init"))
    rg = RGNet(**_net_kwargs(cfg.rg_net, "rg"))
    if not random_init:
        fit_rg_init(rg, cfg.rg_init, derive_seed(cfg.seed, "rg_init"), init_folder, cfg.init_range, progress)
    comp = CompoundNet(base, rg)
    sizes = sorted(int(k[4:]) for k in data if k.startswith("test"))
    st = getattr(cfg, job)
    loss = _loss(getattr(base, "config", {}).get("head") == "classes", st)
    result = fit_rg(comp, st, derive_seed(cfg.seed, job), folder, data, progress, job=job,
                    train=train, select=select, eval_sizes=tuple(sizes), loss=loss)
    return comp, _net_kwargs(cfg.rg_net, "rg"), result
