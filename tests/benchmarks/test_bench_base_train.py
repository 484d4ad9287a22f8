"""benchmarks/bench_base_train.py (issue 10): one interleaved round of every network runs and prints its table."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from _proc import child_env

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_base_train.py"


def test_one_round_prints_every_network_against_the_paper():
    p = subprocess.run([sys.executable, str(SCRIPT), "--threads", "1", "--batch", "8", "--steps", "1"],
                       env=child_env(), capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    rows = [line for line in p.stdout.splitlines() if line.startswith("| ") and "samples/s" not in line]
    assert len(rows) == 13
    # the default base network since session 23 (3 blocks, bfloat16, energies) beside the one of sessions 14-22
    assert any("w64 x 3 blocks" in r and "bfloat16" in r and "(default since session 23" in r and "| 242,245 |" in r
               for r in rows)
    assert any("w96 x 6 blocks" in r and "bfloat16" in r and "auxiliary targets (default, sessions 14-22)" in r
               for r in rows)
    # the ablation rows' width-64 network with 6 and with 3 residual blocks, auxiliary targets included (session 22)
    assert any("w64 x 3 blocks" in r and "shallow_equal_time" in r and "| 242,245 |" in r for r in rows)
    assert any("w64 x 6 blocks" in r and "(ablation row invariant)" in r and "| 463,813 |" in r for r in rows)
    assert any("(the paper's) | 4,728,065 |" in r and r.endswith("| 1.00x |") for r in rows)
    assert any("w96" in r and "bfloat16 (default, sessions 8-13)" in r for r in rows)
    assert any("w96" in r and "auxiliary targets" in r for r in rows)
    assert any("w192" in r and "shipped 4x4 base" in r and "| 4,044,101 |" in r for r in rows)
    assert "native bfloat16: " in p.stdout and 'precision = "auto" trains in ' in p.stdout


def test_float32_only_leaves_out_the_bfloat16_rows():
    p = subprocess.run([sys.executable, str(SCRIPT), "--threads", "1", "--batch", "8", "--steps", "1", "--float32-only"],
                       env=child_env(), capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    rows = [line for line in p.stdout.splitlines() if line.startswith("| ") and "samples/s" not in line]
    assert len(rows) == 9 and not any("bfloat16" in r for r in rows)
    assert any("(the paper's) | 4,728,065 |" in r and r.endswith("| 1.00x |") for r in rows)
