"""scripts/gpu_base_4x4.py and scripts/ship_gpu_base.py (session 15, issue 10): the quick profile of the GPU run, on
the CPU, and the shipped-model surgery that puts its base network into a Chern model."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from _proc import child_env

torch = pytest.importorskip("torch")

ROOT = Path(__file__).resolve().parents[2]
RUN = ROOT / "scripts" / "gpu_base_4x4.py"
SHIP = ROOT / "scripts" / "ship_gpu_base.py"


def _generate(tmp_path: Path, name: str, averages: str, seed: int) -> Path:
    toml = tmp_path / f"{name}.toml"
    toml.write_text(f'name = "{name}"\nseed = {seed}\nn_samples = 300\nshard_size = 300\n'
                    f'[sampling]\nlattice_size = 4\naverages = "{averages}"\n')
    out = tmp_path / name
    p = subprocess.run([sys.executable, "-m", "topoml", "generate", str(toml), "--out", str(out), "--workers", "1",
                        "--no-progress"], env=child_env(), capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    return out


def test_quick_gpu_run_on_the_cpu_then_shipped_into_the_packaged_model(tmp_path):
    out = tmp_path / "run"
    # --budget is wall-clock (a GPU lease): the script gives up when its first labels take over half of it, so
    # 30 s leaves room for a loaded machine (14 s failed beside two training processes on 2 cores, session 21)
    p = subprocess.run([sys.executable, str(RUN), "--out", str(out), "--device", "cpu", "--workers", "1",
                        "--budget", "30", "--final-reserve", "4", "--chunk", "500", "--min-start", "500",
                        "--test-n", "400", "--models", "a:8:1", "--batch", "32", "--eval-every", "2",
                        "--capacity", "100000", "--conv", "auto"],
                       env=child_env(OPENBLAS_NUM_THREADS="1"), capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    res = json.loads((out / "results.json").read_text())
    a = res["models"]["a"]  # --conv auto: timed both routes on a copy, trains with the faster
    assert set(a["conv_timing_s"]) == {"conv", "gemm"} and a["conv"] == min(a["conv_timing_s"], key=a["conv_timing_s"].get)
    assert res["test_sets"]["test_u"] == {"kind": "uniform", "seed": 13002, "n": 400}
    assert res["n_labelled"] >= 500 and res["errors"] == [] and res["models"]["a"]["files"] == ["a.safetensors"]
    steps = res["models"]["a"]["steps"]
    assert steps == res["steps"] > 0
    for mode in ("plain", "group_averaged"):
        assert set(res["final"][mode]["a"]) == {"test_u", "test_bb"}
        assert all(0 <= v <= 1 for v in res["final"][mode]["a"].values())
    assert 0.6 < res["always_zero"]["test_u"] < 0.95

    hold, hold_bb = _generate(tmp_path, "h", "uniform", 7), _generate(tmp_path, "hb", "boundary_biased", 8)
    from topoml.evaluate.predict import packaged_weights, predict_chern
    from topoml.train.checkpoint import load_model

    new_path = tmp_path / "new.safetensors"
    p = subprocess.run([sys.executable, str(SHIP), str(out / "a"), "--model", str(packaged_weights()),
                        "--holdout", str(hold), "--holdout-bb", str(hold_bb), "--out", str(new_path), "--threads", "1",
                        "--source", "test"], env=child_env(), capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stderr
    old, old_meta = load_model(packaged_weights())
    new, meta = load_model(new_path)
    report = json.loads(Path(str(new_path) + ".json").read_text())["report"]
    assert meta["accuracy"]["4"] == report["holdout4"]["new"]["accuracy"]
    assert meta["accuracy_bb"]["4"] == report["holdout4_bb"]["new"]["accuracy"]
    assert {k: v for k, v in meta["accuracy"].items() if k != "4"} == \
        {k: v for k, v in old_meta["accuracy"].items() if k != "4"}
    assert meta["base"] == {"source": "test", "samples_seen": steps * 32, "steps": steps,
                            "kwargs": {"width": 8, "blocks": 1, "hidden": 128, "head": "classes", "symmetrize": False}}
    old_kw = old_meta["net"]["kwargs"]
    assert meta["net"]["kwargs"]["coarse"] == old_kw.get("coarse", old_kw["base"])
    assert meta["train_samples"] == {**old_meta["train_samples"], "4x4": res["n_labelled"]}
    assert report["holdout4"]["old"]["accuracy"] == pytest.approx(old_meta["accuracy"]["4"], abs=0.06)
    # the 8x8 and 16x16 routes are the old model's, weight for weight; 4x4 is the new base's
    rng = np.random.default_rng(0)
    for n in (8, 16):
        x = rng.uniform([-4, -2, 0.1], [4, 2, 0.2], (6, n, n, 3)).astype(np.float32)
        with torch.no_grad():
            torch.testing.assert_close(new(torch.from_numpy(x)), old(torch.from_numpy(x)))
    assert new.base.config["width"] == 8 and new.coarse_base.config["width"] == old.coarse_base.config["width"]
    x4 = rng.uniform([-4, -2, 0.1], [4, 2, 0.2], (6, 4, 4, 3)).astype(np.float32)
    via_model = predict_chern(new, x4)[0]
    new.base.symmetrize = new.symmetrize
    np.testing.assert_array_equal(via_model, predict_chern(new.base, x4)[0])

    # a fine-tuning run from those weights, scored on a dataset folder as well
    ft = tmp_path / "ft"
    p = subprocess.run([sys.executable, str(RUN), "--out", str(ft), "--device", "cpu", "--workers", "1",
                        "--budget", "30", "--final-reserve", "4", "--chunk", "500", "--min-start", "500",
                        "--test-n", "200", "--models", "a:8:1", "--batch", "32", "--capacity", "100000",
                        "--init", f"a={out / 'a'}", "--warmup", "0", "--lr", "1e-4", "--seed", "2",
                        "--eval-data", f"h={hold}", "--conv", "gemm"],
                       env=child_env(OPENBLAS_NUM_THREADS="1"), capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    res2 = json.loads((ft / "results.json").read_text())
    assert res2["args"]["conv"] == "gemm" and res2["args"]["compile"] is False  # trained by gathered products
    from topoml.cli.models import _dataset_xy

    _, yh = _dataset_xy(str(hold))
    assert res2["eval_data"]["h"]["n"] == 300 and res2["eval_data"]["h"]["always_zero"] == float(np.mean(yh == 0))
    assert set(res2["final"]["group_averaged"]["a"]) == {"test_u", "test_bb", "h"}
    from safetensors import safe_open

    with safe_open(str(ft / "a.safetensors"), "pt") as h:
        assert json.loads(h.metadata()["config"])["init"] == str(out / "a")
    # shipped from the fine-tuning run: the first run's steps, samples and lattices count too
    p = subprocess.run([sys.executable, str(SHIP), str(ft / "a"), "--prior", str(out / "a"), "--model",
                        str(packaged_weights()), "--holdout", str(hold), "--holdout-bb", str(hold_bb), "--out",
                        str(tmp_path / "ft.safetensors"), "--threads", "1", "--skip-old", "--model-source", "src"],
                       env=child_env(), capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stderr
    m2 = load_model(tmp_path / "ft.safetensors")[1]
    steps2 = res2["models"]["a"]["steps"]
    assert m2["base"]["steps"] == steps + steps2 and m2["base"]["samples_seen"] == (steps + steps2) * 32
    assert m2["train_samples"]["4x4"] == res["n_labelled"] + res2["n_labelled"]
    assert m2["source"] == "src" and meta["source"] == old_meta["source"]
    assert "old" not in json.loads(Path(str(tmp_path / "ft.safetensors") + ".json").read_text())["report"]["holdout4"]
    for bad in (["--models", "a:8"], ["--models", "a:8:1", "--init", "b=x"], ["--eval-data", "h"]):
        p = subprocess.run([sys.executable, str(RUN), "--out", str(tmp_path / "bad"), "--device", "cpu", *bad],
                           env=child_env(), capture_output=True, text=True, timeout=300)
        assert p.returncode != 0 and "Traceback" not in p.stderr and "--" in p.stderr
    with pytest.raises(subprocess.CalledProcessError):
        subprocess.run([sys.executable, str(RUN), "--out", str(tmp_path / "bad"), "--device", "cpu", "--workers", "1",
                        "--budget", "5", "--test-n", "10", "--models", "a:8:1", "--init", f"a={tmp_path / 'none'}"],
                       env=child_env(), capture_output=True, text=True, timeout=300, check=True)


def test_chern_net_coarse_arguments():
    from topoml.errors import ConfigError
    from topoml.nets.rg import chern_net

    net = chern_net(base={"width": 16, "blocks": 1}, base_kind="invariant", coarse_base=True, coarse_size=8,
                    size_nets=[8], coarse={"width": 8, "blocks": 2})
    assert net.base.config["width"] == 16
    assert net.coarse_base.config["width"] == 8 and net.coarse_base.config["blocks"] == 2
    assert net.size_nets["8"].config["width"] == 8
    same = chern_net(base={"width": 16, "blocks": 1}, base_kind="invariant", coarse_base=True)
    assert same.coarse_base.config == same.base.config
    with pytest.raises(ConfigError, match="coarse needs"):
        chern_net(base={"width": 16}, base_kind="invariant", coarse={"width": 8})
    with pytest.raises(ConfigError, match="dict"):
        chern_net(base={"width": 16}, base_kind="invariant", coarse_base=True, coarse=[8])


def test_runs_can_start_from_the_base_of_a_chern_model_file(tmp_path):
    """``--init NAME=MODEL.safetensors`` (and ``ship_gpu_base.py --prior``) read the 4×4 base of a Chern model file,
    so a GPU session on a fresh machine goes on from the packaged base: the same weights, the model's record."""
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        from gpu_base_4x4 import load_run_weights
    finally:
        sys.path.remove(str(ROOT / "scripts"))
    from topoml.evaluate.predict import packaged_weights
    from topoml.nets.rg import InvariantBaseNet
    from topoml.train.checkpoint import load_model

    model, meta = load_model(packaged_weights())
    state, rec = load_run_weights(str(packaged_weights()))
    assert rec["kwargs"] == {k: v for k, v in meta["net"]["kwargs"]["base"].items() if k != "symmetrize"}
    assert rec["steps"] == meta["base"]["steps"] and rec["samples"] == meta["base"]["samples_seen"]
    assert rec["n_labelled"] == meta["train_samples"]["4x4"]
    net = InvariantBaseNet(**rec["kwargs"])
    net.load_state_dict(state)  # strict: every tensor of the base, nothing else
    x = torch.from_numpy(np.random.default_rng(1).uniform([-4, -2, 0.1], [4, 2, 0.2], (5, 4, 4, 3)).astype(np.float32))
    with torch.no_grad():
        torch.testing.assert_close(net.eval()(x), model.base(x), rtol=0, atol=0)
    from safetensors.torch import save_file
    from topoml.train.checkpoint import model_bytes

    save_file({"w": torch.zeros(2)}, str(tmp_path / "plain.safetensors"))
    (tmp_path / "base.safetensors").write_bytes(model_bytes(net, "margalit2022.base", rec["kwargs"]))
    for bad, msg in ((tmp_path / "none.safetensors", "no model file"), (tmp_path / "plain.safetensors", "not a topoml"),
                     (tmp_path / "base.safetensors", "not a margalit2022 Chern model")):
        with pytest.raises(SystemExit, match=msg):
            load_run_weights(str(bad))


