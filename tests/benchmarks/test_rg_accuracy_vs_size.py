"""benchmarks/rg_accuracy_vs_size.py (issue 13 item 5): the study on 2 sizes × 4 lattices — its numbers
match the stored labels and predictions, a rerun resumes, another network re-scores without relabelling,
more sizes or label methods only add jobs, and the results do not depend on workers.

The study runs as users run it, in a child process."""

from __future__ import annotations

import importlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from _proc import child_env

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"
SCRIPT = BENCHMARKS / "rg_accuracy_vs_size.py"
ARGS = ["--sizes", "16", "8", "--n", "4", "--chunk", "3", "--seed", "5", "--kpm-min", "16", "--no-progress"]
JOBS = sorted([f"N0008-c000{k}-{m}" for k in (0, 1) for m in ("bott", "localizer")]
              + [f"N0016-c000{k}-{m}" for k in (0, 1) for m in ("bott", "localizer", "kpm")])


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
    assert "N = 8 (4 of 4 label jobs computed)" in stdout and "N = 16 (6 of 6 label jobs computed)" in stdout
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
    from topoml.evaluate.predict import load_chern_model, predict_chern
    from topoml.invariants import kpm_chern_number
    from topoml.invariants.localizer import localizer_chern_number
    from topoml.rng import derive_seed

    metrics = json.loads((first_run / "metrics.json").read_text())
    config = json.loads((first_run / "config.json").read_text())
    assert config == {"study": "rg_accuracy_vs_size", "n": 4, "chunk": 3, "seed": 5}
    assert metrics["network"]["path"] == "packaged"
    jobs = _jobs(first_run)
    assert sorted(jobs) == JOBS and [len(jobs[j]["chern"]) for j in JOBS if "c0000" in j] == [3] * 5
    report = (first_run / "report.md").read_text()
    assert (first_run / "figures" / "accuracy_vs_size.png").stat().st_size > 0
    net = load_chern_model()[0]
    for N in (8, 16):
        lab = {m: np.concatenate([jobs[f"N{N:04d}-c{k:04d}-{m}"]["chern"] for k in (0, 1)])
               for m in ("bott", "localizer", "kpm") if f"N{N:04d}-c0000-{m}" in jobs}
        assert sorted(lab) == (["bott", "kpm", "localizer"] if N == 16 else ["bott", "localizer"])
        row = metrics["sizes"][str(N)]
        # the lattices and Bott labels are those of the margalit2022 test-set generator with this definition
        ds = generate_dataset(study.dataset(config, N), first_run.parent / f"ds{N}", engine="serial", progress=False)
        assert ds["n_samples"] == 4 and ds["n_shards"] == 2 and ds["lattice_size"] == N
        with open_dataset(first_run.parent / f"ds{N}") as d:
            x, labels = np.asarray(d.inputs), np.asarray(d.labels)
        np.testing.assert_array_equal(lab["bott"], labels)
        assert localizer_chern_number(x[0].astype(np.float64)).chern == lab["localizer"][0]
        if N == 16:  # KPM with the job's seed: lattice 0 of chunk 1 is the first child of its SeedSequence
            seed = np.random.SeedSequence(derive_seed(5, "rg-vs-size-kpm", 16, 1)).spawn(1)[0]
            assert kpm_chern_number(x[3].astype(np.float64), rng=seed).chern == lab["kpm"][3]
        # the network's answers are recomputed in the report (never stored in a job)
        pred = np.asarray(row["network"]["chern"])
        np.testing.assert_array_equal(pred, predict_chern(net, x)[0])
        for name, y in lab.items():
            r = row["labels"][name]
            assert r["network"]["value"] == accuracy(pred, y) and r["network"]["n"] == 4
            assert r["always_zero"]["value"] == np.mean(y == 0)
            assert r["histogram"] == {str(v): int(np.sum(y == v)) for v in np.unique(y)}
            lo, hi = r["network"]["ci95"]
            assert 0 <= lo <= r["network"]["value"] <= hi <= 1
        assert row["agreement"]["bott=localizer"]["value"] == np.mean(lab["localizer"] == lab["bott"])
        assert ("localizer=kpm" in row["agreement"]) == (N == 16) and row["reference"] == "bott"
        assert row["confidence_mean"] == pytest.approx(np.mean(row["network"]["confidence"]), abs=1e-12)
        assert f"| {N} | 4 | Bott | {100 * accuracy(pred, lab['bott']):.1f} % [" in report
    assert json.loads((first_run / "summary.json").read_text())["accuracy"]["8"]["network_vs_localizer"] == \
        metrics["sizes"]["8"]["labels"]["localizer"]["network"]["value"]


def test_rerun_resumes_without_recomputing(first_run):
    before, stamps = _jobs(first_run), _stamps(first_run)
    # a job lost to a kill is the only one recomputed, with the same numbers; the others are reused
    (first_run / "jobs" / "N0016-c0001-localizer" / "result.json").unlink()
    stdout = _study(first_run)
    assert "N = 8 (0 of 4 label jobs computed)" in stdout and "N = 16 (1 of 6 label jobs computed)" in stdout
    after = _stamps(first_run)
    del stamps["N0016-c0001-localizer"]
    assert after.pop("N0016-c0001-localizer") and after == stamps  # the reused result files were not rewritten
    assert _without_seconds(_jobs(first_run)) == _without_seconds(before)


def test_other_weights_rescore_and_new_sizes_or_methods_only_add_jobs(first_run, tmp_path):
    from topoml.evaluate.predict import packaged_weights

    out = tmp_path / "copy"
    shutil.copytree(first_run, out)
    stamps = _stamps(out)
    weights = tmp_path / "same_network.safetensors"
    weights.write_bytes(packaged_weights().read_bytes())
    # another network: every size re-scored, no label recomputed; a new size and KPM at N = 8 add jobs
    stdout = _study(out, "--weights", str(weights))
    assert "N = 8 (0 of 4 label jobs computed)" in stdout and "N = 16 (0 of 6 label jobs computed)" in stdout
    assert _stamps(out) == stamps
    assert json.loads((out / "metrics.json").read_text())["network"]["path"] == str(weights.resolve())
    p = subprocess.run([sys.executable, str(SCRIPT), "--sizes", "8", "16", "32", "--n", "4", "--chunk", "3",
                        "--seed", "5", "--kpm-min", "8", "--bott-max", "16", "--no-progress", "--out", str(out)],
                       env=child_env(), capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    assert "N = 8 (2 of 6 label jobs computed)" in p.stdout and "N = 32 (4 of 4 label jobs computed)" in p.stdout
    new = set(_stamps(out)) - set(stamps)
    assert new == {"N0008-c0000-kpm", "N0008-c0001-kpm", "N0032-c0000-localizer", "N0032-c0001-localizer",
                   "N0032-c0000-kpm", "N0032-c0001-kpm"}
    assert all(_stamps(out)[k] == v for k, v in stamps.items())


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
        (["--kpm-min", "-1"], "--kpm-min"),
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
