"""HDF5 dataset storage (topoml.data.store): schema, atomic writes, lazy sharded reading, corruption."""

from __future__ import annotations

import json
import pickle

import h5py
import numpy as np
import pytest

from topoml.data import store
from topoml.data.store import (
    FIELDS,
    MANIFEST_NAME,
    SCHEMA_VERSION,
    ShardInfo,
    check_arrays,
    content_digest,
    dataset_digest,
    open_dataset,
    read_shard,
    read_shard_info,
    shard_filename,
    write_manifest,
    write_shard,
)
from topoml.errors import DatasetError, InputError, ShapeError


def _arrays(n: int, size: int = 4, start: int = 0, seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    ids = np.arange(start, start + n)
    return {
        "inputs": (rng.normal(size=(n, size, size, 3)) + ids[:, None, None, None]).astype(np.float32),
        "labels": (ids % 3 - 1).astype(np.int64),
        "raw_bott": ids.astype(np.float64) + 0.001,  # raw_bott doubles as a sample id in these tests
        "gaps": rng.uniform(0.01, 1, n),
        "averages": rng.normal(size=(n, 3)),
    }


def _make_dataset(root, sizes=(5, 7, 1, 6), size=4, complete=True) -> dict:
    """A dataset folder written with the store API only (no generator): returns all arrays."""
    root.mkdir(parents=True, exist_ok=True)
    infos, parts, start = [], [], 0
    for k, n in enumerate(sizes):
        arr = _arrays(n, size, start, seed=k)
        infos.append(write_shard(root / shard_filename(k, len(sizes)), seed=3, config={"k": "v"}, **arr).to_dict())
        parts.append(arr)
        start += n
    manifest = {
        "format": store.FORMAT, "schema_version": SCHEMA_VERSION, "complete": complete,
        "n_samples": start, "lattice_size": size, "seed": 3, "config": {"k": "v"}, "shards": infos,
        "content_sha256": dataset_digest([i["content_sha256"] for i in infos]),
    }
    write_manifest(root, manifest)
    return {name: np.concatenate([p[name] for p in parts]) for name in FIELDS}


# ------------------------------------------------------------------------------------------ writing


def test_shard_roundtrip_schema_and_provenance(tmp_path):
    arr = _arrays(9, 6)
    info = write_shard(tmp_path / "s.h5", seed=42, config={"sampling": {"lattice_size": 6}},
                       attrs={"shard_index": 0, "spawn_key": [0]}, **arr)
    assert isinstance(info, ShardInfo) and info.n_samples == 9 and info.file_size == (tmp_path / "s.h5").stat().st_size
    back = read_shard(tmp_path / "s.h5")
    for name, (dtype, _) in FIELDS.items():
        assert back[name].dtype == dtype
        np.testing.assert_array_equal(back[name], arr[name])
    assert back["inputs"].shape == (9, 6, 6, 3)
    with h5py.File(tmp_path / "s.h5") as f:
        a = f.attrs
        assert a["schema_version"] == SCHEMA_VERSION and a["format"] == store.FORMAT
        assert a["seed"] == 42 and a["n_samples"] == 9 and a["lattice_size"] == 6
        assert json.loads(a["config"]) == {"sampling": {"lattice_size": 6}}
        assert json.loads(a["channels"]) == ["mu", "t_minus", "delta"]
        assert json.loads(a["spawn_key"]) == [0]
        for key in ("topoml_version", "git_hash", "created_utc", "environment", "content_sha256"):
            assert key in a
        assert "versions" in json.loads(a["environment"])
    assert info.content_sha256 == content_digest(arr)
    assert [p.name for p in tmp_path.iterdir()] == ["s.h5"]  # no temporaries left


def test_content_digest_depends_on_data_only(tmp_path):
    arr = _arrays(4)
    a = write_shard(tmp_path / "a.h5", seed=1, **arr)
    b = write_shard(tmp_path / "b.h5", seed=2, **arr)  # other provenance, same data
    assert a.content_sha256 == b.content_sha256
    arr["labels"][0] += 1
    assert content_digest(arr) != a.content_sha256


def test_averages_default_to_lattice_mean(tmp_path):
    arr = _arrays(3)
    arr.pop("averages")
    write_shard(tmp_path / "s.h5", **arr)
    np.testing.assert_allclose(read_shard(tmp_path / "s.h5")["averages"],
                               arr["inputs"].astype(np.float64).mean(axis=(1, 2)))


@pytest.mark.parametrize(
    "change, exc",
    [
        (lambda a: a.update(inputs=a["inputs"][:, :, :3]), ShapeError),  # non-square
        (lambda a: a.update(inputs=a["inputs"][..., :2]), ShapeError),  # 2 channels
        (lambda a: a.update(inputs=a["inputs"][0]), ShapeError),  # no batch axis
        (lambda a: a.update(labels=a["labels"][:-1]), ShapeError),
        (lambda a: a.update(averages=a["averages"][:, :2]), ShapeError),
        (lambda a: a["inputs"].__setitem__((0, 0, 0, 0), np.nan), InputError),
        (lambda a: a.update(inputs=a["inputs"].astype(np.float64) * 1e300), InputError),  # float32 overflow
        (lambda a: a["gaps"].__setitem__(1, np.inf), InputError),
        (lambda a: a.update(labels=a["labels"].astype(float)), InputError),
        (lambda a: a.update(inputs=a["inputs"].astype(complex)), InputError),
    ],
)
def test_bad_arrays_raise_and_write_nothing(tmp_path, change, exc):
    arr = _arrays(4)
    change(arr)
    with pytest.raises(exc):
        write_shard(tmp_path / "s.h5", **arr)
    assert list(tmp_path.iterdir()) == []


def test_failed_write_leaves_no_file(tmp_path, monkeypatch):
    calls = []

    def boom(self, name, *args, **kwargs):
        calls.append(name)
        if len(calls) == 3:
            raise OSError(28, "No space left on device")
        return orig(self, name, *args, **kwargs)

    orig = h5py.Group.create_dataset
    monkeypatch.setattr(h5py.Group, "create_dataset", boom)
    with pytest.raises(DatasetError, match="cannot write shard"):
        write_shard(tmp_path / "s.h5", **_arrays(4))
    assert list(tmp_path.iterdir()) == []


def test_unwritable_folder(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(DatasetError, match="cannot write"):
        write_shard(blocker / "s.h5", **_arrays(2))
    with pytest.raises(DatasetError):
        write_manifest(blocker, {"a": 1})


def test_check_arrays_converts_dtypes():
    arr = _arrays(2)
    out = check_arrays(arr["inputs"].astype(np.float64), arr["labels"].astype(np.int32), arr["raw_bott"],
                       arr["gaps"], arr["averages"])
    assert [out[k].dtype for k in FIELDS] == [d for d, _ in FIELDS.values()]


# ------------------------------------------------------------------------------------------ reading


def test_open_dataset_indexing(tmp_path):
    ref = _make_dataset(tmp_path / "ds")
    ds = open_dataset(tmp_path / "ds")
    n = 19
    assert len(ds) == n and ds.n_shards == 4 and ds.lattice_size == 4 and ds.seed == 3
    assert ds.inputs.shape == (n, 4, 4, 3) and ds.inputs.dtype == np.float32
    assert ds.labels.shape == (n,) and ds.averages.shape == (n, 3)
    np.testing.assert_array_equal(np.asarray(ds.inputs), ref["inputs"])
    np.testing.assert_array_equal(np.asarray(ds.labels), ref["labels"])
    r = ds[6]
    assert r.inputs.shape == (4, 4, 3) and r.labels == ref["labels"][6] and r.raw_bott == ref["raw_bott"][6]
    assert ds[-1].raw_bott == ref["raw_bott"][-1]
    for key in [slice(3, 15), slice(0, 0), slice(None, None, 3), slice(17, 2, -4), slice(-4, None)]:
        np.testing.assert_array_equal(ds[key].inputs, ref["inputs"][key])
        np.testing.assert_array_equal(ds.raw_bott[key], ref["raw_bott"][key])
    idx = np.array([18, 0, 12, 12, 5, -1, 11, 13])
    for name in FIELDS:
        np.testing.assert_array_equal(getattr(ds, name)[idx], ref[name][idx])
    mask = ref["labels"] == 1
    np.testing.assert_array_equal(ds.labels[mask], ref["labels"][mask])
    assert ds[[]].inputs.shape == (0, 4, 4, 3)
    with pytest.raises(IndexError):
        ds[19]
    with pytest.raises(IndexError):
        ds.labels[[0, -20]]
    with pytest.raises(InputError):
        ds.labels[np.array([[1, 2]])]
    with pytest.raises(ShapeError):
        ds.labels[np.ones(3, bool)]
    np.testing.assert_array_equal(ds.column("gaps")[2:4], ref["gaps"][2:4])
    with pytest.raises(InputError):
        ds.column("gap")
    assert ds.content_sha256
    ds.verify()
    ds.close()


def test_sparse_reads(tmp_path):
    ref = _make_dataset(tmp_path / "ds", sizes=(300,))
    ds = open_dataset(tmp_path / "ds")
    idx = np.array([0, 150, 299])
    np.testing.assert_array_equal(ds.inputs[idx], ref["inputs"][idx])
    np.testing.assert_array_equal(ds.inputs[::-7], ref["inputs"][::-7])


def test_chunked_shard_is_read_through_h5py(tmp_path):
    """Shards written by other tools (chunked, compressed) are read without memory maps."""
    arr = _arrays(50, seed=4)
    write_shard(tmp_path / "a.h5", **arr)
    with h5py.File(tmp_path / "a.h5") as src, h5py.File(tmp_path / "b.h5", "w") as dst:
        for name in FIELDS:
            dst.create_dataset(name, data=src[name][()], chunks=True, compression="gzip")
        for key, value in src.attrs.items():
            dst.attrs[key] = value
    ds = open_dataset(tmp_path / "b.h5")
    assert not isinstance(ds._source(0, "inputs"), np.memmap)
    for idx in (np.array([3, 1, 40]), np.array([0, 49]), slice(5, 9)):
        np.testing.assert_array_equal(ds.inputs[idx], arr["inputs"][idx])
    ds.verify()
    assert isinstance(open_dataset(tmp_path / "a.h5")._source(0, "inputs"), np.memmap)


def test_open_by_manifest_or_single_shard(tmp_path):
    ref = _make_dataset(tmp_path / "ds")
    assert len(open_dataset(tmp_path / "ds" / MANIFEST_NAME)) == 19
    one = open_dataset(tmp_path / "ds" / shard_filename(1, 4))
    np.testing.assert_array_equal(np.asarray(one.raw_bott), ref["raw_bott"][5:12])
    assert one.config == {"k": "v"}


def test_pickle_and_lru_handles(tmp_path):
    ref = _make_dataset(tmp_path / "ds")
    ds = open_dataset(tmp_path / "ds", max_open_files=1)
    np.testing.assert_array_equal(ds.labels[:], ref["labels"])  # touches all shards with one handle
    assert len(ds._handles) == 1
    clone = pickle.loads(pickle.dumps(ds))
    assert clone._handles == {}
    np.testing.assert_array_equal(clone.inputs[[3, 17]], ref["inputs"][[3, 17]])
    with ds:
        pass
    assert len(ds._handles) == 0


# ------------------------------------------------------------------------------------------ corruption


def _one_line(err: pytest.ExceptionInfo) -> str:
    msg = str(err.value)
    assert msg and "\n" not in msg
    return msg


def test_missing_dataset_or_manifest(tmp_path):
    with pytest.raises(DatasetError) as e:
        open_dataset(tmp_path / "nothing")
    _one_line(e)
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetError, match="manifest.json not found"):
        open_dataset(tmp_path / "empty")


def test_corrupt_manifest(tmp_path):
    _make_dataset(tmp_path / "ds")
    (tmp_path / "ds" / MANIFEST_NAME).write_text('{"format": "topoml.lattice_dataset", ')
    with pytest.raises(DatasetError, match="not valid JSON") as e:
        open_dataset(tmp_path / "ds")
    _one_line(e)


def test_schema_version_mismatch(tmp_path):
    _make_dataset(tmp_path / "ds")
    m = json.loads((tmp_path / "ds" / MANIFEST_NAME).read_text())
    m["schema_version"] = 99
    (tmp_path / "ds" / MANIFEST_NAME).write_text(json.dumps(m))
    with pytest.raises(DatasetError, match="schema version"):
        open_dataset(tmp_path / "ds")


def test_incomplete_dataset(tmp_path):
    _make_dataset(tmp_path / "ds", complete=False)
    with pytest.raises(DatasetError, match="incomplete") as e:
        open_dataset(tmp_path / "ds")
    _one_line(e)


def test_missing_shard(tmp_path):
    _make_dataset(tmp_path / "ds")
    (tmp_path / "ds" / shard_filename(2, 4)).unlink()
    with pytest.raises(DatasetError, match="missing") as e:
        open_dataset(tmp_path / "ds")
    _one_line(e)


def test_truncated_shard(tmp_path):
    _make_dataset(tmp_path / "ds")
    p = tmp_path / "ds" / shard_filename(1, 4)
    data = p.read_bytes()
    p.write_bytes(data[: len(data) // 2])
    with pytest.raises(DatasetError, match="truncated") as e:
        open_dataset(tmp_path / "ds")
    _one_line(e)
    with pytest.raises(DatasetError) as e:  # the shard file on its own
        read_shard_info(p)
    _one_line(e)


def test_garbage_shard_header(tmp_path):
    _make_dataset(tmp_path / "ds")
    p = tmp_path / "ds" / shard_filename(0, 4)
    data = bytearray(p.read_bytes())
    data[:64] = b"\x00" * 64  # same size, destroyed HDF5 superblock
    p.write_bytes(bytes(data))
    with pytest.raises(DatasetError, match="corrupt") as e:
        open_dataset(tmp_path / "ds")
    _one_line(e)


def test_corrupt_data_detected_by_checksum(tmp_path):
    _make_dataset(tmp_path / "ds")
    p = tmp_path / "ds" / shard_filename(3, 4)
    with h5py.File(p) as f:
        offset = f["labels"].id.get_offset()
    data = bytearray(p.read_bytes())
    data[offset] ^= 0xFF
    p.write_bytes(bytes(data))
    ds = open_dataset(tmp_path / "ds")  # the structure is intact: opens
    with pytest.raises(DatasetError, match="checksum"):
        ds.verify()
    with pytest.raises(DatasetError, match="checksum"):
        open_dataset(tmp_path / "ds", verify=True)
    with pytest.raises(DatasetError, match="checksum"):
        read_shard(p)


def test_not_a_shard(tmp_path):
    with h5py.File(tmp_path / "x.h5", "w") as f:
        f["inputs"] = np.zeros((1, 4, 4, 3), np.float32)
    with pytest.raises(DatasetError, match="not a topoml dataset shard"):
        open_dataset(tmp_path / "x.h5")
    (tmp_path / "y.h5").write_bytes(b"not hdf5 at all")
    with pytest.raises(DatasetError, match="corrupt or truncated"):
        open_dataset(tmp_path / "y.h5")
