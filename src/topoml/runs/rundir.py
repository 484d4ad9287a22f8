"""Run directories: every run of topoml writes its config, environment, metrics, summary and report.

Layout::

    RUN/
      config.json          resolved configuration (what was asked, with defaults filled in)
      environment.json     versions, git hash, seed, threads, platform
      jobs/<job>/          one folder per finished unit of work (result.json, weights.safetensors, ...)
      metrics.json         all measured numbers
      summary.json         the headline numbers (machine-readable)
      report.md            human-readable report (Markdown tables, figure links)
      figures/*.png
      .lock                held by the run that writes here (another one is refused)

Every file is written atomically (:func:`atomic_path`: a hidden temporary file in the same folder,
fsync, then ``os.replace``), so a killed run never leaves a half-written file; a job folder counts as
finished only once its ``result.json`` exists. Re-running with the same folder and the same config
resumes: finished jobs are reused (:meth:`RunDir.run_jobs`). A second run on a folder in use is refused
(:class:`FolderLock`, released automatically when the holding process dies).

The atomic writes and the lock are the only ones of topoml: datasets (:mod:`topoml.data.store`,
:mod:`topoml.data.generate`) and training checkpoints use them too. This module imports no torch and
no numpy at import time.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
import weakref
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from topoml.errors import ConfigError, InputError
from topoml.runs.executor import Engine

__all__ = ["QUICK_NOTE", "TMP_SUFFIX", "FolderLock", "RunDir", "atomic_path", "atomic_write_bytes",
           "atomic_write_text", "md_cell", "remove_stale_temporaries", "to_jsonable", "writable_folder"]

#: Suffix of the hidden temporary files of :func:`atomic_path` (``.NAME.<random>.tmp``).
TMP_SUFFIX = ".tmp"
_LOCK_NAME = ".lock"


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def writable_folder(path: str | os.PathLike, what: str = "output folder") -> Path:
    """Create ``path`` if needed and prove it writable with a real file write (a read-only filesystem,
    a full disk or missing permissions fail here, before any work).

    Raises
    ------
    InputError
        The folder cannot be created or written.
    """
    p = Path(path)
    try:
        p.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise InputError(f"cannot create {what} {p}, the path is not writable ({e.strerror or e}); "
                         "choose another --out") from None
    try:
        fd, probe = tempfile.mkstemp(prefix=".write-test.", suffix=".tmp", dir=p)
        os.close(fd)
        os.unlink(probe)
    except OSError as e:
        raise InputError(f"{what} {p} is not writable ({e.strerror or e}); choose another --out") from None
    return p


def _fsync(path: Path, directory: bool = False) -> None:
    fd = os.open(path, os.O_RDONLY | (os.O_DIRECTORY if directory else 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary file name next to ``path``; when the body succeeds it becomes ``path`` atomically.

    The temporary file is hidden (``.NAME.<random>.tmp``, :data:`TMP_SUFFIX`) and exists (empty) when the
    body starts; the body writes it (any writer: ``open``, ``h5py.File(tmp, "w")``). Then it is
    fsync'ed, ``os.replace``'d onto ``path`` and the folder is fsync'ed, so a reader never sees a
    partial file and a finished one survives a power cut. If the body (or the rename) fails the
    temporary file is removed and the error propagates. The file gets the usual permissions of a new
    file (``0o666`` minus the umask), not the ``0o600`` of a temporary file.

    Raises
    ------
    OSError
        The folder is not writable, the disk is full (callers turn it into their own error).
    """
    path = Path(path)
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=TMP_SUFFIX)
    tmp = Path(name)
    try:
        try:
            os.fchmod(fd, 0o666 & ~_umask())
        finally:
            os.close(fd)
        yield tmp
        _fsync(tmp)
        os.replace(tmp, path)
        _fsync(path.parent, directory=True)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (:func:`atomic_path`).

    Raises
    ------
    OSError
        The folder is not writable, the disk is full.
    """
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        f.write(data)


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    atomic_write_bytes(path, text.encode("utf-8"))


class FolderLock:
    """An exclusive advisory lock on a folder (``flock`` of ``folder/name``; POSIX only, else a no-op).

    The kernel releases it when the holding process dies (``kill -9`` included), so a stale lock never
    blocks a rerun. Use it as a context manager, or :meth:`acquire` / :meth:`release`.

    Parameters
    ----------
    folder : path-like
        An existing folder.
    name : str
        Lock file name inside it.
    busy : Exception
        Raised by :meth:`acquire` when another process holds the lock.
    """

    def __init__(self, folder: str | os.PathLike, name: str, busy: Exception):
        self.path, self.busy, self._fd = Path(folder) / name, busy, None

    def acquire(self) -> FolderLock:
        try:
            import fcntl
        except ImportError:  # pragma: no cover - non-POSIX: no locking
            return self
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            raise self.busy from None
        self._fd = fd
        return self

    def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)  # closing the file releases the flock

    def __enter__(self) -> FolderLock:
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()


def md_cell(text: Any) -> str:
    """``text`` made safe for a Markdown table cell: ``|`` escaped (``|w|`` would split the cell), no newlines."""
    return str(text).replace("|", "\\|").replace("\n", " ")


#: Note printed and written in every report of a quick profile.
QUICK_NOTE = ("Quick profile: a smoke test with tiny data and few epochs; its numbers check that the pipeline "
              "runs and are not results (degenerate values are expected).")


def to_jsonable(obj: Any) -> Any:
    """Convert numpy scalars/arrays, tuples and Paths to plain JSON types (recursively)."""
    import numpy as np

    if isinstance(obj, dict):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, Path):
        return str(obj)
    return obj


def remove_stale_temporaries(folder: str | os.PathLike, recursive: bool = False) -> list[str]:
    """Delete the hidden temporary files an interrupted writer left in ``folder`` (``.NAME.<random>.tmp``).

    Only call it while holding the folder's lock (a running writer's temporaries would go too).

    Returns
    -------
    list of str
        Paths removed, relative to ``folder``.
    """
    folder = Path(folder)
    removed = []
    for p in (folder.rglob if recursive else folder.glob)(f".*{TMP_SUFFIX}"):
        try:
            p.unlink()
            removed.append(str(p.relative_to(folder)))
        except FileNotFoundError:  # pragma: no cover - raced with another cleaner
            pass
    return removed


class RunDir:
    """A run directory (see module docstring), locked while this object is open.

    Use it as a context manager (``with RunDir(out, cfg) as rd:``) or call :meth:`close`; the lock is also
    released when the object is garbage-collected or the process ends. Opening it removes the
    temporary files a killed run left behind.

    Parameters
    ----------
    path : str or Path
        Folder to create or resume.
    config : dict
        The resolved configuration; must equal the stored one when resuming.
    seed : int or None
        Recorded in ``environment.json``.

    Raises
    ------
    ConfigError
        ``path`` holds a run with a different configuration, or another run is writing to it.
    InputError
        ``path`` cannot be created or written.
    """

    def __init__(self, path: str | os.PathLike, config: dict, seed: int | None = None):
        self.path = writable_folder(path, "run directory")
        busy = ConfigError(f"another run is writing to {self.path}; wait for it or choose another output folder (--out)")
        self._lock = FolderLock(self.path, _LOCK_NAME, busy).acquire()
        weakref.finalize(self, self._lock.release)
        try:
            self._open(config, seed)
        except BaseException:
            self.close()
            raise

    def _open(self, config: dict, seed: int | None) -> None:
        from topoml.provenance import environment_info

        try:
            (self.path / "jobs").mkdir(exist_ok=True)
            (self.path / "figures").mkdir(exist_ok=True)
        except OSError as e:
            raise InputError(f"cannot create run directory {self.path}: {e.strerror}") from None
        config = to_jsonable(config)
        cfg_file = self.path / "config.json"
        if cfg_file.exists():
            try:
                old = json.loads(cfg_file.read_text())
            except (OSError, json.JSONDecodeError):
                raise ConfigError(f"{cfg_file} is unreadable; remove it or choose another output folder") from None
            if old != config:
                raise ConfigError(
                    f"{self.path} holds a run with a different config; choose another output folder (--out)"
                )
            self.resumed = True
            remove_stale_temporaries(self.path, recursive=True)
        else:
            self.write_json("config.json", config)
            self.resumed = False
        self.write_json("environment.json", environment_info(seed))

    def close(self) -> None:
        """Release the folder's lock (idempotent); the files stay."""
        self._lock.release()

    def __enter__(self) -> RunDir:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- files ---------------------------------------------------------------------------------
    def write_json(self, name: str, obj: Any) -> Path:
        p = self.path / name
        atomic_write_text(p, json.dumps(to_jsonable(obj), indent=2, sort_keys=False) + "\n")
        return p

    def write_text(self, name: str, text: str) -> Path:
        p = self.path / name
        atomic_write_text(p, text)
        return p

    def write_bytes(self, name: str, data: bytes) -> Path:
        p = self.path / name
        atomic_write_bytes(p, data)
        return p

    def savefig(self, fig, name: str) -> str:
        """Save a matplotlib figure as ``figures/<name>.png`` (atomically); return the relative path."""
        import io

        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=120, bbox_inches="tight")
        rel = f"figures/{name}.png"
        atomic_write_bytes(self.path / rel, buf.getvalue())
        return rel

    # -- jobs ----------------------------------------------------------------------------------
    def job_dir(self, job_id: str) -> Path:
        return self.path / "jobs" / job_id

    def job_result(self, job_id: str) -> dict | None:
        """The stored result of a finished job, or None if it has not finished."""
        f = self.job_dir(job_id) / "result.json"
        if not f.exists():
            return None
        try:
            return json.loads(f.read_text())
        except (OSError, json.JSONDecodeError):
            return None  # treated as unfinished and recomputed

    def save_job(self, job_id: str, result: dict, files: dict[str, bytes] | None = None) -> None:
        """Store a finished job: its extra files first, ``result.json`` last (the completion mark)."""
        d = self.job_dir(job_id)
        d.mkdir(parents=True, exist_ok=True)
        for name, data in (files or {}).items():
            atomic_write_bytes(d / name, data)
        atomic_write_text(d / "result.json", json.dumps(to_jsonable(result), indent=1) + "\n")

    def run_jobs(
        self,
        jobs: list[dict],
        worker: Callable[[dict], tuple[dict, dict[str, bytes]]],
        *,
        workers: int = 1,
        engine: Engine = "process",
        scheduler_address: str | None = None,
        progress: bool = True,
        desc: str = "jobs",
    ) -> dict[str, dict]:
        """Run the unfinished ``jobs`` on :func:`topoml.runs.executor.map`; return ``{job id: result}`` for all.

        Each job is a JSON-able dict with a unique ``"id"``; ``worker`` is an importable top-level function
        ``worker(job) -> (result: dict, files: dict[str, bytes])``. Each job is stored (:meth:`save_job`) as
        soon as it finishes, so a killed or interrupted run loses at most the jobs in flight, and skipped
        when the run is resumed. Every job runs with one BLAS/torch thread, in this process or in a
        worker, so the results do not depend on ``workers`` or ``engine``.

        Parameters
        ----------
        workers : int >= 1, default 1
            Parallel jobs; with the process engine, 1 (or a single job left) runs them in this process.
        engine : {"process", "dask", "serial"}, default "process"
        scheduler_address : str, optional
            A running Dask scheduler (``engine="dask"``).
        progress : bool, default True
            A tqdm bar of finished jobs.

        Raises
        ------
        ConfigError
            Duplicate job ids, bad ``workers``/``engine`` (see :func:`topoml.runs.executor.map`).
        KeyboardInterrupt
            Ctrl-C; the finished jobs are stored.
        """
        from topoml.runs.executor import map as run_map

        ids = [j["id"] for j in jobs]
        if len(set(ids)) != len(ids):
            raise ConfigError("job ids must be unique")
        results: dict[str, dict] = {}
        todo = []
        for j in jobs:
            r = self.job_result(j["id"])
            if r is None:
                todo.append(j)
            else:
                results[j["id"]] = r

        def store(i: int, out: tuple[dict, dict[str, bytes]]) -> None:
            res, files = out
            self.save_job(todo[i]["id"], res, files)
            results[todo[i]["id"]] = res

        if engine == "process" and (workers == 1 or len(todo) <= 1):
            engine = "serial"
        run_map(worker, todo, workers=workers, engine=engine, scheduler_address=scheduler_address,
                on_result=store, progress=progress, desc=desc, unit="job", initial=len(jobs) - len(todo))
        return {i: results[i] for i in ids}
