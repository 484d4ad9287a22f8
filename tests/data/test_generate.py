"""Dataset generation (topoml.data.generate, topoml.cli.generate): configs, determinism, resume, errors."""

from __future__ import annotations

import argparse
import json
import subprocess
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from _proc import child_env, interrupt, python, running, wait_until

from topoml.data import generate as gen
from topoml.data.generate import GenerateConfig, generate_dataset, load_config, packaged_config
from topoml.data.store import MANIFEST_NAME, FIELDS, open_dataset, read_shard, shard_filename
from topoml.errors import ConfigError, DatasetError, InputError
from topoml.invariants.bott import bott_index


def _cfg(n=300, shard=100, size=4, seed=11, averages="boundary_biased", **kw) -> dict:
    return {"name": "test", "seed": seed, "n_samples": n, "shard_size": shard,
            "sampling": {"lattice_size": size, "averages": averages}, **kw}


def _arrays(path) -> dict:
    with open_dataset(path) as ds:
        return {name: np.asarray(getattr(ds, name)) for name in FIELDS}


def _assert_same_dataset(a, b) -> None:
    ma = json.loads((Path(a) / MANIFEST_NAME).read_text())
    mb = json.loads((Path(b) / MANIFEST_NAME).read_text())
    assert ma["content_sha256"] == mb["content_sha256"]
    assert [s["content_sha256"] for s in ma["shards"]] == [s["content_sha256"] for s in mb["shards"]]
    xa, xb = _arrays(a), _arrays(b)
    for name in FIELDS:
        np.testing.assert_array_equal(xa[name], xb[name], err_msg=name)


def _snapshot(folder) -> dict:
    return {p.name: (p.stat().st_ino, p.stat().st_mtime_ns) for p in Path(folder).glob("shard-*.h5")}


# ------------------------------------------------------------------------------------------ config


def _write(tmp_path, text: str) -> Path:
    p = tmp_path / "cfg.toml"
    p.write_text(textwrap.dedent(text))
    return p


GOOD = """
    name = "t"
    seed = 1
    n_samples = 10
    shard_size = 5
    [sampling]
    lattice_size = 4
    [sampling.disorder]
    mu = 0.3
    [run]
    workers = 1
"""


def test_load_config_toml(tmp_path):
    cfg = load_config(_write(tmp_path, GOOD))
    assert cfg.n_shards == 2 and cfg.shard_sizes() == [5, 5] and cfg.run.workers == 1
    assert cfg.sampling.disorder.mu == 0.3
    assert "run" not in cfg.definition()
    assert GenerateConfig.from_dict({**_cfg(n=7, shard=3)}).shard_sizes() == [3, 3, 1]


@pytest.mark.parametrize(
    "old, new, key",
    [
        ("n_samples = 10", "n_sample = 10", "n_sample"),
        ("lattice_size = 4", "lattice_size = 4\nalpah = 0.1", "sampling.alpah"),
        ("mu = 0.3", "mu = 0.3\nsigma = 1", "sampling.disorder.sigma"),
        ("workers = 1", "worker = 1", "run.worker"),
    ],
)
def test_unknown_key_named(tmp_path, old, new, key):
    p = _write(tmp_path, GOOD.replace(old, new))
    with pytest.raises(ConfigError, match=f"unknown config key '{key}'") as e:
        load_config(p)
    assert "cfg.toml" in str(e.value) and "\n" not in str(e.value)


@pytest.mark.parametrize(
    "old, new, fragment",
    [
        ("mu = 0.3", "mu = -0.3", "sampling.disorder.mu"),
        ("n_samples = 10", "n_samples = 0", "n_samples"),
        ("lattice_size = 4", "lattice_size = 4\nmu_range = [1.0, -1.0]", "mu_range"),
        ("seed = 1", "seed = -1", "seed"),
        ("workers = 1", "workers = 0", "run.workers"),
        ("seed = 1", "seed = 1\nseed = 2", "invalid TOML"),
        ("seed = 1", "", "missing required config key 'seed'"),
    ],
)
def test_invalid_config_values(tmp_path, old, new, fragment):
    with pytest.raises(ConfigError, match=fragment):
        load_config(_write(tmp_path, GOOD.replace(old, new)))


