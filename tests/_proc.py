"""Helpers of the tests that run topoml in a child process and stop it (SIGKILL, Ctrl-C, kill of the parent)."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"


def child_env(*paths: str | os.PathLike, **extra: str) -> dict:
    """This environment with ``src`` (and ``paths``) first on ``PYTHONPATH``, plus ``extra`` variables."""
    path = os.pathsep.join([str(SRC), *map(str, paths), os.environ.get("PYTHONPATH", "")])
    return {**os.environ, "PYTHONPATH": path, **extra}


def start(args: list[str], env: dict | None = None, **kw) -> subprocess.Popen:
    """Start ``args`` in its own session (so that its whole process group can be signalled), stderr piped."""
    return subprocess.Popen(args, env=env if env is not None else child_env(), start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, **kw)


def kill(proc: subprocess.Popen) -> None:
    """SIGKILL ``proc``'s whole process group (it and its workers), then reap it."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait()


@contextlib.contextmanager
def running(args: list[str], env: dict | None = None) -> Iterator[subprocess.Popen]:
    """:func:`start` ``args`` for the body; whatever is left of its process group is killed afterwards."""
    proc = start(args, env)
    try:
        yield proc
    finally:
        kill(proc)


def interrupt(proc: subprocess.Popen, timeout: float) -> tuple[int, float]:
    """Ctrl-C as a terminal sends it (SIGINT to the process group); returns the exit status and the seconds
    ``proc`` took to end (``subprocess.TimeoutExpired`` if it did not end within ``timeout``)."""
    os.killpg(proc.pid, signal.SIGINT)
    t0 = time.monotonic()
    rc = proc.wait(timeout=timeout)
    return rc, time.monotonic() - t0


def wait_until(proc: subprocess.Popen, condition: Callable[[], bool], timeout: float, what: str,
               poll: float = 0.005) -> None:
    """Wait until ``condition()``; fail if ``proc`` ends first (showing its stderr) or after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert proc.poll() is None, proc.stderr.read().decode(errors="replace")[-2000:]
        assert time.monotonic() < deadline, f"no {what} in {timeout} s"
        time.sleep(poll)


def session(sid: int) -> list[int]:
    """PIDs of the live (not zombie) processes of session ``sid`` (Linux /proc)."""
    out = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                if os.getsid(int(d.name)) == sid and (d / "stat").read_text().split(") ")[-1][0] != "Z":
                    out.append(int(d.name))
            except (OSError, IndexError):
                pass
    return out


def python(code: str, *args: str) -> list[str]:
    """Command line running ``code`` in this interpreter with ``args``."""
    return [sys.executable, "-c", code, *args]