def test_decided_labels_script(tmp_path):
    """scripts/decided_labels.py (session 17): its groups partition the lattices and recompute the accuracy of the
    packaged weights; the disorder-decided labels are the ones that differ from the clean phase of the averages."""
    from topoml.data.store import open_dataset
    from topoml.evaluate.metrics import _clean_phase, _lattice_averages
    from topoml.evaluate.predict import packaged_weights, predict_chern
    from topoml.train.checkpoint import load_model

    data = _generate(tmp_path, "bb", "boundary_biased", 17)
    p = subprocess.run([sys.executable, str(ROOT / "scripts" / "decided_labels.py"), str(data), "--n", "200",
                        "--out", str(tmp_path / "d.json")], env=child_env(OPENBLAS_NUM_THREADS="1"),
                       capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    r = json.loads((tmp_path / "d.json").read_text())
    g = r["groups"]
    assert r["n"] == 200 == g["not_decided"]["n"] + g["decided"]["n"]
    assert g["decided"]["n"] == g["decided_geometry"]["n"] + g["decided_gap_closing"]["n"] + g["decided_other"]["n"]
    with open_dataset(data) as ds:
        x, y = np.asarray(ds.inputs[:200], np.float32), np.asarray(ds.labels[:200])
    assert g["decided"]["n"] == int(np.sum(_clean_phase(_lattice_averages(x)) != y)) > 0
    net, _ = load_model(packaged_weights().read_bytes())
    pred = predict_chern(net.eval(), x)[0]
    assert r["accuracy"] == pytest.approx(float(np.mean(pred == y)), abs=1e-12)
    p = subprocess.run([sys.executable, str(ROOT / "scripts" / "decided_labels.py"), str(tmp_path / "missing")],
                       env=child_env(), capture_output=True, text=True, timeout=120)
    assert p.returncode != 0 and len(p.stderr.strip().splitlines()) == 1 and "decided_labels.py" in p.stderr
