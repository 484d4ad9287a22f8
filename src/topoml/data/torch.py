"""PyTorch adapters that stream lattice datasets from their HDF5 shards (larger than memory).

The only ``topoml.data`` module that imports torch. Two flavours:

* :class:`LatticeDataset` — map-style (random access). ``ds[i]`` gives one ``(x, y)`` pair; ``ds[idx]``
  with a list/array of indices gives a whole batch in one read per shard, and ``__getitems__`` lets a
  plain ``DataLoader(ds, batch_size=640, shuffle=True)`` use that batched read. :func:`batch_loader`
  builds the fastest loader (a ``BatchSampler`` feeding whole index batches, ``batch_size=None``).
* :class:`LatticeIterableDataset` — streaming: shards (in a per-epoch shuffled order) are split between
  DataLoader workers, read in contiguous blocks and shuffled within a buffer. Fast sequential I/O for
  datasets much larger than memory; call :meth:`LatticeIterableDataset.set_epoch` each epoch.

Both hold no open HDF5 handle when pickled: each DataLoader worker opens the files lazily on first use
(:class:`topoml.data.store.ShardedDataset` reopens them after a fork), so ``num_workers > 0`` works.

Inputs are float32 tensors of shape ``(N, N, 3)`` (the project's layout, channels ``mu, t_minus,
delta``, units of ``t₊``) or ``(3, N, N)`` with ``channels_first=True`` (``torch.nn.Conv2d`` layout).
Targets are the stored labels (default, as float32 for the margalit2022 regression loss) or the raw
Bott values.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from typing import Literal

import numpy as np
import torch
from torch.utils.data import BatchSampler, DataLoader, Dataset, IterableDataset, RandomSampler, SequentialSampler

from topoml.data.store import ShardedDataset, open_dataset
from topoml.errors import ConfigError, InputError

__all__ = ["LatticeDataset", "LatticeIterableDataset", "batch_loader"]

Target = Literal["labels", "raw_bott"]


def _as_sharded(source: str | os.PathLike | ShardedDataset) -> ShardedDataset:
    return source if isinstance(source, ShardedDataset) else open_dataset(source)


def _check_target(target: str) -> None:
    if target not in ("labels", "raw_bott"):
        raise ConfigError(f"target must be 'labels' or 'raw_bott', got {target!r}")


class _Converter:
    def __init__(self, target: str, target_dtype: torch.dtype, channels_first: bool):
        _check_target(target)
        self.target, self.target_dtype, self.channels_first = target, target_dtype, channels_first

    def __call__(self, x: np.ndarray, y: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        xt = torch.from_numpy(np.ascontiguousarray(x))
        if self.channels_first:
            xt = xt.movedim(-1, -3).contiguous()
        return xt, torch.as_tensor(y).to(self.target_dtype)


class LatticeDataset(Dataset):
    """Map-style torch dataset over a stored lattice dataset, read lazily from its HDF5 shards.

    Parameters
    ----------
    source : path-like or ShardedDataset
        Dataset folder (or an already opened :class:`~topoml.data.store.ShardedDataset`).
    target : {"labels", "raw_bott"}, default "labels"
        Stored field returned as ``y``.
    target_dtype : torch.dtype, default torch.float32
        dtype of ``y`` (float32 for regression on the label, ``torch.int64`` for classification).
    channels_first : bool, default False
        Return ``x`` as ``(3, N, N)`` instead of ``(N, N, 3)``.

    Notes
    -----
    ``ds[i]`` → ``(x, y)`` with ``x`` float32 of shape ``(N, N, 3)`` and ``y`` a 0-d tensor;
    ``ds[[i, j, ...]]`` (list, array or tensor of indices) → a batch ``(x, y)`` of shapes
    ``(m, N, N, 3)`` and ``(m,)``, read with one HDF5 access per shard touched.

    Raises
    ------
    DatasetError
        On construction, if the dataset is missing, incomplete or corrupt.
    ConfigError
        Unknown ``target``.
    """

    def __init__(self, source: str | os.PathLike | ShardedDataset, *, target: Target = "labels",
                 target_dtype: torch.dtype = torch.float32, channels_first: bool = False):
        self.data = _as_sharded(source)
        self._convert = _Converter(target, target_dtype, channels_first)
        self.target = target

    def __len__(self) -> int:
        return len(self.data)

    @property
    def lattice_size(self) -> int:
        return self.data.lattice_size

    def _batch(self, idx: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        return self._convert(self.data.inputs[idx], self.data.column(self._convert.target)[idx])

    def __getitem__(self, index) -> tuple[torch.Tensor, torch.Tensor]:
        if isinstance(index, torch.Tensor):
            index = index.numpy() if index.ndim else int(index)
        if isinstance(index, (int, np.integer)):
            return self._convert(self.data.inputs[int(index)], self.data.column(self._convert.target)[int(index)])
        if isinstance(index, (Sequence, np.ndarray)) and not isinstance(index, str):
            idx = np.asarray(index)
            if idx.size == 0 or np.issubdtype(idx.dtype, np.integer):
                return self._batch(idx.astype(np.int64))
        raise InputError(f"index must be an int or a sequence of ints, got {type(index).__name__}")

    def __getitems__(self, indices: Sequence[int]) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """Batched read used by ``DataLoader`` (one HDF5 access per shard), split into samples."""
        x, y = self._batch(np.asarray(indices, dtype=np.int64))
        return list(zip(x.unbind(0), y.unbind(0)))


class LatticeIterableDataset(IterableDataset):
    """Streaming torch dataset: shuffled shard order, contiguous block reads, shuffle buffer.

    Each epoch the shard order is permuted (seeded by ``seed`` and the epoch), the shards are dealt
    round-robin to the DataLoader workers, each shard is read in blocks of ``block_size`` samples, and
    samples pass through a shuffle buffer of ``buffer_size``. Memory use is ``O(buffer_size)``.

    Parameters
    ----------
    source : path-like or ShardedDataset
    batch_size : int, optional
        Yield batches ``(x, y)`` of this size (use ``DataLoader(..., batch_size=None)``); default: yield
        single samples.
    shuffle : bool, default True
    seed : int, default 0
        Base seed of the shard permutation and buffer shuffling.
    buffer_size : int, default 65536
        Samples held for shuffling (ignored without ``shuffle``).
    block_size : int, default 8192
        Samples read per HDF5 access.
    target, target_dtype, channels_first
        As in :class:`LatticeDataset`.
    drop_last : bool, default False
        Drop each worker's last incomplete batch.

    Raises
    ------
    DatasetError
        The dataset is missing, incomplete or corrupt.
    InputError
        Non-positive sizes.
    """

    def __init__(self, source: str | os.PathLike | ShardedDataset, *, batch_size: int | None = None,
                 shuffle: bool = True, seed: int = 0, buffer_size: int = 65536, block_size: int = 8192,
                 target: Target = "labels", target_dtype: torch.dtype = torch.float32,
                 channels_first: bool = False, drop_last: bool = False):
        for name, v in (("buffer_size", buffer_size), ("block_size", block_size)):
            if int(v) < 1:
                raise InputError(f"{name} must be positive, got {v}")
        if batch_size is not None and int(batch_size) < 1:
            raise InputError(f"batch_size must be positive, got {batch_size}")
        self.data = _as_sharded(source)
        self._convert = _Converter(target, target_dtype, channels_first)
        self.batch_size = None if batch_size is None else int(batch_size)
        self.shuffle, self.seed = bool(shuffle), int(seed)
        self.buffer_size, self.block_size, self.drop_last = int(buffer_size), int(block_size), bool(drop_last)
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Use another shuffle for the next iteration (call before each epoch)."""
        self.epoch = int(epoch)

    def __len__(self) -> int:
        """Samples per epoch (all workers together)."""
        return len(self.data)

    def _blocks(self, shards: Sequence[int]) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        off = self.data.offsets
        target = self._convert.target
        for s in shards:
            for a in range(int(off[s]), int(off[s + 1]), self.block_size):
                sl = slice(a, min(a + self.block_size, int(off[s + 1])))
                yield self.data.inputs[sl], self.data.column(target)[sl]

    def _samples(self, shards: Sequence[int], rng: np.random.Generator) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Yield (x, y) chunks, shuffled through a buffer of about ``buffer_size`` samples."""
        if not self.shuffle:
            yield from self._blocks(shards)
            return
        bx, by, held = [], [], 0
        for x, y in self._blocks(shards):
            bx.append(x)
            by.append(y)
            held += len(y)
            if held >= self.buffer_size:
                xs, ys = np.concatenate(bx), np.concatenate(by)
                perm = rng.permutation(held)
                keep = held // 2  # emit half, keep half mixing with the next blocks
                out, rest = perm[keep:], perm[:keep]
                yield xs[out], ys[out]
                bx, by, held = [xs[rest]], [ys[rest]], keep
        if held:
            xs, ys = np.concatenate(bx), np.concatenate(by)
            perm = rng.permutation(held)
            yield xs[perm], ys[perm]

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        info = torch.utils.data.get_worker_info()
        wid, nw = (0, 1) if info is None else (info.id, info.num_workers)
        ss = np.random.SeedSequence([self.seed, self.epoch])
        order = np.arange(self.data.n_shards)
        if self.shuffle:
            order = np.random.default_rng(ss).permutation(order)
        mine = order[wid::nw]
        rng = np.random.default_rng(ss.spawn(nw)[wid])
        if self.batch_size is None:
            for x, y in self._samples(mine, rng):
                xt, yt = self._convert(x, y)
                yield from zip(xt.unbind(0), yt.unbind(0))
            return
        bx, by, held, b = [], [], 0, self.batch_size
        for x, y in self._samples(mine, rng):
            bx.append(x)
            by.append(y)
            held += len(y)
            if held >= b:
                xs, ys = np.concatenate(bx), np.concatenate(by)
                full = (held // b) * b
                for a in range(0, full, b):
                    yield self._convert(xs[a:a + b], ys[a:a + b])
                bx, by, held = [xs[full:]], [ys[full:]], held - full
        if held and not self.drop_last:
            yield self._convert(np.concatenate(bx), np.concatenate(by))


def batch_loader(
    source: str | os.PathLike | ShardedDataset | LatticeDataset,
    batch_size: int,
    *,
    shuffle: bool = True,
    num_workers: int = 0,
    drop_last: bool = False,
    generator: torch.Generator | None = None,
    **dataset_kwargs,
) -> DataLoader:
    """A ``DataLoader`` yielding whole batches read with one HDF5 access per shard.

    Parameters
    ----------
    source : path-like, ShardedDataset or LatticeDataset
    batch_size : int
    shuffle : bool, default True
        Random batches (``RandomSampler``, seeded by ``generator``) or the stored order.
    num_workers : int, default 0
        DataLoader worker processes (each opens the HDF5 files itself).
    drop_last : bool, default False
    generator : torch.Generator, optional
        Seeds the shuffling.
    **dataset_kwargs
        Passed to :class:`LatticeDataset` (``target``, ``target_dtype``, ``channels_first``).

    Returns
    -------
    torch.utils.data.DataLoader
        Yields ``(x, y)`` with shapes ``(b, N, N, 3)`` (or ``(b, 3, N, N)``) and ``(b,)``.
    """
    ds = source if isinstance(source, LatticeDataset) else LatticeDataset(source, **dataset_kwargs)
    if int(batch_size) < 1:
        raise InputError(f"batch_size must be positive, got {batch_size}")
    base = RandomSampler(ds, generator=generator) if shuffle else SequentialSampler(ds)
    sampler = BatchSampler(base, batch_size=int(batch_size), drop_last=drop_last)
    return DataLoader(ds, sampler=sampler, batch_size=None, num_workers=num_workers,
                      persistent_workers=num_workers > 0)