def test_missing_config_and_packaged_configs(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "nope.toml")
    for name in ("margalit2022_data_quick", "margalit2022_data_example"):
        assert packaged_config(name) is not None
        cfg = load_config(name)
        assert cfg.sampling.lattice_size == 4 and cfg.run.out_dir
    assert load_config("margalit2022_data_example").sampling.averages == "boundary_biased"
    assert load_config("margalit2022_data_quick").sampling.averages == "uniform"


def test_example_config_focus_block_is_valid(tmp_path):
    text = packaged_config("margalit2022_data_example").read_text()
    for line in ("# [focus]", "# margin = 1.0", "# keep_others = 0.33"):
        assert line in text
        text = text.replace(line, line[2:])
    cfg = load_config(_write(tmp_path, text))
    assert cfg.focus is not None and cfg.focus.margin == 1.0 and cfg.focus.keep_others == 0.33


def test_bad_run_options(tmp_path):
    with pytest.raises(ConfigError, match="engine"):
        generate_dataset(_cfg(), tmp_path / "a", engine="spark")
    with pytest.raises(ConfigError, match="engine"):
        generate_dataset({**_cfg(), "run": {"engine": "spark"}}, tmp_path / "a")
    with pytest.raises(ConfigError, match="workers"):
        generate_dataset(_cfg(), tmp_path / "a", workers=0)
    with pytest.raises(ConfigError, match="output folder"):
        generate_dataset(_cfg(), None)
    with pytest.raises(ConfigError, match="dask"):
        generate_dataset(_cfg(), tmp_path / "a", scheduler_address="tcp://127.0.0.1:1")
    assert not (tmp_path / "a").exists()


# ------------------------------------------------------------------------------------------ generation


