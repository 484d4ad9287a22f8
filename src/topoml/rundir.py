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

Every file is written atomically (temporary file in the same folder, then ``os.replace``), so a killed
run never leaves a half-written file; a job folder counts as finished only once its ``result.json``
exists. Re-running with the same folder and the same config resumes: finished jobs are reused.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

from topoml.errors import ConfigError, InputError
from topoml.provenance import environment_info

__all__ = ["RunDir", "atomic_write_bytes", "atomic_write_text", "md_cell", "to_jsonable", "writable_folder"]


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


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (temp file + fsync + rename in the same folder).

    The file gets the usual permissions of a new file (``0o666`` minus the umask), not the ``0o600`` of a
    temporary file.
    """
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, 0o666 & ~_umask())
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_text(path: Path, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    atomic_write_bytes(path, text.encode("utf-8"))


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


class RunDir:
    """A run directory (see module docstring).

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
        ``path`` holds a run with a different configuration.
    InputError
        ``path`` cannot be created or written.
    """

    def __init__(self, path: str | os.PathLike, config: dict, seed: int | None = None):
        self.path = writable_folder(path, "run directory")
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
        else:
            self.write_json("config.json", config)
            self.resumed = False
        self.write_json("environment.json", environment_info(seed))

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
