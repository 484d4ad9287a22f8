"""benchmarks/bench_parallel_rows.py (issue 10, session 25): one round both ways prints the table; bad options exit 2."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from _proc import child_env

pytest.importorskip("torch")

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_parallel_rows.py"


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), *args], env=child_env(), capture_output=True, text=True,
                          timeout=300)


def test_one_round_prints_both_ways_and_their_ratio():
    p = _run("--batch", "8", "--steps", "1", "--rounds", "1")
    assert p.returncode == 0, p.stderr
    rows = [line for line in p.stdout.splitlines() if line.startswith("| ") and "samples/s" not in line]
    assert len(rows) == 2
    assert rows[0].startswith("| one process, 2 torch threads |") and rows[0].endswith("| 1.00x |")
    assert rows[1].startswith("| 2 processes, one torch thread each |") and rows[1].endswith("x |")


def test_bad_options_exit_2():
    p = _run("--processes", "0")
    assert p.returncode == 2 and "must be >= 1" in p.stderr
