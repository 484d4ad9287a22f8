"""The run engine (topoml.runs.executor): same results on every engine and worker count, one BLAS thread per
worker, progress, errors, safe Ctrl-C."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import numpy as np
import pytest

import runs_tasks as tasks
from _proc import child_env, interrupt, python, running, session, wait_until
from topoml.errors import ConfigError, InputError
from topoml.runs.executor import THREAD_VARS, Executor, deferred_sigint
from topoml.runs.executor import map as run_map

HERE = Path(__file__).resolve().parent


# ------------------------------------------------------------------------------------------ results


@pytest.mark.parametrize("engine, workers", [("serial", 1), ("process", 1), ("process", 2), ("dask", 2)])
def test_results_identical_for_every_engine_and_worker_count(engine, workers):
    if engine == "dask":
        pytest.importorskip("distributed")
    seeds = list(range(12))
    out = run_map(tasks.spectrum, seeds, workers=workers, engine=engine)
    assert len(out) == len(seeds)
    for r, s in zip(out, seeds):  # in task order, to the bit, as plain calls in this process
        np.testing.assert_array_equal(r, tasks.spectrum(s))


def test_on_result_sees_every_task_once_and_results_are_in_task_order():
    seen = []
    out = run_map(tasks.pid, range(9), workers=2, on_result=lambda i, r: seen.append(i))
    assert sorted(seen) == list(range(9)) and len(out) == 9
    assert len(set(out)) <= 2 and os.getpid() not in out  # two worker processes at most, not this one
    assert run_map(tasks.pid, [], workers=2) == []


def test_executor_keeps_its_workers_between_calls():
    with Executor(workers=2) as ex:
        a = set(ex.map(tasks.pid, range(8)))
        b = set(ex.map(tasks.pid, range(8)))
    assert len(a) <= 2 and b <= a  # the same processes serve the second call
    assert ex._pool is None  # closed


# ------------------------------------------------------------------------------------------ threads


def test_workers_use_one_blas_thread_and_the_callers_environment_is_restored():
    before = {k: os.environ.get(k) for k in THREAD_VARS}
    seen = run_map(tasks.blas_threads_seen, range(4), workers=2)
    for s in seen:
        assert s["env"] == {k: "1" for k in THREAD_VARS}
        assert s["blas"] in ([1], [])  # numpy's BLAS (when loaded) runs one thread
    assert {k: os.environ.get(k) for k in THREAD_VARS} == before


def test_serial_tasks_run_with_one_blas_and_torch_thread_restored_after():
    torch = pytest.importorskip("torch")
    from threadpoolctl import threadpool_info

    old = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        blas_before = [d["num_threads"] for d in threadpool_info()]
        (inside,) = run_map(tasks.blas_threads_seen, [0], engine="serial")
        assert inside["blas"] in ([1], []) and inside["torch"] == 1
        assert torch.get_num_threads() == 2
        assert [d["num_threads"] for d in threadpool_info()] == blas_before
        assert run_map(tasks.torch_threads, range(2), workers=2) == [1, 1]  # torch imported in the worker
    finally:
        torch.set_num_threads(old)


def test_a_blas_loaded_after_the_first_limit_is_limited_too():
    """A library loaded after the first call (MKL with pypardiso, inside a job) is limited as well."""
    pytest.importorskip("pypardiso")
    import subprocess

    code = ("from threadpoolctl import threadpool_info, threadpool_limits\n"
            "from topoml.runs.executor import blas_threads\n"
            "with blas_threads(1):\n    pass\n"  # before MKL is loaded
            "import pypardiso  # noqa: F401 - loads MKL\n"
            "with threadpool_limits(limits=2, user_api='blas'):\n"
            "    with blas_threads(1):\n"
            "        inside = {i['internal_api']: i['num_threads'] for i in threadpool_info() if i['user_api'] == 'blas'}\n"
            "    after = {i['internal_api']: i['num_threads'] for i in threadpool_info() if i['user_api'] == 'blas'}\n"
            "print(inside, after)\n"
            "assert 'mkl' in inside and set(inside.values()) == {1} and set(after.values()) == {2}, (inside, after)\n")
    res = subprocess.run(python(code), capture_output=True, text=True, env=child_env(), timeout=120)
    assert res.returncode == 0, res.stderr + res.stdout


# ------------------------------------------------------------------------------------------ progress


class _Bar:
    """Records what a tqdm bar is told."""

    made: list = []

    def __init__(self, total=None, initial=0, **kw):
        self.total, self.n, self.most = total, initial, initial
        _Bar.made.append(self)

    def update(self, k=1):
        self.n += k
        self.most = max(self.most, self.n)

    def close(self):
        pass


@pytest.mark.parametrize("engine", ["serial", "process"])
def test_progress_counts_each_task_weight_once(monkeypatch, engine):
    import tqdm.auto

    monkeypatch.setattr(tqdm.auto, "tqdm", _Bar)
    _Bar.made.clear()
    sizes = [3, 1, 4, 1, 5]
    out = run_map(tasks.reporting, sizes, workers=2, engine=engine, weight=lambda n: n, progress=True, initial=7)
    assert out == sizes
    (bar,) = _Bar.made
    assert bar.total == 7 + sum(sizes) and bar.n == bar.total and bar.most == bar.total  # never beyond


# ------------------------------------------------------------------------------------------ errors


@pytest.mark.parametrize("engine", ["serial", "process"])
def test_a_task_error_is_raised_and_finished_results_were_delivered(engine):
    got = {}
    with Executor(workers=2, engine=engine) as ex:
        with pytest.raises(InputError, match="task 3 failed"):
            ex.map(tasks.fail_on_three, range(8), on_result=got.__setitem__)
        assert 3 not in got and all(got[k] == k for k in got)
        assert ex.map(tasks.slow_square, range(3)) == [0, 1, 4]  # usable again (new workers)


@pytest.mark.parametrize("kwargs, fragment", [
    ({"workers": 0}, "workers"), ({"workers": True}, "workers"), ({"workers": 1.5}, "workers"),
    ({"engine": "spark"}, "engine"), ({"scheduler_address": "tcp://127.0.0.1:1"}, "dask"),
    ({"executor": object()}, "executor"),
])
def test_bad_options(kwargs, fragment):
    with pytest.raises(ConfigError, match=fragment) as e:
        run_map(tasks.slow_square, range(2), **kwargs)
    assert "\n" not in str(e.value)


def test_missing_dask_scheduler_is_a_config_error():
    pytest.importorskip("distributed")
    with pytest.raises(ConfigError, match="cannot reach the Dask scheduler"):
        run_map(tasks.slow_square, range(2), engine="dask", scheduler_address="tcp://127.0.0.1:9")


def test_a_concurrent_futures_executor_can_be_used():
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(2) as pool:
        assert run_map(tasks.slow_square, range(5), executor=pool) == [0, 1, 4, 9, 16]


# ------------------------------------------------------------------------------------------ Ctrl-C


def test_deferred_sigint_restores_handler():
    original = signal.signal(signal.SIGINT, signal.default_int_handler)  # as in a foreground process
    try:
        with deferred_sigint() as interrupted:
            assert not interrupted()
            os.kill(os.getpid(), signal.SIGINT)  # recorded, not raised
            deadline = time.monotonic() + 5
            while not interrupted() and time.monotonic() < deadline:
                time.sleep(0.01)
            assert interrupted()
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    finally:
        signal.signal(signal.SIGINT, original)


def test_deferred_sigint_leaves_an_ignored_sigint_alone():
    original = signal.signal(signal.SIGINT, signal.SIG_IGN)  # a background job's Ctrl-C is not ours
    try:
        with deferred_sigint() as interrupted:
            assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN and not interrupted()
        assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
    finally:
        signal.signal(signal.SIGINT, original)


def test_an_aborted_pool_has_no_thread_left_when_close_returns():
    """close(abort=True) (Ctrl-C) waits for the pool's manager thread: a thread still closing its pipe while
    the interpreter exits races with CPython's exit hook (an "OSError: Bad file descriptor" traceback)."""
    ex = Executor(workers=2)
    assert ex.map(tasks.slow_square, range(4)) == [v * v for v in range(4)]
    manager = ex._pool._executor_manager_thread
    assert manager is not None and manager.is_alive()
    ex.close(abort=True)
    assert not manager.is_alive()


