"""kill -9 (and SIGTERM) of a topoml parent process leaves no worker (nor resource tracker) behind.

Each command runs in its own session (``start_new_session``); once its worker processes exist, the parent
is killed, and every process of that session must be gone a few seconds later (orphans would be
re-parented to PID 1 and keep the session id).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from _proc import session

pytestmark = pytest.mark.skipif(not Path("/proc").is_dir() or sys.platform != "linux", reason="needs Linux /proc")

TOPOML = [sys.executable, "-m", "topoml"]


def _children(pid: int) -> list[int]:
    out = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                if int((d / "stat").read_text().split(") ")[-1].split()[1]) == pid:
                    out.append(int(d.name))
            except (OSError, IndexError, ValueError):
                pass
    return out


def _kill_parent_once_workers_run(cmd: list[str], cwd: Path, n_children: int, sig: int) -> list[int]:
    """Start ``cmd``, wait until it has ``n_children`` child processes, kill it with ``sig``; return the
    processes of its session still alive 8 s later (killing them)."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while len(_children(proc.pid)) < n_children:
            if proc.poll() is not None:
                pytest.fail(f"{cmd} ended before its workers started: {proc.stderr.read().decode()[-2000:]}")
            if time.monotonic() > deadline:
                pytest.fail(f"{cmd}: workers never started")
            time.sleep(0.1)
        time.sleep(1.0)  # workers inside their task
        proc.send_signal(sig)
        proc.wait(timeout=10)
        deadline = time.monotonic() + 8
        while session(proc.pid) and time.monotonic() < deadline:
            time.sleep(0.2)
        return session(proc.pid)
    finally:
        for pid in session(proc.pid):
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        if proc.poll() is None:
            proc.kill()
            proc.wait()


_GEN = """name = "kill-test"
seed = 3
n_samples = 4000
shard_size = 100
[sampling]
lattice_size = 8
"""


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM], ids=["kill-9", "term"])
def test_generate_workers_die_with_parent(tmp_path, sig):
    (tmp_path / "k.toml").write_text(_GEN)
    cmd = [*TOPOML, "generate", "k.toml", "--out", "ds", "--workers", "2", "--no-progress"]
    left = _kill_parent_once_workers_run(cmd, tmp_path, 2, sig)  # 2 workers (+ the resource tracker)
    assert left == [], f"orphans left after the parent died: {left}"


def test_reproduce_workers_die_with_parent(tmp_path):
    cmd = [*TOPOML, "reproduce", "zhang2018", "--quick", "--workers", "2", "--out", "run", "--no-progress"]
    left = _kill_parent_once_workers_run(cmd, tmp_path, 2, signal.SIGKILL)
    assert left == [], f"orphans left after the parent died: {left}"
