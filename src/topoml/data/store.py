"""HDF5 storage of labelled lattice datasets: sharded files, a JSON manifest, lazy reading.

Layout on disk (schema version :data:`SCHEMA_VERSION`)::

    DIR/
      manifest.json                    index: schema, config, seed, provenance, shard list (+ digests)
      shard-00000-of-00004.h5          one HDF5 file per shard, self-describing
      shard-00001-of-00004.h5
      ...

Each shard holds the datasets (``n`` samples of an ``N × N`` lattice; contiguous, uncompressed, so
random access is one read):

=============  ================  =========  ===================================================
name           shape             dtype      meaning
=============  ================  =========  ===================================================
``inputs``     ``(n, N, N, 3)``  float32    lattice parameters, channels ``(mu, t_minus, delta)``
``labels``     ``(n,)``          int64      Bott index rounded to the nearest integer
``raw_bott``   ``(n,)``          float64    Bott index before rounding
``gaps``       ``(n,)``          float64    spectral gap reported by the label function
``averages``   ``(n, 3)``        float64    lattice averages ``(μ̄, t̄₋, Δ̄)`` the sample was drawn with
=============  ================  =========  ===================================================

and the attributes ``format``, ``schema_version``, ``n_samples``, ``lattice_size``, ``channels``,
``content_sha256`` (SHA-256 of the arrays, independent of when/where the file was written), the
provenance ``topoml_version``, ``git_hash``, ``created_utc``, ``environment`` (JSON of
:func:`topoml.provenance.environment_info`), ``seed``, ``config`` (the full generation config as JSON,
including the sampling spec) and whatever the writer adds (shard index, spawn key).

Every file is written atomically: to a hidden temporary name in the same folder, flushed, fsync'ed,
then :func:`os.replace`'d into place, so a reader (or a resumed generator) never sees a partial file.
The manifest is rewritten the same way and says whether the dataset is ``complete``.

:func:`open_dataset` reads the manifest, checks every shard (present, full size, right schema) and
returns a :class:`ShardedDataset` that reads lazily: the contiguous datasets are memory-mapped
(``np.memmap`` at the offset HDF5 reports), so random access to datasets larger than memory goes through
the page cache at numpy speed; shards written by other tools (chunked/compressed) are read with h5py.
Missing, truncated, corrupt or incompatible files raise :class:`~topoml.errors.DatasetError` with a
one-line message. This module imports numpy and
h5py only (no torch), so it can run on light label-generation workers.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections import OrderedDict
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import lru_cache
from pathlib import Path
from typing import Any, NamedTuple

import h5py
import numpy as np

from topoml.errors import DatasetError, InputError, ShapeError
from topoml.runs.rundir import atomic_path, atomic_write_bytes, remove_stale_temporaries

__all__ = [
    "FIELDS",
    "FORMAT",
    "MANIFEST_NAME",
    "SCHEMA_VERSION",
    "Column",
    "Record",
    "ShardInfo",
    "ShardedDataset",
    "check_arrays",
    "content_digest",
    "dataset_digest",
    "open_dataset",
    "read_manifest",
    "read_shard",
    "read_shard_info",
    "remove_stale_temporaries",
    "shard_filename",
    "write_manifest",
    "write_shard",
]

#: Version of the on-disk layout; readers refuse other versions.
SCHEMA_VERSION = 1
#: ``format`` attribute of shard files and key of the manifest.
FORMAT = "topoml.lattice_dataset"
#: File name of the index in a dataset folder.
MANIFEST_NAME = "manifest.json"
#: Stored fields in order: name -> (dtype, per-sample shape as a function of the lattice size N).
FIELDS: dict[str, tuple[np.dtype, Any]] = {
    "inputs": (np.dtype("<f4"), lambda n: (n, n, 3)),
    "labels": (np.dtype("<i8"), lambda n: ()),
    "raw_bott": (np.dtype("<f8"), lambda n: ()),
    "gaps": (np.dtype("<f8"), lambda n: ()),
    "averages": (np.dtype("<f8"), lambda n: (3,)),
}
_CHANNELS = ("mu", "t_minus", "delta")
#: Shards not stored contiguously (written by other tools) are read through h5py: a sparse index read
#: takes the span of the shard that covers it (then picks in memory) when the span is at most this many
#: times longer than the index, or at most _SPAN_BYTES long; otherwise an HDF5 point selection.
_SPAN_FACTOR = 8
_SPAN_BYTES = 4 << 20


class Record(NamedTuple):
    """Samples read from a dataset (``ds[i]``, ``ds[a:b]``, ``ds[[i, j]]``).

    For an integer index the fields are one sample (``inputs`` of shape (N, N, 3), scalar ``labels``);
    otherwise they carry a leading sample axis of length ``m``.

    Attributes
    ----------
    inputs : ndarray of float32, shape (m, N, N, 3)
    labels : ndarray of int64, shape (m,)
    raw_bott : ndarray of float64, shape (m,)
    gaps : ndarray of float64, shape (m,)
    averages : ndarray of float64, shape (m, 3)
    """

    inputs: np.ndarray
    labels: np.ndarray
    raw_bott: np.ndarray
    gaps: np.ndarray
    averages: np.ndarray


@dataclass(frozen=True)
class ShardInfo:
    """What the manifest records about one shard file.

    Attributes
    ----------
    file : str
        File name, relative to the dataset folder.
    n_samples : int
    content_sha256 : str
        :func:`content_digest` of the shard's arrays.
    file_size : int
        Size in bytes (a smaller file on disk means truncation).
    """

    file: str
    n_samples: int
    content_sha256: str
    file_size: int

    def to_dict(self) -> dict:
        return {"file": self.file, "n_samples": self.n_samples, "content_sha256": self.content_sha256,
                "file_size": self.file_size}


def shard_filename(index: int, n_shards: int) -> str:
    """Canonical shard file name, ``shard-00003-of-00010.h5``."""
    return f"shard-{index:05d}-of-{n_shards:05d}.h5"


def _utc_now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


@lru_cache(maxsize=1)
def _static_environment() -> str:
    from topoml.provenance import environment_info

    env = environment_info()
    env.pop("time_utc", None)
    return json.dumps(env, sort_keys=True, default=str)


def _topoml_version() -> str:
    from topoml import __version__

    return __version__


def _git_hash() -> str:
    from topoml.provenance import git_hash

    return git_hash() or ""


# --------------------------------------------------------------------------------------------- writing


def check_arrays(
    inputs: np.ndarray,
    labels: np.ndarray,
    raw_bott: np.ndarray,
    gaps: np.ndarray,
    averages: np.ndarray | None = None,
) -> dict[str, np.ndarray]:
    """Validate the arrays of a shard and convert them to the storage dtypes.

    Parameters
    ----------
    inputs : array_like of float, shape (n, N, N, 3)
        Finite lattice parameters (stored as float32).
    labels : array_like of int, shape (n,)
    raw_bott, gaps : array_like of float, shape (n,)
        Finite.
    averages : array_like of float, shape (n, 3), optional
        Finite; defaults to the lattice mean of ``inputs`` per channel.

    Returns
    -------
    dict
        ``{name: array}`` in :data:`FIELDS` order and dtypes, C-contiguous.

    Raises
    ------
    ShapeError
        Wrong shapes: ``inputs`` not (n, N, N, 3) with a square lattice, ``N >= 2``
        (:func:`topoml.hamiltonians.pip.check_lattice`), lengths that disagree.
    InputError
        NaN/inf (also after the cast to float32), non-integer labels.
    """
    from topoml.hamiltonians.pip import check_lattice

    x = np.asarray(inputs)
    out = {"inputs": np.ascontiguousarray(check_lattice(x, batch=True, name="inputs", dtype=FIELDS["inputs"][0]))}
    n, size = x.shape[0], x.shape[1]
    lab = np.asarray(labels)
    if lab.size and not np.issubdtype(lab.dtype, np.integer):
        raise InputError(f"labels must be integers, got dtype {lab.dtype}; round the raw invariant first")
    if averages is None:
        averages = np.asarray(x, dtype=np.float64).mean(axis=(1, 2))
    given = {"labels": lab, "raw_bott": raw_bott, "gaps": gaps, "averages": averages}
    for name, arr in given.items():
        dtype, shape = FIELDS[name]
        a = np.asarray(arr)
        want = (n, *shape(size))
        if a.shape != want:
            raise ShapeError(f"{name} must have shape {want} to match inputs {x.shape}, got {a.shape}")
        a = np.ascontiguousarray(a, dtype=dtype)
        if a.dtype.kind == "f" and not np.all(np.isfinite(a)):
            raise InputError(f"{name} contains NaN or inf; store finite values only")
        out[name] = a
    return out


def content_digest(arrays: Mapping[str, np.ndarray]) -> str:
    """SHA-256 (hex) of a shard's arrays: names, dtypes, shapes and bytes, in :data:`FIELDS` order.

    Two shards have the same digest exactly when they hold the same data, whenever and wherever they
    were written (file bytes also contain timestamps and provenance).
    """
    h = hashlib.sha256()
    for name in FIELDS:
        a = np.ascontiguousarray(arrays[name])
        h.update(f"{name}|{a.dtype.str}|{a.shape}|".encode())
        h.update(memoryview(a).cast("B"))
    return h.hexdigest()


def write_shard(
    path: str | os.PathLike,
    *,
    inputs: np.ndarray,
    labels: np.ndarray,
    raw_bott: np.ndarray,
    gaps: np.ndarray,
    averages: np.ndarray | None = None,
    seed: int | None = None,
    config: Mapping | None = None,
    attrs: Mapping[str, Any] | None = None,
) -> ShardInfo:
    """Write one shard file atomically (never visible half-written).

    Parameters
    ----------
    path : path-like
        Final file name (the folder must exist).
    inputs, labels, raw_bott, gaps, averages
        See :func:`check_arrays` (shapes ``(n, N, N, 3)``, ``(n,)``, ``(n,)``, ``(n,)``, ``(n, 3)``).
    seed : int, optional
        Root seed of the dataset (provenance).
    config : mapping, optional
        The full generation config (stored as JSON in the ``config`` attribute).
    attrs : mapping, optional
        Extra scalar/string attributes (e.g. ``shard_index``); dicts and lists are stored as JSON.

    Returns
    -------
    ShardInfo

    Raises
    ------
    ShapeError, InputError
        Invalid arrays (nothing is written).
    DatasetError
        The file cannot be written (permissions, disk full); no file is left behind.
    """
    path = Path(path)
    arrays = check_arrays(inputs, labels, raw_bott, gaps, averages)
    digest = content_digest(arrays)
    n, size = arrays["inputs"].shape[:2]
    meta: dict[str, Any] = {
        "format": FORMAT,
        "schema_version": SCHEMA_VERSION,
        "n_samples": int(n),
        "lattice_size": int(size),
        "channels": json.dumps(list(_CHANNELS)),
        "content_sha256": digest,
        "topoml_version": _topoml_version(),
        "git_hash": _git_hash(),
        "created_utc": _utc_now(),
        "environment": _static_environment(),
        "seed": -1 if seed is None else int(seed),
        "config": json.dumps(dict(config) if config is not None else {}, sort_keys=True),
    }
    for key, value in (attrs or {}).items():
        meta[key] = json.dumps(value) if isinstance(value, (dict, list, tuple)) else value
    try:
        with atomic_path(path) as tmp, h5py.File(tmp, "w") as f:
            for name, arr in arrays.items():
                f.create_dataset(name, data=arr)
            for key, value in meta.items():
                f.attrs[key] = value
    except OSError as err:
        raise DatasetError(f"cannot write shard {path}: {err}; check the folder is writable and has space") from None
    return ShardInfo(file=path.name, n_samples=int(n), content_sha256=digest, file_size=path.stat().st_size)


def write_manifest(folder: str | os.PathLike, manifest: Mapping) -> Path:
    """Write ``manifest.json`` atomically into ``folder``.

    Raises
    ------
    DatasetError
        The folder is not writable.
    """
    path = Path(folder) / MANIFEST_NAME
    try:
        atomic_write_bytes(path, (json.dumps(dict(manifest), indent=1, sort_keys=True, default=str) + "\n").encode())
    except OSError as err:
        raise DatasetError(f"cannot write {path}: {err.strerror or err}; check the folder is writable") from None
    return path


# --------------------------------------------------------------------------------------------- reading


def read_manifest(folder: str | os.PathLike) -> dict:
    """Read and check ``manifest.json`` of a dataset folder.

    Raises
    ------
    DatasetError
        Missing, unreadable, not JSON, not a topoml dataset, or another schema version.
    """
    path = Path(folder) / MANIFEST_NAME
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise DatasetError(f"no dataset at {folder}: {MANIFEST_NAME} not found") from None
    except OSError as err:
        raise DatasetError(f"cannot read {path}: {err.strerror or err}") from None
    try:
        manifest = json.loads(text)
    except json.JSONDecodeError as err:
        raise DatasetError(f"corrupt manifest {path}: not valid JSON ({err.msg} at line {err.lineno})") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise DatasetError(f"{path} is not a topoml dataset manifest (format != {FORMAT!r})")
    if manifest.get("schema_version") != SCHEMA_VERSION:
        raise DatasetError(
            f"{path} has schema version {manifest.get('schema_version')!r}, this topoml reads {SCHEMA_VERSION}; "
            "regenerate the dataset or use a matching topoml version"
        )
    return manifest


def _decode(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.decode()
    if isinstance(value, np.generic):
        return value.item()
    return value


def _open_h5(path: Path) -> h5py.File:
    try:
        return h5py.File(path, "r")
    except FileNotFoundError:
        raise DatasetError(f"shard {path} is missing; regenerate the dataset (rerun generate to resume)") from None
    except OSError as err:
        msg = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise DatasetError(
            f"shard {path} is corrupt or truncated (HDF5: {msg}); delete it and rerun generate"
        ) from None


def _check_open_shard(f: h5py.File, path: Path, lattice_size: int | None = None) -> dict:
    """Check the schema of an open shard; return its attributes (decoded)."""
    try:
        attrs = {k: _decode(v) for k, v in f.attrs.items()}
    except (OSError, RuntimeError, KeyError) as err:
        raise DatasetError(f"shard {path} is corrupt: cannot read its attributes ({err})") from None
    if attrs.get("format") != FORMAT:
        raise DatasetError(f"{path} is not a topoml dataset shard (format attribute {attrs.get('format')!r})")
    if attrs.get("schema_version") != SCHEMA_VERSION:
        raise DatasetError(
            f"shard {path} has schema version {attrs.get('schema_version')!r}, this topoml reads {SCHEMA_VERSION}"
        )
    try:
        n, size = int(attrs["n_samples"]), int(attrs["lattice_size"])
    except (KeyError, TypeError, ValueError):
        raise DatasetError(f"shard {path} is corrupt: n_samples/lattice_size attributes missing") from None
    if lattice_size is not None and size != lattice_size:
        raise DatasetError(f"shard {path} holds {size}x{size} lattices, the dataset {lattice_size}x{lattice_size}")
    for name, (dtype, shape) in FIELDS.items():
        try:
            ds = f[name]
            ok = isinstance(ds, h5py.Dataset) and ds.shape == (n, *shape(size)) and ds.dtype == dtype
        except (KeyError, OSError, RuntimeError):
            ok = False
        if not ok:
            raise DatasetError(f"shard {path} is corrupt: dataset '{name}' missing or of the wrong shape/dtype")
    return attrs


def read_shard_info(path: str | os.PathLike, *, lattice_size: int | None = None) -> tuple[ShardInfo, dict]:
    """Open a shard, check its schema, and return its :class:`ShardInfo` and attributes.

    Raises
    ------
    DatasetError
        Missing, truncated, corrupt, not a shard, other schema version or lattice size.
    """
    path = Path(path)
    with _open_h5(path) as f:
        attrs = _check_open_shard(f, path, lattice_size)
    info = ShardInfo(file=path.name, n_samples=int(attrs["n_samples"]),
                     content_sha256=str(attrs.get("content_sha256", "")), file_size=path.stat().st_size)
    return info, attrs


def read_shard(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Read all arrays of one shard into memory (checked against the stored digest).

    Returns
    -------
    dict
        ``{name: ndarray}`` for every name in :data:`FIELDS`.

    Raises
    ------
    DatasetError
        Missing, truncated or corrupt file, or data that do not match ``content_sha256``.
    """
    path = Path(path)
    with _open_h5(path) as f:
        attrs = _check_open_shard(f, path)
        try:
            arrays = {name: f[name][()] for name in FIELDS}
        except (OSError, RuntimeError) as err:
            raise DatasetError(f"shard {path} is corrupt or truncated: cannot read data ({err})") from None
    if content_digest(arrays) != attrs.get("content_sha256"):
        raise DatasetError(f"shard {path} is corrupt: its data do not match the stored checksum; regenerate it")
    return arrays


