"""scripts/pilot_base_rows.py (session 23, issue 10): base-network rows of a profile trained by the ablation stage and
scored on held-out sets; resumed without retraining; bad arguments give one line and exit 2. Quick profile."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from _proc import child_env

pytest.importorskip("torch")

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "pilot_base_rows.py"
ROWS = {"inv": {"seed": 3}, "paper": {"base_net": {"kind": "paper", "width": 8, "depth": 3},
                                      "base": {"augment": False, "aux_targets": "none"}}}


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), *args, "--no-progress"], env=child_env(),
                          capture_output=True, text=True, timeout=600)


def test_rows_are_trained_scored_on_held_out_sets_and_resumed(tmp_path):
    out = tmp_path / "pilot"
    rows = tmp_path / "rows.json"
    rows.write_text(json.dumps(ROWS))
    p = _run(str(out), "--profile", "quick", "--rows", str(rows), "--score", "holdout4")
    assert p.returncode == 0, p.stderr[-3000:]
    summary = json.loads((out / "pilot.json").read_text())
    assert list(summary) == ["inv", "paper"]
    inv, paper = summary["inv"], summary["paper"]
    # the invariant row is scored plain and group-averaged, the paper's architecture plain only
    assert set(inv) >= {"test4", "test4_bb", "holdout4", "test4_group_averaged", "holdout4_group_averaged"}
    assert "holdout4_group_averaged" not in paper and "holdout4" in paper
    for r in summary.values():
        assert all(0.0 <= r[k] <= 1.0 for k in r if k.startswith(("test4", "holdout4")))
        assert r["samples_seen"] == 2 * 2_000 and r["train"] == ["train4"]
    assert inv["seed"] == 3 and paper["seed"] == 7  # the row's own seed, else the quick profile's
    # the test sets as the ablation stage scored its kept epoch
    job = json.loads((out / "jobs" / "ablation-inv" / "result.json").read_text())
    assert inv["test4"] == job["acc4"] and inv["test4_bb_group_averaged"] == job["acc4_bb_group_averaged"]
    assert "| inv | 4,000 | 3 |" in p.stdout
    # only the sets the rows need were labelled
    assert sorted(d.name for d in (out / "data").iterdir()) == ["holdout4", "test4", "test4_bb", "train4"]

    scores = out / "jobs" / "ablation-inv" / "scores.json"
    before = scores.stat().st_mtime_ns
    again = _run(str(out), "--profile", "quick", "--rows", str(rows), "--score", "holdout4")
    assert again.returncode == 0, again.stderr[-3000:]
    assert scores.stat().st_mtime_ns == before
    assert json.loads((out / "pilot.json").read_text()) == summary


@pytest.mark.parametrize("args, msg", [
    (["--rows", "{}"], "names no row"),
    (["--rows", "{not json"], "pilot_base_rows: "),
    (["--rows", '{"a": {"train": ["nope"]}}'], "unknown datasets ['nope']"),
    (["--rows", '{"a": {"seed": -1}}'], "pilot_base_rows: "),
    (["--rows", '{"a": {}}', "--score", "holdout4_bb"], "unknown datasets ['holdout4_bb']"),
])
def test_bad_arguments_give_one_line(tmp_path, args, msg):
    p = _run(str(tmp_path / "x"), "--profile", "quick", "--score", "holdout4", *args)  # a later --score wins
    assert p.returncode == 2
    assert msg in p.stderr and len(p.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "x").exists()
