"""Provenance of results: package versions, git hash, threads, platform (no torch import).

Used by run directories and dataset files so every result records what produced it.
"""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from datetime import datetime, timezone
from functools import lru_cache
from importlib import metadata
from pathlib import Path

from topoml.runs.executor import THREAD_VARS

__all__ = ["git_hash", "package_versions", "environment_info"]

_PACKAGES = ("topoml", "numpy", "scipy", "h5py", "torch", "matplotlib", "pydantic", "tqdm", "safetensors", "dask")


@lru_cache(maxsize=1)
def git_hash() -> str | None:
    """Commit hash of the source tree topoml runs from (``+dirty`` if modified), or None outside git."""
    here = Path(__file__).resolve().parent
    try:
        out = subprocess.run(
            ["git", "-C", str(here), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(here), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True, text=True, timeout=5, check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return out + ("+dirty" if dirty else "") if out else None


def package_versions() -> dict[str, str | None]:
    """Installed versions of topoml and its main dependencies (read from metadata; nothing imported)."""
    out: dict[str, str | None] = {}
    for name in _PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def environment_info(seed: int | None = None) -> dict:
    """A JSON-serializable record of versions, git hash, seed, threads and platform."""
    threads = {v: os.environ.get(v) for v in THREAD_VARS}
    if "torch" in sys.modules:  # report torch's own thread count only if torch is already in use
        threads["torch_num_threads"] = sys.modules["torch"].get_num_threads()
    return {
        "time_utc": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "git_hash": git_hash(),
        "seed": seed,
        "versions": {"python": platform.python_version(), **package_versions()},
        "threads": threads,
        "cpu_count": os.cpu_count(),
        "platform": platform.platform(),
        "argv": sys.argv,
    }