def test_generate_small_inline(tmp_path, capsys):
    summary = generate_dataset(_cfg(n=100, shard=40), tmp_path / "ds", engine="serial", progress=True)
    err = capsys.readouterr().err
    assert "samples/s" in err  # tqdm progress bar with the rate
    assert isinstance(summary, dict)
    assert summary["n_samples"] == 100 and summary["n_shards"] == 3 and summary["shards_computed"] == 3
    assert summary["shards_reused"] == 0 and summary["samples_computed"] == 100
    assert sum(summary["label_counts"].values()) == 100
    assert set(summary["gap"]) == {"min", "p01", "p05", "median", "mean", "max"}
    text = str(summary)
    assert "label" in text and "gap" in text and "samples/s" in text
    ds = open_dataset(tmp_path / "ds", verify=True)
    assert len(ds) == 100 and [len(range(*ds.offsets[i:i + 2])) for i in range(3)] == [40, 40, 20]
    x = np.asarray(ds.inputs)
    # labels belong to the stored (float32) inputs exactly
    ref = bott_index(x.astype(np.float64))
    np.testing.assert_array_equal(np.asarray(ds.labels), ref.label)
    np.testing.assert_allclose(np.asarray(ds.raw_bott), ref.raw, rtol=0, atol=1e-9)
    np.testing.assert_allclose(np.asarray(ds.gaps), ref.gap, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(x.mean(axis=(1, 2)), np.asarray(ds.averages), atol=1e-5)
    m = ds.manifest
    assert m["complete"] and m["seed"] == 11 and m["config"]["sampling"]["lattice_size"] == 4
    assert m["summary"]["label_counts"] and m["environment"]["versions"]["numpy"]
    assert {int(k): v for k, v in m["summary"]["label_counts"].items()} == summary["label_counts"]
    # shard k is drawn from SeedSequence(seed).spawn(n_shards)[k]
    from topoml.data.sampling import SamplingSpec, sample_lattices

    ss = np.random.SeedSequence(11).spawn(3)[1]
    want = sample_lattices(40, SamplingSpec(lattice_size=4), np.random.default_rng(ss)).astype(np.float32)
    np.testing.assert_array_equal(x[40:80], want)


def test_shard_inputs_are_the_stored_lattices(tmp_path):
    cfg = _cfg(n=70, shard=30, seed=3, averages="uniform")
    generate_dataset(cfg, tmp_path / "ds", engine="serial", progress=False)
    with open_dataset(tmp_path / "ds") as ds:
        stored, averages = np.asarray(ds.inputs), np.asarray(ds.averages)
    parts = [gen.shard_inputs(cfg, k) for k in range(3)]
    assert [len(p[0]) for p in parts] == [30, 30, 10] and all(p[0].dtype == np.float32 for p in parts)
    np.testing.assert_array_equal(np.concatenate([p[0] for p in parts]), stored)
    np.testing.assert_array_equal(np.concatenate([p[1] for p in parts]), averages)
    for bad in (3, -1, 1.0, True):
        with pytest.raises(InputError, match="shard index"):
            gen.shard_inputs(cfg, bad)


FOCUS = {"margin": 1.0, "keep_others": 0.3}


def test_focused_dataset_keeps_the_lattices_next_to_a_jump(tmp_path):
    """``focus``: every stored lattice is a draw of the shard's generator, labelled exactly, and the near-cut
    lattices are enriched (a quarter of boundary-biased 4×4 draws lie within 1 rad of the cut; with
    keep_others = 0.3 about half of the kept ones do)."""
    from topoml.data.sampling import SamplingSpec, sample_lattices
    from topoml.invariants.bott import bott_spectrum

    cfg = _cfg(n=1200, shard=600, seed=21, focus=FOCUS)
    summary = generate_dataset(cfg, tmp_path / "ds", engine="serial", progress=False)
    assert summary["n_samples"] == 1200
    with open_dataset(tmp_path / "ds", verify=True) as ds:
        x, labels = np.asarray(ds.inputs), np.asarray(ds.labels)
        raw, gaps, averages = np.asarray(ds.raw_bott), np.asarray(ds.gaps), np.asarray(ds.averages)
        manifest = ds.manifest
    assert manifest["config"]["focus"] == FOCUS
    ref = bott_index(x.astype(np.float64), on_gapless="flag")
    np.testing.assert_array_equal(labels, ref.label)
    np.testing.assert_allclose(raw, ref.raw, rtol=0, atol=1e-9)
    np.testing.assert_allclose(gaps, ref.gap, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(x.mean(axis=(1, 2)), averages, atol=1e-5)
    near = bott_spectrum(x.astype(np.float64)).margin < 1.0
    assert 0.38 < near.mean() < 0.62
    # the same draws unfocused: far fewer near the cut
    ss = np.random.SeedSequence(21).spawn(2)[0]
    plain = sample_lattices(600, SamplingSpec(lattice_size=4), np.random.default_rng(ss)).astype(np.float32)
    plain = plain.astype(np.float64)
    assert (bott_spectrum(plain).margin < 1.0).mean() < near.mean() - 0.1
    # the shard's first kept lattices are, in order, draws of its first round: a subsequence of `plain`
    first = x[:50].astype(np.float64)
    idx = [int(np.flatnonzero((plain == xi).all(axis=(1, 2, 3)))[0]) for xi in first]
    assert idx == sorted(idx)
    attrs = gen.store.read_shard_info(tmp_path / "ds" / shard_filename(0, 2))[1]
    assert attrs["lattices_drawn"] > 600
    # shard_inputs labels to select, and agrees with the stored lattices
    np.testing.assert_array_equal(gen.shard_inputs(cfg, 1)[0], x[600:])


def test_focused_dataset_is_the_same_for_any_workers_and_has_its_own_identity(tmp_path):
    cfg = _cfg(n=120, shard=40, seed=22, focus=FOCUS)
    s1 = generate_dataset(cfg, tmp_path / "w1", engine="serial", progress=False)
    s2 = generate_dataset(cfg, tmp_path / "w2", workers=2, progress=False)
    _assert_same_dataset(tmp_path / "w1", tmp_path / "w2")
    assert s1["content_sha256"] == s2["content_sha256"]
    base = GenerateConfig.model_validate(_cfg(n=120, shard=40, seed=22))
    assert "focus" not in base.definition()  # unfocused datasets keep their identity
    assert GenerateConfig.model_validate(cfg).definition_sha256() != base.definition_sha256()
    # keep_others = 1 keeps every draw: the unfocused dataset
    generate_dataset({**cfg, "focus": {"keep_others": 1.0}}, tmp_path / "all", engine="serial", progress=False)
    generate_dataset(_cfg(n=120, shard=40, seed=22), tmp_path / "plain", engine="serial", progress=False)
    np.testing.assert_array_equal(_arrays(tmp_path / "all")["inputs"], _arrays(tmp_path / "plain")["inputs"])
    np.testing.assert_array_equal(_arrays(tmp_path / "all")["labels"], _arrays(tmp_path / "plain")["labels"])


@pytest.mark.parametrize("focus, fragment", [
    ({"keep_others": 0.0}, "focus.keep_others"),
    ({"keep_others": 1.5}, "focus.keep_others"),
    ({"margin": 0.0, "keep_others": 0.5}, "focus.margin"),
    ({"margin": 4.0, "keep_others": 0.5}, "focus.margin"),
    ({"margin": 1.0}, "focus.keep_others"),
    ({"keep_others": 0.5, "width": 1}, "focus.width"),
])
def test_bad_focus_is_a_config_error(tmp_path, focus, fragment):
    with pytest.raises(ConfigError, match=fragment):
        generate_dataset(_cfg(focus=focus), tmp_path / "a")
    assert not (tmp_path / "a").exists()


def test_focus_needs_bott_labels():
    with pytest.raises(ConfigError, match="label_method"):
        GenerateConfig.from_dict(_cfg(focus=FOCUS, label_method="localizer"))


def test_same_seed_same_dataset_for_any_workers(tmp_path):
    cfg = _cfg(n=120, shard=30, seed=5, averages="uniform")
    s1 = generate_dataset(cfg, tmp_path / "w1", engine="serial", progress=False)
    s2 = generate_dataset(cfg, tmp_path / "w2", workers=2, progress=False)
    assert s1["workers"] == 1 and s2["workers"] == 2 and s2["engine"] == "process"
    _assert_same_dataset(tmp_path / "w1", tmp_path / "w2")
    assert s1["content_sha256"] == s2["content_sha256"]
    s3 = generate_dataset({**cfg, "seed": 6}, tmp_path / "w3", engine="serial", progress=False)
    assert s3["content_sha256"] != s1["content_sha256"]


def test_dask_engine_same_dataset(tmp_path):
    pytest.importorskip("distributed")
    cfg = _cfg(n=120, shard=30, seed=9)
    generate_dataset(cfg, tmp_path / "ref", engine="serial", progress=False)
    s = generate_dataset(cfg, tmp_path / "dask", workers=2, engine="dask", progress=False)
    assert s["engine"] == "dask" and s["shards_computed"] == 4
    _assert_same_dataset(tmp_path / "ref", tmp_path / "dask")


@pytest.mark.slow
def test_dask_scheduler_address(tmp_path):
    distributed = pytest.importorskip("distributed")
    cfg = _cfg(n=120, shard=40, seed=9)
    generate_dataset(cfg, tmp_path / "ref", engine="serial", progress=False)
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, dashboard_address=None) as cluster:
        generate_dataset(cfg, tmp_path / "dask", scheduler_address=cluster.scheduler_address, engine="dask",
                         progress=False)
    _assert_same_dataset(tmp_path / "ref", tmp_path / "dask")


# ------------------------------------------------------------------------------------------ resume


def test_rerun_of_complete_dataset_computes_nothing(tmp_path):
    cfg = _cfg(n=60, shard=30)
    first = generate_dataset(cfg, tmp_path / "ds", engine="serial", progress=False)
    snap = _snapshot(tmp_path / "ds")
    again = generate_dataset(cfg, tmp_path / "ds", engine="serial", progress=False)
    assert again["shards_computed"] == 0 and again["shards_reused"] == 2 and again["samples_computed"] == 0
    assert _snapshot(tmp_path / "ds") == snap
    assert again["content_sha256"] == first["content_sha256"]


def test_resume_repairs_missing_truncated_and_stale_files(tmp_path):
    cfg = _cfg(n=80, shard=20)
    first = generate_dataset(cfg, tmp_path / "ds", engine="serial", progress=False)
    d = tmp_path / "ds"
    ref = _arrays(d)
    (d / shard_filename(1, 4)).unlink()
    data = (d / shard_filename(2, 4)).read_bytes()
    (d / shard_filename(2, 4)).write_bytes(data[: len(data) // 3])
    (d / f".{shard_filename(3, 4)}.999.abcd.tmp").write_bytes(b"partial")
    keep = {k: v for k, v in _snapshot(d).items() if k in (shard_filename(0, 4), shard_filename(3, 4))}
    s = generate_dataset(cfg, d, engine="serial", progress=False)
    assert s["shards_computed"] == 2 and s["shards_reused"] == 2
    assert {k: v for k, v in _snapshot(d).items() if k in keep} == keep
    assert not list(d.glob(".*.tmp"))
    assert s["content_sha256"] == first["content_sha256"]
    for name, arr in _arrays(d).items():
        np.testing.assert_array_equal(arr, ref[name])


def test_failure_keeps_finished_shards(tmp_path, monkeypatch):
    cfg = _cfg(n=60, shard=20)
    real = gen._label
    calls = []

    def flaky(x, report):
        calls.append(len(x))
        if len(calls) == 2:
            raise InputError("label function failed")
        return real(x, report)

    monkeypatch.setattr(gen, "_label", flaky)
    with pytest.raises(InputError):
        generate_dataset(cfg, tmp_path / "ds", engine="serial", progress=False)
    assert [p.name for p in sorted((tmp_path / "ds").glob("shard-*.h5"))] == [shard_filename(0, 3)]
    with pytest.raises(DatasetError, match="incomplete"):
        open_dataset(tmp_path / "ds")
    monkeypatch.setattr(gen, "_label", real)
    s = generate_dataset(cfg, tmp_path / "ds", engine="serial", progress=False)
    assert s["shards_reused"] == 1 and s["shards_computed"] == 2
    generate_dataset(cfg, tmp_path / "ref", engine="serial", progress=False)
    _assert_same_dataset(tmp_path / "ref", tmp_path / "ds")


# The child behaves like a terminal's foreground process: Python's Ctrl-C handler installed, even when
# the tests themselves run in a background job (where the shell sets SIGINT to "ignore", inherited).
_CHILD = """
import signal, sys
signal.signal(signal.SIGINT, signal.default_int_handler)
from topoml.data.generate import generate_dataset
generate_dataset(eval(sys.argv[1]), sys.argv[2], workers=2, progress=False)
"""


def test_sigkill_mid_run_then_resume(tmp_path):
    """A REAL kill: SIGKILL the generator (and its workers) mid-run, rerun, compare with a clean run."""
    cfg = _cfg(n=3000, shard=30, seed=3, averages="uniform")
    out = tmp_path / "killed"
    with running(python(_CHILD, repr(cfg), str(out))) as proc:  # killed at the end: it and its pool workers
        wait_until(proc, lambda: len(list(out.glob("shard-*.h5"))) >= 2, 60, "shards from the generator")
    finished = sorted(p.name for p in out.glob("shard-*.h5"))
    assert 2 <= len(finished) < 100, "the run must be interrupted mid-way"
    for name in finished:  # every visible shard is complete and intact
        read_shard(out / name)
    assert not json.loads((out / MANIFEST_NAME).read_text())["complete"]
    with pytest.raises(DatasetError, match="incomplete"):
        open_dataset(out)
    snap = _snapshot(out)

    s = generate_dataset(cfg, out, workers=2, progress=False)
    assert s["shards_reused"] == len(finished) and s["shards_computed"] == 100 - len(finished)
    assert {k: v for k, v in _snapshot(out).items() if k in snap} == snap  # finished shards untouched
    assert not list(out.glob(".*.tmp"))
    generate_dataset(cfg, tmp_path / "clean", workers=2, progress=False)
    _assert_same_dataset(tmp_path / "clean", out)


def test_ctrl_c_stops_promptly_keeping_finished_shards(tmp_path):
    """SIGINT to the process group (a terminal's Ctrl-C): the run stops promptly, finished shards stay."""
    cfg = _cfg(n=30000, shard=30, seed=4, averages="uniform")  # far more than can finish before the signal
    out = tmp_path / "interrupted"
    with running(python(_CHILD, repr(cfg), str(out))) as proc:
        wait_until(proc, lambda: bool(list(out.glob("shard-*.h5"))), 60, "shards from the generator")
        rc, seconds = interrupt(proc, 30)
    assert seconds < 10
    assert rc != 0 and b"KeyboardInterrupt" in proc.stderr.read()
    done = sorted(out.glob("shard-*.h5"))
    assert 1 <= len(done) < 40
    for path in done:  # what is visible is complete (resuming is tested with SIGKILL above)
        read_shard(path)
    with pytest.raises(DatasetError, match="incomplete"):
        open_dataset(out)


@pytest.mark.parametrize("delay", [0.0, 0.3, 0.8])
def test_ctrl_c_during_pool_start_up_exits(tmp_path, delay):
    """SIGINT to the process group while the workers are still starting (importing) must not hang.

    Regression: Ctrl-C raised inside ``concurrent.futures.wait`` could leave futures' locks held (the
    pool's manager thread then blocked for ever), and workers killed while importing broke the pool.
    The signal is sent ``delay`` seconds after the manifest appears, i.e. just before the pool starts.
    """
    cfg = _cfg(n=30000, shard=30, seed=5, averages="uniform")
    out = tmp_path / "early"
    with running(python(_CHILD, repr(cfg), str(out))) as proc:
        wait_until(proc, (out / MANIFEST_NAME).exists, 60, "manifest from the generator", poll=0.002)
        time.sleep(delay)
        rc, _ = interrupt(proc, 30)
    err = proc.stderr.read().decode(errors="replace")
    assert rc != 0 and "KeyboardInterrupt" in err
    assert "BrokenProcessPool" not in err and "Traceback" in err
    # one report, the generator's (no worker died of it). A Ctrl-C that lands inside the import machinery while the
    # pool starts is shown chained to the exception being handled there ("During handling of the above
    # exception ..."): one exception of the one process, so its chained tracebacks count once.
    chained = err.count("During handling of the above exception") + err.count("The above exception was the direct cause")
    assert err.count("Traceback") - chained == 1, err[-3000:]
    for path in sorted(out.glob("shard-*.h5")):
        read_shard(path)


# ------------------------------------------------------------------------------------------ bad input


def test_unwritable_output_folder_fails_before_any_work(tmp_path, monkeypatch):
    def forbidden(*a, **k):
        raise AssertionError("work started")

    monkeypatch.setattr(gen, "_generate_shard", forbidden)
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(DatasetError, match="not writable") as e:
        generate_dataset(_cfg(), blocker / "out", engine="serial", progress=False)
    assert "\n" not in str(e.value)


def test_folder_with_another_dataset_is_refused(tmp_path):
    generate_dataset(_cfg(n=20, shard=20, seed=1), tmp_path / "ds", engine="serial", progress=False)
    snap = _snapshot(tmp_path / "ds")
    with pytest.raises(DatasetError, match="different dataset"):
        generate_dataset(_cfg(n=20, shard=20, seed=2), tmp_path / "ds", engine="serial", progress=False)
    assert _snapshot(tmp_path / "ds") == snap
    (tmp_path / "ds" / MANIFEST_NAME).write_text("{garbage")
    with pytest.raises(DatasetError, match="corrupt"):
        generate_dataset(_cfg(n=20, shard=20, seed=1), tmp_path / "ds", engine="serial", progress=False)


# ------------------------------------------------------------------------------------------ CLI


def _parser() -> argparse.ArgumentParser:
    from topoml.cli import generate as cli_generate

    parser = argparse.ArgumentParser(prog="topoml")
    cli_generate.add_parser(parser.add_subparsers(dest="command", required=True))
    return parser


def test_cli_generate(tmp_path, capsys):
    cfg = _write(tmp_path, GOOD)
    args = _parser().parse_args(["generate", str(cfg), "--out", str(tmp_path / "o"), "--engine", "serial",
                                 "--no-progress"])
    assert args.func(args) == 0
    out = capsys.readouterr()
    assert "label" in out.out and out.err == ""
    assert len(open_dataset(tmp_path / "o")) == 10


def test_cli_errors(tmp_path):
    with pytest.raises(SystemExit):
        _parser().parse_args(["generate", "x.toml", "--workers", "0"])
    with pytest.raises(SystemExit):
        _parser().parse_args(["generate", "x.toml", "--engine", "spark"])
    args = _parser().parse_args(["generate", str(_write(tmp_path, GOOD.replace("seed = 1", "sed = 1")))])
    with pytest.raises(ConfigError, match="unknown config key 'sed'"):
        args.func(args)
    args = _parser().parse_args(["generate", "margalit2022_data_quick", "--scheduler", "tcp://x:1", "--out",
                                 str(tmp_path / "file" / "x")])
    (tmp_path / "file").write_text("")
    with pytest.raises(DatasetError, match="not writable"):  # --scheduler implies the dask engine
        args.func(args)


# ------------------------------------------------------------------------------------------ layering


def test_storage_sampling_generation_do_not_import_torch():
    code = (
        "import sys\n"
        "import topoml.data.sampling, topoml.data.store, topoml.data.generate, topoml.cli.generate\n"
        "import topoml.invariants.bott\n"
        "assert 'torch' not in sys.modules, 'torch was imported'\n"
        "print('ok')\n"
    )
    res = subprocess.run(python(code), capture_output=True, text=True, env=child_env(), timeout=120)
    assert res.returncode == 0 and res.stdout.strip() == "ok", res.stderr