class Column:
    """One stored field of a :class:`ShardedDataset`, read lazily (``ds.inputs``, ``ds.labels``...).

    Indexing (int, slice, integer array, boolean mask) reads only the requested samples;
    ``np.asarray(column)`` reads the whole field.

    Attributes
    ----------
    name : str
    shape : tuple of int
        ``(len(dataset), *per_sample_shape)``.
    dtype : numpy.dtype
    """

    def __init__(self, dataset: ShardedDataset, name: str):
        self._ds = dataset
        self.name = name
        self.dtype = FIELDS[name][0]
        self.shape = (len(dataset), *FIELDS[name][1](dataset.lattice_size))

    @property
    def ndim(self) -> int:
        return len(self.shape)

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, key) -> np.ndarray:
        return self._ds._read(self.name, key)

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        a = self._ds._read(self.name, slice(None))
        return a if dtype is None else a.astype(dtype, copy=False)

    def __repr__(self) -> str:
        return f"Column({self.name!r}, shape={self.shape}, dtype={self.dtype})"


class ShardedDataset:
    """A sharded HDF5 dataset read as one indexable dataset (see :func:`open_dataset`).

    ``len(ds)`` samples; ``ds[i]`` / ``ds[a:b]`` / ``ds[idx]`` return a :class:`Record`; ``ds.inputs``,
    ``ds.labels``, ``ds.raw_bott``, ``ds.gaps``, ``ds.averages`` are lazy :class:`Column` s. Files are
    opened on first use in each process (after a fork, or after unpickling in a DataLoader worker, the
    handles are reopened), at most ``max_open_files`` at a time.

    Attributes
    ----------
    root : pathlib.Path
        Dataset folder.
    manifest : dict
        The parsed manifest (config, seed, provenance, shard list).
    lattice_size : int
    shard_files : list of pathlib.Path
    offsets : ndarray of int64, shape (n_shards + 1,)
        Global index of each shard's first sample (and the total at the end).
    """

    def __init__(self, root: Path, manifest: dict, shard_files: list[Path], counts: list[int],
                 lattice_size: int, max_open_files: int = 32, verify: str = "lazy"):
        self.root = root
        self.verify_mode = verify
        self._verified: set[int] = set()
        self.manifest = manifest
        self.shard_files = shard_files
        self.lattice_size = int(lattice_size)
        self.offsets = np.concatenate([[0], np.cumsum(np.asarray(counts, dtype=np.int64))]).astype(np.int64)
        self.max_open_files = max(1, int(max_open_files))
        self._handles: OrderedDict[int, h5py.File] = OrderedDict()
        self._sources: dict[tuple[int, str], np.ndarray | h5py.Dataset] = {}
        self._pid = os.getpid()

    # ---- metadata
    def __len__(self) -> int:
        return int(self.offsets[-1])

    @property
    def n_shards(self) -> int:
        return len(self.shard_files)

    @property
    def config(self) -> dict:
        """The generation config recorded in the manifest (empty if none)."""
        return self.manifest.get("config", {})

    @property
    def seed(self) -> int | None:
        return self.manifest.get("seed")

    @property
    def content_sha256(self) -> str:
        """Digest of the whole dataset (SHA-256 over the shard digests in order)."""
        return self.manifest.get("content_sha256", "")

    def __repr__(self) -> str:
        n = self.lattice_size
        return f"ShardedDataset({str(self.root)!r}, n_samples={len(self)}, lattice={n}x{n}, shards={self.n_shards})"

    # ---- columns
    def column(self, name: str) -> Column:
        """The lazy :class:`Column` of a stored field (one of :data:`FIELDS`).

        Raises
        ------
        InputError
            Unknown field name.
        """
        if name not in FIELDS:
            raise InputError(f"unknown field {name!r}; stored fields are {list(FIELDS)}")
        return Column(self, name)

    @property
    def inputs(self) -> Column:
        """Lazy ``(n, N, N, 3)`` float32 lattices."""
        return Column(self, "inputs")

    @property
    def labels(self) -> Column:
        """Lazy ``(n,)`` int64 labels."""
        return Column(self, "labels")

    @property
    def raw_bott(self) -> Column:
        """Lazy ``(n,)`` float64 raw Bott indices."""
        return Column(self, "raw_bott")

    @property
    def gaps(self) -> Column:
        """Lazy ``(n,)`` float64 gaps."""
        return Column(self, "gaps")

    @property
    def averages(self) -> Column:
        """Lazy ``(n, 3)`` float64 averages ``(μ̄, t̄₋, Δ̄)``."""
        return Column(self, "averages")

    def __getitem__(self, key) -> Record:
        return Record(*(self._read(name, key) for name in FIELDS))

    def __iter__(self) -> Iterator[Record]:
        for i in range(len(self)):
            yield self[i]

    # ---- file handles
    def _check_pid(self) -> None:
        if self._pid != os.getpid():  # forked: never share HDF5 handles across processes
            self._handles = OrderedDict()
            self._sources = {}
            self._pid = os.getpid()

    def _file(self, shard: int) -> h5py.File:
        self._check_pid()
        f = self._handles.get(shard)
        if f is not None:
            self._handles.move_to_end(shard)
            return f
        f = _open_h5(self.shard_files[shard])
        self._handles[shard] = f
        while len(self._handles) > self.max_open_files:
            old_shard, old = self._handles.popitem(last=False)
            for name in FIELDS:
                self._sources.pop((old_shard, name), None)
            old.close()
        return f

    def _source(self, shard: int, name: str) -> np.ndarray | h5py.Dataset:
        """What to read a field of a shard from: a read-only ``np.memmap`` of the contiguous,
        uncompressed HDF5 dataset (fast random access through the page cache), else the h5py dataset."""
        self._check_pid()
        src = self._sources.get((shard, name))
        if src is not None and shard in self._handles:
            self._handles.move_to_end(shard)
            return src
        f = self._file(shard)
        path = self.shard_files[shard]
        try:
            ds = f[name]
            offset = ds.id.get_offset() if ds.chunks is None and ds.compression is None else None
        except (OSError, RuntimeError, KeyError) as err:
            raise DatasetError(f"shard {path} is corrupt: cannot read '{name}' ({err})") from None
        if offset is None or ds.size == 0:
            src = ds
        else:
            try:
                src = np.memmap(path, dtype=ds.dtype, mode="r", offset=offset, shape=ds.shape)
            except (OSError, ValueError) as err:
                raise DatasetError(
                    f"shard {path} is truncated: '{name}' lies beyond the end of the file ({err})"
                ) from None
        self._sources[(shard, name)] = src
        return src

    def close(self) -> None:
        """Close all open shard files and memory maps (reading again reopens them)."""
        self._sources = {}
        if self._pid == os.getpid():
            for f in self._handles.values():
                try:
                    f.close()
                except Exception:  # pragma: no cover - best effort
                    pass
        self._handles = OrderedDict()

    def __enter__(self) -> ShardedDataset:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state["_handles"] = OrderedDict()
        state["_sources"] = {}
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._pid = os.getpid()

    # ---- reading
    def _index(self, key) -> tuple[np.ndarray | slice, bool]:
        """Normalize ``key`` to (sorted-or-not int64 index array | contiguous slice, is_scalar)."""
        n = len(self)
        if isinstance(key, (int, np.integer)) and not isinstance(key, (bool, np.bool_)):
            i = int(key)
            if not -n <= i < n:
                raise IndexError(f"index {i} out of range for a dataset of {n} samples")
            i %= n
            return slice(i, i + 1), True
        if isinstance(key, slice):
            start, stop, step = key.indices(n)
            if step == 1:
                return slice(start, max(start, stop)), False
            return np.arange(start, stop, step, dtype=np.int64), False
        idx = np.asarray(key)
        if idx.dtype == bool:
            if idx.shape != (n,):
                raise ShapeError(f"boolean index must have shape ({n},), got {idx.shape}")
            return np.flatnonzero(idx).astype(np.int64), False
        if idx.size == 0:
            return np.zeros(0, dtype=np.int64), False
        if idx.ndim != 1 or not np.issubdtype(idx.dtype, np.integer):
            raise InputError(f"index must be an int, a slice, a 1D integer array or a boolean mask, got {key!r}")
        idx = idx.astype(np.int64)
        if idx.min() < -n or idx.max() >= n:
            raise IndexError(f"index out of range for a dataset of {n} samples")
        return np.where(idx < 0, idx + n, idx), False

    def _read_shard(self, name: str, shard: int, key: slice | np.ndarray) -> np.ndarray:
        """``field[key]`` of one shard (a slice, or sorted unique local indices) as a new array; the shard's
        checksum is verified first if it has not been yet (``verify="lazy"``)."""
        if self.verify_mode == "lazy" and shard not in self._verified:
            self._verify_shard(shard)
        return self._read_shard_raw(name, shard, key)

    def _verify_shard(self, shard: int) -> None:
        """Recompute one shard's digest from its stored arrays and compare it with the recorded one."""
        want = self._recorded_digests().get(self.shard_files[shard].name)
        if want:
            n = int(self.offsets[shard + 1] - self.offsets[shard])
            arrays = {name: self._read_shard_raw(name, shard, slice(0, n)) for name in FIELDS}
            if content_digest(arrays) != want:
                raise DatasetError(
                    f"shard {self.shard_files[shard]} is corrupt: its data do not match the manifest checksum; "
                    "rerun generate with the same config and output folder to regenerate it"
                )
        self._verified.add(shard)

    def _recorded_digests(self) -> dict[str, str]:
        return {e["file"]: e.get("content_sha256") for e in self.manifest.get("shards", [])}

    def _read_shard_raw(self, name: str, shard: int, key: slice | np.ndarray) -> np.ndarray:
        src = self._source(shard, name)
        try:
            if isinstance(src, np.memmap):
                return np.array(src[key])
            if isinstance(key, np.ndarray):
                a, b = int(key[0]), int(key[-1]) + 1
                row_bytes = src.dtype.itemsize * int(np.prod(src.shape[1:], dtype=np.int64))
                if b - a <= _SPAN_FACTOR * key.size or (b - a) * row_bytes <= _SPAN_BYTES:
                    return src[a:b][key - a]
            return src[key]
        except (OSError, RuntimeError, KeyError) as err:
            raise DatasetError(f"shard {self.shard_files[shard]} is corrupt: cannot read '{name}' ({err})") from None

    def _read_shard_range(self, name: str, shard: int, a: int, b: int) -> np.ndarray:
        return self._read_shard(name, shard, slice(a, b))

    def _read(self, name: str, key) -> np.ndarray:
        dtype, shape = FIELDS[name]
        per = shape(self.lattice_size)
        sel, scalar = self._index(key)
        off = self.offsets
        if isinstance(sel, slice):
            start, stop = sel.start, sel.stop
            parts = []
            first = int(np.searchsorted(off, start, side="right")) - 1
            s = first
            while start < stop and s < self.n_shards:
                a, b = start - off[s], min(stop, off[s + 1]) - off[s]
                if b > a:
                    parts.append(self._read_shard_range(name, s, int(a), int(b)))
                start = max(start, int(off[s + 1]))
                s += 1
            out = np.concatenate(parts) if parts else np.zeros((0, *per), dtype=dtype)
            return out[0] if scalar else out
        idx = sel
        out = np.empty((idx.size, *per), dtype=dtype)
        if idx.size == 0:
            return out
        uniq, inverse = np.unique(idx, return_inverse=True)
        gathered = np.empty((uniq.size, *per), dtype=dtype)
        shard_of = np.searchsorted(off, uniq, side="right") - 1
        bounds = np.flatnonzero(np.diff(shard_of)) + 1
        for lo, hi in zip(np.r_[0, bounds], np.r_[bounds, uniq.size]):
            s = int(shard_of[lo])
            gathered[lo:hi] = self._read_shard(name, s, uniq[lo:hi] - off[s])
        out[:] = gathered[inverse.reshape(-1)]
        return out

    def iter_shards(self) -> Iterator[tuple[int, dict[str, np.ndarray]]]:
        """Yield ``(shard_index, {name: array})`` for each shard, read whole (contiguous, fast)."""
        for s in range(self.n_shards):
            a = int(self.offsets[s + 1] - self.offsets[s])
            yield s, {name: self._read_shard_range(name, s, 0, a) for name in FIELDS}

    def verify(self) -> None:
        """Recompute every shard's digest and compare with the manifest now (reads all data).

        Raises
        ------
        DatasetError
            A shard's data do not match its recorded checksum (the message names the shard).
        """
        for s in range(self.n_shards):
            self._verify_shard(s)


