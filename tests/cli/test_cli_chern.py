"""``topoml chern`` and ``topoml.invariants.chern_numbers`` (issue 13)."""

from __future__ import annotations

import json

import numpy as np
import pytest

pytest.importorskip("pypardiso")

from topoml.cli import main  # noqa: E402
from topoml.errors import ConfigError, InputError  # noqa: E402
from topoml.hamiltonians.pip import clean_lattice  # noqa: E402
from topoml.invariants import chern_numbers  # noqa: E402
from topoml.invariants.chern import clean_chern_number  # noqa: E402

POINTS = [(-1.0, 0.2), (1.0, 0.2), (0.0, 0.6), (-3.0, -0.5)]


@pytest.fixture(scope="module")
def lattices():
    return np.stack([clean_lattice(16, m, t, 0.15) for m, t in POINTS])


def test_api_methods_agree_on_clean_lattices(lattices):
    want = [clean_chern_number(m, t) for m, t in POINTS]
    for method in ("bott", "localizer"):
        r = chern_numbers(lattices, method=method)
        assert r.method == method and r.chern.tolist() == want
        assert r.certified.all() and (r.gap > 0).all() and r.chern.dtype == np.int64
    one = chern_numbers(lattices[0], method="bott")
    assert one.chern.shape == (1,) and one.chern[0] == 1


def test_api_results_independent_of_workers(lattices):
    a = chern_numbers(lattices, method="localizer", workers=1)
    b = chern_numbers(lattices, method="localizer", workers=2)
    np.testing.assert_array_equal(a.chern, b.chern)
    np.testing.assert_allclose(a.gap, b.gap, rtol=1e-3)


def test_api_bad_options(lattices):
    with pytest.raises(ConfigError, match="unknown method"):
        chern_numbers(lattices, method="kpm2")
    with pytest.raises(ConfigError, match="kappa"):
        chern_numbers(lattices, method="bott", kappa=0.1)
    with pytest.raises(InputError):
        chern_numbers(lattices, workers=0)
    with pytest.raises(InputError):
        chern_numbers(lattices, gap_tol=float("nan"))
    with pytest.raises(InputError):
        chern_numbers(lattices, kappa=-1.0)


def test_cli_text_and_json(tmp_path, lattices, capsys):
    f = tmp_path / "l.npy"
    np.save(f, lattices)
    assert main(["chern", str(f), "--no-progress"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert [int(line.split("\t")[1]) for line in lines] == [clean_chern_number(m, t) for m, t in POINTS]
    assert main(["chern", str(f), "--method", "bott", "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["method"] == "bott" and d["certified"] == 4 and d["results"][1]["chern_number"] == -1


@pytest.mark.parametrize(
    "args, message",
    [
        (["missing.npy"], "not found"),
        (["BAD", "--method", "bott", "--kappa", "0.1"], "--kappa applies"),
        (["BAD", "--weights", "w.safetensors"], "--weights applies"),
        (["BAD"], "square N×N lattice"),
        (["NAN"], "NaN"),
        (["GOOD", "--workers", "0"], "positive integer"),
        (["GOOD", "--method", "kpm2"], "invalid choice"),
    ],
)
def test_cli_one_line_errors(tmp_path, capsys, args, message):
    np.save(tmp_path / "bad.npy", np.zeros((2, 5, 4, 3)))
    nan = np.stack([clean_lattice(8, -1, 0.2, 0.15)])
    nan[0, 0, 0, 0] = np.nan
    np.save(tmp_path / "nan.npy", nan)
    np.save(tmp_path / "good.npy", clean_lattice(8, -1, 0.2, 0.15))
    names = {"BAD": "bad.npy", "NAN": "nan.npy", "GOOD": "good.npy"}
    argv = ["chern"] + [str(tmp_path / names[a]) if a in names else a for a in args]
    try:
        rc = main(argv)
    except SystemExit as e:  # argparse errors
        rc = e.code
    err = capsys.readouterr().err.strip()
    assert rc == 2 and message in err and len(err.splitlines()) == 1 and "Traceback" not in err


def test_generate_with_localizer_labels(tmp_path):
    from topoml.data.generate import GenerateConfig, generate_dataset
    from topoml.data.store import open_dataset
    from topoml.invariants.localizer import localizer_chern_number

    cfg = {"name": "loc", "seed": 3, "n_samples": 4, "shard_size": 4, "label_method": "localizer",
           "sampling": {"lattice_size": 16, "averages": "uniform"}}
    generate_dataset(cfg, tmp_path / "ds", engine="serial", progress=False)
    ds = open_dataset(tmp_path / "ds", verify=True)
    x = np.asarray(ds.inputs).astype(np.float64)
    ref = [localizer_chern_number(xi) for xi in x]
    np.testing.assert_array_equal(np.asarray(ds.labels), [r.chern for r in ref])
    np.testing.assert_allclose(np.asarray(ds.gaps), [r.gap for r in ref], rtol=1e-3)
    assert ds.manifest["label_function"].endswith("localizer_chern_number")
    # the default ("bott") stays out of the definition: existing datasets keep their hash
    bott = {k: v for k, v in cfg.items() if k != "label_method"}
    assert "label_method" not in GenerateConfig.from_dict(bott).definition()
    assert GenerateConfig.from_dict(bott).definition_sha256() == GenerateConfig.from_dict(
        {**bott, "label_method": "bott"}).definition_sha256()
