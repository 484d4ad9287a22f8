"""torch is an optional extra (``topoml[nets]``): a label worker without it generates datasets and computes
invariants, and the commands that need networks say in one line what to install (issue 11).

Each command runs in a child process whose ``sitecustomize`` blocks ``import torch`` (in the worker
processes too), as on a machine where torch is not installed.
"""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from _proc import child_env

from topoml.hamiltonians.pip import clean_lattice
from topoml.invariants.chern import clean_chern_number

BLOCK = """import sys


class NoTorch:  # as if torch were not installed: every import of it fails like a missing module
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] == "torch":
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)


sys.meta_path.insert(0, NoTorch())
"""
POINTS = [(-1.0, 0.2), (1.0, 0.2), (3.0, -0.5)]


@pytest.fixture(scope="module")
def no_torch(tmp_path_factory):
    block = tmp_path_factory.mktemp("block")
    (block / "sitecustomize.py").write_text(BLOCK)
    folder = tmp_path_factory.mktemp("work")
    np.save(folder / "lattices.npy", np.stack([clean_lattice(8, m, t, 0.15) for m, t in POINTS]))
    return child_env(block), folder


def _topoml(no_torch, *args: str) -> subprocess.CompletedProcess:
    env, folder = no_torch
    return subprocess.run([sys.executable, "-m", "topoml", *args], env=env, cwd=folder, capture_output=True,
                          text=True, timeout=300)


def test_torch_is_blocked(no_torch):
    env, folder = no_torch
    res = subprocess.run([sys.executable, "-c", "import torch"], env=env, cwd=folder, capture_output=True, text=True)
    assert res.returncode != 0 and "ModuleNotFoundError" in res.stderr


def test_generate_runs_without_torch(no_torch):
    env, folder = no_torch
    (folder / "cfg.toml").write_text('name = "t"\nseed = 3\nn_samples = 40\nshard_size = 20\n'
                                     "[sampling]\nlattice_size = 4\n[run]\nworkers = 2\n")
    res = _topoml(no_torch, "generate", "cfg.toml", "--out", "data", "--no-progress")
    assert res.returncode == 0, res.stderr
    from topoml.data.store import open_dataset

    with open_dataset(folder / "data") as ds:
        assert len(ds) == 40 and set(np.unique(ds.labels[:])) <= {-2, -1, 0, 1, 2}


def test_chern_and_info_run_without_torch(no_torch):
    res = _topoml(no_torch, "chern", "lattices.npy", "--method", "bott", "--json")
    assert res.returncode == 0, res.stderr
    got = [r["chern_number"] for r in json.loads(res.stdout)["results"]]
    assert got == [clean_chern_number(m, t) for m, t in POINTS]
    res = _topoml(no_torch, "info")
    assert res.returncode == 0, res.stderr
    assert "networks: \n" in res.stdout or res.stdout.rstrip().endswith("networks:")


@pytest.mark.parametrize("args", [
    ["predict", "lattices.npy"],
    ["chern", "lattices.npy", "--method", "network"],
    ["evaluate", "data"],
    ["reproduce", "zhang2018", "--quick", "--out", "run"],
])
def test_network_commands_say_what_to_install(no_torch, args):
    res = _topoml(no_torch, *args)
    assert res.returncode == 2, res.stderr
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("topoml: error: this command needs torch"), res.stderr
    assert "pip install 'topoml[nets]'" in lines[0]
