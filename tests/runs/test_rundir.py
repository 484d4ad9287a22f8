"""Run directories (topoml.runs.rundir): atomic writes, the folder lock, jobs that resume after SIGKILL without
redoing or losing finished work, and ``topoml reproduce`` stopped by Ctrl-C."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest

import runs_tasks as tasks
from _proc import child_env, interrupt, python, running, wait_until
from topoml.errors import ConfigError, DatasetError
from topoml.runs.rundir import FolderLock, RunDir, atomic_path, atomic_write_bytes

HERE = Path(__file__).resolve().parent
CHILD_ENV = child_env(HERE)


# ------------------------------------------------------------------------------------------ atomic writes


def test_atomic_path_leaves_the_old_file_or_the_new_one(tmp_path):
    target = tmp_path / "f.bin"
    atomic_write_bytes(target, b"old")
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_bytes(b"half")
            raise RuntimeError("writer died")
    assert target.read_bytes() == b"old" and [p.name for p in tmp_path.iterdir()] == ["f.bin"]
    with atomic_path(tmp_path / "a.h5") as tmp, h5py.File(tmp, "w") as f:  # any writer that takes a path
        assert tmp.name.startswith(".a.h5.") and tmp.name.endswith(".tmp")
        f["x"] = np.arange(3)
    with h5py.File(tmp_path / "a.h5", "r") as f:
        np.testing.assert_array_equal(f["x"][()], np.arange(3))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.h5", "f.bin"]
    with pytest.raises(OSError):
        atomic_write_bytes(tmp_path / "missing" / "x", b"")


# ------------------------------------------------------------------------------------------ lock


def test_a_run_directory_in_use_is_refused_until_closed(tmp_path):
    with RunDir(tmp_path / "r", {"a": 1}) as rd:
        with pytest.raises(ConfigError, match="another run is writing") as e:
            RunDir(tmp_path / "r", {"a": 1})
        assert "\n" not in str(e.value)
        rd.save_job("j", {"v": 1})
    again = RunDir(tmp_path / "r", {"a": 1})  # released by the with block
    assert again.resumed and again.job_result("j") == {"v": 1}
    again.close()
    with pytest.raises(ConfigError, match="different config"):  # the lock is released after a refusal too
        RunDir(tmp_path / "r", {"a": 2})
    RunDir(tmp_path / "r", {"a": 1}).close()


def test_generate_refuses_a_folder_in_use(tmp_path):
    from topoml.data.generate import generate_dataset

    cfg = {"name": "t", "seed": 1, "n_samples": 4, "shard_size": 4, "sampling": {"lattice_size": 4}}
    (tmp_path / "ds").mkdir()
    with FolderLock(tmp_path / "ds", ".generate.lock", RuntimeError("held")):
        with pytest.raises(DatasetError, match="another generate run is writing"):
            generate_dataset(cfg, tmp_path / "ds", engine="serial", progress=False)
    assert generate_dataset(cfg, tmp_path / "ds", engine="serial", progress=False)["shards_computed"] == 1


_REPRODUCE_LOCK = """
import sys
from topoml.runs.rundir import RunDir
rd = RunDir(sys.argv[1], {"a": 1})
print("locked", flush=True)
sys.stdin.read()
"""


def test_reproduce_refuses_a_run_directory_in_use(tmp_path):
    """Another process holds the run directory: ``topoml reproduce`` into it exits 2 with one line."""
    holder = subprocess.Popen([sys.executable, "-c", _REPRODUCE_LOCK, str(tmp_path / "run")], env=CHILD_ENV,
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        proc = subprocess.run([sys.executable, "-m", "topoml", "reproduce", "zhang2018", "--quick", "--out",
                               str(tmp_path / "run"), "--no-progress"], env=CHILD_ENV, capture_output=True, text=True,
                              timeout=300)
    finally:
        holder.communicate("")
    assert proc.returncode == 2
    assert proc.stderr.strip().startswith("topoml: error: another run is writing to") and "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


# ------------------------------------------------------------------------------------------ jobs, SIGKILL, resume


def _jobs(calls: Path, n: int = 12, sleep: float = 0.3) -> list[dict]:
    return [{"id": f"job{k:02d}", "seed": 100 + k, "sleep": sleep, "calls": str(calls)} for k in range(n)]


def _called(calls: Path) -> list[str]:
    return sorted(p.name.split(".")[0] for p in calls.iterdir()) if calls.exists() else []


def _snapshot(run: Path) -> dict:
    return {str(p.relative_to(run)): (p.stat().st_ino, p.stat().st_mtime_ns, p.read_bytes())
            for p in (run / "jobs").rglob("*") if p.is_file()}


@pytest.mark.parametrize("engine, workers", [("serial", 1), ("process", 2), ("dask", 2)])
def test_run_jobs_results_do_not_depend_on_engine_or_workers(tmp_path, engine, workers):
    if engine == "dask":
        pytest.importorskip("distributed")
    jobs = _jobs(tmp_path / "calls", n=5, sleep=0.0)
    with RunDir(tmp_path / "run", {"n": 5}) as rd:
        res = rd.run_jobs(jobs, tasks.slow_job, workers=workers, engine=engine, progress=False)
    assert list(res) == [j["id"] for j in jobs]
    for j in jobs:
        out, files = tasks.slow_job(j)
        assert res[j["id"]] == out
        assert (tmp_path / "run" / "jobs" / j["id"] / "weights.bin").read_bytes() == files["weights.bin"]
    with pytest.raises(ConfigError, match="unique"):
        RunDir(tmp_path / "run2", {}).run_jobs(jobs + jobs[:1], tasks.slow_job, progress=False)


def test_reproduce_trainings_on_dask_equal_those_in_process(tmp_path):
    """``reproduce --engine dask``: the same training jobs (torch in Dask workers) give the same bits."""
    pytest.importorskip("distributed")
    from safetensors.numpy import load

    from topoml.experiments.zhang2018 import _jobs, _train_job, load_config

    cfg = load_config("quick", {"n_train": 500, "n_val": 100, "n_test": 100, "n_ssh_train": 200, "epochs": 1})
    jobs = [j for j in _jobs(cfg) if j["id"] in ("table1-cnn-seed0", "table1-fc-seed0")]
    res = {}
    for engine, workers in (("serial", 1), ("dask", 2)):
        with RunDir(tmp_path / engine, {"engine": engine}) as rd:
            res[engine] = rd.run_jobs(jobs, _train_job, workers=workers, engine=engine, progress=False)
    for j in jobs:  # the same bits: accuracies, losses, probe outputs and weights
        a, b = res["serial"][j["id"]], res["dask"][j["id"]]
        assert a["accuracy"] == b["accuracy"] and a["probe"] == b["probe"]
        assert a["history"]["train_loss"] == b["history"]["train_loss"]
        wa, wb = (load((tmp_path / e / "jobs" / j["id"] / "weights.safetensors").read_bytes()) for e in res)
        assert wa.keys() == wb.keys() and all(np.array_equal(wa[k], wb[k]) for k in wa)


_KILL_CHILD = """
import sys, json
import runs_tasks
from topoml.runs.rundir import RunDir
jobs = json.loads(sys.argv[2])
RunDir(sys.argv[1], {"jobs": len(jobs)}).run_jobs(jobs, runs_tasks.slow_job, workers=2, progress=False)
"""


def test_sigkill_mid_run_then_resume_redoes_nothing_finished(tmp_path):
    """A REAL kill -9 of the run and its workers; the rerun keeps every finished job untouched, computes
    only the others, and ends with the results of an uninterrupted run."""
    run, calls1 = tmp_path / "run", tmp_path / "calls1"
    jobs = _jobs(calls1)
    with running(python(_KILL_CHILD, str(run), json.dumps(jobs)), CHILD_ENV) as proc:  # then killed: run + workers
        wait_until(proc, lambda: len(list((run / "jobs").glob("*/result.json"))) >= 3, 120, "finished jobs")
    finished = sorted(p.parent.name for p in (run / "jobs").glob("*/result.json"))
    assert 3 <= len(finished) < len(jobs), "the run must be interrupted mid-way"
    snap = {k: v for k, v in _snapshot(run).items() if k.split("/")[0] in finished}
    (run / "jobs" / "job11").mkdir(exist_ok=True)
    (run / "jobs" / "job11" / ".result.json.abc123.tmp").write_text("{half")  # a write cut short

    calls2 = tmp_path / "calls2"
    resumed = [{**j, "calls": str(calls2)} for j in jobs]
    with RunDir(run, {"jobs": len(jobs)}) as rd:  # the lock died with the killed process
        assert rd.resumed
        res = rd.run_jobs(resumed, tasks.slow_job, workers=2, progress=False)
    assert set(_called(calls2)) == {j["id"] for j in jobs} - set(finished)  # nothing finished is redone
    assert len(_called(calls2)) == len(set(_called(calls2)))  # and nothing twice
    assert {k: v for k, v in _snapshot(run).items() if k in snap} == snap  # finished jobs untouched
    assert not list(run.rglob(".*.tmp"))
    for j in jobs:  # the results of an uninterrupted run
        assert res[j["id"]] == tasks.slow_job({**j, "sleep": 0, "calls": str(tmp_path / "calls3")})[0]


# ------------------------------------------------------------------------------------------ reproduce + Ctrl-C


def test_reproduce_ctrl_c_exits_with_one_line_and_keeps_finished_jobs(tmp_path):
    """SIGINT to ``topoml reproduce`` (and its workers) once a training job has finished: exit status 130,
    one line on stderr, the finished jobs stay, the folder is free again."""
    out = tmp_path / "run"
    # a terminal's foreground process (Ctrl-C handler installed even when the tests run in a background job)
    cli = "import signal, sys; signal.signal(signal.SIGINT, signal.default_int_handler); " \
          "from topoml.cli import main; sys.exit(main(sys.argv[1:]))"
    cmd = [sys.executable, "-c", cli, "reproduce", "zhang2018", "--quick", "--workers", "2", "--out", str(out),
           "--no-progress", "--set", "n_train=2000", "--set", "n_val=200", "--set", "n_test=200",
           "--set", "n_ssh_train=500"]
    with running(cmd, child_env(HERE, PYTHONUNBUFFERED="1")) as proc:
        wait_until(proc, lambda: bool(list((out / "jobs").glob("*/result.json"))), 300, "finished job", poll=0.05)
        rc, _ = interrupt(proc, 60)
    err = proc.stderr.read().decode(errors="replace").strip()
    assert rc == 130, err[-3000:]
    assert err.splitlines()[-1].startswith("topoml: interrupted") and "Traceback" not in err, err[-3000:]
    finished = list((out / "jobs").glob("*/result.json"))
    assert finished and all(json.loads(p.read_text()) for p in finished)
    assert not (out / "summary.json").exists()
    with FolderLock(out, ".lock", RuntimeError("still locked")):  # released
        pass
