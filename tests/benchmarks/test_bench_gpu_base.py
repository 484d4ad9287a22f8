"""benchmarks/bench_gpu_base.py (issue 10, session 16): the variants of the training step run on the CPU and agree."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from _proc import child_env

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_gpu_base.py"


def test_variants_take_the_same_first_step(tmp_path):
    out = tmp_path / "b.json"
    p = subprocess.run([sys.executable, str(SCRIPT), "--device", "cpu", "--width", "8", "--blocks", "1", "--batch",
                        "16", "--steps", "2", "--warmup", "1", "--variants", "eager,channels_last,gemm", "--json",
                        str(out)], env=child_env(), capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    r = json.loads(out.read_text())
    rows = r["variants"]
    assert list(rows) == ["eager", "channels_last", "gemm"] and r["device"] == "cpu"
    for v in rows.values():  # the same weights, batches and symmetries: the same loss, to float32 rounding
        assert v["first_loss"] == pytest.approx(rows["eager"]["first_loss"], rel=1e-5)
        assert v["samples_per_s"] > 0 and v["ratio_to_eager"] > 0
    assert rows["eager"]["ratio_to_eager"] == 1.0 and "ratios to eager:" in p.stdout


@pytest.mark.parametrize("args,msg", [(["--variants", "eager,fast"], "--variants"), (["--steps", "0"], "--steps")])
def test_bad_options_are_one_line(args, msg):
    p = subprocess.run([sys.executable, str(SCRIPT), "--device", "cpu", *args],
                       env=child_env(), capture_output=True, text=True, timeout=300)
    assert p.returncode != 0 and msg in p.stderr and "Traceback" not in p.stderr
