"""Torch adapters over HDF5 shards (topoml.data.torch): shapes, batching, DataLoader workers, streaming."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from topoml.data.store import (
    FORMAT,
    SCHEMA_VERSION,
    dataset_digest,
    open_dataset,
    shard_filename,
    write_manifest,
    write_shard,
)
from topoml.data.torch import LatticeDataset, LatticeIterableDataset, batch_loader
from topoml.errors import ConfigError, DatasetError, InputError

SIZES = (40, 25, 35)  # 100 samples in 3 shards
N = 4


@pytest.fixture(scope="module")
def dataset_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("torchds")
    infos, start = [], 0
    for k, n in enumerate(SIZES):
        ids = np.arange(start, start + n)
        x = np.broadcast_to(ids[:, None, None, None].astype(np.float32), (n, N, N, 3)).copy()
        x[..., 1] = -x[..., 1]  # channels differ, so a layout mistake shows
        x[..., 2] = 0.5
        infos.append(write_shard(root / shard_filename(k, len(SIZES)), inputs=x, labels=ids % 3 - 1,
                                 raw_bott=ids + 0.25, gaps=np.ones(n)).to_dict())
        start += n
    write_manifest(root, {"format": FORMAT, "schema_version": SCHEMA_VERSION, "complete": True,
                          "n_samples": start, "lattice_size": N, "shards": infos,
                          "content_sha256": dataset_digest([i["content_sha256"] for i in infos])})
    return root


def _ids(x: torch.Tensor, channels_first: bool = False) -> np.ndarray:
    """Sample ids encoded in the mu channel."""
    mu = x[:, 0] if channels_first else x[..., 0]
    return mu.reshape(len(x), -1)[:, 0].numpy().astype(int)


def test_map_dataset_items_and_batches(dataset_dir):
    ds = LatticeDataset(dataset_dir)
    assert len(ds) == 100 and ds.lattice_size == N
    x, y = ds[41]
    assert x.shape == (N, N, 3) and x.dtype == torch.float32 and y.dtype == torch.float32 and y.ndim == 0
    assert float(x[0, 0, 0]) == 41 and float(x[0, 0, 1]) == -41 and float(y) == 41 % 3 - 1
    xb, yb = ds[[99, 0, 41, 41]]
    assert xb.shape == (4, N, N, 3) and yb.shape == (4,)
    assert list(_ids(xb)) == [99, 0, 41, 41]
    xb, yb = ds[torch.tensor([5, 6])]
    assert list(_ids(xb)) == [5, 6]
    cf = LatticeDataset(dataset_dir, channels_first=True, target="raw_bott", target_dtype=torch.float64)
    x, y = cf[7]
    assert x.shape == (3, N, N) and float(x[1, 0, 0]) == -7 and y.dtype == torch.float64 and float(y) == 7.25
    with pytest.raises(ConfigError):
        LatticeDataset(dataset_dir, target="gap")
    with pytest.raises(InputError):
        ds["a"]


def test_dataloader_with_workers_reads_every_sample_once(dataset_dir):
    ds = LatticeDataset(dataset_dir, target_dtype=torch.int64)
    loader = DataLoader(ds, batch_size=16, shuffle=True, num_workers=2,
                        generator=torch.Generator().manual_seed(0))
    seen, labels = [], []
    for x, y in loader:
        assert x.shape[1:] == (N, N, 3) and y.dtype == torch.int64
        seen.extend(_ids(x))
        labels.extend(y.tolist())
    assert sorted(seen) == list(range(100))
    assert all(lab == i % 3 - 1 for i, lab in zip(seen, labels))


def test_batch_loader(dataset_dir):
    loader = batch_loader(dataset_dir, 32, shuffle=True, num_workers=2, channels_first=True,
                          generator=torch.Generator().manual_seed(1))
    shapes, seen = [], []
    for x, y in loader:
        shapes.append(tuple(x.shape))
        seen.extend(_ids(x, channels_first=True))
    assert shapes[0] == (32, 3, N, N) and len(shapes) == 4
    assert sorted(seen) == list(range(100))
    seq = batch_loader(dataset_dir, 50, shuffle=False)
    assert [list(_ids(x)) for x, _ in seq] == [list(range(50)), list(range(50, 100))]


@pytest.mark.parametrize("num_workers", [0, 2])
def test_streaming_dataset_covers_each_sample_once(dataset_dir, num_workers):
    stream = LatticeIterableDataset(dataset_dir, batch_size=8, buffer_size=30, block_size=16, seed=3)
    loader = DataLoader(stream, batch_size=None, num_workers=num_workers)
    seen = [i for x, _ in loader for i in _ids(x)]
    assert sorted(seen) == list(range(100))
    assert seen != list(range(100))  # shuffled
    stream.set_epoch(1)
    again = [i for x, _ in DataLoader(stream, batch_size=None, num_workers=num_workers) for i in _ids(x)]
    assert sorted(again) == list(range(100)) and again != seen


def test_streaming_unshuffled_single_samples(dataset_dir):
    stream = LatticeIterableDataset(dataset_dir, shuffle=False, block_size=7)
    items = list(stream)
    assert len(items) == 100 and items[0][0].shape == (N, N, 3)
    assert [int(x[0, 0, 0]) for x, _ in items] == list(range(100))
    dropped = LatticeIterableDataset(dataset_dir, shuffle=False, batch_size=30, drop_last=True)
    assert [len(y) for _, y in dropped] == [30, 30, 30]
    with pytest.raises(InputError):
        LatticeIterableDataset(dataset_dir, buffer_size=0)


def test_pickles_without_open_handles(dataset_dir):
    ds = LatticeDataset(open_dataset(dataset_dir))
    ds[0]  # opens a file in this process
    clone = pickle.loads(pickle.dumps(ds))
    assert clone.data._handles == {}
    assert float(clone[60][0][0, 0, 0]) == 60


def test_missing_dataset_raises(tmp_path):
    with pytest.raises(DatasetError):
        LatticeDataset(tmp_path / "none")
