"""End-to-end: `topoml reproduce margalit2022 --quick`, and the train / evaluate / predict commands."""

import json
import subprocess
import sys

import numpy as np
import pytest

from topoml.cli import main
from topoml.errors import ConfigError
from topoml.experiments.margalit2022 import load_config, scored_set
from topoml.experiments.margalit2022.reporting import _pct


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "mq"
    proc = subprocess.run(
        [sys.executable, "-m", "topoml", "reproduce", "margalit2022", "--quick", "--out", str(out), "--no-progress"],
        capture_output=True, text=True, timeout=900,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return out, proc


def test_quick_profile_writes_run_directory(quick_run):
    out, proc = quick_run
    assert "99.02" in proc.stdout and "RG with decimation init" in proc.stdout
    for f in ("config.json", "environment.json", "summary.json", "report.md", "model.safetensors"):
        assert (out / f).is_file(), f
    for fig in ("fig1b_runtime", "fig3_accuracy_per_epoch", "fig7_rg_flow", "fig8_impurity"):
        assert (out / "figures" / f"{fig}.png").stat().st_size > 1000, fig
    s = json.loads((out / "summary.json").read_text())
    for key in ("base", "averages", "decimation", "rg_init", "rg", "rg_scratch", "tied"):
        assert key in s, key
    # the baselines and the shipped model's 4x4 accuracy, recomputed here from the stored test set and model
    from topoml.data.store import open_dataset
    from topoml.invariants.chern import clean_chern_number
    from topoml.nets.rg import chern_prediction
    from topoml.train.checkpoint import load_model

    import torch

    ds = open_dataset(out / "data" / "test4")
    x, y, avg = ds.inputs[:], ds.labels[:], ds.averages[:]
    clean = float(np.mean(clean_chern_number(avg[:, 0], avg[:, 1]) == y))
    assert s["averages"]["clean_formula_acc4"] == pytest.approx(clean, abs=1e-12)
    assert s["final"]["test4"]["clean_phase"] == pytest.approx(clean, abs=1e-12)
    assert s["final"]["test4"]["always_zero"] == pytest.approx(float(np.mean(y == 0)), abs=1e-12)
    model, _ = load_model(out / "model.safetensors")
    with torch.no_grad():
        pred, _ = chern_prediction(model.base(torch.as_tensor(x, dtype=torch.float32)))
    acc = float(np.mean(pred.numpy() == y))
    assert s["base"]["acc4"] == pytest.approx(acc, abs=1e-12) == s["final"]["test4"]["accuracy_plain"]
    # the quick base stage trains with auxiliary targets: its checkpoint holds the auxiliary head, the model does not
    from safetensors.torch import load_file

    stage = load_file(out / "jobs" / "base" / "best.safetensors")
    assert any(k.startswith("aux.") for k in stage) and not any("aux" in k for k in load_file(out / "model.safetensors"))
    # the shipped model predicts group-averaged (quick profile: symmetrize = true), as the final table says
    assert model.symmetrize is True and s["symmetrize"] is True
    with torch.no_grad():
        pred, _ = chern_prediction(model(torch.as_tensor(x, dtype=torch.float32)))
    assert float(np.mean(pred.numpy() == y)) == s["final"]["test4"]["accuracy"] == s["final"]["test4"]["accuracy_group_averaged"]
    # the parity job: the Bott labels of the scored sets against the fermion parity, recomputed here for holdout4
    from topoml.invariants import fermion_parity

    assert sorted(s["parity"]) == sorted(k for n in (4, 8, 16, 32) for sfx in ("", "_bb")
                                         if (k := scored_set(s["final"], n, sfx)))
    with open_dataset(out / "data" / "holdout4") as h:
        hx, hy, hav = h.inputs[:], h.labels[:], h.averages[:]
    par = fermion_parity(hx, on_gapless="flag").parity
    gapped = par != 0
    odd = gapped & ((hy - clean_chern_number(hav[:, 0], hav[:, 1])) % 2 == 1)
    got = s["parity"]["holdout4"]["all"]
    assert got["n"] == len(hy) and got["gapless"] == int((~gapped).sum()) and got["odd_changes"] == int(odd.sum()) > 0
    assert got["mismatch"] == pytest.approx(float(np.mean(par[gapped] != (-1) ** np.abs(hy[gapped]))), abs=1e-12)
    assert got["follows_clean"] == pytest.approx(float(np.mean(par[odd] == -(-1) ** np.abs(hy[odd]))), abs=1e-12)
    text = (out / "report.md").read_text()
    assert "## Bott labels and the ground-state fermion parity" in text
    # the stability job: each uniform scored set relabelled after small perturbations and after decimation;
    # the decimated 8x8 labels are recomputed here
    from topoml.evaluate.metrics import label_agreement
    from topoml.experiments.margalit2022.stages import STABILITY_EPS
    from topoml.hamiltonians.pip import block_average
    from topoml.invariants.bott import bott_index

    st = s["stability"]
    assert sorted(st) == sorted(k for n in (4, 8, 16, 32) if (k := scored_set(s["final"], n)))
    assert sorted(st["holdout4"]["perturbed"]) == sorted(f"{e:g}" for e in STABILITY_EPS)
    assert st["holdout4"]["decimated"] == {} and sorted(st[scored_set(s["final"], 16)]["decimated"]) == ["4", "8"]
    with open_dataset(out / "data" / "holdout8") as h:
        x8, y8 = h.inputs[:].astype(np.float64), h.labels[:]
    dec8 = label_agreement(x8, y8, bott_index(block_average(x8), on_gapless="flag").label)
    for part, row in dec8.items():
        assert st["holdout8"]["decimated"]["4"][part] == pytest.approx(row, nan_ok=True), part
    assert 0.9 <= st["holdout4"]["perturbed"]["0.01"]["all"]["agree"] <= 1
    assert "## How stable the label is: small changes of the disorder, and coarse graining" in text
    # the 4x4 breakdown by the branch-cut margin of the Bott eigenphases covers every lattice
    marg = s["final"]["holdout4"]["breakdown"]["margin"]
    assert sum(r["n"] for r in marg) == s["final"]["holdout4"]["n"] and "| margin (rad) ∈ [0, 0.03) |" in text
    assert f"| `holdout8` | {len(y8):,} |" in text
    # what each size's route cost: the 4x4 row is the base stage alone; 8x8 adds the RG stages and direct8
    cfg = load_config("quick")
    n4 = sum(cfg.data[t].n_samples for t in cfg.base_train)
    assert f"| 4×4 | base | {n4:,} | {s['base']['samples_seen']:,} |" in text
    assert "| 8×8 | base → rg_init → rg → " in text and " → direct8 |" in text
    # every epoch of every stage has a checkpoint; the selected epoch is the best 16x16 one
    hist = s["rg"]["history"]
    best = max(hist, key=lambda r: (r["metrics"]["acc16"], -r["epoch"]))
    if s["rg"]["initial"]["acc16"] > best["metrics"]["acc16"]:  # the start point generalizes best: kept
        assert s["rg"]["best_epoch"] == -1 and (out / "jobs" / "rg" / "start.safetensors").is_file()
        assert s["rg"]["selected"]["acc16"] == s["rg"]["initial"]["acc16"]
    else:
        assert s["rg"]["best_epoch"] == best["epoch"]
    assert len(list((out / "jobs" / "rg").glob("epoch-*.safetensors"))) == len(hist)
    rows = {r["N"]: r for r in s["figures"]["runtime"]["rows"]}
    assert rows[4]["speedup"] > 0 and "bott_s" not in rows[32]
    report = (out / "report.md").read_text()
    # the report states the measured numbers: every final-table accuracy, as a percentage
    for name in ("test4", "test4_bb", "test8", "test8_bb", "test16"):
        assert f"{100 * s['final'][name]['accuracy']:.2f} %" in report, name
    assert "Fig. 7" in report and "nan" not in report.lower()
    # final table: every test set with both baselines; the 4x4 breakdown adds up to the whole set
    fin = s["final"]
    assert {"test4", "test4_bb", "test8", "test8_bb", "test16"} <= set(fin)
    for name, row in fin.items():
        if name == "model_stage":
            continue
        assert set(row) >= {"n", "accuracy", "always_zero", "clean_phase"}
    assert sum(r["n"] for r in fin["test4"]["breakdown"]["distance"]) == fin["test4"]["n"] == 1000
    assert all("accuracy_group_averaged" in fin[k] and "accuracy_plain" in fin[k] for k in ("test4", "test8", "test16"))
    assert "Prediction modes of the same weights (the shipped model predicts **group-averaged**" in report
    assert sum(b["fraction"] for b in fin["test4"]["confidence"]["bins"]) == pytest.approx(1.0)
    assert "## Confidence" in report and "by distance to the clean phase lines" in report  # the quick base network is the invariant kind
    # held-out sets: scored by the final table only; the report, the model's metadata and `predict --help` quote them
    assert fin["test4"]["selects"] is True and fin["holdout4"]["selects"] is False and fin["holdout8"]["selects"] is False
    assert all("holdout" not in k for st in ("base", "rg", "joint_tied") for h in s[st]["history"] for k in h["metrics"])
    hx = open_dataset(out / "data" / "holdout4")
    with torch.no_grad():
        pred, _ = chern_prediction(model(torch.as_tensor(hx.inputs[:], dtype=torch.float32)))
    assert float(np.mean(pred.numpy() == hx.labels[:])) == fin["holdout4"]["accuracy"]
    _, meta = load_model(out / "model.safetensors")
    assert meta["test_sets"] == {"4": "holdout4", "8": "holdout8", "16": "test16"}
    assert meta["held_out"] == {"4": True, "8": True, "16": False}
    assert meta["accuracy"]["4"] == fin["holdout4"]["accuracy"] and meta["accuracy"]["16"] == fin["test16"]["accuracy"]
    assert "(`holdout4`, n = 500)" in report and "(`test4_bb`, n = 500)" in report
    # the base stage selected its epoch on the uniform set and recorded the biased one
    assert s["base"]["acc4"] == max(h["metrics"]["acc4"] for h in s["base"]["history"])
    assert "acc4_bb" in s["base"]["history"][0]["metrics"]
    # ablation rows: one job each, the paper row with the paper's network
    assert set(s["ablation"]) == {"paper", "invariant_regression", "margin_focus"}
    # the margin-focus row trains on its focused set; the invariant rows are scored in both prediction modes
    focus = s["ablation"]["margin_focus"]
    assert focus["train"] == ["train4_margin"] and focus["train_samples"] == 1000
    # a row may train from a seed of its own (the profile's seed is 7); the table names each row's seed
    assert focus["seed"] == 8 and s["ablation"]["invariant_regression"]["seed"] == 7
    assert "| train4_margin | 8 | 4,000 |" in report and "| train4 | 7 | 4,000 |" in report
    assert json.loads((out / "data" / "train4_margin" / "manifest.json").read_text())["config"]["focus"]["margin"] == 1.0
    for name in ("margin_focus", "invariant_regression"):
        assert {"acc4_group_averaged", "acc4_bb_group_averaged"} <= set(s["ablation"][name])
        assert f"| {_pct(s['ablation'][name]['acc4_group_averaged'])} / " in report
    assert "acc4_group_averaged" not in s["ablation"]["paper"]
    assert s["ablation"]["paper"]["net"]["kind"] == "paper" and s["ablation"]["paper"]["stage"]["augment"] is False
    assert "## Base-network ablation" in report and "| 16×16 |" in report
    # the regression row inherits the quick base stage's auxiliary targets, the paper row switches them off
    assert s["ablation"]["invariant_regression"]["stage"]["aux_targets"] == "energies"
    rows = {line.split(" | ")[0][2:]: line for line in report.splitlines() if line.startswith(("| paper | paper ResNet",
                                                                                              "| invariant_regression |"))}
    assert "+ 1 × MSE of the BdG energies (auxiliary head)" in rows["invariant_regression"]
    assert "BdG" not in rows["paper"]
    # every row names its optimizer, peak learning rate and schedule, and its training minutes
    assert "| adam, 0.003, constant |" in rows["paper"] and "| adamw, 0.003, onecycle |" in rows["invariant_regression"]
    minutes = rows["invariant_regression"].split(" | ")[9]
    assert minutes == f"{s['ablation']['invariant_regression']['train_seconds'] / 60:.1f}"
    # RG ablation: the skip row starts as decimation (no pre-training job) and is scored like the rg stage
    row = s["rg_ablation"]["averages_skip"]
    assert row["net"]["skip"] == "averages" and row["init_samples"] == 0 and set(row["selected"]) >= {"acc8", "acc16"}
    assert not (out / "jobs" / "rg_ablation-averages_skip-init").exists()
    assert "## RG-stage ablation" in report and "| averages_skip | width 8, skip = averages | decimation (skip) |" in report
    env = json.loads((out / "environment.json").read_text())
    assert env["seed"] == 7 and "git_hash" in env


def test_joint_stages_fine_tune_a_copy_of_the_base_and_the_4x4_base_is_untouched(quick_run):
    """joint (8x8) then joint_tied (16x16) train a copy of the base with the RG network; the shipped model is
    the RG stage with the best 16x16 accuracy, and a joint model keeps the 4x4 base for 4x4 lattices."""
    import torch

    from topoml.train.checkpoint import load_model

    out, _ = quick_run
    s = json.loads((out / "summary.json").read_text())
    assert {"joint", "joint_tied"} <= set(s)
    stages = [k for k in ("rg", "tied", "joint", "joint_tied") if k in s]
    best = max(stages, key=lambda k: s[k]["selected"]["acc16"])  # the earliest on ties
    assert s["model_stage"] == best == s["final"]["model_stage"]
    assert s["joint"]["select"] == "acc8" and s["joint_tied"]["select"] == "acc16"
    # the quick profile alternates 8x8 batches with the 16x16 ones in joint_tied (joint_tied_mix): twice the samples
    assert s["joint_tied"]["mix"] == ["train8"] and s["joint"]["mix"] == []
    assert all(h["samples"] == 2 * s["joint_tied"]["train_samples"] for h in s["joint_tied"]["history"])
    model, meta = load_model(out / "model.safetensors")
    assert (model.coarse_base is not None) == best.startswith("joint")
    # the quick profile's base copy reads 8x8 lattices directly (coarse_size = 8)
    assert model.coarse_size == (8 if best.startswith("joint") else 4)
    assert meta["stage"] == best
    # the 4x4 base inside every compound is the base stage's network, bit for bit
    from safetensors.torch import load_file

    base = {k: v for k, v in load_file(out / "jobs" / "base" / "best.safetensors").items()}
    for k, v in model.base.state_dict().items():
        assert torch.equal(v, base.get(k, base.get(f"net.{k}"))), k
    job = out / "jobs" / "joint_tied"
    kept = job / ("start.safetensors" if s["joint_tied"]["best_epoch"] == -1 else "best.safetensors")
    state = load_file(kept)
    assert any(k.startswith("coarse_base.") for k in state)
    assert "fine-tuned together with the RG network" in (out / "report.md").read_text()


@pytest.mark.parametrize("symmetrize", [False, True])
def test_final_table_scores_the_shipped_mode_and_the_other(symmetrize):
    """_final_table: ``accuracy`` is the compound's own prediction mode; ``accuracy_plain`` and
    ``accuracy_group_averaged`` are both modes of the same weights (recomputed here); the mode is restored."""
    import torch

    from topoml.data.sampling import SamplingSpec, sample_lattices
    from topoml.experiments.margalit2022.stages import _final_table, _predict
    from topoml.nets.rg import chern_net

    torch.manual_seed(1)
    comp = chern_net(base={"width": 8, "blocks": 1}, rg={"width": 4, "depth": 3, "padding": "periodic"},
                     base_kind="invariant", symmetrize=symmetrize).eval()
    rng = np.random.default_rng(0)
    data = {f"test{n}": (sample_lattices(40, SamplingSpec(lattice_size=n), rng=n).astype(np.float32),
                         rng.integers(-1, 2, 40)) for n in (4, 8)}
    rows = _final_table(data, comp)
    assert comp.symmetrize is symmetrize
    for name, (x, y) in data.items():
        want = {}
        for mode in (False, True):
            comp.symmetrize = mode
            want[mode] = float(np.mean(_predict(comp, x) == y))
        comp.symmetrize = symmetrize
        r = rows[name]
        assert r["accuracy"] == want[symmetrize]
        assert (r["accuracy_plain"], r["accuracy_group_averaged"]) == (want[False], want[True])
    assert "breakdown" in rows["test4"] and "breakdown" not in rows["test8"]


def test_direct8_gives_8x8_lattices_a_copy_of_their_own(quick_run):
    """direct8 trains a copy of the shipped stage's base copy on the 8x8 training sets alone, selected by 8x8
    accuracy; the shipped model answers 8x8 lattices with it (size_nets) and keeps the stage's copy, RG network
    and 4x4 base for every other size."""
    import torch
    from safetensors.torch import load_file

    from topoml.train.checkpoint import load_model

    out, _ = quick_run
    s = json.loads((out / "summary.json").read_text())
    d = s["direct8"]
    assert d["best_epoch"] in range(len(d["history"])) and d["acc8"] == d["history"][d["best_epoch"]]["metrics"]["acc8"]
    assert d["train_samples"] == sum(s["datasets"][t] for t in load_config("quick").rg_train)
    assert 0 <= d["start_acc8"] <= 1 and "acc8_bb" in d
    model, meta = load_model(out / "model.safetensors")
    assert list(model.size_nets) == ["8"] and meta["net"]["kwargs"]["size_nets"] == [8]
    own = load_file(out / "jobs" / "direct8" / "best.safetensors")
    for k, v in model.size_nets["8"].state_dict().items():
        assert torch.equal(v, own.get(k, own.get(f"net.{k}"))), k
    stage = s["model_stage"]
    kept = out / "jobs" / stage / ("start.safetensors" if s[stage]["best_epoch"] == -1 else "best.safetensors")
    state = load_file(kept)
    rest = {k: v for k, v in model.state_dict().items() if not k.startswith("size_nets.")}
    assert any(k.startswith("rg.") for k in rest) and all(k.startswith(("base.", "rg.", "coarse_base.")) for k in rest)
    for k, v in rest.items():
        if not k.startswith("base."):  # the stage's RG network and copy, unchanged
            assert torch.equal(v, state[k]), k
    assert "direct8 (8×8)" in (out / "report.md").read_text()


def test_rerun_resumes_without_retraining(quick_run):
    out, _ = quick_run
    before = {p: p.stat().st_mtime_ns for p in (out / "jobs").glob("*/epoch-*.safetensors")}
    proc = subprocess.run(
        [sys.executable, "-m", "topoml", "reproduce", "margalit2022", "--quick", "--out", str(out), "--no-progress"],
        capture_output=True, text=True, timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert before == {p: p.stat().st_mtime_ns for p in (out / "jobs").glob("*/epoch-*.safetensors")}


def test_report_scores_the_packaged_weights(quick_run):
    """The ``packaged`` job scores the weights that ``topoml predict`` ships on the run's own sets (recomputed here
    with ``predict_chern``); they are far better than the quick profile's model and than "always 0" on its 4×4
    held-out set, and the report shows the table."""
    import hashlib

    from topoml.data.store import open_dataset
    from topoml.evaluate.predict import load_chern_model, packaged_weights, predict_chern

    out, _ = quick_run
    s = json.loads((out / "summary.json").read_text())
    pk = s["packaged"]
    assert pk["sha256"] == hashlib.sha256(packaged_weights().read_bytes()).hexdigest()
    assert set(pk["final"]) == set(s["final"]) - {"model_stage"}
    net, meta = load_chern_model()
    assert pk["symmetrize"] is bool(net.symmetrize) and pk["source"] == meta["source"]
    for name in ("holdout4", "holdout8"):
        ds = open_dataset(out / "data" / name)
        y = ds.labels[:]
        assert pk["final"][name]["accuracy"] == float(np.mean(predict_chern(net, ds.inputs[:], 2048)[0] == y)), name
    row = pk["final"]["holdout4"]
    assert row["accuracy"] > max(0.95, row["always_zero"] + 0.1, s["final"]["holdout4"]["accuracy"])
    report = (out / "report.md").read_text()
    assert "## The packaged weights of `topoml predict` on the same sets" in report
    assert f"{100 * row['accuracy']:.2f} %" in report and pk["sha256"][:16] in report


def test_packaged_job_reuses_its_result_only_for_the_same_file_and_survives_a_missing_one(tmp_path, monkeypatch):
    import hashlib

    import topoml.evaluate.predict as pr
    from topoml.experiments.margalit2022.reporting import format_packaged_table
    from topoml.experiments.margalit2022.stages import _stage_packaged
    from topoml.runs.rundir import RunDir

    rd = RunDir(tmp_path / "run", {"k": 1})
    sha = hashlib.sha256(pr.packaged_weights().read_bytes()).hexdigest()
    rd.save_job("packaged", {"sha256": sha, "final": {}, "marker": 1})
    assert _stage_packaged(rd, None)["marker"] == 1  # the same file: the stored result, nothing scored
    monkeypatch.setattr(pr, "packaged_weights", lambda: tmp_path / "missing.safetensors")
    r = _stage_packaged(rd, None)
    assert set(r) == {"error"} and "could not be read" in r["error"]
    assert format_packaged_table({"packaged": r}).startswith("Not scored: the packaged weights could not be read")
    assert rd.job_result("packaged")["marker"] == 1  # the stored result is left as it was
    assert format_packaged_table({}) == ""


def test_config_errors():
    with pytest.raises(ConfigError, match="unknown config key"):
        load_config("quick", {"epochs": 3})
    with pytest.raises(ConfigError, match="lattice_size must be 8"):
        load_config("quick", {"data": {**load_config("quick").model_dump()["data"],
                                       "train8": {"lattice_size": 6, "averages": "uniform", "n_samples": 5, "seed": 1}}})
    with pytest.raises(ConfigError, match="unknown profile"):
        load_config("huge")
    with pytest.raises(ConfigError, match="unknown 4x4 training set"):
        load_config("quick", {"ablation.x.train": ["train8"]})
    with pytest.raises(ConfigError, match="ablation.x.head"):
        load_config("quick", {"ablation.x.base_net": {"head": "softmax"}})
    with pytest.raises(ConfigError, match="ablation.x.seed"):  # a row's own run seed: an integer >= 0
        load_config("quick", {"ablation.x": {"seed": -1}})
    with pytest.raises(ConfigError, match="base_train"):
        load_config("quick", {"base_train": ["test4"]})
    with pytest.raises(ConfigError, match="stage 'rg_init': need epochs >= 1"):
        load_config("quick", {"rg_init.epochs": 0})
    assert load_config("quick", {"rg_init.epochs": 0, "rg_net.skip": "averages"}).rg_init.epochs == 0
    for bad in (["train4"], [], ["train8", "train8_extra"]):  # train8_extra is not in the quick profile
        with pytest.raises(ConfigError, match="rg_train"):
            load_config("quick", {"rg_train": bad})
    with pytest.raises(ConfigError, match="rg_ablation.x: an RG network without skip needs rg_init.epochs"):
        load_config("quick", {"rg_ablation.x.rg_init": {"epochs": 0}})
    with pytest.raises(ConfigError, match="rg_ablation.x.skip"):
        load_config("quick", {"rg_ablation.x.rg_net": {"skip": "mean"}})
    with pytest.raises(ConfigError, match="rg_ablation.x.kind must be 'paper'"):
        load_config("quick", {"rg_ablation.x.rg_net": {"kind": "invariant"}})
    with pytest.raises(ConfigError, match="base_net.skip"):
        load_config("quick", {"base_net.skip": "averages"})
    for bad in (["train8"], [], ["train16", "train16_extra"]):
        with pytest.raises(ConfigError, match="tied_train"):
            load_config("quick", {"tied_train": bad})
    with pytest.raises(ConfigError, match="rg_net.kind"):
        load_config("quick", {"rg_net.kind": "invariant"})
    for bad in (["train8"], [], ["train16", "train16b"]):  # train16b is not in the quick profile
        with pytest.raises(ConfigError, match="joint_tied_train"):
            load_config("quick", {"joint_tied_train": bad})
    with pytest.raises(ConfigError, match="stage 'joint_tied' continues the 'joint' stage"):
        load_config("quick", {"joint.epochs": 0})
    with pytest.raises(ConfigError, match="stage 'joint': need epochs >= 0"):
        load_config("quick", {"joint.epochs": -1})
    with pytest.raises(ConfigError, match="stage 'joint_tied': need epochs >= 0"):
        load_config("quick", {"joint_tied.lr": 0.0})
    with pytest.raises(ConfigError, match="stage 'direct8' starts from the joint stages' copy"):
        load_config("quick", {"joint.epochs": 0, "joint_tied.epochs": 0})
    with pytest.raises(ConfigError, match="stage 'direct8' starts from"):
        load_config("quick", {"coarse_size": 4})
    with pytest.raises(ConfigError, match="stage 'direct8': need epochs >= 0"):
        load_config("quick", {"direct8.lr": 0.0})
    assert load_config("quick", {"joint.epochs": 0, "joint_tied.epochs": 0, "direct8.epochs": 0}).joint.epochs == 0
    with pytest.raises(ConfigError, match="stage 'joint': loss 'expected' needs a class-head"):
        load_config("narrow2022", {"joint.epochs": 1, "joint.loss": "expected"})
    with pytest.raises(ConfigError, match="loss 'expected' needs a class-head"):
        load_config("narrow2022", {"rg.loss": "expected"})
    with pytest.raises(ConfigError, match="ablation.x: loss 'expected'"):
        load_config("quick", {"ablation.x.base_net": {"head": "regression"}, "ablation.x.base": {"loss": "expected"}})
    assert load_config("quick", {"rg.loss": "expected"}).rg.loss == "expected"
    # auxiliary targets: the base stage (and its ablation rows) of an invariant base network only
    assert load_config("quick").base.auxiliary and not load_config("quick", {"base.aux_weight": 0.0}).base.auxiliary
    with pytest.raises(ConfigError, match="stage 'rg': aux_targets are an option of the base stage only"):
        load_config("quick", {"rg.aux_targets": "energies"})
    with pytest.raises(ConfigError, match="aux_targets need an invariant base network"):
        load_config("quick", {"base_net.kind": "paper"})
    with pytest.raises(ConfigError, match="ablation.x: aux_targets need an invariant base network"):
        load_config("quick", {"ablation.x.base_net": {"kind": "paper"}})
    with pytest.raises(ConfigError, match="aux_weight"):
        load_config("quick", {"base.aux_weight": -1.0})
    with pytest.raises(ConfigError, match="aux_targets"):
        load_config("quick", {"base.aux_targets": "phases"})
    with pytest.raises(ConfigError, match="sampling.alpah: Extra inputs"):
        load_config("quick", {"data.train4.sampling": {"alpah": 0.05}})
    with pytest.raises(ConfigError, match="sampling.lattice_size: set it on the dataset itself"):
        load_config("quick", {"data.train4.sampling": {"lattice_size": 8}})


def test_datasets_reach_every_generate_option():
    """A profile's dataset is any GenerateConfig: extra sampling fields and the label method pass through,
    and the compact form alone gives the same definition as before (so stored datasets keep their hash)."""
    from topoml.data.generate import GenerateConfig
    from topoml.experiments.margalit2022 import dataset_config

    plain = dataset_config("train4", load_config("quick").data["train4"])
    assert plain == {"name": "margalit2022-train4", "seed": 1, "n_samples": 3000, "shard_size": 1500,
                     "sampling": {"lattice_size": 4, "averages": "boundary_biased"}}
    cfg = load_config("quick", {"data.train4.sampling": {"alpha": 0.05, "disorder": {"mu": 0.6}},
                                "data.train4.label_method": "localizer"})
    g = GenerateConfig.model_validate(dataset_config("train4", cfg.data["train4"]))
    assert g.sampling.alpha == 0.05 and g.sampling.disorder.mu == 0.6 and g.label_method == "localizer"
    for profile in ("default", "narrow2022"):  # the shipped profiles validate
        assert load_config(profile).data["train4"].n_samples == 2_000_000


def test_dotted_overrides_reach_into_tables():
    cfg = load_config("quick", {"tied.lr": 1e-6, "data.train4.n_samples": 10, "averages.epochs": 0})
    quick = load_config("quick")
    assert cfg.tied.lr == 1e-6 and cfg.tied.epochs == quick.tied.epochs
    assert cfg.data["train4"].n_samples == 10 and cfg.data["train4"].seed == quick.data["train4"].seed
    assert cfg.averages.epochs == 0
    with pytest.raises(ConfigError, match="unknown config key"):
        load_config("quick", {"tied.lrr": 1.0})
    with pytest.raises(ConfigError, match="not a table"):
        load_config("quick", {"seed.x": 1})
    with pytest.raises(ConfigError):
        load_config("quick", {"averages.epochs": -1})


def _run_cli(argv, capsys):
    rc = main(argv)
    out, err = capsys.readouterr()
    return rc, out, err


def test_predict_and_evaluate(quick_run, tmp_path, capsys):
    out, _ = quick_run
    model = str(out / "model.safetensors")
    x = np.zeros((3, 16, 16, 3), np.float32)
    x[..., 0], x[..., 1], x[..., 2] = -1.0, 0.2, 0.15
    np.save(tmp_path / "l.npy", x)
    rc, stdout, _ = _run_cli(["predict", str(tmp_path / "l.npy"), "--weights", model], capsys)
    assert rc == 0
    lines = stdout.strip().splitlines()
    assert len(lines) == 3 and all(len(line.split("\t")) == 3 for line in lines)
    rc, stdout, _ = _run_cli(["predict", str(tmp_path / "l.npy"), "--weights", model, "--json"], capsys)
    js = json.loads(stdout)
    assert rc == 0 and js["lattice_size"] == 16 and len(js["predictions"]) == 3
    p = js["predictions"][0]  # the quick model is a classifier: confidence = winning class probability
    assert p["confidence"] == pytest.approx(max(p["probabilities"]), abs=1e-6)
    assert p["chern_number"] == int(np.argmax(p["probabilities"])) - 2 and sum(p["probabilities"]) == pytest.approx(1)
    # --flag-below: lattices under the cut are marked uncertain (a fourth column, a JSON field, a count on stderr)
    rng = np.random.default_rng(3)
    np.save(tmp_path / "v.npy", rng.uniform([-4, -2, 0.1], [4, 2, 0.2], (6, 8, 8, 3)).astype(np.float32))
    _, stdout, _ = _run_cli(["predict", str(tmp_path / "v.npy"), "--weights", model, "--json"], capsys)
    conf = [q["confidence"] for q in json.loads(stdout)["predictions"]]
    cut = float(np.median(conf))
    rc, stdout, stderr = _run_cli(["predict", str(tmp_path / "v.npy"), "--weights", model, "--flag-below", str(cut)],
                                  capsys)
    marks = [line.split("\t")[3] for line in stdout.strip().splitlines()]
    assert rc == 0 and marks == ["uncertain" if q < cut else "ok" for q in conf] and "ok" in marks
    assert f"{sum(q < cut for q in conf)} of 6 lattices below confidence {cut:g}: flagged uncertain" in stderr
    rc, stdout, _ = _run_cli(["predict", str(tmp_path / "v.npy"), "--weights", model, "--json", "--flag-below", "1"],
                             capsys)
    fj = json.loads(stdout)
    assert fj["flag_below"] == 1.0 and [q["uncertain"] for q in fj["predictions"]] == [q < 1 for q in conf]
    for bad in ("0", "1.5", "x", "nan"):
        with pytest.raises(SystemExit) as e:
            main(["predict", str(tmp_path / "v.npy"), "--weights", model, "--flag-below", bad])
        err = capsys.readouterr().err
        assert e.value.code == 2 and "--flag-below" in err and len(err.strip().splitlines()) == 1
    np.save(tmp_path / "one.npy", x[0])
    assert _run_cli(["predict", str(tmp_path / "one.npy"), "--weights", model], capsys)[0] == 0
    import h5py

    with h5py.File(tmp_path / "l.h5", "w") as f:
        f["inputs"] = x
    assert _run_cli(["predict", str(tmp_path / "l.h5"), "--weights", model], capsys)[0] == 0

    rc, stdout, _ = _run_cli(["evaluate", str(out / "data" / "test8"), "--weights", model, "--json"], capsys)
    res = json.loads(stdout)
    s = json.loads((out / "summary.json").read_text())
    assert rc == 0 and res["n"] == 200 and res["accuracy"] == pytest.approx(s["rg"]["selected"]["acc8"])


@pytest.mark.parametrize("shape,msg", [((12, 12, 3), "not 4·2^k"), ((8, 8, 2), "shape"), ((8, 9, 3), "shape"),
                                       ((2, 3, 8, 8, 3), "shape"), ((24, 24, 3), "not 4·2^k")])
def test_predict_rejects_bad_lattices_with_one_line(quick_run, tmp_path, capsys, shape, msg):
    out, _ = quick_run
    np.save(tmp_path / "bad.npy", np.zeros(shape, np.float32))
    rc, _, err = _run_cli(["predict", str(tmp_path / "bad.npy"), "--weights", str(out / "model.safetensors")], capsys)
    assert rc == 2 and msg in err and len(err.strip().splitlines()) == 1


def test_predict_rejects_nan_missing_files_and_bad_weights(quick_run, tmp_path, capsys):
    out, _ = quick_run
    x = np.zeros((8, 8, 3), np.float32)
    x[0, 0, 0] = np.nan
    np.save(tmp_path / "nan.npy", x)
    model = str(out / "model.safetensors")
    for argv, msg in (
        (["predict", str(tmp_path / "nan.npy"), "--weights", model], "NaN"),
        (["predict", str(tmp_path / "missing.npy"), "--weights", model], "not found"),
        (["predict", str(tmp_path / "nan.npy"), "--weights", str(tmp_path / "none.safetensors")], "not found"),
        (["evaluate", str(tmp_path / "nodata"), "--weights", model], "not found"),
    ):
        rc, _, err = _run_cli(argv, capsys)
        assert rc == 2 and msg in err and len(err.strip().splitlines()) == 1, (argv, err)
    (tmp_path / "x.txt").write_text("1 2 3")
    rc, _, err = _run_cli(["predict", str(tmp_path / "x.txt"), "--weights", model], capsys)
    assert rc == 2 and "unknown file type" in err


def _same_weights(model_file, stage_file) -> bool:
    import torch
    from safetensors.torch import load_file

    a, b = load_file(model_file), load_file(stage_file)
    if any(k.startswith("aux.") for k in b):  # a stage trained with auxiliary targets saves the AuxiliaryHead view
        b = {k[4:]: v for k, v in b.items() if k.startswith("net.")}
    return a.keys() == b.keys() and all(a[k].dtype == b[k].dtype and torch.equal(a[k], b[k]) for k in a)


def _run_cli_process(argv):
    """``topoml ARGV`` in a fresh process, as the reproduction runs: a bit-for-bit comparison of trainings needs
    two processes in the same state (a PARDISO solve before torch loads, as in ``tests/cli/test_cli_chern.py``,
    rebinds torch's MKL kernels for the rest of the process: valid floats, other bits; README, "Conventions and design")."""
    proc = subprocess.run([sys.executable, "-m", "topoml", *argv], capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]


def test_train_runs_the_reproduce_stages(quick_run, tmp_path, capsys):
    """`topoml train` with the quick profile on the quick run's data: the same base and base ∘ RG networks as
    the reproduction's stages, bit for bit (same stage functions, settings and seeds)."""
    out, _ = quick_run
    d = out / "data"
    common = ["--profile", "quick", "--threads", "1"]
    _run_cli_process(["train", "base", str(d / "train4"), "--test", str(d / "test4"), "--out", str(tmp_path / "b"),
                      *common])
    assert _same_weights(tmp_path / "b" / "model.safetensors", out / "jobs" / "base" / "best.safetensors")
    _run_cli_process(["train", "rg", str(d / "train8"), "--base", str(tmp_path / "b" / "model.safetensors"),
                      "--test", str(d / "test8"), "--test", str(d / "test16"), "--out", str(tmp_path / "r"), *common])
    assert _same_weights(tmp_path / "r" / "model.safetensors", out / "jobs" / "rg" / "best.safetensors")
    summary = json.loads((out / "summary.json").read_text())
    rc, stdout, _ = _run_cli(["evaluate", str(d / "test16"), "--weights", str(tmp_path / "r" / "model.safetensors"),
                              "--json"], capsys)
    assert rc == 0 and json.loads(stdout)["accuracy"] == summary["rg"]["selected"]["acc16"]
    # another seed gives another network
    assert _run_cli(["train", "base", str(d / "train4"), "--out", str(tmp_path / "b2"), "--seed", "8", *common],
                    capsys)[0] == 0
    assert not _same_weights(tmp_path / "b2" / "model.safetensors", out / "jobs" / "base" / "best.safetensors")


def test_train_resumes_and_checks_input(quick_run, tmp_path, capsys):
    out, _ = quick_run
    d = out / "data"
    argv = ["train", "base", str(d / "train4"), "--test", str(d / "test4"), "--out", str(tmp_path / "b"),
            "--profile", "quick", "--set", "base.schedule=constant", "--set", "base_net.width=4", "--epochs", "1",
            "--threads", "1"]
    assert _run_cli(argv, capsys)[0] == 0
    first = json.loads((tmp_path / "b" / "checkpoints" / "history.json").read_text())["epochs"]
    argv[argv.index("--epochs") + 1] = "2"  # rerun: resumes after epoch 0
    rc, stdout, _ = _run_cli(argv, capsys)
    hist = json.loads((tmp_path / "b" / "checkpoints" / "history.json").read_text())["epochs"]
    assert rc == 0 and "epoch 0:" not in stdout and [r["epoch"] for r in hist] == [0, 1] and hist[0] == first[0]
    # an RG network on top of the run's model, whose base is the invariant classifier: class loss, reloadable
    rc, _, _ = _run_cli(["train", "rg", str(d / "train8"), "--base", str(out / "model.safetensors"),
                         "--test", str(d / "test8"), "--out", str(tmp_path / "ri"), "--profile", "quick",
                         "--init", "random", "--set", "rg_net.width=4", "--epochs", "1", "--threads", "1"], capsys)
    assert rc == 0
    from topoml.train.checkpoint import load_model

    net, meta = load_model(tmp_path / "ri" / "model.safetensors")
    assert meta["net"]["kwargs"]["base_kind"] == "invariant" and type(net.base).__name__ == "InvariantBaseNet"
    assert meta["net"]["kwargs"]["rg"]["width"] == 4 and meta["stage"] == "rg_scratch"
    rc, _, err = _run_cli(["train", "rg", str(d / "train8"), "--out", str(tmp_path / "r2")], capsys)
    assert rc == 2 and "--base" in err
    rc, _, err = _run_cli(["train", "base", str(d / "train8"), "--out", str(tmp_path / "r3")], capsys)
    assert rc == 2 and "4x4" in err
    rc, _, err = _run_cli(["train", "base", str(d / "train4"), "--out", str(tmp_path / "r4"), "--set", "base.lrr=1"],
                          capsys)
    assert rc == 2 and "base.lrr" in err and len(err.strip().splitlines()) == 1


def test_packaged_weights_load_and_agree_with_bott_deep_in_each_phase():
    """The shipped base ∘ RG weights: safetensors with a network description and its measured accuracy;
    on clean lattices deep inside the three phases they give the Bott label at N = 4, 8, 16."""
    from topoml.evaluate.predict import packaged_weights, predict_chern
    from topoml.hamiltonians.pip import clean_lattice
    from topoml.invariants.bott import bott_index
    from topoml.train.checkpoint import load_model

    net, meta = load_model(packaged_weights())
    assert meta["net"]["name"] == "margalit2022.chern" and 0.5 < meta["accuracy"]["8"] <= 1
    points = [(-1.0, 0.2), (3.5, 0.2), (1.0, 0.2), (0.0, 1.5), (-3.0, 1.8)]
    for n in (4, 8, 16):
        x = np.stack([clean_lattice(n, mu, tm, 0.15) for mu, tm in points]).astype(np.float32)
        labels = bott_index(x).label
        assert set(labels.tolist()) == {-1, 0, 1}
        np.testing.assert_array_equal(predict_chern(net, x)[0], labels, err_msg=f"N = {n}")


def test_the_package_exports_what_it_lists():
    """The driver re-exports the public names of its modules (config, stages, reporting) under ``__all__``."""
    import topoml.experiments.margalit2022 as m
    from topoml.experiments.margalit2022 import config, reporting, stages

    assert all(hasattr(m, name) for name in m.__all__)
    assert m.StageSpec is config.StageSpec and m.fit_rg is stages.fit_rg and m.report is reporting.report


def test_predict_help_states_the_packaged_accuracy(capsys):
    with pytest.raises(SystemExit):
        main(["predict", "--help"])
    out = " ".join(capsys.readouterr().out.split())  # argparse wraps the description
    assert "Packaged weights" in out and "at 4x4" in out and "at 32x32" in out


@pytest.mark.parametrize("held", [True, False])
def test_predict_help_says_held_out_only_when_every_size_was(monkeypatch, held):
    import topoml.train.checkpoint as ck
    from topoml.cli.models import _packaged_accuracy_text

    meta = {"accuracy": {"4": 0.97, "8": 0.96}, "stage": "joint_tied", "source": "s", "profile": "default",
            "held_out": {"4": True, "8": held}}
    monkeypatch.setattr(ck, "read_model_metadata", lambda path: meta)
    text = _packaged_accuracy_text()
    assert "97.00 % at 4x4, 96.00 % at 8x8" in text
    assert ("held-out sets (used for nothing else)" in text) == held
    assert ("selected its epoch on the 16x16 set" in text) == (not held)


def test_predict_help_names_always_zero_where_the_weights_do_not_beat_it(monkeypatch):
    import topoml.train.checkpoint as ck
    from topoml.cli.models import _packaged_accuracy_text

    meta = {"accuracy": {"4": 0.97, "32": 0.785}, "always_zero": {"4": 0.77, "32": 0.86}, "source": "s",
            "profile": "default", "held_out": {"4": True, "32": True}}
    monkeypatch.setattr(ck, "read_model_metadata", lambda path: meta)
    text = _packaged_accuracy_text()
    assert "97.00 % at 4x4, 78.50 % at 32x32 (below C = 0 for every lattice: 86.0 %)" in text


def test_fit_rg_on_several_sets_in_short_epochs(tmp_path):
    """The rg stage trains on the concatenation of ``rg_train`` sets; ``samples_per_epoch`` slices the stream."""
    torch = pytest.importorskip("torch")
    from topoml.experiments.margalit2022 import StageSpec, fit_rg
    from topoml.nets.rg import BaseNet, CompoundNet, RGNet

    torch.manual_seed(0)
    comp = CompoundNet(BaseNet(width=4, depth=3), RGNet(width=4, depth=3))
    rng = np.random.default_rng(0)
    lattices = lambda n: np.array([-1.0, 0.2, 0.15], np.float32) + rng.uniform(-0.1, 0.1, (n, 8, 8, 3)).astype(np.float32)
    data = {"a": (lattices(30), np.ones(30, np.int64)), "b": (lattices(20), np.zeros(20, np.int64)),
            "test8": (lattices(10), np.ones(10, np.int64))}
    st = StageSpec(epochs=3, batch_size=8, optimizer="sgd", lr=1e-4, samples_per_epoch=16)
    r = fit_rg(comp, st, 1, tmp_path / "rg", data, False, job="rg", train=("a", "b"), select="acc8", eval_sizes=(8,))
    assert r["train_samples"] == 50
    assert [h["samples"] for h in r["history"]] == [16, 16, 16]
    assert set(r["selected"]) == {"acc8"}


def test_rg_init_is_skipped_for_an_rg_network_on_top_of_decimation(tmp_path):
    pytest.importorskip("torch")
    from topoml.experiments.margalit2022 import StageSpec, fit_rg_init
    from topoml.nets.rg import RGNet

    folder = tmp_path / "jobs" / "rg_init"  # made by the stage
    r = fit_rg_init(RGNet(width=4, depth=3, skip="averages"), StageSpec(epochs=0), 1, folder, 5.0, False)
    assert r["samples"] == 0 and r["final_metrics"] == {"rms8": 0.0, "rms16": 0.0}
    assert (folder / "best.safetensors").exists()


def test_ablation_rows_run_in_parallel_with_the_results_of_one_worker(tmp_path):
    """Session 25: the ablation rows are jobs of ``RunDir.run_jobs``, ``workers`` at a time with one torch thread
    each; two workers train every row to the same weights and scores as one, and a rerun reuses the rows."""
    pytest.importorskip("torch")
    from topoml.experiments.margalit2022 import stages as m
    from topoml.runs.rundir import RunDir

    base = load_config("quick")
    keep = ("train4", "test4", "test4_bb", "train8", "test8", "test16")  # the sets the profile insists on
    runs = {}
    for workers in (1, 2):
        cfg = base.model_copy(update={"workers": workers, "data": {k: base.data[k] for k in keep},
                                      "ablation": {k: base.ablation[k] for k in ("paper", "invariant_regression")}})
        out = tmp_path / f"w{workers}"
        with RunDir(out, cfg.model_dump(), seed=cfg.seed) as rd:
            res = m._stage_ablation(cfg, rd, m._Data(cfg, out, False), False)
        runs[workers] = out, res
        assert list(res) == ["paper", "invariant_regression"]
        assert all(r["threads"] == 1 for r in res.values())
        assert "acc4_bb_group_averaged" in res["invariant_regression"] and "acc4_group_averaged" not in res["paper"]
    (o1, r1), (o2, r2) = runs[1], runs[2]
    for name in r1:
        assert {k: v for k, v in r1[name].items() if k != "train_seconds"} == \
            {k: v for k, v in r2[name].items() if k != "train_seconds"}
        job = f"ablation-{name}"
        assert (o1 / "jobs" / job / "best.safetensors").read_bytes() == (o2 / "jobs" / job / "best.safetensors").read_bytes()
    # resumed: the finished rows are read back, nothing is trained again
    before = {p: p.stat().st_mtime_ns for p in (o2 / "jobs").glob("*/*.safetensors")}
    cfg = base.model_copy(update={"workers": 2, "data": {k: base.data[k] for k in keep},
                                  "ablation": {k: base.ablation[k] for k in ("paper", "invariant_regression")}})
    with RunDir(o2, cfg.model_dump(), seed=cfg.seed) as rd:
        assert m._stage_ablation(cfg, rd, m._Data(cfg, o2, False), False) == r2
    assert before == {p: p.stat().st_mtime_ns for p in (o2 / "jobs").glob("*/*.safetensors")}
