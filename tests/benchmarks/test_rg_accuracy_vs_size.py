"""benchmarks/rg_accuracy_vs_size.py (issue 13 item 5): the study on 2 sizes × 4 lattices — its numbers
match the stored labels and predictions, a rerun resumes, and the results do not depend on workers.

The study runs as users run it, in a child process: a job's network outputs depend in their last bits
on the order in which the process loaded MKL and torch, which a child fixes and this test process does not."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from _proc import child_env

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"
SCRIPT = BENCHMARKS / "rg_accuracy_vs_size.py"
ARGS = ["--sizes", "16", "8", "--n", "4", "--chunk", "3", "--seed", "5", "--no-progress"]
JOBS = ["N0008-c0000", "N0008-c0001", "N0016-c0000", "N0016-c0001"]


def _study(out: Path, *extra: str) -> str:
    p = subprocess.run([sys.executable, str(SCRIPT), *ARGS, "--out", str(out), *extra], env=child_env(),
                       capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    return p.stdout


@pytest.fixture(scope="module")
def study():
    """The script as a module (for its functions and in-process error checks)."""
    mp = pytest.MonkeyPatch()
    mp.syspath_prepend(str(BENCHMARKS))
    yield importlib.import_module("rg_accuracy_vs_size")
    mp.undo()


@pytest.fixture(scope="module")
def first_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("study") / "w1"
    stdout = _study(out)
    assert "N = 8 (2 of 2 chunks computed)" in stdout and "N = 16 (2 of 2 chunks computed)" in stdout
    return out


def _jobs(out: Path) -> dict[str, dict]:
    return {p.parent.name: json.loads(p.read_text()) for p in sorted((out / "jobs").glob("*/result.json"))}


def _stamps(out: Path) -> dict[str, tuple[int, int]]:
    return {p.parent.name: (p.stat().st_ino, p.stat().st_mtime_ns) for p in (out / "jobs").glob("*/result.json")}


def _without_seconds(obj):
    if isinstance(obj, dict):
        return {k: _without_seconds(v) for k, v in obj.items() if k not in ("seconds", "seconds_per_lattice")}
    return obj


def test_numbers_match_the_stored_labels_and_predictions(study, first_run):
    from topoml.data.generate import generate_dataset
    from topoml.data.store import open_dataset
    from topoml.evaluate.metrics import accuracy
    from topoml.invariants.localizer import localizer_chern_number

    metrics = json.loads((first_run / "metrics.json").read_text())
    config = json.loads((first_run / "config.json").read_text())
    jobs = _jobs(first_run)
    assert sorted(jobs) == JOBS and [len(r["network"]["chern"]) for r in jobs.values()] == [3, 1, 3, 1]
    report = (first_run / "report.md").read_text()
    assert (first_run / "figures" / "accuracy_vs_size.png").stat().st_size > 0
    for N in (8, 16):
        parts = [jobs[f"N{N:04d}-c{k:04d}"] for k in (0, 1)]
        pred, loc, bott, conf = (np.concatenate([r[m][k] for r in parts]) for m, k in
                                 (("network", "chern"), ("localizer", "chern"), ("bott", "chern"),
                                  ("network", "confidence")))
        row = metrics["sizes"][str(N)]
        # the lattices and Bott labels are those of the margalit2022 test-set generator with this definition
        ds = generate_dataset(study.dataset(config, N), first_run.parent / f"ds{N}", engine="serial", progress=False)
        assert ds["n_samples"] == 4 and ds["n_shards"] == 2 and ds["lattice_size"] == N
        with open_dataset(first_run.parent / f"ds{N}") as d:
            x, labels = np.asarray(d.inputs), np.asarray(d.labels)
        np.testing.assert_array_equal(bott, labels)
        assert localizer_chern_number(x[0].astype(np.float64)).chern == loc[0]
        # every accuracy is recomputed from the stored arrays
        for name, y in (("localizer", loc), ("bott", bott)):
            lab = row["labels"][name]
            assert lab["network"]["value"] == accuracy(pred, y) and lab["network"]["n"] == 4
            assert lab["always_zero"]["value"] == np.mean(y == 0)
            assert lab["histogram"] == {str(v): int(np.sum(y == v)) for v in np.unique(y)}
            lo, hi = lab["network"]["ci95"]
            assert 0 <= lo <= lab["network"]["value"] <= hi <= 1
        assert row["agreement"]["value"] == np.mean(loc == bott) and row["reference"] == "bott"
        assert row["confidence_mean"] == pytest.approx(conf.mean(), abs=1e-12)
        assert f"| {N} | 4 | {100 * accuracy(pred, loc):.1f} % [" in report
    assert json.loads((first_run / "summary.json").read_text())["accuracy"]["8"]["network_vs_localizer"] == \
        metrics["sizes"]["8"]["labels"]["localizer"]["network"]["value"]


def test_rerun_resumes_without_recomputing(first_run):
    before, stamps = _jobs(first_run), _stamps(first_run)
    # a chunk lost to a kill is the only one recomputed, with the same numbers; the others are reused
    (first_run / "jobs" / "N0016-c0001" / "result.json").unlink()
    stdout = _study(first_run)
    assert "N = 8 (0 of 2 chunks computed)" in stdout and "N = 16 (1 of 2 chunks computed)" in stdout
    after = _stamps(first_run)
    del stamps["N0016-c0001"]
    assert after.pop("N0016-c0001") and after == stamps  # the reused result files were not rewritten
    assert _without_seconds(_jobs(first_run)) == _without_seconds(before)


def test_same_results_with_two_workers(first_run, tmp_path):
    out = tmp_path / "w2"
    _study(out, "--workers", "2", "--engine", "process")
    assert sorted(_jobs(out)) == JOBS
    assert _without_seconds(_jobs(out)) == _without_seconds(_jobs(first_run))
    a = json.loads((first_run / "metrics.json").read_text())
    b = json.loads((out / "metrics.json").read_text())
    assert _without_seconds(a) == _without_seconds(b)


def test_bad_options_are_one_line_errors(study, first_run, tmp_path, capsys):
    cases = [
        (["--sizes", "12"], "12"),
        (["--sizes", "8", "8"], "repeats"),
        (["--weights", str(tmp_path / "none.safetensors")], "not found"),
        (["--n", "0"], "--n"),
        (["--workers", "two"], "--workers"),
        (["--engine", "threads"], "--engine"),
    ]
    for extra, fragment in cases:
        try:
            code = study.main(["--out", str(tmp_path / "bad"), *extra])
        except SystemExit as e:  # argparse
            code = e.code
        err = capsys.readouterr().err.strip()
        assert code == 2 and len(err.splitlines()) == 1 and fragment in err, (extra, err)
    assert not (tmp_path / "bad" / "jobs").exists()
    # another configuration on a finished run's folder is refused
    assert study.main(["--sizes", "8", "--n", "4", "--chunk", "3", "--seed", "6", "--out", str(first_run)]) == 2
    assert "different config" in capsys.readouterr().err