def dataset_digest(shard_digests: list[str]) -> str:
    """SHA-256 over the shard digests in order (the ``content_sha256`` of a whole dataset)."""
    h = hashlib.sha256()
    for d in shard_digests:
        h.update(d.encode() + b"\n")
    return h.hexdigest()


def open_dataset(path: str | os.PathLike, *, verify: bool | str = "lazy", max_open_files: int = 32) -> ShardedDataset:
    """Open a dataset written by :func:`topoml.data.generate.generate_dataset` (or one shard file).

    Every shard is checked on opening: present, of the size recorded in the manifest (truncation),
    readable by HDF5, with the expected format, schema version, dataset shapes and dtypes. Data are
    read lazily afterwards. Content checksums (SHA-256 of a shard's arrays, recorded in the manifest)
    are verified lazily by default: the first read that touches a shard reads the whole shard once and
    checks it, so no corrupt sample is ever returned (``benchmarks/bench_checksum.py`` measures the cost).

    Parameters
    ----------
    path : path-like
        The dataset folder, its ``manifest.json``, or a single shard ``.h5`` file.
    verify : {"lazy", True, False}, default "lazy"
        ``"lazy"``: check each shard's checksum on its first read (in each process); ``True``: check every
        shard now (reads all data); ``False``: never (trusted data, fastest random access).
    max_open_files : int, default 32
        Shard files kept open at a time per process.

    Returns
    -------
    ShardedDataset

    Raises
    ------
    DatasetError
        Nothing at ``path``, a file that is neither a shard nor a manifest, a missing/corrupt manifest,
        an incomplete dataset (generation interrupted: rerun it to resume), a missing, truncated or
        corrupt shard (named in the message; also raised by a later read when ``verify="lazy"``), or an
        incompatible schema version.
    InputError
        ``verify`` is not one of the accepted values.
    """
    if verify not in ("lazy", True, False):
        raise InputError(f"verify must be 'lazy', True or False, got {verify!r}")
    mode = "lazy" if verify == "lazy" else "off"
    p = Path(path)
    if p.is_file() and p.suffix not in (".h5", ".hdf5") and p.name != MANIFEST_NAME:
        raise DatasetError(f"{p} is a file, not a dataset: give a dataset folder (topoml generate --out), "
                           f"its {MANIFEST_NAME} or a shard .h5 file")
    if p.is_file() and p.suffix in (".h5", ".hdf5"):
        info, attrs = read_shard_info(p)
        try:
            config = json.loads(attrs.get("config", "{}"))
        except json.JSONDecodeError:
            config = {}
        manifest = {
            "format": FORMAT, "schema_version": SCHEMA_VERSION, "complete": True,
            "n_samples": info.n_samples, "lattice_size": int(attrs["lattice_size"]),
            "seed": attrs.get("seed"), "config": config, "shards": [info.to_dict()],
            "content_sha256": dataset_digest([info.content_sha256]),
        }
        ds = ShardedDataset(p.parent, manifest, [p], [info.n_samples], int(attrs["lattice_size"]), max_open_files,
                            mode)
        if verify is True:
            ds.verify()
        return ds
    root = p.parent if p.is_file() else p
    if not root.exists():
        raise DatasetError(f"no dataset at {path}: the path does not exist")
    manifest = read_manifest(root)
    shards = manifest.get("shards")
    if not manifest.get("complete", False):
        done = manifest.get("shards_done")
        done_txt = f" ({done} of {manifest.get('n_shards', '?')} shards written)" if done is not None else ""
        raise DatasetError(
            f"dataset at {root} is incomplete{done_txt}: generation was interrupted; "
            "rerun generate with the same config and output folder to finish it"
        )
    try:
        lattice_size = int(manifest["lattice_size"])
        entries = [(str(e["file"]), int(e["n_samples"]), int(e["file_size"])) for e in shards]
    except (KeyError, TypeError, ValueError):
        raise DatasetError(f"corrupt manifest in {root}: shard list or lattice_size missing") from None
    files, counts = [], []
    for name, n, size in entries:
        f = root / name
        try:
            actual = f.stat().st_size
        except FileNotFoundError:
            raise DatasetError(f"shard {f} is missing; regenerate it (rerun generate with the same config)") from None
        if actual != size:
            raise DatasetError(f"shard {f} is truncated or altered ({actual} bytes, manifest says {size})")
        info, _ = read_shard_info(f, lattice_size=lattice_size)
        if info.n_samples != n:
            raise DatasetError(f"shard {f} holds {info.n_samples} samples, manifest says {n}")
        files.append(f)
        counts.append(n)
    if sum(counts) != manifest.get("n_samples", sum(counts)):
        raise DatasetError(f"corrupt manifest in {root}: shard sizes do not add up to n_samples")
    ds = ShardedDataset(root, manifest, files, counts, lattice_size, max_open_files, mode)
    if verify is True:
        ds.verify()
    return ds
