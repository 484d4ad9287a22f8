"""The run engine: how topoml runs work, independent of what the work computes.

* :mod:`topoml.runs.executor`: :func:`map` ``(fn, tasks)`` on a serial, process-pool or Dask engine, one BLAS
  thread per worker, safe Ctrl-C, progress bars (every parallel job of topoml runs here);
* :mod:`topoml.runs.rundir`: run directories (config check, lock, environment, ``jobs/<id>/``, resume) and
  the atomic file writes;
* :mod:`topoml.runs.config`: the strict config base model, TOML profiles, dotted overrides, one-line errors.

Nothing here imports torch, or the physics, data or network layers. The names below are loaded on first
use, so that ``from topoml.runs.rundir import atomic_write_bytes`` stays light.
"""

from __future__ import annotations

import importlib

__all__ = ["ENGINES", "Executor", "FolderLock", "RunDir", "StrictModel", "atomic_path", "atomic_write_bytes",
           "atomic_write_text", "load_profile", "map", "parse_overrides", "read_toml", "report_progress"]

_WHERE = {
    "ENGINES": "executor", "Executor": "executor", "map": "executor", "report_progress": "executor",
    "FolderLock": "rundir", "RunDir": "rundir", "atomic_path": "rundir", "atomic_write_bytes": "rundir",
    "atomic_write_text": "rundir",
    "StrictModel": "config", "load_profile": "config", "parse_overrides": "config", "read_toml": "config",
}


def __getattr__(name: str):
    if name in _WHERE:
        return getattr(importlib.import_module(f"topoml.runs.{_WHERE[name]}"), name)
    raise AttributeError(f"module 'topoml.runs' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