# The child behaves like a terminal's foreground process: Python's Ctrl-C handler installed, even when
# the tests themselves run in a background job (where the shell sets SIGINT to "ignore", inherited).
_CTRL_C_CHILD = """
import signal, sys
signal.signal(signal.SIGINT, signal.default_int_handler)
import runs_tasks
from topoml.runs.executor import map
done = open(sys.argv[1], "a", buffering=1)
map(runs_tasks.slow_square, range(400), workers=2, engine=sys.argv[2], on_result=lambda i, r: done.write(f"{i}\\n"))
"""


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="needs Linux /proc")
@pytest.mark.parametrize("engine", ["process", "dask"])
def test_ctrl_c_stops_the_pool_promptly_and_cleanly(tmp_path, engine):
    """SIGINT to the process group (a terminal's Ctrl-C) once tasks finish: one KeyboardInterrupt in the
    parent (no worker traceback, no broken pool), exit within seconds, no process left behind."""
    if engine == "dask":
        pytest.importorskip("distributed")
    done = tmp_path / "done.txt"
    with running(python(_CTRL_C_CHILD, str(done), engine), child_env(HERE)) as proc:
        wait_until(proc, lambda: done.exists() and done.read_text().count("\n") >= 2, 120, "finished task",
                   poll=0.01)
        rc, stopped = interrupt(proc, 60)
        deadline = time.monotonic() + 10
        while session(proc.pid) and time.monotonic() < deadline:
            time.sleep(0.2)
        left = session(proc.pid)
    err = proc.stderr.read().decode(errors="replace")
    assert rc != 0 and "KeyboardInterrupt" in err, err[-3000:]
    assert err.count("Traceback") == 1 and "BrokenProcessPool" not in err, err[-3000:]
    assert stopped < (10 if engine == "process" else 30)
    assert left == [], f"processes left after Ctrl-C: {left}"
    finished = [int(v) for v in done.read_text().split()]
    assert 2 <= len(finished) < 400 and len(set(finished)) == len(finished)


def test_tornado_noise_of_cancelled_dask_futures_is_dropped_and_nothing_else():
    # a Dask future cancelled on Ctrl-C may make tornado log "Exception in callback" with a FutureCancelledError
    # traceback (a race; it once broke test_ctrl_c_stops_the_pool_promptly_and_cleanly[dask]); only that is dropped
    import logging
    import sys

    from topoml.runs.executor import _DropCancelledFutures

    class FutureCancelledError(Exception):
        pass

    def record(exc):
        try:
            raise exc
        except Exception:
            info = sys.exc_info()
        return logging.LogRecord("tornado.application", logging.ERROR, __file__, 1, "Exception in callback", (), info)

    f = _DropCancelledFutures()
    assert f.filter(record(FutureCancelledError("cancelled"))) is False
    assert f.filter(record(ValueError("a real error"))) is True
    assert f.filter(logging.LogRecord("tornado.application", logging.ERROR, __file__, 1, "plain", (), None)) is True
