"""End-to-end: `topoml reproduce oriekhov2025 --quick`, run directory contents, resume, bad input."""

import json
import subprocess
import sys

import numpy as np
import pytest

from topoml.cli import main
from topoml.errors import ConfigError
from topoml.experiments import get_experiment
from topoml.experiments.oriekhov2025 import load_config


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "oq"
    proc = subprocess.run(
        [sys.executable, "-m", "topoml", "reproduce", "oriekhov2025", "--quick", "--out", str(out), "--no-progress"],
        capture_output=True, text=True, timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    return out, proc


def test_quick_profile_writes_run_directory(quick_run):
    out, proc = quick_run
    assert "claims" in proc.stdout and "topo_linear-exact" in proc.stdout
    for f in ("config.json", "environment.json", "metrics.json", "summary.json", "report.md"):
        assert (out / f).is_file(), f
    for fig in ("init_sensitivity", "pruning", "disorder"):
        assert (out / "figures" / f"{fig}.png").stat().st_size > 1000
    summary = json.loads((out / "summary.json").read_text())
    cfg = json.loads((out / "config.json").read_text())
    assert cfg["profile"] == "quick" and cfg["L"] == 12
    L = cfg["L"]
    assert summary["parameters"]["topo_linear"] == L * L + 25
    assert summary["parameters"]["topo_factorized"] == 4 * L + 25
    assert summary["parameters"]["cnn"] == 577
    # the exact contraction is the label on every clean and unseen-winding sample
    ex = summary["exact"]
    assert ex["accuracy"]["test"] == 1.0 and ex["accuracy"]["unseen"] == 1.0
    assert ex["max_abs_deviation_float32_input"] < 1e-5
    for row, r in summary["table"].items():  # each row aggregates its seeds' jobs
        jobs = [json.loads((out / "jobs" / f"{row}-seed{s}" / "result.json").read_text()) for s in range(cfg["seeds"])]
        assert r["test"]["mean"] == pytest.approx(np.mean([j["accuracy"]["test"] for j in jobs]))
        assert r["fraction_reaching_target"] == pytest.approx(np.mean([j["epochs_to_target"] is not None for j in jobs]))
    # topo started at the exact T stays (nearly) exact after a few epochs
    assert summary["table"]["topo_linear-exact"]["test"]["mean"] >= 0.99
    assert set(summary["claims"]) == {"exact", "trainability", "proxies", "pruning", "disorder"}
    for c in summary["claims"].values():
        assert c["verdict"] in ("reproduced", "partly reproduced", "contradicted")
    report = (out / "report.md").read_text()
    for needle in ("Claims of the paper", "SVD pruning", "Disorder", "unseen", "masked edges", "scrambled gauge"):
        assert needle in report
    jobs = list((out / "jobs").glob("*/weights.safetensors"))
    assert len(jobs) == cfg["seeds"] * (len(cfg["nets"]) + len(cfg["topo_nets"]) * len(cfg["inits"]))


def test_resume_reuses_finished_jobs(quick_run):
    out, _ = quick_run
    before = {p: p.stat().st_mtime_ns for p in (out / "jobs").glob("*/result.json")}
    summary = get_experiment("oriekhov2025").run(load_config("quick"), out, progress=False)
    assert summary["resumed"] is True
    after = {p: p.stat().st_mtime_ns for p in (out / "jobs").glob("*/result.json")}
    assert before == after


def test_resume_refuses_a_different_config(quick_run, capsys):
    out, _ = quick_run
    rc = main(["reproduce", "oriekhov2025", "--quick", "--set", "epochs=1", "--out", str(out), "--no-progress"])
    assert rc == 2
    err = capsys.readouterr().err
    assert "different config" in err and err.count("\n") == 1


@pytest.mark.parametrize(
    "argv, needle",
    [
        (["reproduce", "oriekhov2025", "--set", "bogus=1"], "unknown config key 'bogus'"),
        (["reproduce", "oriekhov2025", "--set", "epochs=0"], "epochs"),
        (["reproduce", "oriekhov2025", "--set", "nets=[\"resnet\"]"], "nets"),
        (["reproduce", "oriekhov2025", "--set", "inits=[\"zeros\"]"], "inits"),
        (["reproduce", "oriekhov2025", "--set", "unseen_label=1"], "unseen_label"),
        (["reproduce", "oriekhov2025", "--set", "L=4"], "'L'"),
        (["reproduce", "oriekhov2025", "--set", "edge_cells=9"], "edge_cells"),
        (["reproduce", "oriekhov2025", "--set", "w_max=[1.0]"], "w_max"),
        (["reproduce", "oriekhov2025", "--profile", "huge"], "unknown profile"),
    ],
)
def test_cli_bad_input_one_line(argv, needle, capsys):
    rc = main(argv)
    assert rc == 2
    err = capsys.readouterr().err
    assert needle in err
    assert err.count("\n") == 1 and "Traceback" not in err


def test_config_validation():
    with pytest.raises(ConfigError):
        load_config("quick", {"train_labels": [0, 0]})
    with pytest.raises(ConfigError):
        load_config("quick", {"unseen_label": 3})
    with pytest.raises(ConfigError):
        load_config("quick", {"disorder_strengths": []})
    with pytest.raises(ConfigError):
        load_config("quick", {"nets": [], "topo_nets": []})
    cfg = load_config("default")
    assert cfg.seeds >= 10 and cfg.profile == "default"
    assert load_config("quick", {"workers": 1}).workers == 1


def test_results_do_not_depend_on_number_of_workers(tmp_path):
    from topoml.experiments.oriekhov2025 import _jobs, _train_job
    from topoml.runs.rundir import RunDir

    cfg = load_config("quick", {"n_train": 200, "n_val": 100, "n_test": 100, "epochs": 1, "seeds": 1})
    jobs = [j for j in _jobs(cfg) if j["id"] in ("shallow-seed0", "topo_linear-random-seed0")]
    res = {}
    for w in (1, 2):
        rd = RunDir(tmp_path / f"w{w}", {"w": w})
        res[w] = rd.run_jobs(jobs, _train_job, workers=w, progress=False)
    for j in jobs:
        assert res[1][j["id"]]["accuracy"] == res[2][j["id"]]["accuracy"]
        assert res[1][j["id"]]["history"]["train_loss"] == res[2][j["id"]]["history"]["train_loss"]


def test_report_tables_and_quick_note(quick_run):
    """Issue 12: '|W − RSWN|' in the claims table split its row; a quick profile says it is a smoke test."""
    from _markdown import table_problems

    from topoml.runs.rundir import QUICK_NOTE

    out, proc = quick_run
    report = (out / "report.md").read_text()
    assert "\\|W − RSWN\\|" in report and table_problems(report) == []
    assert QUICK_NOTE in report and QUICK_NOTE in proc.stdout
